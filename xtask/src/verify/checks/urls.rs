//! The URL model: what URLs a repository has (its index, its root, a package the index
//! names, a package's `.prov`, the plain-http twin of the index, a file that does not
//! exist) and what a URL path stands for. The one owner of URL paths: `serve` decodes its
//! request paths with [`percent_decode`] too.

use anyhow::{Context, Result, bail};
use reqwest::Url;

use crate::index::RepoIndex;

/// The repository URL, normalised: `url` always ends with `/` so file names join under it.
#[derive(Debug, Clone)]
pub struct RepoUrl {
    url: Url,
}

impl RepoUrl {
    pub fn parse(text: &str) -> Result<RepoUrl> {
        let mut url = crate::layout::parse_repo_url(text).map_err(|err| anyhow::anyhow!("the repository URL {err}"))?;
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

/// `http://HOST/index.yaml` for the https index URL: the URL's port dropped, as a
/// browser's `http://` would, so port 80 is asked (`https-redirect`).
pub(in crate::verify) fn plain_http_twin(https_url: &Url) -> Url {
    let mut http_url = https_url.clone();
    let _ = http_url.set_scheme("http");
    let _ = http_url.set_port(None);
    http_url
}

/// A file name no repository holds, fresh per run (`missing-object`).
pub(in crate::verify) fn missing_object_url(repo: &RepoUrl) -> Result<Url> {
    repo.join(&format!("kube9-verify-missing-{:016x}.tgz", fastrand::u64(..)))
}

/// `PACKAGE_URL.prov`, where Helm looks for a package's provenance file.
pub(in crate::verify) fn prov_url(package_url: &Url) -> Result<Url> {
    Url::parse(&crate::layout::prov_key(package_url.as_str()))
        .map_err(|err| anyhow::anyhow!("no provenance URL for {package_url}: {err}"))
}

/// The file name the last path segment of `url` stands for (`%2B` is `+` in
/// `1.0.0+build`); a malformed escape is kept as it is.
pub(in crate::verify) fn file_name(url: &Url) -> String {
    let segment = url.path_segments().and_then(|mut segments| segments.next_back()).unwrap_or_default();
    let bytes = percent_decode(segment).unwrap_or_else(|malformed| malformed.lenient);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A `%` not followed by two hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::verify) struct MalformedEscape {
    /// The text decoded with every malformed escape kept as it is.
    pub lenient: Vec<u8>,
}

/// `text` (a URL path, or a segment of one) with its `%XX` escapes decoded. `Err` when
/// an escape is malformed, holding the lenient decoding for callers that can use it.
pub(in crate::verify) fn percent_decode(text: &str) -> Result<Vec<u8>, MalformedEscape> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut malformed = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1..i + 3) {
                Some(&[high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    out.push((hex_value(high) << 4) | hex_value(low));
                    i += 3;
                    continue;
                }
                _ => malformed = true,
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    if malformed { Err(MalformedEscape { lenient: out }) } else { Ok(out) }
}

/// The value of an ASCII hex digit.
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
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
/// resolves them against it), and every entry without one.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::checks::fixtures::{entry, index, repo};

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
    fn a_repository_has_these_urls() {
        let index = repo().join("index.yaml").unwrap();
        let twin = plain_http_twin(&Url::parse("https://127.0.0.2:8443/charts/index.yaml").unwrap());
        assert_eq!(twin.as_str(), "http://127.0.0.2/charts/index.yaml");
        assert_eq!(plain_http_twin(&index).as_str(), "http://charts.kube9.io/index.yaml");
        let missing = missing_object_url(&repo()).unwrap();
        assert!(missing.as_str().starts_with("https://charts.kube9.io/kube9-verify-missing-"), "{missing}");
        assert_ne!(missing, missing_object_url(&repo()).unwrap(), "a fresh name per run");
        let package = Url::parse("https://charts.kube9.io/a-1.0.0%2Bbuild.1.tgz").unwrap();
        assert_eq!(prov_url(&package).unwrap().as_str(), "https://charts.kube9.io/a-1.0.0%2Bbuild.1.tgz.prov");
        assert_eq!(file_name(&package), "a-1.0.0+build.1.tgz");
        assert_eq!(file_name(&Url::parse("https://x.io/a%zz%2B.tgz").unwrap()), "a%zz+.tgz", "kept as it is");
    }

    #[test]
    fn percent_escapes_decode_and_malformed_ones_are_named() {
        assert_eq!(percent_decode("a%2Bb%2fc%41"), Ok(b"a+b/cA".to_vec()));
        assert_eq!(percent_decode("%e2%82%ac"), Ok("€".as_bytes().to_vec()));
        assert_eq!(percent_decode("%ff"), Ok(vec![0xff]), "bytes, not text: the caller decides");
        for (malformed, lenient) in [("%zz", "%zz"), ("%2", "%2"), ("a%", "a%"), ("%+1", "%+1"), ("%2B%g0", "+%g0")] {
            assert_eq!(percent_decode(malformed), Err(MalformedEscape { lenient: lenient.into() }), "{malformed}");
        }
        assert_eq!(percent_decode("%€"), Err(MalformedEscape { lenient: "%€".into() }), "not split inside a char");
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
}
