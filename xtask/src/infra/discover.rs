//! The read-only half of deploy-infra: the preflight checks and the actual state of
//! every resource. Nothing here writes; every refusal happens here, before the first
//! write of a run.

use anyhow::{Result, bail};
use aws_sdk_cloudfront::types as cf;
use aws_sdk_route53::types as r53;

use super::desired::{Desired, ERROR_PAGE_BODY, ERROR_PAGE_KEY};
use super::settings::Settings;
use crate::aws::Clients;
use crate::aws::distribution::Distribution;
use crate::aws::error::{AwsError, AwsResultExt};

/// Regions with S3, CloudFront origins and STS as of 2025. A region outside the list is
/// refused before any call, because the SDK would only fail later with a DNS error.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// The public hosted zone that holds the domain.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct BucketState {
    pub settings: Settings,
    /// The bucket policy text, when there is one.
    pub policy: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OacState {
    pub id: String,
    pub settings: Settings,
}

#[derive(Debug, Clone)]
pub enum CertificateState {
    /// `certificate_arn` from the config: checked, never changed.
    Given { arn: String },
    /// A certificate this tool requested earlier (it carries our tags).
    Owned { arn: String, status: String, validation: Option<ValidationRecord> },
    /// None yet: the plan requests one.
    Missing,
}

/// The CNAME ACM wants to see before it issues (and renews) a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRecord {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default)]
pub struct RecordsState {
    pub a: Option<r53::ResourceRecordSet>,
    pub aaaa: Option<r53::ResourceRecordSet>,
    /// The certificate's validation CNAME as it is in the zone (when we own a certificate).
    pub validation: Option<r53::ResourceRecordSet>,
}

/// What exists now, as far as deploy-infra is concerned.
#[derive(Debug, Clone)]
pub struct Actual {
    pub account: String,
    pub caller_arn: String,
    pub zone: Zone,
    pub bucket: Option<BucketState>,
    pub oac: Option<OacState>,
    pub certificate: CertificateState,
    pub distribution: Option<Distribution>,
    /// The configuration of `distribution` (GetDistributionConfig), there exactly when it is.
    pub distribution_config: Option<cf::DistributionConfig>,
    pub records: RecordsState,
}

impl Actual {
    /// Run the preflight and read the actual state. Read calls only.
    pub async fn discover(clients: &Clients, desired: &Desired) -> Result<Actual> {
        let config = &desired.config;
        if !KNOWN_REGIONS.contains(&config.region.as_str()) {
            bail!(
                "preflight: unknown AWS region {:?} in `region`: use one of {} (or add a new region to \
                 KNOWN_REGIONS in xtask/src/infra/discover.rs)",
                config.region,
                KNOWN_REGIONS.join(", ")
            );
        }
        crate::aws::credentials::require(&clients.shared).await?;
        let identity = clients.sts.get_caller_identity().send().await.map_err(|err| {
            crate::aws::credentials::rejected(&err, "sts:GetCallerIdentity").unwrap_or_else(|| {
                anyhow::anyhow!("preflight: checking AWS credentials (sts:GetCallerIdentity): {}", err.describe())
            })
        })?;
        let account = identity.account().unwrap_or_default().to_string();
        let caller_arn = identity.arn().unwrap_or_default().to_string();
        let zone = hosted_zone(clients, &config.hosted_zone).await?;
        let certificate = if config.certificate_arn.is_empty() {
            owned_certificate(clients, desired).await?
        } else {
            given_certificate(clients, &config.certificate_arn, &config.domain).await?;
            CertificateState::Given { arn: config.certificate_arn.clone() }
        };
        let bucket = bucket(clients, desired).await?;
        let distribution = crate::aws::distribution::find_ours(&clients.cloudfront, config)
            .await
            .map_err(|err| err.context("preflight"))?;
        let distribution_config = match &distribution {
            Some(distribution) => Some(distribution_config(clients, &distribution.id).await?),
            None => None,
        };
        let oac = oac(clients, desired, distribution_config.as_ref()).await?;
        let records = records(clients, desired, &zone, distribution.as_ref(), &certificate).await?;
        Ok(Actual { account, caller_arn, zone, bucket, oac, certificate, distribution, distribution_config, records })
    }
}

