//! Checks of a served repository as an anonymous Helm user sees it, and the local
//! server that shows it on a laptop.
//!
//! - [`verify_repo`] / [`verify_release`]: download `index.yaml` and the packages it
//!   names through a plain HTTP client (no credentials, no AWS SDK) and judge what
//!   users get: the index parses as Helm reads it, versions are SemVer and newest
//!   first, URLs stay under the repository URL, each package's sha256 and Chart.yaml
//!   match the index, the headers are right (short-lived index, immutable gzip
//!   packages, HSTS), http redirects to https, a missing file answers 404. Each check
//!   is reported with its evidence in a [`Report`], in the order of [`CHECKS`], the
//!   list of every check with what it judges and what it needs.
//! - [`server`]: `cargo xtask serve`, a local folder with the production headers.
//! - [`policy`]: the headers both sides agree on.
//!
//! **Invariant:** a check that cannot be evaluated is not run (`Status::NotRun`) with
//! its reason, never passed; the report passes only when no check failed or was left
//! not run. A package the index names outside the repository URL is looked for under it
//! by file name so its content is still judged, but `url-consistency` fails for it.

pub mod address;
mod checks;
pub mod client;
pub mod policy;
pub mod report;
pub mod server;

use anyhow::Result;

pub use checks::{CHECKS, CheckSpec, RepoUrl, names};
pub use report::{ChartSummary, Check, PackageOutcome, PackageReport, Report, Status};

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Accept a plain `http://` repository URL (a local `serve`); the https checks are
    /// then skipped.
    pub allow_http: bool,
    /// Only this chart's versions get the per-version checks (sources, packages).
    pub chart: Option<String>,
    /// A second URL the charts' `sources` may name instead of the verified URL: the
    /// public `https://{domain}` when a local copy is verified.
    pub public_url: Option<String>,
    /// Package downloads at once.
    pub parallelism: usize,
    /// Show a progress bar on stderr while downloading packages.
    pub progress: bool,
    /// Check every package's `.prov` against exactly these keys (`package-provenance`);
    /// `None`: skipped.
    pub keyring: Option<crate::provenance::Keyring>,
    /// The OCI copy to check (`oci`); `None`: skipped.
    pub oci: Option<crate::layout::OciRepository>,
    /// Talk to OCI registries over plain http.
    pub plain_http: bool,
    /// Resolve the image each version deploys (`image`); `false`: skipped.
    pub check_images: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            allow_http: false,
            chart: None,
            public_url: None,
            parallelism: 8,
            progress: true,
            keyring: None,
            oci: None,
            plain_http: false,
            check_images: false,
        }
    }
}

impl VerifyOptions {
    /// The options for the repository `config` describes: its public URL is the one
    /// `sources` must name.
    pub fn for_config(config: &crate::config::RepoConfig) -> VerifyOptions {
        VerifyOptions { public_url: Some(config.repo_url()), oci: config.oci_repository(), ..VerifyOptions::default() }
    }
}

/// Verify the whole repository at `url` (`opts.chart` narrows the package checks).
///
/// `Err` only for unusable input (an invalid URL); everything the repository does
/// wrong is a failed check in the report. Use [`Report::into_result`] to fail on it.
pub async fn verify_repo(url: &str, opts: &VerifyOptions) -> Result<Report> {
    let scope = checks::Scope { chart: opts.chart.clone(), version: None };
    checks::run(url, scope, opts).await
}

/// Verify one just-published version: the index-wide checks, plus `release-present`
/// (the index lists `chart` `version`) and the package checks for that version only.
/// This is what `release-chart` runs after its CloudFront invalidation completes
/// (`commands::release_chart`), failing through [`Report::into_result`].
pub async fn verify_release(url: &str, chart: &str, version: &str, opts: &VerifyOptions) -> Result<Report> {
    let scope = checks::Scope { chart: Some(chart.to_string()), version: Some(version.to_string()) };
    checks::run(url, scope, opts).await
}
