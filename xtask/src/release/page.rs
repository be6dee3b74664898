//! Publishing the landing page (`index.html`) after the index it is made from.
//!
//! **Invariant:** the page is derived from the index that is stored, never from what a
//! command meant to write. Each pass reads `index.yaml` with its ETag, then `yanked.json`
//! and the published keys (`pubkey.gpg`), renders, writes the page when it differs, then
//! checks the index ETag again. Those two files are read after the index because every
//! command writes them before the index it goes with (a yank: its record, then the index;
//! a signed release: its key, then the index), so a change to either is followed by an
//! index write, which the ETag check sees; when another release changed
//! the index meanwhile, it renders again. A release that has just written the index
//! starts from that index and the ETag its write returned (the stored index, without
//! reading it back) and writes the page without comparing it first (a new index means a
//! new page); the ETag check after the write is the same. The last page write of any writer is therefore
//! followed by a check against the final index, so two racing releases leave a page that
//! lists exactly the final index.

use std::borrow::Cow;

use anyhow::{Context, Result, bail};

use super::{StoredIndex, step, yank};
use crate::index::RepoIndex;
use crate::landing::{self, Contents, Site};
use crate::layout::{INDEX_KEY, PAGE_CONTENT_TYPE, PAGE_KEY, PUBKEY_GPG_KEY, sha256_hex};
use crate::provenance::Keyring;
use crate::retry::{self, Retry};
use crate::store::{Condition, PutOutcome, PutRequest, Store};

/// What happened to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAction {
    Written,
    /// The stored page already matches the index.
    Unchanged,
    WouldWrite,
    /// There is no index to make a page from.
    NoIndex,
}

impl PageAction {
    pub fn wrote(self) -> bool {
        self == PageAction::Written
    }
}

/// Regenerate `index.html` from the stored index (see the module invariant); `written`:
/// the index this run has just stored, if it wrote one.
pub async fn publish_page(
    store: &Store,
    site: &Site,
    cache_control: &str,
    dry_run: bool,
    mut written: Option<&StoredIndex>,
) -> Result<PageAction> {
    let mut wrote = false;
    // How often the index may change under us before giving up, and the wait between
    // passes.
    let mut passes = Retry::new(retry::PAGE_REWRITE);
    loop {
        let (index, etag, new_index) = match written.take() {
            Some(stored) => (Cow::Borrowed(&stored.index), stored.etag.clone(), true),
            None => {
                let Some(object) = store.get(INDEX_KEY).await.context("reading the index for the landing page")? else {
                    return Ok(PageAction::NoIndex);
                };
                let index = RepoIndex::parse(&object.bytes).map_err(|err| {
                    anyhow::anyhow!(
                        "the stored index {} does not parse ({err:#}), so the landing page cannot be made from it: \
                         run `cargo xtask reindex`",
                        store.location(INDEX_KEY)
                    )
                })?;
                (Cow::Owned(index), object.etag, false)
            }
        };
        let (yanks, _) = yank::read_yanks(store).await?;
        let signing_keys = published_key_fingerprints(store).await?;
        let html = landing::render(&Contents { index: &index, yanks: &yanks, signing_keys: &signing_keys }, site);
        let differs = new_index || {
            let stored = store.sha256_of(PAGE_KEY).await.context("reading the landing page")?;
            stored.as_ref().is_none_or(|(sha, _)| *sha != sha256_hex(html.as_bytes()))
        };
        if differs {
            if dry_run {
                step(format!(
                    "would write {} ({} bytes, {PAGE_CONTENT_TYPE}, Cache-Control: {cache_control})",
                    store.location(PAGE_KEY),
                    html.len()
                ));
                return Ok(PageAction::WouldWrite);
            }
            let request = PutRequest {
                key: PAGE_KEY,
                bytes: html.as_bytes(),
                content_type: PAGE_CONTENT_TYPE,
                cache_control,
                condition: Condition::None,
            };
            match store.put(request).await.context("writing the landing page")? {
                PutOutcome::Written(_) => wrote = true,
                PutOutcome::PreconditionFailed => {
                    bail!("{}: an unconditional write was refused", store.location(PAGE_KEY))
                }
            }
        }
        let now = store.head(INDEX_KEY).await.context("re-reading the index ETag")?.map(|info| info.etag);
        if now.as_ref() == Some(&etag) {
            if wrote {
                step(format!("  {}: written ({} versions)", store.location(PAGE_KEY), index.version_count()));
            }
            return Ok(if wrote { PageAction::Written } else { PageAction::Unchanged });
        }
        let announce = |backoff: retry::Backoff| {
            step(format!(
                "  {INDEX_KEY} changed while the landing page was written: rendering it again in {} ms",
                backoff.delay.as_millis()
            ));
        };
        if passes.wait(announce).await.is_err() {
            bail!(
                "{}: the index kept changing while the landing page was written ({} passes); re-run `cargo xtask \
                 reindex` to regenerate it",
                store.location(PAGE_KEY),
                passes.attempt()
            );
        }
    }
}

