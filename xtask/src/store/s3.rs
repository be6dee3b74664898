//! The S3 backend: one bucket, conditional writes evaluated by S3 itself.
//!
//! Clients come from [`crate::aws::Clients`] (path-style addressing when
//! `AWS_ENDPOINT_URL` is set). Errors are classified by their S3 error code through
//! [`SdkErrorExt`], never by their message.

use anyhow::{Context, Result, anyhow};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::{ETag, Object, ObjectInfo, PutOutcome, PutRequest};

/// User metadata key holding the sha256 of a package (`x-amz-meta-sha256`), so "is the
/// stored package identical?" costs one `HEAD` instead of a download.
const SHA256_METADATA: &str = "sha256";

/// An S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// The S3 outcomes callers branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorKind {
    /// The key does not exist (`NoSuchKey`, or a bodiless 404 on `HEAD`).
    NotFound,
    /// The bucket does not exist (`NoSuchBucket`).
    NoSuchBucket,
    /// A conditional write lost (`PreconditionFailed` 412).
    PreconditionFailed,
    /// `ConditionalRequestConflict` 409: another write on the key was in flight; the
    /// condition was not evaluated, so the write is retried (AWS's advice), never read as
    /// an outcome.
    Conflict,
    /// `AccessDenied` / 403.
    AccessDenied,
    /// Anything else.
    Other,
}

/// Classifies AWS SDK errors by error code and HTTP status.
pub trait SdkErrorExt {
    /// The service error code, when the service sent one.
    fn error_code(&self) -> Option<&str>;
    /// The HTTP status, when a response arrived.
    fn http_status(&self) -> Option<u16>;
    /// The typed outcome.
    fn kind(&self) -> S3ErrorKind;
    /// `CODE: message` or the full error chain for transport errors, for messages.
    fn explain(&self) -> String;
}

impl<E> SdkErrorExt for SdkError<E, HttpResponse>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn error_code(&self) -> Option<&str> {
        ProvideErrorMetadata::code(self)
    }

    fn http_status(&self) -> Option<u16> {
        self.raw_response().map(|response| response.status().as_u16())
    }

    fn kind(&self) -> S3ErrorKind {
        match (self.error_code(), self.http_status()) {
            (Some("NoSuchBucket"), _) => S3ErrorKind::NoSuchBucket,
            (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => S3ErrorKind::NotFound,
            (Some("PreconditionFailed"), _) | (None, Some(412)) => S3ErrorKind::PreconditionFailed,
            (Some("ConditionalRequestConflict"), _) | (None, Some(409)) => S3ErrorKind::Conflict,
            (Some("AccessDenied" | "AllAccessDisabled"), _) | (None, Some(403)) => S3ErrorKind::AccessDenied,
            _ => S3ErrorKind::Other,
        }
    }

    fn explain(&self) -> String {
        match (self.error_code(), ProvideErrorMetadata::message(self)) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            // A response without a parsable error: its status only (the SDK's account of
            // it is a Debug dump of the raw response).
            _ => match self.http_status() {
                Some(status) => format!("HTTP {status} without an error code the SDK could parse"),
                None => DisplayErrorContext(self).to_string(),
            },
        }
    }
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> S3Store {
        S3Store { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn failure(&self, operation: &str, key: &str, err: &impl SdkErrorExt) -> anyhow::Error {
        match err.kind() {
            S3ErrorKind::NoSuchBucket => anyhow!(
                "S3 {operation} {}: bucket {} does not exist ({}); run `cargo xtask deploy-infra` to create it",
                self.location(key),
                self.bucket,
                err.explain()
            ),
            S3ErrorKind::AccessDenied => anyhow!(
                "S3 {operation} {}: access denied ({}); the release role needs s3:GetObject, s3:PutObject and \
                 s3:ListBucket on bucket {} (see `cargo xtask iam-policy`)",
                self.location(key),
                err.explain(),
                self.bucket
            ),
            _ => anyhow!("S3 {operation} {} failed: {}", self.location(key), err.explain()),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        let response = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(response) => response,
            Err(err) if err.kind() == S3ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.failure("GetObject", key, &err)),
        };
        let etag = ETag(response.e_tag.clone().unwrap_or_default());
        let bytes = response
            .body
            .collect()
            .await
            .map_err(|err| anyhow!("S3 GetObject {}: reading the body failed: {err}", self.location(key)))?
            .into_bytes()
            .to_vec();
        Ok(Some(Object { bytes, etag }))
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let response = match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(response) => response,
            Err(err) if err.kind() == S3ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.failure("HeadObject", key, &err)),
        };
        Ok(Some(ObjectInfo {
            etag: ETag(response.e_tag.clone().unwrap_or_default()),
            size: response.content_length.unwrap_or_default().max(0) as u64,
            content_type: response.content_type.clone(),
            cache_control: response.cache_control.clone(),
            sha256: response.metadata.as_ref().and_then(|m| m.get(SHA256_METADATA)).cloned(),
        }))
    }

    pub async fn put(&self, request: PutRequest<'_>) -> Result<PutOutcome> {
        const CONFLICT_ATTEMPTS: u32 = 6;
        let mut attempt = 1;
        loop {
            match self.put_once(&request).await {
                Err(err) if err.kind() == S3ErrorKind::Conflict && attempt < CONFLICT_ATTEMPTS => {
                    tracing::info!("{}: 409 ConditionalRequestConflict (attempt {attempt}); retrying", request.key);
                    let backoff = 100 * 2u64.pow(attempt) + fastrand::u64(..100);
                    tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                    attempt += 1;
                }
                Ok(response) => return Ok(PutOutcome::Written(ETag(response.e_tag.unwrap_or_default()))),
                Err(err) if err.kind() == S3ErrorKind::PreconditionFailed => return Ok(PutOutcome::PreconditionFailed),
                // A create-only write on a key that vanished in between cannot 404; an
                // If-Match on a deleted key can: the condition did not hold.
                Err(err) if err.kind() == S3ErrorKind::NotFound && request.condition != super::Condition::None => {
                    return Ok(PutOutcome::PreconditionFailed);
                }
                Err(err) if err.kind() == S3ErrorKind::Conflict => {
                    return Err(self.failure("PutObject", request.key, &err)).context(format!(
                        "other writes on {} kept conflicting ({CONFLICT_ATTEMPTS} attempts); re-run the release",
                        self.location(request.key)
                    ));
                }
                Err(err) => return Err(self.failure("PutObject", request.key, &err)),
            }
        }
    }

    async fn put_once(
        &self,
        request: &PutRequest<'_>,
    ) -> Result<
        aws_sdk_s3::operation::put_object::PutObjectOutput,
        SdkError<aws_sdk_s3::operation::put_object::PutObjectError, HttpResponse>,
    > {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(request.key)
            .body(ByteStream::from(request.bytes.to_vec()))
            .content_type(request.content_type)
            .cache_control(request.cache_control)
            .metadata(SHA256_METADATA, crate::layout::sha256_hex(request.bytes));
        put = match &request.condition {
            super::Condition::None => put,
            super::Condition::IfMatch(etag) => put.if_match(&etag.0),
            super::Condition::IfNoneMatch => put.if_none_match("*"),
        };
        put.send().await
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.failure("ListObjectsV2", prefix, &err))?;
            keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_string)));
        }
        keys.sort();
        Ok(keys)
    }
}
