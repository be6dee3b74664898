//! The repository index (`index.yaml`), read and written as Helm does.
//!
//! Contract used by the other modules (keep these signatures, extend freely):
//! - [`RepoIndex::parse`] / [`RepoIndex::to_yaml`] / [`RepoIndex::to_bytes`]: bytes <->
//!   model, lossless for every key Helm knows, as Helm's YAML or as compact JSON
//!   ([`IndexFormat`], which `layout` owns; `json.rs`).
//! - [`RepoIndex::add`]: merge one version under the publishing rules.
//!
//! Fidelity rules (Helm's `pkg/repo/index.go` is the reference):
//! - Parsing is as strict as Helm's (`yaml.UnmarshalStrict`): an unknown key anywhere is
//!   an error naming it, because Helm itself would refuse the whole index. JSON indexes
//!   (which Helm also accepts) parse too.
//! - Every key Helm knows is modelled explicitly and written back: top-level
//!   `apiVersion`, `entries`, `generated`, `publicKeys`, `annotations`, `serverInfo`; per
//!   version ([`IndexEntry`], Helm's `ChartVersion`) all of Chart.yaml plus `urls`,
//!   `created`, `digest`, `removed` and Helm 2's `checksum`, `engine`, `tillerVersion`,
//!   `url`. A version's keys are written once, in the tables of [`crate::index::schema`], which
//!   drive both parsers (`fast.rs` over `block.rs`, and serde) and both writers
//!   (`yaml.rs`, `json.rs`).
//! - Keys are written in alphabetical order, as Helm does, so diffs stay small.
//! - Each chart's versions are kept newest first by SemVer precedence
//!   ([`version::newest_first`]).
//! - Timestamps are written in UTC in Go's RFC3339Nano form (trailing zeros trimmed).

mod block;
pub mod emit;
pub(crate) mod fast;
pub(crate) mod json;
pub mod schema;
pub mod version;
pub(crate) mod yaml;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use crate::index::schema::IndexEntry;
use crate::index::schema::de::InIndex;
use crate::layout::IndexFormat;
pub use yaml::metadata_yaml;

/// `index.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoIndex {
    /// Chart name -> versions, newest first by SemVer.
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    pub generated: Option<DateTime<Utc>>,
    /// Top-level `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// Top-level `publicKeys`.
    pub public_keys: Vec<String>,
    /// Top-level `serverInfo` (ChartMuseum writes it; Helm accepts any map).
    pub server_info: Option<serde_yaml::Mapping>,
}

/// What [`RepoIndex::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    /// A new version was added.
    Added,
    /// The same version with the same digest was already there: nothing changed.
    Unchanged,
    /// The version was there with another digest and `force` replaced it.
    Replaced,
}

impl IndexEntry {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn version(&self) -> &str {
        &self.metadata.version
    }

    /// This version as one JSON object, keyed as a JSON index holds it (Helm's JSON tags),
    /// so [`IndexEntry::from_json`] gives back the same entry, `created` to the nanosecond.
    pub fn to_json(&self) -> serde_json::Value {
        json::entry(self)
    }

    /// An entry written by [`IndexEntry::to_json`], read as strictly as an index entry.
    pub fn from_json(value: &serde_json::Value) -> Result<IndexEntry> {
        let entry: EntryDoc = serde_json::from_value(value.clone()).context("not a Helm index entry")?;
        Ok(entry.0)
    }
}

/// `base/file`, or just `file` when `base` is empty (Helm's relative URLs).
pub fn join_url(base: &str, file: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.is_empty() { file.to_string() } else { format!("{base}/{file}") }
}

impl RepoIndex {
    pub fn new() -> RepoIndex {
        RepoIndex::default()
    }

