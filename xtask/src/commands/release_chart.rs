//! `cargo xtask release-chart`: package, merge into the live index, upload, invalidate
//! CloudFront, wait, report. The algorithm is in [`crate::release`]; this file wires the
//! target (S3 + CloudFront, or a local folder) and the checks around it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::aws::Clients;
use crate::chart::{self, ChartPackage};
use crate::config::CacheConfig;
use crate::ctx::Ctx;
use crate::index::IndexFormat;
use crate::landing::Site;
use crate::project;
use crate::provenance::{self, Signer};
use crate::release::summary::{self, Invalidation};
use crate::release::{self, Options, cdn, page, step, target};
use crate::store::{LocalStore, S3Store, Store};
use crate::versioning;

/// Where `--local` repositories are served by default (`cargo xtask serve`).
pub const DEFAULT_LOCAL_URL: &str = "http://127.0.0.1:8879";

pub use crate::project::OPERATOR_CHART;

#[derive(Debug, clap::Args)]
#[command(after_help = "Package each chart reproducibly, merge it into the live index.yaml and publish it:\n\
                  the package is uploaded first (create-only: an existing version is never overwritten),\n\
                  then index.yaml with a conditional write that retries when another release wins the race,\n\
                  then CloudFront is invalidated (/*) and the invalidation awaited.\n\n\
                  Re-running a release that is already published writes nothing. Never creates or changes\n\
                  infrastructure: a missing bucket or distribution means `cargo xtask deploy-infra` has to run.\n\n\
                  Example: cargo xtask release-chart\n\
                  Example: cargo xtask release-chart --local ./repo   (no AWS; then `cargo xtask serve --dir ./repo`)")]
pub struct Args {
    /// Chart directory to publish (repeatable) [default: charts/kube9-operator]
    #[arg(long, value_name = "DIR")]
    pub chart: Vec<PathBuf>,
    /// Publish into a plain folder instead of S3 + CloudFront (no AWS account needed)
    #[arg(long, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// Repository URL written into the index with --local [default: http://127.0.0.1:8879]
    #[arg(long, value_name = "URL", requires = "local")]
    pub url: Option<String>,
    /// Print every step and object it would write, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not wait for the CloudFront invalidation to complete
    #[arg(long)]
    pub no_wait: bool,
    /// Replace a version that is already published with different content
    #[arg(long)]
    pub force: bool,
    /// Do not smoke-test the published versions afterwards (they are verified as an
    /// anonymous user sees them, like `cargo xtask verify-repo`, once the invalidation completed)
    #[arg(long)]
    pub no_verify: bool,
    /// Verify through this URL instead of https://{domain} (e.g. a staging alias)
    #[arg(long, value_name = "URL", conflicts_with = "local")]
    pub verify_url: Option<String>,
    /// Give up waiting for the CloudFront invalidation after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub sign: SignArgs,
    /// Also sign versions that were published unsigned before (adds their .prov)
    #[arg(long)]
    pub sign_existing: bool,
}

/// Signing flags, shared by `release-chart` and `package-chart`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Sign each package with this ASCII-armored OpenPGP secret key, writing Helm's
    /// NAME-VERSION.tgz.prov [default: the key in $KUBE9_SIGNING_KEY, when set; its
    /// passphrase: $KUBE9_SIGNING_PASSPHRASE]
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

impl SignArgs {
    /// Whether a key is given (flag or environment).
    pub fn enabled(&self) -> bool {
        self.sign_key.is_some() || std::env::var(provenance::SIGNING_KEY_ENV).is_ok_and(|key| !key.trim().is_empty())
    }

    /// The signer, or `None` when signing is off; warns when the key is not the one the
    /// configuration or a chart's `artifacthub.io/signKey` names.
    pub fn signer(
        &self,
        cwd: &Path,
        configured: Option<&crate::config::SigningConfig>,
        packages: &[ChartPackage],
    ) -> Result<Option<std::sync::Arc<Signer>>> {
        let file = self.sign_key.as_ref().map(|file| cwd.join(file));
        let Some(signer) = Signer::from_flag_or_env(file.as_deref())? else { return Ok(None) };
        let charts: Vec<&chart::ChartMetadata> = packages.iter().map(|p| &p.metadata).collect();
        let configured = configured.map(|c| c.fingerprint.as_str());
        for warning in provenance::fingerprint_warnings(signer.fingerprint(), configured, &charts) {
            tracing::warn!("{warning}");
            eprintln!("warning: {warning}");
        }
        Ok(Some(std::sync::Arc::new(signer)))
    }
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dirs: Vec<PathBuf> = if self.chart.is_empty() {
            vec![project::operator_chart_dir()]
        } else {
            self.chart.iter().map(|dir| ctx.sh.current_dir().join(dir)).collect()
        };
        step(format!("checking chart versions{}", if self.dry_run { " (dry run: nothing is written)" } else { "" }));
        for dir in &dirs {
            check_version_lock(dir)?;
        }
        let packages = package_all(&dirs)?;

        match &self.local {
            Some(dir) => self.release_local(ctx, dir.clone(), &packages).await,
            None => self.release_s3(ctx, &packages).await,
        }
    }

    async fn release_local(&self, ctx: &Ctx, dir: PathBuf, packages: &[ChartPackage]) -> Result<()> {
        let base_url = self.url.clone().unwrap_or_else(|| DEFAULT_LOCAL_URL.to_string());
        check_base_url(&base_url)?;
        let cache = CacheConfig::default();
        // --local needs no config; when signing and there is one, it names the expected key.
        let config = if self.sign.enabled() && ctx.config_path.exists() { Some(ctx.config()?) } else { None };
        let signing = config.as_ref().and_then(|c| c.signing.as_ref());
        let signer = self.sign.signer(ctx.sh.current_dir().as_path(), signing, packages)?;
        let options = Options {
            base_url,
            force: self.force,
            dry_run: self.dry_run,
            index_cache_control: format!("public, max-age={}", cache.index_max_age),
            package_cache_control: format!("public, max-age={}, immutable", cache.package_max_age),
            index_format: local_index_format(ctx)?,
            signer,
            sign_existing: self.sign_existing,
        };
        let site = local_site(ctx, &options.base_url)?;
        let store = Store::Local(LocalStore::new(dir));
        let report = release::publish(&store, packages, &options).await?;
        release::publish_artifacthub_metadata(&store, &artifacthub_source(), &options).await?;
        page::publish_page(&store, &site, &options.index_cache_control, options.dry_run).await?;
        summary::emit(&report, &Invalidation::NotApplicable)
    }

    async fn release_s3(&self, ctx: &Ctx, packages: &[ChartPackage]) -> Result<()> {
        let config = ctx.config()?;
        let signer = self.sign.signer(ctx.sh.current_dir().as_path(), config.signing.as_ref(), packages)?;
        let clients = Clients::from_config(&config).await;
        crate::credentials::require(&clients.shared).await?;
        step(format!("finding the CloudFront distribution for {}", config.domain));
        let distribution = target::find_distribution(&clients, &config).await?;
        step(format!("  {} ({})", distribution.id, distribution.domain_name));

        let options = Options {
            base_url: config.repo_url(),
            force: self.force,
            dry_run: self.dry_run,
            index_cache_control: config.index_cache_control(),
            package_cache_control: config.package_cache_control(),
            index_format: config.index.format,
            signer,
            sign_existing: self.sign_existing,
        };
        let store = Store::S3(S3Store::new(clients.s3.clone(), &config.bucket));
        let report = release::publish(&store, packages, &options).await?;
        let metadata_changed = release::publish_artifacthub_metadata(&store, &artifacthub_source(), &options).await?;
        // After the index: the page is made from the index actually stored.
        let page =
            page::publish_page(&store, &Site::for_config(&config), &options.index_cache_control, self.dry_run).await?;

        let invalidation = if !report.changed() && !metadata_changed && !page.wrote() && !self.dry_run {
            step("nothing changed: no CloudFront invalidation needed");
            Invalidation::Skipped
        } else if self.dry_run {
            if report.changed()
                || report.index == release::IndexAction::WouldWrite
                || page == page::PageAction::WouldWrite
            {
                step(format!(
                    "would invalidate {} on CloudFront distribution {}",
                    cdn::INVALIDATION_PATH,
                    distribution.id
                ));
                Invalidation::WouldCreate
            } else {
                Invalidation::Skipped
            }
        } else {
            let names: Vec<String> =
                report.charts.iter().map(|c| format!("{}-{}", c.metadata.name, c.metadata.version)).collect();
            let reference = cdn::caller_reference(&format!("release-{}", names.join("_")));
            let timeout = Duration::from_secs(self.wait_timeout);
            cdn::invalidate_and_wait(&clients.cloudfront, &distribution, &reference, self.no_wait, timeout).await?
        };
        summary::emit(&report, &invalidation)?;
        if self.dry_run || self.no_wait || self.no_verify {
            return Ok(());
        }
        self.verify_published(&config, &report).await
    }

    /// Prove the release the way users see it: the same checks as `verify-repo`, scoped
    /// to the versions just published, once the CDN serves the new index.
    async fn verify_published(&self, config: &crate::config::RepoConfig, report: &release::Report) -> Result<()> {
        let url = self.verify_url.clone().unwrap_or_else(|| config.repo_url());
        let mut options = crate::verify::VerifyOptions::for_config(config);
        options.allow_http = url.starts_with("http://");
        // A signed release is verified with exactly the keys it published.
        options.keyring = report.signing.as_ref().map(|s| s.keyring.clone());
        for chart in &report.charts {
            let (name, version) = (&chart.metadata.name, &chart.metadata.version);
            step(format!("verifying {name} {version} at {url} as an anonymous user"));
            crate::verify::verify_release(&url, name, version, &options).await?.into_result().with_context(|| {
                format!(
                    "{name} {version} is published, but the public repository does not serve it correctly yet \
                     (re-check with `cargo xtask verify-repo --url {url}`; skip with --no-verify)"
                )
            })?;
        }
        step("verified: every published version is served correctly");
        Ok(())
    }
}

/// `[index] format` for a `--local` repository: from the config file when there is one
/// (one that exists but does not parse is still an error), else the default.
pub fn local_index_format(ctx: &Ctx) -> Result<IndexFormat> {
    if ctx.config_path.exists() { Ok(ctx.config()?.index.format) } else { Ok(IndexFormat::default()) }
}

/// The landing page's site for a `--local` repository served at `base_url`: named after
/// the config's hosted zone when there is a config file.
pub fn local_site(ctx: &Ctx, base_url: &str) -> Result<Site> {
    let zone = if ctx.config_path.exists() { ctx.config()?.hosted_zone } else { "kube9.io".to_string() };
    Ok(Site::new(base_url, &zone))
}

/// Package every chart in memory; two charts with the same name and version are refused.
pub fn package_all(dirs: &[PathBuf]) -> Result<Vec<ChartPackage>> {
    let mut packages: Vec<ChartPackage> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        step(format!("packaging {}", dir.display()));
        let package = chart::package_chart(dir).with_context(|| format!("packaging the chart in {}", dir.display()))?;
        if packages.iter().any(|p| p.file_name == package.file_name) {
            bail!("{} is given twice (two --chart folders build the same chart version)", package.file_name);
        }
        step(format!("  {} sha256:{}", package.file_name, package.digest));
        packages.push(package);
    }
    Ok(packages)
}

fn check_base_url(url: &str) -> Result<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.trim_end_matches('/').ends_with(':') {
        bail!("--url must be an http(s) URL such as {DEFAULT_LOCAL_URL}, got {url:?}");
    }
    Ok(())
}

/// The operator chart must carry the operator crate's version as both `version` and
/// `appVersion` ([`versioning::check_chart_in_sync`]); other charts are published under
/// their own version. The operator chart is recognised by its folder
/// (`charts/kube9-operator`) or by its name, so a copy elsewhere cannot bypass the lock.
pub fn check_version_lock(dir: &Path) -> Result<()> {
    let chart_yaml = dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).with_context(|| format!("reading {}", chart_yaml.display()))?;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", chart_yaml.display()))?;
    let is_operator_chart = doc.get("name").and_then(|v| v.as_str()) == Some(OPERATOR_CHART)
        || same_dir(dir, &project::operator_chart_dir());
    if is_operator_chart {
        versioning::check_chart_in_sync(dir).context("version drift: nothing was published")?;
    }
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The Artifact Hub metadata published at the repository root with every release.
fn artifacthub_source() -> PathBuf {
    project::project_root().join("charts").join(release::ARTIFACTHUB_KEY)
}
