//! A real TLS terminator for tests: Caddy (pinned in [`super::wheel`]) with its internal
//! CA (`tls internal`), reverse-proxying to a plain-http upstream such as `cargo xtask
//! serve`, the way CloudFront terminates TLS in front of S3 in production: it adds
//! `Strict-Transport-Security` to every response (CloudFront's response-headers policy),
//! and, when asked, answers plain http on port 80 with a permanent redirect to https.
//!
//! Everything Caddy keeps (its CA's keys, the site certificate, its configuration) lives
//! in a temp folder of its own: `HOME`, `XDG_DATA_HOME`, `XDG_CONFIG_HOME` and the
//! `storage` are there, the environment is otherwise empty, the admin endpoint is off and
//! `skip_install_trust` keeps the CA out of every trust store (`caddy trust` is never
//! run). A client trusts the site only through [`Caddy::root_ca`] (`SSL_CERT_FILE`,
//! `helm --ca-file`).
//!
//! The listening sockets are bound here, before Caddy starts, and inherited by it (`bind
//! fd/N`): the https URL is known first (a release writes it into the index), no other
//! process can take a port in between, and a port that cannot be bound is an error that
//! names it. Port 80 needs root or `CAP_NET_BIND_SERVICE` (CI runs as root): without it
//! [`CaddyPorts::bind_with_redirect`] fails with [`Unprivileged`], which
//! [`skip_unless_privileged`] turns into a skip, except under `CI=true`. One port-80 user
//! at a time per process (a lock held until the [`Caddy`] is dropped); another process on
//! the port is a clear error.
//!
//! Caddy is killed on drop, and by the kernel when the thread that started it ends
//! (`PR_SET_PDEATHSIG`): a killed test process leaves no Caddy behind.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::provision::tail;
use super::wheel::CADDY;

/// The loopback address the sites listen on: not 127.0.0.1, so that port 80 there clashes
/// with nothing a developer runs. The certificate is issued for this IP address.
pub const TLS_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// How long Caddy may take to serve https (and the redirect) before `start` gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What Go's TLS server logs (Caddy's `http.stdlib` logger, at DEBUG) for a handshake the
/// client broke off with a TLS alert: `http: TLS handshake error from ADDR: remote error:
/// tls: unknown certificate authority`. (A readiness probe that comes before the
/// certificate is issued meets `…: no certificate available for …`, the server's side.)
const REFUSED_HANDSHAKE: [&str; 2] = ["TLS handshake error", ": remote error: tls: "];

/// How long a refused handshake may take to show in Caddy's log.
const LOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Port 80 of [`TLS_HOST`] is used by one test of this process at a time.
static PORT_80: Mutex<()> = Mutex::new(());

/// Port 80 could not be bound for lack of privilege (not root, no `CAP_NET_BIND_SERVICE`).
/// Found with `anyhow::Error::downcast_ref`.
#[derive(Debug)]
pub struct Unprivileged {
    pub address: SocketAddr,
    pub cause: io::Error,
}

impl std::fmt::Display for Unprivileged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot bind {} for the http -> https redirect: {}; port 80 needs root or CAP_NET_BIND_SERVICE (CI \
             runs as root)",
            self.address, self.cause
        )
    }
}

impl std::error::Error for Unprivileged {}

/// Whether this run is CI (`CI=true`, as GitHub Actions sets it), where every test must run.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1")
}

/// `Ok(Some(bound))` when `bound` succeeded. When it failed only for lack of privilege
/// ([`Unprivileged`]): `Ok(None)`, after saying on the terminal that `test` is skipped and
/// why, except under `CI=true`, where a missing capability is an error (CI runs every
/// test). Any other failure stays an error.
pub fn skip_unless_privileged<T>(bound: Result<T>, test: &str) -> Result<Option<T>> {
    match privileged(bound, test, under_ci())? {
        Ok(bound) => Ok(Some(bound)),
        Err(reason) => {
            // Straight to the terminal: libtest captures `eprintln!` of a passing test.
            xtask::logging::notice(&format!("SKIPPED {test}: {reason}"));
            Ok(None)
        }
    }
}

