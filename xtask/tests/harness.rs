//! The harness drives the real tools: a moto server the AWS SDK talks to, and the real
//! Helm 3 and Helm 4 binaries. Run with `cargo xtask test` (it provisions them).

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use xtask_dev::harness::{Helm, MotoServer, SeaweedFs, unique_name};

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

/// SeaweedFS serves S3 to the dummy credentials only, refuses a conditional write that
/// lost with 412 `PreconditionFailed` (create-only and stale `If-Match`), keeps object
/// versions (the release tests count writes by them); dropped, it stops: its port is
/// closed, its folder and the gRPC sockets it kept in /tmp are gone.
#[tokio::test]
async fn seaweedfs_serves_s3_refuses_lost_conditional_writes_and_stops_on_drop() {
    let seaweedfs = SeaweedFs::start().expect("start SeaweedFS");
    // Handed out in its steady state: the S3 gateway routes writes by the lock ring.
    assert!(seaweedfs.log().contains("LockRing: s3@"), "{}", seaweedfs.log());
    let s3 = seaweedfs.clients().await.s3;
    let bucket = unique_name("kube9-harness");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");

    let put =
        |body: &'static [u8]| s3.put_object().bucket(&bucket).key("index.yaml").body(ByteStream::from_static(body));
    let first = put(b"one").if_none_match("*").send().await.expect("create-only put of a new key");
    let etag = first.e_tag().expect("put returns an ETag").to_string();
    let again = put(b"two").if_none_match("*").send().await.expect_err("a second If-None-Match: * put must fail");
    assert_precondition_failed(&again);
    put(b"three").if_match(&etag).send().await.expect("put with the current ETag");
    let stale = put(b"four").if_match(&etag).send().await.expect_err("a put with a stale ETag must fail");
    assert_precondition_failed(&stale);
    let got = s3.get_object().bucket(&bucket).key("index.yaml").send().await.expect("get object");
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"three");

    // The signature is checked: another secret is refused.
    let wrong = aws_sdk_s3::config::Builder::from(&seaweedfs.sdk_config().await)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            xtask_dev::harness::ACCESS_KEY_ID,
            "not-the-secret",
            None,
            None,
            "wrong",
        ))
        .build();
    let refused = aws_sdk_s3::Client::from_conf(wrong).list_buckets().send().await.expect_err("a wrong secret");
    assert_eq!(refused.raw_response().map(|r| r.status().as_u16()), Some(403), "{refused:?}");

    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(enabled).send().await.expect("versioning");
    for body in [&b"v1"[..], b"v2"] {
        s3.put_object().bucket(&bucket).key("v.txt").body(ByteStream::from_static(body)).send().await.unwrap();
    }
    let listed = s3.list_object_versions().bucket(&bucket).prefix("v.txt").send().await.expect("list versions");
    let ids: std::collections::BTreeSet<_> = listed.versions().iter().filter_map(|v| v.version_id()).collect();
    assert_eq!(ids.len(), 2, "two writes, two versions: {:?}", listed.versions());

    let port = seaweedfs.endpoint.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let dir = seaweedfs.data_dir().to_path_buf();
    let sockets = seaweedfs.grpc_sockets();
    assert!(sockets.len() >= 4, "master, volume, filer and S3 serve gRPC on Unix sockets too: {sockets:?}");
    drop(seaweedfs);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "S3 still answers after drop");
    assert!(!dir.exists(), "{} left behind", dir.display());
    let left: Vec<_> = sockets.iter().filter(|socket| socket.exists()).collect();
    assert!(left.is_empty(), "sockets left behind: {left:?}");
}

#[test]
fn seaweedfs_env_points_s3_alone_at_the_server() {
    let seaweedfs = SeaweedFs::start().expect("start SeaweedFS");
    let env: std::collections::HashMap<_, _> = seaweedfs.env().into_iter().collect();
    assert_eq!(env["AWS_ENDPOINT_URL_S3"], seaweedfs.endpoint);
    assert!(!env.contains_key("AWS_ENDPOINT_URL"), "CloudFront stays wherever AWS_ENDPOINT_URL points");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert!(seaweedfs.endpoint.starts_with("http://127.0.0.1:"));
}

