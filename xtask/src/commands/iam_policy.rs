//! `cargo xtask iam-policy`: least-privilege IAM policies for the three CI roles, and
//! (`--trust`) their GitHub OIDC trust policies.

use anyhow::Result;

use crate::ctx::Ctx;
use crate::infra::{policy, trust};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// What `deploy-infra` needs (create, converge, roll back the stack)
    Deploy,
    /// What `deploy-infra --dry-run` needs (reads only: the pull-request plan job)
    Plan,
    /// What `release-chart`, `reindex` and `yank` need (objects in the bucket, invalidations)
    Release,
    /// All three, as `{"deploy": …, "plan": …, "release": …}`
    All,
}

/// Print the IAM policy documents (JSON) for the deploy, plan and release roles,
/// generated from the repository config (bucket name, region, ownership tags).
///
/// CloudFront actions on distributions are limited to resources carrying the ownership
/// tags; Route53 changes to the repository's own record names.
/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Print least-privilege IAM policy documents (JSON) for the deploy, plan and release \
roles, built offline from the repository config (bucket, region, domain and ownership tags):\n\n\
- deploy: deploy-infra, rollback deletes included;\n\
- plan: deploy-infra --dry-run, reads only;\n\
- release: release-chart, reindex and yank: objects in the bucket, never a delete; invalidations of our \
distribution; discovery reads.\n\n\
Actions without a resource type (the List calls, CreateOriginAccessControl, CreateDistribution, \
RequestCertificate) use `\"Resource\": \"*\"`. Distribution and certificate updates, deletes and invalidations \
need our ownership tags on the resource (`aws:ResourceTag`); creates and tagging need exactly our tags in the \
request (`aws:RequestTag`, `aws:TagKeys`) and tag only resources with none of our tag keys yet. Certificates only \
for `domain`, with DNS validation; Route53 changes only A/AAAA/CNAME records named `domain` or `_….domain`, by \
UPSERT or DELETE.\n\n\
With --trust, print the roles' trust policies instead: GitHub's OIDC provider, `aud` sts.amazonaws.com and the \
exact `sub` of the job that assumes each role (repo:OWNER/REPO:environment:NAME for the release and apply jobs, \
read from the workflows' environments; repo:OWNER/REPO:pull_request for the plan job).";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask iam-policy --role release > release-policy.json\
\n  $ cargo xtask iam-policy --trust --account 123456789012\
\n  $ cargo xtask iam-policy --trust --role deploy --account 123456789012\
\n  $ cargo xtask iam-policy";

/// `cargo xtask iam-policy` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which role's policy to print
    #[arg(long, value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// Print the roles' trust policies instead (GitHub OIDC: aud sts.amazonaws.com, the
    /// exact `sub` of the job that assumes each role, from the workflows' environments)
    #[arg(long)]
    pub trust: bool,
    /// AWS account id put into the OIDC provider ARN of the trust policies
    #[arg(long, default_value = "ACCOUNT_ID")]
    pub account: String,
    /// GitHub repository (OWNER/REPO) whose workflows assume the roles
    #[arg(long, default_value = crate::infra::trust::GITHUB_REPOSITORY)]
    pub repository: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if self.trust {
            let workflows = crate::project::project_root().join(".github").join("workflows");
            let mut all = serde_json::Map::new();
            for (role, sub) in trust::subjects(&workflows, &self.repository)? {
                all.insert(role.to_string(), trust::trust_policy(&self.account, &sub));
            }
            let document = match self.role {
                Role::All => serde_json::Value::Object(all),
                Role::Deploy => all["deploy"].clone(),
                Role::Plan => all["plan"].clone(),
                Role::Release => all["release"].clone(),
            };
            crate::outln!("{}", serde_json::to_string_pretty(&document)?);
            return Ok(());
        }
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
        crate::outln!("{}", serde_json::to_string_pretty(&document)?);
        Ok(())
    }
}
