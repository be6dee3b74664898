//! `cargo xtask reindex`: rebuild `index.yaml` from the packages in the repository.
//!
//! The repair for an index that no longer parses (release-chart refuses to overwrite
//! one) or that lost track of packages. Every `.tgz` is read back (`chart::read_package`),
//! its digest recomputed; `created` is kept from the old index wherever it can still be
//! read, even from an index that fails strict parsing. The write is conditional on the
//! index read at the start, like a release, so a release racing the repair is not lost.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use crate::aws::Clients;
use crate::chart::{self, ChartPackage};
use crate::commands::release_chart::DEFAULT_LOCAL_URL;
use crate::ctx::Ctx;
use crate::index::{IndexEntry, IndexFormat, RepoIndex};
use crate::release::summary::Invalidation;
use crate::release::{cdn, page, step, target};
use crate::store::{
    Condition, INDEX_CONTENT_TYPE, INDEX_KEY, LocalStore, PutOutcome, PutRequest, S3Store, Store, sha256_hex,
};

#[derive(Debug, clap::Args)]
#[command(after_help = "Rebuild index.yaml from every .tgz package stored in the bucket (or --local folder):\n\
                  reads each package's Chart.yaml, recomputes its digest, keeps `created` from the old\n\
                  index where it can still be read, and writes the index with a conditional write.\n\
                  Use it when release-chart reports that the stored index does not parse.\n\n\
                  Example: cargo xtask reindex --dry-run")]
pub struct Args {
    /// Rebuild a local repository folder instead of the bucket
    #[arg(long, value_name = "DIR")]
    pub local: Option<std::path::PathBuf>,
    /// Repository URL written into the index with --local [default: http://127.0.0.1:8879]
    #[arg(long, value_name = "URL", requires = "local")]
    pub url: Option<String>,
    /// Print what would be written and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not wait for the CloudFront invalidation to complete
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting for the CloudFront invalidation after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub wait_timeout: u64,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if self.dry_run {
            step("dry run: nothing is written");
        }
        match &self.local {
            Some(dir) => {
                let store = Store::Local(LocalStore::new(dir.clone()));
                let base_url = self.url.clone().unwrap_or_else(|| DEFAULT_LOCAL_URL.to_string());
                let cache_control = format!("public, max-age={}", crate::config::CacheConfig::default().index_max_age);
                let format = crate::commands::release_chart::local_index_format(ctx)?;
                self.rebuild(&store, &base_url, &cache_control, format).await?;
                let site = crate::commands::release_chart::local_site(ctx, &base_url)?;
                self.publish_page(&store, &site, &cache_control).await?;
                Ok(())
            }
            None => {
                let config = ctx.config()?;
                let clients = Clients::from_config(&config).await;
                crate::credentials::require(&clients.shared).await?;
                let distribution = target::find_distribution(&clients, &config).await?;
                let store = Store::S3(S3Store::new(clients.s3.clone(), &config.bucket));
                let written = self
                    .rebuild(&store, &config.repo_url(), &config.index_cache_control(), config.index.format)
                    .await?;
                // After the index: the page is made from the index actually stored.
                let site = crate::landing::Site::for_config(&config);
                let written = self.publish_page(&store, &site, &config.index_cache_control()).await? || written;
                let invalidation = if self.dry_run {
                    step(format!(
                        "would invalidate {} on CloudFront distribution {}",
                        cdn::INVALIDATION_PATH,
                        distribution.id
                    ));
                    Invalidation::WouldCreate
                } else if written {
                    let reference = cdn::caller_reference("reindex");
                    let timeout = Duration::from_secs(self.wait_timeout);
                    cdn::invalidate_and_wait(&clients.cloudfront, &distribution, &reference, self.no_wait, timeout)
                        .await?
                } else {
                    Invalidation::Skipped
                };
                step(format!("invalidation: {}", invalidation.describe()));
                Ok(())
            }
        }
    }

    /// Regenerate the landing page from the rebuilt index; whether it was written. A dry
    /// run wrote no index, and the stored one may not even parse: it only says so.
    async fn publish_page(&self, store: &Store, site: &crate::landing::Site, cache_control: &str) -> Result<bool> {
        if self.dry_run {
            step(format!("would regenerate {} from the rebuilt index", store.location(crate::landing::PAGE_KEY)));
            return Ok(false);
        }
        Ok(page::publish_page(store, site, cache_control, false).await?.wrote())
    }

    /// Returns whether the index was written.
    async fn rebuild(&self, store: &Store, base_url: &str, cache_control: &str, format: IndexFormat) -> Result<bool> {
        let base_url = base_url.trim_end_matches('/');
        step(format!("reading {}", store.location(INDEX_KEY)));
        let (condition, created) = match store.get(INDEX_KEY).await.context("reading the repository index")? {
            Some(old) => (Condition::IfMatch(old.etag), created_times(&old.bytes)),
            None => (Condition::IfNoneMatch, BTreeMap::new()),
        };
        step(format!("  kept `created` of {} versions from the old index", created.len()));

        let keys: Vec<String> =
            store.list("").await.context("listing the packages")?.into_iter().filter(|k| k.ends_with(".tgz")).collect();
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
            let stamp = created.get(&(metadata.name.clone(), metadata.version.clone())).copied().unwrap_or(now);
            let package = ChartPackage {
                file_name: key.clone(),
                digest: sha256_hex(&object.bytes),
                metadata,
                bytes: object.bytes,
            };
            step(format!("  {key}: {} {}", package.metadata.name, package.metadata.version));
            index
                .add(IndexEntry::for_package(&package, base_url, stamp), false)
                .with_context(|| format!("adding {} to the index", store.location(key)))?;
        }
        let bytes = index.to_bytes(format).context("serialising the index")?;
        let versions: usize = index.entries.values().map(Vec::len).sum();
        if self.dry_run {
            step(format!(
                "would write {} ({} bytes as {format}, {versions} versions of {} charts, {condition})",
                store.location(INDEX_KEY),
                bytes.len(),
                index.entries.len()
            ));
            return Ok(false);
        }
        let request = PutRequest {
            key: INDEX_KEY,
            bytes: &bytes,
            content_type: INDEX_CONTENT_TYPE,
            cache_control,
            condition: condition.clone(),
        };
        match store.put(request).await.context("writing the repository index")? {
            PutOutcome::Written(_) => {
                step(format!(
                    "wrote {} as {format} ({versions} versions of {} charts, {condition})",
                    store.location(INDEX_KEY),
                    index.entries.len()
                ));
                Ok(true)
            }
            PutOutcome::PreconditionFailed => bail!(
                "{} changed while it was being rebuilt (a release ran at the same time?); nothing was written: run \
                 `cargo xtask reindex` again",
                store.location(INDEX_KEY)
            ),
        }
    }
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
}