/// One page of ListHostedZonesByName (no paginator in the SDK; it pages by DNS name and
/// zone id): sorted by name, starting at `name`, so the zones named `name` come first.
async fn hosted_zone(clients: &Clients, name: &str) -> Result<Zone> {
    let wanted = format!("{}.", name.trim_end_matches('.'));
    let zones = clients
        .route53
        .list_hosted_zones_by_name()
        .dns_name(&wanted)
        .max_items(100)
        .send()
        .await
        .aws(|| format!("preflight: looking up hosted zone {name}"))?;
    let matching: Vec<&r53::HostedZone> =
        zones.hosted_zones().iter().filter(|zone| zone.name().eq_ignore_ascii_case(&wanted)).collect();
    let public: Vec<&&r53::HostedZone> = matching
        .iter()
        .filter(|zone| !zone.config().is_some_and(aws_sdk_route53::types::HostedZoneConfig::private_zone))
        .collect();
    if public.len() > 1 {
        let ids: Vec<&str> = public.iter().map(|zone| zone.id().trim_start_matches("/hostedzone/")).collect();
        bail!(
            "preflight: {} public hosted zones are named {name} ({}); only the one the registrar delegates to \
             answers: delete the other zone(s), then re-run",
            public.len(),
            ids.join(", ")
        );
    }
    let public = public.first();
    match (public, matching.is_empty()) {
        (Some(zone), _) => Ok(Zone { id: zone.id().trim_start_matches("/hostedzone/").to_string(), name: wanted }),
        (None, true) => bail!(
            "preflight: hosted zone {name} not found in this AWS account: create the public Route53 zone \
             (and delegate it from the registrar), or fix `hosted_zone` in the config"
        ),
        (None, false) => bail!(
            "preflight: hosted zone {name} is private; the repository needs a public zone: create a public \
             Route53 zone for {name}"
        ),
    }
}

/// True when the certificate names cover `domain` (exactly, or by a one-level wildcard).
pub fn covers(names: &[&str], domain: &str) -> bool {
    let parent = domain.split_once('.').map(|(_, parent)| parent);
    names.iter().any(|name| {
        name.eq_ignore_ascii_case(domain)
            || name.strip_prefix("*.").is_some_and(|rest| parent.is_some_and(|p| p.eq_ignore_ascii_case(rest)))
    })
}

async fn given_certificate(clients: &Clients, arn: &str, domain: &str) -> Result<()> {
    if !arn.starts_with("arn:aws:acm:us-east-1:") && !arn.contains(":acm:us-east-1:") {
        bail!("preflight: certificate {arn} is not in us-east-1; CloudFront only takes us-east-1 certificates");
    }
    let described = clients.acm.describe_certificate().certificate_arn(arn).send().await.map_err(|err| {
        anyhow::anyhow!(
            "preflight: certificate {arn}: {}; fix `certificate_arn` in the config, or leave it empty to \
             request a certificate",
            err.describe()
        )
    })?;
    let Some(detail) = described.certificate() else { bail!("preflight: certificate {arn}: ACM returned no details") };
    let status = detail.status().map_or("UNKNOWN", aws_sdk_acm::types::CertificateStatus::as_str);
    if status != "ISSUED" {
        bail!("preflight: certificate {arn} is {status}, not ISSUED: validate it in ACM or fix `certificate_arn`");
    }
    let mut names: Vec<&str> = detail.subject_alternative_names().iter().map(String::as_str).collect();
    names.extend(detail.domain_name());
    if !covers(&names, domain) {
        bail!(
            "preflight: certificate {arn} covers {} but not {domain}: fix `certificate_arn` or leave it empty",
            names.join(", ")
        );
    }
    Ok(())
}

