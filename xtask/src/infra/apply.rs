//! Applying a plan: steps in dependency order, an undo journal of everything this run
//! creates, and a rollback of exactly that journal (newest first) when a step fails.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_acm::client::Waiters as _;
use aws_sdk_cloudfront::client::Waiters as _;
use aws_sdk_cloudfront::types as cf;
use aws_sdk_route53::client::Waiters as _;
use aws_sdk_route53::types as r53;
use aws_sdk_s3::types as s3t;
use serde::Serialize;

use super::desired::{CLOUDFRONT_HOSTED_ZONE_ID, Desired, ERROR_PAGE_BODY, ERROR_PAGE_KEY};
use super::discover::{Actual, CertificateState, ValidationRecord};
use super::plan::{Action, Plan, Resource, Step};
use super::policy;
use super::wait::wait_for;
use crate::aws::Clients;
use crate::aws::distribution::Distribution;
use crate::aws::error::{AwsError, AwsResultExt};

/// What the stack is, after a run (or as found, when nothing changed).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub repository_url: String,
    pub bucket: String,
    pub region: String,
    pub origin_access_control_id: Option<String>,
    pub certificate_arn: Option<String>,
    pub distribution_id: Option<String>,
    pub distribution_domain: Option<String>,
    pub hosted_zone_id: String,
    pub records: Vec<String>,
}

impl Summary {
    pub fn render(&self) -> String {
        let or_pending = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not created yet)".into());
        format!(
            "repository    {}\nbucket        {} ({})\ndistribution  {} ({})\norigin access {}\ncertificate   {}\nrecords       {} in zone {}\n",
            self.repository_url,
            self.bucket,
            self.region,
            or_pending(&self.distribution_id),
            or_pending(&self.distribution_domain),
            or_pending(&self.origin_access_control_id),
            or_pending(&self.certificate_arn),
            self.records.join(", "),
            self.hosted_zone_id,
        )
    }
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    NoChanges { summary: Summary },
    Applied { summary: Summary },
    DryRun { summary: Summary },
}

/// A resource this run created; rollback removes it.
#[derive(Debug, Clone)]
enum Created {
    Bucket,
    ErrorPage,
    OriginAccessControl { id: String },
    Certificate { arn: String },
    ValidationRecord { set: Box<r53::ResourceRecordSet> },
    Distribution { id: String },
    BucketPolicy,
    Records { sets: Vec<r53::ResourceRecordSet> },
}

