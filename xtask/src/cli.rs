//! The command line: one subcommand per task, each defined next to its implementation
//! in `commands/`, and the dispatch to it. No command imports this module: what a
//! command gets besides its arguments is a [`Ctx`] (`ctx.rs`).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands;
use crate::ctx::Ctx;

/// What `cargo xtask --help` says of every command.
pub const AFTER_LONG_HELP: &str = "Every command exits non-zero on failure and reports the error once, naming the \
step, the resource, the cause (the AWS error code where there is one) and the fix. No command prints a \
credential, even at RUST_LOG=trace. The repository configuration is charts/repository.toml (--config FILE picks \
another).\n\n\
`cargo xtask help CMD` (or `cargo xtask CMD --help`) explains a command, with examples; `-h` prints its summary.";

/// The command line of both binaries: the shipped one over [`Command`], `xtask-dev` over
/// its superset, so name, help and global options are the same.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, publish and host the kube9 Helm chart repository (https://charts.kube9.io)",
    long_about = None,
    after_long_help = AFTER_LONG_HELP,
    version,
    arg_required_else_help = true
)]
pub struct Cli<C: Subcommand = Command> {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The shipped commands ([`Command`]), or the development binary's superset of them.
    #[command(subcommand)]
    pub command: C,
}

/// The options every command takes.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Repository configuration file [default: charts/repository.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More log output (-v debug, -vv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fail when Chart.yaml version/appVersion differ from the operator crate version
    #[command(long_about = commands::version::CHECK_LONG_ABOUT, after_long_help = commands::version::CHECK_EXAMPLES)]
    CheckVersion(commands::version::CheckArgs),
    /// Rewrite Chart.yaml version/appVersion to the operator crate version
    #[command(long_about = commands::version::SYNC_LONG_ABOUT, after_long_help = commands::version::SYNC_EXAMPLES)]
    SyncVersion(commands::version::SyncArgs),
    /// Build a reproducible NAME-VERSION.tgz, laid out as `helm package` does
    #[command(long_about = commands::package_chart::LONG_ABOUT, after_long_help = commands::package_chart::EXAMPLES)]
    PackageChart(commands::package_chart::Args),
    /// Index every .tgz in a folder into DIR/index.yaml (drop-in for `helm repo index`)
    #[command(long_about = commands::repo_index::LONG_ABOUT, after_long_help = commands::repo_index::EXAMPLES)]
    RepoIndex(commands::repo_index::Args),
    /// Package, merge into the live index, upload, invalidate CloudFront and confirm
    #[command(long_about = commands::release_chart::LONG_ABOUT, after_long_help = commands::release_chart::EXAMPLES)]
    ReleaseChart(commands::release_chart::Args),
    /// Rebuild index.yaml from the packages stored in the repository (repair)
    #[command(long_about = commands::reindex::LONG_ABOUT, after_long_help = commands::reindex::EXAMPLES)]
    Reindex(commands::reindex::Args),
    /// Take a published version out of the index (keeping its files), or put it back with --undo
    #[command(long_about = commands::yank::LONG_ABOUT, after_long_help = commands::yank::EXAMPLES)]
    Yank(commands::yank::Args),
    /// Create or converge the bucket, CloudFront, certificate and DNS records
    #[command(long_about = commands::deploy_infra::LONG_ABOUT, after_long_help = commands::deploy_infra::EXAMPLES)]
    DeployInfra(commands::deploy_infra::Args),
    /// Print least-privilege IAM policies for the deploy, plan and release roles (default: all three)
    #[command(long_about = commands::iam_policy::LONG_ABOUT, after_long_help = commands::iam_policy::EXAMPLES)]
    IamPolicy(commands::iam_policy::Args),
    /// Smoke-test the public repository as an anonymous Helm user would see it
    #[command(long_about = commands::verify_repo::LONG_ABOUT, after_long_help = commands::verify_repo::EXAMPLES)]
    VerifyRepo(commands::verify_repo::Args),
    /// Serve a local repository folder with the production headers
    #[command(long_about = commands::serve::LONG_ABOUT, after_long_help = commands::serve::EXAMPLES)]
    Serve(commands::serve::Args),
}

impl Command {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self {
            Command::CheckVersion(args) => args.run(ctx).await,
            Command::SyncVersion(args) => args.run(ctx).await,
            Command::PackageChart(args) => args.run(ctx).await,
            Command::RepoIndex(args) => args.run(ctx).await,
            Command::ReleaseChart(args) => args.run(ctx).await,
            Command::Reindex(args) => args.run(ctx).await,
            Command::Yank(args) => args.run(ctx).await,
            Command::DeployInfra(args) => args.run(ctx).await,
            Command::IamPolicy(args) => args.run(ctx).await,
            Command::VerifyRepo(args) => args.run(ctx).await,
            Command::Serve(args) => args.run(ctx).await,
        }
    }
}
