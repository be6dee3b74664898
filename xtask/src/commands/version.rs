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

/// `check-version`'s `--help` text (the subcommand variant in `cli.rs` uses it).
pub const CHECK_LONG_ABOUT: &str = "Fail when the top-level `version` or `appVersion` of Chart.yaml differs from \
`[package] version` of operator/Cargo.toml, the single source of truth: the version in the operator crate's \
manifest is the only place the chart version is written by hand. On a mismatch it fails naming both versions \
and the fix, `cargo xtask sync-version`.";

/// `check-version`'s examples.
pub const CHECK_EXAMPLES: &str = "Examples:\
\n  $ cargo xtask check-version\
\n  $ cargo xtask check-version --chart charts/kube9-operator --manifest operator/Cargo.toml\
\n\nAfter a version bump of the operator crate:\
\n  $ sed -i 's/^version = \"0.1.0\"/version = \"0.2.0\"/' operator/Cargo.toml\
\n  $ cargo xtask check-version\
\n  error: charts/kube9-operator/Chart.yaml is out of sync with the operator crate: it has version 0.1.0 and \
appVersion 0.1.0, but operator/Cargo.toml has version 0.2.0; run `cargo xtask sync-version`\
\n  $ cargo xtask sync-version\
\n  charts/kube9-operator/Chart.yaml:7: changed version: 0.1.0 -> 0.2.0\
\n  charts/kube9-operator/Chart.yaml:8: changed appVersion: 0.1.0 -> 0.2.0";

/// `check-version` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: VersionSource,
}

/// `sync-version`'s `--help` text (the subcommand variant in `cli.rs` uses it).
pub const SYNC_LONG_ABOUT: &str = "Rewrite the top-level `version` and `appVersion` of Chart.yaml to \
`[package] version` of operator/Cargo.toml, the single source of truth. Only the values on the `version:` and \
`appVersion:` lines change: comments, quoting, key order and every other byte of Chart.yaml are kept. Prints \
each changed line (`FILE:LINE: changed KEY: OLD -> NEW`), or says it is already in sync; --dry-run shows the \
change and writes nothing.";

/// `sync-version`'s examples.
pub const SYNC_EXAMPLES: &str = "Examples:\
\n  $ cargo xtask sync-version --dry-run\
\n  $ cargo xtask sync-version\
\n  charts/kube9-operator/Chart.yaml:7: changed version: 0.1.0 -> 0.2.0\
\n  charts/kube9-operator/Chart.yaml:8: changed appVersion: 0.1.0 -> 0.2.0";

/// `sync-version` arguments.
#[derive(Debug, clap::Args)]
#[command(
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
