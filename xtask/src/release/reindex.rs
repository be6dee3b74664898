//! Rebuilding `index.yaml` from the packages in the repository (`cargo xtask reindex`).
//!
//! The repair for an index that no longer parses (release-chart refuses to overwrite
//! one) or that lost track of packages. Every `.tgz` is read back (`chart::read_package`),
//! its digest recomputed; `created` is kept from the old index wherever it can still be
//! read, even from an index that fails strict parsing. A yanked version (`yanked.json`) is
//! kept out: its package stays in the store, but the rebuilt index does not name it. The
//! index is written through the
//! same conditional loop as a release ([`super::write_index_conditionally`]): when a release wins the
//! race, the rebuild reads the index and the packages again, so the release is not lost.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use super::{IndexAction, step, write_index_conditionally, yank};
use crate::chart::{self, ChartPackage};
use crate::index::RepoIndex;
use crate::layout::{FileKind, INDEX_KEY, IndexFormat, sha256_hex};
use crate::store::{Condition, Store};

/// An index rebuilt from the store, and the condition to write it with.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub index: RepoIndex,
    /// On the index read before the packages were listed.
    pub condition: Condition,
}

/// Read the stored index (for its ETag and `created` times) and every stored package,
/// and build the index they make. Read-only.
pub async fn rebuild(store: &Store, base_url: &str) -> Result<Rebuilt> {
    let base_url = base_url.trim_end_matches('/');
    step(format!("reading {}", store.location(INDEX_KEY)));
    let (condition, created) = match store.get(INDEX_KEY).await.context("reading the repository index")? {
        Some(old) => (Condition::IfMatch(old.etag), created_times(&old.bytes)),
        None => (Condition::IfNoneMatch, BTreeMap::new()),
    };
    step(format!("  kept `created` of {} versions from the old index", created.len()));
    // After the index: a yank writes its record before the index it changes.
    let (yanks, _) = yank::read_yanks(store).await?;

    let keys: Vec<String> = store
        .list("")
        .await
        .context("listing the packages")?
        .into_iter()
        .filter(|k| FileKind::of(k) == FileKind::Package)
        .collect();
    if keys.is_empty() && condition == Condition::IfNoneMatch {
        bail!("{} holds no index and no packages: nothing to rebuild", store.location(""));
    }
    step(format!("reading {} packages", keys.len()));
    let now = Utc::now();
    let mut index = RepoIndex::new();
    for key in &keys {
        let object =
            store.get(key).await?.with_context(|| format!("{} vanished while reindexing", store.location(key)))?;
        let metadata = chart::read_package(&object.bytes)
            .with_context(|| format!("reading the chart inside {}", store.location(key)))?;
        if let Some(problem) = crate::versioning::lock::stored_package_problem(&metadata) {
            tracing::warn!("{}: {problem}", store.location(key));
            step(format!("  warning: {}: {problem}", store.location(key)));
        }
        if let Some(yanked) = yanks.active_yank(&metadata.name, &metadata.version) {
            step(format!(
                "  {key}: {} {}: {}, kept out of the index",
                metadata.name,
                metadata.version,
                yanked.when_and_why()
            ));
            continue;
        }
        let stamp = created.get(&(metadata.name.clone(), metadata.version.clone())).copied().unwrap_or(now);
        let package =
            ChartPackage { file_name: key.clone(), digest: sha256_hex(&object.bytes), metadata, bytes: object.bytes };
        step(format!("  {key}: {} {}", package.metadata.name, package.metadata.version));
        index
            .add(package.index_entry(base_url, stamp), false)
            .with_context(|| format!("adding {} to the index", store.location(key)))?;
    }
    Ok(Rebuilt { index, condition })
}

