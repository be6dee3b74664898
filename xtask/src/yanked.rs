//! `yanked.json`: the record of every version taken back out of the index (`cargo xtask
//! yank`) and of every yank undone, kept at the repository root beside `index.yaml`
//! (`layout::YANKED_KEY`).
//!
//! **Append-only.** A command reads the file with its ETag, appends one record and writes it
//! back conditionally, as the index is written; no command rewrites or drops a record. The
//! file is therefore the history of every yank (what, who, when, why), and it holds each
//! index entry a yank took out exactly as it was, for `--undo` to put back. A version is
//! *yanked* while its last record is a yank ([`YankLog::active`]).
//!
//! The one model of the file, used by everything that reads a repository: the release (a
//! yanked version is never published again), reindex and repo-index (keep yanked versions
//! out of the index they build), the landing page (lists them apart) and `verify-repo` (the file
//! parses, and no yanked version is still in the index). Versions are compared as Helm
//! compares them ([`crate::index::version::find`]: `v1.0.0` is `1.0.0`).
//!
//! The form, JSON for people and `jq` alike (records oldest first):
//!
//! ```json
//! {
//!   "apiVersion": "v1",
//!   "records": [
//!     { "action": "yank", "chart": "demo", "version": "1.0.0", "digest": "<sha256>",
//!       "reason": "…", "time": "2026-01-02T03:04:05.123Z", "by": "octocat",
//!       "entry": { <the index entry, with Helm's JSON keys> } },
//!     { "action": "undo", "chart": "demo", "version": "1.0.0", "digest": "<sha256>",
//!       "time": "…", "by": "…" }
//!   ]
//! }
//! ```
//!
//! `by` is the GitHub user (`GITHUB_ACTOR`) who ran the command, left out when unknown.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::index::{IndexEntry, format_time, parse_time, version};

/// The `apiVersion` of the file's form.
pub const API_VERSION: &str = "v1";

/// What a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YankAction {
    /// The version was taken out of the index.
    Yank,
    /// The yank was undone: the entry it took out is back in the index.
    Undo,
}

/// One yank or undo.
#[derive(Debug, Clone, PartialEq)]
pub struct YankRecord {
    pub action: YankAction,
    pub chart: String,
    /// The version as the index entry spells it.
    pub version: String,
    /// The sha256 of the package (the index entry's `digest`).
    pub digest: String,
    /// A yank: the index entry as it was, which `--undo` puts back. An undo: none.
    pub entry: Option<IndexEntry>,
    /// A yank: why (shown on the landing page).
    pub reason: Option<String>,
    pub time: DateTime<Utc>,
    /// Who ran it (`GITHUB_ACTOR`), when known.
    pub by: Option<String>,
}

impl YankRecord {
    /// A yank of `entry`, now.
    pub fn yank(entry: &IndexEntry, reason: &str, by: Option<String>, time: DateTime<Utc>) -> YankRecord {
        YankRecord {
            action: YankAction::Yank,
            chart: entry.name().to_string(),
            version: entry.version().to_string(),
            digest: entry.digest.clone(),
            entry: Some(entry.clone()),
            reason: Some(reason.to_string()),
            time,
            by,
        }
    }

    /// The undo of `yank` (a yank record), now.
    pub fn undo(yank: &YankRecord, by: Option<String>, time: DateTime<Utc>) -> YankRecord {
        YankRecord {
            action: YankAction::Undo,
            chart: yank.chart.clone(),
            version: yank.version.clone(),
            digest: yank.digest.clone(),
            entry: None,
            reason: None,
            time,
            by,
        }
    }

    /// Whether this record is about chart `chart` at `version` (Helm's "same version").
    pub fn is_for(&self, chart: &str, version: &str) -> bool {
        self.chart == chart && version::find([self.version.as_str()], version).is_some()
    }

    /// `yanked 2026-01-02T03:04:05Z by octocat: REASON` (an undo: `undone …`), for messages.
    pub fn when_and_why(&self) -> String {
        let done = match self.action {
            YankAction::Yank => "yanked",
            YankAction::Undo => "undone",
        };
        let by = self.by.as_deref().map(|by| format!(" by {by}")).unwrap_or_default();
        let reason = self.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
        format!("{done} at {}{by}{reason}", format_time(&self.time))
    }

    /// `chart version`, for messages.
    pub fn what(&self) -> String {
        format!("{} {}", self.chart, self.version)
    }
}

/// The whole file: every record, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct YankLog {
    pub records: Vec<YankRecord>,
}

impl YankLog {
    /// Parse `yanked.json`. Errors when it is not the form above, or its records do not
    /// make a history (an undo of a version not yanked, a yank of one already yanked, an
    /// entry that is not the record's chart, version and digest).
    pub fn parse(bytes: &[u8]) -> Result<YankLog> {
        let doc: LogDoc = serde_json::from_slice(bytes).context("yanked.json is not the yank record's JSON")?;
        if doc.api_version != API_VERSION {
            bail!("yanked.json has `apiVersion: {}`; only {API_VERSION} exists", doc.api_version);
        }
        let mut log = YankLog::default();
        for (position, record) in doc.records.into_iter().enumerate() {
            let record = record.into_record().with_context(|| format!("record {} of yanked.json", position + 1))?;
            log.check_next(&record).with_context(|| format!("record {} of yanked.json", position + 1))?;
            log.records.push(record);
        }
        Ok(log)
    }

