//! `cargo xtask serve`: see [`crate::verify::server`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::config::CachePolicy;
use crate::ctx::Ctx;
use crate::layout::INDEX_KEY;
use crate::verify::{address, server};

/// The long help (`--help`); `-h` shows the one-line summary of `cli.rs`.
pub const LONG_ABOUT: &str = "Serve a local repository folder (the output of `release-chart --local DIR`) over HTTP \
with the production headers: index.yaml short-lived (Cache-Control from charts/repository.toml, its defaults \
without one), packages `public, max-age=31536000, immutable` as application/gzip, a strong ETag (304 on \
If-None-Match), HEAD, HSTS and the other security headers; `/` answers with the landing page index.html. 404 for \
anything missing; no directory listing, no hidden files, no path traversal. Prints the `helm repo add` line to \
use; Ctrl-C stops it.\n\n\
Without --addr it listens where the index's package URLs point (a loopback http URL, as `release-chart --local \
--url` wrote them), else on 127.0.0.1:8879, the default of `release-chart --local`. When the index names packages \
under another URL than the one served, it warns, naming both: `helm pull` would fail.";

/// `--help` examples.
pub const EXAMPLES: &str = "Example:\
\n  $ cargo xtask release-chart --local dist/repo\
\n  $ cargo xtask serve --dir dist/repo\
\n  $ helm repo add kube9 http://127.0.0.1:8879";

/// `cargo xtask serve` arguments.
#[derive(Debug, clap::Args)]
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
        let index = address::read_index(&dir);
        let addr = self.addr.unwrap_or_else(|| address::listen_address(index.as_ref()));
        let listener = server::bind(addr).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        if let Some(index) = &index
            && let Some(named) = address::foreign_package_base(index, addr)
        {
            tracing::warn!(
                "{} names its packages under {named}, but this server is http://{addr}: `helm pull` will fail; serve \
                 with `--addr` at that address, or rewrite the URLs with `cargo xtask reindex --local {} --url \
                 http://{addr}`",
                dir.join(INDEX_KEY).display(),
                dir.display()
            );
        }
        crate::outln!("Serving {} at http://{addr} (Ctrl-C to stop)", dir.display());
        crate::outln!("helm repo add kube9 http://{addr}");
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .with_context(|| format!("serving {} on {addr}", dir.display()))?;
        crate::outln!("stopped");
        Ok(())
    }
}

/// The cache lifetimes of `charts/repository.toml`; its defaults when there is no config
/// file (a config that exists but does not parse is still an error).
fn header_policy(ctx: &Ctx) -> Result<CachePolicy> {
    match ctx.optional_config()? {
        Some(config) => Ok(CachePolicy::from_config(&config)),
        None => {
            tracing::info!("no {}: using the default cache lifetimes", ctx.config_path.display());
            Ok(CachePolicy::default())
        }
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
