//! The trust policies of the three CI roles (`cargo xtask iam-policy --trust`): GitHub's
//! OIDC provider may assume a role only with `aud = sts.amazonaws.com` and the exact
//! `sub` GitHub puts in the job's token. A job with `environment: NAME` gets
//! `repo:OWNER/REPO:environment:NAME`; a pull-request job without one gets
//! `repo:OWNER/REPO:pull_request`. The environment names are read from the workflows
//! themselves, so the trust policies cannot drift from them.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The repository whose workflows assume the roles.
pub const GITHUB_REPOSITORY: &str = "kube9/kube9-operator";
const OIDC_PROVIDER: &str = "token.actions.githubusercontent.com";

/// (role, workflow file, job) of each role that runs in an environment.
pub const ENVIRONMENT_JOBS: &[(&str, &str, &str)] =
    &[("release", "release-chart.yml", "publish"), ("deploy", "deploy-infra.yml", "apply")];

/// `jobs.JOB.environment` of a workflow (the plain-string or `name:` form).
pub fn job_environment(workflows: &Path, file: &str, job: &str) -> Result<String> {
    let path = workflows.join(file);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))?;
    let environment = &doc["jobs"][job]["environment"];
    environment.as_str().or_else(|| environment["name"].as_str()).map(str::to_string).with_context(|| {
        format!("{}: job `{job}` has no `environment:`; the {job} role trusts only one", path.display())
    })
}

/// The OIDC `sub` of each role: `[(role, sub)]` for release, deploy and plan.
pub fn subjects(workflows: &Path, repository: &str) -> Result<Vec<(&'static str, String)>> {
    let mut subjects = Vec::new();
    for (role, file, job) in ENVIRONMENT_JOBS {
        let environment = job_environment(workflows, file, job)?;
        subjects.push((*role, format!("repo:{repository}:environment:{environment}")));
    }
    subjects.push(("plan", format!("repo:{repository}:pull_request")));
    Ok(subjects)
}

/// One trust policy: GitHub's OIDC provider in `account`, this audience, this subject.
pub fn trust_policy(account: &str, sub: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": { "Federated": format!("arn:aws:iam::{account}:oidc-provider/{OIDC_PROVIDER}") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{OIDC_PROVIDER}:aud"): "sts.amazonaws.com",
                    format!("{OIDC_PROVIDER}:sub"): sub
                }
            }
        }]
    })
}
