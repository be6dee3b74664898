//! Every AWS command reports missing or refused credentials once, in the same sentence
//! (`no AWS credentials: …`, as the README's troubleshooting table quotes it), and never
//! the SDK's `Debug` dump of a failing provider at the default log level. The real
//! binary runs against moto; run with `cargo xtask test`.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use xtask_dev::harness::MotoServer;

mod support;

const SENTENCE: &str = "no AWS credentials: ";
/// What the SDK's internals look like when they leak into the output.
const SDK_INTERNALS: [&str; 3] = ["SdkBody", "ProviderError", "DispatchFailure"];

/// A work folder with a repository config and a small chart.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("repository.toml"),
            "domain = \"charts.example.com\"\nhosted_zone = \"example.com\"\nbucket = \"creds-test\"\nregion = \
             \"us-east-1\"\n\n[tags]\nproject = \"kube9-operator\"\nmanaged-by = \"cargo-xtask\"\n",
        )
        .unwrap();
        let chart = dir.path().join("chart");
        std::fs::create_dir_all(chart.join("templates")).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.0.0\n").unwrap();
        std::fs::write(chart.join("values.yaml"), "replicas: 1\n").unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        Work { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every AWS command, as a user types it.
    fn commands(&self) -> Vec<Vec<String>> {
        let chart = self.path("chart").display().to_string();
        let commands: [&[&str]; 5] = [
            &["release-chart", "--chart", &chart, "--no-verify"],
            &["release-chart", "--chart", &chart, "--dry-run"],
            &["reindex"],
            &["deploy-infra", "--dry-run"],
            &["deploy-infra"],
        ];
        commands.iter().map(|args| args.iter().map(std::string::ToString::to_string).collect()).collect()
    }

    /// `xtask --config … ARGS` talking to `moto`, with no credentials from anywhere:
    /// no variables, empty config and credentials files, no instance metadata.
    fn without_credentials(&self, moto: &MotoServer, args: &[String]) -> Command {
        let mut cmd = support::xtask();
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", xtask_dev::harness::REGION)
            .env("AWS_CONFIG_FILE", self.path("empty"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("empty"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .arg("--config")
            .arg(self.path("repository.toml"))
            .args(args);
        cmd
    }
}

fn stderr(output: &Output) -> String {
    support::lossy(&output.stderr)
}

/// Failed, said the sentence exactly once, and nothing of the SDK's internals.
#[track_caller]
fn assert_reported_once(output: &Output, args: &[String]) {
    let stderr = stderr(output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{args:?} succeeded without credentials:\n{stdout}\n{stderr}");
    assert_eq!(stderr.matches(SENTENCE).count(), 1, "{args:?}: the sentence once:\n{stderr}");
    assert!(stderr.contains(&format!("error: {SENTENCE}")), "{args:?}: it is the error itself:\n{stderr}");
    assert!(stderr.contains("aws sso login") && stderr.contains("AWS_PROFILE"), "{args:?}: the fix:\n{stderr}");
    for internal in SDK_INTERNALS {
        assert!(!stderr.contains(internal), "{args:?}: {internal} at the default log level:\n{stderr}");
    }
    assert!(!stdout.contains(SENTENCE), "{args:?}: reported on stdout too:\n{stdout}");
}

#[test]
fn no_credentials_are_reported_once_by_every_aws_command() {
    let moto = MotoServer::start().expect("moto server (provision with `cargo xtask test`)");
    let work = Work::new();
    for args in work.commands() {
        let output = work.without_credentials(&moto, &args).output().unwrap();
        assert_reported_once(&output, &args);
        assert!(stderr(&output).contains("found none"), "{args:?}:\n{}", stderr(&output));
    }
}

/// An instance metadata endpoint that answers with an error is what made the SDK's
/// chain WARN with a `ProviderError(… Response { … SdkBody …` dump: that detail is for
/// `-v` only.
#[test]
fn a_failing_credential_provider_is_one_sentence_and_its_detail_needs_verbose() {
    let moto = MotoServer::start().expect("moto server (provision with `cargo xtask test`)");
    let work = Work::new();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let imds = format!("http://{}", listener.local_addr().unwrap());
    let broken = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::BAD_REQUEST, "not an instance metadata service") });
    runtime.spawn(async move { axum::serve(listener, broken).await });

    let args = vec!["deploy-infra".to_string(), "--dry-run".to_string()];
    let with_imds = |extra: &[&str]| {
        let mut cmd = work.without_credentials(&moto, &args);
        cmd.env_remove("AWS_EC2_METADATA_DISABLED").env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds);
        cmd.args(extra).output().unwrap()
    };
    let quiet = with_imds(&[]);
    assert_reported_once(&quiet, &args);
    let verbose = with_imds(&["-v"]);
    let detail = stderr(&verbose);
    assert!(!verbose.status.success());
    assert!(detail.contains("the AWS credential chain failed"), "-v shows the chain's error:\n{detail}");
    assert_eq!(detail.matches(&format!("error: {SENTENCE}")).count(), 1, "{detail}");
}

/// moto checks credentials against its IAM when `INITIAL_NO_AUTH_ACTION_COUNT` is 0:
/// a key it does not know is refused (InvalidClientTokenId / InvalidAccessKeyId), as AWS
/// refuses a wrong, deleted or expired key.
#[test]
fn refused_credentials_are_reported_once_by_every_aws_command() {
    let moto = MotoServer::builder()
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
        .start()
        .expect("moto server (provision with `cargo xtask test`)");
    let work = Work::new();
    for args in work.commands() {
        let output = work
            .without_credentials(&moto, &args)
            .env("AWS_ACCESS_KEY_ID", "AKIAKUBE9UNKNOWNKEY0")
            .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-key-kube9-test-000000")
            .output()
            .unwrap();
        assert_reported_once(&output, &args);
        let stderr = stderr(&output);
        assert!(stderr.contains("AWS rejected the credentials"), "{args:?}:\n{stderr}");
        assert!(stderr.contains("InvalidClientTokenId"), "{args:?}: the AWS error code:\n{stderr}");
        assert!(!stderr.contains("AKIAKUBE9UNKNOWNKEY0"), "{args:?}: the key id is printed:\n{stderr}");
    }
}
