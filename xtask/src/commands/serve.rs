use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repository folder to serve [default: dist/repo]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8879")]
    pub addr: std::net::SocketAddr,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("serve"))
    }
}
