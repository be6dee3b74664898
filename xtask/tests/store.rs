//! One store contract, run against every backend (`backend_tests!`): the S3 backend
//! against a moto server and against SeaweedFS (two real S3 implementations; moto's
//! conditional writes are atomic only through the harness's patch, SeaweedFS's by its
//! own per-object lock), the local backend against a temporary folder.
//! Run with `cargo xtask test` (it provisions moto and SeaweedFS).

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::fmt::Write as _;
use xtask::layout::{PACKAGE_CONTENT_TYPE, YAML_CONTENT_TYPE, sha256_hex};
use xtask::store::{Condition, ETag, LocalStore, PutOutcome, PutRequest, S3Store, Store};

/// Keeps whatever backs a store alive for the duration of a test.
struct Fixture {
    store: Store,
    _guard: Box<dyn std::any::Any + Send>,
}

async fn local_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet: the first write creates it.
    let store = Store::Local(LocalStore::new(dir.path().join("repo")));
    Fixture { store, _guard: Box::new(dir) }
}

async fn s3_fixture() -> Fixture {
    let moto = xtask_dev::harness::MotoServer::start().expect("moto server (provision with `cargo xtask test`)");
    let clients = xtask::aws::Clients::from_shared(moto.sdk_config().await);
    let bucket = format!("store-test-{}", fastrand::u32(..));
    clients.s3.create_bucket().bucket(&bucket).send().await.expect("create test bucket");
    Fixture { store: Store::S3(S3Store::new(clients.s3.clone(), bucket)), _guard: Box::new(moto) }
}

async fn seaweedfs_fixture() -> Fixture {
    let seaweedfs = xtask_dev::harness::SeaweedFs::start().expect("SeaweedFS (provision with `cargo xtask test`)");
    let clients = seaweedfs.clients().await;
    let bucket = format!("store-test-{}", fastrand::u32(..));
    clients.s3.create_bucket().bucket(&bucket).send().await.expect("create test bucket");
    Fixture { store: Store::S3(S3Store::new(clients.s3.clone(), bucket)), _guard: Box::new(seaweedfs) }
}

fn put<'a>(key: &'a str, bytes: &'a [u8], condition: Condition) -> PutRequest<'a> {
    PutRequest { key, bytes, content_type: YAML_CONTENT_TYPE, cache_control: "public, max-age=300", condition }
}

async fn get_missing_is_none(store: &Store) {
    assert!(store.get("index.yaml").await.unwrap().is_none());
    assert!(store.head("index.yaml").await.unwrap().is_none());
}

async fn put_then_get_round_trips(store: &Store) {
    let PutOutcome::Written(etag) = store.put(put("index.yaml", b"one", Condition::None)).await.unwrap() else {
        panic!("unconditional write refused")
    };
    let object = store.get("index.yaml").await.unwrap().unwrap();
    assert_eq!(object.bytes, b"one");
    assert_eq!(object.etag, etag);
}

async fn if_none_match_is_create_only(store: &Store) {
    let first = store.put(put("a-1.0.0.tgz", b"first", Condition::IfNoneMatch)).await.unwrap();
    assert!(matches!(first, PutOutcome::Written(_)), "{first:?}");
    let second = store.put(put("a-1.0.0.tgz", b"second", Condition::IfNoneMatch)).await.unwrap();
    assert_eq!(second, PutOutcome::PreconditionFailed);
    assert_eq!(store.get("a-1.0.0.tgz").await.unwrap().unwrap().bytes, b"first");
}

async fn if_match_needs_the_current_etag(store: &Store) {
    let missing = store.put(put("index.yaml", b"x", Condition::IfMatch(ETag("\"nope\"".into())))).await.unwrap();
    assert_eq!(missing, PutOutcome::PreconditionFailed, "If-Match on a missing key must not create it");
    assert!(store.get("index.yaml").await.unwrap().is_none());

    let PutOutcome::Written(v1) = store.put(put("index.yaml", b"v1", Condition::IfNoneMatch)).await.unwrap() else {
        panic!("create refused")
    };
    let PutOutcome::Written(v2) = store.put(put("index.yaml", b"v2", Condition::IfMatch(v1.clone()))).await.unwrap()
    else {
        panic!("If-Match with the current ETag refused")
    };
    assert_ne!(v1, v2);
    let stale = store.put(put("index.yaml", b"v3", Condition::IfMatch(v1))).await.unwrap();
    assert_eq!(stale, PutOutcome::PreconditionFailed);
    assert_eq!(store.get("index.yaml").await.unwrap().unwrap().bytes, b"v2");
}

