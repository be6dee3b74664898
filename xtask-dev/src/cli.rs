//! The development command line: every command of the shipped `xtask` (flattened, the
//! same definitions) plus `test`, the benchmarks and `docs`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Subcommand};
use xtask::ctx::Ctx;

use crate::commands;

/// The shipped command line (the same name, help and global options) over [`Command`].
pub type Cli = xtask::cli::Cli<Command>;

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Shipped(xtask::cli::Command),
    /// Provision the test tools (moto, Helm 3, Helm 4, actionlint) and run the whole test suite
    #[command(long_about = commands::test::LONG_ABOUT, after_long_help = commands::test::EXAMPLES)]
    Test(commands::test::Args),
    /// Benchmark `repo-index --merge` against `helm repo index --merge`
    #[command(long_about = commands::bench_index::LONG_ABOUT, after_long_help = commands::bench_index::EXAMPLES)]
    BenchIndex(commands::bench_index::Args),
    /// Benchmark one release against the equivalent helm + aws CLI script
    #[command(long_about = commands::bench_release::LONG_ABOUT, after_long_help = commands::bench_release::EXAMPLES)]
    BenchRelease(commands::bench_release::Args),
    /// Benchmark `helm repo add` / `helm search repo` on YAML vs JSON indexes
    #[command(long_about = commands::bench_client::LONG_ABOUT, after_long_help = commands::bench_client::EXAMPLES)]
    BenchClient(commands::bench_client::Args),
    /// Time the cold build of the shipped binary against its 240 s budget
    #[command(long_about = commands::bench_build::LONG_ABOUT, after_long_help = commands::bench_build::EXAMPLES)]
    BenchBuild(commands::bench_build::Args),
    /// Write the command reference docs/commands.md from these definitions (--check: fail when it is stale)
    #[command(long_about = commands::docs::LONG_ABOUT, after_long_help = commands::docs::EXAMPLES)]
    Docs(commands::docs::Args),
}

impl Command {
    /// Run the command; `test` exits with cargo test's own code.
    pub async fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            Command::Shipped(command) => command.run(ctx).await.map(|()| ExitCode::SUCCESS),
            Command::Test(args) => args.run(ctx).await,
            Command::BenchIndex(args) => args.run(ctx).await.map(|()| ExitCode::SUCCESS),
            Command::BenchRelease(args) => args.run(ctx).await.map(|()| ExitCode::SUCCESS),
            Command::BenchClient(args) => args.run(ctx).await.map(|()| ExitCode::SUCCESS),
            Command::BenchBuild(args) => args.run(ctx).await.map(|()| ExitCode::SUCCESS),
            Command::Docs(args) => args.run(Cli::command(), &<xtask::cli::Cli>::command()).map(|()| ExitCode::SUCCESS),
        }
    }
}
