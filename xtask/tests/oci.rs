//! The OCI channel end to end, against a real registry (the CNCF distribution registry
//! from Debian's `docker-registry` package, open and with basic auth): `release-chart
//! --oci` pushes the very bytes of the HTTP repository, laid out as `helm push` lays them
//! out; real Helm 3.17 and Helm 4 pull, show, template, verify and install them from
//! `oci://`; a re-run is a no-op, other content under a published tag is refused, a tag
//! replaced behind our back fails `verify-repo`'s `oci` check, and `image` resolves the
//! image a chart deploys in that registry.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use xtask::index::RepoIndex;
use xtask::oci::Registry;
use xtask::oci::artifact::{
    ARTIFACTHUB_CONFIG, ARTIFACTHUB_LAYER, HELM_CHART_CONTENT, HELM_CONFIG, HELM_PROVENANCE, Manifest,
};
use xtask_dev::harness::{
    Helm, OciRegistry, Proxy, REGISTRY_PASSWORD, REGISTRY_USERNAME, RegistryAuth, TestKey, generate_rsa_key,
};

mod support;
use support::{Served, assert_ok, check, text};

const CHART: &str = "kube9-operator";
const PASSPHRASE: &str = "test passphrase, not a secret";

fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate_rsa_key("kube9 oci test <oci@kube9.invalid>", Some(PASSPHRASE)).unwrap())
}

/// A local repository served on a loopback port, and a registry.
struct Setup {
    served: Served,
    registry: OciRegistry,
}

impl std::ops::Deref for Setup {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.served
    }
}

impl Setup {
    fn new(auth: RegistryAuth) -> Setup {
        Setup { served: Served::new(), registry: OciRegistry::start(auth).unwrap() }
    }

    /// `release-chart --chart CHART --local REPO --url URL --oci OCI --plain-http EXTRA…`
    /// with `env`, and no registry login of the user's (HOME is the work folder).
    fn release(&self, chart: &Path, oci: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = support::xtask();
        command
            .args(["release-chart", "--chart", chart.to_str().unwrap(), "--local", self.repo.to_str().unwrap()])
            .args(["--url", &self.url, "--oci", oci, "--plain-http"])
            .args(extra)
            .env("HOME", self.work.path())
            .env_remove("DOCKER_CONFIG")
            .env_remove("HELM_REGISTRY_CONFIG")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("KUBE9_OCI_USERNAME")
            .env_remove("KUBE9_OCI_PASSWORD");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = support::output(&mut command);
        assert!(!text(&output).contains(REGISTRY_PASSWORD), "the password is never printed:\n{}", text(&output));
        output
    }

    /// A release to `oci` with no other flag and no credentials.
    fn release_oci(&self, chart: &Path, oci: &str) -> Output {
        self.release(chart, oci, &[], &[])
    }

    /// `verify-repo --output json` of the served repository with `extra` flags.
    fn verify(&self, extra: &[&str]) -> (bool, serde_json::Value) {
        let output = support::run(
            &[&["verify-repo", "--url", &self.url, "--allow-http", "--plain-http", "--output", "json"], extra].concat(),
        );
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", text(&output)));
        (output.status.success(), report)
    }

    /// The manifest and digest at `reference` (`HOST/PATH:TAG`), read anonymously.
    fn manifest(&self, reference: &str) -> Option<(Manifest, String)> {
        let registry = Registry::anonymous(true).unwrap();
        self.rt.block_on(registry.manifest(reference)).unwrap()
    }

    fn blob(&self, reference: &str, descriptor: &xtask::oci::artifact::Descriptor) -> Vec<u8> {
        let registry = Registry::anonymous(true).unwrap();
        self.rt.block_on(registry.blob(reference, descriptor)).unwrap()
    }

    fn index(&self) -> RepoIndex {
        RepoIndex::parse(&std::fs::read(self.repo.join("index.yaml")).unwrap()).unwrap()
    }
}

fn sha256_file(path: &Path) -> String {
    xtask::layout::sha256_hex(&std::fs::read(path).unwrap())
}

/// `helm pull oci://… --version V` into a fresh folder below `dest`; the one file pulled.
fn helm_pull(helm: &Helm, reference: &str, version: &str, dest: &Path, extra: &[&str]) -> PathBuf {
    let into = dest.join(format!("helm{}-{}", helm.major, dest.read_dir().unwrap().count()));
    std::fs::create_dir_all(&into).unwrap();
    let into_text = into.to_str().unwrap();
    let args = [&["pull", reference, "--version", version, "--plain-http", "-d", into_text][..], extra].concat();
    helm.run(&args).unwrap();
    into.join(format!("{CHART}-{version}.tgz"))
}

