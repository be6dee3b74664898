//! Where `cargo xtask serve` listens: the loopback address a local repository's index
//! points its packages at (as `release-chart --local --url` wrote them), else the
//! default of `release-chart --local`; and the package URLs it could not serve.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use reqwest::Url;

use super::RepoUrl;
use crate::index::RepoIndex;
use crate::layout::INDEX_KEY;
use crate::release::target::DEFAULT_LOCAL_URL;

/// Where to listen without `--addr`: where the index's packages point, else the default.
pub fn listen_address(index: Option<&RepoIndex>) -> SocketAddr {
    index.and_then(index_address).unwrap_or_else(default_addr)
}

/// `DIR/index.yaml`, when there is one that parses (the server also serves a folder
/// without one, after a warning).
pub fn read_index(dir: &Path) -> Option<RepoIndex> {
    let path = dir.join(INDEX_KEY);
    let Ok(bytes) = std::fs::read(&path) else {
        tracing::warn!("{} has no index.yaml yet: Helm cannot add this repository", dir.display());
        return None;
    };
    match RepoIndex::parse(&bytes) {
        Ok(index) => Some(index),
        Err(err) => {
            tracing::warn!("{} does not parse, Helm cannot use it: {err:#}", path.display());
            None
        }
    }
}

/// Where `release-chart --local` points its URLs by default: one constant for both.
pub fn default_addr() -> SocketAddr {
    Url::parse(DEFAULT_LOCAL_URL)
        .ok()
        .and_then(|url| Some(SocketAddr::new(url.host_str()?.parse().ok()?, url.port()?)))
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 8879)))
}

/// The absolute package URLs of the index (relative ones resolve against any server).
fn absolute_urls(index: &RepoIndex) -> impl Iterator<Item = Url> + '_ {
    index.entries.values().flatten().flat_map(|entry| entry.urls.iter()).filter_map(|url| Url::parse(url).ok())
}

/// The loopback address the index's packages are under, when they all sit at the root
/// of one `http://` loopback address: where `serve` must listen for them to work.
pub fn index_address(index: &RepoIndex) -> Option<SocketAddr> {
    let mut found: Option<SocketAddr> = None;
    for url in absolute_urls(index) {
        let host = url.host_str()?;
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.trim_start_matches('[').trim_end_matches(']').parse().ok()?
        };
        let at_root = url.path_segments().is_some_and(|segments| segments.count() == 1);
        if url.scheme() != "http" || !ip.is_loopback() || !at_root {
            return None;
        }
        let addr = SocketAddr::new(ip, url.port_or_known_default()?);
        if found.is_some_and(|seen| seen != addr) {
            return None;
        }
        found = Some(addr);
    }
    found
}

/// The base of the first package URL that does not lie under `http://{addr}` (so
/// `helm pull` would go elsewhere), as users would type it.
pub fn foreign_package_base(index: &RepoIndex, addr: SocketAddr) -> Option<String> {
    let served = RepoUrl::parse(&format!("http://{addr}")).ok()?;
    let any_host = addr.ip().is_unspecified();
    absolute_urls(index)
        .find(|url| {
            let same_port = url.port_or_known_default() == Some(addr.port()) && url.scheme() == "http";
            !(served.contains(url) || any_host && same_port)
        })
        .map(|mut url| {
            url.path_segments_mut()
                .map(|mut segments| {
                    segments.pop();
                })
                .ok();
            url.as_str().trim_end_matches('/').to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::IndexEntry;

    fn index(urls: &[&str]) -> RepoIndex {
        let mut index = RepoIndex::new();
        for (n, url) in urls.iter().enumerate() {
            let mut entry = IndexEntry::default();
            entry.metadata.name = "demo".into();
            entry.metadata.version = format!("1.{n}.0");
            entry.urls = vec![url.to_string()];
            index.entries.entry("demo".into()).or_default().push(entry);
        }
        index
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_address_is_where_release_chart_local_points() {
        assert_eq!(format!("http://{}", default_addr()), DEFAULT_LOCAL_URL);
    }

    #[test]
    fn serve_listens_where_the_index_points_when_that_is_a_loopback_root() {
        let local = index(&["http://127.0.0.1:18879/demo-1.0.0.tgz", "http://127.0.0.1:18879/demo-1.1.0.tgz"]);
        assert_eq!(index_address(&local), Some(addr("127.0.0.1:18879")));
        assert_eq!(index_address(&index(&["http://localhost/demo-1.0.0.tgz"])), Some(addr("127.0.0.1:80")));
        assert_eq!(index_address(&index(&["http://[::1]:9000/demo-1.0.0.tgz"])), Some(addr("[::1]:9000")));
        for elsewhere in [
            &["https://charts.kube9.io/demo-1.0.0.tgz"][..],
            &["http://10.0.0.1:8879/demo-1.0.0.tgz"],
            &["http://127.0.0.1:8879/sub/demo-1.0.0.tgz"],
            &["http://127.0.0.1:8879/demo-1.0.0.tgz", "http://127.0.0.1:8880/demo-1.1.0.tgz"],
            &["demo-1.0.0.tgz"],
        ] {
            assert_eq!(index_address(&index(elsewhere)), None, "{elsewhere:?}");
        }
    }

    #[test]
    fn a_package_url_under_another_address_is_named() {
        let released = index(&["http://127.0.0.1:8879/demo-1.0.0.tgz"]);
        assert_eq!(foreign_package_base(&released, addr("127.0.0.1:18879")).as_deref(), Some("http://127.0.0.1:8879"));
        assert_eq!(foreign_package_base(&released, addr("127.0.0.1:8879")), None);
        assert_eq!(foreign_package_base(&released, addr("0.0.0.0:8879")), None, "all interfaces include loopback");
        assert_eq!(foreign_package_base(&index(&["demo-1.0.0.tgz"]), addr("127.0.0.1:1")), None, "relative URLs");
        let public = index(&["https://charts.kube9.io/charts/demo-1.0.0.tgz"]);
        assert_eq!(
            foreign_package_base(&public, addr("127.0.0.1:8879")).as_deref(),
            Some("https://charts.kube9.io/charts")
        );
    }
}
