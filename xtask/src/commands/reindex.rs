use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rebuild a local repository folder instead of the bucket
    #[arg(long, value_name = "DIR")]
    pub local: Option<std::path::PathBuf>,
    /// Print what would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("reindex"))
    }
}
