//! The health endpoints and shutdown behaviour the Helm chart's probes rely on, tested
//! both in-process and against the real binary.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};

use kube9_operator::{HealthServer, Readiness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 GET: (status code, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the health server");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

async fn start(readiness: Readiness) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = HealthServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), readiness).await.unwrap();
    let addr = server.local_addr().unwrap();
    assert_ne!(addr.port(), 0, "port 0 must resolve to a real port");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop, task)
}

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    let (addr, stop, task) = start(Readiness::new(true)).await;
    assert_eq!(get(addr, "/healthz").await, (200, "ok".to_string()));
    assert_eq!(get(addr, "/readyz").await, (200, "ready".to_string()));
    assert_eq!(get(addr, "/nope").await.0, 404);
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn readyz_answers_503_when_not_ready_while_healthz_stays_200() {
    let readiness = Readiness::new(true);
    let (addr, stop, task) = start(readiness.clone()).await;
    readiness.set_not_ready();
    assert_eq!(get(addr, "/readyz").await.0, 503);
    assert_eq!(get(addr, "/healthz").await.0, 200);
    readiness.set_ready();
    assert_eq!(get(addr, "/readyz").await.0, 200);
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_serving_and_clears_readiness() {
    let readiness = Readiness::new(true);
    let (addr, stop, task) = start(readiness.clone()).await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    stop.send(()).unwrap();
    task.await.unwrap();
    assert!(!readiness.is_ready(), "readiness must be false once shutdown began");
    // Another test of this binary may be spawning a process right now: between fork and
    // exec the child briefly holds a copy of every descriptor, our listener included, so
    // the socket can outlive the server by that instant. Wait it out (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the listener must be closed after shutdown");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[test]
fn version_flag_prints_the_crate_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_kube9-operator")).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), format!("kube9-operator {}", kube9_operator::VERSION));
}

#[test]
fn invalid_log_level_fails_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_kube9-operator"))
        .args(["--log-level", "info,=[", "--port", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid --log-level"), "{stderr}");
}

/// The real binary: JSON logs on stdout, probes answer, SIGTERM ends it with status 0.
#[tokio::test]
async fn binary_serves_probes_logs_json_and_exits_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube9-operator"))
        .args(["--port", "0", "--bind-address", "127.0.0.1"])
        .env_remove("KUBE9_PORT")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
    assert_eq!(log["message"], "listening", "{line}");
    assert_eq!(log["level"], "INFO", "{line}");
    assert_eq!(log["version"], kube9_operator::VERSION, "{line}");
    let addr: SocketAddr = log["addr"].as_str().unwrap().parse().unwrap();

    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/readyz").await.0, 200);

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM must end the operator with status 0, got {status}");
    let rest: Vec<serde_json::Value> =
        stdout.lines().map(|line| serde_json::from_str(&line.unwrap()).expect("every log line is JSON")).collect();
    let messages: Vec<&str> = rest.iter().filter_map(|log| log["message"].as_str()).collect();
    assert_eq!(messages, ["shutting down", "stopped"], "{rest:?}");
    assert_eq!(rest[0]["signal"], "SIGTERM");
}
