//! How the repository is served: https and a trusted certificate, the redirect from
//! plain http, HSTS, the headers of the index and the packages (cache policy, content
//! types, no compression of a `.tgz`), the CDN in front, and 404 for what is missing.
//! Also the hints for a repository that does not answer.

use anyhow::Result;
use reqwest::header::{HeaderMap, LOCATION, STRICT_TRANSPORT_SECURITY};
use reqwest::{StatusCode, Url};

use super::Verdict;
use super::evidence::{Answered, Evidence, IndexAnswer, IndexFile, Indexed, NoAnswer, Run};
use super::packages::per_package;
use super::urls::RepoUrl;
use crate::layout::INDEX_KEY;
use crate::verify::client::{Fetched, TlsFailure};
use crate::verify::policy;
use crate::verify::report::Status;

/// `https`: an https URL passes only once a TLS connection to it succeeded (the index
/// answered, whatever its status); a failed handshake is said here, once.
pub(super) fn https(run: &Run, evidence: &Evidence) -> Verdict {
    match evidence {
        Evidence::NoAnswer(NoAnswer::Tls(failure)) if run.repo.is_https() => {
            Verdict::new(Status::Fail, format!("{failure}; {}", tls_hint(failure)))
        }
        Evidence::NoAnswer(why) => scheme_verdict(run, Some(why.reason())),
        Evidence::Answered(answered) => {
            let failed = matches!(answered.index, IndexAnswer::Failed(_));
            scheme_verdict(run, failed.then_some("no https answer: see index-download"))
        }
    }
}

/// `https` from the URL's scheme: `not_answered` says why no TLS connection was seen.
/// A plain http URL without `--allow-http` fails (the run then stops: see the runner).
pub(super) fn scheme_verdict(run: &Run, not_answered: Option<&str>) -> Verdict {
    let repo = run.repo.as_str();
    match (run.repo.is_https(), not_answered) {
        (true, None) => Verdict::new(Status::Pass, format!("{repo} answered over https with a valid certificate")),
        (true, Some(reason)) => Verdict::new(Status::NotRun, reason),
        (false, _) if run.opts.allow_http => {
            Verdict::new(Status::Skip, format!("{repo} is plain http, allowed by --allow-http"))
        }
        (false, _) => Verdict::new(
            Status::Fail,
            format!("{repo} is plain http: users need https (pass --allow-http for a local repository)"),
        ),
    }
}

/// What to do when nothing answers at the repository URL.
pub(super) fn unreachable_hint(repo: &RepoUrl) -> &'static str {
    if repo.is_loopback() {
        "is `cargo xtask serve` running? (`cargo xtask serve --dir DIR --addr HOST:PORT` serves a local repository)"
    } else {
        "check the URL and your network (DNS, proxy, firewall); the production repository's DNS records come from \
         `cargo xtask deploy-infra`"
    }
}

/// What to do about a TLS failure.
pub(super) fn tls_hint(failure: &TlsFailure) -> &'static str {
    if failure.certificate {
        "the certificate must chain to a CA this client trusts: the system's CAs (as for Helm without --ca-file), \
         or exactly those in SSL_CERT_FILE / SSL_CERT_DIR when set"
    } else {
        "check the server's TLS setup (protocol versions, cipher suites, certificate chain): this client speaks TLS \
         1.2 and 1.3"
    }
}

/// `https-redirect`: `GET http://HOST/index.yaml` (port 80, not followed) redirects to
/// https on the same host.
pub(super) fn https_redirect(run: &Run, answered: &Answered) -> Verdict {
    match &answered.redirect {
        None => Verdict::new(Status::Skip, "the URL is plain http (--allow-http)"),
        Some((http_url, Ok(fetched))) => Verdict::from_problems(
            redirect_problems(fetched, &run.index_url),
            format!("{http_url} answered {} to {}", fetched.status, fetched.header("location").unwrap_or("")),
            "plain http does not redirect to https",
        ),
        Some((_, Err(err))) => Verdict::new(Status::Fail, format!("plain http is not answered: {err:#}")),
    }
}

