//! The one sentence every command reports a credentials problem with (whether an AWS
//! error is one is [`super::error`]'s classification).
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
use aws_smithy_types::error::display::DisplayErrorContext;

use super::error::{AwsError, ErrorKind};

/// How every credentials error starts.
pub const NO_CREDENTIALS: &str = "no AWS credentials";

/// The fix, the same for every command.
const FIX: &str = "locally run `aws sso login` (or `aws configure`) and set AWS_PROFILE, or export \
                   AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CI check the workflow's OIDC role secret \
                   (release-chart, reindex and yank need no AWS with `--local DIR`)";

/// Where the standard chain looks, for the "found none" case.
const CHAIN: &str = "environment variables, AWS_PROFILE / shared config and credentials files, web identity \
                     token, container and instance metadata";

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

/// `Some(error)` when `err` is AWS refusing the credentials of `operation` (e.g.
/// `sts:GetCallerIdentity`; [`ErrorKind::CredentialsRejected`]): the caller returns it as
/// it is, in place of its own message.
pub fn rejected(err: &impl AwsError, operation: &str) -> Option<anyhow::Error> {
    if err.kind() != ErrorKind::CredentialsRejected {
        return None;
    }
    let code = err.code().unwrap_or_default();
    let message = err.message().map(|m| format!(": {m}")).unwrap_or_default();
    Some(no_credentials(&format!("AWS rejected the credentials found ({operation} answered {code}{message})")))
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
}
