//! The CloudFront distribution: its managed settings as a plan shows them, the
//! configuration the preflight reads, how a step creates it or updates it (sending
//! GetDistributionConfig's configuration with only the managed settings overwritten) and
//! waits until it is Deployed, and how a rollback disables and deletes it. Finding ours is
//! `crate::aws::distribution::find_ours`, shared with the release.

use anyhow::{Context, Result, bail};
use aws_sdk_cloudfront::types as cf;

use super::apply::{Created, Run};
use super::plan::{Action, Step};
use super::settings::{DistributionSetting as D, Settings};
use super::wait::{Poll, wait_for};
use crate::aws::Clients;
use crate::aws::distribution::Distribution;
use crate::aws::error::AwsResultExt;

/// The status of a distribution whose configuration is live at every edge.
const DEPLOYED: &str = "Deployed";

/// The settings deploy-infra manages on a distribution, read from any configuration
/// (the desired one, or the one found).
pub fn settings(config: &cf::DistributionConfig) -> Settings {
    let mut s = Settings::new();
    let aliases = config.aliases().map(|a| a.items().join(",")).unwrap_or_default();
    s.set(D::Enabled, config.enabled().to_string());
    s.set(D::Aliases, aliases);
    s.set(D::Comment, config.comment());
    let origins = config.origins().map(cf::Origins::items).unwrap_or_default();
    match origins {
        [origin] => {
            s.set(D::OriginDomain, origin.domain_name());
            s.put(D::OriginAccessControlId, origin.origin_access_control_id());
            s.put(D::OriginAccessIdentity, origin.s3_origin_config().map(cf::S3OriginConfig::origin_access_identity));
            s.set(D::OriginPath, origin.origin_path().unwrap_or(""));
        }
        other => {
            s.set(D::OriginDomain, other.iter().map(cf::Origin::domain_name).collect::<Vec<_>>().join(","));
        }
    }
    if let Some(behavior) = config.default_cache_behavior() {
        s.set(D::ViewerProtocolPolicy, behavior.viewer_protocol_policy().as_str());
        let methods = |items: &[cf::Method]| {
            let mut names: Vec<&str> = items.iter().map(cf::Method::as_str).collect();
            names.sort_unstable();
            names.join(",")
        };
        let allowed = behavior.allowed_methods();
        s.set(D::AllowedMethods, allowed.map(|a| methods(a.items())).unwrap_or_default());
        s.set(
            D::CachedMethods,
            allowed.and_then(|a| a.cached_methods()).map(|c| methods(c.items())).unwrap_or_default(),
        );
        s.put(D::CachePolicyId, behavior.cache_policy_id());
        s.put(D::ResponseHeadersPolicyId, behavior.response_headers_policy_id());
        s.set(D::Compress, behavior.compress().unwrap_or(false).to_string());
    }
    let errors = config
        .custom_error_responses()
        .map(|e| {
            let mut items: Vec<String> = e
                .items()
                .iter()
                .map(|r| {
                    format!(
                        "{}→{} {} ttl {}",
                        r.error_code(),
                        r.response_code().unwrap_or("-"),
                        r.response_page_path().unwrap_or("-"),
                        r.error_caching_min_ttl().unwrap_or(0)
                    )
                })
                .collect();
            items.sort();
            items.join("; ")
        })
        .unwrap_or_default();
    s.set(D::CustomErrorResponses, errors);
    s.set(D::DefaultRootObject, config.default_root_object().unwrap_or(""));
    s.put(D::PriceClass, config.price_class().map(cf::PriceClass::as_str));
    let cert = config.viewer_certificate();
    s.put(D::Certificate, cert.and_then(|c| c.acm_certificate_arn()));
    s.put(D::SslSupportMethod, cert.and_then(|c| c.ssl_support_method()).map(cf::SslSupportMethod::as_str));
    s.put(
        D::MinimumProtocolVersion,
        cert.and_then(|c| c.minimum_protocol_version()).map(cf::MinimumProtocolVersion::as_str),
    );
    s.put(D::HttpVersion, config.http_version().map(cf::HttpVersion::as_str));
    s.set(D::Ipv6, config.is_ipv6_enabled().unwrap_or(false).to_string());
    s
}

/// The configuration of our distribution (GetDistribution), to compare with the desired one.
pub(super) async fn discover_config(clients: &Clients, id: &str) -> Result<cf::DistributionConfig> {
    let out = read_distribution(&clients.cloudfront, id).await.context("preflight")?;
    match out.distribution().and_then(|dist| dist.distribution_config()) {
        Some(config) => Ok(config.clone()),
        None => bail!("preflight: reading distribution {id}: no configuration returned"),
    }
}