/// The verdict on `GET http://HOST/index.yaml` (redirects not followed).
fn redirect_problems(fetched: &Fetched, https_index: &Url) -> Vec<String> {
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

/// `hsts`: `Strict-Transport-Security` with a positive `max-age` on `index.yaml`.
pub(super) fn hsts(_: &Run, file: &IndexFile) -> Verdict {
    match file.fetched.header(STRICT_TRANSPORT_SECURITY.as_str()) {
        Some(value) if policy::hsts_max_age(value).is_some_and(|age| age > 0) => {
            Verdict::new(Status::Pass, format!("Strict-Transport-Security: {value}"))
        }
        Some(value) => {
            Verdict::new(Status::Fail, format!("Strict-Transport-Security {value:?} has no positive max-age"))
        }
        None => Verdict::new(Status::Fail, "no Strict-Transport-Security header on index.yaml"),
    }
}

/// `index-headers`: the index is short-lived and YAML.
pub(super) fn index_headers(_: &Run, file: &IndexFile) -> Verdict {
    let fetched = &file.fetched;
    Verdict::from_problems(
        policy::index_header_problems(&fetched.headers),
        format!(
            "index.yaml: Cache-Control {:?}, Content-Type {:?}",
            fetched.header("cache-control").unwrap_or(""),
            fetched.header("content-type").unwrap_or("")
        ),
        "index.yaml is served with the wrong headers",
    )
}

/// `package-headers`: every downloaded package is immutable gzip, never compressed again.
pub(super) fn package_headers(_: &Run, indexed: &Indexed) -> Verdict {
    per_package(
        &indexed.packages,
        |findings| findings.headers.clone(),
        "packages are served immutable (long max-age), as application/gzip, without Content-Encoding".to_string(),
        "have wrong headers",
    )
}

/// CDN evidence headers, informational.
const CDN_HEADERS: [&str; 7] =
    ["x-cache", "via", "x-amz-cf-pop", "x-amz-cf-id", "age", "cf-cache-status", "x-served-by"];

/// `cdn`: the CDN headers on the index and the first package downloaded (INFO).
pub(super) fn cdn(_: &Run, answered: &Answered) -> Verdict {
    let mut responses: Vec<(&str, &HeaderMap)> = Vec::new();
    if let IndexAnswer::File(file) = &answered.index {
        responses.push((INDEX_KEY, &file.fetched.headers));
        let packages = file.parsed.as_ref().map(|indexed| indexed.packages.as_slice()).unwrap_or_default();
        if let Some(headers) = packages.iter().find_map(|package| package.findings.response_headers.as_ref()) {
            responses.push(("package", headers));
        }
    }
    cdn_verdict(&responses)
}

fn cdn_verdict(responses: &[(&str, &HeaderMap)]) -> Verdict {
    let mut evidence = Vec::new();
    for (what, headers) in responses {
        for name in CDN_HEADERS {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                evidence.push(format!("{what}: {name}: {value}"));
            }
        }
    }
    if responses.is_empty() {
        return Verdict::new(Status::NotRun, "no response to look at");
    }
    let summary = if evidence.is_empty() {
        "no CDN headers (x-cache, via, x-amz-cf-pop): served straight from the origin".to_string()
    } else {
        "served through a CDN".to_string()
    };
    Verdict::new(Status::Info, summary).with_evidence(evidence)
}

/// `missing-object`: a file that does not exist answers 404.
pub(super) fn missing_object(_: &Run, answered: &Answered) -> Verdict {
    let (url, answer) = &answered.missing_object;
    missing_object_verdict(url, answer.as_ref().copied())
}

/// The verdict on `GET` of an object that does not exist.
fn missing_object_verdict(url: &Url, answer: Result<StatusCode, &anyhow::Error>) -> Verdict {
    match answer {
        Ok(StatusCode::NOT_FOUND) => Verdict::new(Status::Pass, format!("{url} answered 404 Not Found")),
        Ok(StatusCode::FORBIDDEN) => Verdict::new(Status::Fail, format!("{url} answered 403 Forbidden, not 404"))
            .with_evidence(vec![
                "the origin hides missing keys behind AccessDenied: grant the distribution s3:ListBucket so a \
                 missing chart reads as 404 (run `cargo xtask deploy-infra`)"
                    .to_string(),
            ]),
        Ok(status) => Verdict::new(Status::Fail, format!("{url} answered {status}, not 404 Not Found")),
        Err(err) => Verdict::new(Status::Fail, format!("{url}: {err:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::checks::fixtures::fetched;

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
    fn a_missing_object_must_answer_404() {
        let url = Url::parse("https://charts.kube9.io/nope.tgz").unwrap();
        assert_eq!(missing_object_verdict(&url, Ok(StatusCode::NOT_FOUND)).status, Status::Pass);
        let forbidden = missing_object_verdict(&url, Ok(StatusCode::FORBIDDEN));
        assert_eq!(forbidden.status, Status::Fail);
        assert!(forbidden.evidence[0].contains("s3:ListBucket"));
        assert_eq!(missing_object_verdict(&url, Ok(StatusCode::OK)).status, Status::Fail);
        assert_eq!(missing_object_verdict(&url, Err(&anyhow::anyhow!("refused"))).status, Status::Fail);
    }

    #[test]
    fn cdn_headers_are_evidence_and_no_response_is_not_a_verdict() {
        let through = fetched(200, &[("x-cache", "Hit from cloudfront"), ("via", "1.1 abc.cloudfront.net")], b"");
        let verdict = cdn_verdict(&[(INDEX_KEY, &through.headers)]);
        assert_eq!((verdict.status, verdict.summary.as_str()), (Status::Info, "served through a CDN"));
        assert_eq!(
            verdict.evidence,
            ["index.yaml: x-cache: Hit from cloudfront", "index.yaml: via: 1.1 abc.cloudfront.net"]
        );
        let origin = fetched(200, &[], b"");
        assert!(cdn_verdict(&[(INDEX_KEY, &origin.headers)]).summary.contains("straight from the origin"));
        assert_eq!(cdn_verdict(&[]).status, Status::NotRun);
    }
}
