//! `verify-repo`'s checks, as data: [`CHECKS`] lists every check in report order with
//! what it judges, what it needs and the pure function that judges it. The runner
//! (`runner.rs`) obtains the evidence over the network, then walks the table; the
//! report lists the checks in its order.
//!
//! Where the judges live, by what they judge: `urls.rs` (what URLs a repository has),
//! `transport.rs` (how it is served: https, the redirect, HSTS, headers, the CDN, 404s),
//! `index.rs` (`index.yaml`), `packages.rs` (every package), `landing.rs` (the landing
//! page), `yanked.rs` (`yanked.json`); `evidence.rs` holds what they see.

mod evidence;
#[cfg(test)]
mod fixtures;
mod index;
mod landing;
mod packages;
mod registry;
mod runner;
mod transport;
pub(super) mod urls;
mod yanked;

pub(super) use evidence::Scope;
pub(super) use runner::run;
pub use urls::RepoUrl;

use evidence::{Answered, Evidence, IndexFile, Indexed, Run};
use names::*;

use super::report::{Check, Status};

/// Stable check names: tests, scripts and `release-chart` match on them.
pub mod names {
    pub const HTTPS: &str = "https";
    pub const INDEX_DOWNLOAD: &str = "index-download";
    pub const INDEX_PARSE: &str = "index-parse";
    pub const SEMVER: &str = "semver";
    pub const VERSION_ORDER: &str = "version-order";
    pub const SEARCH: &str = "search";
    pub const YANKED: &str = "yanked";
    pub const CHART_PRESENT: &str = "chart-present";
    pub const RELEASE_PRESENT: &str = "release-present";
    pub const URL_CONSISTENCY: &str = "url-consistency";
    pub const CHART_SOURCES: &str = "chart-sources";
    pub const PACKAGE_DOWNLOAD: &str = "package-download";
    pub const PACKAGE_DIGEST: &str = "package-digest";
    pub const PACKAGE_METADATA: &str = "package-metadata";
    pub const INDEX_HEADERS: &str = "index-headers";
    pub const PACKAGE_HEADERS: &str = "package-headers";
    pub const PACKAGE_PROVENANCE: &str = "package-provenance";
    pub const OCI: &str = "oci";
    pub const IMAGE: &str = "image";
    pub const HTTPS_REDIRECT: &str = "https-redirect";
    pub const HSTS: &str = "hsts";
    pub const CDN: &str = "cdn";
    pub const MISSING_OBJECT: &str = "missing-object";
    pub const LANDING_PAGE: &str = "landing-page";
}

