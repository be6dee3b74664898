//! Taking a published version back out of the index (`cargo xtask yank`), and putting it
//! back (`--undo`), with the record in `yanked.json` ([`crate::yanked`]).
//!
//! **Invariants**
//! - Nothing is deleted: the package and its `.prov` stay where they are, so a download
//!   pinned by URL or digest keeps working; only the index stops naming the version.
//! - An entry taken out of the index is recorded first: a yank appends its record (with the
//!   entry as it was) to `yanked.json`, then writes the index without the version; an undo
//!   appends its record, then puts the recorded entry back, the same digest and the same
//!   `created`. A run stopped between the two writes leaves a state the same command
//!   completes when run again (and `verify-repo` names meanwhile).
//! - Both files are written conditionally on what was read (`If-Match` the ETag, or
//!   `If-None-Match: *` when there was none); a lost race reads both again and decides
//!   again ([`retry::YANKED_WRITE`]), and the index goes through the release's own loop
//!   ([`super::write_index_conditionally`]), so a yank racing releases loses none of them.
//! - An unknown chart or version, a version already yanked, an undo of a version that is
//!   not yanked: an error before anything is written. `--dry-run` writes nothing.

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;

use super::{IndexAction, StoredIndex, read_index, read_index_with_format, step, write_index_conditionally};
use crate::index::{IndexEntry, RepoIndex};
use crate::layout::{FileKind, INDEX_KEY, IndexFormat, YANKED_KEY};
use crate::retry::{self, Retry};
use crate::store::{Condition, PutOutcome, PutRequest, Store};
use crate::yanked::{YankAction, YankLog, YankRecord};

/// Read `yanked.json` and the condition for appending to it (none stored: an empty
/// record, `If-None-Match: *`). A stored file that does not parse is an error, and it is
/// never overwritten.
pub async fn read_yanks(store: &Store) -> Result<(YankLog, Condition)> {
    match store.get(YANKED_KEY).await.context("reading the yank record")? {
        None => Ok((YankLog::default(), Condition::IfNoneMatch)),
        Some(object) => {
            let log = YankLog::parse(&object.bytes).map_err(|err| {
                anyhow!(
                    "the stored yank record {} does not parse ({err:#}); it was left untouched, and nothing is \
                     published until it reads again: restore it (S3 keeps its earlier versions) or repair it by hand",
                    store.location(YANKED_KEY)
                )
            })?;
            Ok((log, Condition::IfMatch(object.etag)))
        }
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YankChange {
    /// Take the version out of the index, for this reason.
    Yank { reason: String },
    /// Put back the entry its yank took out.
    Undo,
}

/// One yank or undo.
#[derive(Debug, Clone)]
pub struct YankRequest {
    pub chart: String,
    pub version: String,
    pub change: YankChange,
    /// Who runs it (`GITHUB_ACTOR`), for the record.
    pub by: Option<String>,
}

/// How to write.
#[derive(Debug, Clone)]
pub struct YankOptions {
    /// How `index.yaml` is written (`[index] format`).
    pub index_format: IndexFormat,
    /// `Cache-Control` of `index.yaml` and `yanked.json` (both short-lived).
    pub cache_control: String,
    /// Read, decide and print; write nothing.
    pub dry_run: bool,
}

/// What happened to `yanked.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordAction {
    Appended,
    /// An earlier run appended this record and stopped before the index: it is completed.
    AlreadyRecorded,
    WouldAppend,
}

impl RecordAction {
    pub fn describe(self) -> &'static str {
        match self {
            RecordAction::Appended => "appended",
            RecordAction::AlreadyRecorded => "already recorded by an interrupted run (completed now)",
            RecordAction::WouldAppend => "would append (dry run)",
        }
    }
}

/// The result of [`yank`].
#[derive(Debug, Clone)]
pub struct YankReport {
    /// The record appended (or found, when completing an interrupted run).
    pub record: YankRecord,
    /// The entry taken out (a yank) or put back (an undo).
    pub entry: IndexEntry,
    pub record_action: RecordAction,
    pub index: IndexAction,
    /// The index as this run stored it, when it wrote one (the landing page starts from it).
    pub stored: Option<StoredIndex>,
}

