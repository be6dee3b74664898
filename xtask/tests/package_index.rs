//! Packages and indexes, end to end through the real `xtask` binary and real Helm 3 and 4.
//!
//! - reproducible packaging (twice, and from two copies of the chart folder);
//! - refusals leave no package behind;
//! - `repo-index` reads Helm-made packages like Helm, appends only, keeps `created`;
//! - Helm 3 and Helm 4 accept our package and our index served over HTTP (lint, repo add,
//!   search, pull with the same digest, template), and read our round trip of real-world
//!   indexes exactly as they read the originals.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use xtask::index::RepoIndex;
use xtask_dev::harness::Helm;

mod support;
use support::fails;

fn xtask(args: &[&str]) -> Output {
    support::output(support::xtask().args(args).env("RUST_LOG", "warn"))
}

#[track_caller]
fn ok(output: Output) -> String {
    support::ok(output, "xtask")
}

fn real_world() -> PathBuf {
    let dir = xtask::project::real_world_fixtures();
    assert!(dir.is_dir(), "the real-world fixtures are missing at {}", dir.display());
    dir
}

/// A small chart with templates, values, a schema, a .helmignore and a subchart.
fn write_chart(dir: &Path, version: &str, app_version: &str) {
    let files = [
        (
            "Chart.yaml".to_string(),
            format!(
                "apiVersion: v2\nname: demo\ndescription: Demo chart for the index tests\ntype: application\nversion: {version}\nappVersion: \"{app_version}\"\nmaintainers:\n- name: kube9\n  email: dev@kube9.io\ndependencies:\n- name: sub\n  version: 0.1.0\n  repository: \"\"\nannotations:\n  kube9.io/notes: |\n    line one\n    line two\n"
            ),
        ),
        ("values.yaml".into(), "replicas: 2\nimage: kube9/demo\n".into()),
        ("values.schema.json".into(), "{\"type\": \"object\", \"properties\": {\"replicas\": {\"type\": \"integer\"}}}\n".into()),
        (".helmignore".into(), "*.bak\nci/\n".into()),
        ("README.md".into(), "# demo\n".into()),
        (
            "templates/configmap.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-demo\ndata:\n  replicas: \"{{ .Values.replicas }}\"\n  version: {{ .Chart.Version | quote }}\n".into(),
        ),
        ("templates/NOTES.txt".into(), "Installed {{ .Chart.Name }}.\n".into()),
        ("templates/.swp".into(), "hidden, ignored by Helm's built-in rule\n".into()),
        ("notes.bak".into(), "ignored\n".into()),
        ("ci/test-values.yaml".into(), "ignored: true\n".into()),
        ("charts/sub/Chart.yaml".into(), "apiVersion: v2\nname: sub\nversion: 0.1.0\n".into()),
        ("charts/sub/templates/sub.yaml".into(), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sub\n".into()),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// `package-chart` output: `SHA256  PATH`.
fn package(chart: &Path, out: &Path) -> (String, PathBuf) {
    let stdout = ok(xtask(&["package-chart", "--chart", chart.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    let line = stdout.lines().last().expect("package-chart prints a line");
    let (digest, path) = line.split_once("  ").expect("`SHA256  PATH`");
    (digest.to_string(), PathBuf::from(path))
}

fn sha256(path: &Path) -> String {
    xtask::layout::sha256_hex(&std::fs::read(path).unwrap())
}

#[test]
fn packaging_is_byte_identical_across_runs_and_copies() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    write_chart(one.path(), "1.0.0", "1.0.0");
    write_chart(two.path(), "1.0.0", "1.0.0");
    // The second copy has other mtimes and modes: they must not leak into the package.
    let values = std::fs::File::options().write(true).open(two.path().join("values.yaml")).unwrap();
    values.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(two.path().join("README.md"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let (d1, p1) = package(one.path(), &out.path().join("a"));
    let (d2, p2) = package(one.path(), &out.path().join("b"));
    let (d3, p3) = package(two.path(), &out.path().join("c"));
    assert_eq!(p1.file_name().unwrap(), "demo-1.0.0.tgz");
    assert_eq!(d1, sha256(&p1), "the printed digest is the file's sha256");
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p3).unwrap());
    assert_eq!((d1.as_str(), d1.as_str()), (d2.as_str(), d3.as_str()));
}

/// Copy a folder tree (regular files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    xtask_dev::harness::copy_tree(from, to).unwrap();
}

#[test]
fn the_operator_chart_packages_identically_in_place_and_in_two_clones() {
    let operator_chart = xtask::project::operator_chart_dir();
    let out = tempfile::tempdir().unwrap();
    // In place: the default --chart, with the operator version check.
    let stdout = ok(xtask(&["package-chart", "--out", out.path().join("a").to_str().unwrap()]));
    let (digest, path) = stdout.lines().last().unwrap().split_once("  ").unwrap();
    let in_place = std::fs::read(path).unwrap();
    assert_eq!(digest, xtask::layout::sha256_hex(&in_place));
    let clones = tempfile::tempdir().unwrap();
    for (i, clone) in ["one", "two"].iter().enumerate() {
        let dir = clones.path().join(clone).join("kube9-operator");
        copy_tree(&operator_chart, &dir);
        let (d, p) = package(&dir, &out.path().join(format!("clone-{i}")));
        assert_eq!(d, digest, "clone {clone} gives another digest");
        assert_eq!(std::fs::read(p).unwrap(), in_place);
    }
}

#[test]
fn refused_packages_leave_no_file() {
    let out = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 4] = [
        ("name: demo\n", "`version`"),
        ("apiVersion: v2\nname: demo\nversion: v1.0\n", "SemVer 2"),
        ("apiVersion: v9\nname: demo\nversion: 1.0.0\n", "apiVersion"),
        ("name: [broken\n", "Chart.yaml"),
    ];
    for (chart_yaml, expected) in cases {
        let chart = tempfile::tempdir().unwrap();
        std::fs::write(chart.path().join("Chart.yaml"), chart_yaml).unwrap();
        let stderr = fails(xtask(&[
            "package-chart",
            "--chart",
            chart.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]));
        assert!(stderr.contains(expected), "{chart_yaml:?}: {stderr}");
    }
    let empty = tempfile::tempdir().unwrap();
    let stderr = fails(xtask(&[
        "package-chart",
        "--chart",
        empty.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]));
    assert!(stderr.contains("Chart.yaml"), "{stderr}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "no package and no temporary file left behind");
}

/// (name, version) -> digest of every version in an index file.
fn digests(index: &RepoIndex) -> BTreeMap<(String, String), String> {
    index
        .entries
        .iter()
        .flat_map(|(name, versions)| {
            versions.iter().map(move |e| ((name.clone(), e.version().to_string()), e.digest.clone()))
        })
        .collect()
}

#[test]
fn repo_index_refuses_a_url_that_is_not_an_http_url_and_writes_nothing() {
    let (chart, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_chart(chart.path(), "1.0.0", "1.0.0");
    let (_, package) = package(chart.path(), dir.path());
    for bad in ["not-a-url", "ftp://charts.example.org", "https://user:pw@charts.example.org"] {
        let stderr = fails(xtask(&["repo-index", dir.path().to_str().unwrap(), "--url", bad]));
        assert!(stderr.contains("--url"), "the error names the flag: {stderr}");
        assert!(stderr.contains(bad), "the error names the value: {stderr}");
        assert!(!dir.path().join("index.yaml").exists(), "--url {bad}: an index was written");
    }
    assert!(package.is_file(), "the package is left alone");
    // The same folder with a valid URL is indexed: the refusal was the URL's alone.
    ok(xtask(&["repo-index", dir.path().to_str().unwrap(), "--url", "https://charts.example.org"]));
    assert!(dir.path().join("index.yaml").is_file());
}

#[test]
fn repo_index_reads_helm_made_packages_like_helm() {
    let shared = real_world();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(shared.join("mozilla-it-charts")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        files.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    ok(xtask(&["repo-index", dir.path().to_str().unwrap(), "--url", "https://mozilla-it.github.io/helm-charts"]));
    let ours = RepoIndex::parse(&std::fs::read(dir.path().join("index.yaml")).unwrap()).unwrap();
    let helms = RepoIndex::parse(&std::fs::read(shared.join("mozilla-it-index.yaml")).unwrap()).unwrap();
    let ours_digests = digests(&ours);
    let helm_digests = digests(&helms);
    assert_eq!(ours_digests.len(), files.len(), "one version per package");
    for (key, digest) in &ours_digests {
        assert_eq!(helm_digests.get(key), Some(digest), "{key:?}: digest differs from Helm's index");
        let ours_entry = ours.get(&key.0, &key.1).unwrap();
        let helm_entry = helms.get(&key.0, &key.1).unwrap();
        assert_eq!(ours_entry.metadata, helm_entry.metadata, "{key:?}: metadata differs from Helm's index");
        assert_eq!(ours_entry.urls, [format!("https://mozilla-it.github.io/helm-charts/{}-{}.tgz", key.0, key.1)]);
    }
    // Same names, versions newest first, in the same order as Helm.
    for (name, versions) in &ours.entries {
        let helm_order: Vec<&str> = helms.entries[name]
            .iter()
            .map(xtask::index::IndexEntry::version)
            .filter(|v| versions.iter().any(|o| o.version() == *v))
            .collect();
        let our_order: Vec<&str> = versions.iter().map(xtask::index::IndexEntry::version).collect();
        assert_eq!(our_order, helm_order, "{name}: version order");
    }
}

#[test]
fn repo_index_appends_and_never_rewrites_created() {
    let charts = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    write_chart(charts.path(), "1.0.0", "1.0.0");
    package(charts.path(), repo.path());
    let repo_dir = repo.path().to_str().unwrap();
    ok(xtask(&["repo-index", repo_dir]));
    let first = std::fs::read(repo.path().join("index.yaml")).unwrap();
    let first = RepoIndex::parse(&first).unwrap();
    assert_eq!(first.entries["demo"][0].urls, ["demo-1.0.0.tgz"], "no --url: relative URLs like Helm");
    let created = first.entries["demo"][0].created;

    write_chart(charts.path(), "1.1.0", "1.1.0");
    package(charts.path(), repo.path());
    ok(xtask(&["repo-index", repo_dir]));
    let second = RepoIndex::parse(&std::fs::read(repo.path().join("index.yaml")).unwrap()).unwrap();
    let versions: Vec<&str> = second.entries["demo"].iter().map(xtask::index::IndexEntry::version).collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    assert_eq!(second.get("demo", "1.0.0").unwrap().created, created, "created of an existing version is kept");

    // Same version, other bytes: refused, index untouched; --force replaces it.
    let before = std::fs::read(repo.path().join("index.yaml")).unwrap();
    std::fs::write(charts.path().join("README.md"), "# changed\n").unwrap();
    package(charts.path(), repo.path());
    let stderr = fails(xtask(&["repo-index", repo_dir]));
    assert!(stderr.contains("demo") && stderr.contains("1.1.0") && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read(repo.path().join("index.yaml")).unwrap(), before);
    ok(xtask(&["repo-index", repo_dir, "--force"]));
    let forced = RepoIndex::parse(&std::fs::read(repo.path().join("index.yaml")).unwrap()).unwrap();
    assert_eq!(forced.get("demo", "1.1.0").unwrap().digest, sha256(&repo.path().join("demo-1.1.0.tgz")));

    // --merge FILE: the other index's versions are kept alongside the folder's.
    let other = tempfile::tempdir().unwrap();
    let merge_file = other.path().join("old.yaml");
    std::fs::copy(real_world().join("prometheus-community-fork-index.yaml"), &merge_file).unwrap();
    ok(xtask(&["repo-index", repo_dir, "--merge", merge_file.to_str().unwrap()]));
    let merged = RepoIndex::parse(&std::fs::read(repo.path().join("index.yaml")).unwrap()).unwrap();
    let old = RepoIndex::parse(&std::fs::read(&merge_file).unwrap()).unwrap();
    assert_eq!(merged.version_count(), old.version_count() + 2);
    for (name, versions) in &old.entries {
        assert_eq!(&merged.entries[name], versions, "{name}: merged versions are kept as they were");
    }
}

/// Regression: an index listing `v1.0.0` merged with a package `1.0.0` lists the version
/// once, as Helm's `IndexFile.Merge` does (`Has` reads `1.0.0` as `v1.0.0`). The entry
/// kept is the receiver's: ours merges the packages into the base index, so the listed
/// `v1.0.0` stays with its `created`; `helm repo index --merge` merges the base into the
/// folder's index, so it keeps the package's `1.0.0`. Either way: one entry.
#[test]
fn repo_index_merge_takes_v_prefixed_versions_as_one_version_like_helm() {
    let charts = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    write_chart(charts.path(), "1.0.0", "1.0.0");
    let (digest, _) = package(charts.path(), repo.path());
    let base = tempfile::tempdir().unwrap();
    let base_file = base.path().join("old.yaml");
    let listed = format!(
        "apiVersion: v1\nentries:\n  demo:\n  - apiVersion: v2\n    created: \"2020-01-02T03:04:05Z\"\n    digest: {digest}\n    name: demo\n    urls:\n    - demo-1.0.0.tgz\n    version: v1.0.0\ngenerated: \"2020-01-02T03:04:05Z\"\n"
    );
    std::fs::write(&base_file, &listed).unwrap();

    let repo_dir = repo.path().to_str().unwrap();
    let stdout = ok(xtask(&["repo-index", repo_dir, "--merge", base_file.to_str().unwrap()]));
    assert!(stdout.contains("0 added, 1 unchanged"), "{stdout}");
    let ours = RepoIndex::parse(&std::fs::read(repo.path().join("index.yaml")).unwrap()).unwrap();
    let versions: Vec<&str> = ours.entries["demo"].iter().map(xtask::index::IndexEntry::version).collect();
    assert_eq!(versions, ["v1.0.0"], "one entry, the one already listed");
    assert_eq!(ours.entries["demo"][0].created.unwrap().to_rfc3339(), "2020-01-02T03:04:05+00:00");

    // Real Helm lists the version once too (keeping its receiver's entry, the package's).
    for helm in Helm::both().unwrap() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::copy(repo.path().join("demo-1.0.0.tgz"), folder.path().join("demo-1.0.0.tgz")).unwrap();
        helm.run(&["repo", "index", folder.path().to_str().unwrap(), "--merge", base_file.to_str().unwrap()]).unwrap();
        let helms = RepoIndex::parse(&std::fs::read(folder.path().join("index.yaml")).unwrap()).unwrap();
        let versions: Vec<&str> = helms.entries["demo"].iter().map(xtask::index::IndexEntry::version).collect();
        assert_eq!(versions, ["1.0.0"], "{}", helm.version().unwrap());
    }

    // Another digest under the same version is refused, naming how it is listed.
    std::fs::write(charts.path().join("README.md"), "# changed\n").unwrap();
    package(charts.path(), repo.path());
    let stderr = fails(xtask(&["repo-index", repo_dir, "--merge", base_file.to_str().unwrap()]));
    assert!(stderr.contains("version 1.0.0 (listed as v1.0.0) is already published"), "{stderr}");
}

/// A minimal static file server on a loopback port (GET and HEAD), enough for Helm.
struct StaticServer {
    url: String,
}

impl StaticServer {
    fn start(root: &Path) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let root = root.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut request = String::new();
                    if reader.read_line(&mut request).is_err() {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                    }
                    let mut parts = request.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_string();
                    let path =
                        parts.next().unwrap_or("/").split('?').next().unwrap().trim_start_matches('/').to_string();
                    let file = (!path.contains("..")).then(|| root.join(&path)).filter(|p| p.is_file());
                    let response = match file {
                        Some(file) => {
                            let body = std::fs::read(file).unwrap();
                            let mut head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            if method != "HEAD" {
                                head.extend(body);
                            }
                            head
                        }
                        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    };
                    let _ = stream.write_all(&response);
                });
            }
        });
        StaticServer { url }
    }
}

