//! Real TLS end to end: a repository published and signed by the real `release-chart
//! --local` (with a throw-away key), served by the real `cargo xtask serve` behind a real
//! TLS terminator, Caddy with its internal CA (the harness's [`Caddy`]), as CloudFront
//! terminates TLS in front of S3 in production. `verify-repo` trusts only Caddy's root CA
//! (`SSL_CERT_FILE`), and names a certificate it cannot trust once; real Helm 3 and Helm 4
//! add the repository (`--ca-file`), search it and `pull --verify` over https.
//!
//! Only the redirect test needs port 80 (as root, like CI); without it, it says so and is
//! skipped, except under `CI=true`, where it fails. Every test name contains `tls`:
//! `cargo xtask test -- tls` runs them all.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use xtask::provenance::Keyring;
use xtask_dev::harness::{
    Caddy, CaddyPorts, Helm, TLS_HOST, TestKey, die_with_this_thread, generate_key, skip_unless_privileged,
};

mod support;
use support::{text, xtask};

const CHART: &str = "kube9-operator";
/// A second chart, released at two versions, so `search repo --versions` lists several.
const DEMO: &str = "kube9-tls-demo";
const DEMO_VERSIONS: [&str; 2] = ["1.0.0", "1.1.0"];
/// How rustls names a certificate it refuses: `invalid peer certificate: CAUSE`.
const REFUSED: &str = "invalid peer certificate: ";

/// The throw-away signing key (RSA: Helm 3 cannot verify anything else).
fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        generate_key(pgp::composed::KeyType::Rsa(2048), "kube9 tls test <tls@kube9.invalid>", None).unwrap()
    })
}

fn run(command: &mut Command) -> Output {
    support::output(command)
}

/// A repository folder released for `url` by the real `release-chart --local`: the
/// operator chart and two versions of a demo chart, each signed when `signed`.
struct Published {
    root: tempfile::TempDir,
    version: String,
}

impl Published {
    fn new(url: &str, signed: bool) -> Published {
        let root = tempfile::tempdir().unwrap();
        let version = support::operator_version();
        let published = Published { root, version };
        std::fs::create_dir_all(published.repo()).unwrap();
        let mut charts = vec![support::chart_at(published.root.path(), CHART, &published.version)];
        charts.extend(DEMO_VERSIONS.iter().map(|v| support::chart_at(published.root.path(), DEMO, v)));
        for chart in charts {
            let mut release = xtask();
            release.args(["release-chart", "--chart"]).arg(&chart).arg("--local").arg(published.repo());
            release.args(["--url", url]);
            if signed {
                release.env("KUBE9_SIGNING_KEY", &key().armored_secret);
            }
            let output = run(&mut release);
            assert!(output.status.success(), "release-chart --local {}:\n{}", chart.display(), text(&output));
        }
        published
    }

