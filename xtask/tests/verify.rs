//! `serve` and `verify-repo` end to end, with the real binary and real Helm 3 and 4.
//!
//! Repositories are published into temporary folders, served by `serve` (in-process on
//! a free loopback port, and once as the real binary), then checked by `verify-repo`
//! and by Helm itself. Every check is also shown to fail on a repository broken in the
//! way it guards against.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use xtask::config::CachePolicy;
use xtask::layout::sha256_hex;
use xtask::verify::server::RepoServer;
use xtask::verify::{Status, VerifyOptions};
use xtask_dev::harness::Helm;

mod support;
use support::lossy;

const CHART: &str = "kube9-operator";
const PUBLIC_URL: &str = "https://charts.kube9.io";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn xtask(args: &[&str]) -> Output {
    support::run(args)
}

/// `verify-repo --url URL --allow-http --output json`: (exit ok, parsed report, stderr).
fn verify_json(url: &str, extra: &[&str]) -> (bool, serde_json::Value, String) {
    let mut args = vec!["verify-repo", "--url", url, "--output", "json"];
    args.extend_from_slice(extra);
    let output = xtask(&args);
    let stdout = lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!("verify-repo did not print a JSON report ({err}):\n{stdout}\n{}", lossy(&output.stderr))
    });
    (output.status.success(), report, lossy(&output.stderr))
}

fn check_status(report: &serde_json::Value, name: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .map_or_else(|| panic!("no check {name} in {report:#}"), |check| check["status"].as_str().unwrap().to_string())
}

fn failed_checks(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["status"] == "fail")
        .map(|check| check["name"].as_str().unwrap().to_string())
        .collect()
}

