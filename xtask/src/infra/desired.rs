//! The desired state of every resource, derived from the repository configuration, as
//! the same types discovery reads the actual state into ([`BucketConfig`],
//! `OriginAccessControlConfig`, `DistributionConfig`), so a plan compares like with like.

use anyhow::{Context, Result};
use aws_sdk_cloudfront::types as cf;
use aws_sdk_s3::types as s3t;

use super::bucket::{BucketConfig, ErrorPage, PublicAccess};
use crate::config::RepoConfig;
use crate::layout::FileKind;

/// `$to.field = $from.field` for each field named: the settings this tool manages, moved
/// over what the current configuration has.
macro_rules! take {
    ($to:ident <- $from:ident; $($field:ident),+ $(,)?) => {
        $($to.$field = $from.$field;)+
    };
}

/// AWS managed cache policy "Managed-CachingOptimized".
pub const CACHING_OPTIMIZED_POLICY_ID: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// AWS managed response headers policy "Managed-SecurityHeadersPolicy" (HSTS and friends).
pub const SECURITY_HEADERS_POLICY_ID: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";
/// The hosted zone id of every CloudFront distribution, for Route53 alias records.
pub const CLOUDFRONT_HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";
/// How long CloudFront caches a 403/404 answer: short, so a package published right
/// after someone asked for it is not hidden for long.
pub const ERROR_CACHING_TTL: i64 = 10;
/// The object CloudFront answers missing paths with. CloudFront needs a page to map an
/// error code to another status; S3 answers 403 for a missing key (CloudFront may not
/// list the bucket), which we turn into an honest 404.
pub const ERROR_PAGE_KEY: &str = "404.html";
pub const ERROR_PAGE_BODY: &str = "<!doctype html>\n<title>404 Not Found</title>\n<h1>404 Not Found</h1>\n\
<p>This Helm chart repository has no such file. Add it with <code>helm repo add</code> and the repository URL.</p>\n";
/// The error page is served like the landing page: HTML, with the short `Cache-Control`
/// of `[cache]` (it changes only with this tool).
pub const ERROR_PAGE_KIND: FileKind = FileKind::Page;
/// `https://{domain}/` shows people the landing page (`release-chart` writes it from the
/// index); Helm keeps fetching `index.yaml` by name.
pub const DEFAULT_ROOT_OBJECT: &str = crate::layout::PAGE_KEY;

/// Marker values used where a resource's id is only known once an earlier step ran.
pub const PENDING_OAC: &str = "(origin access control created by this run)";
pub const PENDING_CERTIFICATE: &str = "(certificate requested by this run)";
pub const PENDING_DISTRIBUTION: &str = "(distribution created by this run)";

/// Everything deploy-infra wants, by name.
#[derive(Debug, Clone)]
pub struct Desired {
    pub config: RepoConfig,
}

impl Desired {
    pub fn new(config: RepoConfig) -> Desired {
        Desired { config }
    }

    pub fn domain(&self) -> &str {
        &self.config.domain
    }

    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// The bucket's regional REST endpoint: the origin CloudFront signs requests for.
    pub fn origin_domain(&self) -> String {
        format!("{}.s3.{}.amazonaws.com", self.config.bucket, self.config.region)
    }

    pub fn origin_id(&self) -> String {
        format!("s3-{}", self.config.bucket)
    }

    /// OACs cannot carry tags: ours is the one with this name and [`Desired::oac_description`].
    pub fn oac_name(&self) -> String {
        self.config.bucket.chars().take(64).collect()
    }

    pub fn oac_description(&self) -> String {
        format!("{} chart repository (cargo xtask deploy-infra)", self.config.domain)
    }

    /// The distribution comment (max 128 characters), also a hint when looking for it.
    pub fn comment(&self) -> String {
        crate::aws::distribution::comment(&self.config.domain)
    }

    /// The bucket configuration: private (all four Block Public Access flags), SSE-S3,
    /// versioned, BucketOwnerEnforced, our tags, our error page.
    pub fn bucket_config(&self) -> BucketConfig {
        BucketConfig {
            region: self.config.region.clone(),
            public_access: PublicAccess::ALL_BLOCKED,
            encryption: Some(s3t::ServerSideEncryption::Aes256),
            versioning: Some(s3t::BucketVersioningStatus::Enabled),
            object_ownership: Some(s3t::ObjectOwnership::BucketOwnerEnforced),
            tags: self.config.tags.clone(),
            error_page: Some(ErrorPage::Ours),
        }
    }