    /// Parse `index.yaml` bytes (YAML or JSON). Errors when the document is not an index
    /// Helm would load: not YAML, a key Helm does not know, a bad timestamp, no
    /// `apiVersion`. Versions are re-sorted newest first, as Helm does on load.
    pub fn parse(bytes: &[u8]) -> Result<RepoIndex> {
        // JSON (what `IndexFormat::Json` writes) goes through serde_json, as Helm's
        // `json.Valid` check sends it to encoding/json; block YAML takes the fast path;
        // anything unusual, or JSON serde_json refuses, gets the full YAML parser, which
        // is the authority on results and errors.
        if IndexFormat::of(bytes) == IndexFormat::Json {
            if let Ok(doc) = serde_json::from_slice::<IndexDoc>(bytes) {
                return RepoIndex::from_doc(doc);
            }
        } else if let Some(index) = fast::parse(bytes) {
            return Ok(index);
        }
        RepoIndex::parse_full(bytes)
    }

    /// [`RepoIndex::parse`] through the full YAML parser only (the authority the fast path
    /// is tested against).
    pub fn parse_full(bytes: &[u8]) -> Result<RepoIndex> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            bail!("the index is empty");
        }
        let doc: IndexDoc = serde_yaml::from_slice(bytes).context("the index is not a valid Helm index")?;
        RepoIndex::from_doc(doc)
    }

    fn from_doc(doc: IndexDoc) -> Result<RepoIndex> {
        let Some(api_version) = doc.api_version.filter(|v| !v.is_empty()) else {
            bail!("the index has no `apiVersion` (Helm refuses such an index)");
        };
        if api_version != "v1" {
            bail!("the index has `apiVersion: {api_version}`; only v1 exists");
        }
        let generated = match doc.generated.as_deref() {
            None | Some("") => None,
            Some(text) => Some(parse_time(text).context("top-level `generated`")?),
        };
        let mut entries = BTreeMap::new();
        for (name, versions) in doc.entries.unwrap_or_default() {
            let mut list: Vec<IndexEntry> = versions.unwrap_or_default().into_iter().flatten().map(|e| e.0).collect();
            sort_versions(&mut list);
            entries.insert(name, list);
        }
        Ok(RepoIndex {
            entries,
            generated,
            annotations: doc.annotations,
            public_keys: doc.public_keys,
            server_info: doc.server_info,
        })
    }

    /// Serialise as Helm writes it, with `generated` set to now.
    pub fn to_yaml(&self) -> Result<Vec<u8>> {
        self.to_yaml_generated_at(Utc::now())
    }

    /// Serialise with an explicit `generated` time (for reproducible output).
    pub fn to_yaml_generated_at(&self, generated: DateTime<Utc>) -> Result<Vec<u8>> {
        Ok(yaml::to_string(self, generated).into_bytes())
    }

    /// Serialise in `format`, with `generated` set to now.
    pub fn to_bytes(&self, format: IndexFormat) -> Result<Vec<u8>> {
        self.to_bytes_generated_at(format, Utc::now())
    }

    /// Serialise in `format` with an explicit `generated` time.
    pub fn to_bytes_generated_at(&self, format: IndexFormat, generated: DateTime<Utc>) -> Result<Vec<u8>> {
        match format {
            IndexFormat::Yaml => self.to_yaml_generated_at(generated),
            IndexFormat::Json => Ok(json::to_bytes(self, generated)),
        }
    }

    /// How many versions the index lists, across all charts.
    pub fn version_count(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    /// The entry Helm takes for `name` at `version` ([`version::find`]: the exact text, else
    /// the same version written another way, such as `v1.0.0` for `1.0.0`).
    pub fn get(&self, name: &str, version: &str) -> Option<&IndexEntry> {
        let versions = self.entries.get(name)?;
        version::find(versions.iter().map(IndexEntry::version), version).map(|i| &versions[i])
    }

    /// Merge one version: add it, keep it when identical, refuse (or with `force`
    /// replace) a different digest for the same version. An existing version's `created`
    /// is never rewritten, not even by a forced replacement. "The same version" is Helm's
    /// ([`version::find`], as `IndexFile.Merge` decides it): `v1.0.0` listed and `1.0.0`
    /// added are one version, and the listed entry is the one kept, as Helm keeps it.
    pub fn add(&mut self, mut entry: IndexEntry, force: bool) -> Result<MergeOutcome> {
        let name = entry.metadata.name.clone();
        if name.is_empty() {
            bail!("cannot add an index entry without a chart name");
        }
        if entry.metadata.version.is_empty() {
            bail!("cannot add chart {name} to the index: it has no version");
        }
        let versions = self.entries.entry(name.clone()).or_default();
        if let Some(i) = version::find(versions.iter().map(IndexEntry::version), &entry.metadata.version) {
            let existing = &mut versions[i];
            if existing.digest == entry.digest {
                return Ok(MergeOutcome::Unchanged);
            }
            if !force {
                let listed_as = if existing.metadata.version == entry.metadata.version {
                    String::new()
                } else {
                    format!(" (listed as {})", existing.metadata.version)
                };
                bail!(
                    "chart {name} version {}{listed_as} is already published with digest {} but the new package has \
                     digest {}: a published version must not change; {}, or pass `--force` to replace it",
                    entry.metadata.version,
                    display_digest(&existing.digest),
                    display_digest(&entry.digest),
                    crate::project::version_bump_fix(&name),
                );
            }
            entry.created = existing.created.or(entry.created);
            *existing = entry;
            sort_versions(versions);
            return Ok(MergeOutcome::Replaced);
        }
        versions.push(entry);
        sort_versions(versions);
        Ok(MergeOutcome::Added)
    }

    /// Take chart `name` at `version` out of the index (Helm's "same version", as
    /// [`RepoIndex::get`] finds it); a chart left without versions is dropped. Returns the
    /// entry taken out, `None` when the index does not list it.
    pub fn remove(&mut self, name: &str, version: &str) -> Option<IndexEntry> {
        let versions = self.entries.get_mut(name)?;
        let i = version::find(versions.iter().map(IndexEntry::version), version)?;
        let removed = versions.remove(i);
        if versions.is_empty() {
            self.entries.remove(name);
        }
        Some(removed)
    }

    /// Merge every version of `other` into this index under the rules of [`RepoIndex::add`].
    /// Returns what happened to each version, in `other`'s order. Stops at the first refusal
    /// (the index may then hold the versions merged before it; callers write nothing).
    pub fn merge(&mut self, other: RepoIndex, force: bool) -> Result<Vec<(String, String, MergeOutcome)>> {
        let mut outcomes = Vec::new();
        for (_, versions) in other.entries {
            for entry in versions {
                let (name, version) = (entry.metadata.name.clone(), entry.metadata.version.clone());
                let outcome = self.add(entry, force)?;
                outcomes.push((name, version, outcome));
            }
        }
        Ok(outcomes)
    }

    /// Sort every chart's versions newest first (Helm's `SortEntries`).
    pub fn sort_entries(&mut self) {
        for versions in self.entries.values_mut() {
            sort_versions(versions);
        }
    }
}

