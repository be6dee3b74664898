use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chart directory to publish (repeatable) [default: charts/kube9-operator]
    #[arg(long, value_name = "DIR")]
    pub chart: Vec<std::path::PathBuf>,
    /// Publish into a plain folder instead of S3 (no AWS needed)
    #[arg(long, value_name = "DIR")]
    pub local: Option<std::path::PathBuf>,
    /// Repository URL written into the index with --local
    #[arg(long, value_name = "URL", requires = "local")]
    pub url: Option<String>,
    /// Print every step and object it would write, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not wait for the CloudFront invalidation to complete
    #[arg(long)]
    pub no_wait: bool,
    /// Replace a version that is already published with different content
    #[arg(long)]
    pub force: bool,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("release-chart"))
    }
}
