//! The one classifier of AWS SDK errors, for every service (S3, CloudFront, Route53, ACM,
//! STS): by error code and HTTP status, never by message, and the credential-free text
//! every error message quotes (`Code: message (HTTP n)`, or the cause chain when no
//! answer arrived).

// The S3 crate's re-exports: the same smithy types every service's SDK errors are made of.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The outcomes callers branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The key or resource does not exist (`NoSuchKey`, `NotFound`, ACM's
    /// `ResourceNotFoundException`, CloudFront's `NoSuchOriginAccessControl`, or a bodiless
    /// 404).
    NotFound,
    /// The bucket does not exist (`NoSuchBucket`).
    NoSuchBucket,
    /// The bucket has no such configuration: no tags (`NoSuchTagSet`), no Block Public
    /// Access, encryption, ownership controls or policy.
    NoConfiguration,
    /// The bucket is in another region than the request's (`PermanentRedirect`, or a
    /// bodiless 301).
    WrongRegion,
    /// Another resource still uses this one (ACM's `ResourceInUseException`: CloudFront
    /// lets go of a certificate a little after its distribution is gone).
    InUse,
    /// A conditional write lost (`PreconditionFailed` 412).
    PreconditionFailed,
    /// `ConditionalRequestConflict` 409: another write on the key was in flight; the
    /// condition was not evaluated, so the write is retried (AWS's advice), never read as
    /// an outcome.
    Conflict,
    /// AWS refused the request's credentials (unknown key, bad signature, expired token):
    /// [`super::credentials::rejected`] turns it into the one credentials sentence.
    CredentialsRejected,
    /// `AccessDenied` / 403.
    AccessDenied,
    /// Anything else.
    Other,
}

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

/// S3's answers for a bucket configuration that was never set.
const NO_CONFIGURATION_CODES: [&str; 5] = [
    "NoSuchTagSet",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "OwnershipControlsNotFoundError",
    "NoSuchBucketPolicy",
];

/// The classification of an error code and HTTP status (pure: unit-tested).
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match (code, status) {
        (Some(code), _) if REJECTION_CODES.contains(&code) => ErrorKind::CredentialsRejected,
        (Some("NoSuchBucket"), _) => ErrorKind::NoSuchBucket,
        (Some(code), _) if NO_CONFIGURATION_CODES.contains(&code) => ErrorKind::NoConfiguration,
        (Some("NoSuchKey" | "NotFound" | "ResourceNotFoundException" | "NoSuchOriginAccessControl"), _)
        | (None, Some(404)) => ErrorKind::NotFound,
        (Some("PermanentRedirect"), _) | (None, Some(301)) => ErrorKind::WrongRegion,
        (Some("ResourceInUseException"), _) => ErrorKind::InUse,
        (Some("PreconditionFailed"), _) | (None, Some(412)) => ErrorKind::PreconditionFailed,
        (Some("ConditionalRequestConflict"), _) | (None, Some(409)) => ErrorKind::Conflict,
        (Some("AccessDenied" | "AllAccessDisabled"), _) | (None, Some(403)) => ErrorKind::AccessDenied,
        _ => ErrorKind::Other,
    }
}

/// What every caller asks of an SDK error, whatever the service.
pub trait AwsError {
    /// The AWS error code, when the service sent one. An answer in another protocol's
    /// error shape than the service's (moto answers every service's authentication
    /// failures in the query protocol's `<ErrorResponse><Errors><Error>` form) leaves the
    /// SDK without a code: it is then read from the body's `<Code>`.
    fn code(&self) -> Option<&str>;
    /// The error message, when there is one (for text only; never classified).
    fn message(&self) -> Option<&str>;
    /// The HTTP status, when a response arrived.
    fn status(&self) -> Option<u16>;
    /// The typed outcome.
    fn kind(&self) -> ErrorKind {
        classify(self.code(), self.status())
    }
    /// `Code: message (HTTP n)` for a service answer, the cause chain when none arrived;
    /// credential-free either way.
    fn describe(&self) -> String;
}

impl<E> AwsError for SdkError<E, HttpResponse>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn code(&self) -> Option<&str> {
        ProvideErrorMetadata::code(self).or_else(|| element(self.raw_response()?.body().bytes()?, "Code"))
    }

    fn message(&self) -> Option<&str> {
        match ProvideErrorMetadata::code(self) {
            Some(_) => ProvideErrorMetadata::message(self),
            None => element(self.raw_response()?.body().bytes()?, "Message"),
        }
    }

    fn status(&self) -> Option<u16> {
        self.raw_response().map(|response| response.status().as_u16())
    }

    fn describe(&self) -> String {
        let status = AwsError::status(self).map(|status| format!(" (HTTP {status})")).unwrap_or_default();
        match (AwsError::code(self), AwsError::message(self)) {
            (Some(code), Some(message)) => format!("{code}: {message}{status}"),
            (Some(code), None) => format!("{code}{status}"),
            // A response without a parsable error: its status only (the SDK's account of
            // it is a Debug dump of the raw response).
            (None, _) if let Some(status) = AwsError::status(self) => {
                format!("HTTP {status} without an error code the SDK could parse")
            }
            (None, _) => chain(self),
        }
    }
}

/// An error and its sources, `: `-joined, each once (no Debug dumps).
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// `result.aws(|| "creating bucket x")?`: name the step and keep the AWS code and message.
pub trait AwsResultExt<T> {
    fn aws(self, step: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, step: impl FnOnce() -> String) -> anyhow::Result<T> {
        self.map_err(|err| anyhow::anyhow!("{}: {}", step(), err.describe()))
    }
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
            assert_eq!(classify(Some(code), Some(403)), ErrorKind::CredentialsRejected, "{code}");
        }
        for code in ["AccessDenied", "NoSuchBucket", "PreconditionFailed", "Throttling", "RequestTimeTooSkewed"] {
            assert_ne!(classify(Some(code), Some(403)), ErrorKind::CredentialsRejected, "{code}");
        }
    }

    #[test]
    fn codes_win_over_statuses_and_bodiless_answers_go_by_status() {
        assert_eq!(classify(Some("NoSuchBucket"), Some(404)), ErrorKind::NoSuchBucket);
        assert_eq!(classify(Some("NoSuchKey"), Some(404)), ErrorKind::NotFound);
        assert_eq!(classify(None, Some(404)), ErrorKind::NotFound);
        assert_eq!(classify(None, Some(412)), ErrorKind::PreconditionFailed);
        assert_eq!(classify(Some("ConditionalRequestConflict"), Some(409)), ErrorKind::Conflict);
        assert_eq!(classify(None, Some(403)), ErrorKind::AccessDenied);
        assert_eq!(classify(Some("NoSuchDistribution"), Some(404)), ErrorKind::Other);
        assert_eq!(classify(Some("ResourceNotFoundException"), Some(400)), ErrorKind::NotFound);
        assert_eq!(classify(Some("NoSuchOriginAccessControl"), Some(404)), ErrorKind::NotFound);
        assert_eq!(classify(Some("NoSuchTagSet"), Some(404)), ErrorKind::NoConfiguration);
        assert_eq!(classify(Some("NoSuchBucketPolicy"), Some(404)), ErrorKind::NoConfiguration);
        assert_eq!(classify(None, Some(301)), ErrorKind::WrongRegion);
        assert_eq!(classify(Some("ResourceInUseException"), Some(400)), ErrorKind::InUse);
        assert_eq!(classify(None, None), ErrorKind::Other);
    }
}
