//! The CloudFront Origin Access Control: how the preflight finds ours (CloudFront cannot
//! tag an OAC: ours is the one our distribution uses, else the one with our name, and a
//! namesake with another description is refused), its settings, how a step creates or
//! updates it and how a rollback deletes it.

use anyhow::{Context, Result, bail};
use aws_sdk_cloudfront::types as cf;

use super::apply::{Created, Run};
use super::desired::Desired;
use super::plan::{Action, Step};
use super::settings::{OacSetting, Settings};
use crate::aws::Clients;
use crate::aws::error::{AwsError, AwsResultExt, ErrorKind};

#[derive(Debug, Clone)]
pub struct OacState {
    pub id: String,
    pub config: cf::OriginAccessControlConfig,
}

/// The settings of an OAC configuration (desired or actual) as a plan shows them.
pub fn settings(config: &cf::OriginAccessControlConfig) -> Settings {
    let mut settings = Settings::new();
    settings
        .put(OacSetting::Description, config.description())
        .set(OacSetting::SigningProtocol, config.signing_protocol().as_str())
        .set(OacSetting::SigningBehavior, config.signing_behavior().as_str())
        .set(OacSetting::OriginType, config.origin_access_control_origin_type().as_str());
    settings
}

/// Our OAC: the one the distribution uses when there is one, else the one with our name.
pub(super) async fn discover(
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
            Err(err) if err.kind() == ErrorKind::NotFound => {}
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
    Ok(Some(OacState { id, config }))
}

/// The current ETag of an origin access control: the `If-Match` of an update or delete.
async fn oac_etag(cloudfront: &aws_sdk_cloudfront::Client, id: &str) -> Result<Option<String>> {
    let current = cloudfront
        .get_origin_access_control()
        .id(id)
        .send()
        .await
        .aws(|| format!("reading origin access control {id}"))?;
    Ok(current.e_tag().map(str::to_string))
}

impl Run<'_> {
    pub(super) async fn apply_oac(&mut self, step: &Step) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        let config = self.desired.oac_config();
        if step.action == Action::Create {
            let out = cloudfront
                .create_origin_access_control()
                .origin_access_control_config(config)
                .send()
                .await
                .aws(|| format!("creating origin access control {}", self.desired.oac_name()))?;
            let id = out.origin_access_control().map(|o| o.id().to_string()).context("no OAC id returned")?;
            self.journal.push(Created::OriginAccessControl { id: id.clone() });
            self.oac_id = Some(id);
        } else {
            let id = self.oac_id.clone().context("no OAC id")?;
            cloudfront
                .update_origin_access_control()
                .id(&id)
                .set_if_match(oac_etag(cloudfront, &id).await?)
                .origin_access_control_config(config)
                .send()
                .await
                .aws(|| format!("updating origin access control {id}"))?;
        }
        Ok(())
    }

    pub(super) async fn delete_oac(&self, id: &str) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        cloudfront
            .delete_origin_access_control()
            .id(id)
            .set_if_match(oac_etag(cloudfront, id).await?)
            .send()
            .await
            .aws(|| format!("deleting origin access control {id}"))?;
        Ok(())
    }
}
