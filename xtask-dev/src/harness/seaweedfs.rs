//! A real SeaweedFS (`weed mini`) on free loopback ports: a second S3 implementation,
//! so that what the tests prove about S3 (atomic conditional writes above all) does not
//! rest on moto alone, which the harness has to patch for it (`moto.rs`).
//!
//! `weed mini` runs a master, a volume server, a filer, the S3 gateway and an admin
//! server with its maintenance worker in one process. Every one of their ports is chosen
//! here (free ports of the kernel's, nothing fixed), everything binds 127.0.0.1, the data
//! lives in a temporary folder and the process starts with an empty environment (no
//! `AWS_*` or `WEED_*` of the test process reaches it). S3 takes the dummy credentials of
//! [`ACCESS_KEY_ID`] / [`SECRET_ACCESS_KEY`] from an `-s3.config` identities file.
//!
//! It is handed out only once its S3 gateway has the filers' lock ring from the master
//! (see [`ready`]): before that, SeaweedFS 4.48 serves S3 but takes its conditional
//! writes through another path, and a race across the switch can lose one.
//!
//! The server is killed on `Drop`, and by the kernel when the test process dies
//! (`PR_SET_PDEATHSIG`, see [`spawn_watched`]).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;

use super::moto::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, http, read_log};
use super::provision::tail;
use super::wheel::SEAWEEDFS;

/// How long a server may take to serve S3 before `start` gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times `start` picks new ports when another process took one of them
/// between the pick and `weed`'s bind (a Go server cannot take an inherited socket, so
/// that window cannot be closed; `weed` then exits naming the port).
const PORT_ATTEMPTS: usize = 3;

/// `weed mini` derives a gRPC port as HTTP port + 10000 (its `GrpcPortOffset`); its
/// maintenance worker dials the admin server there whatever `-admin.port.grpc` says.
const GRPC_PORT_OFFSET: u16 = 10_000;

/// Where `weed mini` puts the Unix sockets of its gRPC services: `/tmp/seaweedfs-` +
/// service + `-grpc-` + port + `.sock`, fixed in its code (no flag), named by the port it
/// really took (it moves a gRPC port it finds taken). It removes them on a graceful stop;
/// after a kill, or when it exits on a taken port, they are ours to remove: its log names
/// each one ([`SOCKET_OPENED`]).
const GRPC_SOCKET_PREFIX: &str = "/tmp/seaweedfs-";
const SOCKET_OPENED: &str = "gRPC also listening on Unix socket ";

/// What the S3 gateway logs (at glog level 0, which `-v=0` sends to stderr) when the
/// master hands it the filers' lock ring.
const RING_RECEIVED: [&str; 2] = ["LockRing: s3@", " received ring update v"];

/// A running SeaweedFS. Dropping it kills the process.
#[derive(Debug)]
pub struct SeaweedFs {
    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
}

/// Every port of one `weed mini`.
#[derive(Debug, Clone, Copy)]
struct Ports {
    s3: u16,
    s3_grpc: u16,
    master: u16,
    master_grpc: u16,
    volume: u16,
    volume_grpc: u16,
    filer: u16,
    filer_grpc: u16,
    /// Its gRPC port is `admin + GRPC_PORT_OFFSET`, also free when picked.
    admin: u16,
}

impl Ports {
    /// Free loopback ports, all different, each held by one of the returned listeners
    /// (dropped right before `weed` starts).
    fn pick() -> Result<(Ports, Vec<TcpListener>)> {
        let mut held = Vec::new();
        let (s3, s3_grpc, master, master_grpc) =
            (free(&mut held)?, free(&mut held)?, free(&mut held)?, free(&mut held)?);
        let (volume, volume_grpc, filer, filer_grpc) =
            (free(&mut held)?, free(&mut held)?, free(&mut held)?, free(&mut held)?);
        let mut admin = None;
        for _ in 0..64 {
            let candidate = free(&mut held)?;
            let Some(grpc) = candidate.checked_add(GRPC_PORT_OFFSET) else { continue };
            if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, grpc)) {
                held.push(listener);
                admin = Some(candidate);
                break;
            }
        }
        let Some(admin) = admin else {
            bail!("found no free loopback port P with P + {GRPC_PORT_OFFSET} free as well (for weed's admin server)")
        };
        let ports = Ports { s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc, admin };
        Ok((ports, held))
    }

    fn args(&self) -> Vec<String> {
        [
            ("s3.port", self.s3),
            ("s3.port.grpc", self.s3_grpc),
            ("master.port", self.master),
            ("master.port.grpc", self.master_grpc),
            ("volume.port", self.volume),
            ("volume.port.grpc", self.volume_grpc),
            ("filer.port", self.filer),
            ("filer.port.grpc", self.filer_grpc),
            ("admin.port", self.admin),
            ("admin.port.grpc", self.admin + GRPC_PORT_OFFSET),
        ]
        .into_iter()
        .map(|(flag, port)| format!("-{flag}={port}"))
        .collect()
    }
}