/// The fingerprints of the published keys (`pubkey.gpg`), oldest first; none when nothing
/// was signed. A keyring that does not parse leaves the page without the verify
/// instructions, with a warning (the release that signs next refuses to touch it).
async fn published_key_fingerprints(store: &Store) -> Result<Vec<String>> {
    let Some(object) = store.get(PUBKEY_GPG_KEY).await.context("reading the published keys for the landing page")?
    else {
        return Ok(Vec::new());
    };
    match Keyring::parse(&object.bytes) {
        Ok(keyring) => Ok(keyring.fingerprints()),
        Err(err) => {
            let warning = format!(
                "{} does not parse ({err:#}): the landing page says nothing about verifying releases",
                store.location(PUBKEY_GPG_KEY)
            );
            tracing::warn!("{warning}");
            step(format!("  warning: {warning}"));
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    /// The page follows the index that is stored, and a stale page written by a slower
    /// racer is repaired by the next pass of anyone.
    #[tokio::test]
    async fn the_page_follows_the_stored_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path()));
        let site = Site::new("http://127.0.0.1:8879", "kube9.io");
        assert_eq!(publish_page(&store, &site, "public, max-age=300", false, None).await.unwrap(), PageAction::NoIndex);

        let index =
            "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    urls: [demo-1.0.0.tgz]\n";
        std::fs::write(dir.path().join(INDEX_KEY), index).unwrap();
        assert_eq!(
            publish_page(&store, &site, "public, max-age=300", true, None).await.unwrap(),
            PageAction::WouldWrite
        );
        assert!(!dir.path().join(PAGE_KEY).exists(), "a dry run wrote the page");
        assert_eq!(publish_page(&store, &site, "public, max-age=300", false, None).await.unwrap(), PageAction::Written);
        assert_eq!(
            publish_page(&store, &site, "public, max-age=300", false, None).await.unwrap(),
            PageAction::Unchanged
        );

        // A racer's stale page lands after the index moved on: the next pass repairs it.
        let stale = std::fs::read_to_string(dir.path().join(PAGE_KEY)).unwrap();
        let newer = format!("{index}  - name: demo\n    version: 2.0.0\n    urls: [demo-2.0.0.tgz]\n");
        std::fs::write(dir.path().join(INDEX_KEY), &newer).unwrap();
        std::fs::write(dir.path().join(PAGE_KEY), &stale).unwrap();
        assert_eq!(publish_page(&store, &site, "public, max-age=300", false, None).await.unwrap(), PageAction::Written);
        let page = std::fs::read_to_string(dir.path().join(PAGE_KEY)).unwrap();
        let listed = landing::listed_versions(&page);
        assert_eq!(listed, landing::index_versions(&RepoIndex::parse(newer.as_bytes()).unwrap()));
    }

    /// A release passes the index it has just stored: the page is made from it, and when
    /// another release has changed the index since, the ETag check renders the newer one.
    #[tokio::test]
    async fn the_page_starts_from_the_index_a_release_just_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Local(LocalStore::new(dir.path()));
        let site = Site::new("http://127.0.0.1:8879", "kube9.io");
        let one = "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    urls: [demo-1.0.0.tgz]\n";
        let two = format!("{one}  - name: demo\n    version: 2.0.0\n    urls: [demo-2.0.0.tgz]\n");
        let stored = |text: &str| StoredIndex {
            index: RepoIndex::parse(text.as_bytes()).unwrap(),
            etag: crate::store::ETag(sha256_hex(text.as_bytes())),
        };
        let listed = || landing::listed_versions(&std::fs::read_to_string(dir.path().join(PAGE_KEY)).unwrap());

        std::fs::write(dir.path().join(INDEX_KEY), one).unwrap();
        let action = publish_page(&store, &site, "public, max-age=300", false, Some(&stored(one))).await.unwrap();
        assert_eq!(action, PageAction::Written);
        assert_eq!(listed(), landing::index_versions(&stored(one).index));

        // Another release stored 2.0.0 after this one stored `one`: the page follows the store.
        std::fs::write(dir.path().join(INDEX_KEY), &two).unwrap();
        let action = publish_page(&store, &site, "public, max-age=300", false, Some(&stored(one))).await.unwrap();
        assert_eq!(action, PageAction::Written);
        assert_eq!(listed(), landing::index_versions(&stored(&two).index));
    }
}
