//! Signed releases end to end: provenance files made by the real `package-chart` and
//! `release-chart --local` with a freshly generated key, verified by real Helm 3.17 and
//! Helm 4 (`verify`, `pull --verify` through the `serve` server, `install --verify`), by
//! `gpg --verify`, and by `verify-repo --keyring`; every way a `.prov` can be wrong is
//! refused by Helm and by `verify-repo`; the private key shows up nowhere.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use xtask::provenance::Keyring;
use xtask_dev::harness::{Helm, TestKey, generate_rsa_key, locate_gpg};

mod support;
use support::{Served, assert_ok, check, text};

const CHART: &str = "kube9-operator";
/// What Helm 3 and 4 say when no key of the keyring made the signature.
const FOREIGN: &str = "signature made by unknown entity";
const PASSPHRASE: &str = "test passphrase, not a secret";

fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate_rsa_key("kube9 release test <release@kube9.invalid>", Some(PASSPHRASE)).unwrap())
}

fn foreign_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate_rsa_key("not kube9 <other@example.invalid>", None).unwrap())
}

/// The real binary, with no signing key from the developer's environment.
fn xtask(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = support::xtask();
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = support::output(&mut command);
    assert_no_secret(&text(&output));
    output
}

/// `package-chart --chart CHART --out OUT --sign-key KEY`, with `env`.
fn package_signed(chart: &std::path::Path, out: &std::path::Path, key: &str, env: &[(&str, &str)]) -> Output {
    let (chart, out) = (chart.to_str().unwrap(), out.to_str().unwrap());
    xtask(&["package-chart", "--chart", chart, "--out", out, "--sign-key", key], env)
}

/// No line of an armored secret key that is not also public material appears in
/// `haystack` (the secret key packet starts with the public key, so some base64 lines
/// are shared with the public key and may appear), nor any private key block.
fn assert_no_secret(haystack: &str) {
    for test_key in [key(), foreign_key()] {
        let public = Keyring::new(vec![test_key.public.clone()]).to_armored().unwrap();
        let secret_only = test_key
            .armored_secret
            .lines()
            .filter(|l| l.len() >= 16 && !l.starts_with("-----") && !public.contains(*l));
        for line in secret_only {
            assert!(!haystack.contains(line), "a line of the private key appears in the output:\n{haystack}");
        }
    }
    assert!(!haystack.contains("PRIVATE KEY BLOCK"), "a private key block appears in the output");
    assert!(!haystack.contains(PASSPHRASE), "the passphrase appears in the output");
}

