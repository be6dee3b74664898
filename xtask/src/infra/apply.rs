//! Applying a plan: the steps in dependency order (each resource's module does its own),
//! an undo journal of everything this run creates, and a rollback of exactly that journal
//! (newest first) when a step fails or Ctrl-C stops the run.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_route53::types as r53;
use serde::Serialize;

use super::desired::{Desired, ERROR_PAGE_KEY};
use super::discover::Actual;
use super::plan::{Action, Plan, Resource, Step};
use crate::aws::Clients;
use crate::aws::distribution::Distribution;
use crate::interrupt::Interrupted;

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

/// A resource this run created; rollback removes it (each resource's module knows how).
#[derive(Debug, Clone)]
pub(super) enum Created {
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

/// One run: what it works from, everything it has resolved so far (ids of existing or
/// newly created resources) and its undo journal. Each resource's module adds its
/// steps and undos to it.
pub(super) struct Run<'a> {
    pub(super) clients: &'a Clients,
    pub(super) desired: &'a Desired,
    pub(super) actual: &'a Actual,
    /// `--wait-timeout`: the longest each wait may take.
    pub(super) timeout: Duration,
    /// What this run created and has not rolled back yet, oldest first.
    pub(super) journal: Vec<Created>,
    pub(super) oac_id: Option<String>,
    pub(super) certificate_arn: Option<String>,
    pub(super) distribution: Option<Distribution>,
    /// What the rollback deleted, and what it could not (with the cause).
    undone: Vec<String>,
    left: Vec<String>,
}

/// Why the steps stopped.
enum Stop {
    Failed(String),
    Interrupted(String),
}

/// The summary of the stack as found (no change, or a dry run).
pub fn summary_of(desired: &Desired, actual: &Actual) -> Summary {
    Summary {
        repository_url: desired.config.repo_url(),
        bucket: desired.bucket().to_string(),
        region: desired.config.region.clone(),
        origin_access_control_id: actual.oac.as_ref().map(|o| o.id.clone()),
        certificate_arn: actual.certificate.arn().map(str::to_string),
        distribution_id: actual.distribution.as_ref().map(|d| d.id.clone()),
        distribution_domain: actual.distribution.as_ref().map(|d| d.domain_name.clone()),
        hosted_zone_id: actual.zone.id.clone(),
        records: vec![format!("{} A", desired.domain()), format!("{} AAAA", desired.domain())],
    }
}

/// Apply `plan`. On failure, roll back what this run created and return an error that
/// names the failing step, the AWS error and what the rollback did. Ctrl-C stops the
/// step under way and rolls back the same way (a second one abandons the rollback);
/// the error is then [`Interrupted`], which ends the command with exit code 130.
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
        certificate_arn: actual.certificate.arn().map(str::to_string),
        distribution: actual.distribution.clone(),
        undone: Vec::new(),
        left: Vec::new(),
    };
    // Ctrl-C is listened for from here, before the first write, to the end of the
    // rollback: one listener for the whole run.
    let mut interrupt = crate::interrupt::listen()?;
    let mut stop = None;
    for step in plan.steps.iter().filter(|step| step.action != Action::NoChange) {
        tracing::info!("{} …", step.title());
        let outcome = tokio::select! {
            result = run.step(step) => result.map_err(|err| Stop::Failed(format!("step `{}` failed: {err:#}", step.title()))),
            Some(()) = interrupt.recv() => Err(Stop::Interrupted(format!(
                "interrupted (Ctrl-C) during step `{}`; a resource that step was creating may remain: the next run \
                 adopts it (it carries our tags or name)",
                step.title()
            ))),
        };
        if let Err(reason) = outcome {
            stop = Some(reason);
            break;
        }
    }
    let Some(stop) = stop else {
        let mut summary = summary_of(desired, actual);
        summary.origin_access_control_id.clone_from(&run.oac_id);
        summary.certificate_arn.clone_from(&run.certificate_arn);
        summary.distribution_id = run.distribution.as_ref().map(|d| d.id.clone());
        summary.distribution_domain = run.distribution.as_ref().map(|d| d.domain_name.clone());
        return Ok(summary);
    };
    let created = !run.journal.is_empty();
    // A second Ctrl-C abandons the rollback: the undo under way is dropped mid-request,
    // and what the journal still holds is named in the error.
    let abandoned = created
        && tokio::select! {
            () = run.rollback() => false,
            Some(()) = interrupt.recv() => true,
        };
    let report = run.rollback_report(created, abandoned);
    Err(match stop {
        Stop::Interrupted(reason) => Interrupted(format!("{reason}\n{report}")).into(),
        Stop::Failed(reason) if abandoned => Interrupted(format!("{reason}\n{report}")).into(),
        Stop::Failed(reason) => anyhow!("{reason}\n{report}"),
    })
}