async fn owned_certificate(clients: &Clients, desired: &Desired) -> Result<CertificateState> {
    use aws_sdk_acm::types::CertificateStatus;
    let mut candidates = Vec::new();
    let mut summaries = clients
        .acm
        .list_certificates()
        .certificate_statuses(CertificateStatus::Issued)
        .certificate_statuses(CertificateStatus::PendingValidation)
        .into_paginator()
        .items()
        .send();
    while let Some(summary) = summaries.next().await {
        let summary = summary.aws(|| format!("preflight: listing ACM certificates for {}", desired.domain()))?;
        if summary.domain_name().is_some_and(|d| d.eq_ignore_ascii_case(desired.domain()))
            && let Some(arn) = summary.certificate_arn()
        {
            candidates.push(arn.to_string());
        }
    }
    let mut best: Option<CertificateState> = None;
    for arn in candidates {
        let tags = clients
            .acm
            .list_tags_for_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .aws(|| format!("preflight: reading tags of certificate {arn}"))?;
        if !desired.config.owns(tags.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default()))) {
            continue;
        }
        let detail = clients
            .acm
            .describe_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .aws(|| format!("preflight: describing certificate {arn}"))?;
        let Some(detail) = detail.certificate() else { continue };
        let status = detail.status().map(|s| s.as_str().to_string()).unwrap_or_default();
        let validation = detail
            .domain_validation_options()
            .iter()
            .find_map(|option| option.resource_record())
            .map(|record| ValidationRecord { name: record.name().to_string(), value: record.value().to_string() });
        let issued = status == "ISSUED";
        let state = CertificateState::Owned { arn, status, validation };
        if issued || best.is_none() {
            best = Some(state);
        }
        if issued {
            break;
        }
    }
    Ok(best.unwrap_or(CertificateState::Missing))
}

async fn bucket(clients: &Clients, desired: &Desired) -> Result<Option<BucketState>> {
    let name = desired.bucket();
    let s3 = &clients.s3;
    if let Err(err) = s3.head_bucket().bucket(name).send().await {
        return match err.status() {
            Some(404) => Ok(None),
            Some(403) => bail!(
                "preflight: bucket {name} answered HeadBucket with HTTP 403: it is owned by another account, or \
                 this role lacks s3:ListBucket on it; bucket names are global: choose another `bucket` in the config, \
                 or grant the role the policy `cargo xtask iam-policy --role deploy` prints"
            ),
            Some(301) => bail!(
                "preflight: bucket {name} exists in another region than {} (HTTP 301): set `region` to the \
                 bucket's region, or choose another `bucket`",
                desired.config.region
            ),
            _ => bail!("preflight: checking bucket {name}: {}", err.describe()),
        };
    }
    let tags = match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
        Err(err) if err.code() == Some("NoSuchTagSet") => Vec::new(),
        Err(err) => bail!("preflight: reading tags of bucket {name}: {}", err.describe()),
    };
    if !desired.config.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        bail!(
            "preflight: bucket {name} already exists without our ownership tags ({}); it belongs to something \
             else (the portal?) and is left untouched: choose another `bucket` in the config, or tag it if it \
             really is this repository's bucket",
            desired.config.tags_text()
        );
    }
    let mut settings = Settings::new();
    let location = s3
        .get_bucket_location()
        .bucket(name)
        .send()
        .await
        .aws(|| format!("preflight: reading the region of bucket {name}"))?;
    let region = location
        .location_constraint()
        .map(aws_sdk_s3::types::BucketLocationConstraint::as_str)
        .filter(|c| !c.is_empty())
        .unwrap_or("us-east-1");
    if region != desired.config.region {
        bail!(
            "preflight: bucket {name} is in {region} but the config says {}: set `region` to {region}",
            desired.config.region
        );
    }
    settings.set("region", region);
    let (acls, ignore, policy, restrict) = match s3.get_public_access_block().bucket(name).send().await {
        Ok(out) => {
            let c = out.public_access_block_configuration();
            let flag = |f: Option<bool>| f.unwrap_or(false).to_string();
            (
                flag(c.and_then(aws_sdk_s3::types::PublicAccessBlockConfiguration::block_public_acls)),
                flag(c.and_then(aws_sdk_s3::types::PublicAccessBlockConfiguration::ignore_public_acls)),
                flag(c.and_then(aws_sdk_s3::types::PublicAccessBlockConfiguration::block_public_policy)),
                flag(c.and_then(aws_sdk_s3::types::PublicAccessBlockConfiguration::restrict_public_buckets)),
            )
        }
        Err(err) if err.code() == Some("NoSuchPublicAccessBlockConfiguration") => {
            ("false".into(), "false".into(), "false".into(), "false".into())
        }
        Err(err) => bail!("preflight: reading Block Public Access of bucket {name}: {}", err.describe()),
    };
    settings
        .set("block_public_acls", acls)
        .set("ignore_public_acls", ignore)
        .set("block_public_policy", policy)
        .set("restrict_public_buckets", restrict);
    let encryption = match s3.get_bucket_encryption().bucket(name).send().await {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map_or_else(|| "(none)".into(), |d| d.sse_algorithm().as_str().to_string()),
        Err(err) if err.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => "(none)".into(),
        Err(err) => bail!("preflight: reading encryption of bucket {name}: {}", err.describe()),
    };
    settings.set("encryption", encryption);
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .aws(|| format!("preflight: reading versioning of bucket {name}"))?;
    settings
        .set("versioning", versioning.status().map_or("Disabled", aws_sdk_s3::types::BucketVersioningStatus::as_str));
    let ownership = match s3.get_bucket_ownership_controls().bucket(name).send().await {
        Ok(out) => out
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map_or_else(|| "(none)".into(), |r| r.object_ownership().as_str().to_string()),
        Err(err) if err.code() == Some("OwnershipControlsNotFoundError") => "(none)".into(),
        Err(err) => bail!("preflight: reading object ownership of bucket {name}: {}", err.describe()),
    };
    settings.set("object_ownership", ownership);
    let mut own_tags: Vec<String> =
        tags.iter().filter(|(k, _)| desired.config.tags.contains_key(k)).map(|(k, v)| format!("{k}={v}")).collect();
    own_tags.sort();
    settings.set("tags", own_tags.join(","));
    // Listing, not GetObject: a bucket-level read, so it needs no object permission and
    // works whatever the bucket policy says. The size tells our page from another one.
    let listed = s3
        .list_objects_v2()
        .bucket(name)
        .prefix(ERROR_PAGE_KEY)
        .max_keys(1)
        .send()
        .await
        .aws(|| format!("preflight: looking for s3://{name}/{ERROR_PAGE_KEY}"))?;
    let error_page = match listed.contents().iter().find(|o| o.key() == Some(ERROR_PAGE_KEY)) {
        None => "(none)".to_string(),
        Some(object) if object.size() == Some(ERROR_PAGE_BODY.len() as i64) => {
            format!("{ERROR_PAGE_KEY} ({} bytes)", ERROR_PAGE_BODY.len())
        }
        Some(object) => format!("{ERROR_PAGE_KEY} (other content, {} bytes)", object.size().unwrap_or(0)),
    };
    settings.set("error_page", error_page);
    let policy = match s3.get_bucket_policy().bucket(name).send().await {
        Ok(out) => out.policy().map(str::to_string),
        Err(err) if err.code() == Some("NoSuchBucketPolicy") => None,
        Err(err) => bail!("preflight: reading the policy of bucket {name}: {}", err.describe()),
    };
    Ok(Some(BucketState { settings, policy }))
}

