//! `cargo xtask serve`: see [`crate::verify::server`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use reqwest::Url;

use crate::commands::release_chart::DEFAULT_LOCAL_URL;
use crate::ctx::Ctx;
use crate::index::RepoIndex;
use crate::layout::{CachePolicy, INDEX_KEY};
use crate::verify::RepoUrl;
use crate::verify::server;

/// The long help (`--help`); `-h` shows the one-line summary of `cli.rs`.
pub const LONG_ABOUT: &str = "Serve a local repository folder (the output of `release-chart --local DIR`) over HTTP \
with the production headers: index.yaml short-lived (Cache-Control from charts/repository.toml, its defaults \
without one), packages `public, max-age=31536000, immutable` as application/gzip, a strong ETag (304 on \
If-None-Match), HEAD, HSTS and the other security headers. No directory listing, no hidden files, no path \
traversal. Ctrl-C stops it.\n\n\
Without --addr it listens where the index's package URLs point (a loopback http URL, as `release-chart --local \
--url` wrote them), else on 127.0.0.1:8879, the default of `release-chart --local`. When the index names packages \
under another URL than the one served, it warns, naming both: `helm pull` would fail.";

/// `cargo xtask serve` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  cargo xtask release-chart --local dist/repo --url http://127.0.0.1:8879\n  \
                  cargo xtask serve --dir dist/repo\n  helm repo add kube9 http://127.0.0.1:8879")]
pub struct Args {
    /// Repository folder to serve [default: dist/repo in the workspace]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port) [default: where the index's package
    /// URLs point when that is a loopback http URL, else 127.0.0.1:8879]
    #[arg(long)]
    pub addr: Option<SocketAddr>,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dir = match self.dir {
            Some(dir) => ctx.sh.current_dir().join(dir),
            None => crate::project::project_root().join("dist").join("repo"),
        };
        let policy = header_policy(ctx)?;
        let router = server::router(&dir, policy)?;
        let index = read_index(&dir);
        let addr = match (self.addr, &index) {
            (Some(addr), _) => addr,
            (None, Some(index)) => index_address(index).unwrap_or_else(default_addr),
            (None, None) => default_addr(),
        };
        let listener = server::bind(addr).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        if let Some(index) = &index
            && let Some(named) = foreign_package_base(index, addr)
        {
            tracing::warn!(
                "{} names its packages under {named}, but this server is http://{addr}: `helm pull` will fail; serve \
                 with `--addr` at that address, or rewrite the URLs with `cargo xtask reindex --local {} --url \
                 http://{addr}`",
                dir.join(INDEX_KEY).display(),
                dir.display()
            );
        }
        println!("Serving {} at http://{addr} (Ctrl-C to stop)", dir.display());
        println!("helm repo add kube9 http://{addr}");
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .with_context(|| format!("serving {} on {addr}", dir.display()))?;
        println!("stopped");
        Ok(())
    }
}

/// `DIR/index.yaml`, when there is one that parses (the server also serves a folder
/// without one, after a warning).
fn read_index(dir: &Path) -> Option<RepoIndex> {
    let path = dir.join(INDEX_KEY);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(_) => {
            tracing::warn!("{} has no index.yaml yet: Helm cannot add this repository", dir.display());
            return None;
        }
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
fn default_addr() -> SocketAddr {
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
fn index_address(index: &RepoIndex) -> Option<SocketAddr> {
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
fn foreign_package_base(index: &RepoIndex, addr: SocketAddr) -> Option<String> {
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

/// The cache lifetimes of `charts/repository.toml`; its defaults when there is no config
/// file (a config that exists but does not parse is still an error).
fn header_policy(ctx: &Ctx) -> Result<CachePolicy> {
    if ctx.config_path.exists() {
        Ok(CachePolicy::from_config(&ctx.config()?))
    } else {
        tracing::info!("no {}: using the default cache lifetimes", ctx.config_path.display());
        Ok(CachePolicy::default())
    }
}

/// Ctrl-C, or SIGTERM (what `kill` and CI runners send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
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
