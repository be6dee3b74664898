//! The OCI channel of a release (`--oci oci://HOST/PATH`, or `[oci] repository`): each
//! package is pushed to `PATH/NAME:VERSION` after it is stored and before the index names
//! it, so the index never lists a version the registry lacks; Artifact Hub's metadata goes
//! to `PATH/NAME:artifacthub.io`.
//!
//! **Published versions are immutable here too.** A tag that already holds the same chart
//! layer (the same package bytes) is left alone, unless this release adds the provenance
//! it lacked; a tag holding another package is refused, naming both digests (`--force`,
//! which replaces the package in the HTTP repository, replaces it here too, so the two
//! channels never disagree). What is pushed is [`Artifact::chart`]: the bytes the HTTP
//! repository serves, and its `.prov` when there is one.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use super::{Options, step};
use crate::chart::ChartPackage;
use crate::config::RepoConfig;
use crate::layout::{OciRepository, prov_key};
use crate::oci::artifact::{ARTIFACTHUB_TAG, oci_digest};
use crate::oci::credentials::{ENV_PASSWORD, ENV_USERNAME};
use crate::oci::{Artifact, Credentials, Registry};
use crate::store::Store;

/// The flags of the OCI channel (`release-chart`, `verify-repo`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OciArgs {
    /// Also publish to (verify-repo: also check) this OCI repository: chart NAME at VERSION
    /// is PATH/NAME:VERSION, as `helm push` lays it out [default: [oci] repository of the
    /// config; neither: no OCI channel]
    #[arg(long, value_name = "oci://HOST[:PORT]/PATH", value_parser = crate::layout::parse_oci_flag)]
    pub oci: Option<OciRepository>,
    /// Talk to OCI registries over plain http (a registry without TLS, e.g. on loopback),
    /// as Helm's --plain-http
    #[arg(long)]
    pub plain_http: bool,
}

impl OciArgs {
    /// `--oci`, else the configuration's `[oci] repository`.
    pub fn repository(&self, config: Option<&RepoConfig>) -> Option<OciRepository> {
        self.oci.clone().or_else(|| config.and_then(RepoConfig::oci_repository))
    }
}

/// Where a release pushes, and as whom.
#[derive(Debug, Clone)]
pub struct OciChannel {
    pub repository: OciRepository,
    pub registry: Registry,
}

impl OciChannel {
    /// The channel `args` (or the configuration) names, with the push credentials
    /// ([`Credentials::for_push`]); `None` when neither names one.
    pub fn for_release(args: &OciArgs, config: Option<&RepoConfig>) -> Result<Option<OciChannel>> {
        let Some(repository) = args.repository(config) else { return Ok(None) };
        let credentials = Credentials::for_push(&repository.registry)
            .with_context(|| format!("finding the credentials for {}", repository.registry))?;
        step(format!("OCI channel {repository} ({})", credentials.describe()));
        let registry = Registry::new(credentials, args.plain_http)?;
        Ok(Some(OciChannel { repository, registry }))
    }
}

/// What happened to one version's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciAction {
    Pushed,
    /// The tag holds the same chart layer: not pushed again.
    AlreadyPresent,
    /// The tag held the same package without its provenance: pushed again with it.
    ProvenanceAdded,
    /// Other content replaced by `--force`.
    Replaced,
    WouldPush,
    WouldAddProvenance,
    WouldReplace,
}

impl OciAction {
    pub fn describe(self) -> &'static str {
        match self {
            OciAction::Pushed => "pushed",
            OciAction::AlreadyPresent => "already holds this package (not pushed)",
            OciAction::ProvenanceAdded => "held this package unsigned: pushed again with its provenance",
            OciAction::Replaced => "replaced (--force)",
            OciAction::WouldPush => "would push (dry run)",
            OciAction::WouldAddProvenance => "would push again with its provenance (dry run)",
            OciAction::WouldReplace => "would replace (dry run, --force)",
        }
    }
}

/// One version's tag and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciPush {
    /// `HOST/PATH/NAME:TAG`.
    pub reference: String,
    pub action: OciAction,
}