/// Our OAC: the one the distribution uses when there is one, else the one with our name.
async fn oac(
    clients: &Clients,
    desired: &Desired,
    distribution_config: Option<&cf::DistributionConfig>,
) -> Result<Option<OacState>> {
    let in_use = distribution_config
        .and_then(|config| config.origins())
        .and_then(|o| o.items().first())
        .and_then(|o| o.origin_access_control_id())
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let mut found: Option<(String, cf::OriginAccessControlConfig)> = None;
    if let Some(id) = &in_use {
        match clients.cloudfront.get_origin_access_control().id(id).send().await {
            Ok(out) => {
                if let Some(config) = out.origin_access_control().and_then(|o| o.origin_access_control_config()) {
                    found = Some((id.clone(), config.clone()));
                }
            }
            Err(err) if err.code() == Some("NoSuchOriginAccessControl") => {}
            Err(err) => bail!("preflight: reading origin access control {id}: {}", err.describe()),
        }
    }
    if found.is_none() {
        let mut summaries = clients.cloudfront.list_origin_access_controls().into_paginator().items().send();
        while let Some(summary) = summaries.next().await {
            let summary = summary.aws(|| "preflight: listing CloudFront origin access controls".to_string())?;
            if summary.name() == desired.oac_name() {
                let config = cf::OriginAccessControlConfig::builder()
                    .name(summary.name())
                    .description(summary.description())
                    .signing_protocol(summary.signing_protocol().clone())
                    .signing_behavior(summary.signing_behavior().clone())
                    .origin_access_control_origin_type(summary.origin_access_control_origin_type().clone())
                    .build()?;
                found = Some((summary.id().to_string(), config));
                break;
            }
        }
    }
    let Some((id, config)) = found else { return Ok(None) };
    if config.name() == desired.oac_name() && config.description() != Some(desired.oac_description().as_str()) {
        bail!(
            "preflight: origin access control {} ({id}) already exists with another description ({:?}); it is not \
             ours and is left untouched: delete or rename it, or choose another `bucket`",
            config.name(),
            config.description().unwrap_or_default()
        );
    }
    let mut settings = Settings::new();
    settings
        .set("description", config.description().unwrap_or_default())
        .set("signing_protocol", config.signing_protocol().as_str())
        .set("signing_behavior", config.signing_behavior().as_str())
        .set("origin_type", config.origin_access_control_origin_type().as_str());
    Ok(Some(OacState { id, settings }))
}

