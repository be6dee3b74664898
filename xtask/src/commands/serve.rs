//! `cargo xtask serve`: see [`crate::verify::server`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::Ctx;
use crate::verify::policy::HeaderPolicy;
use crate::verify::server;

/// `cargo xtask serve` arguments.
#[derive(Debug, clap::Args)]
#[command(
    before_long_help = "Serve a local repository folder (the output of `release-chart --local DIR`) over HTTP with\n\
                  the production headers: index.yaml short-lived (Cache-Control from charts/repository.toml,\n\
                  its defaults without one), packages `public, max-age=31536000, immutable` as\n\
                  application/gzip, a strong ETag (304 on If-None-Match), HEAD, HSTS and the other security\n\
                  headers. No directory listing, no hidden files, no path traversal. Ctrl-C stops it.",
    after_help = "Example:\n  cargo xtask release-chart --local dist/repo --url http://127.0.0.1:8879\n  \
                  cargo xtask serve --dir dist/repo\n  helm repo add kube9 http://127.0.0.1:8879"
)]
pub struct Args {
    /// Repository folder to serve [default: dist/repo in the workspace]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:8879")]
    pub addr: SocketAddr,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dir = match self.dir {
            Some(dir) => ctx.sh.current_dir().join(dir),
            None => crate::project::project_root().join("dist").join("repo"),
        };
        let policy = header_policy(ctx)?;
        let router = server::router(&dir, policy)?;
        if !dir.join(crate::verify::policy::INDEX_FILE).is_file() {
            tracing::warn!("{} has no index.yaml yet: Helm cannot add this repository", dir.display());
        }
        let listener = server::bind(self.addr).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
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

/// The cache lifetimes of `charts/repository.toml`; its defaults when there is no config
/// file (a config that exists but does not parse is still an error).
fn header_policy(ctx: &Ctx) -> Result<HeaderPolicy> {
    if ctx.config_path.exists() {
        Ok(HeaderPolicy::from_config(&ctx.config()?))
    } else {
        tracing::info!("no {}: using the default cache lifetimes", ctx.config_path.display());
        Ok(HeaderPolicy::default())
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
