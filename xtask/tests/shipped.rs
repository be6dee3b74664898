//! The shipped `xtask` binary (what `cargo build --release -p xtask` makes) carries none
//! of the test and benchmark machinery of `xtask-dev`, and no test hook; and it takes a
//! closed pipe as Unix tools do.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use xtask_dev::harness::{ENV_HELM3, ENV_MOTO_SERVER, ENV_TOOLS_DIR, HELM3, MOTO_REQUIREMENT};

mod support;

fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

#[test]
fn shipped_binary_has_no_harness_benchmarks_or_test_hooks() {
    let path = env!("CARGO_BIN_EXE_xtask");
    let binary = std::fs::read(path).unwrap_or_else(|err| panic!("reading {path}: {err}"));
    // The search works: the binary's own commands are found.
    for present in ["release-chart", "deploy-infra", "charts.kube9.io"] {
        assert!(contains(&binary, present), "{path} lacks {present:?}: the search is broken");
    }
    let harness = [
        "lambda-layer-kubectl",
        HELM3.package,
        "from moto.server import",
        MOTO_REQUIREMENT,
        ENV_MOTO_SERVER,
        ENV_HELM3,
        ENV_TOOLS_DIR,
        "bench-release",
        "KUBE9_TEST_PAUSE_BEFORE_INDEX",
    ];
    let found: Vec<&str> = harness.into_iter().filter(|needle| contains(&binary, needle)).collect();
    assert!(found.is_empty(), "{path} contains test or benchmark machinery: {found:?}");
}

/// A reader that went away (`cargo xtask iam-policy | head`) ends the output quietly:
/// no panic, the command's own exit code.
#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().expect("creating a pipe");
    // Closed before the binary writes a byte, so its first write fails with EPIPE.
    drop(reader);
    let output =
        support::xtask().args(["iam-policy", "--trust"]).stdout(writer).output().expect("running the xtask binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "iam-policy panicked on a closed pipe:\n{stderr}");
    assert!(output.status.success(), "iam-policy failed on a closed pipe ({}):\n{stderr}", output.status);
}
