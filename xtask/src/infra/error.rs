//! AWS errors as short, credential-free text: the error code and message when the
//! service answered, the whole cause chain (e.g. "no credentials") when it did not.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An SDK error as text: `Code: message` for a service answer, else the cause chain.
pub fn describe<E>(err: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err.as_service_error() {
        Some(service) => {
            let code = service.code().unwrap_or("UnknownError");
            let message = service.message().unwrap_or("no message");
            match err.raw_response() {
                Some(raw) => format!("{code}: {message} (HTTP {})", raw.status().as_u16()),
                None => format!("{code}: {message}"),
            }
        }
        None => chain(err),
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

/// The AWS error code of a service answer.
pub fn code<E>(err: &aws_sdk_s3::error::SdkError<E>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(|service| service.code())
}

/// The HTTP status of a service answer (HeadBucket answers without a body).
pub fn status<E>(err: &aws_sdk_s3::error::SdkError<E>) -> Option<u16> {
    err.raw_response().map(|raw| raw.status().as_u16())
}

/// `result.aws(|| "creating bucket x")?`: name the step and keep the AWS code and message.
pub trait AwsResultExt<T> {
    fn aws(self, step: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T, E> AwsResultExt<T> for Result<T, aws_sdk_s3::error::SdkError<E>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, step: impl FnOnce() -> String) -> anyhow::Result<T> {
        self.map_err(|err| anyhow::anyhow!("{}: {}", step(), describe(&err)))
    }
}