/// The tool's S3 client follows `AWS_ENDPOINT_URL_S3` alone (no `AWS_ENDPOINT_URL`), as
/// the `xtask` binary loads it, and addresses it path-style: to a host name (`localhost`)
/// it would otherwise send virtual-hosted requests (`BUCKET.localhost`), which reach no
/// bucket. The test runs itself as a child process that has exactly that environment.
#[test]
fn seaweedfs_alone_through_aws_endpoint_url_s3_is_addressed_path_style() {
    const CHILD: &str = "KUBE9_HARNESS_S3_ONLY_ENDPOINT";
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if std::env::var_os(CHILD).is_some() {
        runtime.block_on(async {
            let clients = xtask::aws::Clients::from_shared(xtask::aws::load_shared("us-east-1").await);
            let bucket = unique_name("kube9-s3-only");
            clients.s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
            let body = ByteStream::from_static(b"apiVersion: v1\n");
            let put = clients.s3.put_object().bucket(&bucket).key("index.yaml").body(body).if_none_match("*");
            put.send().await.expect("create-only put");
            let listed = clients.s3.list_objects_v2().bucket(&bucket).send().await.expect("list objects");
            assert_eq!(listed.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["index.yaml"]);
        });
        return;
    }
    let seaweedfs = SeaweedFs::start().expect("start SeaweedFS");
    let port = seaweedfs.endpoint.rsplit(':').next().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["seaweedfs_alone_through_aws_endpoint_url_s3_is_addressed_path_style", "--exact", "--test-threads=1"])
        .env(CHILD, "1")
        .envs(seaweedfs.env())
        .env("AWS_ENDPOINT_URL_S3", format!("http://localhost:{port}"))
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("run this test binary with AWS_ENDPOINT_URL_S3 alone");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("1 passed"), "{text}");
    // What the child wrote is on SeaweedFS.
    let buckets = runtime.block_on(async { seaweedfs.clients().await.s3.list_buckets().send().await.unwrap() });
    assert!(
        buckets.buckets().iter().filter_map(|b| b.name()).any(|name| name.starts_with("kube9-s3-only-")),
        "{buckets:?}"
    );
}

