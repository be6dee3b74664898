//! The checks themselves. Network access happens in [`run`]; every verdict is made by a
//! pure function below it, unit-tested on hand-built inputs.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{LOCATION, STRICT_TRANSPORT_SECURITY};
use reqwest::{StatusCode, Url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::VerifyOptions;
use super::client::{AnonymousClient, Fetched, TlsFailure, Unreachable};
use super::policy;
use super::report::{ChartSummary, Check, PackageOutcome, PackageReport, Report, Status};
use crate::index::{IndexEntry, RepoIndex};
use crate::layout::{INDEX_KEY, prov_key, sha256_hex};

/// Stable check names: tests, scripts and `release-chart` match on them.
pub mod names {
    pub const HTTPS: &str = "https";
    pub const INDEX_DOWNLOAD: &str = "index-download";
    pub const INDEX_PARSE: &str = "index-parse";
    pub const SEMVER: &str = "semver";
    pub const VERSION_ORDER: &str = "version-order";
    pub const SEARCH: &str = "search";
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
    pub const HTTPS_REDIRECT: &str = "https-redirect";
    pub const HSTS: &str = "hsts";
    pub const CDN: &str = "cdn";
    pub const MISSING_OBJECT: &str = "missing-object";
    pub const LANDING_PAGE: &str = "landing-page";
}

/// Which index entries the per-version checks (sources, packages) look at. The
/// index-wide checks (parse, SemVer, order, URL consistency) always cover everything.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    pub chart: Option<String>,
    pub version: Option<String>,
}

impl Scope {
    fn includes(&self, chart: &str, version: &str) -> bool {
        self.chart.as_deref().is_none_or(|c| c == chart) && self.version.as_deref().is_none_or(|v| v == version)
    }
}

/// The repository URL, normalised: `url` always ends with `/` so file names join under it.
#[derive(Debug, Clone)]
pub struct RepoUrl {
    url: Url,
}

impl RepoUrl {
    pub fn parse(text: &str) -> Result<RepoUrl> {
        let mut url = Url::parse(text.trim())
            .with_context(|| format!("invalid repository URL {text:?} (want e.g. https://charts.kube9.io)"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            bail!("invalid repository URL {text:?}: want an http(s) URL with a host, e.g. https://charts.kube9.io");
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            bail!("invalid repository URL {text:?}: no query, fragment or credentials allowed (anonymous access only)");
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(RepoUrl { url })
    }

    /// As users type it: no trailing slash.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The host is this machine (`localhost`, 127.0.0.0/8, `::1`): a local `serve`.
    pub fn is_loopback(&self) -> bool {
        let host = self.url.host_str().unwrap_or("");
        match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => host.eq_ignore_ascii_case("localhost"),
        }
    }

    /// `name` (a file name or relative URL) resolved under the repository, as Helm
    /// resolves relative index URLs.
    pub fn join(&self, name: &str) -> Result<Url> {
        self.url.join(name).with_context(|| format!("resolving {name:?} under {}", self.as_str()))
    }

    /// True when `url` lies strictly under the repository URL.
    pub fn contains(&self, url: &Url) -> bool {
        url.scheme() == self.url.scheme()
            && url.host_str().map(str::to_ascii_lowercase) == self.url.host_str().map(str::to_ascii_lowercase)
            && url.port_or_known_default() == self.url.port_or_known_default()
            && url.path().len() > self.url.path().len()
            && url.path().starts_with(self.url.path())
    }
}

/// Where a package the index names is fetched, and whether that is the index URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Location {
    pub url: Url,
    /// The index URL lies outside the repository: `url` is the same file name under it.
    pub relocated: bool,
}

/// Resolve an index URL for downloading: relative URLs and URLs under the repository
/// as they are; a URL elsewhere is looked for under the repository by its file name
/// (`url-consistency` fails for it separately, so this never hides the problem).
pub(super) fn package_location(repo: &RepoUrl, index_url: &str) -> Result<Location> {
    match parse_index_url(index_url)? {
        IndexUrl::Relative => Ok(Location { url: repo.join(index_url)?, relocated: false }),
        IndexUrl::Absolute(url) if repo.contains(&url) => Ok(Location { url, relocated: false }),
        IndexUrl::Absolute(url) => {
            let file_name = url
                .path_segments()
                .and_then(|mut segments| segments.next_back())
                .filter(|name| !name.is_empty())
                .with_context(|| format!("index URL {index_url} names no file"))?;
            Ok(Location { url: repo.join(file_name)?, relocated: true })
        }
    }
}

enum IndexUrl {
    Absolute(Url),
    /// No scheme: Helm resolves it against the repository URL.
    Relative,
}

fn parse_index_url(text: &str) -> Result<IndexUrl> {
    match Url::parse(text) {
        Ok(url) => Ok(IndexUrl::Absolute(url)),
        // A scheme is letters before the first `:`, which comes before any `/`.
        Err(_) if !text.split('/').next().unwrap_or("").contains(':') => Ok(IndexUrl::Relative),
        Err(err) => bail!("index URL {text:?} is not a URL: {err}"),
    }
}

/// Every index URL that does not lie under the repository (relative URLs do: Helm
/// resolves them against it).
pub(super) fn url_problems(index: &RepoIndex, repo: &RepoUrl) -> Vec<String> {
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        for entry in entries {
            if entry.urls.is_empty() {
                problems.push(format!("{chart} {}: no URL", entry.metadata.version));
            }
            for url in &entry.urls {
                match parse_index_url(url) {
                    Ok(IndexUrl::Relative) => {}
                    Ok(IndexUrl::Absolute(parsed)) if repo.contains(&parsed) => {}
                    Ok(IndexUrl::Absolute(_)) => problems.push(format!(
                        "{chart} {}: {url} is not under {}",
                        entry.metadata.version,
                        repo.as_str()
                    )),
                    Err(err) => problems.push(format!("{chart} {}: {err:#}", entry.metadata.version)),
                }
            }
        }
    }
    problems
}

/// Entries whose Chart.yaml `sources` name none of `accepted` (the repository URL and
/// the public `https://{domain}`), one line per chart.
pub(super) fn source_problems(index: &RepoIndex, scope: &Scope, accepted: &[String]) -> Vec<String> {
    let normalise = |url: &str| url.trim().trim_end_matches('/').to_ascii_lowercase();
    let accepted: Vec<String> = accepted.iter().map(|url| normalise(url)).collect();
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        let lacking: Vec<&IndexEntry> = entries
            .iter()
            .filter(|entry| scope.includes(chart, &entry.metadata.version))
            .filter(|entry| !entry.metadata.sources.iter().any(|source| accepted.contains(&normalise(source))))
            .collect();
        if lacking.is_empty() {
            continue;
        }
        let versions: Vec<&str> = lacking.iter().map(|entry| entry.metadata.version.as_str()).collect();
        problems.push(format!(
            "{chart} {}: sources {:?} do not name {}",
            versions.join(", "),
            lacking[0].metadata.sources,
            accepted.join(" or ")
        ));
    }
    problems
}

