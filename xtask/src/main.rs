//! `cargo xtask`: release tooling for the kube9 chart repository.
//!
//! `main` is the only place that prints an error and picks the exit code; everything
//! below returns `anyhow::Result` with context that names the step and the cause.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = xtask::cli::Cli::parse();
    xtask::logging::init(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            xtask::logging::report_error(&err);
            // `cargo xtask test` exits with cargo test's own code.
            match err.downcast_ref::<xtask::commands::test::TestsFailed>() {
                Some(failed) => ExitCode::from(u8::try_from(failed.code).unwrap_or(1)),
                None => ExitCode::FAILURE,
            }
        }
    }
}