    /// The file's bytes: pretty JSON (people read it), one final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let doc = LogDoc {
            api_version: API_VERSION.to_string(),
            records: self.records.iter().map(RecordDoc::from_record).collect(),
        };
        let mut out = serde_json::to_vec_pretty(&doc).expect("the yank record always serialises");
        out.push(b'\n');
        out
    }

    /// Append `record`, refusing one that does not follow from the history.
    pub fn append(&mut self, record: YankRecord) -> Result<()> {
        self.check_next(&record)?;
        self.records.push(record);
        Ok(())
    }

    /// The yanks in force, oldest first: every version whose last record is a yank.
    pub fn active(&self) -> Vec<&YankRecord> {
        let mut active: Vec<&YankRecord> = Vec::new();
        for record in &self.records {
            match record.action {
                YankAction::Yank => active.push(record),
                YankAction::Undo => active.retain(|yank| !yank.is_for(&record.chart, &record.version)),
            }
        }
        active
    }

    /// The yank in force for chart `chart` at `version`, if it is yanked.
    pub fn active_yank(&self, chart: &str, version: &str) -> Option<&YankRecord> {
        self.active().into_iter().find(|yank| yank.is_for(chart, version))
    }

    /// The last record about chart `chart` at `version`, either action.
    pub fn last(&self, chart: &str, version: &str) -> Option<&YankRecord> {
        self.records.iter().rev().find(|record| record.is_for(chart, version))
    }

    /// The latest yank record of chart `chart` at `version`, in force or undone: the entry
    /// an undo puts back.
    pub fn last_yank(&self, chart: &str, version: &str) -> Option<&YankRecord> {
        self.records.iter().rev().find(|record| record.action == YankAction::Yank && record.is_for(chart, version))
    }

    /// Why `record` cannot come next.
    fn check_next(&self, record: &YankRecord) -> Result<()> {
        let active = self.active_yank(&record.chart, &record.version);
        match record.action {
            YankAction::Yank => {
                if let Some(yank) = active {
                    bail!("{} is yanked twice (already yanked at {})", record.what(), format_time(&yank.time));
                }
                let Some(entry) = &record.entry else { bail!("the yank of {} holds no index entry", record.what()) };
                if entry.name() != record.chart || entry.version() != record.version || entry.digest != record.digest {
                    bail!(
                        "the yank of {} (digest {}) holds the entry of {} {} (digest {})",
                        record.what(),
                        record.digest,
                        entry.name(),
                        entry.version(),
                        entry.digest
                    );
                }
                if record.reason.as_deref().is_none_or(|reason| reason.trim().is_empty()) {
                    bail!("the yank of {} gives no reason", record.what());
                }
            }
            YankAction::Undo => {
                let Some(yank) = active else { bail!("{} is undone but was not yanked", record.what()) };
                if yank.digest != record.digest {
                    bail!("the undo of {} names digest {}, the yank {}", record.what(), record.digest, yank.digest);
                }
                if record.entry.is_some() {
                    bail!("the undo of {} holds an index entry (only a yank does)", record.what());
                }
            }
        }
        Ok(())
    }
}

/// The file as JSON (unknown keys refused: a key this tool does not know would be lost on
/// the next append).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogDoc {
    #[serde(rename = "apiVersion")]
    api_version: String,
    records: Vec<RecordDoc>,
}

/// One record as JSON, keys in this order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordDoc {
    action: YankAction,
    chart: String,
    version: String,
    digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry: Option<serde_json::Value>,
}

impl RecordDoc {
    fn from_record(record: &YankRecord) -> RecordDoc {
        RecordDoc {
            action: record.action,
            chart: record.chart.clone(),
            version: record.version.clone(),
            digest: record.digest.clone(),
            reason: record.reason.clone(),
            time: format_time(&record.time),
            by: record.by.clone(),
            entry: record.entry.as_ref().map(IndexEntry::to_json),
        }
    }

