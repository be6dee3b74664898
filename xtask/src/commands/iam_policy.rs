//! `cargo xtask iam-policy`: least-privilege IAM policies for the three CI roles.

use anyhow::Result;

use crate::cli::Ctx;
use crate::infra::policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// What `deploy-infra` needs (create, converge, roll back the stack)
    Deploy,
    /// What `deploy-infra --dry-run` needs (reads only: the pull-request plan job)
    Plan,
    /// What `release-chart` needs (objects in the bucket, invalidations)
    Release,
    /// All three, as `{"deploy": …, "plan": …, "release": …}`
    All,
}

/// Print the IAM policy documents (JSON) for the deploy, plan and release roles,
/// generated from the repository config (bucket name, region, ownership tags).
///
/// CloudFront actions on distributions are limited to resources carrying the ownership
/// tags; Route53 changes to the repository's own record names.
#[derive(Debug, clap::Args)]
#[command(after_help = "Print least-privilege IAM policy documents (JSON) for the deploy role (deploy-infra), \
the plan role (deploy-infra --dry-run: reads only) and the release role (release-chart), generated from the \
repository config: bucket, region, domain and ownership tags. Distribution writes are limited to resources \
carrying the ownership tags; Route53 changes to the repository's own record names.

Examples:
  cargo xtask iam-policy --role release > release-policy.json
  cargo xtask iam-policy")]
pub struct Args {
    /// Which role's policy to print
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub role: Role,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let config = ctx.config()?;
        let document = match self.role {
            Role::Deploy => policy::deploy_role(&config),
            Role::Plan => policy::plan_role(&config),
            Role::Release => policy::release_role(&config),
            Role::All => serde_json::json!({
                "deploy": policy::deploy_role(&config),
                "plan": policy::plan_role(&config),
                "release": policy::release_role(&config),
            }),
        };
        println!("{}", serde_json::to_string_pretty(&document)?);
        Ok(())
    }
}
