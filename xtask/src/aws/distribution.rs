//! Finding the repository's CloudFront distribution, read-only: the one rule that
//! `release-chart`, `reindex` and `deploy-infra` share.
//!
//! Ours is the distribution that carries every ownership tag of the config and holds the
//! repository's `domain` as an alias (or, after a run that failed half-way, still has the
//! comment deploy-infra gives it). A distribution that holds the alias without our tags
//! belongs to something else: it is refused, never touched. AWS lists every
//! distribution's `Aliases` and `Comment` in ListDistributions, so no configuration is
//! read to find it.

use anyhow::{Result, anyhow, bail};

use super::error::{AwsError, ErrorKind};
use crate::config::RepoConfig;

/// A CloudFront distribution as ListDistributions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    /// `dxxxx.cloudfront.net`
    pub domain_name: String,
    /// `InProgress` or `Deployed`.
    pub status: String,
    pub aliases: Vec<String>,
}

impl Distribution {
    pub fn from_summary(summary: &aws_sdk_cloudfront::types::DistributionSummary) -> Distribution {
        let s = summary;
        Distribution::from_fields(s.id(), s.arn(), s.domain_name(), s.status(), s.aliases())
    }

    /// The distribution CreateDistribution(WithTags) answered with.
    pub fn from_created(created: &aws_sdk_cloudfront::types::Distribution) -> Distribution {
        let c = created;
        let aliases = c.distribution_config().and_then(|config| config.aliases());
        Distribution::from_fields(c.id(), c.arn(), c.domain_name(), c.status(), aliases)
    }

    /// The fields both SDK shapes carry under the same names.
    fn from_fields(
        id: &str,
        arn: &str,
        domain_name: &str,
        status: &str,
        aliases: Option<&aws_sdk_cloudfront::types::Aliases>,
    ) -> Distribution {
        Distribution {
            id: id.to_string(),
            arn: arn.to_string(),
            domain_name: domain_name.to_string(),
            status: status.to_string(),
            aliases: aliases.map(|a| a.items().to_vec()).unwrap_or_default(),
        }
    }

    /// Whether `domain` is one of its aliases (DNS names compare case-insensitively).
    pub fn holds_alias(&self, domain: &str) -> bool {
        self.aliases.iter().any(|alias| alias.eq_ignore_ascii_case(domain))
    }
}

/// The `Comment` deploy-infra gives the distribution it creates (CloudFront allows 128
/// characters).
pub fn comment(domain: &str) -> String {
    let comment = format!("{domain} Helm chart repository (cargo xtask deploy-infra)");
    comment.chars().take(128).collect()
}

/// Our distribution, or `None` when there is none yet. Read calls only
/// (ListDistributions, ListTagsForResource per candidate); refuses a foreign distribution
/// holding the alias, and several of ours.
pub async fn find_ours(cloudfront: &aws_sdk_cloudfront::Client, config: &RepoConfig) -> Result<Option<Distribution>> {
    let domain = &config.domain;
    let step = format!("finding the CloudFront distribution for {domain}");
    let comment = comment(domain);
    let mut candidates = Vec::new();
    let mut summaries = cloudfront.list_distributions().into_paginator().items().send();
    while let Some(summary) = summaries.next().await {
        let summary = summary.map_err(|err| {
            if let Some(err) = super::credentials::rejected(&err, "cloudfront:ListDistributions") {
                return err;
            }
            let hint = if err.kind() == ErrorKind::AccessDenied {
                "; the role needs cloudfront:ListDistributions (see `cargo xtask iam-policy`)"
            } else {
                ""
            };
            anyhow!("{step}: ListDistributions failed: {}{hint}", err.describe())
        })?;
        let distribution = Distribution::from_summary(&summary);
        if distribution.holds_alias(domain) || summary.comment() == comment {
            candidates.push(distribution);
        }
    }
    let mut ours = Vec::new();
    for distribution in candidates {
        let tags = cloudfront.list_tags_for_resource().resource(&distribution.arn).send().await.map_err(|err| {
            anyhow!("{step}: reading the tags of distribution {}: {}", distribution.id, err.describe())
        })?;
        let items = tags.tags().map(aws_sdk_cloudfront::types::Tags::items).unwrap_or_default();
        if config.owns(items.iter().filter_map(|t| Some((t.key(), t.value()?)))) {
            ours.push(distribution);
        } else if distribution.holds_alias(domain) {
            bail!(
                "{step}: CloudFront distribution {} already holds the alias {domain} but lacks our ownership tags \
                 ({}); it belongs to something else (the portal?) and is left untouched: remove the alias from it, \
                 or choose another `domain`",
                distribution.id,
                config.tags_text()
            );
        }
    }
    if ours.len() > 1 {
        let ids: Vec<&str> = ours.iter().map(|d| d.id.as_str()).collect();
        bail!(
            "{step}: several distributions carry our ownership tags ({}): delete the extra ones so exactly one \
             remains",
            ids.join(", ")
        );
    }
    Ok(ours.pop())
}

/// The distribution a release publishes through: ours, holding the alias. Anything else
/// means `deploy-infra` has to run first (a release never creates or changes it).
pub async fn find_for_release(cloudfront: &aws_sdk_cloudfront::Client, config: &RepoConfig) -> Result<Distribution> {
    match find_ours(cloudfront, config).await? {
        Some(distribution) if distribution.holds_alias(&config.domain) => Ok(distribution),
        Some(distribution) => bail!(
            "CloudFront distribution {} carries our ownership tags but not the alias {}: run `cargo xtask \
             deploy-infra` to converge it",
            distribution.id,
            config.domain
        ),
        None => bail!(
            "no CloudFront distribution has the alias {}: the repository infrastructure is not deployed; run `cargo \
             xtask deploy-infra`",
            config.domain
        ),
    }
}