/// The decision of [`skip_unless_privileged`]: `Ok(Ok(bound))` runs, `Ok(Err(reason))`
/// skips, `Err` fails.
fn privileged<T>(bound: Result<T>, test: &str, ci: bool) -> Result<Result<T, String>> {
    match bound {
        Ok(bound) => Ok(Ok(bound)),
        Err(err) if err.downcast_ref::<Unprivileged>().is_some() => {
            if ci {
                return Err(err.context(format!("{test} cannot run, and CI=true: CI must run it (as root)")));
            }
            Ok(Err(format!("{err:#}")))
        }
        Err(err) => Err(err),
    }
}

/// The listening sockets of a Caddy not started yet: https on a free port of
/// [`TLS_HOST`], and port 80 for the redirect when asked.
#[derive(Debug)]
pub struct CaddyPorts {
    https: TcpListener,
    http: Option<TcpListener>,
    port_80: Option<MutexGuard<'static, ()>>,
}

impl CaddyPorts {
    /// https only, on a free port.
    pub fn bind() -> Result<CaddyPorts> {
        let https = TcpListener::bind((TLS_HOST, 0)).with_context(|| format!("cannot bind a port on {TLS_HOST}"))?;
        Ok(CaddyPorts { https, http: None, port_80: None })
    }

    /// https on a free port, and `http://127.0.0.2` (port 80) redirecting to it, as
    /// `verify-repo`'s `https-redirect` check asks the URL's host on port 80. Waits while
    /// another test of this process holds port 80.
    pub fn bind_with_redirect() -> Result<CaddyPorts> {
        let guard = PORT_80.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let address = SocketAddr::new(TLS_HOST, 80);
        let http = match TcpListener::bind(address) {
            Ok(listener) => listener,
            Err(cause) if cause.kind() == io::ErrorKind::PermissionDenied => {
                return Err(anyhow::Error::new(Unprivileged { address, cause }));
            }
            Err(cause) if cause.kind() == io::ErrorKind::AddrInUse => bail!(
                "cannot bind {address} for the http -> https redirect: another process holds it (a test binary \
                 running at the same time, or a web server; `ss -ltnp 'sport = :80'` shows which)"
            ),
            Err(cause) => {
                return Err(cause).with_context(|| format!("cannot bind {address} for the http -> https redirect"));
            }
        };
        let mut ports = CaddyPorts::bind()?;
        ports.http = Some(http);
        ports.port_80 = Some(guard);
        Ok(ports)
    }

    fn https_addr(&self) -> Result<SocketAddr> {
        self.https.local_addr().context("reading the https listener's address")
    }

    /// `https://127.0.0.2:PORT`: the repository URL, for the index before Caddy starts.
    pub fn https_url(&self) -> Result<String> {
        Ok(format!("https://{}", self.https_addr()?))
    }

