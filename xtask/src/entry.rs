//! The one `main` of both binaries (`xtask` and the development `xtask-dev`): logging,
//! the async runtime, the one place an error is printed, and the exit code.

use std::future::Future;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::ctx::Ctx;

/// Run `command` with the context built from `global` and exit with the code it returns;
/// an error is reported once (with its context chain) and exits with 1, or with 130 when
/// Ctrl-C stopped the command ([`crate::interrupt::Interrupted`]).
pub fn run<F, Fut>(global: GlobalArgs, command: F) -> ExitCode
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<ExitCode>>,
{
    crate::logging::init(global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            crate::logging::report_error(&anyhow::Error::new(err).context("cannot start the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move { command(Ctx::new(global.config)?).await });
    match result {
        Ok(code) => code,
        Err(err) => {
            crate::logging::report_error(&err);
            if crate::interrupt::caused(&err) { ExitCode::from(crate::interrupt::EXIT_CODE) } else { ExitCode::FAILURE }
        }
    }
}
