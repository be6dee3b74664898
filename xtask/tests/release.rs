//! `cargo xtask release-chart`, `cargo xtask reindex` and `cargo xtask yank`, driven as the
//! real binary against a moto server (S3 + CloudFront) and against a local folder (`--local`).
//!
//! Behaviour tests are written once over [`Target`] and instantiated for both backends by
//! `both_targets!`; S3-only facts (headers, invalidations, infrastructure errors) have
//! their own tests. The tests whose verdict rests on S3's conditional writes (the race,
//! the kill between package and index, the corrupt index and reindex) also run with S3
//! on SeaweedFS (`mod seaweedfs`), a second real S3, CloudFront staying on moto: moto
//! is patched to make its conditional writes atomic, and that patch must not be their
//! only judge.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use axum::http::Method;
use xtask_dev::harness::{MotoServer, Proxy, SeaweedFs};

mod support;
use support::{assert_fails_with, assert_ok, text};

const DOMAIN: &str = "charts.example.com";
const SECRET: &str = "zzTOPsecretKUBE9xxSECRETvalue0123456789";
const ACCESS_KEY: &str = "AKIAKUBE9TESTDISTINCT";

// ---------------------------------------------------------------- fixtures

/// Write a small chart into `dir` (replacing what is there).
fn write_chart(dir: &Path, name: &str, version: &str, note: &str) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: {name}\ndescription: A test chart\ntype: application\nversion: {version}\nappVersion: \"{version}\"\nsources:\n  - https://{DOMAIN}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), format!("note: {note:?}\nreplicas: 1\n")).unwrap();
    std::fs::write(
        dir.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  note: {{ .Values.note | quote }}\n",
    )
    .unwrap();
}

/// Where a release goes: a moto-backed bucket + distribution, or a folder.
enum Target {
    S3(Box<S3Target>),
    Local { dir: PathBuf },
}

struct S3Target {
    /// CloudFront (and S3, unless `seaweedfs`).
    moto: MotoServer,
    /// S3, when the fixture runs it on SeaweedFS (`AWS_ENDPOINT_URL_S3`).
    seaweedfs: Option<SeaweedFs>,
    /// `s3` talks to whichever server holds the bucket, the others to moto.
    clients: xtask::aws::Clients,
    bucket: String,
    config: PathBuf,
    distribution_id: Option<String>,
}

struct Fixture {
    work: tempfile::TempDir,
    target: Target,
    runtime: tokio::runtime::Runtime,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn config_text(bucket: &str, domain: &str) -> String {
    format!(
        "domain = \"{domain}\"\nhosted_zone = \"example.com\"\nbucket = \"{bucket}\"\nregion = \"us-east-1\"\n\n[tags]\nproject = \"kube9-operator\"\nmanaged-by = \"cargo-xtask\"\n"
    )
}

async fn create_distribution(clients: &xtask::aws::Clients, bucket: &str, alias: &str, tagged: bool) -> String {
    let mut tags = vec![("project", "kube9-operator")];
    if tagged {
        tags.push(("managed-by", "cargo-xtask"));
    }
    xtask_dev::harness::create_distribution(clients, bucket, alias, &tags).await.unwrap()
}

impl Fixture {
    fn local() -> Fixture {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("repo");
        Fixture { target: Target::Local { dir }, work, runtime: runtime() }
    }

    /// A bucket (versioned, so every write is countable) and a tagged distribution.
    fn s3() -> Fixture {
        Fixture::s3_with(true, true, true)
    }

    /// As [`Fixture::s3`], with the bucket on SeaweedFS and the distribution on moto.
    fn seaweedfs() -> Fixture {
        Fixture::s3_on(true, true, true, true)
    }

    fn s3_with(bucket: bool, distribution: bool, tagged: bool) -> Fixture {
        Fixture::s3_on(false, bucket, distribution, tagged)
    }

    fn s3_on(on_seaweedfs: bool, bucket: bool, distribution: bool, tagged: bool) -> Fixture {
        let work = tempfile::tempdir().unwrap();
        let runtime = runtime();
        let moto = MotoServer::start().expect("moto server (provision the tools with `cargo xtask test`)");
        let mut clients = xtask::aws::Clients::from_shared(runtime.block_on(moto.sdk_config()));
        let seaweedfs = on_seaweedfs.then(|| {
            let seaweedfs = SeaweedFs::start().expect("SeaweedFS (provision the tools with `cargo xtask test`)");
            clients.s3 = runtime.block_on(seaweedfs.clients()).s3;
            seaweedfs
        });
        let name = format!("release-test-{:08x}", fastrand::u32(..));
        let distribution_id = runtime.block_on(async {
            if bucket {
                clients.s3.create_bucket().bucket(&name).send().await.unwrap();
                let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build();
                clients
                    .s3
                    .put_bucket_versioning()
                    .bucket(&name)
                    .versioning_configuration(enabled)
                    .send()
                    .await
                    .unwrap();
            }
            if distribution { Some(create_distribution(&clients, &name, DOMAIN, tagged).await) } else { None }
        });
        let config = work.path().join("repository.toml");
        std::fs::write(&config, config_text(&name, DOMAIN)).unwrap();
        let target = Target::S3(Box::new(S3Target { moto, seaweedfs, clients, bucket: name, config, distribution_id }));
        Fixture { work, target, runtime }
    }

