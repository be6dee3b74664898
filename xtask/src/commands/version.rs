//! `check-version` and `sync-version`: keep Chart.yaml `version`/`appVersion` equal to
//! the operator crate version. The logic lives in [`crate::versioning`].

use std::path::PathBuf;

use anyhow::Result;

use crate::ctx::Ctx;
use crate::project;
use crate::versioning::{chart_yaml, display, lock};

/// Which chart to compare with which crate.
#[derive(Debug, clap::Args)]
pub struct VersionSource {
    /// Chart directory whose Chart.yaml is checked [default: charts/kube9-operator]
    #[arg(long, value_name = "DIR")]
    pub chart: Option<PathBuf>,

    /// Cargo manifest whose `[package] version` is the source of truth [default: operator/Cargo.toml]
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

impl VersionSource {
    /// Absolute paths: given ones resolved against the current directory, else the defaults.
    fn resolve(&self, ctx: &Ctx) -> (PathBuf, PathBuf) {
        let cwd = ctx.sh.current_dir();
        let chart = self.chart.as_ref().map_or_else(project::operator_chart_dir, |dir| cwd.join(dir));
        let manifest = self.manifest.as_ref().map_or_else(project::operator_manifest, |file| cwd.join(file));
        (chart, manifest)
    }
}

/// Fail when Chart.yaml `version` or `appVersion` differs from the operator crate version.
///
/// Reads `[package] version` from operator/Cargo.toml (the single source of truth) and
/// the two top-level keys of charts/kube9-operator/Chart.yaml. On a mismatch the error
/// names both versions, the file, and the fix (`cargo xtask sync-version`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Reads `[package] version` of operator/Cargo.toml (the single source of truth) and the \
top-level `version` and `appVersion` of Chart.yaml. On a mismatch it fails naming both versions and the fix.\n\n\
Examples:\n  cargo xtask check-version\n  cargo xtask check-version --chart charts/kube9-operator --manifest operator/Cargo.toml")]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: VersionSource,
}

/// Rewrite Chart.yaml `version` and `appVersion` to the operator crate version.
///
/// Only the values on those two lines change: comments, quoting, key order and every
/// other byte of the file are kept. Prints each changed line; says so when already in sync.
#[derive(Debug, clap::Args)]
#[command(after_help = "Only the values on the `version:` and `appVersion:` lines change: comments, quoting, \
key order and every other byte of Chart.yaml are kept. Prints each changed line, or says it is already in sync.\n\n\
Examples:\n  cargo xtask sync-version\n  cargo xtask sync-version --dry-run",
    mut_arg("chart", |arg| arg.help("Chart directory whose Chart.yaml is rewritten [default: charts/kube9-operator]")))]
pub struct SyncArgs {
    #[command(flatten)]
    pub source: VersionSource,

    /// Show what would change without writing Chart.yaml
    #[arg(long)]
    pub dry_run: bool,
}

impl CheckArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (chart, manifest) = self.source.resolve(ctx);
        let version = lock::check_chart_matches(&chart, &manifest)?;
        crate::outln!(
            "{}: version and appVersion are {version}, as in {}",
            display(&chart.join("Chart.yaml")),
            display(&manifest)
        );
        Ok(())
    }
}

impl SyncArgs {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (chart, manifest) = self.source.resolve(ctx);
        let outcome = chart_yaml::sync_chart(&chart, &manifest, self.dry_run)?;
        let file = display(&outcome.chart_yaml);
        if outcome.changes.is_empty() {
            crate::outln!(
                "{file} already has version and appVersion {} ({}); nothing to change",
                outcome.version,
                display(&manifest)
            );
            return Ok(());
        }
        let verb = if self.dry_run { "would change" } else { "changed" };
        for change in &outcome.changes {
            crate::outln!("{file}:{}: {verb} {}: {} -> {}", change.line, change.key, change.old, change.new);
        }
        if self.dry_run {
            crate::outln!("dry run: {file} not written");
        }
        Ok(())
    }
}
