//! Long waits: AWS finishing something (a certificate ISSUED, a distribution Deployed, a
//! Route53 change INSYNC), polled under [`retry::aws_wait`] behind a spinner, and a
//! timeout that says what is still pending.
//!
//! The SDK's waiters (`wait_until_*`) are not used: they poll on a schedule of their own
//! (30–60 s doubling to minutes), outside the crate's one policy. The same read calls they
//! make are polled here.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::retry::{self, Attempt};

/// What one look at the resource found.
pub enum Poll<T> {
    Ready(T),
    /// Not yet: the state, as the spinner and a timeout show it.
    Pending(String),
}

/// Poll until ready, for at most `timeout`, with a spinner that names `what`. An error
/// from `poll` (a failed read, a state that will never become ready) ends the wait.
pub async fn wait_for<T, F>(what: &str, timeout: Duration, mut poll: impl FnMut() -> F) -> Result<T>
where
    F: Future<Output = Result<Poll<T>>>,
{
    let spinner = crate::logging::Spinner::new(format!("waiting for {what}"), Duration::from_millis(200));
    let started = Instant::now();
    let polled = retry::run(
        retry::aws_wait(timeout),
        |_| {
            let poll = poll();
            async move {
                match poll.await {
                    Ok(Poll::Ready(value)) => Attempt::Done(Ok(value)),
                    Ok(Poll::Pending(state)) => Attempt::Again(state),
                    Err(err) => Attempt::Done(Err(err)),
                }
            }
        },
        |state, _| spinner.set_message(format!("waiting for {what}: {state}")),
    )
    .await;
    drop(spinner);
    match polled {
        Ok(Ok(value)) => {
            tracing::info!("{what}: done after {:.0?}", started.elapsed());
            Ok(value)
        }
        Ok(Err(err)) => Err(anyhow!("waiting for {what} failed: {err:#}")),
        Err(gave_up) => bail!(
            "timed out after {} s waiting for {what}; still pending: {}; re-run `cargo xtask deploy-infra` with a \
             longer --wait-timeout",
            timeout.as_secs(),
            gave_up.last
        ),
    }
}
