//! What the judges see: the run (repository, scope, options) and the evidence the runner
//! obtained, level by level. Each level exists only when the one before it does: an
//! answering repository, then `index.yaml` as served (200), then an index that parses
//! (with the package downloads, the landing page and `yanked.json`). A check that needs a level the run
//! did not reach is not run, with the reason the level gives.

use anyhow::Result;
use reqwest::{StatusCode, Url};

use super::packages::PackageResult;
use super::registry::RegistryEvidence;
use super::urls::RepoUrl;
use crate::index::RepoIndex;
use crate::layout::INDEX_KEY;
use crate::verify::VerifyOptions;
use crate::verify::client::{Fetched, TlsFailure, Unreachable};
use crate::verify::report::ChartSummary;
use crate::yanked::YankLog;

/// Which index entries the per-version checks (sources, packages) look at. The
/// index-wide checks (parse, SemVer, order, URL consistency) always cover everything.
#[derive(Debug, Clone, Default)]
pub(in crate::verify) struct Scope {
    pub chart: Option<String>,
    pub version: Option<String>,
}

impl Scope {
    pub fn includes(&self, chart: &str, version: &str) -> bool {
        self.chart.as_deref().is_none_or(|c| c == chart) && self.version.as_deref().is_none_or(|v| v == version)
    }
}

/// One verification: what every judge may look at besides the evidence.
pub(super) struct Run<'a> {
    pub repo: RepoUrl,
    /// `index.yaml` under the repository.
    pub index_url: Url,
    pub scope: Scope,
    pub opts: &'a VerifyOptions,
}

impl<'a> Run<'a> {
    pub fn new(url: &str, scope: Scope, opts: &'a VerifyOptions) -> Result<Run<'a>> {
        let repo = RepoUrl::parse(url)?;
        let index_url = repo.join(INDEX_KEY)?;
        Ok(Run { repo, index_url, scope, opts })
    }
}

/// Everything the runner obtained.
pub(super) enum Evidence {
    /// No usable answer came: reported once (by `https` or `index-download`), every check
    /// that needs an answer is not run.
    NoAnswer(NoAnswer),
    Answered(Box<Answered>),
}

/// Why no usable answer came from the repository URL.
pub(super) enum NoAnswer {
    /// Nothing accepted the connection, or the host does not resolve.
    Unreachable(Unreachable),
    /// The TLS handshake failed: an untrusted certificate, or no common protocol.
    Tls(TlsFailure),
}

impl NoAnswer {
    /// What the checks that needed an answer say.
    pub fn reason(&self) -> &'static str {
        match self {
            NoAnswer::Unreachable(_) => "the repository could not be reached",
            NoAnswer::Tls(_) => "no TLS connection to the repository could be made",
        }
    }
}

/// The repository answered.
pub(super) struct Answered {
    pub index: IndexAnswer,
    /// `GET http://HOST/index.yaml`, redirects not followed (https URLs only).
    pub redirect: Option<(Url, Result<Fetched>)>,
    /// `GET` of a file no repository holds.
    pub missing_object: (Url, Result<StatusCode>),
}

/// How the request for `index.yaml` went.
pub(super) enum IndexAnswer {
    /// 200.
    File(IndexFile),
    /// Another status.
    Status(Fetched),
    /// An error that is not a missing answer (an unreadable body, too many redirects…).
    Failed(String),
}

/// `index.yaml` as served (200).
pub(super) struct IndexFile {
    pub fetched: Fetched,
    /// The index as Helm reads it, with what was fetched because of it.
    pub parsed: Result<Box<Indexed>>,
}

/// An index that parses, and what it led to.
pub(super) struct Indexed {
    pub index: RepoIndex,
    /// What `helm search repo` shows for each chart in scope.
    pub charts: Vec<ChartSummary>,
    /// Every package in scope, in index order.
    pub packages: Vec<PackageResult>,
    /// `GET` of the repository root.
    pub landing: (Url, Result<Fetched>),
    /// `GET` of `yanked.json`.
    pub yanked: (Url, YankedFile),
    /// What the OCI registries said (the OCI copy, the images).
    pub registry: RegistryEvidence,
}

/// `yanked.json` as served.
pub(super) enum YankedFile {
    /// 404: nothing was ever yanked.
    Absent,
    Parsed(YankLog),
    /// Another answer, or a body that does not parse: why.
    Unusable(String),
}

impl Evidence {
    /// The answer, or why there is none.
    pub fn answered(&self) -> Result<&Answered, &'static str> {
        match self {
            Evidence::NoAnswer(why) => Err(why.reason()),
            Evidence::Answered(answered) => Ok(answered.as_ref()),
        }
    }

    /// `index.yaml` as served, or why there is none.
    pub fn index_file(&self) -> Result<&IndexFile, &'static str> {
        match &self.answered()?.index {
            IndexAnswer::File(file) => Ok(file),
            IndexAnswer::Status(_) | IndexAnswer::Failed(_) => Err("index.yaml was not downloaded"),
        }
    }

    /// The parsed index, or why there is none.
    pub fn indexed(&self) -> Result<&Indexed, &'static str> {
        let answered = self.answered()?;
        match &answered.index {
            IndexAnswer::File(IndexFile { parsed: Ok(indexed), .. }) => Ok(indexed.as_ref()),
            _ => Err("no index to check"),
        }
    }
}
