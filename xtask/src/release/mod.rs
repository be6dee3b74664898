//! Publishing chart packages into a repository [`Store`]: the algorithm behind
//! `cargo xtask release-chart` and `cargo xtask reindex`, for S3 and local folders alike.
//!
//! **Invariants**
//! - A package is stored before any index that names it is written, so an index never
//!   points at a missing file, whenever the process stops.
//! - Package objects are create-only (`If-None-Match: *`): an existing package with other
//!   bytes is never overwritten (unless `--force`); an identical one is not rewritten.
//! - `index.yaml` is only written with a condition on what was read (`If-Match` ETag, or
//!   `If-None-Match: *` when there was none). A lost race re-reads, re-merges and retries
//!   with jittered exponential backoff, so concurrent releases never drop each other's
//!   versions.
//! - A stored index that does not parse is never overwritten (the error names `reindex`).
//! - A yanked version ([`yank`], `yanked.json`) is never published again, whatever its
//!   content and even with `--force`, until the yank is undone.
//! - Nothing is written when nothing changed, and nothing at all with `--dry-run`.

pub mod cdn;
pub mod oci;
pub mod page;
pub mod reindex;
pub mod sign;
pub mod summary;
pub mod target;
pub mod yank;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use crate::chart::{ChartMetadata, ChartPackage};
use crate::config::CachePolicy;
use crate::index::{IndexEntry, MergeOutcome, RepoIndex};
use crate::layout::{
    ARTIFACTHUB_KEY, FileKind, INDEX_KEY, IndexFormat, PACKAGE_CONTENT_TYPE, YAML_CONTENT_TYPE, sha256_hex,
};
use crate::provenance::{Keyring, Signer};
use crate::retry::{self, Backoff, Retry};
use crate::store::{Condition, ETag, PutOutcome, PutRequest, Store};
use crate::yanked::YankLog;

/// How to publish.
#[derive(Debug, Clone)]
pub struct Options {
    /// Public base URL of the repository; index URLs are `{base_url}/NAME-VERSION.tgz`.
    pub base_url: String,
    /// Replace a published version whose content differs.
    pub force: bool,
    /// Read, decide and print; write nothing.
    pub dry_run: bool,
    /// Cache-Control of each kind of object.
    pub cache: CachePolicy,
    /// How `index.yaml` is written (`[index] format`).
    pub index_format: IndexFormat,
    /// Sign every package (`NAME-VERSION.tgz.prov`) and publish the public key ([`sign`]).
    pub signer: Option<Arc<Signer>>,
    /// Also sign versions the index already lists without a `.prov`.
    pub sign_existing: bool,
    /// Also push each package to this OCI repository ([`oci`]).
    pub oci: Option<oci::OciChannel>,
}

/// What happened to one package object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageAction {
    Uploaded,
    /// Already stored with identical bytes: not written again.
    AlreadyPresent,
    /// Listed in the index but missing from the store: uploaded again.
    Restored,
    /// Different bytes replaced by `--force`.
    Replaced,
    WouldUpload,
    WouldReplace,
}

impl PackageAction {
    pub fn describe(self) -> &'static str {
        match self {
            PackageAction::Uploaded => "uploaded",
            PackageAction::AlreadyPresent => "already present, identical (not written)",
            PackageAction::Restored => "was missing, uploaded again",
            PackageAction::Replaced => "replaced (--force)",
            PackageAction::WouldUpload => "would upload (dry run)",
            PackageAction::WouldReplace => "would replace (dry run, --force)",
        }
    }

    pub fn wrote(self) -> bool {
        matches!(self, PackageAction::Uploaded | PackageAction::Restored | PackageAction::Replaced)
    }
}

/// What happened to `index.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexAction {
    /// Written on this attempt (1 = no race lost).
    Written {
        attempt: u32,
    },
    /// Every version was already listed with the same digest: not written.
    Unchanged,
    WouldWrite,
}

/// One published chart version.
#[derive(Debug, Clone)]
pub struct PublishedChart {
    pub metadata: ChartMetadata,
    pub file_name: String,
    pub digest: String,
    pub package_url: String,
    pub merge: MergeOutcome,
    pub package: PackageAction,
    /// `None` when not signing.
    pub provenance: Option<sign::ProvAction>,
    /// `None` without an OCI channel.
    pub oci: Option<oci::OciPush>,
}