impl Created {
    fn describe(&self, desired: &Desired) -> String {
        match self {
            Created::Bucket => format!("s3 bucket {}", desired.bucket()),
            Created::ErrorPage => format!("s3://{}/{ERROR_PAGE_KEY}", desired.bucket()),
            Created::OriginAccessControl { id } => format!("origin access control {id}"),
            Created::Certificate { arn } => format!("acm certificate {arn}"),
            Created::ValidationRecord { set } => format!("validation record {}", set.name()),
            Created::Distribution { id } => format!("cloudfront distribution {id}"),
            Created::BucketPolicy => format!("bucket policy of {}", desired.bucket()),
            Created::Records { sets } => {
                let names: Vec<String> = sets.iter().map(|s| format!("{} {}", s.r#type().as_str(), s.name())).collect();
                format!("records {}", names.join(", "))
            }
        }
    }
}

/// Everything a run has resolved so far (ids of existing or newly created resources).
struct Run<'a> {
    clients: &'a Clients,
    desired: &'a Desired,
    actual: &'a Actual,
    timeout: Duration,
    journal: Vec<Created>,
    oac_id: Option<String>,
    certificate_arn: Option<String>,
    distribution: Option<Distribution>,
}

/// The summary of the stack as found (no change, or a dry run).
pub fn summary_of(desired: &Desired, actual: &Actual) -> Summary {
    let certificate_arn = match &actual.certificate {
        CertificateState::Given { arn } | CertificateState::Owned { arn, .. } => Some(arn.clone()),
        CertificateState::Missing => None,
    };
    Summary {
        repository_url: desired.config.repo_url(),
        bucket: desired.bucket().to_string(),
        region: desired.config.region.clone(),
        origin_access_control_id: actual.oac.as_ref().map(|o| o.id.clone()),
        certificate_arn,
        distribution_id: actual.distribution.as_ref().map(|d| d.id.clone()),
        distribution_domain: actual.distribution.as_ref().map(|d| d.domain_name.clone()),
        hosted_zone_id: actual.zone.id.clone(),
        records: vec![format!("{} A", desired.domain()), format!("{} AAAA", desired.domain())],
    }
}

/// Apply `plan`. On failure, roll back what this run created and return an error that
/// names the failing step, the AWS error and what the rollback did.
pub async fn apply(
    clients: &Clients,
    desired: &Desired,
    actual: &Actual,
    plan: &Plan,
    timeout: Duration,
) -> Result<Summary> {
    let mut run = Run {
        clients,
        desired,
        actual,
        timeout,
        journal: Vec::new(),
        oac_id: actual.oac.as_ref().map(|o| o.id.clone()),
        certificate_arn: match &actual.certificate {
            CertificateState::Given { arn } | CertificateState::Owned { arn, .. } => Some(arn.clone()),
            CertificateState::Missing => None,
        },
        distribution: actual.distribution.clone(),
    };
    // Ctrl-C is listened for from here, before the first write, to the end of the
    // rollback: one listener for the whole run. A listener made per step (as
    // `tokio::signal::ctrl_c()` in each `select!`) subscribes only when first polled, so
    // a press that lands between two steps, or while a loaded machine has not yet polled
    // it, was swallowed by the already installed handler and the run never stopped.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for Ctrl-C")?;
    let mut failure = None;
    for step in &plan.steps {
        if step.action == Action::NoChange {
            continue;
        }
        eprintln!("{} …", step.title());
        let outcome = tokio::select! {
            result = run.step(step) => result.map_err(|err| format!("step `{}` failed: {err:#}", step.title())),
            _ = interrupt.recv() => Err(format!(
                "interrupted (Ctrl-C) during step `{}`; a resource that step was creating may remain: the next run \
                 adopts it (it carries our tags or name)",
                step.title()
            )),
        };
        if let Err(err) = outcome {
            failure = Some(err);
            break;
        }
    }
    if let Some(failure) = failure {
        // A second Ctrl-C stops the rollback itself. The one exit below `main`: the
        // rollback future cannot be unwound from here, and a person pressing Ctrl-C twice
        // wants out now.
        let abort = tokio::spawn(async move {
            if interrupt.recv().await.is_some() {
                eprintln!(
                    "error: rollback aborted by a second Ctrl-C; resources of this run may remain: re-run `cargo \
                     xtask deploy-infra` to converge"
                );
                std::process::exit(130);
            }
        });
        let report = run.rollback().await;
        abort.abort();
        bail!("{failure}\n{report}");
    }
    let mut summary = summary_of(desired, actual);
    summary.origin_access_control_id.clone_from(&run.oac_id);
    summary.certificate_arn.clone_from(&run.certificate_arn);
    summary.distribution_id = run.distribution.as_ref().map(|d| d.id.clone());
    summary.distribution_domain = run.distribution.as_ref().map(|d| d.domain_name.clone());
    Ok(summary)
}

impl Run<'_> {
    async fn step(&mut self, step: &Step) -> Result<()> {
        match step.resource {
            Resource::Bucket => self.bucket(step).await,
            Resource::OriginAccessControl => self.oac(step).await,
            Resource::Certificate => self.certificate(step).await,
            Resource::Distribution => self.distribution(step).await,
            Resource::BucketPolicy => self.bucket_policy(step).await,
            Resource::DnsRecords => self.records(step).await,
        }
    }

