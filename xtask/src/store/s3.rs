//! The S3 backend: one bucket, conditional writes evaluated by S3 itself.
//!
//! Clients come from [`crate::aws::Clients`] (path-style addressing when
//! `AWS_ENDPOINT_URL` is set). Errors are classified by their S3 error code through
//! [`crate::aws::error`], never by their message.

use anyhow::{Context, Result, anyhow};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::error::{AwsError, ErrorKind};
use crate::retry::{self, Attempt};

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

    fn failure(&self, operation: &str, key: &str, err: &impl AwsError) -> anyhow::Error {
        match err.kind() {
            ErrorKind::CredentialsRejected => crate::aws::credentials::rejected(err, &format!("s3:{operation}"))
                .unwrap_or_else(|| anyhow!("S3 {operation} {} failed: {}", self.location(key), err.describe())),
            ErrorKind::NoSuchBucket => anyhow!(
                "S3 {operation} {}: bucket {} does not exist ({}); run `cargo xtask deploy-infra` to create it",
                self.location(key),
                self.bucket,
                err.describe()
            ),
            ErrorKind::AccessDenied => anyhow!(
                "S3 {operation} {}: access denied ({}); the release role needs s3:GetObject, s3:PutObject and \
                 s3:ListBucket on bucket {} (see `cargo xtask iam-policy`)",
                self.location(key),
                err.describe(),
                self.bucket
            ),
            _ => anyhow!("S3 {operation} {} failed: {}", self.location(key), err.describe()),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        let response = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(response) => response,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
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
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
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

    /// One conditional write. A 409 `ConditionalRequestConflict` (another conditional
    /// write on the key was in flight, the condition was not evaluated) is retried as
    /// [`retry::S3_CONFLICT`] allows, never read as an outcome.
    pub async fn put(&self, request: PutRequest<'_>) -> Result<PutOutcome> {
        let request = &request;
        let answer = retry::run(
            retry::S3_CONFLICT,
            move |_| async move {
                match self.put_once(request).await {
                    Err(err) if err.kind() == ErrorKind::Conflict => Attempt::Again(err),
                    other => Attempt::Done(other),
                }
            },
            |_, backoff| {
                tracing::info!(
                    "{}: 409 ConditionalRequestConflict (attempt {}); retrying",
                    request.key,
                    backoff.attempt
                );
            },
        )
        .await;
        match answer {
            Ok(Ok(response)) => Ok(PutOutcome::Written(ETag(response.e_tag.unwrap_or_default()))),
            Ok(Err(err)) if err.kind() == ErrorKind::PreconditionFailed => Ok(PutOutcome::PreconditionFailed),
            // A create-only write on a key that vanished in between cannot 404; an
            // If-Match on a deleted key can: the condition did not hold.
            Ok(Err(err)) if err.kind() == ErrorKind::NotFound && request.condition != super::Condition::None => {
                Ok(PutOutcome::PreconditionFailed)
            }
            Ok(Err(err)) => Err(self.failure("PutObject", request.key, &err)),
            Err(gave_up) => Err(self.failure("PutObject", request.key, &gave_up.last)).context(format!(
                "other writes on {} kept conflicting ({} attempts); re-run the release",
                self.location(request.key),
                gave_up.attempts
            )),
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
