//! Scenery that tests and benchmarks set up in moto before running a command.

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types as cf;

use xtask::aws::Clients;

/// Create a minimal CloudFront distribution in front of `bucket`, with the alias `alias`
/// and the tags `tags`, as `deploy-infra` would have left one for `release-chart` to
/// find; returns its id.
// moto wants the legacy ForwardedValues/MinTTL cache settings.
#[allow(deprecated)]
pub async fn create_distribution(
    clients: &Clients,
    bucket: &str,
    alias: &str,
    tags: &[(&str, &str)],
) -> Result<String> {
    let origin = cf::Origin::builder()
        .id("s3")
        .domain_name(format!("{bucket}.s3.us-east-1.amazonaws.com"))
        .s3_origin_config(cf::S3OriginConfig::builder().origin_access_identity("").build())
        .build()?;
    let behavior = cf::DefaultCacheBehavior::builder()
        .target_origin_id("s3")
        .viewer_protocol_policy(cf::ViewerProtocolPolicy::RedirectToHttps)
        .trusted_signers(cf::TrustedSigners::builder().enabled(false).quantity(0).build()?)
        .forwarded_values(
            cf::ForwardedValues::builder()
                .query_string(false)
                .cookies(cf::CookiePreference::builder().forward(cf::ItemSelection::None).build()?)
                .build()?,
        )
        .min_ttl(0)
        .build()?;
    let config = cf::DistributionConfig::builder()
        .caller_reference(format!("harness-{}", fastrand::u64(..)))
        .aliases(cf::Aliases::builder().quantity(1).items(alias).build()?)
        .origins(cf::Origins::builder().quantity(1).items(origin).build()?)
        .default_cache_behavior(behavior)
        .comment("harness")
        .enabled(true)
        .build()?;
    let mut items = Vec::with_capacity(tags.len());
    for (key, value) in tags {
        items.push(cf::Tag::builder().key(*key).value(*value).build()?);
    }
    let tags = cf::Tags::builder().set_items(Some(items)).build();
    let with_tags = cf::DistributionConfigWithTags::builder().distribution_config(config).tags(tags).build();
    let created = clients
        .cloudfront
        .create_distribution_with_tags()
        .distribution_config_with_tags(with_tags)
        .send()
        .await
        .with_context(|| format!("creating a CloudFront distribution for {alias}"))?;
    Ok(created.distribution().context("no distribution in the response")?.id().to_string())
}