    fn chart(&self, name: &str, version: &str, note: &str) -> PathBuf {
        let dir = self.work.path().join("charts").join(format!("{name}-{version}"));
        write_chart(&dir, name, version, note);
        dir
    }

    fn base_url(&self) -> String {
        match &self.target {
            Target::S3(_) => format!("https://{DOMAIN}"),
            Target::Local { .. } => "http://127.0.0.1:8879".to_string(),
        }
    }

    /// `xtask` with the target's arguments and environment; `args` come after the command.
    fn command(&self, command: &str, args: &[&str]) -> Command {
        let mut cmd = support::xtask();
        match &self.target {
            Target::S3(s3) => {
                cmd.envs(s3.moto.env());
                // AWS_ENDPOINT_URL_S3: S3 alone goes there, CloudFront stays on moto.
                if let Some(seaweedfs) = &s3.seaweedfs {
                    cmd.envs(seaweedfs.env());
                }
                cmd.arg("--config").arg(&s3.config).arg(command);
                if matches!(command, "release-chart" | "yank") {
                    cmd.args(["--wait-timeout", "60"]);
                }
                // https://{DOMAIN} does not exist here; the verification step has its own test.
                if command == "release-chart" && !args.contains(&"--verify-url") {
                    cmd.arg("--no-verify");
                }
            }
            Target::Local { dir } => {
                // No AWS at all: not even credentials.
                for var in [
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                    "AWS_ENDPOINT_URL",
                    "AWS_ENDPOINT_URL_S3",
                ] {
                    cmd.env_remove(var);
                }
                cmd.arg(command).arg("--local").arg(dir);
            }
        }
        cmd.args(args);
        cmd
    }

