//! The Route53 records: the A and AAAA aliases of the domain to our distribution, and
//! the certificate's DNS validation CNAME. Route53 cannot tag a record: ours are alias
//! records pointing at our distribution, anything else on the domain is refused by the
//! preflight. Every change batch is waited for until INSYNC; a rollback deletes what the
//! run created.

use anyhow::{Context, Result, bail};
use aws_sdk_route53::types as r53;

use super::apply::{Created, Run};
use super::certificate::{CertificateState, ValidationRecord};
use super::desired::{CLOUDFRONT_HOSTED_ZONE_ID, Desired};
use super::discover::Zone;
use super::plan::Step;
use super::settings::{RecordKind, RecordSetting, Setting, Settings};
use super::wait::{Poll, wait_for};
use crate::aws::Clients;
use crate::aws::distribution::Distribution;
use crate::aws::error::AwsResultExt;

/// The TTL of the validation CNAME.
const VALIDATION_TTL: i64 = 300;

#[derive(Debug, Clone, Default)]
pub struct RecordsState {
    pub a: Option<r53::ResourceRecordSet>,
    pub aaaa: Option<r53::ResourceRecordSet>,
    /// The certificate's validation CNAME as it is in the zone (when we own a certificate).
    pub validation: Option<r53::ResourceRecordSet>,
}

impl RecordsState {
    pub fn get(&self, kind: RecordKind) -> Option<&r53::ResourceRecordSet> {
        match kind {
            RecordKind::A => self.a.as_ref(),
            RecordKind::Aaaa => self.aaaa.as_ref(),
        }
    }
}

/// A DNS name as Route53 answers it: lower case, with the final dot.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// The settings of our `kind` record as found (`None`: there is none).
pub fn settings(kind: RecordKind, set: Option<&r53::ResourceRecordSet>) -> Settings {
    let key = |setting| Setting::Record(kind, setting);
    let mut settings = Settings::new();
    match set {
        None => {
            settings.put(key(RecordSetting::Target), None::<String>);
        }
        Some(set) => match set.alias_target() {
            Some(alias) => {
                settings
                    .set(key(RecordSetting::Target), format!("alias {}", fqdn(alias.dns_name())))
                    .set(key(RecordSetting::AliasZone), alias.hosted_zone_id())
                    .set(key(RecordSetting::EvaluateTargetHealth), alias.evaluate_target_health().to_string());
            }
            None => {
                let values: Vec<&str> = set.resource_records().iter().map(r53::ResourceRecord::value).collect();
                settings.set(key(RecordSetting::Target), values.join(","));
            }
        },
    }
    settings
}

