//! `cargo xtask` (the alias in `.cargo/config.toml` runs this binary): every shipped
//! command plus `test` and the benchmarks.

#![expect(
    unused_crate_dependencies,
    reason = "the binary links every dependency of its package; the library uses them"
)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = xtask_dev::cli::Cli::parse();
    let command = cli.command;
    xtask::entry::run(cli.global, |ctx| async move { command.run(&ctx).await })
}
