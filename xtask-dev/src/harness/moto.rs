//! A real moto server on a free loopback port, for integration tests.
//!
//! moto takes ~1-3 s to start (it imports Flask and every AWS model). A test that
//! needs a pristine account starts its own with [`MotoServer::start`]; tests that
//! only need their own bucket can share one per test process through
//! [`MotoServer::shared`] and [`unique_name`].
//!
//! The server runs under a tiny Python wrapper that exits when its stdin closes: the
//! test process holds the other end, so the server dies with it even when the test
//! binary is killed or a shared (never dropped) server is still running at exit.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;

use super::provision::tail;
use super::tools::locate_moto_server;

/// Dummy credentials moto accepts; not secrets.
pub const ACCESS_KEY_ID: &str = "kube9-test-access-key";
pub const SECRET_ACCESS_KEY: &str = "kube9-test-secret-key";
/// The region every test talks to.
pub const REGION: &str = "us-east-1";

/// How long a server may take to answer before `start` gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs moto's server `main` and exits as soon as stdin reaches EOF (the parent died).
const WATCHDOG: &str = "\
import os, sys, threading
def watch():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
";

/// Run at startup of every server (as `sitecustomize.py`, before any test's own patch):
/// where moto is more lenient or answers less than AWS.
///
/// moto checks `If-Match` / `If-None-Match: *` of a PutObject and then writes, with no
/// lock, on a threaded server: two conditional writes racing on one key can both pass
/// and the second silently replaces the first (16 concurrent releases lost a version
/// now and then). S3 evaluates the condition atomically; so does moto with PutObject
/// serialised.
const STRICT_CONDITIONAL_WRITES: &str = "\
import threading
import moto.s3.responses as _kube9_s3
_kube9_put_object = _kube9_s3.S3Response.put_object
_kube9_put_lock = threading.Lock()
def _kube9_atomic_put_object(self, *args, **kwargs):
    with _kube9_put_lock:
        return _kube9_put_object(self, *args, **kwargs)
