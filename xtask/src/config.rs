//! `charts/repository.toml`: where and how the chart repository is hosted.
//!
//! Parsing is strict: an unknown key or a bad value is an error that names the key,
//! so a typo never silently falls back to a default. [`CachePolicy`] is what `[cache]`
//! means on the wire: the `Cache-Control` of each kind of file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::layout::{
    FileKind, INDEX_MAX_AGE_LIMIT, IndexFormat, OciRepository, PACKAGE_MAX_AGE_MIN, is_fingerprint,
    normalize_fingerprint,
};

/// CloudFront only accepts ACM certificates from this region.
pub const CLOUDFRONT_CERT_REGION: &str = "us-east-1";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Public host name of the repository, e.g. `charts.kube9.io`.
    pub domain: String,
    /// Route53 public hosted zone that holds `domain`, e.g. `kube9.io`.
    pub hosted_zone: String,
    /// Private S3 bucket holding the packages and `index.yaml`.
    pub bucket: String,
    /// Region of the bucket.
    pub region: String,
    /// An existing ACM certificate (us-east-1) for `domain`; empty: request one.
    #[serde(default)]
    pub certificate_arn: String,
    /// CloudFront price class: `PriceClass_100`, `PriceClass_200` or `PriceClass_All`.
    #[serde(default = "default_price_class")]
    pub price_class: String,
    /// Cache lifetimes sent as `Cache-Control`.
    #[serde(default)]
    pub cache: CacheConfig,
    /// How `index.yaml` is written.
    #[serde(default)]
    pub index: IndexConfig,
    /// Ownership tags put on every resource; a resource without them is never touched.
    pub tags: BTreeMap<String, String>,
    /// The key that signs the provenance files; absent: signing is not configured yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningConfig>,
    /// The OCI registry each release is also pushed to; absent: only the HTTP repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciConfig>,
}

/// `[oci]`: the second channel, the same packages in an OCI registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OciConfig {
    /// `oci://HOST[:PORT]/PATH`: chart NAME at VERSION is pushed to `PATH/NAME:VERSION`
    /// (what `--oci` gives on the command line).
    pub repository: String,
}

/// `[signing]`: which key signs releases and where users fetch its public half.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Fingerprint of the signing key (40 hex digits); a release signed by another key warns.
    pub fingerprint: String,
    /// Where the public keys are published (armored), e.g. `https://charts.kube9.io/pubkey.asc`;
    /// `verify-repo` fetches it when no `--keyring` is given.
    pub key_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `max-age` of `index.yaml`, in seconds (short: it changes on every release).
    #[serde(default = "default_index_max_age")]
    pub index_max_age: u32,
    /// `max-age` of chart packages, in seconds (long: a published package never changes).
    #[serde(default = "default_package_max_age")]
    pub package_max_age: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    /// `yaml` (Helm's own form, human-readable) or `json` (compact; Helm ≥ 3.13 loads it
    /// several times faster). Readers accept both; switching keeps every entry.
    #[serde(default)]
    pub format: IndexFormat,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { index_max_age: default_index_max_age(), package_max_age: default_package_max_age() }
    }
}

/// The `Cache-Control` values of a repository, from `[cache]`: the short one (index,
/// landing page, Artifact Hub metadata, public keys) and the immutable one (packages and
/// their `.prov`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    pub index_cache_control: String,
    pub package_cache_control: String,
}

impl CachePolicy {
    pub fn new(cache: &CacheConfig) -> CachePolicy {
        CachePolicy {
            index_cache_control: format!("public, max-age={}", cache.index_max_age),
            package_cache_control: format!("public, max-age={}, immutable", cache.package_max_age),
        }
    }

    pub fn from_config(config: &RepoConfig) -> CachePolicy {
        CachePolicy::new(&config.cache)
    }

    /// The `Cache-Control` of a file of `kind`.
    pub fn for_kind(&self, kind: FileKind) -> &str {
        if kind.immutable() { &self.package_cache_control } else { &self.index_cache_control }
    }
}

impl Default for CachePolicy {
    /// The defaults of `charts/repository.toml` (`[cache]` left out).
    fn default() -> Self {
        CachePolicy::new(&CacheConfig::default())
    }
}

fn default_price_class() -> String {
    "PriceClass_100".to_string()
}
fn default_index_max_age() -> u32 {
    300
}
fn default_package_max_age() -> u32 {
    31_536_000
}

const PRICE_CLASSES: [&str; 3] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];

impl RepoConfig {
    /// Read and validate a configuration file.
    /// The configuration at `path` when that file exists (a `--local` repository needs
    /// none); a file that exists but does not load is still an error.
    pub fn load_if_present(path: &Path) -> Result<Option<RepoConfig>> {
        if path.exists() { RepoConfig::load(path).map(Some) } else { Ok(None) }
    }

