use anyhow::Result;

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chart directory [default: charts/kube9-operator]
    #[arg(long, value_name = "DIR")]
    pub chart: Option<std::path::PathBuf>,
    /// Where to write NAME-VERSION.tgz [default: current directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        Err(super::not_built("package-chart"))
    }
}