_kube9_s3.S3Response.put_object = _kube9_atomic_put_object
import moto.cloudfront.models as _kube9_cf
if not hasattr(_kube9_cf.Distribution, \"aliases\"):
    # Every ListDistributions summary carries Aliases and Comment on AWS (both
    # required in DistributionSummary); moto 5.2.1 leaves them out.
    _kube9_cf.Distribution.aliases = property(lambda self: self.distribution_config.Aliases)
    _kube9_cf.Distribution.comment = property(lambda self: getattr(self.distribution_config, \"Comment\", \"\"))
";

/// A running moto server. Dropping it kills the process.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    addr: SocketAddr,
    child: Child,
    /// Held open so the watchdog keeps the server alive; closing it stops the server.
    _stdin: Option<ChildStdin>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Options for a moto server; [`MotoServer::builder`].
#[derive(Debug, Clone)]
pub struct MotoBuilder {
    acm_validation_wait: u64,
    env: Vec<(String, String)>,
    sitecustomize: Option<String>,
}

impl MotoBuilder {
    /// Seconds after which an ACM certificate requested with DNS validation turns from
    /// `PENDING_VALIDATION` into `ISSUED` (on the next describe). Default 0: issued on
    /// the first describe. moto checks no DNS record at all.
    pub fn acm_validation_wait(mut self, seconds: u64) -> MotoBuilder {
        self.acm_validation_wait = seconds;
        self
    }

    /// An extra environment variable for the server process (moto reads its settings,
    /// `MOTO_*`, from the environment at startup).
    pub fn env(mut self, key: &str, value: &str) -> MotoBuilder {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Python code the server process runs at startup, before it serves a request (as
    /// part of a `sitecustomize.py` first on PYTHONPATH, after the harness's own
    /// [`STRICT_CONDITIONAL_WRITES`]): for patching a moto gap in a test.
    pub fn sitecustomize(mut self, python: &str) -> MotoBuilder {
        self.sitecustomize = Some(python.to_string());
        self
    }

    pub fn start(self) -> Result<MotoServer> {
        let moto_server = locate_moto_server()?;
        let dir = tempfile::Builder::new().prefix("kube9-moto-").tempdir().context("cannot create a temp folder")?;
        let log = dir.path().join("moto.log");
        let mut builder = self;
        let mut code = STRICT_CONDITIONAL_WRITES.to_string();
        if let Some(own) = builder.sitecustomize.take() {
            code.push('\n');
            code.push_str(&own);
        }
        let site = dir.path().join("site");
        std::fs::create_dir(&site)?;
        std::fs::write(site.join("sitecustomize.py"), code)?;
        let mut path = std::ffi::OsString::from(&site);
        if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            path.push(":");
            path.push(existing);
        }
        builder.env.push(("PYTHONPATH".to_string(), path.to_string_lossy().into_owned()));
        let (child, stdin, addr) = builder.spawn(&moto_server, &log)?;
        Ok(MotoServer { endpoint: format!("http://{addr}"), addr, child, _stdin: stdin, log, _dir: dir })
    }

    fn spawn(&self, moto_server: &Path, log: &Path) -> Result<(Child, Option<ChildStdin>, SocketAddr)> {
        // The listening socket is made here and handed to moto (werkzeug serves an
        // inherited socket named by WERKZEUG_SERVER_FD when WERKZEUG_RUN_MAIN is set, as
        // for its reloader). Picking a free port and letting moto bind it later raced:
        // another server could take the port in between, and the readiness probe would
        // then find that server instead of ours.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind a loopback port for moto")?;
        let addr = listener.local_addr()?;
        let fd = listener.as_raw_fd();
        let log_file = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let port = addr.port().to_string();
        let mut command = match python_of(moto_server) {
            Some(python) => {
                let mut command = Command::new(python);
                command.arg("-c").arg(WATCHDOG).stdin(Stdio::piped());
                command
            }
            None => {
                let mut command = Command::new(moto_server);
                command.stdin(Stdio::null());
                command
            }
        };
        // SAFETY: the closure runs in the forked child before exec and only calls fcntl,
        // which is async-signal-safe. It clears close-on-exec on the child's copy of the
        // listener alone: the parent's descriptor keeps it, so no other process spawned
        // meanwhile inherits the socket.
        unsafe {
            command.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            });
        }
        command
            .args(["-H", "127.0.0.1", "-p", &port])
            .env("WERKZEUG_RUN_MAIN", "true")
            .env("WERKZEUG_SERVER_FD", fd.to_string())
            .env("MOTO_ACM_VALIDATION_WAIT", self.acm_validation_wait.to_string())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}: run `cargo xtask test`", moto_server.display()))?;
        // The child has its own copy now; ours would keep the port open after moto exits.
        drop(listener);
        let stdin = child.stdin.take();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "moto server ({}) exited with {status} before answering on {addr}; its log:\n{}",
                    moto_server.display(),
                    tail(&read_log(log), 30)
                );
            }
            if matches!(http(addr, "GET", "/moto-api/data.json"), Ok((200, _))) {
                tracing::debug!("moto server on {addr} ready after {:?}", started.elapsed());
                return Ok((child, stdin, addr));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "moto server did not answer on {addr} within {}s; its log:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    tail(&read_log(log), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl MotoServer {
    /// A fresh moto server of its own (an empty account), ready to answer.
    pub fn start() -> Result<MotoServer> {
        MotoServer::builder().start()
    }

    pub fn builder() -> MotoBuilder {
        MotoBuilder { acm_validation_wait: 0, env: Vec::new(), sitecustomize: None }
    }

    /// One server per test process, started on first use and stopped when the process
    /// exits. Tests sharing it must use their own resource names ([`unique_name`]) and
    /// must not call [`MotoServer::reset`].
    pub fn shared() -> Result<&'static MotoServer> {
        static SHARED: Mutex<Option<&'static MotoServer>> = Mutex::new(None);
        let mut shared = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(server) = *shared {
            return Ok(server);
        }
        let server: &'static MotoServer = Box::leak(Box::new(MotoServer::start()?));
        *shared = Some(server);
        Ok(server)
    }

    /// Environment for a child process (e.g. the `xtask` binary) to talk to this
    /// server: `AWS_ENDPOINT_URL`, dummy credentials, `AWS_REGION`. Adds, unsets nothing.
    pub fn env(&self) -> Vec<(String, String)> {
        endpoint_env("AWS_ENDPOINT_URL", &self.endpoint)
    }

    /// A ready SDK config pointed at this server, with the dummy static credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_at(&self.endpoint, "kube9-moto-test").await
    }

    /// Every AWS client of the tool, pointed at this server (path-style S3).
    pub async fn clients(&self) -> xtask::aws::Clients {
        xtask::aws::Clients::from_shared(self.sdk_config().await)
    }

    /// Forget every resource (moto's `/moto-api/reset`). Only on a server of your own.
    pub fn reset(&self) -> Result<()> {
        match http(self.addr, "POST", "/moto-api/reset") {
            Ok((200, _)) => Ok(()),
            Ok((status, body)) => bail!("moto reset on {} answered {status}: {}", self.endpoint, tail(&body, 5)),
            Err(err) => Err(err).with_context(|| format!("moto reset on {} failed", self.endpoint)),
        }
    }

    /// The server's log so far (useful in a failing test's message).
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for a child process to talk to a local AWS emulator at `endpoint`
/// through `variable` (`AWS_ENDPOINT_URL`, or a service's own such as
/// `AWS_ENDPOINT_URL_S3`), with the dummy credentials and [`REGION`]. Adds, unsets nothing.
pub(super) fn endpoint_env(variable: &str, endpoint: &str) -> Vec<(String, String)> {
    [
        (variable, endpoint),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ("AWS_REGION", REGION),
        // No instance metadata lookups (a second's timeout each) on a laptop or CI runner.
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A ready SDK config for a local emulator at `endpoint`, with the dummy static credentials.
pub(super) async fn sdk_config_at(endpoint: &str, provider: &'static str) -> SdkConfig {
    let credentials = aws_sdk_sts::config::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, provider);
    xtask::aws::config_loader(REGION).endpoint_url(endpoint).credentials_provider(credentials).load().await
}

/// `prefix-<random>`: a name no other test in this run uses, valid as an S3 bucket
/// name when `prefix` is (lowercase letters, digits, hyphens).
pub fn unique_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..12).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect();
    format!("{prefix}-{suffix}")
}

