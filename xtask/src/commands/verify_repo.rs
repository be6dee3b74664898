//! `cargo xtask verify-repo`: see [`crate::verify`].

use anyhow::{Context, Result, bail};

use crate::ctx::Ctx;
use crate::provenance::Keyring;
use crate::release::oci::OciArgs;
use crate::verify::{self, VerifyOptions};

/// Output formats of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable report
    Text,
    /// Machine-readable JSON report on stdout
    Json,
}

/// The long help (`--help`); `-h` shows the one-line summary of `cli.rs`.
pub const LONG_ABOUT: &str = "Smoke-test a chart repository as an anonymous Helm user (no credentials, no AWS \
SDK): the check CI runs after every release, and anyone can run against production. The URL defaults to \
https://{domain} of the config.\n\n\
Downloads index.yaml and every package it names (--parallel at a time) and checks, each reported with its \
evidence: the index parses as Helm parses it; versions are SemVer 2 and newest first, with the latest version and \
app version `helm search repo` will show; every URL lies under the repository URL and the charts name it in \
`sources`; each package's sha256 equals the index digest and its Chart.yaml name, version and appVersion equal \
the entry; headers (short-lived index.yaml, long-lived and immutable application/gzip packages, content types, \
no Content-Encoding on a .tgz); https, with plain http redirecting to it and HSTS; CDN evidence (x-cache, via); \
a missing file answers 404; the landing page index.html lists exactly the versions of the index, and apart the \
yanked ones (landing-page); yanked.json, the record of `cargo xtask yank`, parses and no version it holds as yanked \
is still in the index, with how many are yanked (yanked; a repository without yanked.json has yanked nothing and \
passes). \
`https` passes once the index answered over TLS with a certificate the client trusts; `https-redirect` asks \
http://HOST/index.yaml on port 80 (the URL's port dropped, as a browser's http:// would) and wants a redirect to \
https:// on the same host; `hsts` wants Strict-Transport-Security with a positive max-age on index.yaml \
(CloudFront's security-headers policy adds it).\n\n\
With --keyring FILE (a binary keyring, as `helm --keyring` takes; exactly its keys are trusted) or a configured \
`[signing] key_url`, package-provenance checks every version in scope: its .prov exists, verifies with a key of \
the keyring, and names the package's file name and sha256, which equals the index digest; a missing, \
foreign-key or tampered .prov fails, naming the file.\n\n\
With --oci oci://HOST/PATH (or `[oci] repository`), `oci` checks the OCI copy anonymously: every version in \
scope has its tag PATH/NAME:VERSION, whose chart layer is the index digest (the same bytes), and with a keyring its \
provenance layer verifies; a missing or replaced tag fails, naming the version and both digests. With \
--check-images, `image` resolves the image each version deploys by default (image.repository and image.tag of its \
values, or the appVersion) in its registry, anonymously (the registry's token flow, as a kubelet pulls); a \
registry that does not answer leaves both NOT RUN with the cause, never PASS. --plain-http talks to registries \
without TLS.\n\n\
A check is PASS, FAIL, SKIP (not applicable, e.g. the https redirect with --allow-http), NOT RUN (`\"not-run\"` \
in JSON: it could not be evaluated, because nothing answered or the index or a package was not obtained) or \
INFO. When nothing answers at the URL the cause is reported once, in index-download, with a hint (`is cargo \
xtask serve running?` for a loopback URL), and every other check is NOT RUN; a host that does not resolve never \
passes https; a TLS certificate it cannot trust is named likewise, once, in https (never retried). It trusts the \
system's CA certificates, or exactly those in SSL_CERT_FILE / SSL_CERT_DIR when set.\n\n\
Exits 0 only when every check passes; otherwise non-zero, naming the failed checks. --output json prints the \
whole report.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask verify-repo\
\n  $ cargo xtask verify-repo --keyring pubkey.gpg\
\n  $ cargo xtask verify-repo --url http://127.0.0.1:8879 --allow-http --output json\
\n  $ cargo xtask verify-repo --chart kube9-operator --output json\
\n  $ cargo xtask verify-repo --oci oci://ghcr.io/kube9/charts --check-images";

/// `cargo xtask verify-repo` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repository URL [default: https://{domain} from the config]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Allow a plain http:// URL (a local `cargo xtask serve`); https checks are skipped
    #[arg(long)]
    pub allow_http: bool,
    /// Check only this chart's packages (the index-wide checks still cover everything)
    #[arg(long, value_name = "NAME")]
    pub chart: Option<String>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Package downloads at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Check every package's .prov with exactly the keys in this keyring (binary, as
    /// `helm --keyring` takes; armored keys work too) [default: [signing] key_url of the
    /// config, fetched anonymously; neither: the provenance check is skipped]
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub oci: OciArgs,
    /// Check that the image each version deploys by default (values image.repository and
    /// image.tag, or the appVersion) resolves anonymously in its registry
    #[arg(long)]
    pub check_images: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // The config is only needed for defaults; verifying some other repository by
        // URL works without one.
        let config = if self.url.is_none() || ctx.config_path.exists() { Some(ctx.config()?) } else { None };
        let Some(url) = self.url.clone().or_else(|| config.as_ref().map(super::super::config::RepoConfig::repo_url))
        else {
            bail!("no repository URL: pass --url URL or provide charts/repository.toml (--config FILE)");
        };
        let keyring = match (&self.keyring, config.as_ref().and_then(|c| c.signing.as_ref())) {
            (Some(file), _) => Some(Keyring::load(&ctx.sh.current_dir().join(file))?),
            (None, Some(signing)) => Some(fetch_keyring(&signing.key_url).await?),
            (None, None) => None,
        };
        let opts = VerifyOptions {
            allow_http: self.allow_http,
            chart: self.chart.clone(),
            public_url: config.as_ref().map(super::super::config::RepoConfig::repo_url),
            parallelism: usize::from(self.parallel),
            progress: self.output == Output::Text,
            keyring,
            oci: self.oci.repository(config.as_ref()),
            plain_http: self.oci.plain_http,
            check_images: self.check_images,
        };
        let report = verify::verify_repo(&url, &opts).await?;
        let rendered = match self.output {
            Output::Text => report.render_text(),
            Output::Json => report.to_json()? + "\n",
        };
        crate::out!("{rendered}");
        // A text report on stdout already says every cause: the error then only names the
        // checks. Behind JSON (for machines) the error says the causes for the person.
        match self.output {
            Output::Text => report.into_brief_result().map(|_| ()),
            Output::Json => report.into_result().map(|_| ()),
        }
    }
}

/// The public keys at `url` (the configured `[signing] key_url`), as an anonymous user gets them.
async fn fetch_keyring(url: &str) -> Result<Keyring> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("[signing] key_url {url:?} is not a URL"))?;
    let fetched = verify::client::AnonymousClient::new()?.get(&parsed).await?;
    if !fetched.status.is_success() {
        bail!(
            "fetching the public keys from {url} ([signing] key_url) answered {}; pass --keyring FILE",
            fetched.status
        );
    }
    Keyring::parse(&fetched.body).with_context(|| format!("reading the public keys from {url} ([signing] key_url)"))
}
