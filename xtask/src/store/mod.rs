//! Object storage for the chart repository: an S3 bucket or a local folder behind one seam.
//!
//! [`Store`] is an enum over the two backends and dispatches native `async fn`s without
//! `dyn` or `async_trait` (the docs.rs storage pattern). Every operation has a typed
//! outcome for the cases callers branch on, so nobody parses error text:
//!
//! - [`Store::get`]: `Ok(Some(object))` with its [`ETag`]; `Ok(None)` when the key does not
//!   exist; `Err` for everything else (missing bucket, access denied, I/O), with context.
//! - [`Store::head`]: the same without the bytes.
//! - [`Store::put`]: [`PutOutcome::Written`] with the new ETag, or
//!   [`PutOutcome::PreconditionFailed`] when the [`Condition`] did not hold (someone else
//!   wrote first); `Err` otherwise.
//! - [`Store::list`]: every key under a prefix, sorted.
//!
//! Conditional writes are atomic on both backends: S3 evaluates `If-Match` /
//! `If-None-Match: *` server side; the local folder takes an exclusive file lock for the
//! compare-and-rename (see [`LocalStore`]). This is what lets concurrent releases race
//! without losing an index update.

mod local;
mod s3;

#[cfg(test)]
mod tests;

use std::fmt;

use anyhow::Result;

pub use local::LocalStore;
pub use s3::S3Store;

/// An opaque version tag of a stored object, as the backend reports it (S3: the quoted
/// ETag header; local: the sha256 of the content). Only ever compared for equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(pub String);

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object read back from the store.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub etag: ETag,
}

/// What a `HEAD` tells about an object.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub etag: ETag,
    pub size: u64,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    /// Lower-case hex sha256 of the content when the store knows it without reading the
    /// bytes (S3: the `sha256` metadata this tool writes; local: always).
    pub sha256: Option<String>,
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    None,
    /// Only when the stored object still has this ETag (S3 `If-Match`).
    IfMatch(ETag),
    /// Only when no object exists under the key (S3 `If-None-Match: *`): create-only.
    IfNoneMatch,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::None => f.write_str("unconditional"),
            Condition::IfMatch(etag) => write!(f, "If-Match: {etag}"),
            Condition::IfNoneMatch => f.write_str("If-None-Match: *"),
        }
    }
}

/// One write.
#[derive(Debug, Clone)]
pub struct PutRequest<'a> {
    pub key: &'a str,
    pub bytes: &'a [u8],
    pub content_type: &'a str,
    pub cache_control: &'a str,
    pub condition: Condition,
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum PutOutcome {
    /// The object was written; its new ETag.
    Written(ETag),
    /// The condition did not hold: nothing was written.
    PreconditionFailed,
}

/// The repository's object store.
#[derive(Debug, Clone)]
pub enum Store {
    S3(S3Store),
    Local(LocalStore),
}

/// The same call on whichever store this is.
macro_rules! on_either {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            Store::S3($store) => $call,
            Store::Local($store) => $call,
        }
    };
}

impl Store {
    /// Where an object lives, for messages: `s3://BUCKET/KEY` or a file path.
    pub fn location(&self, key: &str) -> String {
        on_either!(self, store => store.location(key))
    }

    /// Read an object. `Ok(None)`: no object under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        on_either!(self, store => store.get(key).await)
    }

    /// Describe an object without reading it. `Ok(None)`: no object under `key`.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        on_either!(self, store => store.head(key).await)
    }

    /// Write an object if `request.condition` holds, atomically.
    pub async fn put(&self, request: PutRequest<'_>) -> Result<PutOutcome> {
        on_either!(self, store => store.put(request).await)
    }

    /// Every key that starts with `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        on_either!(self, store => store.list(prefix).await)
    }

    /// The sha256 of a stored object: from `HEAD` when the store knows it, else by reading
    /// the bytes. `Ok(None)`: no object under `key`.
    pub async fn sha256_of(&self, key: &str) -> Result<Option<(String, ETag)>> {
        let Some(info) = self.head(key).await? else { return Ok(None) };
        if let Some(sha) = info.sha256 {
            return Ok(Some((sha, info.etag)));
        }
        Ok(self.get(key).await?.map(|object| (crate::layout::sha256_hex(&object.bytes), object.etag)))
    }
}