impl YankReport {
    /// Whether users can see something new (the page and the CDN must follow).
    pub fn changed(&self) -> bool {
        self.record_action == RecordAction::Appended || matches!(self.index, IndexAction::Written { .. })
    }
}

/// What a run decided from the index and the record it read.
#[derive(Debug, Clone)]
struct Plan {
    record: YankRecord,
    /// The entry out of the index (yank) or back into it (undo).
    entry: IndexEntry,
    /// Whether `record` is new (else an earlier run appended it and stopped).
    append: bool,
}

/// Yank (or undo) as `request` says, into `store`: the record, then the index.
pub async fn yank(store: &Store, request: &YankRequest, options: &YankOptions) -> Result<YankReport> {
    let mut retry = Retry::new(retry::YANKED_WRITE);
    let (plan, record_action, index, condition) = loop {
        step(format!("reading {} and {}", store.location(INDEX_KEY), store.location(YANKED_KEY)));
        let (index, condition, _) = read_index_with_format(store).await?;
        let (yanks, yanks_condition) = read_yanks(store).await?;
        let plan = decide(&index, &yanks, request)?;
        describe(&plan);
        if !plan.append {
            break (plan, RecordAction::AlreadyRecorded, index, condition);
        }
        let mut next = yanks.clone();
        next.append(plan.record.clone())?;
        let bytes = next.to_bytes();
        if options.dry_run {
            step(format!(
                "would write {} ({} bytes, {}, Cache-Control: {}, {yanks_condition}): {} record(s)",
                store.location(YANKED_KEY),
                bytes.len(),
                FileKind::Yanked.content_type(),
                options.cache_control,
                next.records.len()
            ));
            break (plan, RecordAction::WouldAppend, index, condition);
        }
        let put = PutRequest {
            key: YANKED_KEY,
            bytes: &bytes,
            content_type: FileKind::Yanked.content_type(),
            cache_control: &options.cache_control,
            condition: yanks_condition.clone(),
        };
        match store.put(put).await.context("writing the yank record")? {
            PutOutcome::Written(_) => {
                step(format!(
                    "  {}: {} record appended ({yanks_condition})",
                    store.location(YANKED_KEY),
                    action(&plan)
                ));
                break (plan, RecordAction::Appended, index, condition);
            }
            PutOutcome::PreconditionFailed => {
                let announce = |backoff: retry::Backoff| {
                    step(format!(
                        "  {YANKED_KEY} changed since it was read (another yank?): reading it again in {} ms",
                        backoff.delay.as_millis()
                    ));
                };
                if retry.wait(announce).await.is_err() {
                    bail!(
                        "writing {}: another writer changed it {} times in a row; nothing of this {} was written: \
                         run it again",
                        store.location(YANKED_KEY),
                        retry.attempt(),
                        action(&plan)
                    );
                }
            }
        }
    };

    let report = |index, stored| YankReport {
        record: plan.record.clone(),
        entry: plan.entry.clone(),
        record_action,
        index,
        stored,
    };
    let mut next = index;
    if !apply(&mut next, &plan)? {
        step(format!("{INDEX_KEY} already {}: nothing to write", index_state(&plan)));
        return Ok(report(IndexAction::Unchanged, None));
    }
    if options.dry_run {
        let bytes = next.to_bytes(options.index_format)?;
        step(format!(
            "would write {} ({} bytes as {}, {} versions, {condition})",
            store.location(INDEX_KEY),
            bytes.len(),
            options.index_format,
            next.version_count()
        ));
        return Ok(report(IndexAction::WouldWrite, None));
    }
    let (action, index, etag) =
        write_index_conditionally(store, options.index_format, &options.cache_control, next, condition, async || {
            let (mut index, condition) = read_index(store).await?;
            Ok(apply(&mut index, &plan)?.then_some((index, condition)))
        })
        .await?;
    Ok(report(action, etag.map(|etag| StoredIndex { index, etag })))
}

