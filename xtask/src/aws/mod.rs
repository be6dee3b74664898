//! Every AWS client is built here, from one shared `aws-config` load.
//!
//! Credentials come from the standard chain (environment, profile, web identity/OIDC);
//! [`credentials`] is the one sentence every command reports a problem with them in.
//! `AWS_ENDPOINT_URL` points every client at a compatible endpoint (a local moto
//! server in tests); `AWS_ENDPOINT_URL_S3` points S3 alone elsewhere (the SDK's
//! service-specific endpoint: tests run S3 on SeaweedFS, CloudFront on moto). S3 uses
//! path-style addressing whenever either applies to it.

pub mod credentials;
pub mod distribution;
pub mod error;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::{CLOUDFRONT_CERT_REGION, RepoConfig};

/// All the clients a command may need. Building them makes no network call.
#[derive(Clone, Debug)]
pub struct Clients {
    pub shared: SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub route53: aws_sdk_route53::Client,
    /// ACM in us-east-1: the only region CloudFront takes certificates from.
    pub acm: aws_sdk_acm::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Load the shared SDK configuration for the bucket's region.
pub async fn load_shared(region: &str) -> SdkConfig {
    config_loader(region).load().await
}

/// The one way an SDK configuration is loaded (commands, the test harness, benchmarks).
///
/// Every AWS client (and the credential providers) share one HTTPS client: hyper with
/// rustls on the `ring` provider and the platform's root certificates. The SDK's
/// `default-https-client` would be the same client on aws-lc-rs, a much longer build.
#[allow(clippy::disallowed_methods)] // the one place that may
pub fn config_loader(region: &str) -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let https = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string())).http_client(https)
}

impl Clients {
    pub async fn from_config(config: &RepoConfig) -> Clients {
        Clients::from_shared(load_shared(&config.region).await)
    }

    pub fn from_shared(shared: SdkConfig) -> Clients {
        let custom_endpoint = shared.endpoint_url().is_some() || s3_endpoint_in_env(|name| std::env::var(name).ok());
        let s3 = aws_sdk_s3::config::Builder::from(&shared).force_path_style(custom_endpoint).build();
        // CloudFront, Route53 and ACM-for-CloudFront are global services homed in us-east-1.
        let us_east_1 = Some(Region::new(CLOUDFRONT_CERT_REGION));
        let cloudfront = aws_sdk_cloudfront::config::Builder::from(&shared).region(us_east_1.clone()).build();
        let route53 = aws_sdk_route53::config::Builder::from(&shared).region(us_east_1.clone()).build();
        let acm = aws_sdk_acm::config::Builder::from(&shared).region(us_east_1).build();
        let sts = aws_sdk_sts::config::Builder::from(&shared).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(cloudfront),
            route53: aws_sdk_route53::Client::from_conf(route53),
            acm: aws_sdk_acm::Client::from_conf(acm),
            sts: aws_sdk_sts::Client::from_conf(sts),
            shared,
        }
    }
}

/// Whether the environment gives S3 an endpoint of its own, which S3's configuration
/// takes when it is built from the shared one (`aws_sdk_s3::config::Builder::from` asks
/// the SDK config's service configuration for `AWS_ENDPOINT_URL_S3` before falling back
/// to `AWS_ENDPOINT_URL`; the S3 builder has no getter to ask it afterwards). Like every
/// configured endpoint it does not count under `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`.
/// An S3 endpoint set in a profile's `services` section is not seen here (the tool is
/// pointed at endpoints by environment); with an IP address as its host the SDK's S3
/// rules address path-style anyway.
fn s3_endpoint_in_env(var: impl Fn(&str) -> Option<String>) -> bool {
    let ignored = var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|value| value.eq_ignore_ascii_case("true"));
    !ignored && var("AWS_ENDPOINT_URL_S3").is_some()
}

#[cfg(test)]
mod tests {
    use super::s3_endpoint_in_env;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_string())
    }

    #[test]
    fn the_s3_only_endpoint_counts_unless_configured_endpoints_are_ignored() {
        assert!(!s3_endpoint_in_env(env(&[])));
        assert!(
            !s3_endpoint_in_env(env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")])),
            "the shared one is the SDK config's"
        );
        assert!(s3_endpoint_in_env(env(&[("AWS_ENDPOINT_URL_S3", "http://localhost:8333")])));
        let ignored =
            [("AWS_ENDPOINT_URL_S3", "http://localhost:8333"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE")];
        assert!(!s3_endpoint_in_env(env(&ignored)));
        let not_ignored =
            [("AWS_ENDPOINT_URL_S3", "http://localhost:8333"), ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")];
        assert!(s3_endpoint_in_env(env(&not_ignored)));
    }
}
