//! The command line: one subcommand per task, each defined next to its implementation
//! in `commands/`, and the dispatch to it. No command imports this module: what a
//! command gets besides its arguments is a [`Ctx`] (`ctx.rs`).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands;
use crate::ctx::Ctx;

/// The command line of both binaries: the shipped one over [`Command`], `xtask-dev` over
/// its superset, so name, help and global options are the same.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, publish and host the kube9 Helm chart repository (https://charts.kube9.io)",
    long_about = None,
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
    CheckVersion(commands::version::CheckArgs),
    /// Rewrite Chart.yaml version/appVersion to the operator crate version
    SyncVersion(commands::version::SyncArgs),
    /// Build a reproducible NAME-VERSION.tgz, laid out as `helm package` does
    #[command(long_about = commands::package_chart::LONG_ABOUT)]
    PackageChart(commands::package_chart::Args),
    /// Index every .tgz in a folder into DIR/index.yaml (drop-in for `helm repo index`)
    #[command(long_about = commands::repo_index::LONG_ABOUT)]
    RepoIndex(commands::repo_index::Args),
    /// Package, merge into the live index, upload, invalidate CloudFront and confirm
    ReleaseChart(commands::release_chart::Args),
    /// Rebuild index.yaml from the packages stored in the repository (repair)
    Reindex(commands::reindex::Args),
    /// Create or converge the bucket, CloudFront, certificate and DNS records
    DeployInfra(commands::deploy_infra::Args),
    /// Print least-privilege IAM policies for the deploy, plan and release roles (default: all three)
    IamPolicy(commands::iam_policy::Args),
    /// Smoke-test the public repository as an anonymous Helm user would see it
    #[command(long_about = commands::verify_repo::LONG_ABOUT)]
    VerifyRepo(commands::verify_repo::Args),
    /// Serve a local repository folder with the production headers
    #[command(long_about = commands::serve::LONG_ABOUT)]
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
            Command::DeployInfra(args) => args.run(ctx).await,
            Command::IamPolicy(args) => args.run(ctx).await,
            Command::VerifyRepo(args) => args.run(ctx).await,
            Command::Serve(args) => args.run(ctx).await,
        }
    }
}