/// Versions that are not SemVer 2 (Helm reads some of them leniently, but then orders
/// and compares them differently than the publisher meant).
pub(super) fn semver_problems(index: &RepoIndex) -> Vec<String> {
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        for entry in entries {
            if let Err(err) = semver::Version::parse(&entry.metadata.version) {
                problems.push(format!("{chart} {:?}: not SemVer 2 ({err})", entry.metadata.version));
            }
            if entry.metadata.name != *chart {
                problems.push(format!(
                    "{chart} {}: the entry is named {:?}, not {chart:?}",
                    entry.metadata.version, entry.metadata.name
                ));
            }
        }
    }
    problems
}

/// Charts whose versions are not newest first by SemVer, or list a version twice.
pub(super) fn order_problems(index: &RepoIndex) -> Vec<String> {
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        let versions: Vec<(&str, Option<semver::Version>)> = entries
            .iter()
            .map(|entry| (entry.metadata.version.as_str(), semver::Version::parse(&entry.metadata.version).ok()))
            .collect();
        for pair in versions.windows(2) {
            let ((a, va), (b, vb)) = (&pair[0], &pair[1]);
            if let (Some(va), Some(vb)) = (va, vb) {
                match va.cmp_precedence(vb) {
                    std::cmp::Ordering::Less => problems.push(format!("{chart}: {a} is listed before the newer {b}")),
                    std::cmp::Ordering::Equal => problems.push(format!("{chart}: version {a} is listed twice ({b})")),
                    std::cmp::Ordering::Greater => {}
                }
            }
        }
    }
    problems
}

/// What `helm search repo` shows for each chart in scope: versions newest first, the
/// newest stable version and its app version.
pub(super) fn summaries(index: &RepoIndex, scope: &Scope) -> Vec<ChartSummary> {
    index
        .entries
        .iter()
        .filter(|(chart, _)| scope.chart.as_deref().is_none_or(|c| c == chart.as_str()))
        .map(|(chart, entries)| {
            let mut sorted: Vec<(&IndexEntry, Option<semver::Version>)> =
                entries.iter().map(|entry| (entry, semver::Version::parse(&entry.metadata.version).ok())).collect();
            // Newest first; versions that do not parse go last, in index order.
            sorted.sort_by(|(_, a), (_, b)| match (a, b) {
                (Some(a), Some(b)) => b.cmp_precedence(a),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
            let latest = sorted.iter().find(|(_, v)| v.as_ref().is_some_and(|v| v.pre.is_empty())).map(|(e, _)| *e);
            ChartSummary {
                name: chart.clone(),
                versions: sorted.iter().map(|(entry, _)| entry.metadata.version.clone()).collect(),
                latest_stable: latest.map(|entry| entry.metadata.version.clone()),
                app_version: latest.and_then(|entry| entry.metadata.app_version.clone()),
            }
        })
        .collect()
}

/// What was found about one package, by check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Findings {
    pub status: Option<u16>,
    pub sha256: Option<String>,
    /// Not downloadable: missing (404) or another answer / error.
    pub download: Option<String>,
    pub missing: bool,
    pub digest: Option<String>,
    pub metadata: Vec<String>,
    pub headers: Vec<String>,
    /// The headers, for the CDN evidence.
    pub response_headers: Option<reqwest::header::HeaderMap>,
    /// Problems with `NAME-VERSION.tgz.prov`; `None` when not checked (no keyring).
    pub provenance: Option<Vec<String>>,
}

/// Judge a package's provenance file as `helm verify` does, with exactly `keyring`: it is
/// served, signed by a key of the keyring, names `file_name` with the sha256 of the served
/// package, which is also the index digest.
pub(super) fn evaluate_provenance(
    keyring: &crate::provenance::Keyring,
    entry: &IndexEntry,
    file_name: &str,
    package: &[u8],
    fetched: Result<Fetched>,
) -> Vec<String> {
    let prov_name = prov_key(file_name);
    let fetched = match fetched {
        Err(err) => return vec![format!("{prov_name}: {err:#}")],
        Ok(fetched) if fetched.status == StatusCode::NOT_FOUND => {
            return vec![format!("{prov_name} is missing ({} answered 404): the package is not signed", fetched.url)];
        }
        Ok(fetched) if fetched.status != StatusCode::OK => {
            return vec![format!("{prov_name}: {} answered {}", fetched.url, fetched.status)];
        }
        Ok(fetched) => fetched,
    };
    match keyring.verify(&fetched.body, file_name, package) {
        Err(err) => vec![format!("{prov_name}: {err:#}")],
        Ok(verified) if !entry.digest.eq_ignore_ascii_case(&verified.sha256) => {
            vec![format!("{prov_name}: signs sha256 {}, but the index digest is {}", verified.sha256, entry.digest)]
        }
        Ok(_) => Vec::new(),
    }
}

/// Judge one downloaded package against its index entry.
pub(super) fn evaluate_package(entry: &IndexEntry, fetched: Result<Fetched>) -> Findings {
    let mut findings = Findings::default();
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(err) => {
            findings.download = Some(format!("{err:#}"));
            return findings;
        }
    };
    findings.status = Some(fetched.status.as_u16());
    if fetched.status == StatusCode::NOT_FOUND {
        findings.missing = true;
        findings.download = Some(format!("{} answered 404 Not Found", fetched.url));
        return findings;
    }
    if fetched.status != StatusCode::OK {
        findings.download = Some(format!("{} answered {}", fetched.url, fetched.status));
        return findings;
    }
    findings.headers = policy::package_header_problems(&fetched.headers);
    let sha256 = sha256_hex(&fetched.body);
    if entry.digest.is_empty() {
        findings.digest = Some("the index has no digest for it".to_string());
    } else if !entry.digest.eq_ignore_ascii_case(&sha256) {
        findings.digest = Some(format!("index digest {}, served bytes sha256 {sha256}", entry.digest));
    }
    findings.sha256 = Some(sha256);
    match crate::chart::read_package(&fetched.body) {
        Err(err) => findings.metadata.push(format!("not a readable chart package: {err:#}")),
        Ok(chart) => {
            let want = &entry.metadata;
            if chart.name != want.name {
                findings.metadata.push(format!("Chart.yaml name {:?}, index {:?}", chart.name, want.name));
            }
            if chart.version != want.version {
                findings.metadata.push(format!("Chart.yaml version {:?}, index {:?}", chart.version, want.version));
            }
            if chart.app_version != want.app_version {
                findings.metadata.push(format!(
                    "Chart.yaml appVersion {:?}, index {:?}",
                    chart.app_version.as_deref().unwrap_or(""),
                    want.app_version.as_deref().unwrap_or("")
                ));
            }
        }
    }
    findings.response_headers = Some(fetched.headers);
    findings
}

