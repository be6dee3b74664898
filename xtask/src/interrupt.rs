//! Ctrl-C as a value. A command that stops because of SIGINT returns [`Interrupted`] up
//! the stack like any error; `entry.rs` prints it once and exits with [`EXIT_CODE`], so
//! nothing below `main` ends the process and what was started can be undone first.

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// 128 + SIGINT: what a shell reports for a process stopped by Ctrl-C.
pub const EXIT_CODE: u8 = 130;

/// The error of a command that Ctrl-C stopped; its text says what it stopped and what is
/// left to do.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Start listening for Ctrl-C. Listen once, before the first step that must not be cut
/// off, and keep the listener to the end: a listener made per step subscribes only when
/// first polled, so a press between two steps would be swallowed.
pub fn listen() -> Result<Signal> {
    signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C (SIGINT)")
}

/// Whether `err` (or any error in its chain) is [`Interrupted`].
pub fn caused(err: &anyhow::Error) -> bool {
    err.chain().any(<dyn std::error::Error>::is::<Interrupted>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interruption_is_found_under_context() {
        let err = anyhow::Error::new(Interrupted("interrupted (Ctrl-C)".into())).context("deploy-infra");
        assert!(caused(&err));
        assert!(!caused(&anyhow::anyhow!("interrupted (Ctrl-C)")), "by type, never by text");
    }
}