async fn head_describes_the_object(store: &Store) {
    let request = PutRequest {
        key: "demo-1.2.3.tgz",
        bytes: b"gzip bytes",
        content_type: PACKAGE_CONTENT_TYPE,
        cache_control: "public, max-age=31536000, immutable",
        condition: Condition::IfNoneMatch,
    };
    let PutOutcome::Written(etag) = store.put(request).await.unwrap() else { panic!("create refused") };
    let info = store.head("demo-1.2.3.tgz").await.unwrap().unwrap();
    assert_eq!(info.etag, etag);
    assert_eq!(info.size, 10);
    assert_eq!(info.content_type.as_deref(), Some(PACKAGE_CONTENT_TYPE));
    assert_eq!(info.sha256.as_deref(), Some(sha256_hex(b"gzip bytes").as_str()));
    let (sha, _) = store.sha256_of("demo-1.2.3.tgz").await.unwrap().unwrap();
    assert_eq!(sha, sha256_hex(b"gzip bytes"));
}

async fn list_filters_by_prefix(store: &Store) {
    for key in ["b-1.0.0.tgz", "a-1.0.0.tgz", "a-2.0.0.tgz", "index.yaml"] {
        let _ = store.put(put(key, key.as_bytes(), Condition::None)).await.unwrap();
    }
    assert_eq!(store.list("a-").await.unwrap(), ["a-1.0.0.tgz", "a-2.0.0.tgz"]);
    assert_eq!(store.list("").await.unwrap().len(), 4);
}

/// 16 writers each append one line with read / conditional write / retry: no line is lost.
async fn concurrent_conditional_writes_lose_nothing(store: &Store) {
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let (mut text, condition) = match store.get("index.yaml").await.unwrap() {
                    Some(object) => (String::from_utf8(object.bytes).unwrap(), Condition::IfMatch(object.etag)),
                    None => (String::new(), Condition::IfNoneMatch),
                };
                let _ = writeln!(text, "writer {writer}");
                match store.put(put("index.yaml", text.as_bytes(), condition)).await.unwrap() {
                    PutOutcome::Written(_) => break,
                    PutOutcome::PreconditionFailed => {
                        tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(1..20))).await;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let text = String::from_utf8(store.get("index.yaml").await.unwrap().unwrap().bytes).unwrap();
    for writer in 0..16 {
        assert!(text.contains(&format!("writer {writer}\n")), "writer {writer} lost:\n{text}");
    }
    assert_eq!(text.lines().count(), 16);
    if let Store::Local(local) = store {
        // The lock that serialised the writers lives outside the folder's files: what
        // gets published (e.g. with `aws s3 sync`) is only what was written.
        let names: Vec<String> =
            std::fs::read_dir(local.root()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, ["index.yaml"], "a lock or temporary file was left in the published folder");
    }
}

macro_rules! backend_tests {
    ($backend:ident, $fixture:ident, [$($test:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let fixture = super::$fixture().await;
                    super::$test(&fixture.store).await;
                }
            )*
        }
    };
}

macro_rules! all_backends {
    ($($test:ident),* $(,)?) => {
        backend_tests!(local, local_fixture, [$($test),*]);
        backend_tests!(s3, s3_fixture, [$($test),*]);
        backend_tests!(seaweedfs, seaweedfs_fixture, [$($test),*]);
    };
}

all_backends![
    get_missing_is_none,
    put_then_get_round_trips,
    if_none_match_is_create_only,
    if_match_needs_the_current_etag,
    head_describes_the_object,
    list_filters_by_prefix,
    concurrent_conditional_writes_lose_nothing,
];