#[test]
fn a_signed_release_is_pushed_as_helm_push_lays_it_out_and_helm_3_and_4_use_it() {
    let setup = Setup::new(RegistryAuth::Open);
    let version = support::operator_version();
    let chart = support::chart_at(setup.work.path(), CHART, &version);
    let oci = setup.registry.url("kube9/charts");
    let reference = format!("{}/kube9/charts/{CHART}:{version}", setup.registry.host);
    let env = [("KUBE9_SIGNING_KEY", key().armored_secret.as_str()), ("KUBE9_SIGNING_PASSPHRASE", PASSPHRASE)];

    // A dry run reads the registry, says what it would push, and pushes nothing.
    let dry = setup.release(&chart, &oci, &["--dry-run"], &env);
    assert_ok(&dry);
    assert!(text(&dry).contains(&format!("oci://{reference}: would push (dry run)")), "{}", text(&dry));
    assert!(setup.manifest(&reference).is_none(), "a dry run pushes nothing");

    let released = setup.release(&chart, &oci, &[], &env);
    assert_ok(&released);
    let out = text(&released);
    assert!(out.contains(&format!("oci           oci://{reference} (pushed)")), "{out}");
    // Order: the package, its .prov, the OCI push, then the index.
    let position = |needle: &str| out.find(needle).unwrap_or_else(|| panic!("{needle:?} not in:\n{out}"));
    assert!(position(".tgz.prov: signed, uploaded") < position(&format!("oci://{reference}: pushed")));
    assert!(position(&format!("oci://{reference}: pushed")) < position("index.yaml: written"));

    let index = setup.index();
    let digest = index.get(CHART, &version).unwrap().digest.clone();
    let package = setup.repo.join(format!("{CHART}-{version}.tgz"));
    let prov = std::fs::read(setup.repo.join(format!("{CHART}-{version}.tgz.prov"))).unwrap();
    let (manifest, manifest_digest) = setup.manifest(&reference).expect("the tag exists");
    assert_eq!(manifest.config.media_type, HELM_CONFIG);
    let types: Vec<&str> = manifest.layers.iter().map(|l| l.media_type.as_str()).collect();
    assert_eq!(types, [HELM_CHART_CONTENT, HELM_PROVENANCE]);
    assert_eq!(manifest.chart_digest(), Some(format!("sha256:{digest}").as_str()), "the same bytes as the index");
    assert_eq!(setup.blob(&reference, &manifest.layers[1]), prov, "the same .prov as the HTTP repository");

    // `helm push` of the same package and .prov makes the same layers, the same config (as
    // JSON values: Go orders keys by struct field) and the same annotations but `created`.
    let helm4 = Helm::v4().unwrap();
    helm4.run(&["push", package.to_str().unwrap(), &setup.registry.url("helm-made"), "--plain-http"]).unwrap();
    let helm_reference = format!("{}/helm-made/{CHART}:{version}", setup.registry.host);
    let (helms, _) = setup.manifest(&helm_reference).unwrap();
    // Helm 4 lists the two layers in either order from one push to the next: compare sets.
    let sorted = |m: &Manifest| {
        let mut layers = m.layers.clone();
        layers.sort_by(|a, b| a.media_type.cmp(&b.media_type));
        layers
    };
    assert_eq!(sorted(&helms), sorted(&manifest), "helm push made other layers");
    assert_eq!(helms.config.media_type, manifest.config.media_type);
    let config = |reference: &str, m: &Manifest| -> serde_json::Value {
        serde_json::from_slice(&setup.blob(reference, &m.config)).unwrap()
    };
    assert_eq!(config(&helm_reference, &helms), config(&reference, &manifest));
    let without_created = |m: &Manifest| {
        let mut annotations = m.annotations.clone();
        assert!(annotations.remove("org.opencontainers.image.created").is_some(), "{annotations:?}");
        annotations
    };
    assert_eq!(without_created(&helms), without_created(&manifest));

    // Helm 3.17 and Helm 4 pull the same bytes, show, template and verify them.
    let pulled = setup.work.path().join("pulled");
    std::fs::create_dir_all(&pulled).unwrap();
    let keyring = setup.repo.join("pubkey.gpg");
    let oci_chart = format!("oci://{}/kube9/charts/{CHART}", setup.registry.host);
    for helm in Helm::both().unwrap() {
        let file = helm_pull(&helm, &oci_chart, &version, &pulled, &[]);
        assert_eq!(sha256_file(&file), digest, "Helm {} pulled other bytes", helm.major);
        let verified =
            helm_pull(&helm, &oci_chart, &version, &pulled, &["--verify", "--keyring", keyring.to_str().unwrap()]);
        assert_eq!(sha256_file(&verified), digest);
        let shown = helm.run(&["show", "chart", &oci_chart, "--version", &version, "--plain-http"]).unwrap();
        assert!(shown.contains(&format!("version: {version}")), "{shown}");
        let rendered = helm.run(&["template", "demo", &oci_chart, "--version", &version, "--plain-http"]).unwrap();
        assert!(rendered.contains("kind: Deployment"), "{rendered}");
    }
    let installed =
        helm4.run(&["install", "demo", &oci_chart, "--version", &version, "--plain-http", "--dry-run=client"]).unwrap();
    assert!(installed.contains("STATUS: pending-install") && installed.contains("kind: Deployment"), "{installed}");

    // Artifact Hub's metadata, as Artifact Hub reads it.
    let artifacthub = format!("{}/kube9/charts/{CHART}:artifacthub.io", setup.registry.host);
    let (metadata, _) = setup.manifest(&artifacthub).expect("the artifacthub.io tag");
    assert_eq!(metadata.config.media_type, ARTIFACTHUB_CONFIG);
    assert_eq!(metadata.layers.len(), 1);
    assert_eq!(metadata.layers[0].media_type, ARTIFACTHUB_LAYER);
    let source = xtask::project::project_root().join("charts").join("artifacthub-repo.yml");
    assert_eq!(setup.blob(&artifacthub, &metadata.layers[0]), std::fs::read(source).unwrap());

    // verify-repo checks the OCI copy, provenance included.
    let (ok, report) = setup.verify(&["--oci", &oci, "--keyring", keyring.to_str().unwrap()]);
    let (status, detail) = check(&report, "oci");
    assert!(ok && status == "pass", "{detail}");
    assert!(detail.contains("provenance layer verified"), "{detail}");

    // A re-run pushes nothing: the tag keeps its manifest.
    let again = setup.release(&chart, &oci, &[], &env);
    assert_ok(&again);
    assert!(text(&again).contains("already holds this package (not pushed)"), "{}", text(&again));
    assert_eq!(setup.manifest(&reference).unwrap().1, manifest_digest);

    // Someone replaces the tag with another build of the same version.
    let other = support::chart_at(&setup.work.path().join("other"), CHART, &version);
    std::fs::write(other.join("NOTES-extra.txt"), "changed\n").unwrap();
    let other_dir = setup.work.path().join("other-package");
    assert_ok(&support::run(&[
        "package-chart",
        "--chart",
        other.to_str().unwrap(),
        "--out",
        other_dir.to_str().unwrap(),
    ]));
    let other_package = other_dir.join(format!("{CHART}-{version}.tgz"));
    let other_digest = sha256_file(&other_package);
    assert_ne!(other_digest, digest);
    helm4.run(&["push", other_package.to_str().unwrap(), &oci, "--plain-http"]).unwrap();

    let (ok, report) = setup.verify(&["--oci", &oci]);
    let (status, detail) = check(&report, "oci");
    assert!(!ok && status == "fail", "{detail}");
    for needle in [format!("{CHART} {version}"), format!("sha256:{other_digest}"), format!("sha256:{digest}")] {
        assert!(detail.contains(&needle), "{needle} not in {detail}");
    }

    // ... and the next release refuses it, naming both digests, writing no index.
    let index_before = std::fs::read(setup.repo.join("index.yaml")).unwrap();
    let refused = setup.release(&chart, &oci, &[], &env);
    support::assert_fails_with(
        &refused,
        &["already holds another package", &format!("sha256:{other_digest}"), &format!("sha256:{digest}")],
    );
    assert_eq!(std::fs::read(setup.repo.join("index.yaml")).unwrap(), index_before);
}