/// The result of [`publish`].
#[derive(Debug, Clone)]
pub struct Report {
    pub charts: Vec<PublishedChart>,
    pub index_url: String,
    pub index: IndexAction,
    /// The index as this run stored it, when it wrote one (the landing page starts
    /// from it instead of reading it back).
    pub stored: Option<StoredIndex>,
    /// When signing: the signing key's fingerprint and the keyring published with it.
    pub signing: Option<Signing>,
}

/// An index a command has just stored: the index parsed from the bytes it wrote, and the
/// ETag the store gave them.
#[derive(Debug, Clone)]
pub struct StoredIndex {
    pub index: RepoIndex,
    pub etag: ETag,
}

/// What a signed release used and published.
#[derive(Debug, Clone)]
pub struct Signing {
    pub fingerprint: String,
    /// Every key of the published `pubkey.gpg` (the signing key included).
    pub keyring: Keyring,
    /// `pubkey.gpg` / `pubkey.asc` were (or would be) written.
    pub keys_written: bool,
}

impl Report {
    /// Whether users can see something new (and a CDN cache must be invalidated).
    pub fn changed(&self) -> bool {
        matches!(self.index, IndexAction::Written { .. })
            || self.charts.iter().any(|c| matches!(c.package, PackageAction::Replaced | PackageAction::Restored))
            || self.charts.iter().any(|c| c.provenance.is_some_and(sign::ProvAction::wrote))
            || self.signing.as_ref().is_some_and(|s| s.keys_written)
    }
}

/// Print one step of the release (stdout: it is the command's report).
pub fn step(message: impl std::fmt::Display) {
    crate::outln!("{message}");
}

/// Read `index.yaml` and the condition for writing it back.
pub async fn read_index(store: &Store) -> Result<(RepoIndex, Condition)> {
    read_index_with_format(store).await.map(|(index, condition, _)| (index, condition))
}

/// [`read_index`], plus the format the stored index is in (`None`: no index yet).
pub async fn read_index_with_format(store: &Store) -> Result<(RepoIndex, Condition, Option<IndexFormat>)> {
    match store.get(INDEX_KEY).await.context("reading the repository index")? {
        None => Ok((RepoIndex::new(), Condition::IfNoneMatch, None)),
        Some(object) => {
            let index = RepoIndex::parse(&object.bytes).map_err(|err| {
                anyhow::anyhow!(
                    "the stored index {} does not parse ({err:#}); it was left untouched: run `cargo xtask reindex` \
                     to rebuild it from the stored packages",
                    store.location(INDEX_KEY)
                )
            })?;
            Ok((index, Condition::IfMatch(object.etag), Some(IndexFormat::of(&object.bytes))))
        }
    }
}

/// Whether an index stored in `stored` must be rewritten to be in `wanted` (a switch of
/// `[index] format` converts the index on the next release even when no version is new).
fn format_changes(stored: Option<IndexFormat>, wanted: IndexFormat) -> bool {
    stored.is_some_and(|stored| stored != wanted)
}