/// Push `package` (already stored, with its `.prov` if any) to its tag, as the module
/// docs say. `created` is its index entry's.
pub async fn push_package(
    store: &Store,
    channel: &OciChannel,
    package: &ChartPackage,
    created: DateTime<Utc>,
    options: &Options,
) -> Result<OciPush> {
    let (name, version) = (&package.metadata.name, &package.metadata.version);
    let reference = channel.repository.version_reference(name, version);
    // The provenance users get over HTTP, byte for byte (none in a dry run: nothing new is
    // stored, so the one that would be is not there to read).
    let provenance = if options.dry_run {
        None
    } else {
        let key = prov_key(&package.file_name);
        store.get(&key).await.with_context(|| format!("reading {}", store.location(&key)))?.map(|o| o.bytes)
    };
    let artifact = Artifact::chart(&package.metadata, &package.bytes, provenance.as_deref(), created);
    let ours = oci_digest(&package.bytes);
    // Whatever fails here, the package is stored and the index does not name it yet.
    let failed = |step: &str| {
        format!(
            "{step} {reference} ({}); the package is stored, the index not yet written: fix it and re-run{}",
            channel.registry.credentials(),
            if channel.registry.is_anonymous() {
                format!(" (a registry that wants a login takes {ENV_USERNAME} and {ENV_PASSWORD})")
            } else {
                String::new()
            }
        )
    };
    let stored = channel.registry.manifest(&reference).await.with_context(|| failed("reading the tag"))?;
    let action = match stored.as_ref().map(|(manifest, _)| manifest) {
        None if options.dry_run => OciAction::WouldPush,
        None => OciAction::Pushed,
        Some(manifest) if manifest.chart_digest() == Some(ours.as_str()) => {
            // The tag lacks the provenance the HTTP repository now has (or, in a dry run,
            // would have once signed).
            let adds_provenance = manifest.layer(crate::oci::artifact::HELM_PROVENANCE).is_none()
                && (provenance.is_some() || (options.dry_run && options.signer.is_some()));
            match (adds_provenance, options.dry_run) {
                (false, _) => OciAction::AlreadyPresent,
                (true, true) => OciAction::WouldAddProvenance,
                (true, false) => OciAction::ProvenanceAdded,
            }
        }
        Some(_) if options.force => {
            if options.dry_run {
                OciAction::WouldReplace
            } else {
                OciAction::Replaced
            }
        }
        Some(manifest) => bail!(
            "{reference} already holds another package of {name} {version} (chart layer {}, this package {ours}): \
             a published version never changes, in the registry either; {} (or pass --force to replace it in both \
             channels)",
            manifest.chart_digest().unwrap_or("none: not a Helm chart"),
            crate::project::version_bump_fix(name)
        ),
    };
    if matches!(action, OciAction::Pushed | OciAction::ProvenanceAdded | OciAction::Replaced) {
        channel.registry.push(&reference, &artifact).await.with_context(|| failed("pushing"))?;
        tracing::debug!("{reference}: manifest {} pushed", artifact.digest());
    }
    let layers = if artifact.layers.len() > 1 { "chart + provenance" } else { "chart" };
    step(format!("  oci://{reference}: {} ({layers}, {ours})", action.describe()));
    Ok(OciPush { reference, action })
}

/// Push Artifact Hub's repository metadata (`source`, `charts/artifacthub-repo.yml`) to
/// each chart's `artifacthub.io` tag when it holds something else; returns whether
/// anything was (or would be) pushed.
pub async fn publish_artifacthub(channel: &OciChannel, source: &Path, charts: &[&str], dry_run: bool) -> Result<bool> {
    let bytes = match std::fs::read(source) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err).with_context(|| format!("reading {}", source.display())),
    };
    let artifact = Artifact::artifacthub(&bytes);
    let mut changed = false;
    for chart in charts {
        let reference = channel.repository.reference(chart, ARTIFACTHUB_TAG);
        let stored =
            channel.registry.manifest(&reference).await.with_context(|| format!("reading the tag {reference}"))?;
        if stored.is_some_and(|(_, digest)| digest == artifact.digest()) {
            continue;
        }
        changed = true;
        if dry_run {
            step(format!("  oci://{reference}: would push Artifact Hub's metadata (dry run)"));
            continue;
        }
        channel.registry.push(&reference, &artifact).await.with_context(|| format!("pushing {reference}"))?;
        step(format!("  oci://{reference}: Artifact Hub's metadata pushed"));
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_comes_from_the_flag_then_the_config() {
        use clap::Parser;
        let config = RepoConfig::parse(
            "domain = \"charts.kube9.io\"\nhosted_zone = \"kube9.io\"\nbucket = \"b-b-b\"\nregion = \"us-east-1\"\n\
             [oci]\nrepository = \"oci://ghcr.io/kube9/charts\"\n[tags]\na = \"b\"\n",
        )
        .unwrap();
        let parse = |args: &[&str]| {
            let cli = <crate::cli::Cli>::try_parse_from(
                ["cargo xtask", "release-chart", "--local", "repo"].iter().chain(args).copied(),
            );
            cli.map_err(|err| err.to_string())
        };
        assert!(parse(&["--oci", "ghcr.io/x"]).unwrap_err().contains("--oci must be oci://"));
        let none = OciArgs::default();
        assert_eq!(none.repository(None), None);
        assert_eq!(none.repository(Some(&config)).unwrap().to_string(), "oci://ghcr.io/kube9/charts");
        let flag = OciArgs { oci: Some(OciRepository::parse("oci://127.0.0.1:5000/x").unwrap()), plain_http: true };
        assert_eq!(flag.repository(Some(&config)).unwrap().registry, "127.0.0.1:5000");
        assert!(parse(&["--oci", "oci://127.0.0.1:5000/x", "--plain-http"]).is_ok());
    }
}