impl Run<'_> {
    async fn step(&mut self, step: &Step) -> Result<()> {
        match step.resource {
            Resource::Bucket => self.apply_bucket(step).await,
            Resource::OriginAccessControl => self.apply_oac(step).await,
            Resource::Certificate => self.apply_certificate(step).await,
            Resource::Distribution => self.apply_distribution(step).await,
            Resource::BucketPolicy => self.apply_bucket_policy(step).await,
            Resource::DnsRecords => self.apply_records(step).await,
        }
    }

    /// Undo the journal, newest first. An entry leaves the journal once its undo has
    /// finished (deleted, or failed: then it is in `left`), so whatever an abandoned
    /// rollback did not get to is still in it.
    async fn rollback(&mut self) {
        while let Some(created) = self.journal.last().cloned() {
            let what = created.describe(self.desired);
            tracing::warn!("rolling back: deleting {what} …");
            let result = self.undo(&created).await;
            self.journal.pop();
            match result {
                Ok(()) => self.undone.push(what),
                Err(err) => self.left.push(format!("{what} ({err:#})")),
            }
        }
    }

    async fn undo(&self, created: &Created) -> Result<()> {
        match created {
            Created::Records { sets } => self.delete_records(sets).await,
            Created::ValidationRecord { set } => self.delete_validation_record(set).await,
            Created::BucketPolicy => self.delete_bucket_policy().await,
            Created::Distribution { id } => self.delete_distribution(id).await,
            Created::Certificate { arn } => self.delete_certificate(arn).await,
            Created::OriginAccessControl { id } => self.delete_oac(id).await,
            Created::ErrorPage => self.delete_error_page().await,
            Created::Bucket => self.delete_bucket().await,
        }
    }

    /// What the rollback did, and what is left to do.
    fn rollback_report(&self, created: bool, abandoned: bool) -> String {
        if !created {
            return "nothing was created, nothing to roll back; fix the cause and re-run `cargo xtask deploy-infra`"
                .to_string();
        }
        let mut report = if self.undone.is_empty() {
            "rolled back: nothing".to_string()
        } else {
            format!("rolled back (deleted): {}", self.undone.join("; "))
        };
        if abandoned {
            let remaining: Vec<String> = self.journal.iter().rev().map(|c| c.describe(self.desired)).collect();
            let _ = write!(
                report,
                "\nrollback aborted by a second Ctrl-C; not deleted: {}; re-run `cargo xtask deploy-infra` to \
                 converge (it adopts resources carrying our tags), or delete them by hand",
                remaining.join("; ")
            );
        }
        if !self.left.is_empty() {
            let _ = write!(
                report,
                "\nrollback could NOT delete: {}; delete these by hand (or re-run `cargo xtask deploy-infra`, which \
                 adopts resources carrying our tags)",
                self.left.join("; ")
            );
        } else if !abandoned {
            report.push_str("\nnothing this run created remains; fix the cause and re-run `cargo xtask deploy-infra`");
        }
        report
    }
}
