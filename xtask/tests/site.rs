//! The repository for people and at scale, end to end: the JSON index with real Helm 3 and
//! Helm 4, switching formats, and the landing page (served by `serve`, checked by
//! `verify-repo`, rendered by headless Chromium).

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask::config::CachePolicy;
use xtask::index::RepoIndex;
use xtask::layout::IndexFormat;
use xtask::verify::server::RepoServer;
use xtask_dev::harness::Helm;

mod support;
use support::ok;

const CHART: &str = "kube9-operator";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn xtask(args: &[&str]) -> Output {
    support::run(args)
}

/// The checked-in config with `[index] format` set to `format`, in `dir`.
fn config_with_format(dir: &Path, format: &str) -> PathBuf {
    let text = std::fs::read_to_string(xtask::project::default_config_path()).unwrap();
    let text = text.replace("format = \"yaml\"", &format!("format = \"{format}\""));
    assert!(text.contains(&format!("format = \"{format}\"")), "the checked-in config has no [index] format");
    let path = dir.join(format!("repository-{format}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `release-chart --local` of the operator chart into `repo` for `url`, with `config`.
fn release(repo: &Path, url: &str, config: &Path) {
    ok(
        xtask(&[
            "--config",
            config.to_str().unwrap(),
            "release-chart",
            "--local",
            repo.to_str().unwrap(),
            "--url",
            url,
        ]),
        "release-chart --local",
    );
}

fn created_times(index: &RepoIndex) -> Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    index.entries.values().flatten().map(|e| (e.version().to_string(), e.created)).collect()
}

/// A scratch folder with an empty `repo/` served by `RepoServer` (what `serve` runs) on a
/// free loopback port.
fn served_repo(rt: &tokio::runtime::Runtime) -> (tempfile::TempDir, PathBuf, RepoServer) {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let server = rt.block_on(RepoServer::start(&repo, "127.0.0.1:0".parse().unwrap(), CachePolicy::default())).unwrap();
    (work, repo, server)
}

#[test]
fn a_json_index_works_with_helm_3_and_4_and_switching_formats_keeps_every_entry() {
    let rt = runtime();
    let (work, repo, server) = served_repo(&rt);
    let url = server.url();
    let json_config = config_with_format(work.path(), "json");
    let yaml_config = config_with_format(work.path(), "yaml");
    release(&repo, &url, &json_config);

    let bytes = std::fs::read(repo.join("index.yaml")).unwrap();
    assert_eq!(bytes[0], b'{', "release-chart with [index] format = \"json\" wrote no JSON index");
    serde_json::from_slice::<serde_json::Value>(&bytes).expect("valid JSON: Helm takes its encoding/json path");
    let json_index = RepoIndex::parse(&bytes).unwrap();
    let version = support::operator_version();

    for helm in Helm::both().unwrap() {
        helm.run(&["repo", "add", "kube9", &url]).unwrap();
        let search = helm.run(&["search", "repo", "kube9", "--versions"]).unwrap();
        assert!(
            search.contains(&format!("kube9/{CHART}")) && search.contains(&version),
            "Helm {}: {search}",
            helm.major
        );
        let dest = tempfile::tempdir().unwrap();
        helm.run(&["pull", &format!("kube9/{CHART}"), "--version", &version, "-d", dest.path().to_str().unwrap()])
            .unwrap();
        let pulled = std::fs::read(dest.path().join(format!("{CHART}-{version}.tgz"))).unwrap();
        assert_eq!(xtask::layout::sha256_hex(&pulled), json_index.get(CHART, &version).unwrap().digest);
        let manifest = helm.run(&["template", "demo", &format!("kube9/{CHART}"), "--version", &version]).unwrap();
        assert!(manifest.contains("kind: Deployment"), "Helm {}: {manifest}", helm.major);
    }
    let verify = ok(xtask(&["verify-repo", "--url", &url, "--allow-http"]), "verify-repo on the JSON index");
    assert!(verify.contains("All checks passed"), "{verify}");

    // Back to YAML (reindex rewrites in the configured format), then repo-index --format
    // json: every entry and its `created` survive each switch.
    ok(
        xtask(&[
            "--config",
            yaml_config.to_str().unwrap(),
            "reindex",
            "--local",
            repo.to_str().unwrap(),
            "--url",
            &url,
        ]),
        "reindex",
    );
    let yaml = std::fs::read(repo.join("index.yaml")).unwrap();
    assert_eq!(IndexFormat::of(&yaml), IndexFormat::Yaml);
    let yaml_index = RepoIndex::parse(&yaml).unwrap();
    assert_eq!(yaml_index.entries, json_index.entries);
    ok(xtask(&["repo-index", repo.to_str().unwrap(), "--url", &url, "--format", "json"]), "repo-index --format json");
    let again = RepoIndex::parse(&std::fs::read(repo.join("index.yaml")).unwrap()).unwrap();
    assert_eq!(created_times(&again), created_times(&json_index));
    assert_eq!(again.entries, json_index.entries);
    rt.block_on(server.stop()).unwrap();
}

#[test]
fn verify_repo_fails_when_the_landing_page_lags_behind_the_index() {
    let rt = runtime();
    let (work, repo, server) = served_repo(&rt);
    let url = server.url();
    release(&repo, &url, &xtask::project::default_config_path());
    let page = std::fs::read_to_string(repo.join("index.html")).unwrap();
    assert!(page.contains(&format!("data-version=\"{}\"", support::operator_version())), "{page}");
    ok(xtask(&["verify-repo", "--url", &url, "--allow-http"]), "verify-repo");

    // Another version lands in the index, but the page is the old one.
    let helm = Helm::v3().unwrap();
    let chart = work.path().join("other");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: other\nversion: 2.0.0\nsources: [{url}]\n"),
    )
    .unwrap();
    helm.run(&["package", chart.to_str().unwrap(), "-d", repo.to_str().unwrap()]).unwrap();
    ok(xtask(&["repo-index", repo.to_str().unwrap(), "--url", &url]), "repo-index");
    let output = xtask(&["verify-repo", "--url", &url, "--allow-http"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "verify-repo passed with a stale page:\n{stdout}");
    assert!(stdout.contains("FAIL  landing-page"), "{stdout}");
    assert!(stdout.contains("other 2.0.0"), "the failure names the missing version: {stdout}");

    // reindex regenerates the page from the index: verify passes again.
    ok(xtask(&["reindex", "--local", repo.to_str().unwrap(), "--url", &url]), "reindex");
    ok(xtask(&["verify-repo", "--url", &url, "--allow-http"]), "verify-repo after reindex");
    rt.block_on(server.stop()).unwrap();
}

/// Headless Chromium with a fresh profile and nothing that talks to the network.
fn chromium(profile: &Path, args: &[&str]) -> Output {
    let bin =
        xtask_dev::harness::locate_chromium().expect("headless Chromium (run `cargo xtask test` to provision it)");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("running chromium")
}

/// Console messages and CSP violations Chromium logged.
fn console_problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Content Security Policy") || l.contains("Refused to"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_landing_page_renders_in_headless_chromium() {
    let rt = runtime();
    let (work, repo, server) = served_repo(&rt);
    let url = server.url();
    release(&repo, &url, &xtask::project::default_config_path());
    let version = support::operator_version();
    let root = format!("{url}/");

    let dom = chromium(&work.path().join("profile-dom"), &["--dump-dom", &root]);
    let html = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed: {stderr}");
    assert!(html.contains("<h1>kube9 Helm chart repository</h1>"), "{html}");
    assert!(html.contains(&format!("<tr data-chart=\"{CHART}\" data-version=\"{version}\">")), "{html}");
    assert!(html.contains(&format!("helm repo add kube9 {url}")), "{html}");
    assert!(html.contains("<th scope=\"col\">App version</th>"), "{html}");
    assert_eq!(console_problems(&stderr), Vec::<String>::new(), "the page logged to the console");

    // The console check can fail: a page with a script blocked by the same kind of CSP.
    let control = work.path().join("control.html");
    std::fs::write(
        &control,
        "<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">\
         <p>control</p><script>console.error('control')</script>",
    )
    .unwrap();
    let bad = chromium(&work.path().join("profile-control"), &["--dump-dom", &format!("file://{}", control.display())]);
    assert!(!console_problems(&String::from_utf8_lossy(&bad.stderr)).is_empty(), "the console check sees nothing");

    // Screenshots (kept under target/ as test artifacts): a desktop and a phone width.
    let artifacts = xtask::project::target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (name, size) in [("landing-desktop.png", "1280,900"), ("landing-phone.png", "390,844")] {
        let file = artifacts.join(name);
        let _ = std::fs::remove_file(&file);
        let shot = chromium(
            &work.path().join(format!("profile-{name}")),
            &[
                &format!("--screenshot={}", file.display()),
                &format!("--window-size={size}"),
                "--hide-scrollbars",
                &root,
            ],
        );
        assert!(shot.status.success(), "screenshot {name}: {}", String::from_utf8_lossy(&shot.stderr));
        let png = std::fs::read(&file).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name} is not a real screenshot");
    }
    rt.block_on(server.stop()).unwrap();
}