#[test]
fn a_registry_with_basic_auth_takes_credentials_from_the_environment_or_a_login_file() {
    let setup = Setup::new(RegistryAuth::Basic);
    let oci = setup.registry.url("private/charts");
    let first = support::chart_at(setup.work.path(), "demo-auth", "1.0.0");

    // Anonymous: refused by the registry, named, and the index does not list the version.
    let anonymous = setup.release(&first, &oci, &[], &[]);
    support::assert_fails_with(&anonymous, &["(anonymous", "refused access", "the index not yet written"]);
    assert!(!setup.repo.join("index.yaml").exists(), "no index names a version the registry lacks");

    let half = setup.release(&first, &oci, &[], &[("KUBE9_OCI_USERNAME", REGISTRY_USERNAME)]);
    support::assert_fails_with(&half, &["KUBE9_OCI_USERNAME is set but KUBE9_OCI_PASSWORD is not"]);

    let env = [("KUBE9_OCI_USERNAME", REGISTRY_USERNAME), ("KUBE9_OCI_PASSWORD", REGISTRY_PASSWORD)];
    let pushed = setup.release(&first, &oci, &[], &env);
    assert_ok(&pushed);
    assert!(text(&pushed).contains("(credentials from KUBE9_OCI_USERNAME/KUBE9_OCI_PASSWORD)"), "{}", text(&pushed));
    assert!(!text(&pushed).contains(REGISTRY_USERNAME), "the username is not printed either");

    // `docker login`'s file: DOCKER_CONFIG/config.json, `auth` = base64(user:password).
    let docker = setup.work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{REGISTRY_USERNAME}:{REGISTRY_PASSWORD}"),
    );
    let config = docker.join("config.json");
    std::fs::write(&config, format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, setup.registry.host)).unwrap();
    let second = support::chart_at(setup.work.path(), "demo-auth", "1.1.0");
    let from_file = setup.release(&second, &oci, &[], &[("DOCKER_CONFIG", docker.to_str().unwrap())]);
    assert_ok(&from_file);
    assert!(text(&from_file).contains(&format!("credentials from {}", config.display())), "{}", text(&from_file));
    assert!(!text(&from_file).contains(&auth));

    // `helm registry login`'s file, named by HELM_REGISTRY_CONFIG, comes before Docker's.
    let helm_config = setup.work.path().join("helm-registry.json");
    std::fs::write(
        &helm_config,
        format!(
            r#"{{"auths": {{"{}": {{"username": "{REGISTRY_USERNAME}", "password": "{REGISTRY_PASSWORD}"}}}}}}"#,
            setup.registry.host
        ),
    )
    .unwrap();
    let third = support::chart_at(setup.work.path(), "demo-auth", "1.2.0");
    let helm_env =
        [("HELM_REGISTRY_CONFIG", helm_config.to_str().unwrap()), ("DOCKER_CONFIG", docker.to_str().unwrap())];
    let from_helm = setup.release(&third, &oci, &[], &helm_env);
    assert_ok(&from_helm);
    assert!(text(&from_helm).contains(&format!("credentials from {}", helm_config.display())), "{}", text(&from_helm));

    // Users pull anonymously: a registry that refuses them fails the oci check.
    let (ok, report) = setup.verify(&["--oci", &oci]);
    let (status, detail) = check(&report, "oci");
    assert!(!ok && status == "fail" && detail.contains("refused access"), "{detail}");
    assert!(setup.registry.refusals() > 0, "the registry really refused someone:\n{}", setup.registry.log());
}