/// The package-level report line built from the findings.
fn package_report(entry: &IndexEntry, location: &Location, findings: &Findings) -> PackageReport {
    let note = location.relocated.then(|| {
        format!("the index URL points outside the repository; checked the same file name at {}", location.url)
    });
    let mut problems = Vec::new();
    problems.extend(findings.download.iter().cloned());
    problems.extend(findings.digest.iter().map(|p| format!("digest: {p}")));
    problems.extend(findings.metadata.iter().map(|p| format!("Chart.yaml: {p}")));
    problems.extend(findings.headers.iter().map(|p| format!("headers: {p}")));
    problems.extend(findings.provenance.iter().flatten().map(|p| format!("provenance: {p}")));
    let outcome = if findings.missing {
        PackageOutcome::Missing
    } else if findings.download.is_some()
        || findings.digest.is_some()
        || !findings.metadata.is_empty()
        || !findings.headers.is_empty()
        || findings.provenance.as_ref().is_some_and(|p| !p.is_empty())
    {
        PackageOutcome::Failed
    } else {
        PackageOutcome::Verified
    };
    PackageReport {
        chart: entry.metadata.name.clone(),
        version: entry.metadata.version.clone(),
        index_url: entry.urls.first().cloned().unwrap_or_default(),
        fetched_url: location.url.to_string(),
        outcome,
        http_status: findings.status,
        sha256: findings.sha256.clone(),
        note,
        problems,
    }
}

/// Turn per-package findings into the four package checks.
fn package_checks(results: &[(IndexEntry, Option<Location>, Findings)], keyring: bool) -> Vec<Check> {
    use names::*;
    let label = |entry: &IndexEntry| format!("{} {}", entry.metadata.name, entry.metadata.version);
    let total = results.len();
    let download: Vec<String> =
        results.iter().filter_map(|(e, _, f)| f.download.as_ref().map(|p| format!("{}: {p}", label(e)))).collect();
    let missing = results.iter().filter(|(_, _, f)| f.missing).count();
    let downloaded = results.iter().filter(|(_, _, f)| f.download.is_none()).count();
    let mut checks = vec![if total == 0 {
        Check::new(PACKAGE_DOWNLOAD, Status::Fail, "the index names no package to download")
    } else {
        Check::from_problems(
            PACKAGE_DOWNLOAD,
            download.clone(),
            format!("all {total} package(s) downloaded anonymously"),
            format!("{} of {total} package(s) not downloadable ({missing} missing)", download.len()),
        )
    }];
    let per_package = |name: &str, select: &dyn Fn(&Findings) -> Vec<String>, pass: String, what: &str| {
        if downloaded == 0 {
            return Check::new(name, Status::NotRun, "no package was downloaded");
        }
        let problems: Vec<String> = results
            .iter()
            .filter(|(_, _, f)| f.download.is_none())
            .flat_map(|(e, _, f)| select(f).into_iter().map(move |p| format!("{}: {p}", label(e))))
            .collect();
        let bad = results.iter().filter(|(_, _, f)| f.download.is_none() && !select(f).is_empty()).count();
        Check::from_problems(name, problems, pass, format!("{bad} of {downloaded} downloaded package(s) {what}"))
    };
    checks.push(per_package(
        PACKAGE_DIGEST,
        &|f| f.digest.iter().cloned().collect(),
        format!("sha256 of all {downloaded} downloaded package(s) equals the index digest"),
        "differ from the index digest",
    ));
    checks.push(per_package(
        PACKAGE_METADATA,
        &|f| f.metadata.clone(),
        format!("Chart.yaml name, version and appVersion of all {downloaded} package(s) equal the index"),
        "disagree with the index",
    ));
    checks.push(per_package(
        PACKAGE_HEADERS,
        &|f| f.headers.clone(),
        "packages are served immutable (long max-age), as application/gzip, without Content-Encoding".to_string(),
        "have wrong headers",
    ));
    checks.push(if keyring {
        per_package(
            PACKAGE_PROVENANCE,
            &|f| f.provenance.clone().unwrap_or_default(),
            format!("every one of the {downloaded} package(s) has a .prov signed by a key of the keyring, naming its file and sha256"),
            "have a missing or invalid .prov",
        )
    } else {
        Check::new(PACKAGE_PROVENANCE, Status::Skip, NO_KEYRING)
    });
    checks
}

/// Why `package-provenance` is skipped without a keyring.
const NO_KEYRING: &str =
    "no keyring (--keyring FILE, or [signing] key_url in the config): provenance files not checked";

/// The verdict on `GET http://HOST/index.yaml` (redirects not followed).
pub(super) fn redirect_problems(fetched: &Fetched, https_index: &Url) -> Vec<String> {
    let status = fetched.status;
    if !status.is_redirection() {
        return vec![format!("{} answered {status}, not a redirect to https", fetched.url)];
    }
    let location = fetched.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    match fetched.url.join(location) {
        Ok(target) if target.scheme() == "https" && target.host_str() == https_index.host_str() => Vec::new(),
        _ => vec![format!(
            "{} answered {status} to {location:?}, not to https://{}",
            fetched.url,
            https_index.host_str().unwrap_or("")
        )],
    }
}

/// The verdict on `GET` of an object that does not exist.
pub(super) fn missing_object_check(url: &Url, answer: Result<StatusCode>) -> Check {
    let name = names::MISSING_OBJECT;
    match answer {
        Ok(StatusCode::NOT_FOUND) => Check::new(name, Status::Pass, format!("{url} answered 404 Not Found")),
        Ok(StatusCode::FORBIDDEN) => Check::new(name, Status::Fail, format!("{url} answered 403 Forbidden, not 404"))
            .with_evidence(vec![
                "the origin hides missing keys behind AccessDenied: grant the distribution s3:ListBucket so a \
                 missing chart reads as 404 (run `cargo xtask deploy-infra`)"
                    .to_string(),
            ]),
        Ok(status) => Check::new(name, Status::Fail, format!("{url} answered {status}, not 404 Not Found")),
        Err(err) => Check::new(name, Status::Fail, format!("{url}: {err:#}")),
    }
}

/// CDN evidence headers, informational.
const CDN_HEADERS: [&str; 7] =
    ["x-cache", "via", "x-amz-cf-pop", "x-amz-cf-id", "age", "cf-cache-status", "x-served-by"];

fn cdn_check(responses: &[(&str, &reqwest::header::HeaderMap)]) -> Check {
    let mut evidence = Vec::new();
    for (what, headers) in responses {
        for name in CDN_HEADERS {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                evidence.push(format!("{what}: {name}: {value}"));
            }
        }
    }
    if responses.is_empty() {
        return Check::new(names::CDN, Status::NotRun, "no response to look at");
    }
    let summary = if evidence.is_empty() {
        "no CDN headers (x-cache, via, x-amz-cf-pop): served straight from the origin".to_string()
    } else {
        "served through a CDN".to_string()
    };
    Check::new(names::CDN, Status::Info, summary).with_evidence(evidence)
}

