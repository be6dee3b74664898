//! The kube9 operator's process shell: health endpoints, JSON logs and a clean shutdown.
//!
//! The operator's reconciliation logic is not part of this repository's release tooling;
//! what lives here is what the Helm chart relies on:
//! - `GET /healthz` answers `200 ok` while the process is alive (liveness probe);
//! - `GET /readyz` answers `200 ready` while the operator accepts work and `503` when
//!   [`Readiness`] says it does not (the hook for "caches not synced yet"; shutdown clears
//!   it too) (readiness probe);
//! - SIGTERM or SIGINT starts a graceful shutdown: in-flight requests finish, then the
//!   process exits with status 0.

// `unused_crate_dependencies` sees the package's dependencies from every target: these
// are the binary's (main.rs: command line, log setup) and the integration tests'.
use clap as _;
#[cfg(test)]
use serde_json as _;
use tracing_subscriber as _;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

/// The crate version: the single source of truth for the chart's `version` and `appVersion`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Shared readiness flag. Starts ready; [`Readiness::set_not_ready`] flips it on shutdown.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn new(ready: bool) -> Readiness {
        Readiness(Arc::new(AtomicBool::new(ready)))
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set_ready(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn set_not_ready(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The HTTP routes the chart's probes use.
pub fn router(readiness: Readiness) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(readiness)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.is_ready() { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "shutting down") }
}

/// A bound health server, not yet serving. Binding first lets callers (and tests using
/// port 0) learn the real address before serving starts.
pub struct HealthServer {
    listener: TcpListener,
    readiness: Readiness,
}

impl HealthServer {
    pub async fn bind(addr: SocketAddr, readiness: Readiness) -> Result<HealthServer> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for the health endpoints"))?;
        Ok(HealthServer { listener, readiness })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().context("cannot read the health server's bound address")
    }

    /// Serve until `shutdown` resolves. Readiness turns false as soon as shutdown
    /// begins; in-flight requests are allowed to finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let readiness = self.readiness.clone();
        let app = router(self.readiness);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                readiness.set_not_ready();
            })
            .await
            .context("health server failed")
    }
}

/// Resolves on the first SIGTERM (what the kubelet sends) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}