/// The chart `name` at `version` whose values deploy `image` (`REPOSITORY`, tag empty:
/// the appVersion), or no image at all.
fn chart_with_image(parent: &Path, name: &str, version: &str, image: Option<&str>) -> PathBuf {
    let dir = support::chart_at(parent, name, version);
    let values = std::fs::read_to_string(dir.join("values.yaml")).unwrap();
    let values = match image {
        Some(image) => values.replace("repository: ghcr.io/kube9/kube9-operator", &format!("repository: {image}")),
        None => {
            // A chart of its own with no image at all (the operator chart's schema wants one).
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("templates")).unwrap();
            let chart_yaml = format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n\
                 sources: [http://127.0.0.1]\n"
            );
            std::fs::write(dir.join("Chart.yaml"), chart_yaml).unwrap();
            std::fs::write(dir.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
                .unwrap();
            "replicas: 1\n".to_string()
        }
    };
    std::fs::write(dir.join("values.yaml"), values).unwrap();
    dir
}

/// Push a minimal container image (OCI image config and one layer) to `reference`.
fn push_image(setup: &Setup, reference: &str) {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    xtask::http::install_tls_provider();
    let client = oci_client::Client::new(ClientConfig { protocol: ClientProtocol::Http, ..ClientConfig::default() });
    let reference: oci_client::Reference = reference.parse().unwrap();
    let config = Config::oci_v1(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec(),
        None,
    );
    let layer = ImageLayer::oci_v1_gzip(b"not really a layer".to_vec(), None);
    let auth = oci_client::secrets::RegistryAuth::Anonymous;
    setup.rt.block_on(client.push(&reference, &[layer], config, &auth, None)).unwrap();
}