/// (path, mode, uid, gid, entry type) of every entry of a `.tgz`, in order.
fn layout(bytes: &[u8]) -> Vec<(String, u32, u64, u64, u8)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.entry_type().as_byte(),
            )
        })
        .collect()
}

/// `helm search repo` rows: (name, chart version, app version).
fn search_rows(output: &str) -> Vec<(String, String, String)> {
    output
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
            (cols[0].to_string(), cols[1].to_string(), cols[2].to_string())
        })
        .collect()
}

#[test]
fn helm_3_and_4_accept_our_packages_and_index() {
    let repo = tempfile::tempdir().unwrap();
    let charts = tempfile::tempdir().unwrap();
    for (version, app) in [("1.0.0", "1.0.0"), ("1.1.0-rc.1", "1.1.0-rc.1"), ("1.1.0", "1.1.0"), ("0.9.0", "0.9.0")] {
        write_chart(charts.path(), version, app);
        package(charts.path(), repo.path());
    }
    let server = StaticServer::start(repo.path());
    ok(xtask(&["repo-index", repo.path().to_str().unwrap(), "--url", &server.url]));
    let index = RepoIndex::parse(&std::fs::read(repo.path().join("index.yaml")).unwrap()).unwrap();

    let operator = tempfile::tempdir().unwrap();
    let (_, operator_package) = package(&xtask::project::operator_chart_dir(), operator.path());
    for helm in Helm::both().expect("Helm 3 and Helm 4 (provision them with `cargo xtask test`)") {
        let tag = format!("helm {}", helm.major);
        let package = repo.path().join("demo-1.1.0.tgz");
        helm.run(&["lint", package.to_str().unwrap()]).unwrap_or_else(|e| panic!("{tag} lint: {e:#}"));
        helm.run(&["lint", operator_package.to_str().unwrap()])
            .unwrap_or_else(|e| panic!("{tag} lint of the operator chart: {e:#}"));

        // Same layout as `helm package` of the same folder: entries, order, modes, owners.
        let helm_out = tempfile::tempdir().unwrap();
        helm.run(&["package", charts.path().to_str().unwrap(), "-d", helm_out.path().to_str().unwrap()])
            .unwrap_or_else(|e| panic!("{tag} package: {e:#}"));
        let ours_layout = layout(&std::fs::read(repo.path().join("demo-0.9.0.tgz")).unwrap());
        let helm_layout = layout(&std::fs::read(helm_out.path().join("demo-0.9.0.tgz")).unwrap());
        assert_eq!(ours_layout, helm_layout, "{tag}: entry layout differs from `helm package`");

        let name = format!("idx{}", helm.major);
        helm.run(&["repo", "add", &name, &server.url]).unwrap_or_else(|e| panic!("{tag} repo add: {e:#}"));
        let output = helm
            .run(&["search", "repo", &format!("{name}/demo"), "--versions", "--devel"])
            .unwrap_or_else(|e| panic!("{tag} search: {e:#}"));
        let rows = search_rows(&output);
        let expected: Vec<(String, String, String)> = ["1.1.0", "1.1.0-rc.1", "1.0.0", "0.9.0"]
            .iter()
            .map(|v| (format!("{name}/demo"), v.to_string(), v.to_string()))
            .collect();
        assert_eq!(rows, expected, "{tag}: every version, newest first, app version shown\n{output}");

        let pulled = tempfile::tempdir().unwrap();
        helm.run(&["pull", &format!("{name}/demo"), "--version", "1.1.0", "-d", pulled.path().to_str().unwrap()])
            .unwrap_or_else(|e| panic!("{tag} pull: {e:#}"));
        let digest = sha256(&pulled.path().join("demo-1.1.0.tgz"));
        assert_eq!(digest, index.get("demo", "1.1.0").unwrap().digest, "{tag}: pulled digest = index digest");

        let rendered = helm
            .run(&["template", "rel", &format!("{name}/demo"), "--version", "1.1.0", "--set", "replicas=3"])
            .unwrap_or_else(|e| panic!("{tag} template: {e:#}"));
        assert!(rendered.contains("name: rel-demo"), "{tag}: {rendered}");
        assert!(rendered.contains("replicas: \"3\""), "{tag}: {rendered}");
        assert!(rendered.contains("version: \"1.1.0\""), "{tag}: {rendered}");
        assert!(rendered.contains("kind: Secret"), "{tag}: the subchart is rendered\n{rendered}");
    }
}

