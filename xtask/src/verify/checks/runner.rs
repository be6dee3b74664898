//! The runner: every network request of a verification happens here, in [`gather`]
//! (the index, then the packages, the landing page and `yanked.json` when it parses, the plain-http
//! redirect, a missing file); then [`verdicts`] walks [`CHECKS`] over what was obtained.
//! Nothing answering stops the requests after the first one: the cause is reported once.

use std::sync::Arc;

use anyhow::Result;
use reqwest::StatusCode;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::evidence::{Answered, Evidence, IndexAnswer, IndexFile, Indexed, NoAnswer, Run, Scope};
use super::packages::{Findings, PackageResult, evaluate_package, evaluate_provenance};
use super::urls::{file_name, missing_object_url, package_location, plain_http_twin, prov_url};
use super::{CHECKS, index, names, registry, transport, yanked};
use crate::index::{IndexEntry, RepoIndex};
use crate::layout::YANKED_KEY;
use crate::verify::VerifyOptions;
use crate::verify::client::{AnonymousClient, TlsFailure, Unreachable};
use crate::verify::report::{Check, Report};

/// Run every check against the repository at `url`. A plain http URL without
/// `--allow-http` is refused before any request: the report holds `https` alone.
pub(in crate::verify) async fn run(url: &str, scope: Scope, opts: &VerifyOptions) -> Result<Report> {
    let run = Run::new(url, scope, opts)?;
    if !run.repo.is_https() && !opts.allow_http {
        let https = transport::scheme_verdict(&run, None).named(names::HTTPS);
        return Ok(Report::new(run.repo.as_str(), vec![https], Vec::new(), Vec::new()));
    }
    let client = AnonymousClient::new()?;
    let evidence = gather(&client, &run).await?;
    Ok(report(&run, &evidence))
}

/// The report: every check that applies to the scope, in the table's order, with what
/// `helm search` shows and every package's fate.
fn report(run: &Run, evidence: &Evidence) -> Report {
    let (charts, packages) = match evidence.indexed() {
        Ok(indexed) => (indexed.charts.clone(), indexed.packages.iter().map(PackageResult::report).collect()),
        Err(_) => (Vec::new(), Vec::new()),
    };
    Report::new(run.repo.as_str(), verdicts(run, evidence), charts, packages)
}

/// Walk the table: each check that applies to the scope, judged on the evidence.
fn verdicts(run: &Run, evidence: &Evidence) -> Vec<Check> {
    CHECKS
        .iter()
        .filter(|spec| spec.applies.to(&run.scope))
        .map(|spec| spec.verdict(run, evidence).named(spec.name))
        .collect()
}

/// Every request of the run, in order; `Err` only for a URL that cannot be built.
async fn gather(client: &AnonymousClient, run: &Run<'_>) -> Result<Evidence> {
    let index = match client.get(&run.index_url).await {
        Ok(fetched) if fetched.status == StatusCode::OK => {
            let parsed = match fetched.decoded_body().and_then(|body| RepoIndex::parse(&body)) {
                Ok(index) => Ok(Box::new(indexed(client, run, index).await?)),
                Err(err) => Err(err),
            };
            IndexAnswer::File(IndexFile { fetched, parsed })
        }
        Ok(fetched) => IndexAnswer::Status(fetched),
        Err(err) => {
            if let Some(cause) = err.downcast_ref::<Unreachable>() {
                return Ok(Evidence::NoAnswer(NoAnswer::Unreachable(cause.clone())));
            }
            if let Some(failure) = err.downcast_ref::<TlsFailure>() {
                return Ok(Evidence::NoAnswer(NoAnswer::Tls(failure.clone())));
            }
            IndexAnswer::Failed(format!("{err:#}"))
        }
    };
    let redirect = if run.repo.is_https() {
        let http_url = plain_http_twin(&run.index_url);
        let answer = client.get_once(&http_url).await;
        Some((http_url, answer))
    } else {
        None
    };
    let missing_url = missing_object_url(&run.repo)?;
    let answer = client.get(&missing_url).await.map(|fetched| fetched.status);
    Ok(Evidence::Answered(Box::new(Answered { index, redirect, missing_object: (missing_url, answer) })))
}

