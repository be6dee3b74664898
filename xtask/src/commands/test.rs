use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Extra arguments passed to `cargo test` (after --)
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("test"))
    }
}