    /// Start Caddy on these ports in front of `upstream` (plain http) and wait until it
    /// serves https with a certificate of its CA (and the redirect, when bound).
    pub fn start(self, upstream: SocketAddr) -> Result<Caddy> {
        let caddy = CADDY.locate()?;
        let dir = tempfile::Builder::new().prefix("kube9-caddy-").tempdir().context("cannot create a temp folder")?;
        let https = self.https_addr()?;
        let storage = dir.path().join("data").join("caddy");
        let config = dir.path().join("Caddyfile");
        let http_fd = self.http.as_ref().map(AsRawFd::as_raw_fd);
        std::fs::write(&config, caddyfile(&storage, https, self.https.as_raw_fd(), http_fd, upstream))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let log = dir.path().join("caddy.log");
        let log_file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(&caddy);
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config)
            .env_clear()
            .env("HOME", dir.path().join("home"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let inherited: Vec<RawFd> = std::iter::once(self.https.as_raw_fd()).chain(http_fd).collect();
        die_with_this_thread_inheriting(&mut command, inherited);
        let child = command.spawn().with_context(|| format!("cannot start {}", caddy.display()))?;
        // Caddy has its own copies now; ours would keep the ports open after it exits.
        let CaddyPorts { https: listener, http, port_80 } = self;
        drop((listener, http));
        let redirect = port_80.is_some().then(|| format!("http://{TLS_HOST}"));
        let mut caddy = Caddy {
            child,
            url: format!("https://{https}"),
            redirect,
            root_ca: storage.join("pki").join("authorities").join("local").join("root.crt"),
            log,
            _dir: dir,
            _port_80: port_80,
        };
        caddy.wait_until_ready()?;
        Ok(caddy)
    }
}

/// The Caddyfile: one https site in front of `upstream`, and the redirect when `http_fd`.
fn caddyfile(
    storage: &Path,
    https: SocketAddr,
    https_fd: RawFd,
    http_fd: Option<RawFd>,
    upstream: SocketAddr,
) -> String {
    let hsts = xtask::verify::policy::HSTS;
    let host = https.ip();
    let mut text = format!(
        "# Written by the kube9 test harness (xtask-dev/src/harness/caddy.rs).\n\
         {{\n\
         \tadmin off\n\
         \tpersist_config off\n\
         \tskip_install_trust\n\
         \tauto_https disable_redirects\n\
         \tstorage file_system \"{storage}\"\n\
         \tlog {{\n\t\tlevel DEBUG\n\t}}\n\
         \tservers {{\n\t\tprotocols h1 h2\n\t}}\n\
         }}\n\n\
         https://{https} {{\n\
         \tbind fd/{https_fd}\n\
         \ttls internal\n\
         \theader >Strict-Transport-Security \"{hsts}\"\n\
         \treverse_proxy {upstream}\n\
         }}\n",
        storage = storage.display(),
    );
    if let Some(http_fd) = http_fd {
        let _ = write!(text, "\nhttp://{host} {{\n\tbind fd/{http_fd}\n\tredir https://{https}{{uri}} permanent\n}}\n");
    }
    text
}

/// Have the kernel kill `command`'s process when the calling thread ends
/// (`PR_SET_PDEATHSIG` follows the thread that forks): spawned on a test's thread, the
/// child dies with the test, or with the test process when that is killed.
pub fn die_with_this_thread(command: &mut Command) {
    die_with_this_thread_inheriting(command, Vec::new());
}

/// [`die_with_this_thread`], and let the child inherit `fds` (close-on-exec is cleared on
/// the child's copies only, so no other process spawned meanwhile gets them).
fn die_with_this_thread_inheriting(command: &mut Command, fds: Vec<RawFd>) {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs in the forked child before exec and only calls prctl,
    // getppid and fcntl, which are async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The parent ended before prctl took effect: nobody would kill this child.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// One HTTP answer, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Every header line, names in lower case, in order (a repeated header appears twice).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// Every value of the header `name`.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// A running Caddy. Dropping it kills the process and removes its folder (and its CA).
#[derive(Debug)]
pub struct Caddy {
    child: Child,
    url: String,
    redirect: Option<String>,
    root_ca: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
    /// Held until the process is gone (fields drop after `Drop::drop` killed it).
    _port_80: Option<MutexGuard<'static, ()>>,
}

impl Caddy {
    /// `https://127.0.0.2:PORT`, the repository URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.2` (port 80), when the redirect is served.
    pub fn redirect_url(&self) -> Option<&str> {
        self.redirect.as_deref()
    }

    /// The root certificate (PEM) of Caddy's internal CA, which signed the site's
    /// certificate: `<storage>/pki/authorities/local/root.crt`. Public material only.
    pub fn root_ca(&self) -> &Path {
        &self.root_ca
    }

    /// Caddy's log so far (JSON lines, DEBUG level).
    pub fn log(&self) -> String {
        std::fs::read(&self.log).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    }

    /// How many TLS handshakes with Caddy a client broke off so far with an alert, e.g. for
    /// a certificate it does not trust.
    pub fn refused_handshakes(&self) -> usize {
        self.log().lines().filter(|line| REFUSED_HANDSHAKE.iter().all(|part| line.contains(part))).count()
    }

    /// [`Caddy::refused_handshakes`] once it is at least `count`: Caddy logs a refusal a
    /// moment after the client gave up, from its own process. An error naming the log's
    /// tail when that takes over 10 s.
    pub fn wait_for_refused_handshakes(&self, count: usize) -> Result<usize> {
        let started = Instant::now();
        loop {
            let refused = self.refused_handshakes();
            if refused >= count {
                return Ok(refused);
            }
            if started.elapsed() > LOG_TIMEOUT {
                bail!(
                    "caddy logged {refused} refused TLS handshake(s) within {} s, not {count}; its log:\n{}",
                    LOG_TIMEOUT.as_secs(),
                    tail(&self.log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET url` (not following redirects), trusting exactly Caddy's root CA.
    pub fn get(&self, url: &str) -> Result<Answer> {
        get(&self.root_ca, url)
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("cannot check on caddy")? {
                bail!("caddy exited with {status} before serving {}; its log:\n{}", self.url, tail(&self.log(), 30));
            }
            let Err(err) = self.probe() else {
                tracing::debug!("caddy serving {} after {:?}", self.url, started.elapsed());
                return Ok(());
            };
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "caddy did not serve {} within {} s (last attempt: {err:#}); its log:\n{}",
                    self.url,
                    STARTUP_TIMEOUT.as_secs(),
                    tail(&self.log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// https answers with a certificate of the CA (any status: the upstream's business),
    /// and the redirect, when there is one, redirects.
    fn probe(&self) -> Result<()> {
        if !self.root_ca.is_file() {
            bail!("no root certificate at {} yet", self.root_ca.display());
        }
        self.get(&self.url)?;
        if let Some(redirect) = &self.redirect {
            let answer = self.get(redirect)?;
            if !(300..400).contains(&answer.status) {
                bail!("{redirect} answered {}, not a redirect", answer.status);
            }
        }
        Ok(())
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` without following redirects, trusting only the PEM root at `root_ca`. On a
/// thread with a runtime of its own, so callers need not be (and may be) async.
fn get(root_ca: &Path, url: &str) -> Result<Answer> {
    let pem = std::fs::read(root_ca).with_context(|| format!("cannot read {}", root_ca.display()))?;
    let root =
        reqwest::Certificate::from_pem(&pem).with_context(|| format!("{} is no PEM certificate", root_ca.display()))?;
    let client = xtask::http::client_builder()
        .tls_certs_only([root])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the probe client")?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot build a runtime for the probe")?;
                runtime.block_on(async {
                    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
                    let status = response.status().as_u16();
                    let headers = response
                        .headers()
                        .iter()
                        .map(|(name, value)| {
                            (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())
                        })
                        .collect();
                    let body = response.bytes().await.with_context(|| format!("GET {url}: reading the body"))?.to_vec();
                    Ok(Answer { status, headers, body })
                })
            })
            .join()
            .unwrap_or_else(|_| bail!("the probe of {url} panicked"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caddyfile_proxies_adds_hsts_and_redirects_only_when_asked() {
        let https: SocketAddr = "127.0.0.2:8443".parse().unwrap();
        let upstream: SocketAddr = "127.0.0.1:8879".parse().unwrap();
        let text = caddyfile(Path::new("storage/caddy"), https, 7, None, upstream);
        for line in [
            "\tadmin off\n",
            "\tskip_install_trust\n",
            "\tstorage file_system \"storage/caddy\"\n",
            "https://127.0.0.2:8443 {\n\tbind fd/7\n\ttls internal\n",
            "\theader >Strict-Transport-Security \"max-age=31536000\"\n",
            "\treverse_proxy 127.0.0.1:8879\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(!text.contains("\tredir "), "{text}");
        let with_redirect = caddyfile(Path::new("storage/caddy"), https, 7, Some(9), upstream);
        assert!(
            with_redirect
                .contains("http://127.0.0.2 {\n\tbind fd/9\n\tredir https://127.0.0.2:8443{uri} permanent\n}\n"),
            "{with_redirect}"
        );
    }

    #[test]
    fn only_a_missing_privilege_is_skipped_and_never_under_ci() {
        let unprivileged = || -> Result<()> {
            Err(anyhow::Error::new(Unprivileged {
                address: SocketAddr::new(TLS_HOST, 80),
                cause: io::Error::from(io::ErrorKind::PermissionDenied),
            }))
        };
        let reason = privileged(unprivileged(), "t", false).unwrap().unwrap_err();
        assert!(reason.contains("cannot bind 127.0.0.2:80") && reason.contains("needs root"), "{reason}");
        let err = privileged(unprivileged(), "t", true).unwrap_err();
        assert!(format!("{err:#}").contains("CI=true"), "{err:#}");
        assert!(privileged(Err::<(), _>(anyhow::anyhow!("in use")), "t", false).is_err());
        assert_eq!(privileged(Ok(5), "t", false).unwrap(), Ok(5));
    }
}