/// Every check, in report order.
pub const CHECKS: &[CheckSpec] = &[
    CheckSpec::new(
        HTTPS,
        "the index answers over https with a certificate this client trusts (plain http: SKIP with --allow-http, \
         else FAIL); a failed TLS handshake is named here, once",
        Judge::Connection(transport::https),
    ),
    CheckSpec::new(
        INDEX_DOWNLOAD,
        "index.yaml downloads anonymously (200); when nothing answers, the cause, once",
        Judge::Connection(index::download),
    ),
    CheckSpec::new(INDEX_PARSE, "index.yaml parses as Helm reads it", Judge::IndexFile(index::parse)),
    CheckSpec::new(
        SEMVER,
        "every version is SemVer 2 and every entry carries its chart's name",
        Judge::Index(index::semver),
    ),
    CheckSpec::new(
        VERSION_ORDER,
        "every chart lists its versions newest first, each once",
        Judge::Index(index::version_order),
    ),
    CheckSpec::new(
        SEARCH,
        "what `helm search repo` shows: the latest stable version and its app version (INFO)",
        Judge::Index(index::search),
    ),
    CheckSpec::new(
        YANKED,
        "yanked.json (the record of `cargo xtask yank`) parses and no yanked version is still in the index; how many \
         are yanked (no yanked.json: nothing is yanked, a pass)",
        Judge::Index(yanked::yanked),
    ),
    CheckSpec::new(CHART_PRESENT, "the index lists the chart of --chart", Judge::Index(index::chart_present))
        .only(Applies::Chart),
    CheckSpec::new(
        RELEASE_PRESENT,
        "the index lists the version just released (release-chart)",
        Judge::Index(index::release_present),
    )
    .only(Applies::Release),
    CheckSpec::new(
        URL_CONSISTENCY,
        "every package URL lies under the repository URL (relative URLs do)",
        Judge::Index(index::url_consistency),
    ),
    CheckSpec::new(
        CHART_SOURCES,
        "every chart's `sources` name the repository URL (or the configured public one)",
        Judge::Index(index::chart_sources),
    ),
    CheckSpec::new(
        PACKAGE_DOWNLOAD,
        "every package in scope downloads anonymously; a package outside the repository is looked for under it",
        Judge::Index(packages::download),
    ),
    CheckSpec::new(
        PACKAGE_DIGEST,
        "each downloaded package's sha256 equals the index digest",
        Judge::Index(packages::digest),
    ),
    CheckSpec::new(
        PACKAGE_METADATA,
        "each downloaded package's Chart.yaml name, version and appVersion equal its index entry",
        Judge::Index(packages::metadata),
    ),
    CheckSpec::new(
        PACKAGE_HEADERS,
        "packages are served immutable (long max-age), as application/gzip, without Content-Encoding",
        Judge::Index(transport::package_headers),
    ),
    CheckSpec::new(
        PACKAGE_PROVENANCE,
        "each package's .prov is served, verifies with a key of the keyring and names the package's file and \
         sha256, which is the index digest",
        Judge::Index(packages::provenance),
    )
    .asking(Asked::Keyring),
    CheckSpec::new(
        OCI,
        "every version in scope is in the OCI repository, anonymously: its tag's chart layer is the index digest \
         and, with a keyring, its provenance layer verifies",
        Judge::Index(registry::oci),
    )
    .asking(Asked::Oci),
    CheckSpec::new(
        IMAGE,
        "the image each version deploys by default (values image.repository and image.tag, or the appVersion) \
         resolves anonymously in its registry",
        Judge::Index(registry::image),
    )
    .asking(Asked::Images),
    CheckSpec::new(
        INDEX_HEADERS,
        "index.yaml is served short-lived (a short max-age, not immutable) as YAML",
        Judge::IndexFile(transport::index_headers),
    ),
    CheckSpec::new(
        HTTPS_REDIRECT,
        "http://HOST/index.yaml (port 80) redirects to https on the same host",
        Judge::Answer(transport::https_redirect),
    )
    .asking(Asked::HttpsUrl),
    CheckSpec::new(
        HSTS,
        "index.yaml carries Strict-Transport-Security with a positive max-age",
        Judge::IndexFile(transport::hsts),
    ),
    CheckSpec::new(
        CDN,
        "CDN evidence in the headers (x-cache, via, x-amz-cf-pop, …) (INFO)",
        Judge::Answer(transport::cdn),
    ),
    CheckSpec::new(
        LANDING_PAGE,
        "the repository root is an HTML landing page listing exactly the index's versions, and apart exactly the \
         yanked ones",
        Judge::Index(landing::landing_page),
    ),
    CheckSpec::new(
        MISSING_OBJECT,
        "a file that does not exist answers 404 (not 403)",
        Judge::Answer(transport::missing_object),
    ),
];

/// One check: its name, what it judges, when it is reported and what it needs.
#[derive(Clone, Copy)]
pub struct CheckSpec {
    /// Stable: see [`names`].
    pub name: &'static str,
    /// What it judges, in one line (docs, `--help`).
    pub judges: &'static str,
    applies: Applies,
    asked: Option<Asked>,
    judge: Judge,
}

impl std::fmt::Debug for CheckSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckSpec").field("name", &self.name).field("needs", &self.needs()).finish_non_exhaustive()
    }
}

impl CheckSpec {
    const fn new(name: &'static str, judges: &'static str, judge: Judge) -> CheckSpec {
        CheckSpec { name, judges, applies: Applies::Always, asked: None, judge }
    }

    /// Reported only in this scope.
    const fn only(self, applies: Applies) -> CheckSpec {
        CheckSpec { applies, ..self }
    }

    /// Run only when the user asked for it; SKIP otherwise.
    const fn asking(self, asked: Asked) -> CheckSpec {
        CheckSpec { asked: Some(asked), ..self }
    }

    /// What it needs to be judged, in words (docs, `--help`): the evidence, then what the
    /// user must ask for, then the scope it is reported in.
    pub fn needs(&self) -> Vec<&'static str> {
        let evidence = match self.judge {
            Judge::Connection(_) => "the repository URL",
            Judge::Answer(_) => "a reachable repository",
            Judge::IndexFile(_) => "index.yaml (200)",
            Judge::Index(_) => "an index that parses",
        };
        let asked = self.asked.map(|asked| match asked {
            Asked::HttpsUrl => "an https URL",
            Asked::Keyring => "a keyring (--keyring FILE, or [signing] key_url)",
            Asked::Oci => "an OCI repository (--oci, or [oci] repository)",
            Asked::Images => "--check-images",
        });
        let scope = match self.applies {
            Applies::Always => None,
            Applies::Chart => Some("--chart NAME"),
            Applies::Release => Some("a release (release-chart)"),
        };
        std::iter::once(evidence).chain(asked).chain(scope).collect()
    }

    /// The verdict: SKIP when the user did not ask for it, NOT RUN (with the reason) when
    /// the run did not obtain what it needs, else what its judge says.
    fn verdict(&self, run: &Run, evidence: &Evidence) -> Verdict {
        if let Some(asked) = self.asked
            && !asked.given(run)
        {
            return Verdict::new(Status::Skip, asked.skip_reason());
        }
        let judged = match self.judge {
            Judge::Connection(judge) => Ok(judge(run, evidence)),
            Judge::Answer(judge) => evidence.answered().map(|answered| judge(run, answered)),
            Judge::IndexFile(judge) => evidence.index_file().map(|file| judge(run, file)),
            Judge::Index(judge) => evidence.indexed().map(|indexed| judge(run, indexed)),
        };
        judged.unwrap_or_else(|reason| Verdict::new(Status::NotRun, reason))
    }
}