/// The configuration of our distribution (GetDistribution), to compare with the desired one.
async fn distribution_config(clients: &Clients, id: &str) -> Result<cf::DistributionConfig> {
    let out = clients
        .cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
        .aws(|| format!("preflight: reading distribution {id}"))?;
    match out.distribution().and_then(|dist| dist.distribution_config()) {
        Some(config) => Ok(config.clone()),
        None => bail!("preflight: reading distribution {id}: no configuration returned"),
    }
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// The record sets named `name`. One page, no loop and no paginator (the SDK has none for
/// ListResourceRecordSets, which pages by start name and type): the list is sorted by
/// name, starts at `name`, and one name holds far fewer than 20 record sets.
async fn record_sets(clients: &Clients, zone: &Zone, name: &str) -> Result<Vec<r53::ResourceRecordSet>> {
    let wanted = fqdn(name);
    let out = clients
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .start_record_name(&wanted)
        .max_items(20)
        .send()
        .await
        .aws(|| format!("preflight: listing records {wanted} in zone {}", zone.name))?;
    Ok(out.resource_record_sets().iter().filter(|set| fqdn(set.name()) == wanted).cloned().collect())
}

async fn records(
    clients: &Clients,
    desired: &Desired,
    zone: &Zone,
    distribution: Option<&Distribution>,
    certificate: &CertificateState,
) -> Result<RecordsState> {
    let mut state = RecordsState::default();
    for set in record_sets(clients, zone, desired.domain()).await? {
        let kind = set.r#type().as_str();
        if !matches!(kind, "A" | "AAAA" | "CNAME") {
            continue;
        }
        let target = set.alias_target().map(|t| fqdn(t.dns_name()));
        let ours = match (distribution, &target) {
            (Some(dist), Some(target)) => *target == fqdn(&dist.domain_name),
            _ => false,
        };
        if !ours || kind == "CNAME" {
            let points_to = target.unwrap_or_else(|| {
                set.resource_records().iter().map(|r| r.value().to_string()).collect::<Vec<_>>().join(",")
            });
            bail!(
                "preflight: Route53 {kind} record {} already exists and points to {points_to}, not to a distribution \
                 of ours; it is left untouched: delete it (or point it elsewhere) if this repository should own \
                 {}, or choose another `domain`",
                desired.domain(),
                desired.domain()
            );
        }
        match kind {
            "A" => state.a = Some(set),
            _ => state.aaaa = Some(set),
        }
    }
    if let CertificateState::Owned { validation: Some(validation), .. } = certificate {
        state.validation =
            record_sets(clients, zone, &validation.name).await?.into_iter().find(|s| s.r#type().as_str() == "CNAME");
    }
    Ok(state)
}

/// Settings of a record set as deploy-infra sees them.
pub fn record_settings(set: Option<&r53::ResourceRecordSet>) -> Settings {
    let mut settings = Settings::new();
    match set {
        None => {
            settings.set("target", "(none)");
        }
        Some(set) => match set.alias_target() {
            Some(alias) => {
                settings
                    .set("target", format!("alias {}", fqdn(alias.dns_name())))
                    .set("alias_zone", alias.hosted_zone_id())
                    .set("evaluate_target_health", alias.evaluate_target_health().to_string());
            }
            None => {
                let values: Vec<&str> =
                    set.resource_records().iter().map(aws_sdk_route53::types::ResourceRecord::value).collect();
                settings.set("target", values.join(","));
            }
        },
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_coverage() {
        assert!(covers(&["charts.kube9.io"], "charts.kube9.io"));
        assert!(covers(&["kube9.io", "*.kube9.io"], "charts.kube9.io"));
        assert!(!covers(&["*.charts.kube9.io"], "charts.kube9.io"));
        assert!(!covers(&["kube9.io"], "charts.kube9.io"));
        assert!(!covers(&["*.io"], "charts.kube9.io"));
    }
}
