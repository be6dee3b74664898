//! What every integration test needs to drive the real `xtask` binary: one way to start it
//! with a clean environment, and one way to read and assert on what it said.
//!
//! Each file in `xtask/tests/` is its own crate and uses some of these helpers, so the
//! ones a given file leaves unused would be dead code there.
#![allow(dead_code, reason = "each test crate uses a different subset of the shared helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Variables of the developer's (or CI's) environment that would change what the binary
/// does or prints: log filter, GitHub Actions output and actor, signing key, TLS trust settings.
const CLEARED: [&str; 8] = [
    "RUST_LOG",
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_STEP_SUMMARY",
    "KUBE9_SIGNING_KEY",
    "KUBE9_SIGNING_PASSPHRASE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The real binary, without the variables in [`CLEARED`], without colour and with no stdin;
/// a test sets what it needs on top.
pub fn xtask() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for name in CLEARED {
        command.env_remove(name);
    }
    command.env("NO_COLOR", "1").stdin(Stdio::null());
    command
}

/// [`xtask`] with `args`, run to completion.
pub fn run(args: &[&str]) -> Output {
    output(xtask().args(args))
}

/// `command` run to completion.
pub fn output(command: &mut Command) -> Output {
    command.output().expect("running the xtask binary")
}

/// `bytes` as text, invalid UTF-8 replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stdout then stderr, for assertion messages and searches over everything printed.
pub fn text(output: &Output) -> String {
    format!("{}\n{}", lossy(&output.stdout), lossy(&output.stderr))
}

/// The command succeeded; otherwise fail with everything it printed.
#[track_caller]
pub fn assert_ok(output: &Output) {
    assert!(output.status.success(), "command failed ({}):\n{}", output.status, text(output));
}

/// The command succeeded; its stdout (`what` names it in the failure message).
#[track_caller]
pub fn ok(output: Output, what: &str) -> String {
    assert!(output.status.success(), "{what} failed ({}):\n{}", output.status, text(&output));
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// The command failed; its stderr.
#[track_caller]
pub fn fails(output: Output) -> String {
    assert!(!output.status.success(), "command succeeded but should fail:\n{}", text(&output));
    String::from_utf8(output.stderr).expect("stderr is UTF-8")
}

/// The command failed and its stderr contains every one of `needles`.
#[track_caller]
pub fn assert_fails_with(output: &Output, needles: &[&str]) {
    assert!(!output.status.success(), "command succeeded but should fail:\n{}", text(output));
    let stderr = lossy(&output.stderr);
    for needle in needles {
        assert!(stderr.contains(needle), "error lacks {needle:?}:\n{}", text(output));
    }
}

/// The operator crate's version (what the operator chart must carry).
pub fn operator_version() -> String {
    xtask::versioning::manifest::operator_version().expect("the operator crate's version")
}

/// A copy of the operator chart named `name` at `version`, in `parent/NAME-VERSION` (a
/// chart that is not the operator chart's folder: any version is accepted unless the name
/// is the operator's own, which `release-chart` holds to the crate's version).
pub fn chart_at(parent: &Path, name: &str, version: &str) -> PathBuf {
    let dir = parent.join(format!("{name}-{version}"));
    xtask_dev::harness::copy_tree(&xtask::project::operator_chart_dir(), &dir).unwrap();
    let chart_yaml = std::fs::read_to_string(dir.join("Chart.yaml")).unwrap();
    let rewritten: Vec<String> = chart_yaml
        .lines()
        .map(|line| match line {
            l if l.starts_with("version:") => format!("version: {version}"),
            l if l.starts_with("appVersion:") => format!("appVersion: \"{version}\""),
            l if l.starts_with("name:") => format!("name: {name}"),
            l => l.to_string(),
        })
        .collect();
    std::fs::write(dir.join("Chart.yaml"), rewritten.join("\n") + "\n").unwrap();
    dir
}

/// A scratch folder (`work`) with `work/repo/` served on a free loopback port by `serve`'s
/// server, and the runtime the server runs on (a test may run other async work on it).
/// Dropping it stops the server, finishing the requests in flight.
pub struct Served {
    pub work: tempfile::TempDir,
    pub repo: PathBuf,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub rt: tokio::runtime::Runtime,
    server: Option<xtask::verify::server::RepoServer>,
}

impl Served {
    pub fn new() -> Served {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let work = tempfile::tempdir().unwrap();
        let repo = work.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let policy = xtask::config::CachePolicy::default();
        let server = rt
            .block_on(xtask::verify::server::RepoServer::start(&repo, "127.0.0.1:0".parse().unwrap(), policy))
            .unwrap();
        let url = server.url();
        Served { work, repo, url, rt, server: Some(server) }
    }

    /// A file of the served repository.
    pub fn path(&self, name: &str) -> PathBuf {
        self.repo.join(name)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.rt.block_on(server.stop());
        }
    }
}

/// The check `name` of a `verify-repo --output json` report: its status and the whole
/// check as text (for assertions on its summary and evidence).
#[track_caller]
pub fn check(report: &serde_json::Value, name: &str) -> (String, String) {
    let checks = report["checks"].as_array().expect("a report has checks");
    let check = checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name:?}: {report}"));
    (check["status"].as_str().unwrap().to_string(), check.to_string())
}
