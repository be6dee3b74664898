//! The ACM certificate, in `CLOUDFRONT_CERT_REGION` (the only region CloudFront takes
//! certificates from). A configured `certificate_arn` is checked and used, never changed;
//! otherwise ours (it carries our tags) is found or requested, validated through its DNS
//! CNAME and waited for until ISSUED. A rollback deletes what the run requested.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};

use super::apply::{Created, Run};
use super::desired::Desired;
use super::plan::{Action, Step};
use super::settings::{CertificateSetting, Settings};
use super::wait::{Poll, wait_for};
use crate::aws::Clients;
use crate::aws::error::{AwsError, AwsResultExt, ErrorKind};
use crate::config::CLOUDFRONT_CERT_REGION;
use crate::retry::{self, Attempt};

#[derive(Debug, Clone)]
pub enum CertificateState {
    /// `certificate_arn` from the config: checked, never changed.
    Given { arn: String },
    /// A certificate this tool requested earlier (it carries our tags).
    /// `status` is `None` when ACM reported none.
    Owned { arn: String, status: Option<CertificateStatus>, validation: Option<ValidationRecord> },
    /// None yet: the plan requests one.
    Missing,
}

impl CertificateState {
    pub fn arn(&self) -> Option<&str> {
        match self {
            CertificateState::Given { arn } | CertificateState::Owned { arn, .. } => Some(arn),
            CertificateState::Missing => None,
        }
    }
}

/// The CNAME ACM wants to see before it issues (and renews) a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRecord {
    pub name: String,
    pub value: String,
}

/// What requesting a certificate sets.
pub fn creation_settings(desired: &Desired) -> Settings {
    let mut settings = Settings::new();
    settings
        .set(CertificateSetting::Domain, desired.domain())
        .set(CertificateSetting::Validation, "DNS (CNAME in the hosted zone)")
        .set(CertificateSetting::Tags, desired.config.tags_text());
    settings
}

/// True when the certificate names cover `domain` (exactly, or by a one-level wildcard).
pub fn covers(names: &[&str], domain: &str) -> bool {
    let parent = domain.split_once('.').map(|(_, parent)| parent);
    names.iter().any(|name| {
        name.eq_ignore_ascii_case(domain)
            || name.strip_prefix("*.").is_some_and(|rest| parent.is_some_and(|p| p.eq_ignore_ascii_case(rest)))
    })
}

/// The configured certificate (checked), or ours, or none.
pub(super) async fn discover(clients: &Clients, desired: &Desired) -> Result<CertificateState> {
    let config = &desired.config;
    if config.certificate_arn.is_empty() {
        owned(clients, desired).await
    } else {
        given(clients, &config.certificate_arn, &config.domain).await?;
        Ok(CertificateState::Given { arn: config.certificate_arn.clone() })
    }
}

