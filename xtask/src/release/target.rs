//! Finding where a release goes, read-only: the bucket named in
//! `charts/repository.toml`, and the CloudFront distribution that carries the
//! repository's `domain` as an alias AND the config's ownership tags.
//!
//! Nothing here creates or changes infrastructure: a missing piece is an error that says
//! to run `cargo xtask deploy-infra`. The bucket's existence is proven by the first read
//! of `index.yaml` (S3 answers `NoSuchBucket`), which saves a request per release.

use anyhow::{Result, anyhow, bail};

use crate::aws::Clients;
use crate::aws::error::{AwsError, ErrorKind};
use crate::config::RepoConfig;

/// A CloudFront distribution this tool may invalidate.
#[derive(Debug, Clone)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    /// `dxxxx.cloudfront.net`
    pub domain_name: String,
}

/// The distribution whose aliases include `config.domain` and that carries every
/// ownership tag of the config.
pub async fn find_distribution(clients: &Clients, config: &RepoConfig) -> Result<Distribution> {
    let cloudfront = &clients.cloudfront;
    let mut marker: Option<String> = None;
    let mut found = None;
    let mut without_aliases = Vec::new();
    'pages: loop {
        let page = cloudfront.list_distributions().set_marker(marker.clone()).send().await.map_err(|err| {
            if let Some(err) = crate::credentials::rejected(&err, "cloudfront:ListDistributions") {
                return err;
            }
            let hint = if err.kind() == ErrorKind::AccessDenied {
                "; the release role needs cloudfront:ListDistributions (see `cargo xtask iam-policy`)"
            } else {
                ""
            };
            anyhow!(
                "finding the CloudFront distribution for {}: ListDistributions failed: {}{hint}",
                config.domain,
                err.describe()
            )
        })?;
        let Some(list) = page.distribution_list() else { break };
        for summary in list.items() {
            let aliases = summary.aliases().map(|a| a.items()).unwrap_or_default();
            if aliases.is_empty() {
                without_aliases.push(summary.clone());
            }
            if aliases.iter().any(|alias| alias.eq_ignore_ascii_case(&config.domain)) {
                found = Some(Distribution {
                    id: summary.id().to_string(),
                    arn: summary.arn().to_string(),
                    domain_name: summary.domain_name().to_string(),
                });
                break 'pages;
            }
        }
        match list.next_marker() {
            Some(next) if list.is_truncated() && !next.is_empty() => marker = Some(next.to_string()),
            _ => break,
        }
    }
    if found.is_none() {
        // AWS always lists the aliases; some moto versions leave them out of the list, so
        // look at the configuration of the distributions that showed none.
        for summary in without_aliases {
            let aliases = distribution_aliases(cloudfront, summary.id()).await?;
            if aliases.iter().any(|alias| alias.eq_ignore_ascii_case(&config.domain)) {
                found = Some(Distribution {
                    id: summary.id().to_string(),
                    arn: summary.arn().to_string(),
                    domain_name: summary.domain_name().to_string(),
                });
                break;
            }
        }
    }
    let Some(distribution) = found else {
        bail!(
            "no CloudFront distribution has the alias {}: the repository infrastructure is not deployed; run `cargo \
             xtask deploy-infra`",
            config.domain
        );
    };

    let tags = cloudfront.list_tags_for_resource().resource(&distribution.arn).send().await.map_err(|err| {
        anyhow!(
            "reading the tags of CloudFront distribution {}: ListTagsForResource failed: {}",
            distribution.id,
            err.describe()
        )
    })?;
    let present: Vec<(&str, Option<&str>)> =
        tags.tags().map(|t| t.items()).unwrap_or_default().iter().map(|t| (t.key(), t.value())).collect();
    let missing: Vec<String> = config
        .tags
        .iter()
        .filter(|(key, value)| !present.iter().any(|(k, v)| k == key && *v == Some(value.as_str())))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "CloudFront distribution {} has the alias {} but lacks the ownership tags {}: it is not managed by this \
             tool, so no release will touch it; run `cargo xtask deploy-infra` to see and resolve the conflict",
            distribution.id,
            config.domain,
            missing.join(", ")
        );
    }
    Ok(distribution)
}

async fn distribution_aliases(cloudfront: &aws_sdk_cloudfront::Client, id: &str) -> Result<Vec<String>> {
    let response = cloudfront.get_distribution_config().id(id).send().await.map_err(|err| {
        anyhow!("reading the aliases of CloudFront distribution {id}: GetDistributionConfig failed: {}", err.describe())
    })?;
    Ok(response.distribution_config().and_then(|c| c.aliases()).map(|a| a.items().to_vec()).unwrap_or_default())
}
