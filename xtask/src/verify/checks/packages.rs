//! Every package in scope: it downloads (a missing one answers 404), its sha256 is the
//! index digest, its Chart.yaml is the index entry, and with a keyring its `.prov`
//! verifies and names it. Each package is judged once, as it is downloaded
//! ([`evaluate_package`], [`evaluate_provenance`]: its [`Findings`]); the checks then
//! sum the findings up.

use anyhow::Result;
use reqwest::StatusCode;

use super::Verdict;
use super::evidence::{Indexed, Run};
use super::urls::Location;
use crate::index::IndexEntry;
use crate::layout::{prov_key, sha256_hex};
use crate::verify::client::Fetched;
use crate::verify::policy;
use crate::verify::report::{PackageOutcome, PackageReport, Status};

/// One package the index names, and what became of it.
#[derive(Debug, Clone)]
pub(super) struct PackageResult {
    pub entry: IndexEntry,
    /// Where it was fetched; `None` when the index gives no usable URL.
    pub location: Option<Location>,
    pub findings: Findings,
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
    /// The image it deploys by default (`None` inside: its values name none), or why it
    /// could not be read; `None` when not asked for (`--check-images`) or not downloaded.
    pub image: Option<Result<Option<String>, String>>,
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

impl PackageResult {
    /// The package's line in the report.
    pub fn report(&self) -> PackageReport {
        let (entry, findings) = (&self.entry, &self.findings);
        let Some(location) = &self.location else {
            return PackageReport {
                chart: entry.metadata.name.clone(),
                version: entry.metadata.version.clone(),
                index_url: entry.urls.first().cloned().unwrap_or_default(),
                fetched_url: String::new(),
                outcome: PackageOutcome::Failed,
                http_status: None,
                sha256: None,
                note: None,
                problems: findings.download.iter().cloned().collect(),
            };
        };
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

    /// `chart version`, as the evidence names a package.
    fn label(&self) -> String {
        format!("{} {}", self.entry.metadata.name, self.entry.metadata.version)
    }
}

/// `package-download`: every package in scope downloads (an empty repository is not a
/// published one).
pub(super) fn download(_: &Run, indexed: &Indexed) -> Verdict {
    let results = &indexed.packages;
    let total = results.len();
    if total == 0 {
        return Verdict::new(Status::Fail, "the index names no package to download");
    }
    let download: Vec<String> =
        results.iter().filter_map(|r| r.findings.download.as_ref().map(|p| format!("{}: {p}", r.label()))).collect();
    let missing = results.iter().filter(|r| r.findings.missing).count();
    let failed = download.len();
    Verdict::from_problems(
        download,
        format!("all {total} package(s) downloaded anonymously"),
        format!("{failed} of {total} package(s) not downloadable ({missing} missing)"),
    )
}

/// `package-digest`: each downloaded package's sha256 is the index digest.
pub(super) fn digest(_: &Run, indexed: &Indexed) -> Verdict {
    let downloaded = downloaded(&indexed.packages);
    per_package(
        &indexed.packages,
        |findings| findings.digest.iter().cloned().collect(),
        format!("sha256 of all {downloaded} downloaded package(s) equals the index digest"),
        "differ from the index digest",
    )
}

/// `package-metadata`: each downloaded package's Chart.yaml is its index entry.
pub(super) fn metadata(_: &Run, indexed: &Indexed) -> Verdict {
    let downloaded = downloaded(&indexed.packages);
    per_package(
        &indexed.packages,
        |findings| findings.metadata.clone(),
        format!("Chart.yaml name, version and appVersion of all {downloaded} package(s) equal the index"),
        "disagree with the index",
    )
}

/// `package-provenance`: each downloaded package's `.prov` verifies with the keyring
/// (asked for: without one the check is skipped before it gets here).
pub(super) fn provenance(_: &Run, indexed: &Indexed) -> Verdict {
    let downloaded = downloaded(&indexed.packages);
    per_package(
        &indexed.packages,
        |findings| findings.provenance.clone().unwrap_or_default(),
        format!(
            "every one of the {downloaded} package(s) has a .prov signed by a key of the keyring, naming its file \
             and sha256"
        ),
        "have a missing or invalid .prov",
    )
}

/// How many packages were downloaded (whatever their content).
fn downloaded(results: &[PackageResult]) -> usize {
    results.iter().filter(|r| r.findings.download.is_none()).count()
}

/// A check over the downloaded packages: `select` picks each one's problems; not run
/// when none was downloaded.
pub(super) fn per_package(
    results: &[PackageResult],
    select: impl Fn(&Findings) -> Vec<String>,
    pass: String,
    what: &str,
) -> Verdict {
    let downloaded = downloaded(results);
    if downloaded == 0 {
        return Verdict::new(Status::NotRun, "no package was downloaded");
    }
    let mut problems = Vec::new();
    let mut bad = 0;
    for result in results.iter().filter(|r| r.findings.download.is_none()) {
        let found = select(&result.findings);
        if !found.is_empty() {
            bad += 1;
        }
        problems.extend(found.into_iter().map(|p| format!("{}: {p}", result.label())));
    }
    Verdict::from_problems(problems, pass, format!("{bad} of {downloaded} downloaded package(s) {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyOptions;
    use crate::verify::checks::evidence::Scope;
    use crate::verify::checks::fixtures::{entry, fetched, index};

    #[test]
    fn packages_are_judged_on_status_digest_and_headers() {
        let e = entry("a", "1.0.0", "x");
        let missing = evaluate_package(&e, Ok(fetched(404, &[], b"")));
        assert!(missing.missing && missing.download.is_some());
        let forbidden = evaluate_package(&e, Ok(fetched(403, &[], b"")));
        assert!(!forbidden.missing && forbidden.download.as_deref().unwrap().contains("403"));
        let unreachable = evaluate_package(&e, Err(anyhow::anyhow!("connection refused")));
        assert_eq!(unreachable.download.as_deref(), Some("connection refused"));

        let mut served =
            evaluate_package(&e, Ok(fetched(200, &[("content-type", "application/gzip")], b"not a chart")));
        assert_eq!(served.download, None);
        assert!(served.digest.as_deref().unwrap().contains("index digest abab"), "{served:?}");
        assert!(!served.metadata.is_empty(), "a non-chart must not pass Chart.yaml checks");
        assert!(served.headers.iter().any(|p| p.contains("Cache-Control")), "{served:?}");
        served.provenance = Some(vec!["a-1.0.0.tgz.prov is missing".into()]);

        let opts = VerifyOptions::default();
        let run = Run::new("https://charts.kube9.io", Scope::default(), &opts).unwrap();
        let result = |findings| PackageResult { entry: e.clone(), location: None, findings };
        let mut indexed = Indexed {
            packages: vec![result(missing.clone()), result(served)],
            ..crate::verify::checks::fixtures::indexed(&run, index(vec![e.clone()]))
        };
        let judges = [download, digest, metadata, crate::verify::checks::transport::package_headers, provenance];
        let status: Vec<Status> = judges.iter().map(|judge| judge(&run, &indexed).status).collect();
        assert_eq!(status, [Status::Fail; 5]);
        indexed.packages = vec![result(missing)];
        let status: Vec<Status> = judges.iter().map(|judge| judge(&run, &indexed).status).collect();
        assert_eq!(status, [Status::Fail, Status::NotRun, Status::NotRun, Status::NotRun, Status::NotRun]);
        indexed.packages.clear();
        assert_eq!(download(&run, &indexed).status, Status::Fail, "an empty repository is not a published one");
    }
}