    pub fn load(path: &Path) -> Result<RepoConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading repository config {}", path.display()))?;
        RepoConfig::parse(&text).with_context(|| format!("invalid repository config {}", path.display()))
    }

    /// Parse and validate configuration text.
    pub fn parse(text: &str) -> Result<RepoConfig> {
        let config: RepoConfig =
            toml::from_str(text).map_err(|err| anyhow::anyhow!("{}", err.to_string().trim_end()))?;
        config.validate()?;
        Ok(config)
    }

    /// True when `tags` holds every ownership tag with its value: the one rule for "this
    /// resource is ours" (deploy-infra's resources, the release's distribution).
    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let tags: Vec<(&str, &str)> = tags.into_iter().collect();
        self.tags.iter().all(|(key, value)| tags.iter().any(|(k, v)| k == key && v == value))
    }

    /// The ownership tags as `k=v,k=v` (sorted: they are kept in a BTreeMap).
    pub fn tags_text(&self) -> String {
        self.tags.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(",")
    }

    /// The `[oci] repository`, parsed (validated on load).
    pub fn oci_repository(&self) -> Option<OciRepository> {
        self.oci.as_ref().and_then(|oci| OciRepository::parse(&oci.repository).ok())
    }

    /// The repository URL users add: `https://{domain}`.
    pub fn repo_url(&self) -> String {
        format!("https://{}", self.domain)
    }

    fn validate(&self) -> Result<()> {
        check_dns_name("domain", &self.domain)?;
        check_dns_name("hosted_zone", &self.hosted_zone)?;
        let zone_suffix = format!(".{}", self.hosted_zone.trim_end_matches('.'));
        if !self.domain.ends_with(&zone_suffix) && self.domain != self.hosted_zone {
            bail!("`domain` ({}) is not inside `hosted_zone` ({})", self.domain, self.hosted_zone);
        }
        check_bucket_name(&self.bucket)?;
        check_region(&self.region)?;
        if !self.certificate_arn.is_empty() {
            let prefix = format!("arn:aws:acm:{CLOUDFRONT_CERT_REGION}:");
            if !self.certificate_arn.starts_with(&prefix) || !self.certificate_arn.contains(":certificate/") {
                bail!(
                    "`certificate_arn` must be an ACM certificate ARN in {CLOUDFRONT_CERT_REGION} \
                     (arn:aws:acm:{CLOUDFRONT_CERT_REGION}:ACCOUNT:certificate/ID), or empty to request one; got {:?}",
                    self.certificate_arn
                );
            }
        }
        if !PRICE_CLASSES.contains(&self.price_class.as_str()) {
            bail!("`price_class` must be one of {}, got {:?}", PRICE_CLASSES.join(", "), self.price_class);
        }
        if u64::from(self.cache.index_max_age) > INDEX_MAX_AGE_LIMIT {
            bail!(
                "`cache.index_max_age` is {} s; index.yaml changes on every release, keep it at most \
                 {INDEX_MAX_AGE_LIMIT} s",
                self.cache.index_max_age
            );
        }
        if u64::from(self.cache.package_max_age) < PACKAGE_MAX_AGE_MIN {
            bail!(
                "`cache.package_max_age` is {} s; packages are immutable, use at least {PACKAGE_MAX_AGE_MIN} s",
                self.cache.package_max_age
            );
        }
        if let Some(signing) = &self.signing {
            if !is_fingerprint(&normalize_fingerprint(&signing.fingerprint)) {
                bail!(
                    "`signing.fingerprint` must be the signing key's fingerprint (40 hex digits, as `gpg --list-keys \
                     --with-colons` shows in its `fpr` line), got {:?}",
                    signing.fingerprint
                );
            }
            if !signing.key_url.starts_with("https://") {
                bail!(
                    "`signing.key_url` must be an https URL (users fetch the key from it), got {:?}",
                    signing.key_url
                );
            }
        }
        if let Some(oci) = &self.oci {
            OciRepository::parse(&oci.repository).map_err(|err| anyhow::anyhow!("`oci.repository` {err}"))?;
        }
        if self.tags.is_empty() {
            bail!("`tags` must hold at least one ownership tag (they mark the resources this tool may change)");
        }
        for (key, value) in &self.tags {
            if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                bail!("`tags`: key {key:?} must be 1-128 characters and not start with `aws:`");
            }
            if value.len() > 256 {
                bail!("`tags.{key}`: value is longer than 256 characters");
            }
        }
        Ok(())
    }
}

fn check_dns_name(key: &str, name: &str) -> Result<()> {
    let labels_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').count() >= 2
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !labels_ok {
        bail!("`{key}` must be a lower-case DNS name such as charts.example.com, got {name:?}");
    }
    Ok(())
}

fn check_bucket_name(name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..");
    if !ok {
        bail!("`bucket` must be a valid S3 bucket name (3-63 lower-case letters, digits, `-`, `.`), got {name:?}");
    }
    Ok(())
}