async fn given(clients: &Clients, arn: &str, domain: &str) -> Result<()> {
    if !arn.contains(&format!(":acm:{CLOUDFRONT_CERT_REGION}:")) {
        bail!(
            "preflight: certificate {arn} is not in {CLOUDFRONT_CERT_REGION}; CloudFront only takes \
             {CLOUDFRONT_CERT_REGION} certificates"
        );
    }
    let described = clients.acm.describe_certificate().certificate_arn(arn).send().await.map_err(|err| {
        anyhow!(
            "preflight: certificate {arn}: {}; fix `certificate_arn` in the config, or leave it empty to \
             request a certificate",
            err.describe()
        )
    })?;
    let Some(detail) = described.certificate() else { bail!("preflight: certificate {arn}: ACM returned no details") };
    if detail.status() != Some(&CertificateStatus::Issued) {
        let status = detail.status().map_or("UNKNOWN", CertificateStatus::as_str);
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

/// Ours: an ISSUED or pending certificate for the domain carrying our tags (an ISSUED one
/// preferred).
async fn owned(clients: &Clients, desired: &Desired) -> Result<CertificateState> {
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
        let detail = describe(&clients.acm, &arn).await.context("preflight")?;
        let Some(detail) = detail.certificate() else { continue };
        let status = detail.status().cloned();
        let issued = status == Some(CertificateStatus::Issued);
        let state = CertificateState::Owned { arn, status, validation: validation_record(detail) };
        if issued || best.is_none() {
            best = Some(state);
        }
        if issued {
            break;
        }
    }
    Ok(best.unwrap_or(CertificateState::Missing))
}

fn validation_record(detail: &aws_sdk_acm::types::CertificateDetail) -> Option<ValidationRecord> {
    detail
        .domain_validation_options()
        .iter()
        .find_map(|option| option.resource_record())
        .map(|record| ValidationRecord { name: record.name().to_string(), value: record.value().to_string() })
}

/// DescribeCertificate: its status and domain validation.
async fn describe(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput> {
    acm.describe_certificate().certificate_arn(arn).send().await.aws(|| format!("describing certificate {arn}"))
}

impl Run<'_> {
    pub(super) async fn apply_certificate(&mut self, step: &Step) -> Result<()> {
        let arn = if step.action == Action::Create {
            self.request_certificate().await?
        } else {
            self.certificate_arn.clone().context("no certificate ARN")?
        };
        self.certificate_arn = Some(arn.clone());
        let validation = self.published_validation_record(&arn).await?;
        self.upsert_validation_record(&validation).await?;
        self.wait_issued(&arn).await
    }

    async fn request_certificate(&mut self) -> Result<String> {
        let domain = self.desired.domain();
        let tags = self
            .desired
            .config
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()?;
        // Same token within an hour: a retried request does not make a second certificate.
        let token: String = format!("kube9{}", fastrand::u64(..)).chars().take(32).collect();
        let out = self
            .clients
            .acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(token)
            .set_tags(Some(tags))
            .send()
            .await
            .aws(|| format!("requesting an ACM certificate for {domain}"))?;
        let arn = out.certificate_arn().context("ACM returned no certificate ARN")?.to_string();
        self.journal.push(Created::Certificate { arn: arn.clone() });
        Ok(arn)
    }

    /// The DNS validation record. ACM may not know a certificate for a few seconds after
    /// RequestCertificate, and publishes the record a few seconds after that: both are
    /// waited out under [`retry::NEW_CERTIFICATE`].
    async fn published_validation_record(&self, arn: &str) -> Result<ValidationRecord> {
        let acm = &self.clients.acm;
        let published = retry::run(
            retry::NEW_CERTIFICATE,
            async |_| match acm.describe_certificate().certificate_arn(arn).send().await {
                Ok(out) => match out.certificate().and_then(validation_record) {
                    Some(record) => Attempt::Done(Ok(record)),
                    None => Attempt::Again(()),
                },
                Err(err) if err.kind() == ErrorKind::NotFound => Attempt::Again(()),
                Err(err) => {
                    Attempt::Done(Err(anyhow!("reading validation record of certificate {arn}: {}", err.describe())))
                }
            },
            |(), _| {},
        )
        .await;
        published.unwrap_or_else(|gave_up| {
            Err(anyhow!(
                "ACM did not publish the DNS validation record of {arn} within {} s; re-run later",
                retry::NEW_CERTIFICATE.deadline().unwrap_or(gave_up.elapsed).as_secs()
            ))
        })
    }

    /// Until the certificate is ISSUED (what CloudFront takes: it follows a little after
    /// every domain validation is SUCCESS); a status it never leaves ends the wait.
    async fn wait_issued(&self, arn: &str) -> Result<()> {
        let acm = &self.clients.acm;
        wait_for(&format!("certificate {arn} to be ISSUED"), self.timeout, async || {
            let out = describe(acm, arn).await?;
            match out.certificate().and_then(|c| c.status()) {
                Some(CertificateStatus::Issued) => Ok(Poll::Ready(())),
                Some(
                    failed @ (CertificateStatus::Failed
                    | CertificateStatus::ValidationTimedOut
                    | CertificateStatus::Revoked),
                ) => bail!("certificate status {}", failed.as_str()),
                status => Ok(Poll::Pending(format!(
                    "certificate status {}",
                    status.map_or("unknown", CertificateStatus::as_str)
                ))),
            }
        })
        .await
    }

    /// Delete a certificate this run requested. CloudFront lets go of a certificate a
    /// little after its distribution is gone: `ResourceInUseException` is waited out.
    pub(super) async fn delete_certificate(&self, arn: &str) -> Result<()> {
        let acm = &self.clients.acm;
        let deleted = retry::run(
            retry::aws_wait(self.timeout),
            async |_| match acm.delete_certificate().certificate_arn(arn).send().await {
                Ok(_) => Attempt::Done(Ok(())),
                Err(err) if err.kind() == ErrorKind::InUse => Attempt::Again(err),
                Err(err) => Attempt::Done(Err(err)),
            },
            |_, _| {},
        )
        .await;
        match deleted {
            Ok(result) => result.aws(|| format!("deleting certificate {arn}")),
            Err(gave_up) => Err(gave_up.last).aws(|| format!("deleting certificate {arn}")),
        }
    }
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
