//! Where a release (or a reindex) goes, built once: the store, the CDN in front of it
//! (none for a local folder), the public base URL, the cache policies, the index format
//! and the landing page's site. Commands build a [`Target`] from the configuration or
//! from `--local DIR [--url URL]` ([`TargetArgs`]) and then never ask which one it is.
//!
//! Building it is read-only: the bucket named in `charts/repository.toml` and the
//! distribution [`crate::aws::distribution::find_for_release`] finds. A missing piece is
//! an error that says to run `cargo xtask deploy-infra`. The bucket's existence is proven
//! by the first read of `index.yaml` (S3 answers `NoSuchBucket`), which saves a request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::summary::Invalidation;
use super::{Options, cdn, step};
use crate::aws::Clients;
use crate::aws::distribution::{self, Distribution};
use crate::config::{CachePolicy, RepoConfig};
use crate::landing::Site;
use crate::layout::IndexFormat;
use crate::store::{LocalStore, S3Store, Store};

/// Where `--local` repositories are served by default (`cargo xtask serve`).
pub const DEFAULT_LOCAL_URL: &str = "http://127.0.0.1:8879";

/// The flags `release-chart`, `reindex` and `yank` share (`#[command(flatten)]`ed into each).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Use a plain folder instead of S3 + CloudFront (no AWS account needed)
    #[arg(long, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// Repository URL written into the index with --local [default: http://127.0.0.1:8879]
    #[arg(long, value_name = "URL", requires = "local", value_parser = crate::layout::parse_url_flag)]
    pub url: Option<String>,
    /// Print every step and object it would write, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not wait for the CloudFront invalidation to complete
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting for the CloudFront invalidation after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub wait_timeout: u64,
}

/// CloudFront in front of the bucket.
#[derive(Debug, Clone)]
pub struct Cdn {
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub distribution: Distribution,
}

/// What a run changed, for the invalidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChange {
    /// Something users see was written.
    Wrote,
    /// A dry run that would have written something.
    WouldWrite,
    Nothing,
}

/// Where to publish, with everything that differs between S3 and a folder.
#[derive(Debug, Clone)]
pub struct Target {
    pub store: Store,
    /// `None` for a local folder.
    pub cdn: Option<Cdn>,
    /// Public base URL of the repository; index URLs are `{base_url}/NAME-VERSION.tgz`.
    pub base_url: String,
    pub cache: CachePolicy,
    /// How `index.yaml` is written (`[index] format`).
    pub index_format: IndexFormat,
    /// The landing page's site.
    pub site: Site,
    /// The configuration: always for S3; for `--local` when the file exists.
    pub config: Option<RepoConfig>,
}

impl Target {
    /// The target `args` name: `--local DIR`, else the bucket and distribution of the
    /// configuration at `config_path`. A local folder needs no configuration; when the
    /// file exists (a broken one is still an error) it names the index format, the site
    /// and the expected signing key.
    pub async fn build(args: &TargetArgs, config_path: &Path) -> Result<Target> {
        match &args.local {
            Some(dir) => {
                let config = RepoConfig::load_if_present(config_path)?;
                Ok(Target::local(dir.clone(), args.url.as_deref(), config))
            }
            None => Target::s3(RepoConfig::load(config_path)?).await,
        }
    }

    /// A folder served at `url` (default [`DEFAULT_LOCAL_URL`]).
    pub fn local(dir: PathBuf, url: Option<&str>, config: Option<RepoConfig>) -> Target {
        let base_url = url.unwrap_or(DEFAULT_LOCAL_URL).trim_end_matches('/').to_string();
        let zone = config.as_ref().map_or("kube9.io", |c| c.hosted_zone.as_str());
        Target {
            store: Store::Local(LocalStore::new(dir)),
            cdn: None,
            site: Site::new(&base_url, zone),
            // A folder keeps the default cache policies (its server sets its own headers).
            cache: CachePolicy::default(),
            index_format: config.as_ref().map(|c| c.index.format).unwrap_or_default(),
            base_url,
            config,
        }
    }