/// Merge every entry; a version already listed with another digest is refused unless
/// `force`, and a yanked version always.
fn merge_all(index: &mut RepoIndex, entries: &[IndexEntry], force: bool, yanks: &YankLog) -> Result<Vec<MergeOutcome>> {
    let mut outcomes = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = &entry.metadata.name;
        let version = &entry.metadata.version;
        if let Some(yank) = yanks.active_yank(name, version) {
            bail!(
                "{name} {version} is {} (digest {}): a yanked version is never published again, whatever its \
                 content, not even with --force; publish a new version, or put this one back with `cargo xtask yank \
                 {} {} --undo`",
                yank.when_and_why(),
                yank.digest,
                yank.chart,
                yank.version
            );
        }
        let listed = index.get(name, version).map(|e| e.digest.clone());
        if let Some(listed) = listed
            && listed != entry.digest
            && !force
        {
            bail!(
                "{name} {version} is already published with digest {listed}, but this package has digest {}: a \
                 published version never changes; {} (or pass --force to replace it)",
                entry.digest,
                crate::project::version_bump_fix(name)
            );
        }
        let outcome =
            index.add(entry.clone(), force).with_context(|| format!("merging {name} {version} into the index"))?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Publish `packages` into `store`: packages first, then one conditional index write.
pub async fn publish(store: &Store, packages: &[ChartPackage], options: &Options) -> Result<Report> {
    let base_url = options.base_url.trim_end_matches('/');
    let created: DateTime<Utc> = Utc::now();
    let entries: Vec<IndexEntry> = packages.iter().map(|p| p.index_entry(base_url, created)).collect();

    step(format!("reading {}", store.location(INDEX_KEY)));
    let (mut index, condition, stored_format) = read_index_with_format(store).await?;
    if condition == Condition::IfNoneMatch {
        step("  no index yet: starting a new one");
    }
    // After the index: a yank writes its record before the index it changes.
    let (yanks, _) = yank::read_yanks(store).await?;
    let merges = merge_all(&mut index, &entries, options.force, &yanks)?;

    let signing = match &options.signer {
        None => None,
        Some(signer) => {
            step(format!("signing with key {}", signer.fingerprint()));
            let (keyring, keys_written) = sign::publish_public_keys(store, signer, options).await?;
            Some(Signing { fingerprint: signer.fingerprint().to_string(), keyring, keys_written })
        }
    };
    let mut charts = Vec::with_capacity(packages.len());
    for (package, merge) in packages.iter().zip(&merges) {
        let action = store_package(store, package, *merge, options).await?;
        let detail = match action {
            PackageAction::WouldUpload | PackageAction::WouldReplace => format!(
                " ({} bytes, {PACKAGE_CONTENT_TYPE}, Cache-Control: {}, {})",
                package.bytes.len(),
                options.cache.package_cache_control,
                if action == PackageAction::WouldUpload { "If-None-Match: *" } else { "unconditional" }
            ),
            _ => String::new(),
        };
        step(format!("  {}: {}{detail}", store.location(&package.file_name), action.describe()));
        let provenance = match &options.signer {
            None => None,
            Some(signer) => {
                let prov = sign::store_provenance(store, signer, package, *merge, action, options).await?;
                let name = crate::layout::prov_key(&package.file_name);
                step(format!("  {}: {}", store.location(&name), prov.describe()));
                Some(prov)
            }
        };
        let oci = match &options.oci {
            None => None,
            Some(channel) => {
                let listed = index.get(&package.metadata.name, &package.metadata.version).and_then(|e| e.created);
                Some(oci::push_package(store, channel, package, listed.unwrap_or(created), options).await?)
            }
        };
        charts.push(PublishedChart {
            metadata: package.metadata.clone(),
            file_name: package.file_name.clone(),
            digest: package.digest.clone(),
            package_url: format!("{base_url}/{}", package.file_name),
            merge: *merge,
            package: action,
            provenance,
            oci,
        });
    }
    let report = |charts, index, stored| Report {
        charts,
        index_url: format!("{base_url}/{INDEX_KEY}"),
        index,
        stored,
        signing: signing.clone(),
    };

    let converting = format_changes(stored_format, options.index_format);
    if merges.iter().all(|m| *m == MergeOutcome::Unchanged) && !converting {
        step(format!("{INDEX_KEY}: every version is already listed with the same digest, nothing to write"));
        return Ok(report(charts, IndexAction::Unchanged, None));
    }
    if converting {
        step(format!(
            "  {INDEX_KEY} is stored as {}, the configured format is {}: converting it (every entry and its \
             `created` kept)",
            stored_format.map_or("-", IndexFormat::as_str),
            options.index_format
        ));
    }
    if options.dry_run {
        let bytes = index.to_bytes(options.index_format)?;
        step(format!(
            "would write {} ({} bytes as {}, {YAML_CONTENT_TYPE}, Cache-Control: {}, {condition})",
            store.location(INDEX_KEY),
            bytes.len(),
            options.index_format,
            options.cache.index_cache_control
        ));
        return Ok(report(charts, IndexAction::WouldWrite, None));
    }

    let (action, index, etag) = write_index_conditionally(
        store,
        options.index_format,
        &options.cache.index_cache_control,
        index,
        condition,
        async || {
            let (mut index, condition, stored_format) = read_index_with_format(store).await?;
            let (yanks, _) = yank::read_yanks(store).await?;
            let merges = merge_all(&mut index, &entries, options.force, &yanks)?;
            let unchanged = merges.iter().all(|m| *m == MergeOutcome::Unchanged)
                && !format_changes(stored_format, options.index_format);
            Ok((!unchanged).then_some((index, condition)))
        },
    )
    .await?;
    let stored = etag.map(|etag| StoredIndex { index, etag });
    Ok(report(charts, action, stored))
}

/// The one conditional index write, shared by release and reindex: write `index` with
/// `condition` (from the read it was computed from); when another writer won the race
/// (`PreconditionFailed`), wait a jittered backoff, let `recompute` read the stored index
/// again and compute the next one from it (`None`: nothing left to write), and try
/// again, as [`retry::INDEX_WRITE`] allows. Returns what happened, the last index
/// computed, and the stored index's ETag when it was written.
pub async fn write_index_conditionally(
    store: &Store,
    format: IndexFormat,
    cache_control: &str,
    mut index: RepoIndex,
    mut condition: Condition,
    mut recompute: impl AsyncFnMut() -> Result<Option<(RepoIndex, Condition)>>,
) -> Result<(IndexAction, RepoIndex, Option<ETag>)> {
    let mut retry = Retry::new(retry::INDEX_WRITE);
    loop {
        let bytes = index.to_bytes(format).context("serialising the index")?;
        let request = PutRequest {
            key: INDEX_KEY,
            bytes: &bytes,
            content_type: YAML_CONTENT_TYPE,
            cache_control,
            condition: condition.clone(),
        };
        match store.put(request).await.context("writing the repository index")? {
            PutOutcome::Written(etag) => {
                step(format!("  {}: written ({condition})", store.location(INDEX_KEY)));
                // What is stored, as every reader parses it: the landing page is made from
                // exactly that (the model in memory can differ in what the text keeps,
                // e.g. the precision of `created`).
                let stored = RepoIndex::parse(&bytes).context("parsing the index just written")?;
                return Ok((IndexAction::Written { attempt: retry.attempt() }, stored, Some(etag)));
            }
            PutOutcome::PreconditionFailed => {
                let announce = |backoff: Backoff| {
                    step(format!(
                        "  {INDEX_KEY} changed since it was read (another release?): reading it again in {} ms",
                        backoff.delay.as_millis()
                    ));
                };
                if retry.wait(announce).await.is_err() {
                    bail!(
                        "writing {}: another writer changed it {} times in a row; the packages are stored, so \
                         nothing is lost: re-run the command to add them to the index",
                        store.location(INDEX_KEY),
                        retry.attempt()
                    );
                }
                match recompute().await? {
                    Some((next, next_condition)) => (index, condition) = (next, next_condition),
                    None => {
                        step(format!("  {INDEX_KEY} already lists every version: nothing to write"));
                        return Ok((IndexAction::Unchanged, index, None));
                    }
                }
            }
        }
    }
}

/// Store one package object according to what the merge decided.
async fn store_package(
    store: &Store,
    package: &ChartPackage,
    merge: MergeOutcome,
    options: &Options,
) -> Result<PackageAction> {
    let key = package.file_name.as_str();
    let put = |condition| PutRequest {
        key,
        bytes: &package.bytes,
        content_type: PACKAGE_CONTENT_TYPE,
        cache_control: &options.cache.package_cache_control,
        condition,
    };
    debug_assert_eq!(package.digest, sha256_hex(&package.bytes));
    let refuse = |stored: &str| {
        anyhow::anyhow!(
            "{} already exists with different content (sha256 {stored}, this build {}); a published package never \
             changes: {} (or pass --force to replace it)",
            store.location(key),
            package.digest,
            crate::project::version_bump_fix(&package.metadata.name)
        )
    };

    if merge == MergeOutcome::Replaced {
        if options.dry_run {
            return Ok(PackageAction::WouldReplace);
        }
        let _ = store.put(put(Condition::None)).await.with_context(|| format!("uploading {key}"))?;
        return Ok(PackageAction::Replaced);
    }

    // Dry run, or a version the index already lists: look before writing.
    if options.dry_run || merge == MergeOutcome::Unchanged {
        return match store.sha256_of(key).await? {
            Some((stored, _)) if stored == package.digest => Ok(PackageAction::AlreadyPresent),
            Some(_) if options.force && options.dry_run => Ok(PackageAction::WouldReplace),
            Some((_, etag)) if options.force => {
                let _ = store.put(put(Condition::IfMatch(etag))).await?;
                Ok(PackageAction::Replaced)
            }
            Some((stored, _)) => Err(refuse(&stored)),
            None if options.dry_run => Ok(PackageAction::WouldUpload),
            None => match store.put(put(Condition::IfNoneMatch)).await? {
                PutOutcome::Written(_) => Ok(PackageAction::Restored),
                PutOutcome::PreconditionFailed => Ok(PackageAction::AlreadyPresent),
            },
        };
    }

    // A new version: create-only, so the common case costs one request.
    match store.put(put(Condition::IfNoneMatch)).await.with_context(|| format!("uploading {key}"))? {
        PutOutcome::Written(_) => Ok(PackageAction::Uploaded),
        PutOutcome::PreconditionFailed => match store.sha256_of(key).await? {
            // Left by an interrupted run (or a concurrent identical release): reuse it.
            Some((stored, _)) if stored == package.digest => Ok(PackageAction::AlreadyPresent),
            Some((_, etag)) if options.force => match store.put(put(Condition::IfMatch(etag))).await? {
                PutOutcome::Written(_) => Ok(PackageAction::Replaced),
                PutOutcome::PreconditionFailed => bail!("{} changed while it was being replaced", store.location(key)),
            },
            Some((stored, _)) => Err(refuse(&stored)),
            None => bail!("{} vanished right after it was found", store.location(key)),
        },
    }
}

/// Publish the Artifact Hub metadata file (`charts/artifacthub-repo.yml`) at the
/// repository root when the stored copy differs; an identical one costs one `HEAD` and
/// no write. Returns whether it was (or, in a dry run, would be) written.
pub async fn publish_artifacthub_metadata(store: &Store, source: &Path, options: &Options) -> Result<bool> {
    let bytes = match std::fs::read(source) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err).with_context(|| format!("reading {}", source.display())),
    };
    serde_yaml::from_slice::<serde_yaml::Value>(&bytes)
        .with_context(|| format!("{} is not valid YAML; Artifact Hub would reject it", source.display()))?;
    let digest = sha256_hex(&bytes);
    let stored = store.sha256_of(ARTIFACTHUB_KEY).await?;
    if stored.as_ref().is_some_and(|(sha, _)| *sha == digest) {
        return Ok(false);
    }
    if options.dry_run {
        step(format!(
            "  would write {} ({} bytes, {})",
            store.location(ARTIFACTHUB_KEY),
            bytes.len(),
            FileKind::ArtifactHub.content_type()
        ));
        return Ok(true);
    }
    let request = PutRequest {
        key: ARTIFACTHUB_KEY,
        bytes: &bytes,
        content_type: FileKind::ArtifactHub.content_type(),
        cache_control: &options.cache.index_cache_control,
        condition: Condition::None,
    };
    match store.put(request).await? {
        PutOutcome::Written(_) => {
            step(format!("  {}: written", store.location(ARTIFACTHUB_KEY)));
            Ok(true)
        }
        PutOutcome::PreconditionFailed => {
            bail!("{}: an unconditional write was refused", store.location(ARTIFACTHUB_KEY))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options of an unsigned YAML release to `base_url`, with the default cache policies.
    pub(super) fn test_options(base_url: &str) -> Options {
        Options {
            base_url: base_url.into(),
            force: false,
            dry_run: false,
            cache: CachePolicy::default(),
            index_format: IndexFormat::Yaml,
            signer: None,
            sign_existing: false,
            oci: None,
        }
    }

    /// The publishing algorithm on a local store: add, no-op, refuse, force.
    #[tokio::test]
    async fn publish_adds_then_is_a_no_op_then_refuses_changed_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(crate::store::LocalStore::new(dir.path()));
        let chart = dir.path().join("chart");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        let write = |note: &str| {
            std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.0.0\n").unwrap();
            std::fs::write(chart.join("values.yaml"), format!("note: {note}\n")).unwrap();
            crate::chart::package_chart(&chart).unwrap()
        };
        let options = test_options("https://charts.example.com/");
        let first = publish(&store, &[write("a")], &options).await.unwrap();
        assert_eq!(first.index, IndexAction::Written { attempt: 1 });
        assert_eq!(first.charts[0].package, PackageAction::Uploaded);
        assert_eq!(first.charts[0].package_url, "https://charts.example.com/demo-1.0.0.tgz");

        let again = publish(&store, &[write("a")], &options).await.unwrap();
        assert_eq!(again.index, IndexAction::Unchanged);
        assert_eq!(again.charts[0].package, PackageAction::AlreadyPresent);
        assert!(!again.changed());

        let err = publish(&store, &[write("b")], &options).await.unwrap_err();
        assert!(format!("{err:#}").contains("already published"), "{err:#}");

        let forced = publish(&store, &[write("b")], &Options { force: true, ..options.clone() }).await.unwrap();
        assert_eq!(forced.charts[0].package, PackageAction::Replaced);
        assert!(forced.changed());

        // Switching the format converts the index on the next release, even with no new
        // version, and keeps every entry and its `created`.
        let before = RepoIndex::parse(&std::fs::read(dir.path().join(INDEX_KEY)).unwrap()).unwrap();
        let json = Options { index_format: IndexFormat::Json, force: true, ..options.clone() };
        let converted = publish(&store, &[write("b")], &json).await.unwrap();
        assert_eq!(converted.index, IndexAction::Written { attempt: 1 });
        let bytes = std::fs::read(dir.path().join(INDEX_KEY)).unwrap();
        assert_eq!(IndexFormat::of(&bytes), IndexFormat::Json);
        let after = RepoIndex::parse(&bytes).unwrap();
        assert_eq!(after.entries, before.entries);
        let again = publish(&store, &[write("b")], &json).await.unwrap();
        assert_eq!(again.index, IndexAction::Unchanged);
        let back = publish(&store, &[write("b")], &Options { force: true, ..options }).await.unwrap();
        assert_eq!(back.index, IndexAction::Written { attempt: 1 });
        let bytes = std::fs::read(dir.path().join(INDEX_KEY)).unwrap();
        assert_eq!(IndexFormat::of(&bytes), IndexFormat::Yaml);
        assert_eq!(RepoIndex::parse(&bytes).unwrap().entries, before.entries);
    }

    #[test]
    fn only_a_stored_index_in_another_format_is_converted() {
        assert!(!format_changes(None, IndexFormat::Json));
        assert!(!format_changes(Some(IndexFormat::Json), IndexFormat::Json));
        assert!(format_changes(Some(IndexFormat::Yaml), IndexFormat::Json));
        assert!(format_changes(Some(IndexFormat::Json), IndexFormat::Yaml));
    }

    /// The operator chart's version is the crate's: its fix names the crate and
    /// `sync-version`, whichever check (index or stored package) refuses.
    #[tokio::test]
    async fn changed_operator_chart_content_names_the_crate_version_fix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(crate::store::LocalStore::new(dir.path().join("repo")));
        let chart = dir.path().join("chart");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        let write = |note: &str| {
            let yaml = format!("apiVersion: v2\nname: {}\nversion: 1.0.0\n", crate::project::OPERATOR_CHART);
            std::fs::write(chart.join("Chart.yaml"), yaml).unwrap();
            std::fs::write(chart.join("values.yaml"), format!("note: {note}\n")).unwrap();
            crate::chart::package_chart(&chart).unwrap()
        };
        let options = test_options("http://127.0.0.1:8879");
        publish(&store, &[write("a")], &options).await.unwrap();
        let fix = "bump the operator crate version in operator/Cargo.toml, then `cargo xtask sync-version`";
        let err = format!("{:#}", publish(&store, &[write("b")], &options).await.unwrap_err());
        assert!(err.contains(fix) && !err.contains("bump the chart version"), "{err}");
        // The package alone (an index that lost the entry) is refused with the same fix.
        std::fs::remove_file(dir.path().join("repo").join(INDEX_KEY)).unwrap();
        let err = format!("{:#}", publish(&store, &[write("b")], &options).await.unwrap_err());
        assert!(err.contains("already exists with different content") && err.contains(fix), "{err}");
    }
}