    /// Our Origin Access Control: SigV4, always signing, for an S3 origin.
    pub fn oac_config(&self) -> cf::OriginAccessControlConfig {
        cf::OriginAccessControlConfig::builder()
            .name(self.oac_name())
            .description(self.oac_description())
            .signing_protocol(cf::OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(cf::OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(cf::OriginAccessControlOriginTypes::S3)
            .build()
            .expect("every required field of the origin access control is set")
    }

    /// The full distribution configuration. `caller_reference` is the existing one on
    /// update (CloudFront requires it unchanged) and a fresh one on create.
    pub fn distribution_config(
        &self,
        caller_reference: &str,
        oac_id: &str,
        certificate_arn: &str,
    ) -> Result<cf::DistributionConfig> {
        let get_head = || vec![cf::Method::Get, cf::Method::Head];
        let cached = cf::CachedMethods::builder().quantity(2).set_items(Some(get_head())).build()?;
        let allowed =
            cf::AllowedMethods::builder().quantity(2).set_items(Some(get_head())).cached_methods(cached).build()?;
        let behavior = cf::DefaultCacheBehavior::builder()
            .target_origin_id(self.origin_id())
            .viewer_protocol_policy(cf::ViewerProtocolPolicy::RedirectToHttps)
            .allowed_methods(allowed)
            .compress(true)
            .cache_policy_id(CACHING_OPTIMIZED_POLICY_ID)
            .response_headers_policy_id(SECURITY_HEADERS_POLICY_ID)
            .build()?;
        let origin = cf::Origin::builder()
            .id(self.origin_id())
            .domain_name(self.origin_domain())
            .origin_path("")
            // With an OAC the legacy origin access identity must be present and empty.
            .s3_origin_config(cf::S3OriginConfig::builder().origin_access_identity("").build())
            .origin_access_control_id(oac_id)
            .build()?;
        let errors = [403, 404]
            .into_iter()
            .map(|code| {
                cf::CustomErrorResponse::builder()
                    .error_code(code)
                    .response_code("404")
                    .response_page_path(format!("/{ERROR_PAGE_KEY}"))
                    .error_caching_min_ttl(ERROR_CACHING_TTL)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = cf::DistributionConfig::builder()
            .caller_reference(caller_reference)
            .comment(self.comment())
            .enabled(true)
            .aliases(cf::Aliases::builder().quantity(1).items(self.domain()).build()?)
            .default_root_object(DEFAULT_ROOT_OBJECT)
            .origins(cf::Origins::builder().quantity(1).items(origin).build()?)
            .default_cache_behavior(behavior)
            .custom_error_responses(cf::CustomErrorResponses::builder().quantity(2).set_items(Some(errors)).build()?)
            .price_class(cf::PriceClass::from(self.config.price_class.as_str()))
            .viewer_certificate(
                cf::ViewerCertificate::builder()
                    .cloud_front_default_certificate(false)
                    .acm_certificate_arn(certificate_arn)
                    .ssl_support_method(cf::SslSupportMethod::SniOnly)
                    .minimum_protocol_version(cf::MinimumProtocolVersion::TlSv122021)
                    .build(),
            )
            .http_version(cf::HttpVersion::Http2and3)
            .is_ipv6_enabled(true)
            .build()
            .context("building the distribution configuration")?;
        Ok(config)
    }

    /// The configuration to send with UpdateDistribution, which replaces the whole
    /// configuration: `current` (from GetDistributionConfig) with only the settings this
    /// tool manages overwritten. Everything else (logging, WAF web ACL, other cache
    /// behaviors, origins and origin groups, geo restrictions, function associations,
    /// origin timeouts, …) is sent back as CloudFront returned it.
    pub fn updated_distribution_config(
        &self,
        current: &cf::DistributionConfig,
        oac_id: &str,
        certificate_arn: &str,
    ) -> Result<cf::DistributionConfig> {
        let desired = self.distribution_config(current.caller_reference(), oac_id, certificate_arn)?;
        let mut merged = current.clone();
        take!(merged <- desired; comment, enabled, aliases, default_root_object, custom_error_responses,
            price_class, viewer_certificate, http_version, is_ipv6_enabled);
        // Our origin (by id) gets our settings; any other origin is kept.
        let ours = desired.origins.as_ref().and_then(|o| o.items().first()).context("the desired origin")?.clone();
        let mut origins: Vec<cf::Origin> = current.origins().map(|o| o.items().to_vec()).unwrap_or_default();
        match origins.iter_mut().find(|o| o.id() == ours.id()) {
            Some(origin) => {
                take!(origin <- ours; domain_name, origin_path, s3_origin_config, origin_access_control_id);
                origin.custom_origin_config = None;
            }
            None => origins.insert(0, ours),
        }
        merged.origins = Some(cf::Origins::builder().quantity(origins.len() as i32).set_items(Some(origins)).build()?);
        // The default behavior: our settings over whatever else it has (function
        // associations, field-level encryption, …). A cache policy excludes the legacy
        // ForwardedValues / TTL fields.
        let wanted = desired.default_cache_behavior.context("the desired default cache behavior")?;
        let mut behavior = current.default_cache_behavior().cloned().unwrap_or_else(|| wanted.clone());
        take!(behavior <- wanted; target_origin_id, viewer_protocol_policy, allowed_methods, compress,
            cache_policy_id, response_headers_policy_id);
        // Deprecated in the SDK exactly because a cache policy replaces them: clear what an
        // older configuration may still carry.
        #[allow(deprecated)]
        {
            behavior.forwarded_values = None;
            behavior.min_ttl = None;
            behavior.default_ttl = None;
            behavior.max_ttl = None;
        }
        merged.default_cache_behavior = Some(behavior);
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired::new(RepoConfig::load(&crate::project::default_config_path()).unwrap())
    }

    #[test]
    fn ownership_needs_every_tag() {
        let desired = desired();
        let all: Vec<(&str, &str)> = desired.config.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(desired.config.owns(all.clone()));
        assert!(!desired.config.owns(all[1..].to_vec()));
        assert!(!desired.config.owns([("project", "kube9-portal")]));
    }
}
