//! Logging to stderr and the one place errors are reported.

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;

/// `-v` shows our debug logs, `-vv` our trace logs; AWS SDK internals stay at `warn`
/// unless `RUST_LOG` asks for more. The SDK redacts credentials in its own output.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn,xtask=info",
        1 => "warn,xtask=debug",
        _ => "warn,xtask=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: CI logs and captured test output stay plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}

/// Print an error once with its whole context chain. In GitHub Actions also emit an
/// `::error::` annotation so the failure shows on the run page.
pub fn report_error(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {err:#}");
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        let message = format!("{err:#}").replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
        let _ = writeln!(std::io::stdout(), "::error::{message}");
    }
}