    /// The bucket and the distribution of `config`, found read-only.
    pub async fn s3(config: RepoConfig) -> Result<Target> {
        let clients = Clients::from_config(&config).await;
        crate::aws::credentials::require(&clients.shared).await?;
        step(format!("finding the CloudFront distribution for {}", config.domain));
        let distribution = distribution::find_for_release(&clients.cloudfront, &config).await?;
        step(format!("  {} ({})", distribution.id, distribution.domain_name));
        Ok(Target {
            store: Store::S3(S3Store::new(clients.s3.clone(), &config.bucket)),
            cdn: Some(Cdn { cloudfront: clients.cloudfront.clone(), distribution }),
            base_url: config.repo_url(),
            cache: CachePolicy::from_config(&config),
            index_format: config.index.format,
            site: Site::for_config(&config),
            config: Some(config),
        })
    }

    /// Publishing options for this target.
    pub fn options(&self, force: bool, dry_run: bool) -> Options {
        Options {
            base_url: self.base_url.clone(),
            force,
            dry_run,
            cache: self.cache.clone(),
            index_format: self.index_format,
            signer: None,
            sign_existing: false,
            oci: None,
        }
    }

    /// Invalidate the CDN after `change` (and wait, unless `--no-wait`); prints the step.
    pub async fn invalidate(&self, what: &str, change: StoreChange, args: &TargetArgs) -> Result<Invalidation> {
        let Some(cdn) = &self.cdn else { return Ok(Invalidation::NotApplicable) };
        match change {
            StoreChange::Nothing => {
                step("nothing changed: no CloudFront invalidation needed");
                Ok(Invalidation::Skipped)
            }
            StoreChange::WouldWrite => {
                step(format!(
                    "would invalidate {} on CloudFront distribution {}",
                    cdn::INVALIDATION_PATH,
                    cdn.distribution.id
                ));
                Ok(Invalidation::WouldCreate)
            }
            StoreChange::Wrote => {
                let reference = cdn::caller_reference(what);
                let timeout = Duration::from_secs(args.wait_timeout);
                cdn::invalidate_and_wait(&cdn.cloudfront, &cdn.distribution, &reference, args.no_wait, timeout).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_chart_reindex_and_yank_share_the_flags_and_the_url_check() {
        use clap::Parser;
        for command in [&["release-chart"][..], &["reindex"], &["yank", "demo", "1.0.0", "--undo"]] {
            let parse = |url: &str| {
                <crate::cli::Cli>::try_parse_from(
                    [&["cargo xtask"][..], command, &["--local", "repo", "--url", url, "--dry-run"]].concat(),
                )
            };
            let err = parse("ftp://x").unwrap_err().to_string();
            assert!(err.contains("--url must be an http(s) URL"), "{command:?}: {err}");
            assert!(parse("http://127.0.0.1:8080").is_ok(), "{command:?}");
            let without_local =
                <crate::cli::Cli>::try_parse_from([&["cargo xtask"][..], command, &["--url", "http://x"]].concat());
            assert!(without_local.is_err(), "{command:?}: --url needs --local");
        }
    }

    /// `yank` takes a reason or `--undo`, never both (its own flags beside the shared ones).
    #[test]
    fn yank_takes_a_reason_or_undo_and_not_both() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            <crate::cli::Cli>::try_parse_from([&["cargo xtask", "yank", "demo", "1.0.0"][..], args].concat())
        };
        assert!(parse(&["--reason", "broken"]).is_ok());
        assert!(parse(&["--undo", "--no-wait"]).is_ok());
        let neither = parse(&[]).unwrap_err().to_string();
        assert!(neither.contains("<--reason <TEXT>|--undo>"), "{neither}");
        let both = parse(&["--reason", "x", "--undo"]).unwrap_err().to_string();
        assert!(both.contains("cannot be used with"), "{both}");
    }
}