    fn release(&self, charts: &[&Path], extra: &[&str]) -> Output {
        let mut args: Vec<String> = Vec::new();
        for chart in charts {
            args.push("--chart".into());
            args.push(chart.display().to_string());
        }
        args.extend(extra.iter().map(std::string::ToString::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.command("release-chart", &args).output().unwrap()
    }

    fn yank(&self, args: &[&str]) -> Output {
        self.command("yank", args).output().unwrap()
    }

    /// The stored `yanked.json` (an empty record when there is none).
    fn yanks(&self) -> xtask::yanked::YankLog {
        self.get("yanked.json").map(|bytes| xtask::yanked::YankLog::parse(&bytes).unwrap()).unwrap_or_default()
    }

    /// The stored index, as the tool models it.
    fn repo_index(&self) -> xtask::index::RepoIndex {
        xtask::index::RepoIndex::parse(&self.get("index.yaml").expect("index.yaml stored")).unwrap()
    }

    /// The landing page lists exactly the stored index, and apart exactly the yanks in force.
    fn assert_page_follows_the_repository(&self) {
        let page = String::from_utf8(self.get("index.html").expect("index.html stored")).unwrap();
        assert_eq!(xtask::landing::listed_versions(&page), xtask::landing::index_versions(&self.repo_index()));
        assert_eq!(xtask::landing::yanked_versions(&page), xtask::landing::yanked_in(&self.yanks()));
    }

    /// How many invalidations the distribution has had (`None` for a folder).
    fn invalidations(&self) -> Option<usize> {
        let Target::S3(s3) = &self.target else { return None };
        let id = s3.distribution_id.as_deref().unwrap();
        self.runtime.block_on(async {
            let list = s3.clients.cloudfront.list_invalidations().distribution_id(id).send().await.unwrap();
            Some(list.invalidation_list().unwrap().items().len())
        })
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        match &self.target {
            Target::Local { dir } => std::fs::read(dir.join(key)).ok(),
            Target::S3(s3) => self.runtime.block_on(async {
                let response = s3.clients.s3.get_object().bucket(&s3.bucket).key(key).send().await.ok()?;
                Some(response.body.collect().await.unwrap().into_bytes().to_vec())
            }),
        }
    }

    fn put_raw(&self, key: &str, bytes: &[u8]) {
        match &self.target {
            Target::Local { dir } => {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(dir.join(key), bytes).unwrap();
            }
            Target::S3(s3) => self.runtime.block_on(async {
                s3.clients
                    .s3
                    .put_object()
                    .bucket(&s3.bucket)
                    .key(key)
                    .body(bytes.to_vec().into())
                    .send()
                    .await
                    .unwrap();
            }),
        }
    }

    /// Every stored write: S3 object versions (moto and SeaweedFS both keep them for a
    /// versioned bucket), or file names with mtime and content hash.
    fn writes(&self) -> Vec<String> {
        match &self.target {
            Target::Local { dir } => {
                let mut out = Vec::new();
                for entry in std::fs::read_dir(dir).into_iter().flatten() {
                    let entry = entry.unwrap();
                    let name = entry.file_name().into_string().unwrap();
                    let meta = entry.metadata().unwrap();
                    let mtime = meta.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
                    out.push(format!(
                        "{name} {mtime} {}",
                        xtask::layout::sha256_hex(&std::fs::read(entry.path()).unwrap())
                    ));
                }
                out.sort();
                out
            }
            Target::S3(s3) => self.runtime.block_on(async {
                let listed = s3.clients.s3.list_object_versions().bucket(&s3.bucket).send().await.unwrap();
                let mut out: Vec<String> = listed
                    .versions()
                    .iter()
                    .map(|v| {
                        format!("{} {} {}", v.key().unwrap(), v.version_id().unwrap_or("-"), v.e_tag().unwrap_or("-"))
                    })
                    .collect();
                out.sort();
                out
            }),
        }
    }

    fn keys(&self) -> Vec<String> {
        self.writes()
            .iter()
            .map(|w| w.split(' ').next().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn index(&self) -> serde_yaml::Value {
        let bytes = self.get("index.yaml").expect("index.yaml stored");
        xtask::index::RepoIndex::parse(&bytes).expect("stored index parses");
        serde_yaml::from_slice(&bytes).unwrap()
    }

    /// Versions of `chart` in the stored index, in index order.
    fn versions(&self, chart: &str) -> Vec<String> {
        let index = self.index();
        index["entries"][chart]
            .as_sequence()
            .map(|seq| seq.iter().map(|e| e["version"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// Every URL in the index points at a stored package whose sha256 is the digest.
    fn assert_index_names_only_stored_packages(&self) {
        let index = self.index();
        let base = self.base_url();
        for (_, versions) in index["entries"].as_mapping().unwrap() {
            for entry in versions.as_sequence().unwrap() {
                let url = entry["urls"][0].as_str().unwrap();
                let key = url.strip_prefix(&format!("{base}/")).unwrap_or_else(|| panic!("url {url} not under {base}"));
                let bytes = self.get(key).unwrap_or_else(|| panic!("index names missing package {key}"));
                assert_eq!(xtask::layout::sha256_hex(&bytes), entry["digest"].as_str().unwrap(), "{key}");
            }
        }
    }
}

// ---------------------------------------------------------------- behaviour, both targets

fn first_then_second_version(fx: &Fixture) {
    let v1 = fx.chart("demo", "1.0.0", "one");
    let v2 = fx.chart("demo", "1.1.0", "two");
    assert_ok(&fx.release(&[&v1], &[]));
    assert_eq!(fx.versions("demo"), ["1.0.0"]);
    let out = fx.release(&[&v2], &[]);
    assert_ok(&out);
    assert_eq!(fx.versions("demo"), ["1.1.0", "1.0.0"], "newest first, previous kept");
    let index = fx.index();
    assert_eq!(index["entries"]["demo"][0]["urls"][0].as_str().unwrap(), format!("{}/demo-1.1.0.tgz", fx.base_url()));
    assert_eq!(index["entries"]["demo"][0]["appVersion"].as_str().unwrap(), "1.1.0");
    fx.assert_index_names_only_stored_packages();
    let artifacthub = std::fs::read(xtask::project::project_root().join("charts/artifacthub-repo.yml")).unwrap();
    assert_eq!(fx.get("artifacthub-repo.yml"), Some(artifacthub), "Artifact Hub metadata at the repository root");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in ["demo 1.1.0", "app version", "sha256:", "demo-1.1.0.tgz", "index.yaml", "invalidation"] {
        assert!(stdout.contains(needle), "summary lacks {needle:?}:\n{stdout}");
    }
}

fn rerun_writes_nothing_and_changed_content_is_refused(fx: &Fixture) {
    let v1 = fx.chart("demo", "1.0.0", "one");
    assert_ok(&fx.release(&[&v1], &[]));
    let before = fx.writes();
    let index_before = fx.get("index.yaml").unwrap();

    let again = fx.release(&[&v1], &[]);
    assert_ok(&again);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing changed"), "{}", text(&again));
    assert_eq!(fx.writes(), before, "an identical re-run wrote something");
    assert_eq!(fx.get("index.yaml").unwrap(), index_before);

    // Same version, different content: refused, nothing written.
    let changed = fx.chart("demo", "1.0.0", "changed");
    assert_fails_with(&fx.release(&[&changed], &[]), &["already published", "bump the chart version"]);
    assert_eq!(fx.writes(), before, "a refused release wrote something");

    // --force replaces it on purpose.
    assert_ok(&fx.release(&[&changed], &["--force"]));
    fx.assert_index_names_only_stored_packages();
    assert_ne!(fx.get("index.yaml").unwrap(), index_before);
}

fn sixteen_concurrent_releases(fx: &Fixture) {
    let dirs: Vec<PathBuf> = (0..16).map(|i| fx.chart("demo", &format!("1.{i}.0"), "race")).collect();
    // Start all 16 processes, then wait for all.
    let children: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let mut cmd = fx.command("release-chart", &["--chart", dir.to_str().unwrap(), "--no-wait"]);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for child in children {
        assert_ok(&child.wait_with_output().unwrap());
    }
    let mut versions = fx.versions("demo");
    assert_eq!(versions.len(), 16, "{versions:?}");
    let expected: Vec<String> = (0..16).rev().map(|i| format!("1.{i}.0")).collect();
    assert_eq!(versions, expected, "all 16, newest first");
    versions.sort();
    fx.assert_index_names_only_stored_packages();
}

fn killed_between_package_and_index(fx: &Fixture) {
    let v1 = fx.chart("demo", "1.0.0", "one");
    let v2 = fx.chart("demo", "2.0.0", "two");
    assert_ok(&fx.release(&[&v1], &[]));

    match &fx.target {
        Target::S3(s3) => {
            // The release talks to S3 (moto or SeaweedFS) through a proxy that holds its
            // index write forever; once that write arrived, the process is killed (SIGKILL:
            // no cleanup runs). AWS_ENDPOINT_URL_S3 sends S3 alone through the proxy, on
            // either backend; CloudFront goes to moto directly.
            let s3_endpoint = s3.seaweedfs.as_ref().map_or(&s3.moto.endpoint, |seaweedfs| &seaweedfs.endpoint);
            let proxy = fx.runtime.block_on(Proxy::start(s3_endpoint)).unwrap();
            proxy.hold(Method::PUT, "/index.yaml");
            let mut cmd = fx.command("release-chart", &["--chart", v2.to_str().unwrap(), "--no-wait"]);
            cmd.env("AWS_ENDPOINT_URL_S3", &proxy.endpoint).stdout(Stdio::null()).stderr(Stdio::null());
            let mut child = cmd.spawn().unwrap();
            let arrived =
                fx.runtime.block_on(async { tokio::time::timeout(Duration::from_secs(120), proxy.held()).await });
            if arrived.is_err() {
                let _ = child.kill();
                panic!("the release never reached the index write: {:?}", child.wait());
            }
            child.kill().unwrap();
            child.wait().unwrap();
        }
        Target::Local { .. } => {
            // A local write cannot be held from outside; leave the state such a kill leaves:
            // the package stored (the same bytes a release makes), the index not updated.
            let scratch = Fixture::local();
            assert_ok(&scratch.release(&[&v2], &[]));
            fx.put_raw("demo-2.0.0.tgz", &scratch.get("demo-2.0.0.tgz").unwrap());
        }
    }

    // The package is there, the index still parses and names only stored packages.
    assert!(fx.get("demo-2.0.0.tgz").is_some(), "package is uploaded before the index");
    assert_eq!(fx.versions("demo"), ["1.0.0"]);
    fx.assert_index_names_only_stored_packages();

    // Re-running completes the release, reusing the uploaded package.
    let out = fx.release(&[&v2], &["--no-wait"]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already present"), "{}", text(&out));
    assert_eq!(fx.versions("demo"), ["2.0.0", "1.0.0"]);
    fx.assert_index_names_only_stored_packages();
}

fn corrupt_index_is_never_overwritten_and_reindex_repairs_it(fx: &Fixture) {
    let v1 = fx.chart("demo", "1.0.0", "one");
    let v2 = fx.chart("demo", "1.1.0", "two");
    assert_ok(&fx.release(&[&v1], &[]));
    let created_before = fx.index()["entries"]["demo"][0]["created"].as_str().unwrap().to_string();
    let broken = b"apiVersion: v1\nentries:\n  demo: {{{ not: an index\n";
    fx.put_raw("index.yaml", broken);
    let before = fx.writes();

    assert_fails_with(&fx.release(&[&v2], &[]), &["index.yaml", "does not parse", "cargo xtask reindex"]);
    assert_eq!(fx.writes(), before, "a release over a corrupt index wrote something");
    assert_eq!(fx.get("index.yaml").unwrap(), broken);

    // Dry-run reindex writes nothing; reindex rebuilds from the stored packages.
    let dry = fx.command("reindex", &["--dry-run"]).output().unwrap();
    assert_ok(&dry);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would write"), "{}", text(&dry));
    assert_eq!(fx.writes(), before);
    assert_ok(&fx.command("reindex", &[]).output().unwrap());
    assert_eq!(fx.versions("demo"), ["1.0.0"]);
    fx.assert_index_names_only_stored_packages();
    assert_ok(&fx.release(&[&v2], &[]));
    assert_eq!(fx.versions("demo"), ["1.1.0", "1.0.0"]);

    // A readable index keeps its `created` through a reindex.
    let created = fx.index()["entries"]["demo"][1]["created"].as_str().unwrap().to_string();
    assert_ok(&fx.command("reindex", &[]).output().unwrap());
    assert_eq!(fx.index()["entries"]["demo"][1]["created"].as_str().unwrap(), created);
    let _ = created_before;
}

fn dry_run_writes_nothing(fx: &Fixture) {
    let v1 = fx.chart("demo", "1.0.0", "one");
    let before = fx.writes();
    let out = fx.release(&[&v1], &["--dry-run"]);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in ["would upload", "demo-1.0.0.tgz", "would write", "index.yaml"] {
        assert!(stdout.contains(needle), "dry run does not say {needle:?}:\n{stdout}");
    }
    assert_eq!(fx.writes(), before, "dry run wrote something");
}

fn version_drift_is_refused(fx: &Fixture) {
    let drifted = fx.chart("kube9-operator", "9.9.9", "drift");
    let before = fx.writes();
    assert_fails_with(&fx.release(&[&drifted], &[]), &["version drift", "9.9.9", "cargo xtask sync-version"]);
    assert_eq!(fx.writes(), before);
}

fn several_charts_in_one_release(fx: &Fixture) {
    let a = fx.chart("alpha", "0.1.0", "a");
    let b = fx.chart("beta", "3.2.1", "b");
    let summary = fx.work.path().join("step-summary.md");
    let mut args: Vec<String> = Vec::new();
    for dir in [&a, &b] {
        args.extend(["--chart".to_string(), dir.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = fx.command("release-chart", &args).env("GITHUB_STEP_SUMMARY", &summary).output().unwrap();
    assert_ok(&out);
    assert_eq!(fx.versions("alpha"), ["0.1.0"]);
    assert_eq!(fx.versions("beta"), ["3.2.1"]);
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.contains("| alpha | 0.1.0 |") && markdown.contains("| beta | 3.2.1 |"), "{markdown}");
}

// ---------------------------------------------------------------- yank, both targets

/// A signed 1.0.0 and an unsigned 1.1.0 of `demo`; the 1.0.0 entry as the index holds it.
fn two_releases(fx: &Fixture) -> xtask::index::IndexEntry {
    let key = xtask_dev::harness::generate_rsa_key("yank test <yank@kube9.invalid>", None).unwrap();
    let key_file = fx.work.path().join("signing.asc");
    std::fs::write(&key_file, &key.armored_secret).unwrap();
    let v1 = fx.chart("demo", "1.0.0", "one");
    assert_ok(&fx.release(&[&v1], &["--sign-key", key_file.to_str().unwrap()]));
    assert_ok(&fx.release(&[&fx.chart("demo", "1.1.0", "two")], &[]));
    fx.repo_index().get("demo", "1.0.0").unwrap().clone()
}

fn yank_takes_a_version_out_and_undo_puts_it_back(fx: &Fixture) {
    let entry = two_releases(fx);
    let package = fx.get("demo-1.0.0.tgz").unwrap();
    let prov = fx.get("demo-1.0.0.tgz.prov").expect("1.0.0 is signed");
    let invalidations = fx.invalidations();

    // --dry-run writes nothing at all, and says what it would.
    let before = fx.writes();
    let dry = fx.yank(&["demo", "1.0.0", "--reason", "breaks upgrades", "--dry-run"]);
    assert_ok(&dry);
    for needle in ["would write", "yanked.json", "index.yaml", "would yank demo 1.0.0"] {
        assert!(text(&dry).contains(needle), "the dry run does not say {needle:?}:\n{}", text(&dry));
    }
    assert_eq!(fx.writes(), before, "a dry run wrote something");

    let mut yank = fx.command("yank", &["demo", "1.0.0", "--reason", "breaks upgrades"]);
    let yanked = yank.env("GITHUB_ACTOR", "octocat").output().unwrap();
    assert_ok(&yanked);
    assert!(text(&yanked).contains("undo with      cargo xtask yank demo 1.0.0 --undo"), "{}", text(&yanked));
    assert_eq!(fx.versions("demo"), ["1.1.0"], "the version is out of the index, the other stays");
    assert_eq!(fx.get("demo-1.0.0.tgz"), Some(package.clone()), "the package stays");
    assert_eq!(fx.get("demo-1.0.0.tgz.prov"), Some(prov.clone()), "its .prov stays");
    let log = fx.yanks();
    let record = log.active_yank("demo", "1.0.0").expect("yanked.json records the yank");
    assert_eq!(record.entry.as_ref(), Some(&entry), "the index entry as it was");
    assert_eq!(record.digest, xtask::layout::sha256_hex(&package));
    assert_eq!((record.reason.as_deref(), record.by.as_deref()), (Some("breaks upgrades"), Some("octocat")));
    fx.assert_page_follows_the_repository();
    fx.assert_index_names_only_stored_packages();
    assert_eq!(fx.invalidations(), invalidations.map(|n| n + 1), "the yank invalidates the CDN");
    if let Target::S3(s3) = &fx.target {
        let head = fx.runtime.block_on(s3.clients.s3.head_object().bucket(&s3.bucket).key("yanked.json").send());
        let head = head.unwrap();
        assert_eq!(
            (head.content_type(), head.cache_control()),
            (Some("application/json"), Some("public, max-age=300"))
        );
    }

    // Refusals, each writing nothing.
    let before = fx.writes();
    assert_fails_with(&fx.yank(&["demo", "1.0.0", "--reason", "again"]), &["already yanked", "--undo"]);
    assert_fails_with(&fx.yank(&["demo", "9.9.9", "--reason", "x"]), &["no version 9.9.9 of demo"]);
    assert_fails_with(&fx.yank(&["nope", "1.0.0", "--reason", "x"]), &["no chart nope"]);
    assert_fails_with(&fx.yank(&["demo", "1.1.0", "--undo"]), &["demo 1.1.0 is not yanked"]);
    // A yanked version is never published again, whatever its content, even with --force.
    let same = fx.chart("demo", "1.0.0", "one");
    assert_fails_with(&fx.release(&[&same], &[]), &["demo 1.0.0 is yanked", "cargo xtask yank demo 1.0.0 --undo"]);
    // (The same folder, now with other content.)
    let changed = fx.chart("demo", "1.0.0", "fixed");
    assert_fails_with(&fx.release(&[&changed], &["--force"]), &["not even with --force"]);
    assert_eq!(fx.writes(), before, "a refusal wrote something");

    // reindex rebuilds from every stored package, and keeps the yanked one out.
    let reindexed = fx.command("reindex", &[]).output().unwrap();
    assert_ok(&reindexed);
    assert!(text(&reindexed).contains("demo-1.0.0.tgz: demo 1.0.0: yanked at"), "{}", text(&reindexed));
    assert_eq!(fx.versions("demo"), ["1.1.0"]);

    // --undo puts back exactly the entry: the same digest, the same `created`.
    assert_ok(&fx.yank(&["demo", "1.0.0", "--undo"]));
    assert_eq!(fx.repo_index().get("demo", "1.0.0"), Some(&entry));
    assert_eq!(fx.versions("demo"), ["1.1.0", "1.0.0"]);
    let log = fx.yanks();
    assert_eq!(log.records.len(), 2, "append-only: the yank and its undo");
    assert!(log.active().is_empty());
    fx.assert_page_follows_the_repository();
    // Undone, it is published again like any other: an identical release writes nothing.
    let rerun = fx.release(&[&fx.chart("demo", "1.0.0", "one")], &[]);
    assert_ok(&rerun);
    assert!(text(&rerun).contains("nothing changed"), "{}", text(&rerun));
}

/// One yank started among several releases: every release lands, the yanked version is
/// out, and the record, the index and the page agree.
fn one_yank_races_several_releases(fx: &Fixture) {
    assert_ok(&fx.release(&[&fx.chart("demo", "1.0.0", "doomed")], &[]));
    let dirs: Vec<PathBuf> = (0..6).map(|i| fx.chart("demo", &format!("2.{i}.0"), "race")).collect();
    let spawn = |mut cmd: Command| cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut children = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        children.push(spawn(fx.command("release-chart", &["--chart", dir.to_str().unwrap(), "--no-wait"])));
        if i == 2 {
            children.push(spawn(fx.command("yank", &["demo", "1.0.0", "--reason", "raced", "--no-wait"])));
        }
    }
    for child in children {
        assert_ok(&child.wait_with_output().unwrap());
    }
    let expected: Vec<String> = (0..6).rev().map(|i| format!("2.{i}.0")).collect();
    assert_eq!(fx.versions("demo"), expected, "every release landed, the yanked version is out");
    assert!(fx.yanks().active_yank("demo", "1.0.0").is_some());
    assert!(fx.get("demo-1.0.0.tgz").is_some(), "the yanked package stays");
    fx.assert_index_names_only_stored_packages();
    fx.assert_page_follows_the_repository();
}

macro_rules! both_targets {
    ($($test:ident),* $(,)?) => {
        mod s3 { $( #[test] fn $test() { super::$test(&super::Fixture::s3()); } )* }
        mod local { $( #[test] fn $test() { super::$test(&super::Fixture::local()); } )* }
    };
}

both_targets![
    first_then_second_version,
    rerun_writes_nothing_and_changed_content_is_refused,
    sixteen_concurrent_releases,
    killed_between_package_and_index,
    corrupt_index_is_never_overwritten_and_reindex_repairs_it,
    dry_run_writes_nothing,
    version_drift_is_refused,
    several_charts_in_one_release,
    yank_takes_a_version_out_and_undo_puts_it_back,
    one_yank_races_several_releases,
];

/// The tests whose verdict rests on S3's conditional writes, with S3 on SeaweedFS
/// (`cargo xtask test -- seaweedfs` runs exactly these and the harness's own).
mod seaweedfs {
    use super::Fixture;

    #[test]
    fn sixteen_concurrent_releases() {
        super::sixteen_concurrent_releases(&Fixture::seaweedfs());
    }

    #[test]
    fn killed_between_package_and_index() {
        super::killed_between_package_and_index(&Fixture::seaweedfs());
    }

    #[test]
    fn corrupt_index_is_never_overwritten_and_reindex_repairs_it() {
        super::corrupt_index_is_never_overwritten_and_reindex_repairs_it(&Fixture::seaweedfs());
    }

    #[test]
    fn one_yank_races_several_releases() {
        super::one_yank_races_several_releases(&Fixture::seaweedfs());
    }
}

// ---------------------------------------------------------------- S3 + CloudFront only

fn s3(fx: &Fixture) -> &S3Target {
    match &fx.target {
        Target::S3(s3) => s3,
        Target::Local { .. } => unreachable!(),
    }
}

#[test]
fn s3_objects_carry_the_production_headers_and_cloudfront_is_invalidated() {
    let fx = Fixture::s3();
    let v1 = fx.chart("demo", "1.0.0", "one");
    assert_ok(&fx.release(&[&v1], &[]));
    let s3 = s3(&fx);
    fx.runtime.block_on(async {
        let package = s3.clients.s3.head_object().bucket(&s3.bucket).key("demo-1.0.0.tgz").send().await.unwrap();
        assert_eq!(package.content_type(), Some("application/gzip"));
        assert_eq!(package.cache_control(), Some("public, max-age=31536000, immutable"));
        let index = s3.clients.s3.head_object().bucket(&s3.bucket).key("index.yaml").send().await.unwrap();
        assert_eq!(index.content_type(), Some("application/x-yaml"));
        assert_eq!(index.cache_control(), Some("public, max-age=300"));
        // `serve` answers it the same way (tests/verify.rs).
        let metadata = s3.clients.s3.head_object().bucket(&s3.bucket).key("artifacthub-repo.yml").send().await.unwrap();
        assert_eq!(metadata.content_type(), Some("application/x-yaml"));
        assert_eq!(metadata.cache_control(), Some("public, max-age=300"));

        let id = s3.distribution_id.as_deref().unwrap();
        let list = s3.clients.cloudfront.list_invalidations().distribution_id(id).send().await.unwrap();
        let items = list.invalidation_list().unwrap().items();
        assert_eq!(items.len(), 1, "one invalidation per release");
        let invalidation =
            s3.clients.cloudfront.get_invalidation().distribution_id(id).id(items[0].id()).send().await.unwrap();
        let paths = invalidation.invalidation().unwrap().invalidation_batch().unwrap().paths().unwrap().items();
        assert_eq!(paths, ["/*"]);
    });
    // An identical re-run invalidates nothing.
    assert_ok(&fx.release(&[&v1], &[]));
    fx.runtime.block_on(async {
        let id = s3.distribution_id.as_deref().unwrap();
        let list = s3.clients.cloudfront.list_invalidations().distribution_id(id).send().await.unwrap();
        assert_eq!(list.invalidation_list().unwrap().items().len(), 1);
    });
}

/// A signed release to S3: the `.prov` is stored after its package and before the index,
/// create-only and immutable, verifies with the published keyring, and the summary names
/// the key; a re-run writes nothing (no second signature).
#[test]
fn signed_release_on_s3_stores_the_prov_between_package_and_index() {
    let fx = Fixture::s3();
    let v1 = fx.chart("demo", "1.0.0", "one");
    let key = xtask_dev::harness::generate_rsa_key("s3 test <s3@kube9.invalid>", None).unwrap();
    let key_file = fx.work.path().join("signing.asc");
    std::fs::write(&key_file, &key.armored_secret).unwrap();
    let summary_file = fx.work.path().join("summary.md");
    let mut command =
        fx.command("release-chart", &["--chart", v1.to_str().unwrap(), "--sign-key", key_file.to_str().unwrap()]);
    let output = command.env("GITHUB_STEP_SUMMARY", &summary_file).output().unwrap();
    assert_ok(&output);
    let out = text(&output);
    let position = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("no {needle:?} in:\n{out}"));
    assert!(position("demo-1.0.0.tgz: uploaded") < position("demo-1.0.0.tgz.prov: signed, uploaded"));
    assert!(position("demo-1.0.0.tgz.prov: signed, uploaded") < position("index.yaml: written"));
    assert!(out.contains(&format!("signing key    {}", key.fingerprint)), "{out}");
    let summary = std::fs::read_to_string(&summary_file).unwrap();
    assert!(summary.contains(&format!("Signed (Helm provenance) with key `{}`", key.fingerprint)), "{summary}");

    let s3 = s3(&fx);
    fx.runtime.block_on(async {
        let head = |key: &'static str| s3.clients.s3.head_object().bucket(&s3.bucket).key(key).send();
        let prov = head("demo-1.0.0.tgz.prov").await.unwrap();
        assert_eq!(prov.content_type(), Some("text/plain; charset=utf-8"));
        assert_eq!(prov.cache_control(), Some("public, max-age=31536000, immutable"));
        assert_eq!(head("pubkey.asc").await.unwrap().content_type(), Some("application/pgp-keys"));
        assert_eq!(head("pubkey.gpg").await.unwrap().cache_control(), Some("public, max-age=300"));
    });
    let keyring = xtask::provenance::Keyring::parse(&fx.get("pubkey.gpg").unwrap()).unwrap();
    let verified =
        keyring.verify(&fx.get("demo-1.0.0.tgz.prov").unwrap(), "demo-1.0.0.tgz", &fx.get("demo-1.0.0.tgz").unwrap());
    assert_eq!(verified.unwrap().signer, key.fingerprint);

    let before = fx.writes();
    assert_ok(&fx.release(&[&v1], &["--sign-key", key_file.to_str().unwrap()]));
    assert_eq!(fx.writes(), before, "a re-run neither signs again nor rewrites anything");
}

/// After the invalidation, release-chart checks what it published as an anonymous user
/// through the public URL. Pointed at the private bucket itself (not the CDN), an
/// anonymous client is refused, so the check must run, fail loudly and name the failed
/// check and the cause, while the release itself stays published.
#[test]
fn release_verifies_what_it_published_as_users_see_it() {
    let fx = Fixture::s3();
    let v1 = fx.chart("demo", "1.0.0", "one");
    let s3 = s3(&fx);
    let public = format!("{}/{}", s3.moto.endpoint, s3.bucket);
    let output =
        fx.command("release-chart", &["--chart", v1.to_str().unwrap(), "--verify-url", &public]).output().unwrap();
    assert_fails_with(
        &output,
        &["demo 1.0.0 is published, but the public repository does not serve it correctly", "index-download", "403"],
    );
    assert!(text(&output).contains(&format!("verifying demo 1.0.0 at {public}")), "{}", text(&output));
    assert_eq!(fx.versions("demo"), ["1.0.0"], "the release stays published");
    fx.assert_index_names_only_stored_packages();
}

#[test]
fn missing_bucket_is_an_error_naming_deploy_infra() {
    let fx = Fixture::s3_with(false, true, true);
    let v1 = fx.chart("demo", "1.0.0", "one");
    assert_fails_with(&fx.release(&[&v1], &[]), &["does not exist", "cargo xtask deploy-infra"]);
}

#[test]
fn missing_or_foreign_distribution_is_an_error_and_nothing_is_written() {
    let fx = Fixture::s3_with(true, false, true);
    let v1 = fx.chart("demo", "1.0.0", "one");
    assert_fails_with(&fx.release(&[&v1], &[]), &["no CloudFront distribution", DOMAIN, "cargo xtask deploy-infra"]);
    assert!(fx.writes().is_empty());

    let foreign = Fixture::s3_with(true, true, false);
    let v1 = foreign.chart("demo", "1.0.0", "one");
    assert_fails_with(&foreign.release(&[&v1], &[]), &["ownership tags", "managed-by=cargo-xtask"]);
    assert!(foreign.writes().is_empty());
}

#[test]
fn no_credentials_is_a_clear_error() {
    let fx = Fixture::s3();
    let v1 = fx.chart("demo", "1.0.0", "one");
    let mut cmd = fx.command("release-chart", &["--chart", v1.to_str().unwrap()]);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_CONFIG_FILE", "/dev/null").env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    // No instance metadata service here: keep the SDK from waiting on it.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    assert_fails_with(&cmd.output().unwrap(), &["no AWS credentials", "--local"]);
    assert!(fx.writes().is_empty());
}

#[test]
fn no_credential_value_in_any_output_even_with_trace_logging() {
    let fx = Fixture::s3();
    // A successful release, then a refused one (same version, other content): both paths log.
    for (note, should_pass) in [("one", true), ("changed", false)] {
        let chart = fx.chart("demo", "1.0.0", note);
        let mut cmd = fx.command("release-chart", &["-vv", "--chart", chart.to_str().unwrap()]);
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", SECRET).env("RUST_LOG", "trace");
        cmd.env("AWS_SESSION_TOKEN", format!("{SECRET}-session"));
        let out = cmd.output().unwrap();
        assert_eq!(out.status.success(), should_pass, "{}", text(&out));
        let all = text(&out);
        assert!(all.len() > 1000, "trace logging produced almost nothing");
        assert!(!all.contains(SECRET), "secret access key or session token printed");
        assert!(!all.contains(ACCESS_KEY), "access key id printed");
    }
}

#[test]
fn local_quick_start_needs_no_config_and_no_aws() {
    let fx = Fixture::local();
    let v1 = fx.chart("demo", "1.0.0", "one");
    let out = fx
        .command("release-chart", &["--chart", v1.to_str().unwrap(), "--url", "http://localhost:9999/"])
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .current_dir(fx.work.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let index = fx.index();
    assert_eq!(index["entries"]["demo"][0]["urls"][0].as_str().unwrap(), "http://localhost:9999/demo-1.0.0.tgz");
    let keys = fx.keys();
    assert_eq!(
        keys,
        ["artifacthub-repo.yml", "demo-1.0.0.tgz", "index.html", "index.yaml"],
        "nothing but the Artifact Hub metadata, the package, the landing page and the index"
    );
}

/// A yank killed after its record and before its index write (the proxy holds the index
/// PUT): the record is there, the index still lists the version, and running the same
/// command again completes it without a second record.
#[test]
fn a_yank_killed_between_its_record_and_the_index_is_completed_by_running_it_again() {
    let fx = Fixture::s3();
    assert_ok(&fx.release(&[&fx.chart("demo", "1.0.0", "one")], &[]));
    let s3 = s3(&fx);
    let proxy = fx.runtime.block_on(Proxy::start(&s3.moto.endpoint)).unwrap();
    proxy.hold(Method::PUT, "/index.yaml");
    let mut cmd = fx.command("yank", &["demo", "1.0.0", "--reason", "broken", "--no-wait"]);
    cmd.env("AWS_ENDPOINT_URL_S3", &proxy.endpoint).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let arrived = fx.runtime.block_on(async { tokio::time::timeout(Duration::from_secs(120), proxy.held()).await });
    if arrived.is_err() {
        let _ = child.kill();
        panic!("the yank never reached the index write: {:?}", child.wait());
    }
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(fx.yanks().active_yank("demo", "1.0.0").is_some(), "the record is written before the index");
    assert_eq!(fx.versions("demo"), ["1.0.0"], "the index is not written yet");
    let completed = fx.yank(&["demo", "1.0.0", "--reason", "broken"]);
    assert_ok(&completed);
    assert!(text(&completed).contains("already recorded by an interrupted run"), "{}", text(&completed));
    assert!(fx.versions("demo").is_empty());
    assert_eq!(fx.yanks().records.len(), 1, "no second record");
    fx.assert_page_follows_the_repository();
}
