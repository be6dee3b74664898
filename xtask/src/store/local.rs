//! The local-folder backend (`--local DIR`): one file per key, no AWS.
//!
//! - ETag: the lower-case hex sha256 of the content, so equal bytes have equal ETags.
//! - Conditional writes: an exclusive advisory lock on the folder itself (`File::lock`
//!   on its directory handle, released by the kernel even when the process is killed)
//!   guards compare-then-rename. No lock file is created, so the folder holds only what
//!   was published and can be copied or `aws s3 sync`ed as it is. The new content is written to a temporary file in the same
//!   folder and renamed over the key, so a reader sees the old or the new file, never a
//!   torn one, and a killed writer leaves only a stray temporary file (ignored by `list`).
//! - No sidecar metadata: content type and cache lifetime follow from the file name
//!   (`cargo xtask serve` sets the production headers the same way).

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Condition, ETag, Object, ObjectInfo, PutOutcome, PutRequest};
use crate::layout::{FileKind, sha256_hex};

/// The lock file older versions left in the folder; removed under the folder lock.
const LEGACY_LOCK_FILE: &str = ".kube9-store.lock";

/// A folder used as an object store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    pub(super) fn path(&self, key: &str) -> Result<PathBuf> {
        let ok = !key.is_empty()
            && !key.starts_with('.')
            && !key.contains('/')
            && !key.contains('\\')
            && key != LEGACY_LOCK_FILE;
        if !ok {
            bail!("invalid object key {key:?} for a local repository (a plain file name is expected)");
        }
        Ok(self.root.join(key))
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(Object { etag: ETag(sha256_hex(&bytes)), bytes })),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let Some(object) = self.get(key).await? else { return Ok(None) };
        Ok(Some(ObjectInfo {
            sha256: Some(object.etag.0.clone()),
            etag: object.etag,
            size: object.bytes.len() as u64,
            content_type: Some(FileKind::of(key).content_type().to_string()),
            cache_control: None,
        }))
    }

    pub async fn put(&self, request: PutRequest<'_>) -> Result<PutOutcome> {
        let path = self.path(request.key)?;
        let root = self.root.clone();
        let bytes = request.bytes.to_vec();
        let condition = request.condition.clone();
        // File locks and renames block: keep them off the async workers.
        tokio::task::spawn_blocking(move || put_blocking(&root, &path, &bytes, &condition))
            .await
            .context("local store writer panicked")?
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(keys),
            Err(err) => return Err(err).with_context(|| format!("listing {}", self.root.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", self.root.display()))?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let Ok(name) = entry.file_name().into_string() else { continue };
            if !name.starts_with('.') && name.starts_with(prefix) {
                keys.push(name);
            }
        }
        keys.sort();
        Ok(keys)
    }
}

fn put_blocking(root: &Path, path: &Path, bytes: &[u8], condition: &Condition) -> Result<PutOutcome> {
    fs::create_dir_all(root).with_context(|| format!("creating repository folder {}", root.display()))?;
    // flock(2) on the directory: every writer of this folder opens the same directory,
    // so they serialise exactly as on a lock file, and nothing is added to the folder.
    let lock = File::open(root).with_context(|| format!("opening repository folder {}", root.display()))?;
    // Held until `lock` is dropped at the end of this function (or the process dies).
    lock.lock().with_context(|| format!("locking repository folder {}", root.display()))?;
    let _ = fs::remove_file(root.join(LEGACY_LOCK_FILE));

    let current = match fs::read(path) {
        Ok(existing) => Some(ETag(sha256_hex(&existing))),
        Err(err) if err.kind() == ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let holds = match (condition, &current) {
        (Condition::None, _) => true,
        (Condition::IfNoneMatch, current) => current.is_none(),
        (Condition::IfMatch(expected), Some(current)) => expected == current,
        (Condition::IfMatch(_), None) => false,
    };
    if !holds {
        return Ok(PutOutcome::PreconditionFailed);
    }

    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
    let temp = root.join(format!(".{file_name}.tmp-{}-{}", std::process::id(), fastrand::u64(..)));
    let written = (|| -> std::io::Result<()> {
        let mut file = File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(err) = written {
        let _ = fs::remove_file(&temp);
        return Err(err).with_context(|| format!("writing {}", path.display()));
    }
    drop(lock);
    Ok(PutOutcome::Written(ETag(sha256_hex(bytes))))
}
