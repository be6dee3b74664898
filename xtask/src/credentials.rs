//! The one place that decides whether an AWS failure is a credentials problem, and the
//! one sentence every command reports it with.
//!
//! Two cases, one sentence starting with [`NO_CREDENTIALS`] (the README's
//! troubleshooting table quotes it):
//! - the standard chain yields nothing ([`require`], before the first AWS call);
//! - AWS refuses what the chain yielded: unknown key, bad signature, expired token
//!   ([`rejected`], on the first call's error).
//!
//! The SDK's own account of a failing provider (a `Debug` dump of its HTTP response)
//! is logged at debug level only (`-v`); `logging` keeps the credential chain's WARN
//! line out of the default output.

use anyhow::{Result, anyhow};
use aws_config::SdkConfig;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;

/// How every credentials error starts.
pub const NO_CREDENTIALS: &str = "no AWS credentials";

/// The fix, the same for every command.
const FIX: &str = "locally run `aws sso login` (or `aws configure`) and set AWS_PROFILE, or export \
                   AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CI check the workflow's OIDC role secret \
                   (release-chart and reindex need no AWS with `--local DIR`)";

/// Where the standard chain looks, for the "found none" case.
const CHAIN: &str = "environment variables, AWS_PROFILE / shared config and credentials files, web identity \
                     token, container and instance metadata";

/// AWS error codes that mean "these credentials are not accepted", across S3 (XML),
/// CloudFront, Route53, STS (query/XML) and ACM (JSON).
const REJECTION_CODES: [&str; 9] = [
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "MissingAuthenticationToken",
];

/// The credentials error: `no AWS credentials: REASON; FIX`.
fn no_credentials(reason: &str) -> anyhow::Error {
    anyhow!("{NO_CREDENTIALS}: {reason}; {FIX}")
}

/// Resolve credentials from the shared config's chain once, before the first AWS call.
/// The credentials themselves are never printed.
pub async fn require(shared: &SdkConfig) -> Result<()> {
    let Some(provider) = shared.credentials_provider() else {
        return Err(no_credentials("no credentials provider is configured"));
    };
    match provider.provide_credentials().await {
        Ok(credentials) if !credentials.access_key_id().is_empty() => Ok(()),
        Ok(_) => Err(no_credentials("the chain returned an empty access key id")),
        Err(err) => {
            tracing::debug!("the AWS credential chain failed: {}", DisplayErrorContext(&err));
            let reason = match &err {
                aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_) => {
                    format!("the standard chain found none ({CHAIN})")
                }
                // The other kinds carry the SDK's internals (HTTP responses, bodies) in their
                // sources: name the kind here, the detail is logged at -v.
                other => format!("{other} (details with -v)"),
            };
            Err(no_credentials(&reason))
        }
    }
}

/// Whether an AWS error code means the request's credentials were refused.
pub fn is_rejection(code: &str) -> bool {
    REJECTION_CODES.contains(&code)
}

/// `Some(error)` when `err` is AWS refusing the credentials of `operation` (e.g.
/// `sts:GetCallerIdentity`): the caller returns it as it is, in place of its own message.
pub fn rejected<E>(err: &SdkError<E, HttpResponse>, operation: &str) -> Option<anyhow::Error>
where
    E: ProvideErrorMetadata,
{
    let service = err.as_service_error()?;
    let (code, message) = match service.code() {
        Some(code) => (code.to_string(), service.message().map(str::to_string)),
        // An answer in another protocol's error shape than the service's (moto answers
        // every service's authentication failures in the query protocol's
        // `<ErrorResponse><Errors><Error>` form) leaves the SDK without a code.
        None => {
            let body = err.raw_response()?.body().bytes()?;
            (element(body, "Code")?.to_string(), element(body, "Message").map(str::to_string))
        }
    };
    if !is_rejection(&code) {
        return None;
    }
    let message = message.map(|m| format!(": {m}")).unwrap_or_default();
    Some(no_credentials(&format!("AWS rejected the credentials found ({operation} answered {code}{message})")))
}

/// The text of the first `<NAME>…</NAME>` element of an XML error body.
fn element<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(text[start..end].trim()).filter(|value| !value.is_empty() && !value.contains('<'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_starts_with_the_words_the_readme_quotes() {
        let err = no_credentials("x").to_string();
        assert!(err.starts_with("no AWS credentials: x; "), "{err}");
        assert!(err.contains("aws sso login") && err.contains("--local DIR"), "{err}");
        let readme = std::fs::read_to_string(crate::project::project_root().join("README.md")).unwrap();
        assert!(readme.contains(&format!("`{NO_CREDENTIALS}")), "the troubleshooting table quotes it");
    }

    #[test]
    fn the_code_of_an_error_body_the_sdk_could_not_parse_is_found() {
        let body = b"<?xml version=\"1.0\"?>\n<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code>\
                     <Message>The security token included in the request is invalid.</Message></Error></Errors>\
                     </ErrorResponse>";
        assert_eq!(element(body, "Code"), Some("InvalidClientTokenId"));
        assert_eq!(element(body, "Message"), Some("The security token included in the request is invalid."));
        assert_eq!(element(b"<Code></Code>", "Code"), None);
        assert_eq!(element(b"not xml", "Code"), None);
    }

    #[test]
    fn rejection_codes_are_credential_problems_and_others_are_not() {
        for code in ["InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"] {
            assert!(is_rejection(code), "{code}");
        }
        for code in ["AccessDenied", "NoSuchBucket", "PreconditionFailed", "Throttling", "RequestTimeTooSkewed"] {
            assert!(!is_rejection(code), "{code}");
        }
    }
}