fn check_region(region: &str) -> Result<()> {
    // e.g. us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4
    let parts: Vec<&str> = region.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1].iter().all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if !ok {
        bail!("`region` must be an AWS region such as us-east-1, got {region:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
domain = "charts.kube9.io"
hosted_zone = "kube9.io"
bucket = "kube9-charts"
region = "us-east-1"

[tags]
project = "kube9-operator"
"#;

    #[test]
    fn checked_in_config_is_valid() {
        let config = RepoConfig::load(&crate::project::default_config_path()).unwrap();
        assert_eq!(config.domain, "charts.kube9.io");
        assert_eq!(config.repo_url(), "https://charts.kube9.io");
        // Local runs and the tests stay offline: the release workflow passes --oci.
        assert_eq!(config.oci, None, "charts/repository.toml leaves [oci] out");
    }

    #[test]
    fn defaults_apply() {
        let config = RepoConfig::parse(GOOD).unwrap();
        assert_eq!(config.price_class, "PriceClass_100");
        let cache = CachePolicy::from_config(&config);
        assert_eq!(cache.index_cache_control, "public, max-age=300");
        assert_eq!(cache.package_cache_control, "public, max-age=31536000, immutable");
        assert_eq!(config.index.format, IndexFormat::Yaml);
        assert_eq!(config.signing, None);
        let fingerprint = "a".repeat(40);
        let signed = GOOD.replace(
            "[tags]",
            &format!("[signing]\nfingerprint = \"{fingerprint}\"\nkey_url = \"https://x.io/k.asc\"\n[tags]"),
        );
        assert_eq!(RepoConfig::parse(&signed).unwrap().signing.unwrap().key_url, "https://x.io/k.asc");
        assert_eq!(config.oci_repository(), None, "no OCI channel unless asked for");
        let oci = GOOD.replace("[tags]", "[oci]\nrepository = \"oci://ghcr.io/kube9/charts\"\n[tags]");
        let repository = RepoConfig::parse(&oci).unwrap().oci_repository().unwrap();
        assert_eq!(repository.reference("kube9-operator", "1.0.0"), "ghcr.io/kube9/charts/kube9-operator:1.0.0");
    }

    #[test]
    fn cache_policy_is_short_unless_the_file_is_immutable() {
        let policy = CachePolicy::default();
        let (short, long) = ("public, max-age=300", "public, max-age=31536000, immutable");
        for key in ["index.yaml", "index.html", "artifacthub-repo.yml", "pubkey.gpg", "pubkey.asc", "notes.txt"] {
            assert_eq!(policy.for_kind(FileKind::of(key)), short, "{key}");
        }
        for key in ["kube9-operator-0.1.0.tgz", "sub/demo-1.0.0.tgz", "kube9-operator-0.1.0.tgz.prov"] {
            assert_eq!(policy.for_kind(FileKind::of(key)), long, "{key}");
        }
    }

    #[test]
    fn index_format_is_yaml_or_json() {
        let json = RepoConfig::parse(&format!("{GOOD}\n[index]\nformat = \"json\"\n")).unwrap();
        assert_eq!(json.index.format, IndexFormat::Json);
        for bad in ["format = \"xml\"", "fromat = \"json\""] {
            let err = RepoConfig::parse(&format!("{GOOD}\n[index]\n{bad}\n")).unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains("format"), "{bad}: {text}");
            assert!(text.contains(if bad.starts_with("format") { "xml" } else { "fromat" }), "{bad}: {text}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let err = RepoConfig::parse(&format!("bukket = \"x\"\n{GOOD}")).unwrap_err();
        assert!(format!("{err:#}").contains("bukket"), "{err:#}");
    }

    #[test]
    fn bad_values_are_named() {
        for (from, to, key) in [
            ("\"us-east-1\"", "\"mars\"", "region"),
            ("\"kube9-charts\"", "\"Kube9_Charts\"", "bucket"),
            ("\"charts.kube9.io\"", "\"charts.other.io\"", "domain"),
            ("region = ", "price_class = \"PriceClass_9\"\nregion = ", "price_class"),
            ("region = ", "certificate_arn = \"arn:aws:acm:eu-west-1:1:certificate/x\"\nregion = ", "certificate_arn"),
            ("project = \"kube9-operator\"", "", "tags"),
            (
                "[tags]",
                "[signing]\nfingerprint = \"ABC\"\nkey_url = \"https://x.io/k.asc\"\n[tags]",
                "signing.fingerprint",
            ),
            (
                "[tags]",
                "[signing]\nfingerprint = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\nkey_url = \"http://x.io/k\"\n[tags]",
                "signing.key_url",
            ),
            ("[tags]", "[signing]\nfingerprint = \"ABC\"\nkye_url = \"x\"\n[tags]", "kye_url"),
            ("[tags]", "[oci]\nrepository = \"ghcr.io/kube9/charts\"\n[tags]", "oci.repository"),
            ("[tags]", "[oci]\nrepo = \"oci://ghcr.io/kube9/charts\"\n[tags]", "repo"),
        ] {
            let text = GOOD.replacen(from, to, 1);
            let err = RepoConfig::parse(&text).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{key}: {err:#}");
        }
    }
}