impl SeaweedFs {
    /// A fresh SeaweedFS of its own (no bucket), ready to serve S3.
    pub fn start() -> Result<SeaweedFs> {
        let weed = SEAWEEDFS.locate()?;
        let dir =
            tempfile::Builder::new().prefix("kube9-seaweedfs-").tempdir().context("cannot create a temp folder")?;
        let identities = serde_json::json!({
            "identities": [{
                "name": "kube9-test",
                "credentials": [{ "accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY }],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]
        });
        let s3_config = dir.path().join("s3.json");
        std::fs::write(&s3_config, identities.to_string())
            .with_context(|| format!("cannot write {}", s3_config.display()))?;
        let mut failures = Vec::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let log = dir.path().join(format!("weed-{attempt}.log"));
            let data = dir.path().join(format!("data-{attempt}"));
            std::fs::create_dir(&data).with_context(|| format!("cannot create {}", data.display()))?;
            match spawn(&weed, dir.path(), &data, &s3_config, &log)? {
                Started::Ready(child, ports) => {
                    let endpoint = format!("http://127.0.0.1:{}", ports.s3);
                    return Ok(SeaweedFs { endpoint, child, log, dir });
                }
                Started::PortTaken(log_tail) => failures.push(log_tail),
            }
        }
        bail!(
            "SeaweedFS ({}) found one of its ports taken by another process {PORT_ATTEMPTS} times in a row; its last log:\n{}",
            weed.display(),
            failures.last().map_or("", String::as_str)
        )
    }

    /// Environment for a child process (e.g. the `xtask` binary) whose S3 requests go to
    /// this server: `AWS_ENDPOINT_URL_S3` (the SDK's S3-only endpoint, so that
    /// [`super::MotoServer::env`]'s `AWS_ENDPOINT_URL` can keep CloudFront on moto),
    /// dummy credentials, `AWS_REGION`. Adds, unsets nothing.
    pub fn env(&self) -> Vec<(String, String)> {
        super::moto::endpoint_env("AWS_ENDPOINT_URL_S3", &self.endpoint)
    }

    /// A ready SDK config pointed at this server, with the dummy static credentials
    /// (only S3 answers there).
    pub async fn sdk_config(&self) -> SdkConfig {
        super::moto::sdk_config_at(&self.endpoint, "kube9-seaweedfs-test").await
    }

    /// The tool's AWS clients pointed at this server; only `s3` (path-style) is useful.
    pub async fn clients(&self) -> xtask::aws::Clients {
        xtask::aws::Clients::from_shared(self.sdk_config().await)
    }

    /// The server's log so far (useful in a failing test's message).
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// The process id of `weed` (a test checks that it ends).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary folder of the server's data, log and configuration (removed on drop).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The Unix sockets `weed` opened in /tmp for its gRPC services (removed on drop).
    pub fn grpc_sockets(&self) -> Vec<PathBuf> {
        grpc_sockets_in(&self.log())
    }

    /// Remove what a server whose test process was killed leaves behind (no `Drop` ran):
    /// the gRPC sockets named in the logs of its folder `dir` ([`SeaweedFs::data_dir`]),
    /// then the folder. Only for a server that is no longer running.
    pub fn remove_remains(dir: &Path) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "log") {
                remove_grpc_sockets(&read_log(&path));
            }
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove_grpc_sockets(&self.log());
    }
}

/// The gRPC socket paths a `weed` log says it opened.
fn grpc_sockets_in(log: &str) -> Vec<PathBuf> {
    log.lines()
        .filter_map(|line| line.split_once(SOCKET_OPENED))
        .map(|(_, path)| path.trim())
        .filter(|path| path.starts_with(GRPC_SOCKET_PREFIX) && path.ends_with(".sock") && !path.contains(".."))
        .map(PathBuf::from)
        .collect()
}

/// Remove the gRPC sockets a `weed` that is no longer running opened (its log says which).
fn remove_grpc_sockets(log: &str) {
    for socket in grpc_sockets_in(log) {
        let _ = std::fs::remove_file(socket);
    }
}

enum Started {
    Ready(Child, Ports),
    /// `weed` exited because a port was taken: its log's tail.
    PortTaken(String),
}

fn spawn(weed: &Path, home: &Path, data: &Path, s3_config: &Path, log: &Path) -> Result<Started> {
    let (ports, held) = Ports::pick()?;
    let log_file = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut command = Command::new(weed);
    command
        // Any glog flag turns mini's quiet logging off: level-0 lines, the lock ring's
        // arrival among them, then go to stderr (the log) too.
        .arg("-v=0")
        .arg("mini")
        .arg(format!("-dir={}", data.display()))
        .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
        // No statistics sent to seaweedfs.com, no WebDAV, Iceberg or Lance server, no UI.
        .args(["-master.telemetry=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false"])
        .arg(format!("-s3.config={}", s3_config.display()))
        // Without these the filer and S3 sockets would go to /tmp, named by port.
        .arg(format!("-filer.localSocket={}", data.join("filer.sock").display()))
        .arg(format!("-s3.localSocket={}", data.join("s3.sock").display()))
        .args(ports.args())
        // An empty environment: neither the test's AWS credentials (weed makes an admin
        // identity of AWS_ACCESS_KEY_ID) nor WEED_* settings reach it; its home and
        // working folder are the temp folder, so no security.toml of the user's is read.
        .env_clear()
        .env("HOME", home)
        .env("TMPDIR", home)
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    // The ports are free from here until weed binds them.
    drop(held);
    let mut child = spawn_dying_with_the_process(command)
        .with_context(|| format!("cannot start {}: run `cargo xtask test`", weed.display()))?;
    let started = Instant::now();
    let s3 = SocketAddr::from((Ipv4Addr::LOCALHOST, ports.s3));
    let master = SocketAddr::from((Ipv4Addr::LOCALHOST, ports.master));
    loop {
        if let Some(status) = child.try_wait()? {
            let text = read_log(log);
            remove_grpc_sockets(&text);
            // Its own check ("port N for S3 … is not available") or, when the port went
            // after that check, the bind itself.
            if text.contains("is not available") || text.contains("address already in use") {
                tracing::warn!("SeaweedFS lost a port to another process; picking new ports");
                return Ok(Started::PortTaken(tail(&text, 30)));
            }
            bail!(
                "SeaweedFS ({}) exited with {status} before serving S3 on {s3}; its log:\n{}",
                weed.display(),
                tail(&text, 30)
            );
        }
        if ready(&child, &ports, s3, master, log) {
            tracing::debug!("SeaweedFS S3 on {s3} ready after {:?}", started.elapsed());
            return Ok(Started::Ready(child, ports));
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            remove_grpc_sockets(&read_log(log));
            bail!(
                "SeaweedFS did not serve S3 on {s3} within {}s; its log:\n{}",
                STARTUP_TIMEOUT.as_secs(),
                tail(&read_log(log), 30)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// S3 answers its health check, the master knows a volume server with free volume slots
/// (so the first write has somewhere to go), both ports are this child's (not another
/// process's that took them first), and the S3 gateway has the lock ring.
///
/// The ring decides how the gateway writes. With it, each PutObject goes to the filer that
/// owns the key, which evaluates `If-Match` / `If-None-Match` and writes under one path
/// lock. Until it arrives (about half a second after S3 first answers on an idle machine,
/// longer on a busy one), the gateway checks the condition itself under a distributed
/// lock and then writes unconditionally, a lock the routed writes do not take: a race
/// that spans the switch can let two conditional writes on one ETag both succeed
/// (SeaweedFS's `withObjectWriteLock` against `routedPut`). The store contract's 16
/// writers, started right after `/healthz`, once lost an update on a loaded machine, which
/// this window explains. Real S3 has no such window, so the tests get the steady state.
fn ready(child: &Child, ports: &Ports, s3: SocketAddr, master: SocketAddr, log: &Path) -> bool {
    if !matches!(http(s3, "GET", "/healthz"), Ok((200, _))) {
        return false;
    }
    if !read_log(log).lines().any(ring_received) {
        return false;
    }
    let Ok((200, body)) = http(master, "GET", "/dir/status") else { return false };
    let free = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|status| status["Topology"]["Free"].as_u64())
        .unwrap_or(0);
    free > 0 && listens(child.id(), ports.s3) && listens(child.id(), ports.master)
}

/// Whether a log line says that the S3 gateway received a lock ring with a filer in it.
fn ring_received(line: &str) -> bool {
    RING_RECEIVED.iter().all(|part| line.contains(part)) && !line.trim_end().ends_with("[]")
}

/// The inodes of the sockets among process `pid`'s open files.
fn socket_inodes(pid: u32) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    fds.flatten()
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let target = target.to_str()?;
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect()
}

/// Whether process `pid` holds the socket listening on loopback port `port`.
fn listens(pid: u32, port: u16) -> bool {
    let listening = listening_inodes(port);
    socket_inodes(pid).iter().any(|inode| listening.contains(inode))
}

/// Inodes of the TCP sockets listening on `port` (`/proc/net/tcp`, `tcp6`).
fn listening_inodes(port: u16) -> Vec<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        inodes.extend(listening_in_table(&std::fs::read_to_string(table).unwrap_or_default(), port));
    }
    inodes
}

/// The LISTEN (`0A`) rows of a `/proc/net/tcp` table on `port`: their inodes.
fn listening_in_table(table: &str, port: u16) -> Vec<String> {
    let wanted = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            (local_port == wanted && *fields.get(3)? == "0A").then(|| fields.get(9).map(ToString::to_string))?
        })
        .collect()
}