    async fn bucket(&mut self, step: &Step) -> Result<()> {
        let s3 = &self.clients.s3;
        let name = self.desired.bucket();
        let create = step.action == Action::Create;
        let changed = |setting: &str| create || step.changes.iter().any(|c| c.setting == setting);
        if create {
            let mut request =
                s3.create_bucket().bucket(name).object_ownership(s3t::ObjectOwnership::BucketOwnerEnforced);
            if self.desired.config.region != "us-east-1" {
                request = request.create_bucket_configuration(
                    s3t::CreateBucketConfiguration::builder()
                        .location_constraint(s3t::BucketLocationConstraint::from(self.desired.config.region.as_str()))
                        .build(),
                );
            }
            // In us-east-1 CreateBucket answers 200 for a bucket we already own (made by a run
            // that raced this one since the preflight): only a bucket that did not exist right
            // before is journaled, so a rollback never deletes another run's bucket.
            let existed = match s3.head_bucket().bucket(name).send().await {
                Ok(_) => true,
                Err(err) if err.status() == Some(404) => false,
                Err(err) => bail!("checking bucket {name} before creating it: {}", err.describe()),
            };
            if existed {
                let tags = match s3.get_bucket_tagging().bucket(name).send().await {
                    Ok(out) => out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
                    Err(err) if err.code() == Some("NoSuchTagSet") => Vec::new(),
                    Err(err) => bail!("reading tags of bucket {name}: {}", err.describe()),
                };
                if !self.desired.config.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                    bail!(
                        "bucket {name} appeared since the preflight without our ownership tags ({}); it is left \
                         untouched: re-run `cargo xtask deploy-infra` to see who owns it",
                        self.desired.config.tags_text()
                    );
                }
                eprintln!("bucket {name} was created by another run since the preflight; adopting it");
            } else {
                request.send().await.aws(|| format!("creating bucket {name}"))?;
                self.journal.push(Created::Bucket);
            }
        }
        // Tags first: they mark the bucket as ours, so a run killed right after the create
        // leaves a bucket the next run adopts instead of refusing it as foreign.
        if changed("tags") {
            // Keep tags others put on the bucket; ours win.
            let mut tags: Vec<(String, String)> =
                match new_bucket(create, || s3.get_bucket_tagging().bucket(name).send()).await {
                    Ok(out) => out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
                    Err(err) if err.code() == Some("NoSuchTagSet") => Vec::new(),
                    Err(err) => bail!("reading tags of bucket {name}: {}", err.describe()),
                };
            tags.retain(|(k, _)| !self.desired.config.tags.contains_key(k));
            tags.extend(self.desired.config.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            let tag_set = tags
                .into_iter()
                .map(|(k, v)| s3t::Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            let tagging = s3t::Tagging::builder().set_tag_set(Some(tag_set)).build()?;
            new_bucket(create, || s3.put_bucket_tagging().bucket(name).tagging(tagging.clone()).send())
                .await
                .aws(|| format!("tagging bucket {name}"))?;
        }
        if ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"]
            .iter()
            .any(|s| changed(s))
        {
            let all = s3t::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build();
            new_bucket(create, || {
                s3.put_public_access_block().bucket(name).public_access_block_configuration(all.clone()).send()
            })
            .await
            .aws(|| format!("turning on Block Public Access of bucket {name}"))?;
        }
        if changed("encryption") {
            let rule = s3t::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    s3t::ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(s3t::ServerSideEncryption::Aes256)
                        .build()?,
                )
                .build();
            let encryption = s3t::ServerSideEncryptionConfiguration::builder().rules(rule).build()?;
            new_bucket(create, || {
                s3.put_bucket_encryption().bucket(name).server_side_encryption_configuration(encryption.clone()).send()
            })
            .await
            .aws(|| format!("setting SSE-S3 encryption of bucket {name}"))?;
        }
        if changed("versioning") {
            let enabled = s3t::VersioningConfiguration::builder().status(s3t::BucketVersioningStatus::Enabled).build();
            new_bucket(create, || {
                s3.put_bucket_versioning().bucket(name).versioning_configuration(enabled.clone()).send()
            })
            .await
            .aws(|| format!("enabling versioning of bucket {name}"))?;
        }
        if changed("object_ownership") {
            let rule = s3t::OwnershipControlsRule::builder()
                .object_ownership(s3t::ObjectOwnership::BucketOwnerEnforced)
                .build()?;
            let controls = s3t::OwnershipControls::builder().rules(rule).build()?;
            new_bucket(create, || {
                s3.put_bucket_ownership_controls().bucket(name).ownership_controls(controls.clone()).send()
            })
            .await
            .aws(|| format!("setting BucketOwnerEnforced on bucket {name}"))?;
        }
        if changed("error_page") {
            let existed = step.changes.iter().any(|c| c.setting == "error_page" && c.from.as_deref() != Some("(none)"));
            new_bucket(create, || {
                s3.put_object()
                    .bucket(name)
                    .key(ERROR_PAGE_KEY)
                    .body(aws_sdk_s3::primitives::ByteStream::from_static(ERROR_PAGE_BODY.as_bytes()))
                    .content_type("text/html; charset=utf-8")
                    .cache_control("public, max-age=300")
                    .send()
            })
            .await
            .aws(|| format!("uploading the error page s3://{name}/{ERROR_PAGE_KEY}"))?;
            if !create && !existed {
                self.journal.push(Created::ErrorPage);
            }
        }
        Ok(())
    }