/// A copy of the operator chart (or, before it exists, a minimal chart with a
/// Deployment) at `version`, in a fresh folder.
fn chart_at(version: &str, parent: &Path) -> PathBuf {
    let dir = parent.join(format!("{CHART}-{version}"));
    let real = xtask::project::operator_chart_dir();
    if real.join("Chart.yaml").is_file() {
        copy_dir(&real, &dir);
        let chart_yaml = std::fs::read_to_string(dir.join("Chart.yaml")).unwrap();
        let rewritten: Vec<String> = chart_yaml
            .lines()
            .map(|line| {
                if line.starts_with("version:") {
                    format!("version: {version}")
                } else if line.starts_with("appVersion:") {
                    format!("appVersion: \"{version}\"")
                } else {
                    line.to_string()
                }
            })
            .collect();
        std::fs::write(dir.join("Chart.yaml"), rewritten.join("\n") + "\n").unwrap();
    } else {
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {CHART}\ndescription: The kube9 operator\ntype: application\n\
                 version: {version}\nappVersion: \"{version}\"\nsources:\n  - {PUBLIC_URL}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("values.yaml"), "image: ghcr.io/kube9/kube9-operator\n").unwrap();
        std::fs::write(
            dir.join("templates/deployment.yaml"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: 1\n  \
             selector:\n    matchLabels: {app: kube9-operator}\n  template:\n    metadata:\n      labels: {app: \
             kube9-operator}\n    spec:\n      containers:\n        - name: operator\n          image: \"{{ \
             .Values.image }}:{{ .Chart.AppVersion }}\"\n",
        )
        .unwrap();
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    xtask_dev::harness::copy_tree(from, to).unwrap();
}

/// The two versions a test repository holds, newest first: the operator crate's
/// version (the only one `release-chart` accepts for kube9-operator) and the next patch.
fn versions() -> [String; 2] {
    let manifest: toml::Table = std::fs::read_to_string(xtask::project::operator_manifest()).unwrap().parse().unwrap();
    let current: semver::Version = manifest["package"]["version"].as_str().unwrap().parse().unwrap();
    let next = semver::Version::new(current.major, current.minor, current.patch + 1);
    [next.to_string(), current.to_string()]
}

/// Publish two versions of the chart into `repo`, for `url`; returns them newest first.
/// The newer one is packaged and indexed by Helm itself (a repository some earlier tool
/// made), the current one is released into it by `release-chart --local`.
fn publish_two_versions(repo: &Path, url: &str) -> [String; 2] {
    let [next, current] = versions();
    let work = tempfile::tempdir().unwrap();
    let helm = Helm::v3().expect("Helm 3 (run `cargo xtask test` to provision it)");
    let newer = chart_at(&next, work.path());
    helm.run(&["package", newer.to_str().unwrap(), "--destination", repo.to_str().unwrap()]).unwrap();
    helm.run(&["repo", "index", repo.to_str().unwrap(), "--url", url]).unwrap();
    publish(&chart_at(&current, work.path()), repo, url);
    [next, current]
}

/// One release into a local folder with the real `release-chart --local`.
fn publish(chart: &Path, repo: &Path, url: &str) {
    let output =
        xtask(&["release-chart", "--chart", chart.to_str().unwrap(), "--local", repo.to_str().unwrap(), "--url", url]);
    assert!(output.status.success(), "release-chart --local failed:\n{}", lossy(&output.stderr));
}

/// A raw HTTP/1.1 request, exactly as written (no client-side path normalisation):
/// (status, head, body).
fn raw_request(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete HTTP head");
    let head = lossy(&response[..split]);
    let body = response[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

fn head_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}

#[test]
fn serve_answers_with_production_headers_and_refuses_traversal() {
    let rt = runtime();
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    std::fs::write(root.path().join("secret.txt"), "TOP SECRET").unwrap();
    std::fs::write(repo.join("index.yaml"), "apiVersion: v1\nentries: {}\n").unwrap();
    let package = b"\x1f\x8bnot really a chart".to_vec();
    std::fs::write(repo.join("demo-1.0.0.tgz"), &package).unwrap();
    for name in ["artifacthub-repo.yml", "pubkey.gpg", "pubkey.asc", "demo-1.0.0.tgz.prov"] {
        std::fs::write(repo.join(name), name).unwrap();
    }
    let server = rt.block_on(RepoServer::start(&repo, loopback(), CachePolicy::default())).unwrap();
    let addr = server.addr();

    // Regression: every root file is answered with the content type and cache policy the
    // S3 path stores it with (asserted on S3 in tests/release.rs), artifacthub-repo.yml as
    // YAML, not application/octet-stream.
    for (path, content_type, cache_control) in [
        ("/artifacthub-repo.yml", "application/x-yaml", "public, max-age=300"),
        ("/pubkey.gpg", "application/octet-stream", "public, max-age=300"),
        ("/pubkey.asc", "application/pgp-keys", "public, max-age=300"),
        ("/demo-1.0.0.tgz.prov", "text/plain; charset=utf-8", "public, max-age=31536000, immutable"),
    ] {
        let (status, head, _) = raw_request(addr, "GET", path, &[]);
        assert_eq!(status, 200, "{path}: {head}");
        assert_eq!(head_value(&head, "content-type").as_deref(), Some(content_type), "{path}: {head}");
        assert_eq!(head_value(&head, "cache-control").as_deref(), Some(cache_control), "{path}: {head}");
    }

    // index.yaml: short-lived YAML, HSTS, strong ETag.
    let (status, head, body) = raw_request(addr, "GET", "/index.yaml", &[]);
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, b"apiVersion: v1\nentries: {}\n");
    assert_eq!(head_value(&head, "cache-control").as_deref(), Some("public, max-age=300"));
    assert_eq!(head_value(&head, "content-type").as_deref(), Some("application/x-yaml"));
    assert_eq!(head_value(&head, "strict-transport-security").as_deref(), Some("max-age=31536000"));
    let etag = head_value(&head, "etag").unwrap();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&body)));

    // A matching If-None-Match answers 304 without a body; a stale one gets the file.
    let (status, head, body) = raw_request(addr, "GET", "/index.yaml", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(status, 304, "{head}");
    assert!(body.is_empty());
    assert_eq!(head_value(&head, "etag"), Some(etag.clone()));
    let (status, ..) = raw_request(addr, "GET", "/index.yaml", &["If-None-Match: \"stale\""]);
    assert_eq!(status, 200);

    // Packages: immutable gzip, never Content-Encoding, even when gzip is offered.
    let (status, head, body) = raw_request(addr, "GET", "/demo-1.0.0.tgz", &["Accept-Encoding: gzip"]);
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, package);
    assert_eq!(head_value(&head, "cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
    assert_eq!(head_value(&head, "content-type").as_deref(), Some("application/gzip"));
    assert_eq!(head_value(&head, "content-encoding"), None);
    assert_eq!(head_value(&head, "etag"), Some(format!("\"{}\"", sha256_hex(&package))));

    // HEAD: the same head, no body.
    let (status, head, body) = raw_request(addr, "HEAD", "/demo-1.0.0.tgz", &[]);
    assert_eq!(status, 200, "{head}");
    assert!(body.is_empty());
    assert_eq!(head_value(&head, "content-length"), Some(package.len().to_string()));

    // Missing files and folders are 404 (no listing); other methods 405.
    for path in ["/missing.tgz", "/", "/sub", "/sub/"] {
        let (status, head, _) = raw_request(addr, "GET", path, &[]);
        assert_eq!(status, 404, "{path}: {head}");
        assert!(head_value(&head, "strict-transport-security").is_some(), "{path}: {head}");
    }
    let (status, head, _) = raw_request(addr, "PUT", "/index.yaml", &[]);
    assert_eq!(status, 405, "{head}");

    // Traversal, plain or encoded, never reaches the secret next to the folder.
    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/C:/secret.txt",
    ] {
        let (status, head, body) = raw_request(addr, "GET", path, &[]);
        assert!(status == 400 || status == 404, "{path} answered {status}: {head}");
        assert!(!lossy(&body).contains("TOP SECRET"), "{path} leaked the secret");
    }
    rt.block_on(server.stop()).unwrap();
}