/// The interpreter named by a pip console script's `#!` line, when it is a Python that
/// exists (not e.g. a pyenv shim, which is a shell script).
fn python_of(script: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(script).and_then(|mut f| f.read(&mut head)).ok()?;
    let first_line = std::str::from_utf8(&head[..n]).ok()?.lines().next()?;
    let interpreter = PathBuf::from(first_line.strip_prefix("#!")?.trim());
    let name = interpreter.file_name()?.to_str()?;
    (name.starts_with("python") && interpreter.is_file()).then_some(interpreter)
}

pub(super) fn read_log(path: &Path) -> String {
    std::fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
}

/// A minimal HTTP/1.1 request without a body; returns the status code and the body.
pub(super) fn http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One buffer, one write: a server may answer and close as soon as it has read the
    // head, and a request still being written in pieces then fails with a broken pipe.
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_valid_bucket_names_and_differ() {
        let a = unique_name("kube9-test");
        let b = unique_name("kube9-test");
        assert_ne!(a, b);
        assert!(a.starts_with("kube9-test-") && a.len() == "kube9-test-".len() + 12);
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }

    #[test]
    fn python_of_reads_a_pip_shebang_and_rejects_shims() {
        let dir = tempfile::tempdir().unwrap();
        let python = dir.path().join("python3");
        std::fs::write(&python, "").unwrap();
        let script = dir.path().join("moto_server");
        std::fs::write(&script, format!("#!{}\nimport sys\n", python.display())).unwrap();
        assert_eq!(python_of(&script), Some(python));
        let shim = dir.path().join("shim");
        std::fs::write(&shim, "#!/usr/bin/env bash\nexec pyenv\n").unwrap();
        assert_eq!(python_of(&shim), None);
        let missing = dir.path().join("gone");
        std::fs::write(&missing, "#!/nowhere/python3\n").unwrap();
        assert_eq!(python_of(&missing), None);
    }

    #[test]
    fn http_parses_the_status_line() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // Read the whole request head before answering, as a real server does: closing
            // with unread bytes makes the kernel reset the connection.
            let mut head = Vec::new();
            let mut buf = [0u8; 256];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "the client closed before sending a whole request head");
                head.extend_from_slice(&buf[..n]);
            }
            assert!(head.starts_with(b"GET / HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&head));
            stream.write_all(b"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 2\r\n\r\nno").unwrap();
        });
        assert_eq!(http(addr, "GET", "/").unwrap(), (412, "no".to_string()));
        server.join().unwrap();
    }
}
