use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("bench-index"))
    }
}