/// The plan for `request` over what was read, or why nothing may be written.
fn decide(index: &RepoIndex, yanks: &YankLog, request: &YankRequest) -> Result<Plan> {
    let (chart, version) = (request.chart.as_str(), request.version.as_str());
    let listed = index.get(chart, version);
    let active = yanks.active_yank(chart, version);
    let by = request.by.clone();
    let undo_hint = |record: &YankRecord| format!("`cargo xtask yank {} {} --undo`", record.chart, record.version);
    match &request.change {
        YankChange::Yank { reason } => match (listed, active) {
            (Some(entry), None) => {
                Ok(Plan { record: YankRecord::yank(entry, reason, by, Utc::now()), entry: entry.clone(), append: true })
            }
            (Some(entry), Some(yank)) if entry.digest == yank.digest => {
                Ok(Plan { record: yank.clone(), entry: entry.clone(), append: false })
            }
            (Some(entry), Some(yank)) => Err(digest_conflict(yank, entry)),
            (None, Some(yank)) => bail!(
                "{} is already yanked ({}): nothing was written; to put it back, run {}",
                yank.what(),
                yank.when_and_why(),
                undo_hint(yank)
            ),
            (None, None) => Err(not_listed(index, yanks, chart, version)),
        },
        YankChange::Undo => match (active, listed) {
            (Some(yank), listed) => {
                if let Some(entry) = listed.filter(|entry| entry.digest != yank.digest) {
                    return Err(digest_conflict(yank, entry));
                }
                let entry = yank.entry.clone().context("the yank record holds no index entry")?;
                Ok(Plan { record: YankRecord::undo(yank, by, Utc::now()), entry, append: true })
            }
            (None, Some(entry)) => bail!(
                "{chart} {} is not yanked: the index lists it (digest {}); nothing was written",
                entry.version(),
                entry.digest
            ),
            (None, None) => match (yanks.last(chart, version), yanks.last_yank(chart, version)) {
                // An undo recorded by a run that stopped before the index: put the entry back.
                (Some(undo), Some(yank)) if undo.action == YankAction::Undo => {
                    let entry = yank.entry.clone().context("the yank record holds no index entry")?;
                    Ok(Plan { record: undo.clone(), entry, append: false })
                }
                _ => Err(not_listed(index, yanks, chart, version)),
            },
        },
    }
}

/// Take the version out of `index` (yank) or put its entry back (undo); whether `index`
/// changed. Refuses an index that lists the version with another digest than the record's.
fn apply(index: &mut RepoIndex, plan: &Plan) -> Result<bool> {
    let (chart, version) = (&plan.record.chart, &plan.record.version);
    match (plan.record.action, index.get(chart, version)) {
        (_, Some(listed)) if listed.digest != plan.record.digest => Err(digest_conflict(&plan.record, listed)),
        (YankAction::Yank, listed) => Ok(listed.is_some() && index.remove(chart, version).is_some()),
        (YankAction::Undo, Some(_)) => Ok(false),
        (YankAction::Undo, None) => {
            index.add(plan.entry.clone(), false).with_context(|| format!("putting {chart} {version} back"))?;
            Ok(true)
        }
    }
}

/// The record and the index disagree on the version's package: nothing sensible to do
/// without a person.
fn digest_conflict(record: &YankRecord, listed: &IndexEntry) -> anyhow::Error {
    anyhow!(
        "{} is recorded in {YANKED_KEY} with digest {}, but the index lists it with digest {} (published again \
         with --force meanwhile?): nothing was written; compare the two and repair by hand",
        record.what(),
        record.digest,
        listed.digest
    )
}

/// Neither the index nor the record knows the version: say what there is.
fn not_listed(index: &RepoIndex, yanks: &YankLog, chart: &str, version: &str) -> anyhow::Error {
    let yanked: Vec<String> = yanks.active().iter().filter(|y| y.chart == chart).map(|y| y.version.clone()).collect();
    let yanked = if yanked.is_empty() { String::new() } else { format!("; yanked: {}", yanked.join(", ")) };
    match index.entries.get(chart) {
        Some(versions) => {
            let listed: Vec<&str> = versions.iter().take(10).map(IndexEntry::version).collect();
            let more = if versions.len() > 10 { format!(" and {} more", versions.len() - 10) } else { String::new() };
            anyhow!(
                "the index lists no version {version} of {chart} (it lists {}{more}{yanked}); nothing was written",
                listed.join(", ")
            )
        }
        None => {
            let charts: Vec<&str> = index.entries.keys().map(String::as_str).collect();
            let charts = if charts.is_empty() { "none".to_string() } else { charts.join(", ") };
            anyhow!("the index lists no chart {chart} (charts: {charts}{yanked}); nothing was written")
        }
    }
}