    fn repo(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    /// The published keyring (`pubkey.gpg`), as users download it.
    fn keyring(&self) -> PathBuf {
        let keyring = self.repo().join("pubkey.gpg");
        assert_eq!(Keyring::load(&keyring).unwrap().fingerprints(), [key().fingerprint.clone()]);
        keyring
    }
}

/// The real `cargo xtask serve` on a free loopback port, stopped on drop (and killed with
/// the test's thread).
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(published: &Published) -> Serve {
        let mut command = xtask();
        command.args(["serve", "--dir"]).arg(published.repo()).args(["--addr", "127.0.0.1:0"]);
        let log = std::fs::File::create(published.root.path().join("serve.log")).unwrap();
        command.stdout(Stdio::piped()).stderr(log);
        die_with_this_thread(&mut command);
        let mut child = command.spawn().expect("starting xtask serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // `Serving DIR at http://ADDR (Ctrl-C to stop)`
        let addr = line
            .split(" at http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("serve did not say where it listens: {line:?}"));
        Serve { child, addr }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `verify-repo --url URL ARGS` trusting exactly the CA certificates in `ca_file` (none:
/// the system's).
fn verify_repo(url: &str, ca_file: Option<&Path>, args: &[&str]) -> Output {
    let mut command = xtask();
    command.args(["verify-repo", "--url", url]).args(args);
    if let Some(ca_file) = ca_file {
        command.env("SSL_CERT_FILE", ca_file);
    }
    run(&mut command)
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("no JSON report ({err}):\n{}", text(output)))
}

/// (status, summary) of the check `name`.
fn check(report: &serde_json::Value, name: &str) -> (String, String) {
    let check = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name);
    let check = check.unwrap_or_else(|| panic!("no check {name} in {report:#}"));
    (check["status"].as_str().unwrap().to_string(), check["summary"].as_str().unwrap().to_string())
}

#[test]
fn tls_verify_repo_passes_https_redirect_and_hsts_behind_caddy() {
    let test = "tls_verify_repo_passes_https_redirect_and_hsts_behind_caddy";
    let Some(ports) = skip_unless_privileged(CaddyPorts::bind_with_redirect(), test).unwrap() else { return };
    let url = ports.https_url().unwrap();
    let published = Published::new(&url, true);
    let serve = Serve::start(&published);
    let caddy = ports.start(serve.addr).unwrap();
    let keyring = published.keyring();

    let output =
        verify_repo(caddy.url(), Some(caddy.root_ca()), &["--output", "json", "--keyring", keyring.to_str().unwrap()]);
    let report = report(&output);
    assert!(output.status.success(), "verify-repo through Caddy failed:\n{report:#}\n{}", text(&output));
    assert_eq!(report["passed"], true);
    let (status, summary) = check(&report, "https");
    assert_eq!(status, "pass", "{summary}");
    assert!(summary.contains("with a valid certificate"), "{summary}");
    let (status, summary) = check(&report, "https-redirect");
    assert_eq!(status, "pass", "{summary}");
    assert_eq!(summary, format!("http://{TLS_HOST}/index.yaml answered 301 Moved Permanently to {url}/index.yaml"));
    let (status, summary) = check(&report, "hsts");
    assert_eq!((status.as_str(), summary.as_str()), ("pass", "Strict-Transport-Security: max-age=31536000"));
    assert_eq!(check(&report, "package-provenance").0, "pass");
    assert_eq!(report["packages"].as_array().unwrap().len(), 3, "{report:#}");

    // The redirect leads somewhere real, and HSTS is sent once (Caddy's replaces serve's).
    let redirect = caddy.get(&format!("http://{TLS_HOST}/index.yaml")).unwrap();
    assert_eq!(redirect.status, 301);
    let location = redirect.values("location");
    assert_eq!(location, [format!("{url}/index.yaml")]);
    let index = caddy.get(location[0]).unwrap();
    assert_eq!(index.status, 200);
    assert_eq!(index.body, std::fs::read(published.repo().join("index.yaml")).unwrap());
    assert_eq!(index.values("strict-transport-security"), ["max-age=31536000"]);
}

#[test]
fn tls_untrusted_certificate_is_named_once() {
    let ports = CaddyPorts::bind().unwrap();
    let published = Published::new(&ports.https_url().unwrap(), false);
    let serve = Serve::start(&published);
    let caddy = ports.start(serve.addr).unwrap();
    // A second Caddy: another internal CA, which did not sign the first one's certificate.
    let other = CaddyPorts::bind().unwrap().start(serve.addr).unwrap();
    assert_ne!(std::fs::read(caddy.root_ca()).unwrap(), std::fs::read(other.root_ca()).unwrap());

    // Trusting Caddy's CA, `https` passes: what follows is about trust alone.
    let trusted = report(&verify_repo(caddy.url(), Some(caddy.root_ca()), &["--output", "json"]));
    assert_eq!(check(&trusted, "https").0, "pass", "{trusted:#}");

    // Every Caddy CA is named `Caddy Local Authority - YEAR ECC Root`: rustls finds a
    // trusted root of that name and its signature does not match (BadSignature); with no
    // root of that name, there is no issuer (UnknownIssuer).
    let causes = ["BadSignature", "UnknownIssuer"];
    for (what, ca_file) in [("another CA", Some(other.root_ca())), ("the system's CAs", None)] {
        let before = caddy.refused_handshakes();
        let output = verify_repo(caddy.url(), ca_file, &[]);
        let all = text(&output);
        assert!(!output.status.success(), "trusting {what}, verify-repo passed:\n{all}");
        assert_eq!(all.matches(REFUSED).count(), 1, "trusting {what}: the cause once:\n{all}");
        let cause = all.split(REFUSED).nth(1).unwrap().split(';').next().unwrap();
        assert!(causes.contains(&cause), "trusting {what}: {cause:?} is not one of {causes:?}:\n{all}");
        assert_eq!(all.matches(cause).count(), 1, "trusting {what}: the cause once:\n{all}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let https = stdout.lines().find(|line| line.contains(" https ")).unwrap_or_else(|| panic!("{stdout}"));
        assert!(https.trim_start().starts_with("FAIL"), "{https}");
        assert!(https.contains(&format!("the TLS certificate of {TLS_HOST}:")), "{https}");
        assert!(https.contains("SSL_CERT_FILE"), "the hint says what is trusted: {https}");
        assert!(stdout.contains("NOT RUN  index-download"), "{stdout}");
        assert!(all.contains("1 check failed (https)"), "{all}");
        // One connection, one refused handshake: a certificate failure is not retried.
        let refused = caddy.wait_for_refused_handshakes(before + 1).unwrap();
        assert_eq!(refused - before, 1, "trusting {what}, verify-repo tried more than once:\n{}", caddy.log());
    }
}

#[test]
fn tls_helm3_and_helm4_add_search_and_pull_verify_over_https() {
    let ports = CaddyPorts::bind().unwrap();
    let published = Published::new(&ports.https_url().unwrap(), true);
    let serve = Serve::start(&published);
    let caddy: Caddy = ports.start(serve.addr).unwrap();
    let keyring = published.keyring();
    let keyring = keyring.to_str().unwrap();
    let ca_file = caddy.root_ca().to_str().unwrap();
    let version = &published.version;
    let package = std::fs::read(published.repo().join(format!("{CHART}-{version}.tgz"))).unwrap();

    for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test`)") {
        let major = helm.major;
        // Without Caddy's CA, Helm refuses the certificate: this is real TLS.
        let refused = helm.run(&["repo", "add", "kube9", caddy.url()]).unwrap_err();
        assert!(
            format!("{refused:#}").contains("certificate signed by unknown authority"),
            "Helm {major}: {refused:#}"
        );

        helm.run(&["repo", "add", "kube9", caddy.url(), "--ca-file", ca_file]).unwrap();
        let found = helm.run(&["search", "repo", "kube9/", "--versions"]).unwrap();
        let listed: Vec<(&str, &str)> = found
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut columns = line.split_whitespace();
                Some((columns.next()?, columns.next()?))
            })
            .collect();
        let mut expected = vec![(format!("kube9/{CHART}"), version.clone())];
        expected.extend(DEMO_VERSIONS.iter().rev().map(|v| (format!("kube9/{DEMO}"), (*v).to_string())));
        let expected: Vec<(&str, &str)> = expected.iter().map(|(c, v)| (c.as_str(), v.as_str())).collect();
        assert_eq!(listed, expected, "Helm {major} search repo --versions:\n{found}");

        let dest = tempfile::tempdir().unwrap();
        let pulled = helm
            .run(&[
                "pull",
                &format!("kube9/{CHART}"),
                "--version",
                version,
                "--verify",
                "--keyring",
                keyring,
                "-d",
                dest.path().to_str().unwrap(),
            ])
            .unwrap();
        assert!(pulled.contains("Signed by: kube9 tls test"), "Helm {major} pull --verify: {pulled}");
        assert_eq!(std::fs::read(dest.path().join(format!("{CHART}-{version}.tgz"))).unwrap(), package);
    }
}
