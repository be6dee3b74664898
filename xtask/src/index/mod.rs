//! The repository index (`index.yaml`), read and written as Helm does.
//!
//! Contract used by the other modules (the package/index issue fills it in; keep these
//! signatures, extend freely):
//! - [`RepoIndex::parse`] / [`RepoIndex::to_yaml`]: bytes <-> model, lossless for every
//!   key Helm knows.
//! - [`RepoIndex::add`]: merge one version under the publishing rules.
//! - [`IndexEntry::for_package`]: the entry for a freshly built package.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use crate::chart::{ChartMetadata, ChartPackage};

/// One version of one chart in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub metadata: ChartMetadata,
    pub urls: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub digest: String,
}

/// `index.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoIndex {
    /// Chart name -> versions, newest first by SemVer.
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
    pub generated: Option<DateTime<Utc>>,
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
    /// The entry for `package`, served from `base_url` (`{base_url}/NAME-VERSION.tgz`).
    pub fn for_package(package: &ChartPackage, base_url: &str, created: DateTime<Utc>) -> IndexEntry {
        IndexEntry {
            metadata: package.metadata.clone(),
            urls: vec![format!("{}/{}", base_url.trim_end_matches('/'), package.file_name)],
            created: Some(created),
            digest: package.digest.clone(),
        }
    }
}

impl RepoIndex {
    pub fn new() -> RepoIndex {
        RepoIndex::default()
    }

    /// Parse `index.yaml` bytes. Errors when the document is not a valid index.
    pub fn parse(_bytes: &[u8]) -> Result<RepoIndex> {
        bail!("index parsing is not built yet")
    }

    /// Serialise as Helm writes it (sets `generated`).
    pub fn to_yaml(&self) -> Result<Vec<u8>> {
        bail!("index writing is not built yet")
    }

    /// Merge one version: add it, keep it when identical, refuse (or with `force`
    /// replace) a different digest for the same version.
    pub fn add(&mut self, _entry: IndexEntry, _force: bool) -> Result<MergeOutcome> {
        bail!("index merging is not built yet")
    }
}
