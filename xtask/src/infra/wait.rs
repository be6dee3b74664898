//! Long waits: an SDK waiter behind a spinner, and a timeout message that says what
//! is still pending.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

/// Run `waiter` (an SDK `wait_until_*` call given `timeout`) with a spinner that names
/// `what`. On failure, `pending` describes the current state for the error message.
pub async fn wait_for<T, E, W, P>(what: &str, timeout: Duration, waiter: W, pending: P) -> Result<T>
where
    W: Future<Output = Result<T, E>>,
    P: AsyncFnOnce() -> String,
    E: std::error::Error + 'static,
{
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
    spinner.set_message(format!("waiting for {what}"));
    spinner.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let result = waiter.await;
    spinner.finish_and_clear();
    match result {
        Ok(value) => {
            tracing::info!("{what}: done after {:.0?}", started.elapsed());
            Ok(value)
        }
        Err(err) => {
            let state = pending().await;
            if started.elapsed() >= timeout {
                anyhow::bail!(
                    "timed out after {} s waiting for {what}; still pending: {state}; re-run `cargo xtask \
                     deploy-infra` with a longer --wait-timeout",
                    timeout.as_secs()
                )
            }
            anyhow::bail!("waiting for {what} failed: {}; current state: {state}", crate::aws::error::chain(&err))
        }
    }
}