impl Run<'_> {
    pub(super) async fn apply_distribution(&mut self, step: &Step) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        let oac_id = self.oac_id.clone().context("the origin access control is not known")?;
        let certificate_arn = self.certificate_arn.clone().context("the certificate is not known")?;
        let id = if step.action == Action::Create {
            let reference = format!("deploy-infra-{}-{}", self.desired.domain(), chrono::Utc::now().timestamp_millis());
            let config = self.desired.distribution_config(&reference, &oac_id, &certificate_arn)?;
            let tags = self
                .desired
                .config
                .tags
                .iter()
                .map(|(k, v)| cf::Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            let out = cloudfront
                .create_distribution_with_tags()
                .distribution_config_with_tags(
                    cf::DistributionConfigWithTags::builder()
                        .distribution_config(config)
                        .tags(cf::Tags::builder().set_items(Some(tags)).build())
                        .build(),
                )
                .send()
                .await
                .aws(|| format!("creating the CloudFront distribution for {}", self.desired.domain()))?;
            let dist = out.distribution().context("CloudFront returned no distribution")?;
            self.journal.push(Created::Distribution { id: dist.id().to_string() });
            self.distribution = Some(Distribution::from_created(dist));
            dist.id().to_string()
        } else {
            let id = self.distribution.as_ref().map(|d| d.id.clone()).context("no distribution id")?;
            let current = read_config(cloudfront, &id).await?;
            let current_config = current
                .distribution_config()
                .with_context(|| format!("reading the configuration of distribution {id}: none returned"))?;
            let config = self.desired.updated_distribution_config(current_config, &oac_id, &certificate_arn)?;
            update_config(cloudfront, &id, current.e_tag(), config, "updating").await?;
            id
        };
        self.wait_deployed(&id).await
    }

    async fn wait_deployed(&self, id: &str) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        wait_for(&format!("distribution {id} to be {DEPLOYED}"), self.timeout, async || {
            let out = read_distribution(cloudfront, id).await?;
            Ok(match out.distribution().map(cf::Distribution::status) {
                Some(DEPLOYED) => Poll::Ready(()),
                status => Poll::Pending(format!("status {}", status.unwrap_or("unknown"))),
            })
        })
        .await
    }

    /// Disable, wait until deployed, delete: CloudFront deletes only disabled distributions.
    pub(super) async fn delete_distribution(&self, id: &str) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        let current = read_config(cloudfront, id).await?;
        let mut etag = current.e_tag().map(str::to_string);
        if let Some(config) = current.distribution_config().filter(|c| c.enabled()) {
            let mut disabled = config.clone();
            disabled.enabled = false;
            etag = update_config(cloudfront, id, etag.as_deref(), disabled, "disabling").await?;
            self.wait_deployed(id).await?;
        }
        cloudfront
            .delete_distribution()
            .id(id)
            .set_if_match(etag)
            .send()
            .await
            .aws(|| format!("deleting distribution {id}"))?;
        Ok(())
    }
}

/// GetDistribution: its status and configuration.
async fn read_distribution(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Result<aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput> {
    cloudfront.get_distribution().id(id).send().await.aws(|| format!("reading distribution {id}"))
}

/// GetDistributionConfig: the configuration and the ETag an update or delete must match.
async fn read_config(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Result<aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput> {
    cloudfront
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .aws(|| format!("reading the configuration of distribution {id}"))
}

/// UpdateDistribution with the whole `config` if the distribution still has `etag`
/// (`doing`: "updating", "disabling", for messages); the new ETag.
async fn update_config(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
    etag: Option<&str>,
    config: cf::DistributionConfig,
    doing: &str,
) -> Result<Option<String>> {
    let out = cloudfront
        .update_distribution()
        .id(id)
        .set_if_match(etag.map(str::to_string))
        .distribution_config(config)
        .send()
        .await
        .aws(|| format!("{doing} distribution {id}"))?;
    Ok(out.e_tag().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::super::desired::{CACHING_OPTIMIZED_POLICY_ID, Desired, SECURITY_HEADERS_POLICY_ID};
    use super::super::settings::Setting;
    use super::*;

    #[test]
    fn distribution_has_every_required_setting() {
        let desired = Desired::new(crate::config::RepoConfig::load(&crate::project::default_config_path()).unwrap());
        let config = desired.distribution_config("-", "E2OAC", "arn:aws:acm:us-east-1:1:certificate/x").unwrap();
        let settings = settings(&config);
        for (name, value) in [
            (D::Aliases, "charts.kube9.io"),
            (D::ViewerProtocolPolicy, "redirect-to-https"),
            (D::AllowedMethods, "GET,HEAD"),
            (D::CachePolicyId, CACHING_OPTIMIZED_POLICY_ID),
            (D::ResponseHeadersPolicyId, SECURITY_HEADERS_POLICY_ID),
            (D::Compress, "true"),
            (D::HttpVersion, "http2and3"),
            (D::Ipv6, "true"),
            (D::SslSupportMethod, "sni-only"),
            (D::MinimumProtocolVersion, "TLSv1.2_2021"),
            (D::OriginDomain, "kube9-charts.s3.us-east-1.amazonaws.com"),
            (D::OriginAccessControlId, "E2OAC"),
            (D::OriginAccessIdentity, ""),
            (D::PriceClass, "PriceClass_All"),
            (D::CustomErrorResponses, "403→404 /404.html ttl 10; 404→404 /404.html ttl 10"),
        ] {
            assert_eq!(settings.get(&Setting::Distribution(name)), Some(value), "{}", name.name());
        }
    }
}
