//! Every AWS client is built here, from one shared `aws-config` load.
//!
//! Credentials come from the standard chain (environment, profile, web identity/OIDC);
//! [`credentials`] is the one sentence every command reports a problem with them in.
//! `AWS_ENDPOINT_URL` points every client at a compatible endpoint (a local moto
//! server in tests); S3 then uses path-style addressing.

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
        let custom_endpoint = shared.endpoint_url().is_some();
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