#[test]
fn serve_binary_prints_the_helm_line_and_stops_gracefully() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("index.yaml"), "apiVersion: v1\nentries: {}\n").unwrap();
    let mut child = support::xtask()
        .args(["serve", "--dir", repo.path().to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut helm_line = String::new();
    let mut seen = String::new();
    while helm_line.is_empty() {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "serve exited before printing the helm line:\n{seen}");
        seen.push_str(&line);
        if line.starts_with("helm repo add kube9 http://") {
            helm_line = line.trim().to_string();
        }
    }
    let addr: SocketAddr = helm_line.trim_start_matches("helm repo add kube9 http://").parse().unwrap();
    let (status, head, _) = raw_request(addr, "GET", "/index.yaml", &[]);
    assert_eq!(status, 200, "{head}");
    // The checked-in charts/repository.toml sets the index lifetime.
    assert_eq!(head_value(&head, "cache-control").as_deref(), Some("public, max-age=300"));

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "serve did not stop cleanly on SIGTERM: {status}");
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn published_repository_verifies_and_helm_3_and_4_use_it() {
    let rt = runtime();
    let repo = tempfile::tempdir().unwrap();
    let server = rt.block_on(RepoServer::start(repo.path(), loopback(), CachePolicy::default())).unwrap();
    let url = server.url();
    let [newer, older] = publish_two_versions(repo.path(), &url);

    // verify-repo passes, as text and as JSON.
    let output = xtask(&["verify-repo", "--url", &url, "--allow-http"]);
    let stdout = lossy(&output.stdout);
    assert!(output.status.success(), "verify-repo failed:\n{stdout}\n{}", lossy(&output.stderr));
    assert!(stdout.contains("All checks passed"), "{stdout}");
    assert!(stdout.contains(&format!("{CHART}  {newer}  app {newer}")), "{stdout}");
    let (ok, report, stderr) = verify_json(&url, &["--allow-http"]);
    assert!(ok, "{report:#}\n{stderr}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["charts"][0]["versions"], serde_json::json!([newer, older]));
    assert_eq!(report["charts"][0]["latest_stable"], newer.as_str());
    assert_eq!(report["charts"][0]["app_version"], newer.as_str());
    for package in report["packages"].as_array().unwrap() {
        assert_eq!(package["outcome"], "verified", "{package:#}");
    }
    for name in ["index-parse", "url-consistency", "chart-sources", "package-digest", "package-headers", "hsts"] {
        assert_eq!(check_status(&report, name), "pass", "{name}: {report:#}");
    }
    assert_eq!(check_status(&report, "https"), "skip");

    // --chart narrows the package checks; an unknown chart fails chart-present.
    let (ok, report, _) = verify_json(&url, &["--allow-http", "--chart", CHART]);
    assert!(ok, "{report:#}");
    assert_eq!(check_status(&report, "chart-present"), "pass");
    let (ok, report, _) = verify_json(&url, &["--allow-http", "--chart", "nope"]);
    assert!(!ok);
    assert!(failed_checks(&report).contains(&"chart-present".to_string()), "{report:#}");

    // What release-chart runs after publishing one version.
    let opts = VerifyOptions {
        allow_http: true,
        public_url: Some(PUBLIC_URL.to_string()),
        progress: false,
        ..VerifyOptions::default()
    };
    let release = rt.block_on(xtask::verify::verify_release(&url, CHART, &older, &opts)).unwrap();
    assert!(release.passed, "{}", release.render_text());
    assert_eq!(release.check("release-present").unwrap().status, Status::Pass);
    assert_eq!(release.packages.len(), 1);
    assert_eq!(release.packages[0].version, older);
    let unpublished = rt.block_on(xtask::verify::verify_release(&url, CHART, "99.0.0", &opts)).unwrap();
    assert_eq!(unpublished.check("release-present").unwrap().status, Status::Fail);
    let err = format!("{:#}", unpublished.into_result().unwrap_err());
    assert!(err.contains("release-present"), "{err}");

    // What Helm users see, with Helm 3 and Helm 4.
    let index: serde_yaml::Value =
        serde_yaml::from_slice(&std::fs::read(repo.path().join("index.yaml")).unwrap()).unwrap();
    for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test` to provision them)") {
        let major = helm.major;
        helm.run(&["repo", "add", "kube9", &url]).unwrap_or_else(|err| panic!("helm {major} repo add: {err:#}"));
        let search = helm.run(&["search", "repo", "kube9/", "--versions"]).unwrap();
        let rows: Vec<Vec<&str>> =
            search.lines().skip(1).map(|line| line.split_whitespace().collect::<Vec<_>>()).collect();
        assert_eq!(rows.len(), 2, "helm {major} search:\n{search}");
        assert_eq!(&rows[0][..3], ["kube9/kube9-operator", &newer, &newer], "helm {major} search:\n{search}");
        assert_eq!(&rows[1][..3], ["kube9/kube9-operator", &older, &older], "helm {major} search:\n{search}");

        let pulled = tempfile::tempdir().unwrap();
        helm.run(&[
            "pull",
            "kube9/kube9-operator",
            "--version",
            &older,
            "--destination",
            pulled.path().to_str().unwrap(),
        ])
        .unwrap();
        let bytes = std::fs::read(pulled.path().join(format!("kube9-operator-{older}.tgz"))).unwrap();
        let digest = index["entries"][CHART]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|entry| entry["version"] == older.as_str())
            .and_then(|entry| entry["digest"].as_str())
            .unwrap()
            .to_string();
        assert_eq!(sha256_hex(&bytes), digest, "helm {major} pulled other bytes than the index names");

        let rendered = helm.run(&["template", "kube9-operator", "kube9/kube9-operator"]).unwrap();
        assert!(rendered.contains("kind: Deployment"), "helm {major} template:\n{rendered}");
        assert!(
            rendered.contains(&format!(":{newer}")),
            "helm {major} template does not use the latest version:\n{rendered}"
        );
        // Helm 3 asks the cluster for its version even with --dry-run=client; Helm 4
        // renders an install without one.
        if major >= 4 {
            let installed = helm
                .run(&["install", "kube9-operator", "kube9/kube9-operator", "--version", &older, "--dry-run=client"])
                .unwrap();
            assert!(installed.contains("kind: Deployment"), "helm {major} install --dry-run=client:\n{installed}");
            assert!(installed.contains(&format!(":{older}")), "helm {major} installed another version:\n{installed}");
        }
    }
    rt.block_on(server.stop()).unwrap();
}

/// Serve a freshly published two-version repository, break it with `damage`, and
/// return verify-repo's verdict.
fn verify_damaged(damage: impl FnOnce(&Path, &str, &[String; 2])) -> (bool, serde_json::Value, String) {
    let rt = runtime();
    let repo = tempfile::tempdir().unwrap();
    let server = rt.block_on(RepoServer::start(repo.path(), loopback(), CachePolicy::default())).unwrap();
    let url = server.url();
    let versions = publish_two_versions(repo.path(), &url);
    damage(repo.path(), &url, &versions);
    let verdict = verify_json(&url, &["--allow-http"]);
    rt.block_on(server.stop()).unwrap();
    verdict
}

#[test]
fn a_tampered_package_fails_package_digest() {
    let (ok, report, stderr) = verify_damaged(|repo, _, [newer, _]| {
        // Same tar, recompressed: still a valid chart with the same Chart.yaml, other bytes.
        let path = repo.join(format!("kube9-operator-{newer}.tgz"));
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_end(&mut tar).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&tar).unwrap();
        encoder.write_all(&[0; 1024]).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
    });
    assert!(!ok);
    assert_eq!(failed_checks(&report), ["package-digest"], "{report:#}");
    assert!(stderr.contains("package-digest"), "{stderr}");
}

#[test]
fn an_index_url_pointing_elsewhere_fails_url_consistency() {
    let [_, older] = versions();
    let elsewhere = format!("https://elsewhere.example/kube9-operator-{older}.tgz");
    let (ok, report, stderr) = verify_damaged(|repo, url, _| {
        let index = std::fs::read_to_string(repo.join("index.yaml")).unwrap();
        let moved = index.replace(&format!("{url}/kube9-operator-{older}.tgz"), &elsewhere);
        assert_ne!(moved, index);
        std::fs::write(repo.join("index.yaml"), moved).unwrap();
    });
    assert!(!ok);
    assert_eq!(failed_checks(&report), ["url-consistency"], "{report:#}");
    assert!(stderr.contains("url-consistency"), "{stderr}");
    // The copy under the repository URL is still judged: it is there and intact.
    let moved = report["packages"].as_array().unwrap().iter().find(|p| p["version"] == older.as_str()).unwrap();
    assert_eq!(moved["index_url"], elsewhere.as_str());
    assert_eq!(moved["outcome"], "verified", "{moved:#}");
    assert!(moved["note"].as_str().unwrap().contains("outside the repository"), "{moved:#}");
}

#[test]
fn a_missing_package_fails_package_download() {
    let [_, older] = versions();
    let (ok, report, stderr) = verify_damaged(|repo, _, _| {
        std::fs::remove_file(repo.join(format!("kube9-operator-{older}.tgz"))).unwrap();
    });
    assert!(!ok);
    assert_eq!(failed_checks(&report), ["package-download"], "{report:#}");
    assert!(stderr.contains("package-download"), "{stderr}");
    let missing = report["packages"].as_array().unwrap().iter().find(|p| p["version"] == older.as_str()).unwrap();
    assert_eq!(missing["outcome"], "missing");
    assert_eq!(missing["http_status"], 404);
}

#[test]
fn a_plain_static_server_fails_the_header_checks() {
    let rt = runtime();
    let repo = tempfile::tempdir().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(loopback())).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    publish_two_versions(repo.path(), &url);
    // A static file server with none of our headers: octet-stream, no Cache-Control, no HSTS.
    let dir = repo.path().to_path_buf();
    let app = axum::Router::new().route(
        "/{file}",
        axum::routing::get(move |axum::extract::Path(file): axum::extract::Path<String>| {
            let dir = dir.clone();
            async move {
                match std::fs::read(dir.join(file.replace(['/', '\\'], ""))) {
                    Ok(bytes) => Ok(([("content-type", "application/octet-stream")], bytes)),
                    Err(_) => Err(axum::http::StatusCode::NOT_FOUND),
                }
            }
        }),
    );
    rt.spawn(async move { axum::serve(listener, app).await });
    let (ok, report, stderr) = verify_json(&url, &["--allow-http"]);
    assert!(!ok);
    // It has no landing page at `/` either.
    assert_eq!(failed_checks(&report), ["package-headers", "index-headers", "hsts", "landing-page"], "{report:#}");
    assert!(stderr.contains("index-headers") && stderr.contains("package-headers"), "{stderr}");
}

#[test]
fn a_plain_http_url_is_refused_without_allow_http() {
    let rt = runtime();
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("index.yaml"), "apiVersion: v1\nentries: {}\n").unwrap();
    let server = rt.block_on(RepoServer::start(repo.path(), loopback(), CachePolicy::default())).unwrap();
    let output = xtask(&["verify-repo", "--url", &server.url()]);
    assert!(!output.status.success());
    let stdout = lossy(&output.stdout);
    let stderr = lossy(&output.stderr);
    assert!(stdout.contains("FAIL  https") && stdout.contains("--allow-http"), "{stdout}");
    assert!(stderr.contains("1 check failed (https)"), "{stderr}");
    rt.block_on(server.stop()).unwrap();
}

#[test]
fn real_world_repository_reports_present_packages_verified_and_absent_ones_missing() {
    let fixtures = xtask::project::real_world_fixtures();
    assert!(fixtures.is_dir(), "the real-world fixtures ({}) are missing", fixtures.display());
    let rt = runtime();
    let repo = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures.join("mozilla-it-index.yaml"), repo.path().join("index.yaml")).unwrap();
    let mut present = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(fixtures.join("mozilla-it-charts")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), repo.path().join(&name)).unwrap();
        present.insert(name);
    }
    assert_eq!(present.len(), 24);
    let server = rt.block_on(RepoServer::start(repo.path(), loopback(), CachePolicy::default())).unwrap();

    let (ok, report, _) = verify_json(&server.url(), &["--allow-http"]);
    assert!(!ok);
    // The index points at GitHub, not at this server: consistency fails.
    assert_eq!(check_status(&report, "url-consistency"), "fail");
    assert_eq!(check_status(&report, "package-download"), "fail");
    // Every package in the folder is verified by content; every other one is missing.
    let packages = report["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 238);
    let mut verified = 0;
    for package in packages {
        let file = format!("{}-{}.tgz", package["chart"].as_str().unwrap(), package["version"].as_str().unwrap());
        if present.contains(&file) {
            assert_eq!(package["http_status"], 200, "{package:#}");
            assert!(package["sha256"].is_string(), "{package:#}");
            // Digest, Chart.yaml and headers all match; the note says where it was found.
            assert_eq!(package["outcome"], "verified", "{package:#}");
            assert!(package["note"].as_str().unwrap().contains("outside the repository"), "{package:#}");
            verified += 1;
        } else {
            assert_eq!(package["outcome"], "missing", "{package:#}");
            assert_eq!(package["http_status"], 404, "{package:#}");
        }
    }
    assert_eq!(verified, 24);
    assert_eq!(check_status(&report, "package-digest"), "pass", "{report:#}");
    assert_eq!(check_status(&report, "package-metadata"), "pass", "{report:#}");
    assert_eq!(check_status(&report, "package-headers"), "pass", "{report:#}");
    rt.block_on(server.stop()).unwrap();
}

/// A loopback address where nothing listens, for as long as the guard lives: a TCP
/// socket bound to a free port but never listening (connections to it are refused), so
/// no other test can take the port meanwhile.
struct Refusing {
    fd: i32,
    addr: SocketAddr,
}

impl Refusing {
    fn new() -> Refusing {
        // SAFETY: plain socket calls on a descriptor this struct owns and closes on drop.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let mut sin: libc::sockaddr_in = std::mem::zeroed();
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(libc::bind(fd, (&raw const sin).cast(), len), 0, "{}", std::io::Error::last_os_error());
            let mut len = len;
            assert_eq!(libc::getsockname(fd, (&raw mut sin).cast(), &mut len), 0);
            let addr = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, u16::from_be(sin.sin_port)));
            Refusing { fd, addr }
        }
    }
}

impl Drop for Refusing {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor `new` opened, once.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn nothing_listening_is_reported_once_with_a_hint_and_the_rest_is_not_run() {
    let refusing = Refusing::new();
    let url = format!("http://{}", refusing.addr);
    let output = xtask(&["verify-repo", "--url", &url, "--allow-http"]);
    let (stdout, stderr) = (lossy(&output.stdout), lossy(&output.stderr));
    assert!(!output.status.success());
    let all = format!("{stdout}{stderr}");
    assert_eq!(all.matches("Connection refused").count(), 1, "the cause once:\n{all}");
    assert_eq!(all.matches("is `cargo xtask serve` running?").count(), 1, "the hint once:\n{all}");
    let download = stdout.lines().find(|line| line.contains("index-download")).unwrap_or_default();
    assert!(download.trim_start().starts_with("FAIL"), "{stdout}");
    assert!(download.contains(&format!("cannot connect to {}", refusing.addr)), "{stdout}");
    for name in ["index-parse", "package-download", "hsts", "cdn", "missing-object"] {
        assert!(stdout.contains(&format!("NOT RUN  {name}")), "{name} must be NOT RUN:\n{stdout}");
    }
    assert!(!stdout.contains("served straight from the origin"), "{stdout}");
    assert!(!stdout.contains("PASS"), "{stdout}");
    assert_eq!(
        stderr.trim(),
        format!("error: verification of {url} failed: 1 check failed (index-download), 16 not run"),
        "the error names the checks and does not repeat the cause"
    );

    let (ok, report, stderr) = verify_json(&url, &["--allow-http"]);
    assert!(!ok && report["passed"] == false);
    assert_eq!(failed_checks(&report), ["index-download"], "{report:#}");
    for name in ["index-parse", "semver", "package-digest", "index-headers", "hsts", "cdn", "missing-object"] {
        assert_eq!(check_status(&report, name), "not-run", "{name}: {report:#}");
    }
    assert_eq!(check_status(&report, "https"), "skip", "plain http allowed by --allow-http");
    assert_eq!(stderr.matches("Connection refused").count(), 1, "behind JSON the error says the cause:\n{stderr}");
}

#[test]
fn a_host_that_does_not_resolve_never_passes_https() {
    // `.invalid` never resolves (RFC 6761). With no --url the config's domain is used.
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("repository.toml");
    std::fs::write(
        &config,
        "domain = \"charts.kube9.invalid\"\nhosted_zone = \"kube9.invalid\"\nbucket = \"kube9-charts\"\nregion = \
         \"us-east-1\"\n\n[tags]\nproject = \"kube9-operator\"\n",
    )
    .unwrap();
    let output = xtask(&["--config", config.to_str().unwrap(), "verify-repo", "--output", "json"]);
    let report: serde_json::Value = serde_json::from_str(&lossy(&output.stdout)).unwrap();
    assert!(!output.status.success());
    assert_eq!(check_status(&report, "https"), "not-run", "{report:#}");
    assert_eq!(check_status(&report, "https-redirect"), "not-run", "{report:#}");
    assert_eq!(failed_checks(&report), ["index-download"], "{report:#}");
    let download = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "index-download").unwrap();
    let summary = download["summary"].as_str().unwrap();
    assert!(summary.contains("cannot connect to charts.kube9.invalid:443"), "{summary}");
    assert!(summary.contains("check the URL and your network"), "{summary}");
    assert!(!summary.contains("cargo xtask serve"), "not a local URL: {summary}");
}

/// `serve --addr` elsewhere than the index's package URLs point: a warning naming both
/// URLs (Helm would download from the other one and fail).
#[test]
fn serve_warns_when_the_index_points_at_another_address() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let [_, current] = versions();
    let chart = chart_at(&current, work.path());
    // The default URL of `release-chart --local`.
    let output = xtask(&["release-chart", "--chart", chart.to_str().unwrap(), "--local", repo.to_str().unwrap()]);
    assert!(output.status.success(), "{}", lossy(&output.stderr));

    let mut child = support::xtask()
        .args(["serve", "--dir", repo.to_str().unwrap(), "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The warning is written before the "Serving" line; once that is out, stop.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut serving = String::new();
    while !serving.starts_with("Serving") {
        serving.clear();
        assert!(stdout.read_line(&mut serving).unwrap() > 0, "serve exited early");
    }
    let served = serving.split(" at ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(served.starts_with("http://127.0.0.1:") && served != "http://127.0.0.1:8879", "{served}");
    let warning = format!("names its packages under http://127.0.0.1:8879, but this server is {served}");
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
    assert!(stderr.contains("`helm pull` will fail"), "{stderr}");
}
