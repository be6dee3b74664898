//! The operator chart: version lock with the operator crate (through the real `xtask`
//! binary), `helm lint --strict` / `helm template` with Helm 3 and Helm 4, and the
//! chart's own consistency (schema, README, metadata).

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde::Deserialize;
use serde_yaml::Value;
use xtask::project;
use xtask_dev::harness::Helm;

mod support;
use support::lossy;

fn xtask(cwd: &Path, args: &[&str]) -> Output {
    support::output(support::xtask().args(args).current_dir(cwd))
}

fn copy_dir(from: &Path, to: &Path) {
    xtask_dev::harness::copy_tree(from, to).unwrap();
}

/// Every file under `dir`, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A scratch copy of the operator manifest and chart, laid out like the workspace.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("operator")).unwrap();
        std::fs::copy(project::operator_manifest(), root.join("operator/Cargo.toml")).unwrap();
        copy_dir(&project::operator_chart_dir(), &root.join("charts/kube9-operator"));
        Scratch { _dir: dir, root }
    }

    fn chart_yaml(&self) -> String {
        std::fs::read_to_string(self.root.join("charts/kube9-operator/Chart.yaml")).unwrap()
    }

    fn run(&self, command: &str) -> Output {
        xtask(&self.root, &[command, "--chart", "charts/kube9-operator", "--manifest", "operator/Cargo.toml"])
    }
}

#[test]
fn checked_in_chart_passes_check_version_with_default_paths() {
    let output = xtask(&project::project_root(), &["check-version"]);
    assert!(output.status.success(), "{}", lossy(&output.stderr));
    let version = xtask::versioning::manifest::operator_version().unwrap();
    assert!(
        lossy(&output.stdout).contains(&format!("version and appVersion are {version}")),
        "{}",
        lossy(&output.stdout)
    );
}

/// Must show: bumping the crate version fails `check-version` with both versions named;
/// `sync-version` fixes it and the Chart.yaml diff is exactly the two version lines.
#[test]
fn bumped_crate_version_fails_check_and_sync_rewrites_exactly_two_lines() {
    let scratch = Scratch::new();
    let manifest = scratch.root.join("operator/Cargo.toml");
    let old = xtask::versioning::manifest::crate_version(&manifest).unwrap();
    let mut bumped = semver::Version::parse(&old).unwrap();
    bumped.minor += 1;
    bumped.patch = 0;
    bumped.pre = semver::Prerelease::new("rc.1").unwrap();
    let new = bumped.to_string();

    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&manifest).unwrap().parse().unwrap();
    doc["package"]["version"] = toml_edit::value(new.as_str());
    std::fs::write(&manifest, doc.to_string()).unwrap();

    let before_chart = scratch.chart_yaml();
    let before_tree = snapshot(&scratch.root.join("charts"));

    let check = scratch.run("check-version");
    assert!(!check.status.success(), "check-version must fail after the bump");
    let stderr = lossy(&check.stderr);
    assert!(stderr.contains(&format!("version {old} and appVersion {old}")), "{stderr}");
    assert!(stderr.contains(&format!("has version {new}")), "{stderr}");
    assert!(stderr.contains("Chart.yaml"), "{stderr}");
    assert!(stderr.contains("run `cargo xtask sync-version"), "{stderr}");
    assert_eq!(snapshot(&scratch.root.join("charts")), before_tree, "check-version writes nothing");

    let dry = xtask(
        &scratch.root,
        &["sync-version", "--dry-run", "--chart", "charts/kube9-operator", "--manifest", "operator/Cargo.toml"],
    );
    assert!(dry.status.success(), "{}", lossy(&dry.stderr));
    assert!(lossy(&dry.stdout).contains("would change"), "{}", lossy(&dry.stdout));
    assert_eq!(scratch.chart_yaml(), before_chart, "--dry-run writes nothing");

    let sync = scratch.run("sync-version");
    assert!(sync.status.success(), "{}", lossy(&sync.stderr));
    let stdout = lossy(&sync.stdout);
    assert!(stdout.contains(&format!("changed version: {old} -> {new}")), "{stdout}");
    assert!(stdout.contains(&format!("changed appVersion: {old} -> {new}")), "{stdout}");

    // The diff is exactly the two version lines, each with only the value replaced.
    let after_chart = scratch.chart_yaml();
    let before_lines: Vec<&str> = before_chart.split_inclusive('\n').collect();
    let after_lines: Vec<&str> = after_chart.split_inclusive('\n').collect();
    assert_eq!(before_lines.len(), after_lines.len());
    let changed: Vec<(&str, &str)> =
        before_lines.iter().zip(&after_lines).filter(|(b, a)| b != a).map(|(b, a)| (*b, *a)).collect();
    assert_eq!(changed.len(), 2, "{changed:#?}");
    assert!(changed[0].0.starts_with("version:") && changed[1].0.starts_with("appVersion:"), "{changed:#?}");
    for (before, after) in &changed {
        assert_eq!(before.replace(&old, &new), **after);
    }
    let mut expected_tree = before_tree;
    expected_tree.insert(PathBuf::from("kube9-operator/Chart.yaml"), after_chart.clone().into_bytes());
    assert_eq!(snapshot(&scratch.root.join("charts")), expected_tree, "no other chart file changes");

    let check = scratch.run("check-version");
    assert!(check.status.success(), "{}", lossy(&check.stderr));

    let again = scratch.run("sync-version");
    assert!(again.status.success(), "{}", lossy(&again.stderr));
    assert!(lossy(&again.stdout).contains("nothing to change"), "{}", lossy(&again.stdout));
    assert_eq!(scratch.chart_yaml(), after_chart);
}