#[test]
fn helm_reads_our_round_trip_of_real_world_indexes_like_the_originals() {
    let shared = real_world();
    let helms = Helm::both().expect("Helm 3 and Helm 4 (provision them with `cargo xtask test`)");
    for file in ["mozilla-it-index.yaml", "prometheus-community-fork-index.yaml"] {
        let original = tempfile::tempdir().unwrap();
        let ours = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(shared.join(file)).unwrap();
        std::fs::write(original.path().join("index.yaml"), &bytes).unwrap();
        let index = RepoIndex::parse(&bytes).unwrap();
        std::fs::write(ours.path().join("index.yaml"), index.to_yaml().unwrap()).unwrap();
        let original_server = StaticServer::start(original.path());
        let our_server = StaticServer::start(ours.path());
        for helm in &helms {
            let tag = format!("helm {} {file}", helm.major);
            let a = format!("orig-{}", file.len());
            let b = format!("ours-{}", file.len());
            helm.run(&["repo", "add", &a, &original_server.url]).unwrap_or_else(|e| panic!("{tag}: {e:#}"));
            helm.run(&["repo", "add", &b, &our_server.url]).unwrap_or_else(|e| panic!("{tag}: {e:#}"));
            let from_original = helm.run(&["search", "repo", &format!("{a}/"), "--versions", "--devel"]).unwrap();
            let from_ours = helm.run(&["search", "repo", &format!("{b}/"), "--versions", "--devel"]).unwrap();
            assert!(search_rows(&from_original).len() > 10, "{tag}: {from_original}");
            assert_eq!(
                from_ours.replace(&format!("{b}/"), "R/"),
                from_original.replace(&format!("{a}/"), "R/"),
                "{tag}"
            );
        }
    }
}