/// A test process that dies without running any `Drop` (SIGKILL) takes its SeaweedFS
/// with it. The test runs itself as that process.
#[test]
fn seaweedfs_dies_with_the_test_process() {
    use std::io::{BufRead, Write};
    const ORPHAN: &str = "KUBE9_HARNESS_SEAWEEDFS_ORPHAN";
    if std::env::var_os(ORPHAN).is_some() {
        let seaweedfs = SeaweedFs::start().expect("start SeaweedFS");
        let mut out = std::io::stdout().lock();
        writeln!(out, "seaweedfs leaves {}", seaweedfs.data_dir().display()).unwrap();
        writeln!(out, "seaweedfs pid {}", seaweedfs.pid()).unwrap();
        out.flush().unwrap();
        loop {
            std::thread::park();
        }
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["seaweedfs_dies_with_the_test_process", "--exact", "--nocapture", "--test-threads=1"])
        .env(ORPHAN, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run this test binary as the test process to kill");
    let mut leaves = None;
    let mut pid = None;
    // The test harness's "test NAME ... " shares a line with the first of these.
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
        if let Some((_, path)) = line.split_once("seaweedfs leaves ") {
            leaves = Some(std::path::PathBuf::from(path));
        } else if let Some((_, number)) = line.split_once("seaweedfs pid ") {
            pid = Some(number.parse::<u32>().unwrap());
            break;
        }
    }
    let Some(pid) = pid else {
        let _ = child.kill();
        panic!("the child test process did not start SeaweedFS: {:?}", child.wait());
    };
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim(), "weed");
    child.kill().unwrap();
    child.wait().unwrap();
    // Not a timing assertion: the kernel signals at once; the bound only keeps a broken
    // watchdog from hanging the suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while running(pid) {
        if std::time::Instant::now() > deadline {
            // SAFETY: kill(2) on the pid read above, a weed this test made.
            unsafe { libc::kill(libc::pid_t::try_from(pid).unwrap(), libc::SIGKILL) };
            panic!("SeaweedFS (pid {pid}) outlived its killed test process (killed now)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // What the killed process could not clean up: its folder and the sockets weed kept in /tmp.
    let dir = leaves.expect("the child test process named the server's folder");
    SeaweedFs::remove_remains(&dir).expect("remove what the killed server left");
}

/// Whether `pid` is a live process (not gone, not a zombie waiting for its reaper).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
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

/// The AWS features the release tooling relies on, through the Rust SDK (which is
/// stricter than boto3 about moto's responses).
#[tokio::test]
async fn moto_speaks_sts_acm_route53_and_cloudfront() {
    use aws_sdk_cloudfront::types as cf;
    use aws_sdk_route53::types as r53;

    let moto = MotoServer::start().expect("start moto");
    let clients = moto.clients().await;

    let identity = clients.sts.get_caller_identity().send().await.expect("sts get_caller_identity");
    assert_eq!(identity.account(), Some("123456789012"));

    // ACM: DNS validation record right away; ISSUED on the next describe (wait 0).
    let arn = clients
        .acm
        .request_certificate()
        .domain_name("charts.kube9.io")
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .tags(aws_sdk_acm::types::Tag::builder().key("owner").value("kube9").build().unwrap())
        .send()
        .await
        .expect("acm request_certificate")
        .certificate_arn
        .expect("certificate arn");
    let cert = clients.acm.describe_certificate().certificate_arn(&arn).send().await.expect("describe").certificate;
    let cert = cert.expect("certificate");
    let record = cert.domain_validation_options()[0].resource_record().expect("validation CNAME");
    assert!(record.name().ends_with(".charts.kube9.io."), "{record:?}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let cert = clients.acm.describe_certificate().certificate_arn(&arn).send().await.unwrap().certificate.unwrap();
    assert_eq!(cert.status(), Some(&aws_sdk_acm::types::CertificateStatus::Issued));

    // CloudFront: OAC, a tagged distribution, an invalidation.
    let oac = clients
        .cloudfront
        .create_origin_access_control()
        .origin_access_control_config(
            cf::OriginAccessControlConfig::builder()
                .name("kube9-charts")
                .signing_protocol(cf::OriginAccessControlSigningProtocols::Sigv4)
                .signing_behavior(cf::OriginAccessControlSigningBehaviors::Always)
                .origin_access_control_origin_type(cf::OriginAccessControlOriginTypes::S3)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create OAC");
    let oac_id = oac.origin_access_control().unwrap().id().to_string();
    let methods = |items: &[cf::Method]| {
        let mut b = cf::AllowedMethods::builder().quantity(items.len() as i32);
        for m in items {
            b = b.items(m.clone());
        }
        b
    };
    let get_head = [cf::Method::Get, cf::Method::Head];
    let config = cf::DistributionConfig::builder()
        .caller_reference("harness")
        .comment("kube9 charts")
        .enabled(true)
        .aliases(cf::Aliases::builder().quantity(1).items("charts.kube9.io").build().unwrap())
        .origins(
            cf::Origins::builder()
                .quantity(1)
                .items(
                    cf::Origin::builder()
                        .id("s3")
                        .domain_name("kube9-charts.s3.us-east-1.amazonaws.com")
                        .s3_origin_config(cf::S3OriginConfig::builder().origin_access_identity("").build())
                        .origin_access_control_id(&oac_id)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            cf::DefaultCacheBehavior::builder()
                .target_origin_id("s3")
                .viewer_protocol_policy(cf::ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .response_headers_policy_id("67f7725c-6f97-4210-82d7-5512b31e9d03")
                .compress(true)
                .allowed_methods(
                    methods(&get_head)
                        .cached_methods(
                            cf::CachedMethods::builder()
                                .quantity(2)
                                .set_items(Some(get_head.to_vec()))
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .http_version(cf::HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .viewer_certificate(
            cf::ViewerCertificate::builder()
                .acm_certificate_arn(&arn)
                .ssl_support_method(cf::SslSupportMethod::SniOnly)
                .minimum_protocol_version(cf::MinimumProtocolVersion::TlSv122021)
                .build(),
        )
        .build()
        .unwrap();
    let tags = cf::Tags::builder().items(cf::Tag::builder().key("owner").value("kube9").build().unwrap()).build();
    let created = clients
        .cloudfront
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            cf::DistributionConfigWithTags::builder().distribution_config(config).tags(tags).build(),
        )
        .send()
        .await
        .expect("create_distribution_with_tags");
    let distribution = created.distribution().unwrap();
    let id = distribution.id().to_string();
    let domain = distribution.domain_name().to_string();
    let got = clients.cloudfront.get_distribution().id(&id).send().await.expect("get_distribution");
    assert_eq!(got.distribution().unwrap().status(), "Deployed");
    // AWS lists every distribution's Aliases and Comment (what `aws::distribution` finds
    // ours by); the harness makes moto do so too.
    let listed = clients.cloudfront.list_distributions().send().await.expect("list_distributions");
    let summary = listed.distribution_list().unwrap().items().iter().find(|d| d.id() == id).unwrap().clone();
    assert_eq!(summary.aliases().unwrap().items(), ["charts.kube9.io"]);
    assert_eq!(summary.comment(), "kube9 charts");
    let listed_tags = clients.cloudfront.list_tags_for_resource().resource(distribution.arn()).send().await.unwrap();
    assert_eq!(listed_tags.tags().unwrap().items()[0].value(), Some("kube9"));
    let invalidation = clients
        .cloudfront
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(
            cf::InvalidationBatch::builder()
                .paths(cf::Paths::builder().quantity(1).items("/*").build().unwrap())
                .caller_reference("harness-1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create_invalidation");
    let invalidation_id = invalidation.invalidation().unwrap().id().to_string();
    let status = clients.cloudfront.get_invalidation().distribution_id(&id).id(&invalidation_id).send().await;
    assert_eq!(status.expect("get_invalidation").invalidation().unwrap().status(), "COMPLETED");

    // Route53: A + AAAA alias records to the distribution.
    let zone = clients
        .route53
        .create_hosted_zone()
        .name("kube9.io")
        .caller_reference("harness")
        .send()
        .await
        .expect("create hosted zone");
    let zone_id = zone.hosted_zone().unwrap().id().to_string();
    let mut batch = r53::ChangeBatch::builder();
    for rr_type in [r53::RrType::A, r53::RrType::Aaaa] {
        let alias = r53::AliasTarget::builder()
            .hosted_zone_id("Z2FDTNDATAQYW2")
            .dns_name(&domain)
            .evaluate_target_health(false)
            .build()
            .unwrap();
        let set = r53::ResourceRecordSet::builder().name("charts.kube9.io").r#type(rr_type).alias_target(alias);
        batch = batch.changes(
            r53::Change::builder()
                .action(r53::ChangeAction::Upsert)
                .resource_record_set(set.build().unwrap())
                .build()
                .unwrap(),
        );
    }
    let change = clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(batch.build().unwrap())
        .send()
        .await
        .expect("upsert alias records");
    assert_eq!(change.change_info().unwrap().status(), &r53::ChangeStatus::Insync);
    let sets = clients.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.unwrap();
    let aliases: Vec<_> = sets
        .resource_record_sets()
        .iter()
        .filter(|s| s.name() == "charts.kube9.io.")
        .map(|s| (s.r#type().as_str().to_string(), s.alias_target().map(|a| a.dns_name().to_string())))
        .collect();
    assert_eq!(aliases, [("A".to_string(), Some(domain.clone())), ("AAAA".to_string(), Some(domain))]);
}

#[tokio::test]
async fn moto_builder_applies_a_sitecustomize_patch_and_settings() {
    // A patch that renames every new bucket's region: visible through the SDK.
    let patch = "import moto.s3.models as m\n\
                 _init = m.FakeBucket.__init__\n\
                 def _patched(self, *a, **k):\n    _init(self, *a, **k)\n    self.region_name = 'eu-west-3'\n\
                 m.FakeBucket.__init__ = _patched\n";
    let moto = MotoServer::builder().sitecustomize(patch).acm_validation_wait(3600).start().expect("start moto");
    let clients = moto.clients().await;
    let bucket = unique_name("kube9-patched");
    clients.s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let location = clients.s3.get_bucket_location().bucket(&bucket).send().await.expect("bucket location");
    assert_eq!(
        location.location_constraint().map(aws_sdk_s3::types::BucketLocationConstraint::as_str),
        Some("eu-west-3"),
        "patch not applied: {}",
        moto.log()
    );

    let arn = clients
        .acm
        .request_certificate()
        .domain_name("charts.kube9.io")
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap();
    let cert = clients.acm.describe_certificate().certificate_arn(&arn).send().await.unwrap().certificate.unwrap();
    assert_eq!(cert.status(), Some(&aws_sdk_acm::types::CertificateStatus::PendingValidation));
}

/// S3 evaluates a conditional PutObject atomically: of many writers racing with the
/// same condition exactly one wins. moto checks, then writes; the harness serialises
/// its PutObject so the release tests see S3's behaviour, not a lost update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_conditional_writes_have_exactly_one_winner() {
    // Make two requests meet between moto's check and its write: every object write
    // waits (up to 0.5 s) for a second one. Without the harness's lock the first two
    // writers both pass their check and both write (one of them then answers 500 or,
    // worse, 200 for content the other replaced); with it they cannot meet.
    let meet_at_write = "import threading\nimport moto.s3.models as m\n_put = m.S3Backend.put_object\n\
                         _meet = threading.Barrier(2, timeout=0.5)\n\
                         def _meeting(self, *a, **k):\n    try:\n        _meet.wait()\n    \
                         except threading.BrokenBarrierError:\n        _meet.reset()\n    return _put(self, *a, **k)\n\
                         m.S3Backend.put_object = _meeting\n";
    let moto = MotoServer::builder().sitecustomize(meet_at_write).start().expect("start moto");
    one_winner_per_race(&moto.sdk_config().await).await;
}

/// The same races on SeaweedFS, which holds a per-object lock while it checks and writes
/// (nothing to patch: there is no point to make the writers meet at).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seaweedfs_racing_conditional_writes_have_exactly_one_winner() {
    let seaweedfs = SeaweedFs::start().expect("start SeaweedFS");
    one_winner_per_race(&seaweedfs.sdk_config().await).await;
}

/// Four writers race a create-only write, then four race an `If-Match` on the ETag of
/// what was created: each time exactly one wins, every other gets 412, and what is
/// stored is the winner's.
async fn one_winner_per_race(shared: &aws_config::SdkConfig) {
    // No SDK retries: a 500 from a torn write must show, not be retried into a 412.
    let config = aws_sdk_s3::config::Builder::from(shared)
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    let bucket = unique_name("kube9-race");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let put = |body: String, condition: (&'static str, String)| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            let request = s3.put_object().bucket(&bucket).key("index.yaml").body(ByteStream::from(body.into_bytes()));
            let request = match condition {
                ("If-None-Match", value) => request.if_none_match(value),
                (_, value) => request.if_match(value),
            };
            request.send().await
        }
    };
    // Every body differs from every other, in both rounds: an ETag is the content's MD5,
    // so a winner writing the bytes already there would keep the ETag the others match.
    let race = |round: u32, condition: (&'static str, String)| {
        let tasks: Vec<_> = (0..4)
            .map(|writer| tokio::spawn(put(format!("round {round} writer {writer}\n"), condition.clone())))
            .collect();
        async move {
            let mut winners = Vec::new();
            for (writer, task) in tasks.into_iter().enumerate() {
                match task.await.unwrap() {
                    Ok(_) => winners.push(format!("round {round} writer {writer}\n")),
                    Err(err) => assert_precondition_failed(&err),
                }
            }
            winners
        }
    };
    let stored = || async {
        let object = s3.get_object().bucket(&bucket).key("index.yaml").send().await.unwrap();
        let etag = object.e_tag().unwrap().to_string();
        (String::from_utf8(object.body.collect().await.unwrap().into_bytes().to_vec()).unwrap(), etag)
    };
    let created = race(1, ("If-None-Match", "*".to_string())).await;
    let (content, etag) = stored().await;
    assert_eq!(created, [content], "create-only: one creator, and its content is what is stored");
    let replaced = race(2, ("If-Match", etag)).await;
    assert_eq!(replaced, [stored().await.0], "If-Match on one ETag: one writer, and its content is stored");
}