/// The settings our `kind` record must have: an alias of `target` (the distribution's
/// domain name, or a marker while it does not exist yet).
pub fn desired_settings(kind: RecordKind, target: &str) -> Settings {
    let key = |setting| Setting::Record(kind, setting);
    let mut settings = Settings::new();
    settings
        .set(key(RecordSetting::Target), format!("alias {target}"))
        .set(key(RecordSetting::AliasZone), CLOUDFRONT_HOSTED_ZONE_ID)
        .set(key(RecordSetting::EvaluateTargetHealth), "false");
    settings
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

/// Our records; any A, AAAA or CNAME on the domain that is not an alias of our
/// distribution is refused.
pub(super) async fn discover(
    clients: &Clients,
    desired: &Desired,
    zone: &Zone,
    distribution: Option<&Distribution>,
    certificate: &CertificateState,
) -> Result<RecordsState> {
    let mut state = RecordsState::default();
    for set in record_sets(clients, zone, desired.domain()).await? {
        let kind = set.r#type().clone();
        if !matches!(kind, r53::RrType::A | r53::RrType::Aaaa | r53::RrType::Cname) {
            continue;
        }
        let target = set.alias_target().map(|t| fqdn(t.dns_name()));
        let ours = match (distribution, &target) {
            (Some(dist), Some(target)) => *target == fqdn(&dist.domain_name),
            _ => false,
        };
        if !ours || kind == r53::RrType::Cname {
            let points_to = target.unwrap_or_else(|| {
                set.resource_records().iter().map(|r| r.value().to_string()).collect::<Vec<_>>().join(",")
            });
            bail!(
                "preflight: Route53 {} record {} already exists and points to {points_to}, not to a distribution \
                 of ours; it is left untouched: delete it (or point it elsewhere) if this repository should own \
                 {}, or choose another `domain`",
                kind.as_str(),
                desired.domain(),
                desired.domain()
            );
        }
        match kind {
            r53::RrType::A => state.a = Some(set),
            _ => state.aaaa = Some(set),
        }
    }
    if let CertificateState::Owned { validation: Some(validation), .. } = certificate {
        state.validation =
            record_sets(clients, zone, &validation.name).await?.into_iter().find(|s| s.r#type() == &r53::RrType::Cname);
    }
    Ok(state)
}

/// The validation CNAME as we write it.
fn validation_set(validation: &ValidationRecord) -> Result<r53::ResourceRecordSet> {
    Ok(r53::ResourceRecordSet::builder()
        .name(&validation.name)
        .r#type(r53::RrType::Cname)
        .ttl(VALIDATION_TTL)
        .resource_records(r53::ResourceRecord::builder().value(&validation.value).build()?)
        .build()?)
}

impl Run<'_> {
    pub(super) async fn apply_records(&mut self, step: &Step) -> Result<()> {
        let domain_name =
            self.distribution.as_ref().map(|d| d.domain_name.clone()).context("the distribution is not known")?;
        let mut changes = Vec::new();
        let mut created = Vec::new();
        for kind in RecordKind::BOTH {
            let set = r53::ResourceRecordSet::builder()
                .name(self.desired.domain())
                .r#type(kind.rr_type())
                .alias_target(
                    r53::AliasTarget::builder()
                        .hosted_zone_id(CLOUDFRONT_HOSTED_ZONE_ID)
                        .dns_name(&domain_name)
                        .evaluate_target_health(false)
                        .build()?,
                )
                .build()?;
            if self.actual.records.get(kind).is_none() {
                created.push(set.clone());
            }
            changes.push((r53::ChangeAction::Upsert, set));
        }
        if step.changes.iter().any(|c| matches!(c.setting, Setting::ValidationRecord(_)))
            && let CertificateState::Owned { validation: Some(validation), .. } = &self.actual.certificate
        {
            changes.push((r53::ChangeAction::Upsert, validation_set(validation)?));
        }
        self.change_records(changes, &format!("the records of {}", self.desired.domain())).await?;
        if !created.is_empty() {
            self.journal.push(Created::Records { sets: created });
        }
        Ok(())
    }

    /// Write the certificate's validation CNAME unless it is there as we would write it;
    /// one this run adds is journaled.
    pub(super) async fn upsert_validation_record(&mut self, validation: &ValidationRecord) -> Result<()> {
        let existing = self.find_record(&validation.name, &r53::RrType::Cname).await?;
        let set = validation_set(validation)?;
        if existing.as_ref() != Some(&set) {
            self.change_records(vec![(r53::ChangeAction::Upsert, set.clone())], "the certificate validation record")
                .await?;
            if existing.is_none() {
                self.journal.push(Created::ValidationRecord { set: Box::new(set) });
            }
        }
        Ok(())
    }

    pub(super) async fn delete_records(&self, sets: &[r53::ResourceRecordSet]) -> Result<()> {
        let changes = sets.iter().map(|s| (r53::ChangeAction::Delete, s.clone())).collect();
        self.change_records(changes, &format!("the records of {}", self.desired.domain())).await
    }

    pub(super) async fn delete_validation_record(&self, set: &r53::ResourceRecordSet) -> Result<()> {
        self.change_records(vec![(r53::ChangeAction::Delete, set.clone())], "the certificate validation record").await
    }

    /// The record set named `name` of type `kind`, named as we write it.
    async fn find_record(&self, name: &str, kind: &r53::RrType) -> Result<Option<r53::ResourceRecordSet>> {
        let wanted = fqdn(name);
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
        Ok(out.resource_record_sets().iter().find(|s| fqdn(s.name()) == wanted && s.r#type() == kind).map(|s| {
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
        wait_for(&format!("Route53 change {change_id} ({what}) to be INSYNC"), self.timeout, async || {
            let out = route53.get_change().id(&change_id).send().await.aws(|| format!("reading change {change_id}"))?;
            Ok(match out.change_info().map(r53::ChangeInfo::status) {
                Some(r53::ChangeStatus::Insync) => Poll::Ready(()),
                status => Poll::Pending(format!("status {}", status.map_or("unknown", r53::ChangeStatus::as_str))),
            })
        })
        .await
    }
}
