//! The plan: one [`Step`] per resource, in the order they are applied (a resource
//! comes after everything it names: the distribution after its OAC and certificate,
//! the bucket policy after the distribution whose ARN it holds, the records last).

use serde::Serialize;
use std::fmt::Write as _;

use super::certificate::CertificateState;
use super::desired::{Desired, PENDING_CERTIFICATE, PENDING_DISTRIBUTION, PENDING_OAC};
use super::discover::Actual;
use super::records;
use super::settings::{Before, CertificateSetting, DistributionSetting, RecordKind, Setting, SettingChange};
use super::{distribution, oac, policy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resource {
    Bucket,
    OriginAccessControl,
    Certificate,
    Distribution,
    BucketPolicy,
    DnsRecords,
}

impl Resource {
    pub fn label(self) -> &'static str {
        match self {
            Resource::Bucket => "s3 bucket",
            Resource::OriginAccessControl => "cloudfront origin access control",
            Resource::Certificate => "acm certificate",
            Resource::Distribution => "cloudfront distribution",
            Resource::BucketPolicy => "s3 bucket policy",
            Resource::DnsRecords => "route53 records",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    NoChange,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub resource: Resource,
    /// Which one: bucket name, distribution id, record names.
    pub name: String,
    pub action: Action,
    /// What the step sets (create) or changes (update); empty for no change.
    pub changes: Vec<SettingChange>,
}

impl Step {
    /// `create s3 bucket kube9-charts`
    pub fn title(&self) -> String {
        let verb = match self.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::NoChange => "keep",
        };
        format!("{verb} {} {}", self.resource.label(), self.name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub repository: String,
    pub account: String,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.iter().all(|step| step.action == Action::NoChange)
    }

    pub fn step(&self, resource: Resource) -> Option<&Step> {
        self.steps.iter().find(|step| step.resource == resource)
    }

    /// Compare desired and actual state. Pure: no AWS call.
    pub fn build(desired: &Desired, actual: &Actual) -> Plan {
        let mut steps = Vec::new();
        let bucket_settings = desired.bucket_config().settings();
        steps.push(match &actual.bucket {
            None => step(Resource::Bucket, desired.bucket(), Action::Create, bucket_settings.as_creation()),
            Some(bucket) => {
                diff_step(Resource::Bucket, desired.bucket(), bucket_settings.diff(&bucket.config.settings()))
            }
        });

        let oac_settings = oac::settings(&desired.oac_config());
        steps.push(match &actual.oac {
            None => {
                step(Resource::OriginAccessControl, &desired.oac_name(), Action::Create, oac_settings.as_creation())
            }
            Some(found) => diff_step(
                Resource::OriginAccessControl,
                &format!("{} ({})", desired.oac_name(), found.id),
                oac_settings.diff(&oac::settings(&found.config)),
            ),
        });

        let certificate_arn = match &actual.certificate {
            CertificateState::Given { arn } => {
                steps.push(step(Resource::Certificate, arn, Action::NoChange, Vec::new()));
                arn.clone()
            }
            CertificateState::Owned { arn, status, .. } => {
                let issued = aws_sdk_acm::types::CertificateStatus::Issued;
                let changes = if status.as_ref() == Some(&issued) {
                    Vec::new()
                } else {
                    vec![SettingChange {
                        setting: CertificateSetting::Status.into(),
                        from: Before::from(status.as_ref().map(aws_sdk_acm::types::CertificateStatus::as_str)),
                        to: issued.as_str().to_string(),
                    }]
                };
                steps.push(diff_step(Resource::Certificate, arn, changes));
                arn.clone()
            }
            CertificateState::Missing => {
                let settings = super::certificate::creation_settings(desired);
                steps.push(step(Resource::Certificate, desired.domain(), Action::Create, settings.as_creation()));
                PENDING_CERTIFICATE.to_string()
            }
        };

        let oac_id = actual.oac.as_ref().map_or_else(|| PENDING_OAC.to_string(), |o| o.id.clone());
        let desired_config =
            desired.distribution_config("-", &oac_id, &certificate_arn).expect("the desired configuration is complete");
        let mut dist_settings = distribution::settings(&desired_config);
        // Ours carries every ownership tag (that is how it was found); shown when created.
        dist_settings.set(DistributionSetting::Tags, desired.config.tags_text());
        steps.push(match (&actual.distribution, &actual.distribution_config) {
            (Some(dist), Some(config)) => {
                let mut actual_settings = distribution::settings(config);
                actual_settings.set(DistributionSetting::Tags, desired.config.tags_text());
                diff_step(
                    Resource::Distribution,
                    &format!("{} ({})", dist.id, desired.domain()),
                    dist_settings.diff(&actual_settings),
                )
            }
            _ => step(Resource::Distribution, desired.domain(), Action::Create, dist_settings.as_creation()),
        });

        let dist_arn = actual.distribution.as_ref().map(|d| d.arn.clone());
        let policy_text = |arn: &str| {
            format!("allow cloudfront.amazonaws.com s3:GetObject when AWS:SourceArn = {arn}; deny requests without TLS")
        };
        let wanted_policy = policy_text(dist_arn.as_deref().unwrap_or(PENDING_DISTRIBUTION));
        let current_policy = actual.bucket.as_ref().and_then(|b| b.policy.clone());
        let in_place = match (&dist_arn, &current_policy) {
            (Some(arn), Some(text)) => policy::same_policy(text, &policy::bucket_policy(&desired.config, arn)),
            _ => false,
        };
        let policy_change =
            |from| vec![SettingChange { setting: Setting::BucketPolicy, from, to: wanted_policy.clone() }];
        steps.push(match (current_policy, in_place) {
            (_, true) => step(Resource::BucketPolicy, desired.bucket(), Action::NoChange, Vec::new()),
            (None, _) => step(Resource::BucketPolicy, desired.bucket(), Action::Create, policy_change(Before::Created)),
            (Some(_), false) => step(
                Resource::BucketPolicy,
                desired.bucket(),
                Action::Update,
                policy_change(Before::Value("(another policy document)".into())),
            ),
        });

        let target = actual
            .distribution
            .as_ref()
            .map_or_else(|| PENDING_DISTRIBUTION.to_string(), |d| records::fqdn(&d.domain_name));
        steps.push(records_step(desired, actual, &target));

        Plan { repository: desired.config.repo_url(), account: actual.account.clone(), steps }
    }

    /// The plan as people read it.
    pub fn render(&self) -> String {
        let mut out = format!("deploy-infra plan for {} (AWS account {}):\n", self.repository, self.account);
        for step in &self.steps {
            let mark = match step.action {
                Action::Create => "+",
                Action::Update => "~",
                Action::NoChange => "=",
            };
            let _ = writeln!(out, "  {mark} {}", step.title());
            for change in &step.changes {
                let _ = writeln!(out, "        {change}");
            }
        }
        let count = |action| self.steps.iter().filter(|s| s.action == action).count();
        if self.is_empty() {
            out.push_str("no changes: the infrastructure matches the configuration\n");
        } else {
            let _ = writeln!(
                out,
                "{} to create, {} to update, {} unchanged",
                count(Action::Create),
                count(Action::Update),
                count(Action::NoChange)
            );
        }
        out
    }
}

fn step(resource: Resource, name: &str, action: Action, changes: Vec<SettingChange>) -> Step {
    Step { resource, name: name.to_string(), action, changes }
}

/// The A and AAAA aliases of the domain (created when neither exists), and the
/// certificate's validation CNAME when it is not as ACM wants it.
fn records_step(desired: &Desired, actual: &Actual, target: &str) -> Step {
    let mut changes = Vec::new();
    for kind in RecordKind::BOTH {
        let found = actual.records.get(kind);
        changes.extend(records::desired_settings(kind, target).diff(&records::settings(kind, found)));
    }
    if let CertificateState::Owned { validation: Some(validation), .. } = &actual.certificate {
        let found = actual
            .records
            .validation
            .as_ref()
            .map(|set| set.resource_records().iter().map(|r| r.value().to_string()).collect::<Vec<_>>().join(","));
        if found.as_deref() != Some(validation.value.as_str()) {
            changes.push(SettingChange {
                setting: Setting::ValidationRecord(validation.name.clone()),
                from: Before::from(found.as_deref()),
                to: validation.value.clone(),
            });
        }
    }
    let names = format!("{} (A, AAAA)", desired.domain());
    let action = if RecordKind::BOTH.iter().all(|kind| actual.records.get(*kind).is_none()) {
        Action::Create
    } else if changes.is_empty() {
        Action::NoChange
    } else {
        Action::Update
    };
    step(Resource::DnsRecords, &names, action, changes)
}

fn diff_step(resource: Resource, name: &str, changes: Vec<SettingChange>) -> Step {
    let action = if changes.is_empty() { Action::NoChange } else { Action::Update };
    step(resource, name, action, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::distribution::Distribution;
    use crate::infra::bucket::BucketState;
    use crate::infra::discover::Zone;
    use crate::infra::oac::OacState;
    use crate::infra::records::RecordsState;
    use crate::infra::settings::BucketSetting;

    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c";

    fn desired() -> Desired {
        Desired::new(crate::config::RepoConfig::load(&crate::project::default_config_path()).unwrap())
    }

    fn alias(kind: aws_sdk_route53::types::RrType) -> aws_sdk_route53::types::ResourceRecordSet {
        aws_sdk_route53::types::ResourceRecordSet::builder()
            .name("charts.kube9.io.")
            .r#type(kind)
            .alias_target(
                aws_sdk_route53::types::AliasTarget::builder()
                    .hosted_zone_id("Z2FDTNDATAQYW2")
                    .dns_name("d1.cloudfront.net.")
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    /// The actual state of a fully deployed stack.
    fn deployed(desired: &Desired) -> Actual {
        let arn = "arn:aws:cloudfront::123456789012:distribution/E1";
        Actual {
            account: "123456789012".into(),
            caller_arn: "arn:aws:iam::123456789012:user/ci".into(),
            zone: Zone { id: "Z1".into(), name: "kube9.io.".into() },
            bucket: Some(BucketState {
                config: desired.bucket_config(),
                tags: desired.config.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                policy: Some(policy::bucket_policy(&desired.config, arn).to_string()),
            }),
            oac: Some(OacState { id: "O1".into(), config: desired.oac_config() }),
            certificate: CertificateState::Given { arn: CERT.into() },
            distribution: Some(Distribution {
                id: "E1".into(),
                arn: arn.into(),
                domain_name: "d1.cloudfront.net".into(),
                status: "Deployed".into(),
                aliases: vec![desired.domain().to_string()],
            }),
            distribution_config: Some(desired.distribution_config("ref", "O1", CERT).unwrap()),
            records: RecordsState {
                a: Some(alias(aws_sdk_route53::types::RrType::A)),
                aaaa: Some(alias(aws_sdk_route53::types::RrType::Aaaa)),
                validation: None,
            },
        }
    }

    #[test]
    fn a_deployed_stack_plans_no_changes() {
        let desired = desired();
        let plan = Plan::build(&desired, &deployed(&desired));
        assert!(plan.is_empty(), "{}", plan.render());
        assert!(plan.render().contains("no changes"));
    }

    #[test]
    fn drift_is_listed_setting_by_setting() {
        let desired = desired();
        let mut actual = deployed(&desired);
        let config = actual.distribution_config.as_mut().unwrap();
        let mut behavior = config.default_cache_behavior.clone().unwrap();
        behavior.viewer_protocol_policy = aws_sdk_cloudfront::types::ViewerProtocolPolicy::AllowAll;
        config.default_cache_behavior = Some(behavior);
        actual.bucket.as_mut().unwrap().config.public_access.block_public_policy = false;
        actual.bucket.as_mut().unwrap().config.encryption = None;
        actual.records.aaaa = None;
        actual.bucket.as_mut().unwrap().policy = None;
        let plan = Plan::build(&desired, &actual);
        let text = plan.render();
        assert!(text.contains("~ update cloudfront distribution E1"), "{text}");
        assert!(text.contains("viewer_protocol_policy: allow-all → redirect-to-https"), "{text}");
        assert!(text.contains("block_public_policy: false → true"), "{text}");
        assert!(text.contains("encryption: (none) → AES256"), "{text}");
        let bucket = plan.step(Resource::Bucket).unwrap();
        assert_eq!(
            bucket.changes.iter().map(|c| c.setting.clone()).collect::<Vec<_>>(),
            [BucketSetting::BlockPublicPolicy.into(), BucketSetting::Encryption.into()],
            "typed settings, as apply reads them"
        );
        assert!(text.contains("AAAA.target: (none) → alias d1.cloudfront.net."), "{text}");
        assert!(text.contains("+ create s3 bucket policy"), "{text}");
        assert_eq!(plan.step(Resource::OriginAccessControl).unwrap().action, Action::NoChange);
        assert_eq!(plan.step(Resource::DnsRecords).unwrap().action, Action::Update);
    }

    #[test]
    fn steps_come_in_dependency_order() {
        let desired = desired();
        let mut actual = deployed(&desired);
        actual.bucket = None;
        actual.oac = None;
        actual.distribution = None;
        actual.distribution_config = None;
        actual.certificate = CertificateState::Missing;
        actual.records = RecordsState::default();
        let plan = Plan::build(&desired, &actual);
        let order: Vec<Resource> = plan.steps.iter().map(|s| s.resource).collect();
        assert_eq!(
            order,
            [
                Resource::Bucket,
                Resource::OriginAccessControl,
                Resource::Certificate,
                Resource::Distribution,
                Resource::BucketPolicy,
                Resource::DnsRecords
            ]
        );
        assert!(plan.steps.iter().all(|s| s.action == Action::Create));
    }
}