/// No file under `dir` holds the private key.
fn assert_no_secret_in_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_secret_in_files(&path);
        } else {
            assert_no_secret(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
}

/// Files holding the test keys: the armored secret key and binary keyrings.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.asc"), &key().armored_secret).unwrap();
        let ours = Keyring::new(vec![key().public.clone()]);
        std::fs::write(dir.path().join("pubring.gpg"), ours.to_binary().unwrap()).unwrap();
        std::fs::write(dir.path().join("pubkey.asc"), ours.to_armored().unwrap()).unwrap();
        let foreign = Keyring::new(vec![foreign_key().public.clone()]);
        std::fs::write(dir.path().join("foreign.gpg"), foreign.to_binary().unwrap()).unwrap();
        Keys { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

/// `helm pull --verify` of `version` from the repository at `url`, with Helm 3 and Helm 4,
/// must fail (each pulls into its own folder below `dest`).
fn pull_verify_is_refused_by_both_helms(url: &str, version: &str, keyring: &str, dest: &std::path::Path) {
    for helm in Helm::both().unwrap() {
        helm.run(&["repo", "add", "kube9", url]).unwrap();
        let dest = dest.join(helm.major.to_string());
        std::fs::create_dir_all(&dest).unwrap();
        let args = [
            "pull",
            "kube9/kube9-operator",
            "--version",
            version,
            "--verify",
            "--keyring",
            keyring,
            "-d",
            dest.to_str().unwrap(),
        ];
        helm_fails(&helm, &args, "");
    }
}

fn helm_fails(helm: &Helm, args: &[&str], needle: &str) {
    let output = helm.command().args(args).output().unwrap();
    let all = text(&output);
    assert!(!output.status.success(), "helm {} accepted `{}`:\n{all}", helm.major, args.join(" "));
    assert!(all.contains(needle), "helm {} `{}` failed without {needle:?}:\n{all}", helm.major, args.join(" "));
}

#[test]
fn package_chart_sign_key_is_verified_by_helm_3_and_4_and_gpg() {
    let keys = Keys::new();
    let work = tempfile::tempdir().unwrap();
    let chart = support::chart_at(work.path(), "signed-demo", "1.2.3");
    let out = work.path().join("out");
    let env = [("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];
    let packaged = package_signed(&chart, &out, &keys.path("secret.asc"), &env);
    assert_ok(&packaged);
    assert!(text(&packaged).contains(&format!("signed with key {}", key().fingerprint)), "{}", text(&packaged));
    let tgz = out.join("signed-demo-1.2.3.tgz");
    let prov = out.join("signed-demo-1.2.3.tgz.prov");
    let prov_text = std::fs::read_to_string(&prov).unwrap();
    assert!(prov_text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"), "{prov_text}");
    assert!(prov_text.contains("\n...\nfiles:\n  signed-demo-1.2.3.tgz: sha256:"), "{prov_text}");
    assert_no_secret_in_files(&out);

    // Without the passphrase the key cannot sign: a clear error, nothing signed.
    let no_passphrase = package_signed(&chart, &work.path().join("x"), &keys.path("secret.asc"), &[]);
    assert!(!no_passphrase.status.success());
    assert!(text(&no_passphrase).contains("KUBE9_SIGNING_PASSPHRASE"), "{}", text(&no_passphrase));

    let tgz_arg = tgz.to_str().unwrap();
    for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test`)") {
        let verified = helm.run(&["verify", tgz_arg, "--keyring", &keys.path("pubring.gpg")]).unwrap();
        assert!(verified.contains("Signed by: kube9 release test"), "helm {}: {verified}", helm.major);
        assert!(verified.contains("Using Key With Fingerprint"), "helm {}: {verified}", helm.major);
        helm_fails(&helm, &["verify", tgz_arg, "--keyring", &keys.path("foreign.gpg")], FOREIGN);
    }

    // gpg, an independent OpenPGP implementation, accepts the clear-signed message.
    let gpg = locate_gpg().expect("gpg (run `cargo xtask test`, which installs it)");
    let home = tempfile::tempdir().unwrap();
    let gpg_run = |args: &[&str]| {
        Command::new(&gpg).arg("--homedir").arg(home.path()).arg("--batch").args(args).output().unwrap()
    };
    assert_ok(&gpg_run(&["--import", &keys.path("pubkey.asc")]));
    let checked = gpg_run(&["--verify", prov.to_str().unwrap()]);
    assert_ok(&checked);
    assert!(text(&checked).contains("Good signature"), "{}", text(&checked));
    std::fs::write(work.path().join("tampered.prov"), prov_text.replace("version: 1.2.3", "version: 1.2.4")).unwrap();
    assert!(!gpg_run(&["--verify", work.path().join("tampered.prov").to_str().unwrap()]).status.success());
}

/// A key made by real gpg and exported the way people keep it, `gpg --export-secret-keys`
/// without `--armor` (binary, passphrase-protected; the form Helm's own `--keyring`
/// reads), signs through `--sign-key FILE` and, as a base64 text, through
/// `KUBE9_SIGNING_KEY`; Helm 3 and 4 verify both packages with gpg's public keyring. A
/// wrong passphrase stays a clear error that never echoes the passphrase.
#[test]
fn a_binary_gpg_secret_key_signs_from_a_file_and_as_base64_from_the_environment() {
    use base64::Engine as _;
    let gpg = locate_gpg().expect("gpg (run `cargo xtask test`, which installs it)");
    let home = tempfile::tempdir().unwrap();
    let gpg_run = |args: &[&str]| {
        let output = Command::new(&gpg)
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", PASSPHRASE])
            .args(args)
            .output()
            .unwrap();
        assert_ok(&output);
        output.stdout
    };
    gpg_run(&["--quick-generate-key", "kube9 gpg test <gpg@kube9.invalid>", "rsa3072", "sign", "never"]);
    let listed = String::from_utf8(gpg_run(&["--with-colons", "--list-secret-keys"])).unwrap();
    let fingerprint = listed.lines().find_map(|l| l.strip_prefix("fpr:")).unwrap().trim_matches(':').to_string();
    let secret = gpg_run(&["--export-secret-keys", &fingerprint]);
    assert!(secret[0] & 0x80 != 0, "gpg exported armored text, not a binary key");
    let work = tempfile::tempdir().unwrap();
    let secret_file = work.path().join("secret.gpg");
    std::fs::write(&secret_file, &secret).unwrap();
    let pubring = work.path().join("pubring.gpg");
    std::fs::write(&pubring, gpg_run(&["--export", &fingerprint])).unwrap();
    let chart = support::chart_at(work.path(), "binary-key-demo", "1.0.0");

    let from_file = work.path().join("from-file");
    let with_passphrase = [("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];
    let packaged = package_signed(&chart, &from_file, secret_file.to_str().unwrap(), &with_passphrase);
    assert_ok(&packaged);
    assert!(text(&packaged).contains(&format!("signed with key {fingerprint}")), "{}", text(&packaged));

    let from_env = work.path().join("from-env");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
    let env = [("KUBE9_SIGNING_KEY", encoded.as_str()), ("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];
    let chart_arg = chart.to_str().unwrap();
    assert_ok(&xtask(&["package-chart", "--chart", chart_arg, "--out", from_env.to_str().unwrap()], &env));

    for dir in [&from_file, &from_env] {
        let tgz = dir.join("binary-key-demo-1.0.0.tgz");
        assert!(dir.join("binary-key-demo-1.0.0.tgz.prov").is_file());
        for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test`)") {
            let verified = helm.run(&["verify", tgz.to_str().unwrap(), "--keyring", pubring.to_str().unwrap()]);
            let verified = verified.unwrap_or_else(|err| panic!("helm {}: {err:#}", helm.major));
            assert!(verified.contains("Signed by: kube9 gpg test"), "helm {}: {verified}", helm.major);
        }
    }

    let wrong_passphrase = "not the passphrase 7f3a";
    let wrong = package_signed(
        &chart,
        &work.path().join("wrong"),
        secret_file.to_str().unwrap(),
        &[("KUBE9_SIGNING_PASSPHRASE", wrong_passphrase)],
    );
    assert!(!wrong.status.success(), "a wrong passphrase signed");
    let said = text(&wrong);
    assert!(said.contains("check the passphrase") && !said.contains(wrong_passphrase), "{said}");
    assert!(!work.path().join("wrong").join("binary-key-demo-1.0.0.tgz.prov").exists());
    // The base64 text must not leak into the error either.
    let env = [("KUBE9_SIGNING_KEY", encoded.as_str()), ("KUBE9_SIGNING_PASSPHRASE", wrong_passphrase)];
    let wrong =
        xtask(&["package-chart", "--chart", chart_arg, "--out", work.path().join("w2").to_str().unwrap()], &env);
    let said = text(&wrong);
    assert!(!wrong.status.success() && !said.contains(&encoded[..40]) && !said.contains(wrong_passphrase), "{said}");
}

/// What the provenance tests do with a served repository.
impl Served {
    fn release(&self, chart: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args =
            vec!["release-chart", "--chart", chart.to_str().unwrap(), "--local", self.repo.to_str().unwrap()];
        args.extend_from_slice(&["--url", &self.url]);
        args.extend_from_slice(extra);
        xtask(&args, env)
    }

    fn verify_repo(&self, keyring: &str) -> (bool, serde_json::Value) {
        let output =
            xtask(&["verify-repo", "--url", &self.url, "--allow-http", "--output", "json", "--keyring", keyring], &[]);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", text(&output)));
        (output.status.success(), report)
    }
}

#[test]
fn a_signed_local_release_is_verified_by_helm_pull_install_and_verify_repo() {
    let keys = Keys::new();
    let served = Served::new();
    let work = tempfile::tempdir().unwrap();
    let version = support::operator_version();
    let chart = support::chart_at(work.path(), CHART, &version);
    // The key from the environment alone turns signing on (as in CI).
    let env = [("KUBE9_SIGNING_KEY", key().armored_secret.as_str()), ("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];

    let dry = served.release(&chart, &["--dry-run"], &env);
    assert_ok(&dry);
    assert!(text(&dry).contains("-----BEGIN PGP SIGNED MESSAGE-----"), "the dry run shows the .prov:\n{}", text(&dry));
    assert!(std::fs::read_dir(&served.repo).unwrap().next().is_none(), "a dry run writes nothing");

    let released = served.release(&chart, &[], &env);
    assert_ok(&released);
    let summary = text(&released);
    assert!(summary.contains(&format!("signing key    {}", key().fingerprint)), "{summary}");
    let file = format!("{CHART}-{version}.tgz");
    let prov_path = served.path(&format!("{file}.prov"));
    let prov = std::fs::read(&prov_path).unwrap();
    let published = Keyring::load(&served.path("pubkey.gpg")).unwrap();
    assert_eq!(published.fingerprints(), vec![key().fingerprint.clone()]);
    let armored = std::fs::read_to_string(served.path("pubkey.asc")).unwrap();
    assert!(armored.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"), "{armored}");
    assert_no_secret_in_files(&served.repo);

    // A re-run neither signs again nor rewrites the stored .prov.
    let again = served.release(&chart, &[], &env);
    assert_ok(&again);
    assert!(text(&again).contains("already present (kept, not signed again)"), "{}", text(&again));
    assert_eq!(std::fs::read(&prov_path).unwrap(), prov);

    // Users: fetch the keyring, add the repository, pull and install with --verify.
    let keyring = served.path("pubkey.gpg");
    let keyring = keyring.to_str().unwrap();
    let dest = work.path().join("pulled");
    for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test`)") {
        helm.run(&["repo", "add", "kube9", &served.url]).unwrap();
        let dest = dest.join(helm.major.to_string());
        std::fs::create_dir_all(&dest).unwrap();
        let pulled = helm
            .run(&[
                "pull",
                "kube9/kube9-operator",
                "--version",
                &version,
                "--verify",
                "--keyring",
                keyring,
                "-d",
                dest.to_str().unwrap(),
            ])
            .unwrap();
        assert!(pulled.contains("Signed by: kube9 release test"), "helm {} pull --verify: {pulled}", helm.major);
        helm_fails(
            &helm,
            &[
                "pull",
                "kube9/kube9-operator",
                "--version",
                &version,
                "--verify",
                "--keyring",
                &keys.path("foreign.gpg"),
                "-d",
                dest.to_str().unwrap(),
            ],
            "",
        );
        if helm.major == 4 {
            // --dry-run=client renders without a cluster: the no-cluster KUBECONFIG of `Helm` suffices.
            let installed = helm
                .run(&[
                    "install",
                    "kube9-operator",
                    "kube9/kube9-operator",
                    "--version",
                    &version,
                    "--verify",
                    "--keyring",
                    keyring,
                    "--dry-run=client",
                ])
                .unwrap();
            assert!(installed.contains("kind: Deployment"), "{installed}");
            helm_fails(
                &helm,
                &[
                    "install",
                    "kube9-operator",
                    "kube9/kube9-operator",
                    "--version",
                    &version,
                    "--verify",
                    "--keyring",
                    &keys.path("foreign.gpg"),
                    "--dry-run=client",
                ],
                "",
            );
        }
    }

    let (ok, report) = served.verify_repo(keyring);
    assert!(ok, "{report:#}");
    assert_eq!(check(&report, "package-provenance").0, "pass");
    let (ok, report) = served.verify_repo(&keys.path("foreign.gpg"));
    let (status, evidence) = check(&report, "package-provenance");
    assert!(!ok && status == "fail" && evidence.contains(&format!("{file}.prov")), "{report:#}");

    // Tampered: helm and verify-repo refuse it, naming the file.
    let tampered = String::from_utf8(prov.clone()).unwrap().replace("description:", "description: (changed)");
    std::fs::write(&prov_path, tampered).unwrap();
    let (ok, report) = served.verify_repo(keyring);
    let (status, evidence) = check(&report, "package-provenance");
    assert!(!ok && status == "fail" && evidence.contains("does not verify"), "{report:#}");
    pull_verify_is_refused_by_both_helms(&served.url, &version, keyring, &work.path().join("tampered"));

    // Missing: the same.
    std::fs::remove_file(&prov_path).unwrap();
    let (ok, report) = served.verify_repo(keyring);
    let (status, evidence) = check(&report, "package-provenance");
    assert!(!ok && status == "fail" && evidence.contains("is missing"), "{report:#}");
    pull_verify_is_refused_by_both_helms(&served.url, &version, keyring, &work.path().join("missing"));
    drop(served);
}

/// The landing page of a signed repository tells users how to verify: the signing key's
/// fingerprint, links to both public key files, and the `helm install --verify` command,
/// which works as the page writes it (the keyring fetched from the URL it gives).
#[test]
fn the_landing_page_of_a_signed_repository_tells_users_how_to_verify() {
    let served = Served::new();
    let work = tempfile::tempdir().unwrap();
    let version = support::operator_version();
    let chart = support::chart_at(work.path(), CHART, &version);
    let env = [("KUBE9_SIGNING_KEY", key().armored_secret.as_str()), ("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];
    assert_ok(&served.release(&chart, &[], &env));
    let page = std::fs::read_to_string(served.path("index.html")).unwrap();
    let fingerprint = &key().fingerprint;
    assert!(page.contains(&format!("<code data-fingerprint=\"{fingerprint}\">{fingerprint}</code>")), "{page}");
    assert!(page.contains("<a href=\"pubkey.asc\">") && page.contains("<a href=\"pubkey.gpg\">"), "{page}");

    // The commands as people copy them off the page: fetch the keyring, install with --verify.
    let block = page.split("<code>curl ").nth(1).and_then(|rest| rest.split("</code>").next()).expect("a curl line");
    let lines: Vec<&str> = block.lines().collect();
    let curl: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(curl[..2], ["-fsSLo", "kube9-pubkey.gpg"], "{block}");
    assert_eq!(curl[2], format!("{}/pubkey.gpg", served.url), "the keyring is linked where it is served");
    let url = reqwest::Url::parse(curl[2]).unwrap();
    let client = xtask::verify::client::AnonymousClient::new().unwrap();
    let fetched = served.rt.block_on(client.get(&url)).unwrap();
    assert_eq!(fetched.status, 200);
    // The published keyring where users saved it, and a foreign one under the same name:
    // the same command must pass with the first and fail with the second.
    let users = tempfile::tempdir().unwrap();
    std::fs::write(users.path().join(curl[1]), &fetched.body).unwrap();
    let strangers = tempfile::tempdir().unwrap();
    let foreign = Keyring::new(vec![foreign_key().public.clone()]).to_binary().unwrap();
    std::fs::write(strangers.path().join(curl[1]), foreign).unwrap();
    let install = lines[1].strip_prefix("helm ").expect("a helm line");
    assert_eq!(install, "install kube9-operator kube9/kube9-operator --verify --keyring kube9-pubkey.gpg");
    for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test`)") {
        helm.run(&["repo", "add", "kube9", &served.url]).unwrap();
        let run_in = |dir: &Path| {
            let mut command = helm.command();
            command.current_dir(dir);
            if helm.major == 4 {
                // The page's command as written; --dry-run=client renders without a cluster.
                command.args(install.split_whitespace()).arg("--dry-run=client");
            } else {
                // Helm 3 verifies the same way on pull, which needs no cluster.
                let keyring = install.split_whitespace().skip_while(|a| *a != "--keyring").nth(1).unwrap();
                let dest = dir.join("helm3");
                std::fs::create_dir_all(&dest).unwrap();
                command.args(["pull", "kube9/kube9-operator", "--verify", "--keyring", keyring, "-d"]).arg(&dest);
            }
            command.output().unwrap()
        };
        assert_ok(&run_in(users.path()));
        let refused = run_in(strangers.path());
        assert!(!refused.status.success(), "helm {} verified with a foreign key: {}", helm.major, text(&refused));
    }
    drop(served);
}

#[test]
fn a_version_published_unsigned_is_signed_only_with_sign_existing() {
    let keys = Keys::new();
    let served = Served::new();
    let work = tempfile::tempdir().unwrap();
    let chart = support::chart_at(work.path(), "unsigned-first", "2.0.0");
    let prov_path = served.path("unsigned-first-2.0.0.tgz.prov");
    assert_ok(&served.release(&chart, &[], &[]));
    assert!(!prov_path.exists());

    let env = [("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];
    let sign_key = keys.path("secret.asc");
    let signed = served.release(&chart, &["--sign-key", &sign_key], &env);
    assert_ok(&signed);
    assert!(text(&signed).contains("--sign-existing"), "{}", text(&signed));
    assert!(!prov_path.exists(), "a version published unsigned is not signed without --sign-existing");

    let dry = served.release(&chart, &["--sign-key", &sign_key, "--sign-existing", "--dry-run"], &env);
    assert_ok(&dry);
    assert!(text(&dry).contains("would sign and add"), "{}", text(&dry));
    assert!(!prov_path.exists());

    let added = served.release(&chart, &["--sign-key", &sign_key, "--sign-existing"], &env);
    assert_ok(&added);
    assert!(prov_path.exists(), "{}", text(&added));
    let (ok, report) = served.verify_repo(served.path("pubkey.gpg").to_str().unwrap());
    assert!(ok, "{report:#}");

    // Key rotation: a release signed by a new key adds it to the published keys, and the
    // version signed by the old key still verifies with them.
    let rotated = tempfile::tempdir().unwrap();
    std::fs::write(rotated.path().join("new.asc"), &foreign_key().armored_secret).unwrap();
    let newer = support::chart_at(work.path(), "unsigned-first", "2.1.0");
    let new_key = rotated.path().join("new.asc");
    assert_ok(&served.release(&newer, &["--sign-key", new_key.to_str().unwrap()], &[]));
    let published = Keyring::load(&served.path("pubkey.gpg")).unwrap();
    assert_eq!(published.fingerprints(), vec![key().fingerprint.clone(), foreign_key().fingerprint.clone()]);
    let (ok, report) = served.verify_repo(served.path("pubkey.gpg").to_str().unwrap());
    assert!(ok, "{report:#}");
    // A keyring with only the old key does not vouch for the version the new key signed.
    let (ok, report) = served.verify_repo(&keys.path("pubring.gpg"));
    assert!(!ok, "{report:#}");
    drop(served);
}

/// Ed25519 is offered for Helm 4 only, with a warning: Helm 4 verifies it, Helm 3's
/// OpenPGP library cannot.
#[test]
fn an_ed25519_key_warns_verifies_with_helm_4_and_not_with_helm_3() {
    let ed =
        xtask_dev::harness::generate_key(pgp::composed::KeyType::Ed25519Legacy, "ed <ed@kube9.invalid>", None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ed.asc"), &ed.armored_secret).unwrap();
    std::fs::write(dir.path().join("ed.gpg"), Keyring::new(vec![ed.public.clone()]).to_binary().unwrap()).unwrap();
    let chart = support::chart_at(dir.path(), "ed-demo", "1.0.0");
    let out = dir.path().join("out");
    let sign_key = dir.path().join("ed.asc");
    let packaged = package_signed(&chart, &out, sign_key.to_str().unwrap(), &[]);
    assert_ok(&packaged);
    assert!(text(&packaged).contains("Helm 3 (golang.org/x/crypto/openpgp) cannot"), "{}", text(&packaged));
    let tgz = out.join("ed-demo-1.0.0.tgz");
    let keyring = dir.path().join("ed.gpg");
    let args = ["verify", tgz.to_str().unwrap(), "--keyring", keyring.to_str().unwrap()];
    Helm::v4().unwrap().run(&args).unwrap();
    assert!(!Helm::v3().unwrap().command().args(args).output().unwrap().status.success());
}
