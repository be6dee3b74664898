//! `cargo xtask release-chart`: package, merge into the live index, upload, invalidate
//! CloudFront, wait, report. The algorithm is in [`crate::release`]; this file wires the
//! target (S3 + CloudFront, or a local folder) and the checks around it.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::chart;
use crate::ctx::Ctx;
use crate::layout::ARTIFACTHUB_KEY;
use crate::project;
use crate::release::oci::{OciArgs, OciChannel};
use crate::release::summary;
use crate::release::target::{StoreChange, Target, TargetArgs};
use crate::release::{self, Options, page, step};
use crate::versioning::lock::check_operator_chart;

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "What CI runs on every release. Checks the version lock (the operator chart must \
match the operator crate version; any other --chart DIR is published under its own version), packages each chart \
reproducibly (as package-chart does), reads the live index.yaml with its ETag, merges, and writes, in this order:\
\n\n\
- each package, create-only, as `Content-Type: application/gzip` with \
`Cache-Control: public, max-age=31536000, immutable`: an identical package is not rewritten, a different one is \
refused unless --force;\n\
- with a signing key, each package's NAME-VERSION.tgz.prov (below);\n\
- index.yaml, with a conditional write (`If-Match` the ETag read, `If-None-Match: *` when there was none); a lost \
race re-reads, re-merges and retries with jittered backoff;\n\
- the landing page index.html, rendered from the index as stored;\n\
- a CloudFront invalidation of `/*`, awaited with a spinner.\n\n\
It prints chart, version, app version, digest, package URL, index URL and invalidation id (also to \
$GITHUB_STEP_SUMMARY in GitHub Actions). Then it proves the release as users see it: the verify-repo checks of \
each version it published, through https://{domain} (or --verify-url); --no-verify skips that.\n\n\
Re-running a published release writes nothing. A version taken back with `cargo xtask yank` is refused, whatever \
its content and even with --force, until the yank is undone (`cargo xtask yank CHART VERSION --undo`). It never creates or changes infrastructure: a missing bucket or \
distribution says to run `cargo xtask deploy-infra`.\n\n\
--local DIR does the same into a folder, with no AWS: package URLs default to http://127.0.0.1:8879, where \
`cargo xtask serve` listens (--url must be an http(s) URL). The folder holds only what is published (the local \
store locks the folder itself, no lock file), so it can be copied or synced as it is.\n\n\
With a signing key (--sign-key FILE, or $KUBE9_SIGNING_KEY alone) each package gets its NAME-VERSION.tgz.prov, \
uploaded after the package and before the index, create-only and immutable, as `text/plain` (it is a readable \
clear-signed text, not a detached `application/pgp-signature`). A stored .prov is never signed again; a version \
published unsigned gets one only with --sign-existing; --dry-run prints the .prov it would write. pubkey.gpg \
and pubkey.asc at the root gain the key; the summary shows the key's fingerprint, and the post-release check \
verifies every .prov with the published keys.\n\n\
With --oci oci://HOST[:PORT]/PATH (or `[oci] repository` in the config) each package also goes to the OCI \
registry as PATH/NAME:VERSION, laid out as `helm push` lays it out (Chart.yaml as the JSON config, the very \
package bytes as the chart layer, the .prov as the provenance layer), after the package and its .prov are stored \
and before the index names it. A tag holding the same package is left alone; one holding another package is \
refused, naming both digests (--force replaces it in both channels). Artifact Hub's metadata goes to \
PATH/NAME:artifacthub.io. Credentials: KUBE9_OCI_USERNAME and KUBE9_OCI_PASSWORD, else `helm registry login`'s \
or `docker login`'s file (never printed); --plain-http for a registry without TLS.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask release-chart                     # to charts.kube9.io\
\n  $ cargo xtask release-chart --local dist/repo   # to a folder, no AWS; then `cargo xtask serve --dir dist/repo`\
\n  $ cargo xtask release-chart --chart charts/other --dry-run\
\n  $ cargo xtask release-chart --oci oci://ghcr.io/kube9/charts    # also to an OCI registry";

