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

/// Create or converge the S3 bucket, Origin Access Control, ACM certificate, CloudFront
/// distribution, bucket policy and Route53 records behind the repository URL.
///
/// A read-only preflight runs first (credentials, hosted zone, certificate, ownership of
/// the bucket name and the alias); then the plan is printed and applied. Resources that
/// carry the config's ownership tags are adopted and corrected; anything else with our
/// bucket name or alias stops the run before the first write. A failure after the first
/// write deletes what this run created, so a run never leaves a half-built stack behind.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
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

const AFTER_HELP: &str =
    "Create or converge the S3 bucket, Origin Access Control, ACM certificate, CloudFront distribution, bucket \
policy and Route53 records behind the repository URL.

A read-only preflight runs first (credentials, hosted zone, certificate, ownership of the bucket name and the \
alias); then the plan is printed (create / update / keep, with every setting that differs) and applied. Resources \
carrying the config's ownership tags are adopted and corrected; anything else with our bucket name or alias stops \
the run before the first write. A failure (or Ctrl-C) after the first write deletes what this run created, newest \
first; a re-run converges. A run stopped by Ctrl-C exits with 130 once its rollback is done (a second Ctrl-C \
abandons the rollback and names what remains). On a deployed stack a run prints \"no changes\" and writes nothing.

Examples:
  cargo xtask deploy-infra --dry-run
  cargo xtask deploy-infra
  cargo xtask deploy-infra --output json --wait-timeout 3600";

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let config = ctx.config()?;
        let clients = Clients::from_config(&config).await;
        let desired = Desired::new(config);
        let actual = Actual::discover(&clients, &desired).await?;
        let plan = Plan::build(&desired, &actual);
        let text = self.output == Output::Text;
        if text {
            crate::outln!("{}", plan.render().trim_end());
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
                Outcome::NoChanges { summary } => crate::outln!("\n{}", summary.render().trim_end()),
                Outcome::Applied { summary } => crate::outln!("\ndeployed\n{}", summary.render().trim_end()),
            }
        } else {
            let document = serde_json::json!({ "plan": plan, "dry_run": self.dry_run, "result": outcome });
            crate::outln!("{}", serde_json::to_string_pretty(&document)?);
        }
        Ok(())
    }
}
