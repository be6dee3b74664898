//! The read-only half of deploy-infra: the preflight checks and the actual state of
//! every resource (each resource's module reads its own). Nothing here writes; every
//! refusal happens here, before the first write of a run.

use anyhow::{Result, bail};
use aws_sdk_cloudfront::types as cf;
use aws_sdk_route53::types as r53;

use super::bucket::BucketState;
use super::certificate::CertificateState;
use super::desired::Desired;
use super::oac::OacState;
use super::records::RecordsState;
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
    /// The configuration of `distribution` (GetDistribution), there exactly when it is.
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
        let certificate = super::certificate::discover(clients, desired).await?;
        let bucket = super::bucket::discover(clients, desired).await?;
        let distribution = crate::aws::distribution::find_ours(&clients.cloudfront, config)
            .await
            .map_err(|err| err.context("preflight"))?;
        let distribution_config = match &distribution {
            Some(distribution) => Some(super::distribution::discover_config(clients, &distribution.id).await?),
            None => None,
        };
        let oac = super::oac::discover(clients, desired, distribution_config.as_ref()).await?;
        let records = super::records::discover(clients, desired, &zone, distribution.as_ref(), &certificate).await?;
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