    async fn oac(&mut self, step: &Step) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        let config = cf::OriginAccessControlConfig::builder()
            .name(self.desired.oac_name())
            .description(self.desired.oac_description())
            .signing_protocol(cf::OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(cf::OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(cf::OriginAccessControlOriginTypes::S3)
            .build()?;
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
            let current = cloudfront
                .get_origin_access_control()
                .id(&id)
                .send()
                .await
                .aws(|| format!("reading origin access control {id}"))?;
            cloudfront
                .update_origin_access_control()
                .id(&id)
                .set_if_match(current.e_tag().map(str::to_string))
                .origin_access_control_config(config)
                .send()
                .await
                .aws(|| format!("updating origin access control {id}"))?;
        }
        Ok(())
    }

    async fn certificate(&mut self, step: &Step) -> Result<()> {
        let acm = &self.clients.acm;
        let domain = self.desired.domain();
        let arn = if step.action == Action::Create {
            let tags = self
                .desired
                .config
                .tags
                .iter()
                .map(|(k, v)| aws_sdk_acm::types::Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()?;
            // Same token within an hour: a retried request does not make a second certificate.
            let token: String = format!("kube9{}", fastrand::u64(..)).chars().take(32).collect();
            let out = acm
                .request_certificate()
                .domain_name(domain)
                .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
                .idempotency_token(token)
                .set_tags(Some(tags))
                .send()
                .await
                .aws(|| format!("requesting an ACM certificate for {domain}"))?;
            let arn = out.certificate_arn().context("ACM returned no certificate ARN")?.to_string();
            self.journal.push(Created::Certificate { arn: arn.clone() });
            arn
        } else {
            self.certificate_arn.clone().context("no certificate ARN")?
        };
        self.certificate_arn = Some(arn.clone());
        // ACM publishes the validation record a few seconds after the request.
        let started = std::time::Instant::now();
        let validation = loop {
            let out = match acm.describe_certificate().certificate_arn(&arn).send().await {
                Ok(out) => Some(out),
                // ACM may not know a certificate for a few seconds after RequestCertificate.
                Err(err) if err.code() == Some("ResourceNotFoundException") => None,
                Err(err) => bail!("reading validation record of certificate {arn}: {}", err.describe()),
            };
            let record = out
                .as_ref()
                .and_then(|out| out.certificate())
                .and_then(|c| c.domain_validation_options().iter().find_map(|o| o.resource_record()))
                .map(|r| ValidationRecord { name: r.name().to_string(), value: r.value().to_string() });
            if let Some(record) = record {
                break record;
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("ACM did not publish the DNS validation record of {arn} within 120 s; re-run later");
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        };
        let existing = self.find_record(&validation.name, "CNAME").await?;
        let set = r53::ResourceRecordSet::builder()
            .name(&validation.name)
            .r#type(r53::RrType::Cname)
            .ttl(300)
            .resource_records(r53::ResourceRecord::builder().value(&validation.value).build()?)
            .build()?;
        if existing.as_ref() != Some(&set) {
            self.change_records(vec![(r53::ChangeAction::Upsert, set.clone())], "the certificate validation record")
                .await?;
            if existing.is_none() {
                self.journal.push(Created::ValidationRecord { set: Box::new(set) });
            }
        }
        // The SDK waiter succeeds once every domain validation is SUCCESS; CloudFront takes
        // the certificate only once its Status is ISSUED, which can follow a little later.
        let started = std::time::Instant::now();
        let waiter = async {
            acm.wait_until_certificate_validated()
                .certificate_arn(&arn)
                .wait(self.timeout)
                .await
                .map_err(|err| std::io::Error::other(crate::aws::error::chain(&err)))?;
            loop {
                let out = acm
                    .describe_certificate()
                    .certificate_arn(&arn)
                    .send()
                    .await
                    .map_err(|err| std::io::Error::other(err.describe()))?;
                let status = out.certificate().and_then(|c| c.status()).map(|s| s.as_str().to_string());
                match status.as_deref() {
                    Some("ISSUED") => return Ok(()),
                    Some(failed @ ("FAILED" | "VALIDATION_TIMED_OUT" | "REVOKED")) => {
                        return Err(std::io::Error::other(format!("certificate status {failed}")));
                    }
                    _ if started.elapsed() >= self.timeout => {
                        return Err(std::io::Error::other("certificate validated but not ISSUED in time"));
                    }
                    _ => tokio::time::sleep(Duration::from_secs(5)).await,
                }
            }
        };
        wait_for(&format!("certificate {arn} to be ISSUED"), self.timeout, waiter, async || {
            match acm.describe_certificate().certificate_arn(&arn).send().await {
                Ok(out) => format!(
                    "certificate status {}",
                    out.certificate()
                        .and_then(|c| c.status())
                        .map_or("unknown", aws_sdk_acm::types::CertificateStatus::as_str)
                ),
                Err(err) => err.describe(),
            }
        })
        .await?;
        Ok(())
    }

    async fn distribution(&mut self, step: &Step) -> Result<()> {
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
            let current = cloudfront
                .get_distribution_config()
                .id(&id)
                .send()
                .await
                .aws(|| format!("reading the configuration of distribution {id}"))?;
            let current_config = current
                .distribution_config()
                .with_context(|| format!("reading the configuration of distribution {id}: none returned"))?;
            let config = self.desired.updated_distribution_config(current_config, &oac_id, &certificate_arn)?;
            cloudfront
                .update_distribution()
                .id(&id)
                .set_if_match(current.e_tag().map(str::to_string))
                .distribution_config(config)
                .send()
                .await
                .aws(|| format!("updating distribution {id}"))?;
            id
        };
        self.wait_deployed(&id).await
    }

    async fn wait_deployed(&self, id: &str) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        let waiter = cloudfront.wait_until_distribution_deployed().id(id).wait(self.timeout);
        wait_for(&format!("distribution {id} to be Deployed"), self.timeout, waiter, async || {
            match cloudfront.get_distribution().id(id).send().await {
                Ok(out) => format!(
                    "status {}",
                    out.distribution().map_or("unknown", aws_sdk_cloudfront::types::Distribution::status)
                ),
                Err(err) => err.describe(),
            }
        })
        .await?;
        Ok(())
    }