/// The function that judges a check, by the evidence it needs.
#[derive(Clone, Copy)]
enum Judge {
    /// Needs nothing: judged from how the index request went, even when nothing answered.
    Connection(fn(&Run, &Evidence) -> Verdict),
    /// Needs an answering repository.
    Answer(fn(&Run, &Answered) -> Verdict),
    /// Needs `index.yaml` as served (200).
    IndexFile(fn(&Run, &IndexFile) -> Verdict),
    /// Needs an index that parses (and with it the package downloads and the landing page).
    Index(fn(&Run, &Indexed) -> Verdict),
}

/// When a check is reported at all.
#[derive(Debug, Clone, Copy)]
enum Applies {
    Always,
    /// `--chart NAME` without a version.
    Chart,
    /// A chart and a version: what `release-chart` verifies.
    Release,
}

impl Applies {
    fn to(self, scope: &Scope) -> bool {
        match self {
            Applies::Always => true,
            Applies::Chart => scope.chart.is_some() && scope.version.is_none(),
            Applies::Release => scope.chart.is_some() && scope.version.is_some(),
        }
    }
}

/// What the user asks for; without it the check is SKIP (not applicable, by request).
#[derive(Debug, Clone, Copy)]
enum Asked {
    /// An https repository URL (a plain http one needs --allow-http).
    HttpsUrl,
    /// A keyring: `--keyring FILE`, or the config's `[signing] key_url`.
    Keyring,
    /// An OCI repository: `--oci`, or the config's `[oci] repository`.
    Oci,
    /// `--check-images`.
    Images,
}

impl Asked {
    fn given(self, run: &Run) -> bool {
        match self {
            Asked::HttpsUrl => run.repo.is_https(),
            Asked::Keyring => run.opts.keyring.is_some(),
            Asked::Oci => run.opts.oci.is_some(),
            Asked::Images => run.opts.check_images,
        }
    }

    fn skip_reason(self) -> &'static str {
        match self {
            Asked::HttpsUrl => "the URL is plain http (--allow-http)",
            Asked::Keyring => {
                "no keyring (--keyring FILE, or [signing] key_url in the config): provenance files not checked"
            }
            Asked::Oci => "no OCI repository (--oci, or [oci] repository in the config): no OCI copy to check",
            Asked::Images => "images not checked (--check-images asks each image's registry)",
        }
    }
}

/// A check's verdict before it is named: what a judge returns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    status: Status,
    summary: String,
    evidence: Vec<String>,
}

impl Verdict {
    fn new(status: Status, summary: impl Into<String>) -> Verdict {
        Verdict { status, summary: summary.into(), evidence: Vec::new() }
    }

    fn with_evidence(mut self, evidence: Vec<String>) -> Verdict {
        self.evidence = evidence;
        self
    }

    /// Pass when `problems` is empty, else fail with them as evidence.
    fn from_problems(problems: Vec<String>, pass: impl Into<String>, fail: impl Into<String>) -> Verdict {
        if problems.is_empty() {
            Verdict::new(Status::Pass, pass)
        } else {
            Verdict::new(Status::Fail, fail).with_evidence(problems)
        }
    }

    fn named(self, name: &str) -> Check {
        Check::new(name, self.status, self.summary).with_evidence(self.evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_every_check_once_in_report_order() {
        let names: Vec<&str> = CHECKS.iter().map(|spec| spec.name).collect();
        assert_eq!(
            names,
            [
                "https",
                "index-download",
                "index-parse",
                "semver",
                "version-order",
                "search",
                "yanked",
                "chart-present",
                "release-present",
                "url-consistency",
                "chart-sources",
                "package-download",
                "package-digest",
                "package-metadata",
                "package-headers",
                "package-provenance",
                "oci",
                "image",
                "index-headers",
                "https-redirect",
                "hsts",
                "cdn",
                "landing-page",
                "missing-object",
            ],
            "the names are stable: scripts match on them"
        );
        for spec in CHECKS {
            assert!(!spec.judges.is_empty() && !spec.judges.ends_with('.'), "{spec:?}");
            assert!(!spec.needs().is_empty(), "{spec:?}");
        }
        let provenance = CHECKS.iter().find(|spec| spec.name == PACKAGE_PROVENANCE).unwrap();
        assert_eq!(provenance.needs(), ["an index that parses", "a keyring (--keyring FILE, or [signing] key_url)"]);
    }
}