/// Write `rebuilt` (unless `dry_run`); a lost race rebuilds from the store again.
pub async fn write(
    store: &Store,
    rebuilt: Rebuilt,
    base_url: &str,
    format: IndexFormat,
    cache_control: &str,
    dry_run: bool,
) -> Result<IndexAction> {
    let Rebuilt { index, condition } = rebuilt;
    if dry_run {
        let bytes = index.to_bytes(format).context("serialising the index")?;
        step(format!(
            "would write {} ({} bytes as {format}, {} versions of {} charts, {condition})",
            store.location(INDEX_KEY),
            bytes.len(),
            index.version_count(),
            index.entries.len()
        ));
        return Ok(IndexAction::WouldWrite);
    }
    let (action, index, _) = write_index_conditionally(store, format, cache_control, index, condition, async || {
        let again = rebuild(store, base_url).await?;
        Ok(Some((again.index, again.condition)))
    })
    .await?;
    step(format!(
        "rebuilt {} as {format}: {} versions of {} charts",
        store.location(INDEX_KEY),
        index.version_count(),
        index.entries.len()
    ));
    Ok(action)
}

/// `created` of every (chart, version) that can still be read from an old index, even
/// one that fails strict parsing: only its YAML structure is walked.
pub fn created_times(bytes: &[u8]) -> BTreeMap<(String, String), DateTime<Utc>> {
    let mut out = BTreeMap::new();
    let Ok(doc) = serde_yaml::from_slice::<serde_yaml::Value>(bytes) else { return out };
    let Some(entries) = doc.get("entries").and_then(|e| e.as_mapping()) else { return out };
    for (name, versions) in entries {
        let (Some(name), Some(versions)) = (name.as_str(), versions.as_sequence()) else { continue };
        for entry in versions {
            let version = entry.get("version").and_then(|v| v.as_str());
            let created = entry.get("created").and_then(|v| v.as_str());
            if let (Some(version), Some(created)) = (version, created)
                && let Ok(time) = DateTime::parse_from_rfc3339(created)
            {
                out.insert((name.to_string(), version.to_string()), time.with_timezone(&Utc));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_times_survive_a_broken_index() {
        // `digest` is a list here, so a strict parse fails; the times are still readable.
        let text = "apiVersion: v1\nentries:\n  demo:\n  - version: 1.0.0\n    created: \"2024-01-02T03:04:05.123456789Z\"\n    digest: [oops]\n  - version: 0.9.0\n    created: not-a-time\n";
        let times = created_times(text.as_bytes());
        assert_eq!(times.len(), 1);
        let time = times[&("demo".to_string(), "1.0.0".to_string())];
        assert_eq!(time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), "2024-01-02T03:04:05.123456789Z");
        assert!(created_times(b"{{{ not yaml").is_empty());
    }

    /// A release that lands between the rebuild's read and its write makes the
    /// conditional write fail; the rebuild then reads again and keeps the release.
    #[tokio::test]
    async fn a_reindex_racing_a_release_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(crate::store::LocalStore::new(dir.path().join("repo")));
        let package = |version: &str| {
            let chart = dir.path().join(format!("chart-{version}"));
            std::fs::create_dir_all(chart.join("templates")).unwrap();
            let yaml = format!("apiVersion: v2\nname: demo\nversion: {version}\n");
            std::fs::write(chart.join("Chart.yaml"), yaml).unwrap();
            crate::chart::package_chart(&chart).unwrap()
        };
        let options = super::super::tests::test_options("http://127.0.0.1:8879");
        super::super::publish(&store, &[package("1.0.0")], &options).await.unwrap();

        let rebuilt = rebuild(&store, &options.base_url).await.unwrap();
        assert_eq!(rebuilt.index.version_count(), 1);
        // The race: a release of 2.0.0 writes its package and the index now.
        super::super::publish(&store, &[package("2.0.0")], &options).await.unwrap();
        let action = write(&store, rebuilt, &options.base_url, IndexFormat::Yaml, "no-cache", false).await.unwrap();

        assert_eq!(action, IndexAction::Written { attempt: 2 }, "the first write lost the race");
        let stored = RepoIndex::parse(&std::fs::read(dir.path().join("repo").join(INDEX_KEY)).unwrap()).unwrap();
        let versions: Vec<&str> = stored.entries["demo"].iter().map(|e| e.metadata.version.as_str()).collect();
        assert_eq!(versions, ["2.0.0", "1.0.0"], "the release that won the race is kept");
    }
}
