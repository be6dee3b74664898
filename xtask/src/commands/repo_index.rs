use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding the .tgz packages; index.yaml is written here
    pub dir: std::path::PathBuf,
    /// Base URL of the repository (package URLs become URL/NAME-VERSION.tgz)
    #[arg(long)]
    pub url: Option<String>,
    /// Merge into this existing index
    #[arg(long, value_name = "FILE")]
    pub merge: Option<std::path::PathBuf>,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("repo-index"))
    }
}
