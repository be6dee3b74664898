//! The harness drives the real tools: a moto server the AWS SDK talks to, and the real
//! Helm 3 and Helm 4 binaries. Run with `cargo xtask test` (it provisions them).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use xtask::harness::{Helm, MotoServer, unique_name};

#[tokio::test]
async fn moto_s3_round_trip_and_conditional_writes() {
    let moto = MotoServer::start().expect("start moto");
    let s3 = moto.clients().await.s3;
    let bucket = unique_name("kube9-harness");

    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let buckets = s3.list_buckets().send().await.expect("list buckets");
    assert!(buckets.buckets().iter().any(|b| b.name() == Some(bucket.as_str())), "bucket {bucket} not listed");

    let first = s3
        .put_object()
        .bucket(&bucket)
        .key("index.yaml")
        .body(ByteStream::from_static(b"apiVersion: v1\n"))
        .content_type("application/x-yaml")
        .if_none_match("*")
        .send()
        .await
        .expect("first conditional put");
    let etag = first.e_tag().expect("put returns an ETag").to_string();

    let got = s3.get_object().bucket(&bucket).key("index.yaml").send().await.expect("get object");
    assert_eq!(got.content_type(), Some("application/x-yaml"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"apiVersion: v1\n");

    // If-None-Match: * on an existing key: the create-only write loses.
    let again = s3
        .put_object()
        .bucket(&bucket)
        .key("index.yaml")
        .body(ByteStream::from_static(b"other"))
        .if_none_match("*")
        .send()
        .await
        .expect_err("a second If-None-Match: * put must fail");
    assert_precondition_failed(&again);

    // If-Match with the ETag read: wins once, and the stale ETag then loses.
    s3.put_object()
        .bucket(&bucket)
        .key("index.yaml")
        .body(ByteStream::from_static(b"apiVersion: v1\nentries: {}\n"))
        .if_match(&etag)
        .send()
        .await
        .expect("put with the current ETag");
    let stale = s3
        .put_object()
        .bucket(&bucket)
        .key("index.yaml")
        .body(ByteStream::from_static(b"lost update"))
        .if_match(&etag)
        .send()
        .await
        .expect_err("a put with a stale ETag must fail");
    assert_precondition_failed(&stale);

    let got = s3.get_object().bucket(&bucket).key("index.yaml").send().await.expect("get object");
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"apiVersion: v1\nentries: {}\n");

    moto.reset().expect("reset");
    let buckets = s3.list_buckets().send().await.expect("list buckets after reset");
    assert!(buckets.buckets().is_empty(), "reset must forget every bucket");
}

fn assert_precondition_failed(err: &SdkError<PutObjectError, HttpResponse>) {
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(412), "expected HTTP 412, got {err:?}");
    assert_eq!(err.as_service_error().and_then(|e| e.code()), Some("PreconditionFailed"), "{err:?}");
}

#[tokio::test]
async fn shared_moto_server_is_started_once() {
    let a = MotoServer::shared().expect("shared moto");
    let b = MotoServer::shared().expect("shared moto");
    assert_eq!(a.endpoint, b.endpoint);
    let s3 = a.clients().await.s3;
    let bucket = unique_name("kube9-shared");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket on the shared server");
    s3.head_bucket().bucket(&bucket).send().await.expect("head bucket");
}

#[test]
fn moto_env_points_a_child_process_at_the_server() {
    let moto = MotoServer::start().expect("start moto");
    let env: std::collections::HashMap<_, _> = moto.env().into_iter().collect();
    assert_eq!(env["AWS_ENDPOINT_URL"], moto.endpoint);
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert!(!env["AWS_ACCESS_KEY_ID"].is_empty() && !env["AWS_SECRET_ACCESS_KEY"].is_empty());
    assert!(moto.endpoint.starts_with("http://127.0.0.1:"));
}

#[test]
fn helm_versions_are_3_17_and_4() {
    let helm3 = Helm::v3().expect("helm 3");
    let helm4 = Helm::v4().expect("helm 4");
    let v3 = helm3.version().expect("helm 3 version");
    let v4 = helm4.version().expect("helm 4 version");
    assert!(v3.starts_with("v3.17."), "Helm::v3 reports {v3}");
    assert!(v4.starts_with("v4."), "Helm::v4 reports {v4}");
    assert_eq!(Helm::both().unwrap().iter().map(|h| h.major).collect::<Vec<_>>(), [3, 4]);
}

#[test]
fn helm_homes_are_isolated_and_errors_name_the_command() {
    let helm = Helm::v3().expect("helm 3");
    let env = helm.run(&["env"]).expect("helm env");
    let home = helm.home().to_string_lossy().into_owned();
    for var in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        let line = env.lines().find(|l| l.starts_with(var)).unwrap_or_else(|| panic!("{var} missing in:\n{env}"));
        assert!(line.contains(&home), "{line} is not under {home}");
    }
    let err = helm.run(&["lint", "/nonexistent/chart"]).expect_err("lint of a missing chart fails");
    let message = format!("{err:#}");
    assert!(message.contains("helm lint /nonexistent/chart"), "{message}");
    let output = helm.command().args(["repo", "list"]).output().expect("run helm repo list");
    assert!(!output.status.success(), "a fresh Helm home has no repositories");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no repositories"));
}
