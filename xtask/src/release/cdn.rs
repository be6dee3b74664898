//! CloudFront cache invalidation after a release, and waiting for it behind a spinner
//! ([`retry::invalidation_wait`]).

use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use crate::aws::distribution::Distribution;
use crate::aws::error::AwsError;
use crate::retry::{self, Attempt};

/// Every path: index.yaml changes, and a `--force`d package may too.
pub const INVALIDATION_PATH: &str = "/*";

/// Start an invalidation of `/*`; returns its id.
pub async fn invalidate(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &Distribution,
    caller_reference: &str,
) -> Result<String> {
    let batch = InvalidationBatch::builder()
        .caller_reference(caller_reference)
        .paths(Paths::builder().quantity(1).items(INVALIDATION_PATH).build()?)
        .build()?;
    let response = cloudfront
        .create_invalidation()
        .distribution_id(&distribution.id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|err| {
            anyhow!(
                "invalidating {INVALIDATION_PATH} on CloudFront distribution {}: CreateInvalidation failed: {}; the \
                 release itself is stored, re-run it to retry the invalidation",
                distribution.id,
                err.describe()
            )
        })?;
    let id = response.invalidation().map(|i| i.id().to_string()).unwrap_or_default();
    Ok(id)
}

/// Wait until the invalidation completes, with a spinner; a clear error on timeout.
pub async fn wait(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &Distribution,
    invalidation_id: &str,
    timeout: Duration,
) -> Result<()> {
    let spinner = crate::logging::Spinner::new(
        format!("waiting for CloudFront invalidation {invalidation_id} to complete"),
        Duration::from_millis(120),
    );
    // Polled by hand rather than with the SDK's `wait_until_invalidation_completed`: that
    // waiter matches the status "Completed" exactly, and S3-compatible test servers (moto)
    // answer "COMPLETED", which would make every test wait for the timeout.
    let polled = retry::run(
        retry::invalidation_wait(timeout),
        async |_| match cloudfront.get_invalidation().distribution_id(&distribution.id).id(invalidation_id).send().await
        {
            Ok(response) => {
                let status = response.invalidation().map(|i| i.status().to_string()).unwrap_or_default();
                spinner.set_message(format!("waiting for CloudFront invalidation {invalidation_id}: {status}"));
                if status.eq_ignore_ascii_case("completed") { Attempt::Done(Ok(())) } else { Attempt::Again(status) }
            }
            Err(err) => Attempt::Done(Err(anyhow!(
                "waiting for CloudFront invalidation {invalidation_id} on distribution {}: GetInvalidation failed: {}",
                distribution.id,
                err.describe()
            ))),
        },
        |_, _| {},
    )
    .await;
    let result = polled.unwrap_or_else(|_| {
        Err(anyhow!(
            "CloudFront invalidation {invalidation_id} on distribution {} did not complete within {} s; it goes on \
             in the background (the release itself is done): check it with `aws cloudfront get-invalidation \
             --distribution-id {} --id {invalidation_id}`",
            distribution.id,
            timeout.as_secs(),
            distribution.id
        ))
    });
    drop(spinner);
    result
}

/// Invalidate `/*` and (unless `no_wait`) wait for it; prints the steps.
pub async fn invalidate_and_wait(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &Distribution,
    caller_reference: &str,
    no_wait: bool,
    timeout: Duration,
) -> Result<super::summary::Invalidation> {
    let id = invalidate(cloudfront, distribution, caller_reference).await?;
    super::step(format!("invalidating {INVALIDATION_PATH} on CloudFront distribution {}: {id}", distribution.id));
    if !no_wait {
        wait(cloudfront, distribution, &id, timeout).await?;
    }
    Ok(super::summary::Invalidation::Created { id, completed: !no_wait })
}

/// A unique caller reference for an invalidation.
pub fn caller_reference(what: &str) -> String {
    let what: String = what.chars().take(96).collect();
    format!("{what}-{}-{:08x}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), fastrand::u32(..))
}
