//! `kube9-operator`: the kube9 Kubernetes operator process.
//!
//! Serves `/healthz` and `/readyz`, logs JSON lines to stdout, and exits 0 after a
//! graceful shutdown on SIGTERM/SIGINT.

#![expect(
    unused_crate_dependencies,
    reason = "the binary links every dependency of its package; the library uses them"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use kube9_operator::{HealthServer, Readiness, VERSION, shutdown_signal};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "kube9-operator", version, about = "The kube9 Kubernetes operator")]
struct Args {
    /// Port of the health endpoints (/healthz, /readyz); 0 picks a free port
    #[arg(long, env = "KUBE9_PORT", default_value_t = 8080)]
    port: u16,

    /// Address to listen on
    #[arg(long, env = "KUBE9_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    bind_address: IpAddr,

    /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive list
    #[arg(long, env = "KUBE9_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(err) = init_logging(&args.log_level) {
        eprintln!("error: {err:#}");
        return ExitCode::FAILURE;
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "operator failed");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) -> Result<()> {
    let filter = EnvFilter::try_new(filter).with_context(|| format!("invalid --log-level `{filter}`"))?;
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init()
        .map_err(|err| anyhow::anyhow!("cannot install the logger: {err}"))
}

async fn run(args: Args) -> Result<()> {
    let readiness = Readiness::new(true);
    let server = HealthServer::bind(SocketAddr::new(args.bind_address, args.port), readiness).await?;
    let addr = server.local_addr()?;
    tracing::info!(version = VERSION, addr = %addr, "listening");
    server.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
