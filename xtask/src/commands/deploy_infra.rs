//! `cargo xtask deploy-infra`: converge the chart repository's AWS stack.

use std::time::Duration;

use anyhow::Result;

use crate::aws::Clients;
use crate::ctx::Ctx;
use crate::infra::{Actual, Desired, Outcome, Plan, apply};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// The plan and a summary, for people
    Text,
    /// One JSON document on stdout (plan, outcome, summary), for machines
    Json,
}

/// `cargo xtask deploy-infra` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the plan and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Longest time, in seconds, for each wait (certificate ISSUED, distribution Deployed, DNS INSYNC)
    #[arg(long, value_name = "SECONDS", default_value_t = 2400)]
    pub wait_timeout: u64,
}

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Create or converge the AWS stack behind the repository URL:\n\n\
- the S3 bucket (all four Block Public Access flags, SSE-S3, versioning, BucketOwnerEnforced);\n\
- the CloudFront Origin Access Control;\n\
- the ACM certificate (requested and validated through Route53 when `certificate_arn` is empty);\n\
- the CloudFront distribution (alias, TLSv1.2_2021, redirect-to-https, GET/HEAD, managed CachingOptimized and \
SecurityHeaders policies, compression, HTTP/2 and 3, IPv6, default root object index.html);\n\
- the bucket policy (this distribution only, TLS only);\n\
- the Route53 A/AAAA alias records.\n\n\
A read-only preflight runs first (credentials, public hosted zone, certificate, bucket name and alias free or \
ours). Then the plan (create / update / keep, with every setting that differs) is printed before anything is \
written; --dry-run stops there. Resources carrying the config's ownership tags are adopted and corrected; a \
bucket, distribution or record with our name or alias but without our tags stops the run before the first \
write. A failure (or Ctrl-C) after the first write deletes what this run created, newest first; a re-run \
converges. A run stopped by Ctrl-C exits with 130 once its rollback is done (a second Ctrl-C abandons the \
rollback and names what remains). On a deployed stack it prints \"no changes\" and writes nothing; drift is shown \
and put back.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask deploy-infra --dry-run\
\n  deploy-infra plan for https://charts.kube9.io (AWS account 123456789012):\
\n    ~ update s3 bucket kube9-charts\
\n          block_public_acls: false → true\
\n    = keep cloudfront origin access control kube9-charts (E2OAC…)\
\n    ~ update cloudfront distribution E1ABC… (charts.kube9.io)\
\n          viewer_protocol_policy: allow-all → redirect-to-https\
\n    = keep route53 records charts.kube9.io (A, AAAA)\
\n  0 to create, 2 to update, 4 unchanged\
\n  dry run: nothing was changed\
\n  $ cargo xtask deploy-infra\
\n  $ cargo xtask deploy-infra --output json --wait-timeout 3600";

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let config = ctx.config()?;
        let clients = Clients::from_config(&config).await;
        let desired = Desired::new(config);
        let actual = Actual::discover(&clients, &desired).await?;
        let plan = Plan::build(&desired, &actual);
        let text = self.output == Output::Text;
        if text {
            crate::out!("{}", plan.render());
        }
        let outcome = if self.dry_run {
            Outcome::DryRun { summary: apply::summary_of(&desired, &actual) }
        } else if plan.is_empty() {
            Outcome::NoChanges { summary: apply::summary_of(&desired, &actual) }
        } else {
            let summary =
                apply::apply(&clients, &desired, &actual, &plan, Duration::from_secs(self.wait_timeout)).await?;
            Outcome::Applied { summary }
        };
        if text {
            match &outcome {
                Outcome::DryRun { .. } => crate::outln!("dry run: nothing was changed"),
                Outcome::NoChanges { summary } => crate::out!("\n{}", summary.render()),
                Outcome::Applied { summary } => crate::out!("\ndeployed\n{}", summary.render()),
            }
        } else {
            let document = serde_json::json!({ "plan": plan, "dry_run": self.dry_run, "result": outcome });
            crate::outln!("{}", serde_json::to_string_pretty(&document)?);
        }
        Ok(())
    }
}