fn action(plan: &Plan) -> &'static str {
    match plan.record.action {
        YankAction::Yank => "yank",
        YankAction::Undo => "undo",
    }
}

/// What the index looks like once the plan is carried out.
fn index_state(plan: &Plan) -> String {
    match plan.record.action {
        YankAction::Yank => format!("does not list {}", plan.record.what()),
        YankAction::Undo => format!("lists {}", plan.record.what()),
    }
}

/// The step lines of a plan.
fn describe(plan: &Plan) {
    let entry = &plan.entry;
    let created = entry.created.as_ref().map_or("-".to_string(), crate::index::format_time);
    step(format!("  {}: digest {}, created {created}", plan.record.what(), entry.digest));
    if !plan.append {
        step(format!(
            "  {YANKED_KEY} already records this {} (a run stopped before the index): completing it",
            action(plan)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn request(version: &str, change: YankChange) -> YankRequest {
        YankRequest { chart: "demo".into(), version: version.into(), change, by: Some("octocat".into()) }
    }

    fn yank_of(version: &str) -> YankRequest {
        request(version, YankChange::Yank { reason: "broken".into() })
    }

    fn options(dry_run: bool) -> YankOptions {
        YankOptions { index_format: IndexFormat::Yaml, cache_control: "public, max-age=300".into(), dry_run }
    }

    /// A local repository with demo 1.0.0 and 2.0.0 released.
    async fn repository() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path().join("repo")));
        let options = super::super::tests::test_options("http://127.0.0.1:8879");
        for version in ["1.0.0", "2.0.0"] {
            let chart = dir.path().join(format!("chart-{version}"));
            std::fs::create_dir_all(chart.join("templates")).unwrap();
            std::fs::write(chart.join("Chart.yaml"), format!("apiVersion: v2\nname: demo\nversion: {version}\n"))
                .unwrap();
            let package = crate::chart::package_chart(&chart).unwrap();
            super::super::publish(&store, &[package], &options).await.unwrap();
        }
        (dir, store)
    }

    async fn stored(store: &Store) -> (RepoIndex, YankLog) {
        (read_index(store).await.unwrap().0, read_yanks(store).await.unwrap().0)
    }

    #[tokio::test]
    async fn a_yank_records_then_removes_and_an_undo_puts_back_the_same_entry() {
        let (_dir, store) = repository().await;
        let (before, _) = stored(&store).await;
        let report = yank(&store, &yank_of("1.0.0"), &options(false)).await.unwrap();
        assert_eq!((report.record_action, report.index), (RecordAction::Appended, IndexAction::Written { attempt: 1 }));
        let (index, yanks) = stored(&store).await;
        assert!(index.get("demo", "1.0.0").is_none() && index.get("demo", "2.0.0").is_some());
        let record = yanks.active_yank("demo", "1.0.0").unwrap();
        assert_eq!(record.entry.as_ref(), before.get("demo", "1.0.0"), "the entry as it was");
        assert_eq!((record.reason.as_deref(), record.by.as_deref()), (Some("broken"), Some("octocat")));

        let undone = yank(&store, &request("1.0.0", YankChange::Undo), &options(false)).await.unwrap();
        assert_eq!(undone.record.action, YankAction::Undo);
        let (index, yanks) = stored(&store).await;
        assert_eq!(index.entries, before.entries, "the same digest, the same `created`");
        assert_eq!(yanks.records.len(), 2, "append-only: the yank stays in the history");
        assert!(yanks.active().is_empty());
    }

    #[tokio::test]
    async fn refusals_write_nothing() {
        let (dir, store) = repository().await;
        yank(&store, &yank_of("1.0.0"), &options(false)).await.unwrap();
        let files = || {
            let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path().join("repo"))
                .unwrap()
                .map(|e| e.unwrap())
                .map(|e| (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap()))
                .collect();
            files.sort();
            files
        };
        let before = files();
        let again = format!("{:#}", yank(&store, &yank_of("v1.0.0"), &options(false)).await.unwrap_err());
        assert!(again.contains("demo 1.0.0 is already yanked") && again.contains("--undo"), "{again}");
        assert!(again.contains("by octocat: broken"), "{again}");
        let unknown = format!("{:#}", yank(&store, &yank_of("3.0.0"), &options(false)).await.unwrap_err());
        assert!(unknown.contains("no version 3.0.0 of demo (it lists 2.0.0; yanked: 1.0.0)"), "{unknown}");
        let other = YankRequest { chart: "other".into(), ..yank_of("1.0.0") };
        let other = format!("{:#}", yank(&store, &other, &options(false)).await.unwrap_err());
        assert!(other.contains("no chart other (charts: demo)"), "{other}");
        let listed =
            format!("{:#}", yank(&store, &request("2.0.0", YankChange::Undo), &options(false)).await.unwrap_err());
        assert!(listed.contains("demo 2.0.0 is not yanked: the index lists it"), "{listed}");
        // A dry run decides and prints, and writes nothing either.
        let dry = yank(&store, &yank_of("2.0.0"), &options(true)).await.unwrap();
        assert_eq!((dry.record_action, dry.index), (RecordAction::WouldAppend, IndexAction::WouldWrite));
        assert_eq!(files(), before);
    }

    /// A run stopped between the record and the index is completed by the next run of the
    /// same command, for a yank and for an undo.
    #[tokio::test]
    async fn an_interrupted_yank_or_undo_is_completed_by_running_it_again() {
        let (_dir, store) = repository().await;
        let (index, yanks) = stored(&store).await;
        let entry = index.get("demo", "1.0.0").unwrap().clone();
        // The record of a yank, and no index write: the state a kill between the two leaves.
        let mut log = yanks.clone();
        log.append(YankRecord::yank(&entry, "broken", None, Utc::now())).unwrap();
        std::fs::write(store.location(YANKED_KEY), log.to_bytes()).unwrap();
        let report = yank(&store, &yank_of("1.0.0"), &options(false)).await.unwrap();
        assert_eq!(report.record_action, RecordAction::AlreadyRecorded);
        assert!(matches!(report.index, IndexAction::Written { .. }));
        assert!(stored(&store).await.0.get("demo", "1.0.0").is_none());

        // Now an undo record without the index write.
        let (_, mut log) = stored(&store).await;
        let undo = YankRecord::undo(log.active_yank("demo", "1.0.0").unwrap(), None, Utc::now());
        log.append(undo).unwrap();
        std::fs::write(store.location(YANKED_KEY), log.to_bytes()).unwrap();
        let report = yank(&store, &request("1.0.0", YankChange::Undo), &options(false)).await.unwrap();
        assert_eq!(report.record_action, RecordAction::AlreadyRecorded);
        assert_eq!(stored(&store).await.0.get("demo", "1.0.0"), Some(&entry));
        // Done: a third run has nothing to complete.
        let err =
            format!("{:#}", yank(&store, &request("1.0.0", YankChange::Undo), &options(false)).await.unwrap_err());
        assert!(err.contains("is not yanked"), "{err}");
    }

    /// A release that lands between the yank's reads and its index write makes the
    /// conditional write fail; the yank reads again, and the release is kept.
    #[tokio::test]
    async fn a_yank_racing_a_release_loses_nothing() {
        let (dir, store) = repository().await;
        let (index, yanks) = stored(&store).await;
        let plan = decide(&index, &yanks, &yank_of("1.0.0")).unwrap();
        let condition = read_index(&store).await.unwrap().1;
        // The race: 3.0.0 is released now.
        let chart = dir.path().join("chart-3.0.0");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 3.0.0\n").unwrap();
        let options = super::super::tests::test_options("http://127.0.0.1:8879");
        super::super::publish(&store, &[crate::chart::package_chart(&chart).unwrap()], &options).await.unwrap();
        let mut next = index;
        assert!(apply(&mut next, &plan).unwrap());
        let (action, _, _) =
            write_index_conditionally(&store, IndexFormat::Yaml, "no-cache", next, condition, async || {
                let (mut index, condition) = read_index(&store).await?;
                Ok(apply(&mut index, &plan)?.then_some((index, condition)))
            })
            .await
            .unwrap();
        assert_eq!(action, IndexAction::Written { attempt: 2 }, "the first write lost the race");
        let versions: Vec<String> =
            stored(&store).await.0.entries["demo"].iter().map(|e| e.version().to_string()).collect();
        assert_eq!(versions, ["3.0.0", "2.0.0"]);
    }
}