/// A free loopback port, held by a listener pushed to `held`.
fn free(held: &mut Vec<TcpListener>) -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind a loopback port")?;
    let port = listener.local_addr()?.port();
    held.push(listener);
    Ok(port)
}

/// Spawn `command` so that the kernel kills it when the test process dies
/// (`PR_SET_PDEATHSIG` from [`spawn_watched`]'s thread), however it dies.
pub(super) fn spawn_dying_with_the_process(mut command: Command) -> Result<Child> {
    let parent = libc::pid_t::try_from(std::process::id()).context("process id out of range")?;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl and
    // getppid, which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The parent died before the prctl: nobody would send the signal.
            if libc::getppid() != parent {
                return Err(io::Error::other("the test process exited before the server started"));
            }
            Ok(())
        });
    }
    Ok(spawn_watched(command)?)
}

/// Spawn `command` from one thread that lives as long as the test process.
///
/// `PR_SET_PDEATHSIG` signals the child when the *thread* that forked it ends, not the
/// process: spawned from a test's own thread (which ends with that test) or from a tokio
/// worker, the server would be killed under whoever still uses it. This thread never ends,
/// so the signal comes exactly when the test process dies, however it dies.
fn spawn_watched(command: Command) -> io::Result<Child> {
    type Job = (Command, mpsc::SyncSender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kube9-spawner".to_string())
            .spawn(move || {
                for (mut command, reply) in queue {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the harness's spawner thread");
        jobs
    });
    let (reply, answer) = mpsc::sync_channel(1);
    spawner.send((command, reply)).map_err(|_| io::Error::other("the harness's spawner thread is gone"))?;
    answer.recv().map_err(|_| io::Error::other("the harness's spawner thread is gone"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ports_differ_and_leave_room_for_the_admin_grpc_port() {
        let (ports, held) = Ports::pick().unwrap();
        let all = [
            ports.s3,
            ports.s3_grpc,
            ports.master,
            ports.master_grpc,
            ports.volume,
            ports.volume_grpc,
            ports.filer,
            ports.filer_grpc,
            ports.admin,
            ports.admin + GRPC_PORT_OFFSET,
        ];
        assert_eq!(all.iter().collect::<std::collections::BTreeSet<_>>().len(), all.len(), "{all:?}");
        assert!(held.len() >= all.len());
        let args = ports.args();
        assert!(args.contains(&format!("-admin.port.grpc={}", ports.admin + GRPC_PORT_OFFSET)), "{args:?}");
    }

    #[test]
    fn the_ring_counts_once_the_s3_gateway_has_one_with_a_filer() {
        let s3 = "I1206 06:10:40.232918 masterclient.go:346 LockRing: s3@127.0.0.1:45501 received ring update \
                  v1796537440232526532: [127.0.0.1:45506.45507]";
        assert!(ring_received(s3));
        let filer = s3.replace("s3@", "filer@");
        assert!(!ring_received(&filer), "the filer's copy says nothing about the gateway");
        let empty = "I1206 06:10:40.2 masterclient.go:346 LockRing: s3@127.0.0.1:1 received ring update v1: []";
        assert!(!ring_received(empty));
    }

    #[test]
    fn the_grpc_sockets_are_read_from_the_log() {
        let log = "I1206 06:34:58.158096 grpc_client_server.go:160 gRPC also listening on Unix socket \
                   /tmp/seaweedfs-master-grpc-50141.sock\n\
                   I1206 06:34:59.434716 grpc_client_server.go:160 gRPC also listening on Unix socket \
                   /tmp/seaweedfs-admin-grpc-45669.sock\n\
                   I1206 06:34:59.5 x.go:1 gRPC also listening on Unix socket /etc/elsewhere.sock\n\
                   W1206 06:35:00.1 y.go:2 something else\n";
        assert_eq!(
            grpc_sockets_in(log),
            [
                PathBuf::from("/tmp/seaweedfs-master-grpc-50141.sock"),
                PathBuf::from("/tmp/seaweedfs-admin-grpc-45669.sock")
            ]
        );
    }

    #[test]
    fn a_listener_of_this_process_is_found_and_a_closed_one_is_not() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listens(std::process::id(), port));
        drop(listener);
        assert!(!listens(std::process::id(), port));
    }
}
