//! `cargo xtask`'s shipped binary: release tooling for the kube9 chart repository.
//!
//! [`xtask::entry::run`] is the only place that prints an error and picks the exit code;
//! everything below returns `anyhow::Result` with context that names the step and the cause.

#![expect(
    unused_crate_dependencies,
    reason = "the binary links every dependency of its package; the library uses them"
)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = <xtask::cli::Cli>::parse();
    let command = cli.command;
    xtask::entry::run(cli.global, |ctx| async move { command.run(&ctx).await.map(|()| ExitCode::SUCCESS) })
}