fn display_digest(digest: &str) -> &str {
    if digest.is_empty() { "(none)" } else { digest }
}

fn sort_versions(versions: &mut [IndexEntry]) {
    versions.sort_by(|a, b| version::newest_first(&a.metadata.version, &b.metadata.version));
}

/// Parse an RFC 3339 timestamp (Go's `time.Time` JSON form) into UTC.
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("{text:?} is not an RFC 3339 timestamp"))
}

/// Go's `time.RFC3339Nano` in UTC: fractional seconds with trailing zeros trimmed.
pub fn format_time(time: &DateTime<Utc>) -> String {
    use chrono::Timelike as _;
    let mut out = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = time.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

// ---------------------------------------------------------------------------------------
// Wire format. Reading goes through the strict `IndexDoc` (deny_unknown_fields, as Helm's
// UnmarshalStrict), each version through its table in `schema` (`InIndex`); writing goes
// through `yaml.rs` or `json.rs`, keys in alphabetical order.

/// One version as the index holds it: Helm's `ChartVersion`, read strictly.
type EntryDoc = InIndex<IndexEntry>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexDoc {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    entries: Option<BTreeMap<String, Option<Vec<Option<EntryDoc>>>>>,
    #[serde(default)]
    generated: Option<String>,
    #[serde(default, rename = "publicKeys")]
    public_keys: Vec<String>,
    #[serde(default, rename = "serverInfo")]
    server_info: Option<serde_yaml::Mapping>,
}

#[cfg(test)]
mod tests;