/// Regression: a copy of the operator chart with another version is refused by
/// `package-chart` exactly as by `release-chart` (the one version lock), and nothing is written.
#[test]
fn package_chart_refuses_a_copy_of_the_operator_chart_with_another_version() {
    let scratch = Scratch::new();
    let copy = scratch.root.join("elsewhere/copy");
    copy_dir(&project::operator_chart_dir(), &copy);
    let chart_yaml = copy.join("Chart.yaml");
    let version = xtask::versioning::manifest::operator_version().unwrap();
    let text_in = std::fs::read_to_string(&chart_yaml).unwrap();
    let drifted = xtask::versioning::chart_yaml::rewrite_chart_versions(&text_in, "9.9.9").unwrap().text;
    assert!(drifted != text_in && !drifted.contains(&format!("version: {version}")), "{drifted}");
    std::fs::write(&chart_yaml, drifted).unwrap();
    let out = scratch.root.join("out");
    std::fs::create_dir_all(&out).unwrap();

    let output = xtask(&scratch.root, &["package-chart", "--chart", "elsewhere/copy", "--out", "out"]);
    assert!(!output.status.success(), "package-chart must refuse the drifted operator chart");
    let stderr = lossy(&output.stderr);
    assert!(stderr.contains("9.9.9") && stderr.contains("cargo xtask sync-version"), "{stderr}");
    assert!(snapshot(&out).is_empty(), "package-chart wrote {:?}", snapshot(&out).keys().collect::<Vec<_>>());
}