/// `cargo xtask release-chart` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chart directory to publish (repeatable) [default: charts/kube9-operator]
    #[arg(long, value_name = "DIR")]
    pub chart: Vec<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
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
    #[command(flatten)]
    pub sign: crate::release::sign::SignArgs,
    #[command(flatten)]
    pub oci: OciArgs,
    /// Also sign versions that were published unsigned before (adds their .prov)
    #[arg(long)]
    pub sign_existing: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dirs: Vec<PathBuf> = if self.chart.is_empty() {
            vec![project::operator_chart_dir()]
        } else {
            self.chart.iter().map(|dir| ctx.sh.current_dir().join(dir)).collect()
        };
        step(format!(
            "checking chart versions{}",
            if self.target.dry_run { " (dry run: nothing is written)" } else { "" }
        ));
        let packages = chart::package_all(&dirs, check_operator_chart, step)?;

        let target = Target::build(&self.target, &ctx.config_path).await?;
        let dry_run = self.target.dry_run;
        let signing = target.config.as_ref().and_then(|c| c.signing.as_ref());
        let options = Options {
            signer: self.sign.signer(ctx.sh.current_dir().as_path(), signing, &packages)?,
            sign_existing: self.sign_existing,
            oci: OciChannel::for_release(&self.oci, target.config.as_ref())?,
            ..target.options(self.force, dry_run)
        };
        let store = &target.store;
        let report = release::publish(store, &packages, &options).await?;
        let metadata_changed = release::publish_artifacthub_metadata(store, &artifacthub_source(), &options).await?;
        if let Some(channel) = &options.oci {
            let mut charts: Vec<&str> = report.charts.iter().map(|c| c.metadata.name.as_str()).collect();
            charts.sort_unstable();
            charts.dedup();
            release::oci::publish_artifacthub(channel, &artifacthub_source(), &charts, dry_run).await?;
        }
        // After the index: the page is made from the index actually stored.
        let page = page::publish_page(
            store,
            &target.site,
            &options.cache.index_cache_control,
            dry_run,
            report.stored.as_ref(),
        )
        .await?;

        let change = if dry_run {
            let would = report.changed()
                || report.index == release::IndexAction::WouldWrite
                || page == page::PageAction::WouldWrite;
            if would { StoreChange::WouldWrite } else { StoreChange::Nothing }
        } else if report.changed() || metadata_changed || page.wrote() {
            StoreChange::Wrote
        } else {
            StoreChange::Nothing
        };
        let names: Vec<String> =
            report.charts.iter().map(|c| format!("{}-{}", c.metadata.name, c.metadata.version)).collect();
        let invalidation = target.invalidate(&format!("release-{}", names.join("_")), change, &self.target).await?;
        summary::emit(&report, &invalidation)?;
        match &target.config {
            Some(config) if target.cdn.is_some() && !dry_run && !self.target.no_wait && !self.no_verify => {
                self.verify_published(config, &report).await
            }
            _ => Ok(()),
        }
    }

    /// Prove the release the way users see it: the same checks as `verify-repo`, scoped
    /// to the versions just published, once the CDN serves the new index.
    async fn verify_published(&self, config: &crate::config::RepoConfig, report: &release::Report) -> Result<()> {
        let url = self.verify_url.clone().unwrap_or_else(|| config.repo_url());
        let mut options = crate::verify::VerifyOptions::for_config(config);
        options.allow_http = url.starts_with("http://");
        // The OCI copy just pushed is checked as well, anonymously.
        options.oci = self.oci.repository(Some(config));
        options.plain_http = self.oci.plain_http;
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

/// The Artifact Hub metadata published at the repository root with every release.
fn artifacthub_source() -> PathBuf {
    project::project_root().join("charts").join(ARTIFACTHUB_KEY)
}
