//! `cargo xtask yank CHART VERSION (--reason TEXT | --undo)`: take a published version back
//! out of the index, or put it back. The algorithm is [`crate::release::yank`]; this file
//! wires the target (S3 + CloudFront, or a local folder), the landing page, the
//! invalidation and the report.

use anyhow::{Result, bail};

use crate::ctx::Ctx;
use crate::layout::YANKED_KEY;
use crate::release::summary::Invalidation;
use crate::release::target::{StoreChange, Target, TargetArgs};
use crate::release::yank::{self, RecordAction, YankChange, YankOptions, YankReport, YankRequest};
use crate::release::{IndexAction, page, step};
use crate::yanked::YankAction;

/// The variable whose value is recorded as who yanked (set by GitHub Actions).
pub const ACTOR_ENV: &str = "GITHUB_ACTOR";

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Take a published chart version back: Helm stops offering it (`helm search repo \
--versions` no longer lists it, `helm pull --version` / `helm install --version` of it fail), while the package and \
its .prov stay where they are, so a download pinned by URL or digest keeps working and the bytes stay immutable. For \
a broken release; publish a fixed version next.\n\n\
In this order, on the same targets as release-chart (S3 + CloudFront, or --local DIR [--url URL]):\n\n\
- reads index.yaml and yanked.json, each with its ETag;\n\
- appends the yank to yanked.json at the repository root, with a conditional write (`If-Match` the ETag read, \
`If-None-Match: *` for the first yank): chart, version, digest, the index entry as it was, the reason, the time and \
who (`$GITHUB_ACTOR`, when set). The file is append-only: every yank and undo stays in it;\n\
- writes index.yaml without the version, with release-chart's conditional write (a release that wins the race is \
read back in and kept);\n\
- renders the landing page, which lists yanked versions apart with their reason and date, and invalidates \
CloudFront (`/*`).\n\n\
--undo puts back exactly the entry the yank took out (the same digest, the same `created`) and appends the undo to \
yanked.json. A yanked version is never published again, whatever its content and even with --force, until it is \
undone: release-chart refuses it and says how to undo; reindex keeps yanked versions out of the index it rebuilds; \
verify-repo checks that none is still in the index.\n\n\
An unknown chart or version, a version already yanked, or an undo of one that is not yanked is an error, and nothing \
is written. A run stopped between the record and the index is completed by running the same command again. \
--dry-run prints what it would write and writes nothing at all.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask yank kube9-operator 0.3.0 --reason \"the CRD upgrade deletes custom resources; use 0.3.1\"\
\n  $ cargo xtask yank kube9-operator 0.3.0 --undo\
\n  $ cargo xtask yank demo 1.0.0 --reason \"broken\" --local dist/repo --dry-run";

/// `cargo xtask yank` arguments.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("change").required(true).args(["reason", "undo"]))]
pub struct Args {
    /// The chart's name, as the index lists it (e.g. kube9-operator)
    #[arg(value_name = "CHART")]
    pub chart: String,
    /// The version to take back (or put back with --undo), as `helm search repo --versions` shows it
    #[arg(value_name = "VERSION")]
    pub version: String,
    /// Why it is yanked: recorded in yanked.json and shown on the landing page (what is wrong, and what to
    /// use instead)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Put the yanked version back into the index: exactly the entry its yank took out
    #[arg(long)]
    pub undo: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let change = match (&self.reason, self.undo) {
            (Some(reason), false) if !reason.trim().is_empty() => {
                YankChange::Yank { reason: reason.trim().to_string() }
            }
            (Some(_), false) => bail!("--reason is empty: say why {} {} is yanked", self.chart, self.version),
            _ => YankChange::Undo,
        };
        let request = YankRequest {
            chart: self.chart.clone(),
            version: self.version.clone(),
            change,
            by: std::env::var(ACTOR_ENV).ok().map(|actor| actor.trim().to_string()).filter(|a| !a.is_empty()),
        };
        let dry_run = self.target.dry_run;
        if dry_run {
            step("dry run: nothing is written");
        }
        let target = Target::build(&self.target, &ctx.config_path).await?;
        let store = &target.store;
        let options = YankOptions {
            index_format: target.index_format,
            cache_control: target.cache.index_cache_control.clone(),
            dry_run,
        };
        let report = yank::yank(store, &request, &options).await?;
        // After the record and the index: the page is made from what is stored.
        let page = if dry_run {
            step(format!("would regenerate {} from the new index", store.location(crate::layout::PAGE_KEY)));
            page::PageAction::WouldWrite
        } else {
            page::publish_page(store, &target.site, &target.cache.index_cache_control, false, report.stored.as_ref())
                .await?
        };
        let change = match (dry_run, report.changed() || page.wrote()) {
            (true, _) => StoreChange::WouldWrite,
            (false, true) => StoreChange::Wrote,
            (false, false) => StoreChange::Nothing,
        };
        let what = format!("{}-{}-{}", action_name(&report), report.record.chart, report.record.version);
        let invalidation = target.invalidate(&what, change, &self.target).await?;
        crate::out!("\n{}", summary(&report, &invalidation, &store.location(YANKED_KEY)));
        Ok(())
    }
}

fn action_name(report: &YankReport) -> &'static str {
    match report.record.action {
        YankAction::Yank => "yank",
        YankAction::Undo => "undo",
    }
}

/// What the run did, for people.
fn summary(report: &YankReport, invalidation: &Invalidation, record_location: &str) -> String {
    use std::fmt::Write as _;
    let record = &report.record;
    let mut out = String::new();
    let done = match (record.action, report.record_action) {
        (YankAction::Yank, RecordAction::WouldAppend) => "would yank",
        (YankAction::Yank, _) => "yanked",
        (YankAction::Undo, RecordAction::WouldAppend) => "would put back",
        (YankAction::Undo, _) => "put back",
    };
    let _ = writeln!(out, "{done} {} {}", record.chart, record.version);
    let _ = writeln!(out, "  digest        sha256:{}", record.digest);
    if let Some(reason) = &record.reason {
        let _ = writeln!(out, "  reason        {reason}");
    }
    if let Some(by) = &record.by {
        let _ = writeln!(out, "  by            {by}");
    }
    if let Some(url) = report.entry.urls.first() {
        let kept = match record.action {
            YankAction::Yank => " (kept: a download pinned by URL or digest keeps working)",
            YankAction::Undo => "",
        };
        let _ = writeln!(out, "  package       {url}{kept}");
    }
    let _ = writeln!(out, "  record        {record_location} ({})", report.record_action.describe());
    let index = match report.index {
        IndexAction::Written { attempt: 1 } => "written".to_string(),
        IndexAction::Written { attempt } => format!("written (attempt {attempt}, after concurrent releases)"),
        IndexAction::Unchanged => "unchanged (already as it should be)".to_string(),
        IndexAction::WouldWrite => "would write (dry run)".to_string(),
    };
    let _ = writeln!(out, "  index         {index}");
    let _ = writeln!(out, "  invalidation  {}", invalidation.describe());
    if record.action == YankAction::Yank && report.record_action != RecordAction::WouldAppend {
        let _ = writeln!(out, "undo with      cargo xtask yank {} {} --undo", record.chart, record.version);
    }
    out
}