/// A chart Helm's loader cannot load (values.yaml not a mapping, values.schema.json not
/// JSON) is refused by `package-chart` and `release-chart`, naming the file and the parse
/// error, writing nothing, exactly where real Helm 3 and 4 refuse it too; an empty,
/// comment-only or `null` values.yaml is an empty mapping for both.
#[test]
fn charts_helm_cannot_load_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("demo");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.0.0\n").unwrap();
    std::fs::write(chart.join("templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
    let helms = Helm::both().unwrap();
    let refused: [(&str, &str, &str); 4] = [
        ("values.yaml", "- a\n- b\n", "values.yaml is a list, not a YAML mapping"),
        ("values.yaml", "just text\n", "values.yaml is a string, not a YAML mapping"),
        ("values.yaml", "a: [1, 2\n", "values.yaml does not parse as YAML"),
        ("values.schema.json", "{\"type\": ", "values.schema.json is not valid JSON"),
    ];
    for (file, content, expected) in refused {
        std::fs::remove_file(chart.join("values.yaml")).ok();
        std::fs::remove_file(chart.join("values.schema.json")).ok();
        std::fs::write(chart.join(file), content).unwrap();
        let out = dir.path().join("out");
        let repo = dir.path().join("repo");
        let package = xtask(dir.path(), &["package-chart", "--chart", "demo", "--out", "out"]);
        let release = xtask(dir.path(), &["release-chart", "--chart", "demo", "--local", "repo"]);
        for (command, output) in [("package-chart", &package), ("release-chart", &release)] {
            let stderr = lossy(&output.stderr);
            assert!(!output.status.success(), "{command} accepted {file} {content:?}");
            assert!(stderr.contains(expected) && stderr.contains("demo"), "{command}, {file} {content:?}: {stderr}");
        }
        assert!(!out.exists() || snapshot(&out).is_empty(), "package-chart wrote {:?}", snapshot(&out).keys());
        assert!(!repo.exists() || snapshot(&repo).is_empty(), "release-chart wrote {:?}", snapshot(&repo).keys());
        if file == "values.yaml" {
            for helm in &helms {
                let result = helm.run(&["package", chart.to_str().unwrap(), "-d", out.to_str().unwrap()]);
                assert!(result.is_err(), "helm {} packaged values.yaml {content:?}", helm.major);
                std::fs::remove_dir_all(&out).ok();
            }
        }
    }
    // A repeated key is no error for Helm (the last one wins), so none for us either.
    for content in ["", "# only a comment\n", "null\n", "---\n", "a: 1\na: 2\n"] {
        std::fs::remove_file(chart.join("values.schema.json")).ok();
        std::fs::write(chart.join("values.yaml"), content).unwrap();
        let out = dir.path().join("out");
        let package = xtask(dir.path(), &["package-chart", "--chart", "demo", "--out", "out"]);
        assert!(package.status.success(), "values.yaml {content:?}: {}", lossy(&package.stderr));
        std::fs::remove_dir_all(&out).unwrap();
        for helm in &helms {
            helm.run(&["package", chart.to_str().unwrap(), "-d", out.to_str().unwrap()])
                .unwrap_or_else(|err| panic!("helm {} refused values.yaml {content:?}: {err:#}", helm.major));
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
}

#[test]
fn check_version_names_a_missing_chart_folder() {
    let scratch = Scratch::new();
    let output =
        xtask(&scratch.root, &["check-version", "--chart", "charts/nope", "--manifest", "operator/Cargo.toml"]);
    assert!(!output.status.success());
    let stderr = lossy(&output.stderr);
    assert!(stderr.contains("charts/nope/Chart.yaml") && stderr.contains("--chart DIR"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// Helm 3 and Helm 4

fn documents(rendered: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(rendered)
        .map(|doc| Value::deserialize(doc).expect("helm template renders valid YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    docs.iter().map(|doc| doc["kind"].as_str().expect("every manifest has a kind")).collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter().find(|doc| doc["kind"] == kind).unwrap_or_else(|| panic!("no {kind} rendered"))
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_sequence().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

fn chart_dir() -> String {
    project::operator_chart_dir().display().to_string()
}

/// Must show: `helm lint --strict` and `helm template` on the chart, Helm 3 and Helm 4.
#[test]
fn helm_lint_strict_and_template_render_the_operator() {
    let chart = chart_dir();
    let version = xtask::versioning::manifest::operator_version().unwrap();
    for helm in Helm::both().unwrap() {
        let lint = helm
            .run(&["lint", "--strict", chart.as_str()])
            .unwrap_or_else(|err| panic!("helm {}: {err:#}", helm.major));
        assert!(lint.contains("0 chart(s) failed"), "helm {}: {lint}", helm.major);

        let rendered = helm.run(&["template", "kube9", chart.as_str(), "--namespace", "kube9-system"]).unwrap();
        let docs = documents(&rendered);
        let mut rendered_kinds = kinds(&docs);
        rendered_kinds.sort_unstable();
        assert_eq!(rendered_kinds, ["ClusterRole", "ClusterRoleBinding", "Deployment", "ServiceAccount"]);

        let deployment = find(&docs, "Deployment");
        assert_eq!(deployment["metadata"]["namespace"], "kube9-system");
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
        let container = &pod["containers"][0];
        assert_eq!(container["image"], format!("ghcr.io/kube9/kube9-operator:{version}").as_str());
        assert_eq!(container["ports"][0]["containerPort"], 8080);
        assert_eq!(container["ports"][0]["name"], "http");
        assert_eq!(strings(&container["args"]), ["--port=8080"]);
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["livenessProbe"]["httpGet"]["port"], "http");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "http");
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["runAsNonRoot"], true);
        assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
        assert!(container["resources"]["limits"]["memory"].is_string());
        assert!(container["resources"]["requests"]["cpu"].is_string());

        // The ClusterRole only reads, and is bound to the ServiceAccount the pod runs as.
        let role = find(&docs, "ClusterRole");
        for rule in role["rules"].as_sequence().unwrap() {
            assert_eq!(strings(&rule["verbs"]), ["get", "list", "watch"], "helm {}: {rule:?}", helm.major);
        }
        let binding = find(&docs, "ClusterRoleBinding");
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(binding["subjects"][0]["name"], pod["serviceAccountName"]);
        assert_eq!(binding["subjects"][0]["namespace"], "kube9-system");
        assert_eq!(find(&docs, "ServiceAccount")["metadata"]["name"], pod["serviceAccountName"]);
    }
}

#[test]
fn helm_template_honours_values() {
    let chart = chart_dir();
    for helm in Helm::both().unwrap() {
        let rendered = helm
            .run(&[
                "template",
                "kube9",
                chart.as_str(),
                "--set",
                "port=9090,rbac.create=false,serviceAccount.create=false,image.tag=dev,replicaCount=2",
            ])
            .unwrap_or_else(|err| panic!("helm {}: {err:#}", helm.major));
        let docs = documents(&rendered);
        assert_eq!(kinds(&docs), ["Deployment"], "helm {}", helm.major);
        let deployment = &docs[0];
        assert_eq!(deployment["spec"]["replicas"], 2);
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "default");
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "ghcr.io/kube9/kube9-operator:dev");
        assert_eq!(container["ports"][0]["containerPort"], 9090);
        assert_eq!(strings(&container["args"]), ["--port=9090"]);
    }
}

#[test]
fn helm_rejects_invalid_values_and_old_clusters() {
    let chart = chart_dir();
    let cases: [(&[&str], &str); 5] = [
        (&["--set", "replicaCount=x"], "replicaCount"),
        (&["--set", "bogus=1"], "bogus"),
        (&["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
        (&["--set", "port=70000"], "port"),
        (&["--kube-version", "1.24.0"], "kubeVersion"),
    ];
    for helm in Helm::both().unwrap() {
        for (extra, expected) in cases {
            let mut args = vec!["template", "kube9", chart.as_str()];
            args.extend_from_slice(extra);
            match helm.run(&args) {
                Ok(out) => panic!("helm {} accepted {extra:?}:\n{out}", helm.major),
                Err(err) => {
                    let message = format!("{err:#}");
                    assert!(message.contains(expected), "helm {} {extra:?}: {message}", helm.major);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Chart consistency (no tools needed)

fn read_yaml(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn chart_metadata_points_at_the_public_repository() {
    let chart = read_yaml(&project::operator_chart_dir().join("Chart.yaml"));
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "kube9-operator");
    assert_eq!(chart["type"], "application");
    assert_eq!(chart["home"], "https://charts.kube9.io");
    let sources = strings(&chart["sources"]);
    assert!(sources.contains(&"https://charts.kube9.io"), "{sources:?}");
    assert!(sources.contains(&"https://github.com/kube9/kube9-operator"), "{sources:?}");
    assert!(chart["kubeVersion"].is_string());
    assert!(!chart["maintainers"].as_sequence().unwrap().is_empty());
    assert!(!chart["keywords"].as_sequence().unwrap().is_empty());
    assert_eq!(chart["annotations"]["artifacthub.io/license"], "Apache-2.0");
    // The Artifact Hub links annotation is itself YAML: it must parse.
    let links: Vec<BTreeMap<String, String>> =
        serde_yaml::from_str(chart["annotations"]["artifacthub.io/links"].as_str().unwrap()).unwrap();
    assert!(links.iter().any(|link| link["url"] == "https://charts.kube9.io"));
}

/// Every value is declared in the schema and documented in the README table, so neither
/// drifts when a value is added.
#[test]
fn every_value_is_in_the_schema_and_the_readme() {
    let dir = project::operator_chart_dir();
    let values = read_yaml(&dir.join("values.yaml"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("values.schema.json")).unwrap()).unwrap();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);

    for (key, value) in values.as_mapping().unwrap() {
        let key = key.as_str().unwrap();
        let property = &schema["properties"][key];
        assert!(property.is_object(), "values.schema.json does not declare `{key}`");
        let documented = |name: &str| readme.contains(&format!("| `{name}` |"));
        if property["additionalProperties"] == false {
            for child in value.as_mapping().unwrap().keys() {
                let child = child.as_str().unwrap();
                assert!(
                    property["properties"][child].is_object(),
                    "values.schema.json does not declare `{key}.{child}`"
                );
            }
        }
        // A row for the whole key, or one row per child.
        let children_documented = value
            .as_mapping()
            .is_some_and(|map| map.keys().all(|child| documented(&format!("{key}.{}", child.as_str().unwrap()))));
        assert!(documented(key) || children_documented, "README.md values table lacks `{key}`");
    }
}