/// What to do when nothing answers at the repository URL.
fn unreachable_hint(repo: &RepoUrl) -> &'static str {
    if repo.is_loopback() {
        "is `cargo xtask serve` running? (`cargo xtask serve --dir DIR --addr HOST:PORT` serves a local repository)"
    } else {
        "check the URL and your network (DNS, proxy, firewall); the production repository's DNS records come from \
         `cargo xtask deploy-infra`"
    }
}

/// What to do about a TLS failure.
fn tls_hint(failure: &TlsFailure) -> &'static str {
    if failure.certificate {
        "the certificate must chain to a CA this client trusts: the system's CAs (as for Helm without --ca-file), \
         or exactly those in SSL_CERT_FILE / SSL_CERT_DIR when set"
    } else {
        "check the server's TLS setup (protocol versions, cipher suites, certificate chain): this client speaks TLS \
         1.2 and 1.3"
    }
}

/// Why no usable answer came from the repository URL.
enum NoAnswer<'a> {
    /// Nothing accepted the connection, or the host does not resolve.
    Unreachable(&'a Unreachable),
    /// The TLS handshake failed: an untrusted certificate, or no common protocol.
    Tls(&'a TlsFailure),
}

/// The report when no usable answer came: the cause once, with a hint (in `https` for a
/// TLS failure on an https URL, else in `index-download`); every check that needs an
/// answer is not run (a host that does not resolve proves no https either).
fn no_answer_report(repo: &RepoUrl, scope: &Scope, opts: &VerifyOptions, why: &NoAnswer) -> Report {
    use names::*;
    let reason = match why {
        NoAnswer::Unreachable(_) => "the repository could not be reached",
        NoAnswer::Tls(_) => "no TLS connection to the repository could be made",
    };
    let mut checks = Vec::new();
    match why {
        NoAnswer::Tls(failure) if repo.is_https() => {
            checks.push(Check::new(HTTPS, Status::Fail, format!("{failure}; {}", tls_hint(failure))));
            checks.push(Check::new(INDEX_DOWNLOAD, Status::NotRun, format!("{reason}: see https")));
        }
        NoAnswer::Tls(failure) => {
            checks.push(https_check(repo, opts, Some(reason)));
            checks.push(Check::new(INDEX_DOWNLOAD, Status::Fail, format!("{failure}; {}", tls_hint(failure))));
        }
        NoAnswer::Unreachable(cause) => {
            checks.push(https_check(repo, opts, Some(reason)));
            checks.push(Check::new(INDEX_DOWNLOAD, Status::Fail, format!("{cause}; {}", unreachable_hint(repo))));
        }
    }
    let mut rest = vec![INDEX_PARSE, SEMVER, VERSION_ORDER, SEARCH];
    if scope.chart.is_some() {
        rest.push(if scope.version.is_some() { RELEASE_PRESENT } else { CHART_PRESENT });
    }
    rest.extend([URL_CONSISTENCY, CHART_SOURCES, PACKAGE_DOWNLOAD, PACKAGE_DIGEST, PACKAGE_METADATA]);
    rest.extend([PACKAGE_HEADERS, PACKAGE_PROVENANCE, INDEX_HEADERS, HTTPS_REDIRECT, HSTS, CDN, LANDING_PAGE]);
    rest.push(MISSING_OBJECT);
    for name in rest {
        if name == HTTPS_REDIRECT && !repo.is_https() {
            checks.push(Check::new(HTTPS_REDIRECT, Status::Skip, "the URL is plain http (--allow-http)"));
        } else if name == PACKAGE_PROVENANCE && opts.keyring.is_none() {
            checks.push(Check::new(PACKAGE_PROVENANCE, Status::Skip, NO_KEYRING));
        } else {
            checks.push(Check::new(name, Status::NotRun, reason));
        }
    }
    Report::new(repo.as_str(), checks, Vec::new(), Vec::new())
}

/// `https`: an https URL passes only once a TLS connection to it succeeded (the index
/// answered, whatever its status); `not_answered` says why it did not.
fn https_check(repo: &RepoUrl, opts: &VerifyOptions, not_answered: Option<&str>) -> Check {
    let name = names::HTTPS;
    match (repo.is_https(), not_answered) {
        (true, None) => {
            Check::new(name, Status::Pass, format!("{} answered over https with a valid certificate", repo.as_str()))
        }
        (true, Some(reason)) => Check::new(name, Status::NotRun, reason),
        (false, _) if opts.allow_http => {
            Check::new(name, Status::Skip, format!("{} is plain http, allowed by --allow-http", repo.as_str()))
        }
        (false, _) => Check::new(
            name,
            Status::Fail,
            format!("{} is plain http: users need https (pass --allow-http for a local repository)", repo.as_str()),
        ),
    }
}

/// Run every check against the repository at `url`.
pub(super) async fn run(url: &str, scope: Scope, opts: &VerifyOptions) -> Result<Report> {
    use names::*;
    let repo = RepoUrl::parse(url)?;
    let mut checks = Vec::new();

    if !repo.is_https() && !opts.allow_http {
        checks.push(https_check(&repo, opts, None));
        return Ok(Report::new(repo.as_str(), checks, Vec::new(), Vec::new()));
    }

    let client = AnonymousClient::new()?;
    let index_url = repo.join(INDEX_KEY)?;
    let index_fetch = client.get(&index_url).await;
    if let Err(err) = &index_fetch {
        if let Some(cause) = err.downcast_ref::<Unreachable>() {
            return Ok(no_answer_report(&repo, &scope, opts, &NoAnswer::Unreachable(cause)));
        }
        if let Some(failure) = err.downcast_ref::<TlsFailure>() {
            return Ok(no_answer_report(&repo, &scope, opts, &NoAnswer::Tls(failure)));
        }
    }
    let no_https = index_fetch.is_err().then_some("no https answer: see index-download");
    checks.push(https_check(&repo, opts, no_https));
    let index_response = match index_fetch {
        Ok(fetched) if fetched.status == StatusCode::OK => {
            checks.push(Check::new(
                INDEX_DOWNLOAD,
                Status::Pass,
                format!("GET {index_url}: 200, {} bytes, anonymously", fetched.body.len()),
            ));
            Some(fetched)
        }
        Ok(fetched) => {
            checks.push(Check::new(
                INDEX_DOWNLOAD,
                Status::Fail,
                format!("GET {index_url} answered {}", fetched.status),
            ));
            None
        }
        Err(err) => {
            checks.push(Check::new(INDEX_DOWNLOAD, Status::Fail, format!("{err:#}")));
            None
        }
    };

    let index = match &index_response {
        None => {
            checks.push(Check::new(INDEX_PARSE, Status::NotRun, "index.yaml was not downloaded"));
            None
        }
        Some(fetched) => match fetched.decoded_body().and_then(|body| RepoIndex::parse(&body)) {
            Ok(index) => {
                let versions: usize = index.entries.values().map(Vec::len).sum();
                checks.push(Check::new(
                    INDEX_PARSE,
                    Status::Pass,
                    format!(
                        "index.yaml parses as Helm reads it: {} chart(s), {versions} version(s)",
                        index.entries.len()
                    ),
                ));
                Some(index)
            }
            Err(err) => {
                checks.push(Check::new(INDEX_PARSE, Status::Fail, format!("index.yaml does not parse: {err:#}")));
                None
            }
        },
    };

    let mut charts = Vec::new();
    let mut packages = Vec::new();
    let mut package_headers = None;
    match &index {
        None => {
            let mut not_run = vec![SEMVER, VERSION_ORDER, SEARCH];
            if scope.chart.is_some() {
                not_run.push(if scope.version.is_some() { RELEASE_PRESENT } else { CHART_PRESENT });
            }
            not_run.extend([URL_CONSISTENCY, CHART_SOURCES, PACKAGE_DOWNLOAD, PACKAGE_DIGEST, PACKAGE_METADATA]);
            not_run.push(PACKAGE_HEADERS);
            for name in not_run {
                checks.push(Check::new(name, Status::NotRun, "no index to check"));
            }
            checks.push(if opts.keyring.is_some() {
                Check::new(PACKAGE_PROVENANCE, Status::NotRun, "no index to check")
            } else {
                Check::new(PACKAGE_PROVENANCE, Status::Skip, NO_KEYRING)
            });
        }
        Some(index) => {
            checks.push(Check::from_problems(
                SEMVER,
                semver_problems(index),
                "every version is SemVer 2 and every entry carries its chart's name",
                "some versions are not SemVer 2 or entries are misnamed",
            ));
            checks.push(Check::from_problems(
                VERSION_ORDER,
                order_problems(index),
                "every chart lists its versions newest first, each once",
                "versions are out of order or duplicated",
            ));
            charts = summaries(index, &scope);
            let shown: Vec<String> = charts
                .iter()
                .take(3)
                .map(|c| match &c.latest_stable {
                    Some(v) => format!("{} {v} (app {})", c.name, c.app_version.as_deref().unwrap_or("none")),
                    None => format!("{} (no stable version: only with --devel)", c.name),
                })
                .collect();
            let more = if charts.len() > 3 { format!(", and {} more", charts.len() - 3) } else { String::new() };
            checks.push(Check::new(
                SEARCH,
                Status::Info,
                format!(
                    "`helm search repo` shows {}{more}",
                    if shown.is_empty() { "nothing".to_string() } else { shown.join(", ") }
                ),
            ));
            if let Some(chart) = &scope.chart {
                let versions = index.entries.get(chart);
                match (&scope.version, versions) {
                    (_, None) => checks.push(Check::new(
                        if scope.version.is_some() { RELEASE_PRESENT } else { CHART_PRESENT },
                        Status::Fail,
                        format!("the index has no chart {chart:?}"),
                    )),
                    (None, Some(entries)) => checks.push(Check::new(
                        CHART_PRESENT,
                        Status::Pass,
                        format!("the index lists {} version(s) of {chart}", entries.len()),
                    )),
                    (Some(version), Some(entries)) => {
                        let present = entries.iter().any(|e| &e.metadata.version == version);
                        checks.push(if present {
                            Check::new(RELEASE_PRESENT, Status::Pass, format!("the index lists {chart} {version}"))
                        } else {
                            Check::new(
                                RELEASE_PRESENT,
                                Status::Fail,
                                format!("the index does not list {chart} {version}"),
                            )
                        });
                    }
                }
            }
            checks.push(Check::from_problems(
                URL_CONSISTENCY,
                url_problems(index, &repo),
                format!("every package URL lies under {}", repo.as_str()),
                format!("package URLs point outside {}", repo.as_str()),
            ));
            let mut accepted = vec![repo.as_str().to_string()];
            if let Some(public) = &opts.public_url
                && !accepted.iter().any(|a| a.eq_ignore_ascii_case(public.trim_end_matches('/')))
            {
                accepted.push(public.trim_end_matches('/').to_string());
            }
            checks.push(Check::from_problems(
                CHART_SOURCES,
                source_problems(index, &scope, &accepted),
                format!("every chart's sources name {}", accepted.join(" or ")),
                "some charts' sources do not name the repository URL",
            ));

            let results = download_packages(&client, &repo, index, &scope, opts).await;
            package_headers = results.iter().find_map(|(_, _, f)| f.response_headers.clone());
            packages = results
                .iter()
                .map(|(entry, location, findings)| match location {
                    Some(location) => package_report(entry, location, findings),
                    None => PackageReport {
                        chart: entry.metadata.name.clone(),
                        version: entry.metadata.version.clone(),
                        index_url: entry.urls.first().cloned().unwrap_or_default(),
                        fetched_url: String::new(),
                        outcome: PackageOutcome::Failed,
                        http_status: None,
                        sha256: None,
                        note: None,
                        problems: findings.download.iter().cloned().collect(),
                    },
                })
                .collect();
            checks.extend(package_checks(&results, opts.keyring.is_some()));
        }
    }

    match &index_response {
        Some(fetched) => checks.push(Check::from_problems(
            INDEX_HEADERS,
            policy::index_header_problems(&fetched.headers),
            format!(
                "index.yaml: Cache-Control {:?}, Content-Type {:?}",
                fetched.header("cache-control").unwrap_or(""),
                fetched.header("content-type").unwrap_or("")
            ),
            "index.yaml is served with the wrong headers",
        )),
        None => checks.push(Check::new(INDEX_HEADERS, Status::NotRun, "index.yaml was not downloaded")),
    }

    if repo.is_https() {
        let mut http_url = index_url.clone();
        let _ = http_url.set_scheme("http");
        let _ = http_url.set_port(None);
        checks.push(match client.get_once(&http_url).await {
            Ok(fetched) => Check::from_problems(
                HTTPS_REDIRECT,
                redirect_problems(&fetched, &index_url),
                format!("{http_url} answered {} to {}", fetched.status, fetched.header("location").unwrap_or("")),
                "plain http does not redirect to https",
            ),
            Err(err) => Check::new(HTTPS_REDIRECT, Status::Fail, format!("plain http is not answered: {err:#}")),
        });
    } else {
        checks.push(Check::new(HTTPS_REDIRECT, Status::Skip, "the URL is plain http (--allow-http)"));
    }

    checks.push(match &index_response {
        None => Check::new(HSTS, Status::NotRun, "index.yaml was not downloaded"),
        Some(fetched) => match fetched.header(STRICT_TRANSPORT_SECURITY.as_str()) {
            Some(value) if policy::hsts_max_age(value).is_some_and(|age| age > 0) => {
                Check::new(HSTS, Status::Pass, format!("Strict-Transport-Security: {value}"))
            }
            Some(value) => {
                Check::new(HSTS, Status::Fail, format!("Strict-Transport-Security {value:?} has no positive max-age"))
            }
            None => Check::new(HSTS, Status::Fail, "no Strict-Transport-Security header on index.yaml"),
        },
    });

    let mut cdn_sources = Vec::new();
    if let Some(fetched) = &index_response {
        cdn_sources.push((INDEX_KEY, &fetched.headers));
    }
    if let Some(headers) = &package_headers {
        cdn_sources.push(("package", headers));
    }
    checks.push(cdn_check(&cdn_sources));

    checks.push(match &index {
        None => Check::new(LANDING_PAGE, Status::NotRun, "no index to check"),
        Some(index) => {
            let root = repo.join("")?;
            let fetched = client.get(&root).await;
            Check::from_problems(
                LANDING_PAGE,
                landing_page_problems(index, fetched),
                format!(
                    "{root} is the landing page and lists exactly the {} version(s) of the index",
                    index.version_count()
                ),
                "the landing page does not match the index",
            )
        }
    });

    let missing_url = repo.join(&format!("kube9-verify-missing-{:016x}.tgz", fastrand::u64(..)))?;
    let answer = client.get(&missing_url).await.map(|fetched| fetched.status);
    checks.push(missing_object_check(&missing_url, answer));

    Ok(Report::new(repo.as_str(), checks, charts, packages))
}

/// What is wrong with the landing page served at the repository root: it must be HTML,
/// short-lived, and list exactly the (chart, version) pairs of `index`.
pub(super) fn landing_page_problems(index: &RepoIndex, fetched: Result<Fetched>) -> Vec<String> {
    let fetched = match fetched {
        Ok(fetched) if fetched.status == StatusCode::OK => fetched,
        Ok(fetched) => {
            return vec![format!(
                "{} answered {}: no landing page (`release-chart` or `reindex` writes index.html; CloudFront's \
                 default root object must be index.html: `cargo xtask deploy-infra`)",
                fetched.url, fetched.status
            )];
        }
        Err(err) => return vec![format!("{err:#}")],
    };
    let mut problems = policy::page_header_problems(&fetched.headers);
    let html = match fetched.decoded_body().map(String::from_utf8) {
        Ok(Ok(html)) => html,
        Ok(Err(_)) => return vec![format!("{} is not UTF-8", fetched.url)],
        Err(err) => return vec![format!("{err:#}")],
    };
    let listed = crate::landing::listed_versions(&html);
    let indexed = crate::landing::index_versions(index);
    let missing: Vec<String> = indexed.difference(&listed).map(|(c, v)| format!("{c} {v}")).collect();
    let extra: Vec<String> = listed.difference(&indexed).map(|(c, v)| format!("{c} {v}")).collect();
    let show = |list: &[String]| {
        let more = if list.len() > 5 { format!(" and {} more", list.len() - 5) } else { String::new() };
        format!("{}{more}", list.iter().take(5).cloned().collect::<Vec<_>>().join(", "))
    };
    if !missing.is_empty() {
        problems.push(format!(
            "the page does not list {} version(s) of the index: {} (run `cargo xtask reindex` to regenerate it)",
            missing.len(),
            show(&missing)
        ));
    }
    if !extra.is_empty() {
        problems.push(format!("the page lists {} version(s) the index does not: {}", extra.len(), show(&extra)));
    }
    problems
}

/// A URL path segment as the file name it stands for (`%2B` is `+` in `1.0.0+build`).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = segment.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Download every package in scope, at most `opts.parallelism` at a time, with a
/// progress bar; results in index order.
async fn download_packages(
    client: &AnonymousClient,
    repo: &RepoUrl,
    index: &RepoIndex,
    scope: &Scope,
    opts: &VerifyOptions,
) -> Vec<(IndexEntry, Option<Location>, Findings)> {
    let entries: Vec<IndexEntry> = index
        .entries
        .iter()
        .flat_map(|(chart, entries)| entries.iter().filter(move |e| scope.includes(chart, &e.metadata.version)))
        .cloned()
        .collect();
    let progress = if opts.progress { ProgressBar::new(entries.len() as u64) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{spinner} downloading packages [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let permits = Arc::new(Semaphore::new(opts.parallelism.max(1)));
    let mut tasks = JoinSet::new();
    for (position, entry) in entries.into_iter().enumerate() {
        let location = match entry.urls.first() {
            None => Err(anyhow::anyhow!("the index gives no URL")),
            Some(url) => package_location(repo, url),
        };
        let location = match location {
            Ok(location) => location,
            Err(err) => {
                let findings = Findings { download: Some(format!("{err:#}")), ..Findings::default() };
                tasks.spawn(async move { (position, entry, None, findings) });
                continue;
            }
        };
        let client = client.clone();
        let permits = permits.clone();
        let progress = progress.clone();
        let keyring = opts.keyring.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            progress.set_message(format!("{} {}", entry.metadata.name, entry.metadata.version));
            let fetched = client.get(&location.url).await;
            let body = fetched.as_ref().ok().filter(|f| f.status == StatusCode::OK).map(|f| f.body.clone());
            let mut findings = evaluate_package(&entry, fetched);
            if let (Some(keyring), Some(body)) = (keyring, body) {
                let file_name = location.url.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default();
                let file_name = percent_decode(file_name);
                let prov = match Url::parse(&format!("{}.prov", location.url)) {
                    Ok(url) => client.get(&url).await,
                    Err(err) => Err(anyhow::anyhow!("no provenance URL for {}: {err}", location.url)),
                };
                findings.provenance = Some(evaluate_provenance(&keyring, &entry, &file_name, &body, prov));
            }
            progress.inc(1);
            (position, entry, Some(location), findings)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(err) => tracing::error!("a package download task failed: {err}"),
        }
    }
    progress.finish_and_clear();
    results.sort_by_key(|(position, ..)| *position);
    results.into_iter().map(|(_, entry, location, findings)| (entry, location, findings)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::ChartMetadata;
    use reqwest::header::HeaderMap;

    fn entry(name: &str, version: &str, url: &str) -> IndexEntry {
        IndexEntry {
            metadata: ChartMetadata {
                name: name.to_string(),
                version: version.to_string(),
                app_version: Some(version.to_string()),
                sources: vec!["https://charts.kube9.io".to_string()],
                ..ChartMetadata::default()
            },
            urls: vec![url.to_string()],
            digest: "ab".repeat(32),
            ..IndexEntry::default()
        }
    }

    fn index(entries: Vec<IndexEntry>) -> RepoIndex {
        let mut index = RepoIndex::new();
        for entry in entries {
            index.entries.entry(entry.metadata.name.clone()).or_default().push(entry);
        }
        index
    }

    fn repo() -> RepoUrl {
        RepoUrl::parse("https://charts.kube9.io").unwrap()
    }

    #[test]
    fn repo_urls_are_normalised_and_contain_only_what_is_under_them() {
        let repo = repo();
        assert_eq!(repo.as_str(), "https://charts.kube9.io");
        assert_eq!(RepoUrl::parse("https://charts.kube9.io/").unwrap().as_str(), "https://charts.kube9.io");
        assert!(repo.contains(&Url::parse("https://charts.kube9.io/kube9-operator-0.1.0.tgz").unwrap()));
        assert!(repo.contains(&Url::parse("https://CHARTS.kube9.io:443/a/b.tgz").unwrap()));
        for other in [
            "http://charts.kube9.io/x.tgz",
            "https://charts.kube9.io.evil.example/x.tgz",
            "https://charts.kube9.io:8443/x.tgz",
            "https://charts.kube9.io/",
            "https://github.com/kube9/x.tgz",
        ] {
            assert!(!repo.contains(&Url::parse(other).unwrap()), "{other}");
        }
        let sub = RepoUrl::parse("http://127.0.0.1:8879/charts").unwrap();
        assert!(sub.contains(&Url::parse("http://127.0.0.1:8879/charts/x.tgz").unwrap()));
        assert!(!sub.contains(&Url::parse("http://127.0.0.1:8879/chartsx/x.tgz").unwrap()));
        assert_eq!(sub.join("x.tgz").unwrap().as_str(), "http://127.0.0.1:8879/charts/x.tgz");
        for bad in ["charts.kube9.io", "ftp://charts.kube9.io", "https://user:pw@charts.kube9.io", "https://x.io/?a=b"]
        {
            assert!(RepoUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn packages_outside_the_repository_are_looked_for_under_it() {
        let repo = repo();
        let inside = package_location(&repo, "https://charts.kube9.io/kube9-operator-0.1.0.tgz").unwrap();
        assert_eq!(inside, Location { url: repo.join("kube9-operator-0.1.0.tgz").unwrap(), relocated: false });
        let relative = package_location(&repo, "charts/kube9-operator-0.1.0.tgz").unwrap();
        assert_eq!(relative.url.as_str(), "https://charts.kube9.io/charts/kube9-operator-0.1.0.tgz");
        assert!(!relative.relocated);
        let elsewhere = package_location(
            &repo,
            "https://github.com/mozilla-it/helm-charts/releases/download/ctms-0.1.7/ctms-0.1.7.tgz",
        )
        .unwrap();
        assert_eq!(elsewhere.url.as_str(), "https://charts.kube9.io/ctms-0.1.7.tgz");
        assert!(elsewhere.relocated);
        assert!(package_location(&repo, "https://github.com/").is_err());
    }

    #[test]
    fn url_consistency_names_every_url_elsewhere() {
        let index = index(vec![
            entry("a", "1.0.0", "https://charts.kube9.io/a-1.0.0.tgz"),
            entry("a", "0.9.0", "a-0.9.0.tgz"),
            entry("b", "1.0.0", "https://mozilla-it.github.io/helm-charts/b-1.0.0.tgz"),
        ]);
        let problems = url_problems(&index, &repo());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("b 1.0.0: https://mozilla-it.github.io"), "{problems:?}");
        let mut no_url = index.clone();
        no_url.entries.get_mut("a").unwrap()[0].urls.clear();
        assert!(url_problems(&no_url, &repo()).iter().any(|p| p == "a 1.0.0: no URL"));
    }

    #[test]
    fn sources_must_name_the_repository() {
        let mut index = index(vec![entry("a", "1.0.0", "x"), entry("a", "0.9.0", "y"), entry("b", "1.0.0", "z")]);
        let accepted = vec!["http://127.0.0.1:8879".to_string(), "https://charts.kube9.io".to_string()];
        assert!(source_problems(&index, &Scope::default(), &accepted).is_empty());
        index.entries.get_mut("a").unwrap()[1].metadata.sources =
            vec!["https://github.com/kube9/kube9-operator".into()];
        let problems = source_problems(&index, &Scope::default(), &accepted);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("a 0.9.0: sources"), "{problems:?}");
        // A release scope only looks at its own version.
        let scope = Scope { chart: Some("a".into()), version: Some("1.0.0".into()) };
        assert!(source_problems(&index, &scope, &accepted).is_empty());
    }

    #[test]
    fn versions_must_be_semver_newest_first_and_unique() {
        let good = index(vec![entry("a", "1.10.0", "x"), entry("a", "1.9.0", "x"), entry("a", "1.9.0-rc.1", "x")]);
        assert!(semver_problems(&good).is_empty());
        assert!(order_problems(&good).is_empty());

        let bad = index(vec![entry("a", "1.9.0", "x"), entry("a", "1.10.0", "x"), entry("a", "1.10.0", "x")]);
        let problems = order_problems(&bad);
        assert_eq!(
            problems,
            ["a: 1.9.0 is listed before the newer 1.10.0", "a: version 1.10.0 is listed twice (1.10.0)"]
        );

        let mut lenient = index(vec![entry("a", "v1.0", "x")]);
        lenient.entries.get_mut("a").unwrap()[0].metadata.name = "b".into();
        let problems = semver_problems(&lenient);
        assert!(problems[0].contains("\"v1.0\": not SemVer 2"), "{problems:?}");
        assert!(problems[1].contains("named \"b\""), "{problems:?}");
    }

    #[test]
    fn search_shows_the_newest_stable_version_and_its_app_version() {
        let mut index = index(vec![entry("a", "1.0.0", "x"), entry("a", "2.0.0-rc.1", "x"), entry("a", "1.2.0", "x")]);
        index.entries.get_mut("a").unwrap()[2].metadata.app_version = Some("v9".into());
        index.entries.insert("pre".into(), vec![entry("pre", "0.1.0-alpha", "x")]);
        let charts = summaries(&index, &Scope::default());
        assert_eq!(charts[0].versions, ["2.0.0-rc.1", "1.2.0", "1.0.0"]);
        assert_eq!(charts[0].latest_stable.as_deref(), Some("1.2.0"));
        assert_eq!(charts[0].app_version.as_deref(), Some("v9"));
        assert_eq!(charts[1].latest_stable, None);
        let only_a = summaries(&index, &Scope { chart: Some("a".into()), version: None });
        assert_eq!(only_a.len(), 1);
    }

    fn fetched(status: u16, headers: &[(&'static str, &str)], body: &[u8]) -> Fetched {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Fetched {
            url: Url::parse("http://charts.kube9.io/index.yaml").unwrap(),
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.to_vec(),
        }
    }

    #[test]
    fn plain_http_must_redirect_to_https_on_the_same_host() {
        let https = Url::parse("https://charts.kube9.io/index.yaml").unwrap();
        let ok = fetched(301, &[("location", "https://charts.kube9.io/index.yaml")], b"");
        assert!(redirect_problems(&ok, &https).is_empty());
        let served = fetched(200, &[], b"apiVersion: v1");
        assert!(redirect_problems(&served, &https)[0].contains("not a redirect"));
        let elsewhere = fetched(302, &[("location", "https://evil.example/")], b"");
        assert!(redirect_problems(&elsewhere, &https)[0].contains("not to https://charts.kube9.io"));
        let to_http = fetched(308, &[("location", "/index.yaml")], b"");
        assert_eq!(redirect_problems(&to_http, &https).len(), 1);
    }

    #[test]
    fn an_untrusted_certificate_fails_https_once_and_nothing_else_runs() {
        let failure = TlsFailure {
            address: "charts.kube9.io:443".into(),
            cause: "invalid peer certificate: UnknownIssuer".into(),
            certificate: true,
        };
        let scope = Scope { chart: Some("a".into()), version: Some("1.0.0".into()) };
        let report = no_answer_report(&repo(), &scope, &VerifyOptions::default(), &NoAnswer::Tls(&failure));
        let https = report.check(names::HTTPS).unwrap();
        assert_eq!(https.status, Status::Fail);
        assert!(https.summary.contains("is not trusted: invalid peer certificate: UnknownIssuer"), "{https:?}");
        assert!(https.summary.contains("SSL_CERT_FILE"), "the hint names what is trusted: {https:?}");
        assert_eq!(report.failures().len(), 1, "{report:?}");
        // Every other check is not run; provenance is skipped anyway (no keyring asked for).
        assert_eq!(report.checks.len(), 20, "every check but chart-present (a release scope): {report:?}");
        assert_eq!(report.check(names::PACKAGE_PROVENANCE).unwrap().status, Status::Skip);
        let mut others =
            report.checks.iter().filter(|c| ![names::HTTPS, names::PACKAGE_PROVENANCE].contains(&c.name.as_str()));
        assert!(others.all(|c| c.status == Status::NotRun), "{report:?}");
        assert!(report.check(names::RELEASE_PRESENT).is_some());
        assert_eq!(report.render_text().matches("UnknownIssuer").count(), 1, "{}", report.render_text());

        // Plain http that redirects to an untrusted https: the cause goes to index-download.
        let http = RepoUrl::parse("http://127.0.0.1:8879").unwrap();
        let opts = VerifyOptions { allow_http: true, ..VerifyOptions::default() };
        let report = no_answer_report(&http, &Scope::default(), &opts, &NoAnswer::Tls(&failure));
        assert_eq!(report.check(names::HTTPS).unwrap().status, Status::Skip);
        assert_eq!(report.check(names::INDEX_DOWNLOAD).unwrap().status, Status::Fail);
        assert_eq!(report.render_text().matches("UnknownIssuer").count(), 1);
    }

    #[test]
    fn a_missing_object_must_answer_404() {
        let url = Url::parse("https://charts.kube9.io/nope.tgz").unwrap();
        assert_eq!(missing_object_check(&url, Ok(StatusCode::NOT_FOUND)).status, Status::Pass);
        let forbidden = missing_object_check(&url, Ok(StatusCode::FORBIDDEN));
        assert_eq!(forbidden.status, Status::Fail);
        assert!(forbidden.evidence[0].contains("s3:ListBucket"));
        assert_eq!(missing_object_check(&url, Ok(StatusCode::OK)).status, Status::Fail);
        assert_eq!(missing_object_check(&url, Err(anyhow::anyhow!("refused"))).status, Status::Fail);
    }

    #[test]
    fn packages_are_judged_on_status_digest_and_headers() {
        let e = entry("a", "1.0.0", "x");
        let missing = evaluate_package(&e, Ok(fetched(404, &[], b"")));
        assert!(missing.missing && missing.download.is_some());
        let forbidden = evaluate_package(&e, Ok(fetched(403, &[], b"")));
        assert!(!forbidden.missing && forbidden.download.as_deref().unwrap().contains("403"));
        let unreachable = evaluate_package(&e, Err(anyhow::anyhow!("connection refused")));
        assert_eq!(unreachable.download.as_deref(), Some("connection refused"));

        let served = evaluate_package(&e, Ok(fetched(200, &[("content-type", "application/gzip")], b"not a chart")));
        assert_eq!(served.download, None);
        assert!(served.digest.as_deref().unwrap().contains("index digest abab"), "{served:?}");
        assert!(!served.metadata.is_empty(), "a non-chart must not pass Chart.yaml checks");
        assert!(served.headers.iter().any(|p| p.contains("Cache-Control")), "{served:?}");

        let checks = package_checks(&[(e.clone(), None, missing), (e, None, served)], false);
        let status: Vec<(&str, Status)> = checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            status,
            [
                (names::PACKAGE_DOWNLOAD, Status::Fail),
                (names::PACKAGE_DIGEST, Status::Fail),
                (names::PACKAGE_METADATA, Status::Fail),
                (names::PACKAGE_HEADERS, Status::Fail),
                (names::PACKAGE_PROVENANCE, Status::Skip),
            ]
        );
        assert_eq!(package_checks(&[], false)[0].status, Status::Fail, "an empty repository is not a published one");
    }

    #[test]
    fn the_landing_page_must_list_exactly_the_index() {
        let site = crate::landing::Site::new("https://charts.kube9.io", "kube9.io");
        let full = index(vec![
            entry("kube9-operator", "0.2.0", "https://charts.kube9.io/kube9-operator-0.2.0.tgz"),
            entry("kube9-operator", "0.1.0", "https://charts.kube9.io/kube9-operator-0.1.0.tgz"),
        ]);
        let older = index(vec![entry("kube9-operator", "0.1.0", "https://charts.kube9.io/kube9-operator-0.1.0.tgz")]);
        let html_headers = [("cache-control", "public, max-age=300"), ("content-type", "text/html; charset=utf-8")];
        let page = |index: &RepoIndex| fetched(200, &html_headers, crate::landing::render(index, &site).as_bytes());

        assert_eq!(landing_page_problems(&full, Ok(page(&full))), Vec::<String>::new());
        let stale = landing_page_problems(&full, Ok(page(&older))).join("\n");
        assert!(stale.contains("does not list 1 version(s)") && stale.contains("kube9-operator 0.2.0"), "{stale}");
        let extra = landing_page_problems(&older, Ok(page(&full))).join("\n");
        assert!(extra.contains("the index does not: kube9-operator 0.2.0"), "{extra}");
        let missing = landing_page_problems(&full, Ok(fetched(403, &[], b"AccessDenied"))).join("\n");
        assert!(missing.contains("403") && missing.contains("default root object"), "{missing}");
        let as_download = fetched(
            200,
            &[("cache-control", "max-age=300"), ("content-type", "application/octet-stream")],
            crate::landing::render(&full, &site).as_bytes(),
        );
        let wrong_type = landing_page_problems(&full, Ok(as_download)).join("\n");
        assert!(wrong_type.contains("application/octet-stream"), "{wrong_type}");
    }
}
