use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {}

impl CheckArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("check-version"))
    }
}

impl SyncArgs {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("sync-version"))
    }
}