/// What a parsed index leads to: the packages in scope, then the landing page.
async fn indexed(client: &AnonymousClient, run: &Run<'_>, index: RepoIndex) -> Result<Indexed> {
    let charts = index::summaries(&index, &run.scope);
    let packages = download_packages(client, run, &index).await;
    let registry = registry::gather(run, &packages).await;
    let root = run.repo.join("")?;
    let landing = client.get(&root).await;
    let yanked_url = run.repo.join(YANKED_KEY)?;
    let yanked = yanked::yanked_file(client.get(&yanked_url).await);
    Ok(Indexed { index, charts, packages, landing: (root, landing), yanked: (yanked_url, yanked), registry })
}

/// Download every package in scope, at most `opts.parallelism` at a time, with a
/// progress bar; results in index order.
async fn download_packages(client: &AnonymousClient, run: &Run<'_>, index: &RepoIndex) -> Vec<PackageResult> {
    let (repo, scope, opts) = (&run.repo, &run.scope, run.opts);
    let entries: Vec<IndexEntry> = index
        .entries
        .iter()
        .flat_map(|(chart, entries)| entries.iter().filter(move |e| scope.includes(chart, &e.metadata.version)))
        .cloned()
        .collect();
    let progress = crate::logging::Progress::new(entries.len() as u64, "downloading packages", opts.progress);
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
                tasks.spawn(async move { (position, PackageResult { entry, location: None, findings }) });
                continue;
            }
        };
        let client = client.clone();
        let permits = permits.clone();
        let progress = progress.clone();
        let keyring = opts.keyring.clone();
        let check_images = opts.check_images;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            progress.set_item(format!("{} {}", entry.metadata.name, entry.metadata.version));
            let fetched = client.get(&location.url).await;
            let body = fetched.as_ref().ok().filter(|f| f.status == StatusCode::OK).map(|f| f.body.clone());
            let mut findings = evaluate_package(&entry, fetched);
            if let (true, Some(body)) = (check_images, &body) {
                findings.image = Some(crate::chart::image::default_image(body).map_err(|err| format!("{err:#}")));
            }
            if let (Some(keyring), Some(body)) = (keyring, body) {
                let prov = match prov_url(&location.url) {
                    Ok(url) => client.get(&url).await,
                    Err(err) => Err(err),
                };
                let file_name = file_name(&location.url);
                findings.provenance = Some(evaluate_provenance(&keyring, &entry, &file_name, &body, prov));
            }
            progress.inc();
            (position, PackageResult { entry, location: Some(location), findings })
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(err) => tracing::error!("a package download task failed: {err}"),
        }
    }
    progress.finish();
    results.sort_by_key(|(position, _)| *position);
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::checks::fixtures::fetched;
    use crate::verify::report::Status;

    /// An answer where `index.yaml` did not come (`status`), the redirect went to https
    /// and a missing file answered 404.
    fn without_index(run: &Run, status: u16) -> Evidence {
        let redirect = fetched(301, &[("location", "https://charts.kube9.io/index.yaml")], b"");
        let missing = missing_object_url(&run.repo).unwrap();
        Evidence::Answered(Box::new(Answered {
            index: IndexAnswer::Status(fetched(status, &[], b"")),
            redirect: Some((plain_http_twin(&run.index_url), Ok(redirect))),
            missing_object: (missing, Ok(StatusCode::NOT_FOUND)),
        }))
    }

    fn statuses(checks: &[Check]) -> Vec<(&str, Status)> {
        checks.iter().map(|check| (check.name.as_str(), check.status)).collect()
    }

    #[test]
    fn an_untrusted_certificate_fails_https_once_and_nothing_else_runs() {
        let failure = TlsFailure {
            address: "charts.kube9.io:443".into(),
            cause: "invalid peer certificate: UnknownIssuer".into(),
            certificate: true,
        };
        let opts = VerifyOptions::default();
        let scope = Scope { chart: Some("a".into()), version: Some("1.0.0".into()) };
        let run = Run::new("https://charts.kube9.io", scope, &opts).unwrap();
        let report = report(&run, &Evidence::NoAnswer(NoAnswer::Tls(failure.clone())));
        let https = report.check(names::HTTPS).unwrap();
        assert_eq!(https.status, Status::Fail);
        assert!(https.summary.contains("is not trusted: invalid peer certificate: UnknownIssuer"), "{https:?}");
        assert!(https.summary.contains("SSL_CERT_FILE"), "the hint names what is trusted: {https:?}");
        assert_eq!(report.failures().len(), 1, "{report:?}");
        // Every other check is not run; provenance is skipped anyway (no keyring asked for).
        assert_eq!(report.checks.len(), 23, "every check but chart-present (a release scope): {report:?}");
        let asked_for = [names::PACKAGE_PROVENANCE, names::OCI, names::IMAGE];
        for name in asked_for {
            assert_eq!(report.check(name).unwrap().status, Status::Skip, "{name}: not asked for");
        }
        let mut others =
            report.checks.iter().filter(|c| c.name != names::HTTPS && !asked_for.contains(&c.name.as_str()));
        assert!(others.all(|c| c.status == Status::NotRun), "{report:?}");
        assert!(report.check(names::RELEASE_PRESENT).is_some());
        assert_eq!(report.render_text().matches("UnknownIssuer").count(), 1, "{}", report.render_text());

        // Plain http that redirects to an untrusted https: the cause goes to index-download.
        let opts = VerifyOptions { allow_http: true, ..VerifyOptions::default() };
        let run = Run::new("http://127.0.0.1:8879", Scope::default(), &opts).unwrap();
        let report = super::report(&run, &Evidence::NoAnswer(NoAnswer::Tls(failure)));
        assert_eq!(report.check(names::HTTPS).unwrap().status, Status::Skip);
        assert_eq!(report.check(names::INDEX_DOWNLOAD).unwrap().status, Status::Fail);
        assert_eq!(report.check(names::HTTPS_REDIRECT).unwrap().status, Status::Skip);
        assert_eq!(report.render_text().matches("UnknownIssuer").count(), 1);
    }

    #[test]
    fn without_an_index_every_check_that_needs_one_is_not_run() {
        use Status::{Fail, NotRun, Pass, Skip};
        let opts = VerifyOptions { chart: Some("a".into()), ..VerifyOptions::default() };
        let scope = Scope { chart: Some("a".into()), version: None };
        let run = Run::new("https://charts.kube9.io", scope, &opts).unwrap();
        let report = report(&run, &without_index(&run, 403));
        assert_eq!(
            statuses(&report.checks),
            [
                ("https", Pass),
                ("index-download", Fail),
                ("index-parse", NotRun),
                ("semver", NotRun),
                ("version-order", NotRun),
                ("search", NotRun),
                ("yanked", NotRun),
                ("chart-present", NotRun),
                ("url-consistency", NotRun),
                ("chart-sources", NotRun),
                ("package-download", NotRun),
                ("package-digest", NotRun),
                ("package-metadata", NotRun),
                ("package-headers", NotRun),
                ("package-provenance", Skip),
                ("oci", Skip),
                ("image", Skip),
                ("index-headers", NotRun),
                ("https-redirect", Pass),
                ("hsts", NotRun),
                ("cdn", NotRun),
                ("landing-page", NotRun),
                ("missing-object", Pass),
            ]
        );
        assert_eq!(
            report.check(names::INDEX_DOWNLOAD).unwrap().summary,
            format!("GET {} answered 403 Forbidden", run.index_url)
        );
        assert_eq!(report.check(names::INDEX_PARSE).unwrap().summary, "index.yaml was not downloaded");
        assert_eq!(report.check(names::SEMVER).unwrap().summary, "no index to check");
        assert_eq!(report.check(names::CDN).unwrap().summary, "no response to look at");
        assert!(report.charts.is_empty() && report.packages.is_empty());
        assert!(!report.passed);
    }

    #[test]
    fn the_report_follows_the_table_and_the_scope() {
        let opts = VerifyOptions { allow_http: true, ..VerifyOptions::default() };
        let unreachable = Unreachable { address: "127.0.0.1:9".into(), cause: "Connection refused".into() };
        let evidence = Evidence::NoAnswer(NoAnswer::Unreachable(unreachable));
        for (scope, present) in [
            (Scope::default(), None),
            (Scope { chart: Some("a".into()), version: None }, Some(names::CHART_PRESENT)),
            (Scope { chart: Some("a".into()), version: Some("1.0.0".into()) }, Some(names::RELEASE_PRESENT)),
        ] {
            let run = Run::new("http://127.0.0.1:9", scope, &opts).unwrap();
            let names: Vec<String> = verdicts(&run, &evidence).into_iter().map(|check| check.name).collect();
            let expected: Vec<&str> = CHECKS
                .iter()
                .map(|spec| spec.name)
                .filter(|name| ![names::CHART_PRESENT, names::RELEASE_PRESENT].contains(name) || Some(*name) == present)
                .collect();
            assert_eq!(names, expected);
        }
    }
}