    async fn bucket_policy(&mut self, step: &Step) -> Result<()> {
        let name = self.desired.bucket();
        let arn = self.distribution.as_ref().map(|d| d.arn.clone()).context("the distribution is not known")?;
        let document = policy::bucket_policy(&self.desired.config, &arn);
        self.clients
            .s3
            .put_bucket_policy()
            .bucket(name)
            .policy(document.to_string())
            .send()
            .await
            .aws(|| format!("putting the bucket policy of {name}"))?;
        if step.action == Action::Create {
            self.journal.push(Created::BucketPolicy);
        }
        Ok(())
    }

    async fn records(&mut self, step: &Step) -> Result<()> {
        let domain_name =
            self.distribution.as_ref().map(|d| d.domain_name.clone()).context("the distribution is not known")?;
        let mut changes = Vec::new();
        let mut created = Vec::new();
        for (kind, existing) in
            [(r53::RrType::A, self.actual.records.a.is_some()), (r53::RrType::Aaaa, self.actual.records.aaaa.is_some())]
        {
            let set = r53::ResourceRecordSet::builder()
                .name(self.desired.domain())
                .r#type(kind)
                .alias_target(
                    r53::AliasTarget::builder()
                        .hosted_zone_id(CLOUDFRONT_HOSTED_ZONE_ID)
                        .dns_name(&domain_name)
                        .evaluate_target_health(false)
                        .build()?,
                )
                .build()?;
            if !existing {
                created.push(set.clone());
            }
            changes.push((r53::ChangeAction::Upsert, set));
        }
        if step.changes.iter().any(|c| c.setting.starts_with("CNAME "))
            && let CertificateState::Owned { validation: Some(validation), .. } = &self.actual.certificate
        {
            let set = r53::ResourceRecordSet::builder()
                .name(&validation.name)
                .r#type(r53::RrType::Cname)
                .ttl(300)
                .resource_records(r53::ResourceRecord::builder().value(&validation.value).build()?)
                .build()?;
            changes.push((r53::ChangeAction::Upsert, set));
        }
        self.change_records(changes, &format!("the records of {}", self.desired.domain())).await?;
        if !created.is_empty() {
            self.journal.push(Created::Records { sets: created });
        }
        Ok(())
    }

