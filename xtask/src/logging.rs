//! The one place that decides how a command talks to the user; nothing else prints (a
//! tidy test holds every other file to it):
//!
//! - **results**, what a command produces (a report, a plan, a summary, `KEY=PATH` lines),
//!   go to stdout: [`outln!`](crate::outln) and [`out!`](crate::out), which drop the rest
//!   instead of panicking when the reader has gone;
//! - **progress** of a long run and **warnings** go to stderr: `tracing::info!` /
//!   `tracing::warn!` lines through [`init`]'s subscriber (redacted), and [`Spinner`] /
//!   [`Progress`] for waits and counts, drawn only on a terminal;
//! - **errors** go to stderr once, with their whole context: [`report_error`];
//! - `--output json`, where a command has it, is a result like any other (stdout).

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;

/// `-v` shows our debug logs, `-vv` our trace logs; AWS SDK internals stay at `warn`
/// unless `RUST_LOG` asks for more. The SDK redacts credentials in its own output.
///
/// By default `aws_config` says only errors: its credential chain WARNs with a `Debug`
/// dump of a failing provider's HTTP response, and the one credentials error
/// ([`crate::aws::credentials`]) already says what is wrong; `-v` shows the dump again. Nor does
/// `rustls_platform_verifier`, which logs every certificate it refuses at ERROR: the
/// request's error (`verify-repo`'s `https` check) says it once.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn,aws_config=error,rustls_platform_verifier=off,xtask=info",
        1 => "warn,xtask=debug",
        _ => "warn,xtask=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingWriter(std::io::stderr()))
        // Colour only on a terminal: CI logs and captured test output stay plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}

/// What `println!` does for every command's standard output, minus its panic when the
/// reader has gone (`cargo xtask iam-policy | head`, a closed CI log pipe): the rest of
/// the output is dropped and the command carries on, so a release whose progress lines
/// nobody reads still finishes. Use it through [`outln!`](crate::outln).
pub fn print_line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(err) => tracing::warn!("cannot write to standard output: {err}"),
    }
}

/// [`print_line`] without the line break: text that ends with its own.
pub fn print_text(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(args).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(err) => tracing::warn!("cannot write to standard output: {err}"),
    }
}

/// `println!` without the panic on a closed pipe ([`logging::print_line`](crate::logging::print_line)).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::logging::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::logging::print_line(format_args!($($arg)*))
    };
}

/// `print!` without the panic on a closed pipe ([`logging::print_text`](crate::logging::print_text)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::logging::print_text(format_args!($($arg)*))
    };
}

/// One line straight to stderr, past the test harness's capture of `eprintln!` and past
/// the log filter: for what must be seen even from a passing test (a skipped check).
pub fn notice(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", redact(line));
}

/// A wait shown on stderr as a spinner with its message and the elapsed time; drawn only
/// on a terminal (CI logs get the `tracing` line that follows the wait). Cleared on drop.
#[derive(Debug)]
pub struct Spinner(indicatif::ProgressBar);

impl Spinner {
    pub fn new(message: String, tick: std::time::Duration) -> Spinner {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
        bar.set_message(message);
        bar.enable_steady_tick(tick);
        Spinner(bar)
    }
}

impl Spinner {
    /// What is being waited for, now.
    pub fn set_message(&self, message: String) {
        self.0.set_message(message);
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A count of `len` items (`what`: e.g. "downloading packages") shown on stderr as a bar
/// with the current item; hidden when `shown` is false or stderr is no terminal.
#[derive(Debug, Clone)]
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    pub fn new(len: u64, what: &str, shown: bool) -> Progress {
        let bar = if shown { indicatif::ProgressBar::new(len) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} {{wide_msg}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress(bar)
    }

    /// The item being worked on.
    pub fn set_item(&self, item: String) {
        self.0.set_message(item);
    }

    /// One more item done.
    pub fn inc(&self) {
        self.0.inc(1);
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Print an error once with its whole context chain. In GitHub Actions also emit an
/// `::error::` annotation so the failure shows on the run page.
pub fn report_error(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let message = redact(&format!("{err:#}"));
    let _ = writeln!(stderr, "error: {message}");
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        let message = message.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
        let _ = writeln!(std::io::stdout(), "::error::{message}");
    }
}

/// Log output with credential values removed: the AWS SDK's trace logs print the access key
/// id (`Credentials { access_key_id: "…" }`); this also blanks any value of the standard
/// credential variables wherever it appears, so `-vv` / `RUST_LOG=trace` stay safe to share.
struct RedactingWriter<W>(W);

const REDACTED: &str = "** redacted **";

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Remove credential values from one chunk of log text.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for var in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECURITY_TOKEN",
        "KUBE9_OCI_PASSWORD",
        "KUBE9_SIGNING_PASSPHRASE",
    ] {
        if let Ok(value) = std::env::var(var)
            && value.len() >= 4
        {
            out = out.replace(&value, REDACTED);
        }
    }
    for field in ["access_key_id: \"", "session_token: \"", "Credential="] {
        let mut from = 0;
        while let Some(found) = out[from..].find(field) {
            let start = from + found + field.len();
            let end = out[start..].find(['"', '/', ',', ' ']).map_or(out.len(), |n| start + n);
            if out[start..end] != *REDACTED {
                out.replace_range(start..end, REDACTED);
            }
            from = start + REDACTED.len().min(out.len() - start);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_removes_access_key_ids() {
        let line = r#"Credentials { access_key_id: "AKIAEXAMPLE", secret_access_key: "** redacted **" } Credential=AKIAEXAMPLE/2024"#;
        let redacted = super::redact(line);
        assert!(!redacted.contains("AKIAEXAMPLE"), "{redacted}");
        assert!(redacted.contains("secret_access_key"), "{redacted}");
    }
}
