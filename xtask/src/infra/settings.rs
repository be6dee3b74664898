//! Every setting deploy-infra manages, by name ([`Setting`]), and a resource's settings
//! as the plan shows them ([`Settings`]): desired and actual state are projected by the
//! same functions, so a plan compares like with like and says exactly what differs.

use serde::{Serialize, Serializer};

/// One managed setting of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Bucket(BucketSetting),
    OriginAccessControl(OacSetting),
    Certificate(CertificateSetting),
    Distribution(DistributionSetting),
    /// The bucket policy document.
    BucketPolicy,
    /// One setting of the A or AAAA alias record of the domain.
    Record(RecordKind, RecordSetting),
    /// The certificate's DNS validation CNAME, by its name.
    ValidationRecord(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSetting {
    Region,
    BlockPublicAcls,
    IgnorePublicAcls,
    BlockPublicPolicy,
    RestrictPublicBuckets,
    Encryption,
    Versioning,
    ObjectOwnership,
    Tags,
    ErrorPage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OacSetting {
    Description,
    SigningProtocol,
    SigningBehavior,
    OriginType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateSetting {
    Domain,
    Validation,
    Tags,
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistributionSetting {
    Enabled,
    Aliases,
    Comment,
    OriginDomain,
    OriginAccessControlId,
    OriginAccessIdentity,
    OriginPath,
    ViewerProtocolPolicy,
    AllowedMethods,
    CachedMethods,
    CachePolicyId,
    ResponseHeadersPolicyId,
    Compress,
    CustomErrorResponses,
    DefaultRootObject,
    PriceClass,
    Certificate,
    SslSupportMethod,
    MinimumProtocolVersion,
    HttpVersion,
    Ipv6,
    Tags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    A,
    Aaaa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSetting {
    Target,
    AliasZone,
    EvaluateTargetHealth,
}

impl RecordKind {
    pub const BOTH: [RecordKind; 2] = [RecordKind::A, RecordKind::Aaaa];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
        }
    }

    pub fn rr_type(self) -> aws_sdk_route53::types::RrType {
        match self {
            RecordKind::A => aws_sdk_route53::types::RrType::A,
            RecordKind::Aaaa => aws_sdk_route53::types::RrType::Aaaa,
        }
    }
}

impl BucketSetting {
    pub fn name(self) -> &'static str {
        match self {
            BucketSetting::Region => "region",
            BucketSetting::BlockPublicAcls => "block_public_acls",
            BucketSetting::IgnorePublicAcls => "ignore_public_acls",
            BucketSetting::BlockPublicPolicy => "block_public_policy",
            BucketSetting::RestrictPublicBuckets => "restrict_public_buckets",
            BucketSetting::Encryption => "encryption",
            BucketSetting::Versioning => "versioning",
            BucketSetting::ObjectOwnership => "object_ownership",
            BucketSetting::Tags => "tags",
            BucketSetting::ErrorPage => "error_page",
        }
    }
}

impl OacSetting {
    pub fn name(self) -> &'static str {
        match self {
            OacSetting::Description => "description",
            OacSetting::SigningProtocol => "signing_protocol",
            OacSetting::SigningBehavior => "signing_behavior",
            OacSetting::OriginType => "origin_type",
        }
    }
}

impl CertificateSetting {
    pub fn name(self) -> &'static str {
        match self {
            CertificateSetting::Domain => "domain",
            CertificateSetting::Validation => "validation",
            CertificateSetting::Tags => "tags",
            CertificateSetting::Status => "status",
        }
    }
}

impl DistributionSetting {
    pub fn name(self) -> &'static str {
        match self {
            DistributionSetting::Enabled => "enabled",
            DistributionSetting::Aliases => "aliases",
            DistributionSetting::Comment => "comment",
            DistributionSetting::OriginDomain => "origin_domain",
            DistributionSetting::OriginAccessControlId => "origin_access_control_id",
            DistributionSetting::OriginAccessIdentity => "origin_access_identity",
            DistributionSetting::OriginPath => "origin_path",
            DistributionSetting::ViewerProtocolPolicy => "viewer_protocol_policy",
            DistributionSetting::AllowedMethods => "allowed_methods",
            DistributionSetting::CachedMethods => "cached_methods",
            DistributionSetting::CachePolicyId => "cache_policy_id",
            DistributionSetting::ResponseHeadersPolicyId => "response_headers_policy_id",
            DistributionSetting::Compress => "compress",
            DistributionSetting::CustomErrorResponses => "custom_error_responses",
            DistributionSetting::DefaultRootObject => "default_root_object",
            DistributionSetting::PriceClass => "price_class",
            DistributionSetting::Certificate => "certificate",
            DistributionSetting::SslSupportMethod => "ssl_support_method",
            DistributionSetting::MinimumProtocolVersion => "minimum_protocol_version",
            DistributionSetting::HttpVersion => "http_version",
            DistributionSetting::Ipv6 => "ipv6",
            DistributionSetting::Tags => "tags",
        }
    }
}

impl RecordSetting {
    pub fn name(self) -> &'static str {
        match self {
            RecordSetting::Target => "target",
            RecordSetting::AliasZone => "alias_zone",
            RecordSetting::EvaluateTargetHealth => "evaluate_target_health",
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Bucket(setting) => f.write_str(setting.name()),
            Setting::OriginAccessControl(setting) => f.write_str(setting.name()),
            Setting::Certificate(setting) => f.write_str(setting.name()),
            Setting::Distribution(setting) => f.write_str(setting.name()),
            Setting::BucketPolicy => f.write_str("policy"),
            Setting::Record(kind, setting) => write!(f, "{}.{}", kind.as_str(), setting.name()),
            Setting::ValidationRecord(name) => write!(f, "CNAME {name}"),
        }
    }
}