#[test]
fn the_image_check_resolves_each_default_image_in_its_registry() {
    let setup = Setup::new(RegistryAuth::Open);
    let image = format!("{}/kube9/operator", setup.registry.host);
    push_image(&setup, &format!("{image}:1.0.0"));
    let release = |chart: &Path| {
        let mut command = support::xtask();
        command.args(["release-chart", "--chart", chart.to_str().unwrap(), "--local", setup.repo.to_str().unwrap()]);
        command.args(["--url", &setup.url]);
        assert_ok(&support::output(&mut command));
    };
    release(&chart_with_image(setup.work.path(), "app", "1.0.0", Some(&image)));

    let (_, report) = setup.verify(&[]);
    let (status, detail) = check(&report, "image");
    assert_eq!(status, "skip", "not asked for: {detail}");
    let (ok, report) = setup.verify(&["--check-images"]);
    let (status, detail) = check(&report, "image");
    assert!(ok && status == "pass" && detail.contains(&format!("{image}:1.0.0@sha256:")), "{detail}");

    // A registry that wants a token even for anonymous pulls (as ghcr.io and Docker Hub):
    // the check follows its token flow.
    let gate = setup.rt.block_on(Proxy::start_token_gate(&format!("http://{}", setup.registry.host))).unwrap();
    let gated_host = gate.endpoint.trim_start_matches("http://").to_string();
    release(&chart_with_image(setup.work.path(), "gated", "1.0.0", Some(&format!("{gated_host}/kube9/operator"))));
    let (_, report) = setup.verify(&["--check-images", "--chart", "gated"]);
    let (status, detail) = check(&report, "image");
    assert!(status == "pass" && detail.contains(&format!("{gated_host}/kube9/operator:1.0.0@sha256:")), "{detail}");
    let tokens = gate.gate.as_ref().unwrap();
    assert!(tokens.challenged.load(Ordering::SeqCst) > 0 && tokens.issued.load(Ordering::SeqCst) > 0);
    // ... and so does the oci check.
    let oci = format!("oci://{gated_host}/kube9/charts");
    let pushed = setup.release_oci(&chart_with_image(setup.work.path(), "gated", "1.1.0", None), &oci);
    assert_ok(&pushed);
    let (_, report) = setup.verify(&["--oci", &oci, "--chart", "gated"]);
    let (status, detail) = check(&report, "oci");
    assert_eq!(status, "fail", "1.0.0 was released without --oci: {detail}");
    assert!(detail.contains("gated 1.0.0: oci://") && detail.contains("does not exist"), "{detail}");
    assert!(!detail.contains("gated 1.1.0"), "1.1.0 is there, through the token flow: {detail}");

    // A version whose image was never pushed fails, naming it.
    release(&chart_with_image(setup.work.path(), "app", "2.0.0", Some(&image)));
    let (ok, report) = setup.verify(&["--check-images"]);
    let (status, detail) = check(&report, "image");
    assert!(!ok && status == "fail", "{detail}");
    assert!(detail.contains(&format!("{image}:2.0.0 (app 2.0.0): no such manifest")), "{detail}");
    let (status, _) = check(&setup.verify(&["--check-images", "--chart", "app"]).1, "image");
    assert_eq!(status, "fail");

    // A registry that does not answer is never a pass.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("127.0.0.1:{}/kube9/gone", closed.local_addr().unwrap().port());
    drop(closed);
    release(&chart_with_image(setup.work.path(), "elsewhere", "1.0.0", Some(&unreachable)));
    let (ok, report) = setup.verify(&["--check-images", "--chart", "elsewhere"]);
    let (status, detail) = check(&report, "image");
    assert!(!ok && status == "not-run" && detail.contains("could not be asked"), "{detail}");

    // A chart that names no image: nothing to resolve.
    release(&chart_with_image(setup.work.path(), "plain", "1.0.0", None));
    let (_, report) = setup.verify(&["--check-images", "--chart", "plain"]);
    let (status, detail) = check(&report, "image");
    assert!(status == "skip" && detail.contains("names an image"), "{detail}");
}
