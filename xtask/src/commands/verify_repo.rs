use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repository URL [default: https://{domain} from the config]
    #[arg(long)]
    pub url: Option<String>,
    /// Allow a plain http:// URL (local testing)
    #[arg(long)]
    pub allow_http: bool,
    /// Output format
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub output: String,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("verify-repo"))
    }
}