impl Serialize for Setting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Each resource's setting is a `Setting` of its kind.
macro_rules! setting_from {
    ($($kind:ty => $variant:ident),* $(,)?) => {$(
        impl From<$kind> for Setting {
            fn from(setting: $kind) -> Setting {
                Setting::$variant(setting)
            }
        }
    )*};
}

setting_from! {
    BucketSetting => Bucket,
    OacSetting => OriginAccessControl,
    CertificateSetting => Certificate,
    DistributionSetting => Distribution,
}

/// A resource's managed settings with their values as text, in a stable order; a
/// setting the resource does not have is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(Vec<(Setting, Option<String>)>);

impl Settings {
    pub fn new() -> Settings {
        Settings(Vec::new())
    }

    /// Set `setting` to `value` (`None`: the resource does not have it).
    pub fn put<V: Into<String>>(&mut self, setting: impl Into<Setting>, value: Option<V>) -> &mut Settings {
        let setting = setting.into();
        let value = value.map(Into::into);
        match self.0.iter_mut().find(|(key, _)| *key == setting) {
            Some(entry) => entry.1 = value,
            None => self.0.push((setting, value)),
        }
        self
    }

    pub fn set(&mut self, setting: impl Into<Setting>, value: impl Into<String>) -> &mut Settings {
        self.put(setting, Some(value))
    }

    pub fn get(&self, setting: &Setting) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == setting).and_then(|(_, value)| value.as_deref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Setting, Option<&str>)> {
        self.0.iter().map(|(key, value)| (key, value.as_deref()))
    }

    /// Every desired setting as a change from nothing (what a create sets).
    pub fn as_creation(&self) -> Vec<SettingChange> {
        self.iter()
            .filter_map(|(setting, value)| {
                Some(SettingChange { setting: setting.clone(), from: Before::Created, to: value?.to_string() })
            })
            .collect()
    }

    /// The settings of `self` (desired) that `actual` lacks or holds with another value.
    pub fn diff(&self, actual: &Settings) -> Vec<SettingChange> {
        self.iter()
            .filter_map(|(setting, value)| {
                let to = value?;
                let from = actual.get(setting);
                (from != Some(to)).then(|| SettingChange {
                    setting: setting.clone(),
                    from: Before::from(from),
                    to: to.to_string(),
                })
            })
            .collect()
    }
}

/// What a setting was before a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// The step creates the resource.
    Created,
    /// The resource exists without this setting.
    Unset,
    Value(String),
}

impl From<Option<&str>> for Before {
    fn from(value: Option<&str>) -> Before {
        value.map_or(Before::Unset, |value| Before::Value(value.to_string()))
    }
}

/// One setting that a step sets or changes. In JSON, `from` is the value before, `null`
/// when there was none (the resource is created, or lacks the setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    pub setting: Setting,
    #[serde(serialize_with = "before_value")]
    pub from: Before,
    pub to: String,
}

fn before_value<S: Serializer>(before: &Before, serializer: S) -> Result<S::Ok, S::Error> {
    match before {
        Before::Created | Before::Unset => serializer.serialize_none(),
        Before::Value(value) => serializer.serialize_some(value),
    }
}

impl std::fmt::Display for SettingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.from {
            Before::Created => write!(f, "{}: {}", self.setting, self.to),
            Before::Unset => write!(f, "{}: (none) → {}", self.setting, self.to),
            Before::Value(from) => write!(f, "{}: {from} → {}", self.setting, self.to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_only_what_differs() {
        use DistributionSetting::{Compress, Ipv6, ViewerProtocolPolicy};
        let mut desired = Settings::new();
        desired.set(ViewerProtocolPolicy, "redirect-to-https").set(Compress, "true").set(Ipv6, "true");
        let mut actual = Settings::new();
        actual.set(ViewerProtocolPolicy, "allow-all").set(Compress, "true").put(Ipv6, None::<String>);
        let changes = desired.diff(&actual);
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["viewer_protocol_policy: allow-all → redirect-to-https", "ipv6: (none) → true"]);
        assert_eq!(changes[1].from, Before::Unset);
        assert!(desired.diff(&desired).is_empty());
        let json = serde_json::to_value(&changes).unwrap();
        assert_eq!(
            json[0],
            serde_json::json!({"setting": "viewer_protocol_policy", "from": "allow-all", "to": "redirect-to-https"})
        );
        assert_eq!(json[1]["from"], serde_json::Value::Null);
    }

    #[test]
    fn set_replaces_in_place_and_names_read_as_the_plan_shows_them() {
        let mut settings = Settings::new();
        settings.set(BucketSetting::Tags, "1").set(BucketSetting::Encryption, "2").set(BucketSetting::Tags, "3");
        let names: Vec<String> = settings.iter().map(|(setting, _)| setting.to_string()).collect();
        assert_eq!(names, ["tags", "encryption"]);
        assert_eq!(settings.as_creation()[0].to_string(), "tags: 3");
        assert_eq!(Setting::Record(RecordKind::Aaaa, RecordSetting::Target).to_string(), "AAAA.target");
        assert_eq!(Setting::ValidationRecord("_x.charts.kube9.io.".into()).to_string(), "CNAME _x.charts.kube9.io.");
    }
}