    fn into_record(self) -> Result<YankRecord> {
        let entry = match &self.entry {
            Some(value) => Some(IndexEntry::from_json(value).context("`entry`")?),
            None => None,
        };
        Ok(YankRecord {
            action: self.action,
            time: parse_time(&self.time).context("`time`")?,
            chart: self.chart,
            version: self.version,
            digest: self.digest,
            entry,
            reason: self.reason,
            by: self.by,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::chart::ChartMetadata;

    fn entry(version: &str) -> IndexEntry {
        IndexEntry {
            metadata: ChartMetadata {
                name: "demo".into(),
                version: version.into(),
                app_version: Some("1.2.3".into()),
                description: Some("A \"demo\" chart".into()),
                ..ChartMetadata::default()
            },
            urls: vec![format!("https://charts.example.com/demo-{version}.tgz")],
            created: Some(Utc.timestamp_opt(1_767_323_045, 123_456_789).unwrap()),
            digest: format!("{:0>64}", version.replace('.', "")),
            ..IndexEntry::default()
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_400_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_yank_keeps_the_entry_exactly_and_the_file_round_trips() {
        let mut log = YankLog::default();
        log.append(YankRecord::yank(&entry("1.0.0"), "broken CRD", Some("octocat".into()), at(0))).unwrap();
        let bytes = log.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\n  \"apiVersion\": \"v1\",\n  \"records\": [\n"), "{text}");
        assert!(text.contains("\"reason\": \"broken CRD\"") && text.contains("\"by\": \"octocat\""), "{text}");
        assert!(text.contains("\"created\": \"2026-01-02T03:04:05.123456789Z\""), "Helm's JSON keys: {text}");
        let parsed = YankLog::parse(&bytes).unwrap();
        assert_eq!(parsed, log);
        assert_eq!(parsed.records[0].entry.as_ref().unwrap(), &entry("1.0.0"), "the entry, to the nanosecond");
        assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn a_version_is_yanked_while_its_last_record_is_a_yank() {
        let mut log = YankLog::default();
        assert!(log.active().is_empty());
        log.append(YankRecord::yank(&entry("1.0.0"), "one", None, at(0))).unwrap();
        log.append(YankRecord::yank(&entry("2.0.0"), "two", None, at(1))).unwrap();
        let yank = log.active_yank("demo", "1.0.0").unwrap().clone();
        assert_eq!(log.active_yank("demo", "v1.0.0"), Some(&yank), "Helm's same version");
        assert!(log.active_yank("other", "1.0.0").is_none());
        log.append(YankRecord::undo(&yank, None, at(2))).unwrap();
        assert!(log.active_yank("demo", "1.0.0").is_none());
        assert_eq!(log.active().iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["2.0.0"]);
        assert_eq!(log.last("demo", "1.0.0").unwrap().action, YankAction::Undo);
        assert_eq!(log.last_yank("demo", "1.0.0"), Some(&yank));
        // Yanked again after the undo: in force again, the history kept.
        log.append(YankRecord::yank(&entry("1.0.0"), "again", None, at(3))).unwrap();
        assert_eq!(log.active_yank("demo", "1.0.0").unwrap().reason.as_deref(), Some("again"));
        assert_eq!(YankLog::parse(&log.to_bytes()).unwrap().records.len(), 4);
    }

    #[test]
    fn records_that_make_no_history_are_refused() {
        let mut log = YankLog::default();
        log.append(YankRecord::yank(&entry("1.0.0"), "one", None, at(0))).unwrap();
        let twice = log.append(YankRecord::yank(&entry("1.0.0"), "two", None, at(1))).unwrap_err();
        assert!(format!("{twice:#}").contains("demo 1.0.0 is yanked twice"), "{twice:#}");
        let not_yanked = YankRecord::undo(&YankRecord::yank(&entry("3.0.0"), "x", None, at(0)), None, at(1));
        let err = log.append(not_yanked).unwrap_err();
        assert!(format!("{err:#}").contains("undone but was not yanked"), "{err:#}");
        let no_reason = log.append(YankRecord::yank(&entry("2.0.0"), "  ", None, at(1))).unwrap_err();
        assert!(format!("{no_reason:#}").contains("gives no reason"), "{no_reason:#}");
        let mut wrong = YankRecord::yank(&entry("2.0.0"), "x", None, at(1));
        wrong.digest = "ff".repeat(32);
        assert!(format!("{:#}", log.append(wrong).unwrap_err()).contains("holds the entry of demo 2.0.0"));
    }

    #[test]
    fn a_file_that_is_not_a_yank_record_does_not_parse() {
        for (bytes, needle) in [
            (&b"not json"[..], "is not the yank record's JSON"),
            (br#"{"apiVersion":"v2","records":[]}"#, "only v1 exists"),
            (br#"{"apiVersion":"v1","records":[],"extra":1}"#, "unknown field"),
            (
                br#"{"apiVersion":"v1","records":[{"action":"undo","chart":"a","version":"1.0.0","digest":"d","time":"2026-01-01T00:00:00Z"}]}"#,
                "record 1 of yanked.json",
            ),
            (
                br#"{"apiVersion":"v1","records":[{"action":"yank","chart":"a","version":"1.0.0","digest":"d","reason":"r","time":"yesterday","entry":{}}]}"#,
                "`time`",
            ),
        ] {
            let err = format!("{:#}", YankLog::parse(bytes).unwrap_err());
            assert!(err.contains(needle), "{needle}: {err}");
        }
        assert_eq!(YankLog::parse(br#"{"apiVersion":"v1","records":[]}"#).unwrap(), YankLog::default());
    }
}