    async fn find_record(&self, name: &str, kind: &str) -> Result<Option<r53::ResourceRecordSet>> {
        let wanted = format!("{}.", name.trim_end_matches('.').to_ascii_lowercase());
        let out = self
            .clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.actual.zone.id)
            .start_record_name(&wanted)
            .max_items(10)
            .send()
            .await
            .aws(|| format!("reading record {wanted}"))?;
        Ok(out
            .resource_record_sets()
            .iter()
            .find(|s| {
                format!("{}.", s.name().trim_end_matches('.').to_ascii_lowercase()) == wanted
                    && s.r#type().as_str() == kind
            })
            .map(|s| {
                // Compare like with like: the name as we write it.
                let mut s = s.clone();
                s.name = name.to_string();
                s
            }))
    }

    /// One change batch, then wait until Route53 reports it INSYNC.
    async fn change_records(
        &self,
        changes: Vec<(r53::ChangeAction, r53::ResourceRecordSet)>,
        what: &str,
    ) -> Result<()> {
        let route53 = &self.clients.route53;
        let changes = changes
            .into_iter()
            .map(|(action, set)| r53::Change::builder().action(action).resource_record_set(set).build())
            .collect::<Result<Vec<_>, _>>()?;
        let batch =
            r53::ChangeBatch::builder().comment("cargo xtask deploy-infra").set_changes(Some(changes)).build()?;
        let out = route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.actual.zone.id)
            .change_batch(batch)
            .send()
            .await
            .aws(|| format!("changing {what} in zone {}", self.actual.zone.name))?;
        let change_id = out.change_info().map(|c| c.id().to_string()).unwrap_or_default();
        let waiter = route53.wait_until_resource_record_sets_changed().id(&change_id).wait(self.timeout);
        wait_for(&format!("Route53 change {change_id} ({what}) to be INSYNC"), self.timeout, waiter, async || {
            match route53.get_change().id(&change_id).send().await {
                Ok(out) => format!("status {}", out.change_info().map_or("unknown", |c| c.status().as_str())),
                Err(err) => err.describe(),
            }
        })
        .await?;
        Ok(())
    }

    /// Undo the journal, newest first. Returns what was rolled back and what could not be.
    async fn rollback(&mut self) -> String {
        if self.journal.is_empty() {
            return "nothing was created, nothing to roll back; fix the cause and re-run `cargo xtask deploy-infra`"
                .to_string();
        }
        let mut undone = Vec::new();
        let mut left = Vec::new();
        while let Some(created) = self.journal.pop() {
            let what = created.describe(self.desired);
            eprintln!("rolling back: deleting {what} …");
            match self.undo(&created).await {
                Ok(()) => undone.push(what),
                Err(err) => left.push(format!("{what} ({err:#})")),
            }
        }
        let mut report = format!("rolled back (deleted): {}", undone.join("; "));
        if undone.is_empty() {
            report = "rolled back: nothing".to_string();
        }
        if left.is_empty() {
            report.push_str("\nnothing this run created remains; fix the cause and re-run `cargo xtask deploy-infra`");
        } else {
            let _ = write!(
                report,
                "\nrollback could NOT delete: {}; delete these by hand (or re-run `cargo xtask deploy-infra`, which \
                 adopts resources carrying our tags)",
                left.join("; ")
            );
        }
        report
    }

    async fn undo(&self, created: &Created) -> Result<()> {
        let bucket = self.desired.bucket();
        match created {
            Created::Records { sets } => {
                let changes = sets.iter().map(|s| (r53::ChangeAction::Delete, s.clone())).collect();
                self.change_records(changes, &format!("the records of {}", self.desired.domain())).await
            }
            Created::ValidationRecord { set } => {
                self.change_records(
                    vec![(r53::ChangeAction::Delete, (**set).clone())],
                    "the certificate validation record",
                )
                .await
            }
            Created::BucketPolicy => {
                self.clients
                    .s3
                    .delete_bucket_policy()
                    .bucket(bucket)
                    .send()
                    .await
                    .aws(|| format!("deleting the policy of {bucket}"))?;
                Ok(())
            }
            Created::Distribution { id } => self.delete_distribution(id).await,
            Created::Certificate { arn } => {
                // CloudFront releases a certificate a little after the distribution is gone.
                let started = std::time::Instant::now();
                loop {
                    match self.clients.acm.delete_certificate().certificate_arn(arn).send().await {
                        Ok(_) => return Ok(()),
                        Err(err)
                            if err.code() == Some("ResourceInUseException") && started.elapsed() < self.timeout =>
                        {
                            tokio::time::sleep(Duration::from_secs(15)).await;
                        }
                        Err(err) => return Err(anyhow!("deleting certificate {arn}: {}", err.describe())),
                    }
                }
            }
            Created::OriginAccessControl { id } => {
                let cloudfront = &self.clients.cloudfront;
                let current = cloudfront
                    .get_origin_access_control()
                    .id(id)
                    .send()
                    .await
                    .aws(|| format!("reading origin access control {id}"))?;
                cloudfront
                    .delete_origin_access_control()
                    .id(id)
                    .set_if_match(current.e_tag().map(str::to_string))
                    .send()
                    .await
                    .aws(|| format!("deleting origin access control {id}"))?;
                Ok(())
            }
            Created::ErrorPage => self.delete_versions(Some(ERROR_PAGE_KEY)).await,
            Created::Bucket => {
                self.delete_versions(None).await?;
                self.clients
                    .s3
                    .delete_bucket()
                    .bucket(bucket)
                    .send()
                    .await
                    .aws(|| format!("deleting bucket {bucket}"))?;
                Ok(())
            }
        }
    }

    /// Disable, wait until deployed, delete: CloudFront deletes only disabled distributions.
    async fn delete_distribution(&self, id: &str) -> Result<()> {
        let cloudfront = &self.clients.cloudfront;
        let current =
            cloudfront.get_distribution_config().id(id).send().await.aws(|| format!("reading distribution {id}"))?;
        let mut etag = current.e_tag().map(str::to_string);
        if let Some(config) = current.distribution_config().filter(|c| c.enabled()) {
            let mut disabled = config.clone();
            disabled.enabled = false;
            let out = cloudfront
                .update_distribution()
                .id(id)
                .set_if_match(etag.clone())
                .distribution_config(disabled)
                .send()
                .await
                .aws(|| format!("disabling distribution {id}"))?;
            etag = out.e_tag().map(str::to_string);
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

    /// Delete every version and delete marker (of one key, or of the whole bucket).
    async fn delete_versions(&self, key: Option<&str>) -> Result<()> {
        let s3 = &self.clients.s3;
        let bucket = self.desired.bucket();
        loop {
            let out = s3
                .list_object_versions()
                .bucket(bucket)
                .set_prefix(key.map(str::to_string))
                .send()
                .await
                .aws(|| format!("listing object versions in {bucket}"))?;
            let mut targets: Vec<(String, Option<String>)> = Vec::new();
            for v in out.versions() {
                targets.push((v.key().unwrap_or_default().to_string(), v.version_id().map(str::to_string)));
            }
            for m in out.delete_markers() {
                targets.push((m.key().unwrap_or_default().to_string(), m.version_id().map(str::to_string)));
            }
            targets.retain(|(k, _)| key.is_none_or(|key| k == key));
            if targets.is_empty() {
                return Ok(());
            }
            for (k, version) in targets {
                s3.delete_object()
                    .bucket(bucket)
                    .key(&k)
                    .set_version_id(version)
                    .send()
                    .await
                    .aws(|| format!("deleting s3://{bucket}/{k}"))?;
            }
        }
    }
}

/// A configuration call on the bucket this run just created: S3 can answer NoSuchBucket
/// for a short while after CreateBucket (eventual consistency), so that answer is
/// retried, a bounded number of times with backoff. Any other answer is returned as is.
async fn new_bucket<T, E, F, Fut>(created_now: bool, mut call: F) -> Result<T, aws_sdk_s3::error::SdkError<E>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_s3::error::SdkError<E>>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    const ATTEMPTS: u32 = 8;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if created_now && err.code() == Some("NoSuchBucket") && attempt < ATTEMPTS => {
                tracing::info!("bucket not visible yet after CreateBucket (attempt {attempt}); retrying");
                tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt.min(5)))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
