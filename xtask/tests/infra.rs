//! `cargo xtask deploy-infra` against a local moto server, through a small proxy that
//! counts write calls and can fail the N-th one.
//!
//! moto gaps worked around here: moto drops a
//! distribution origin's `OriginAccessControlId` and `S3OriginConfig`, and answers
//! GetBucketVersioning with the
//! wrong XML root. [`Moto`] starts moto with a small Python patch (a `sitecustomize.py`
//! on PYTHONPATH) for exactly these,
//! so the tool is tested against the real API shape, and with
//! `MOTO_ACM_VALIDATION_WAIT=0` so requested certificates are ISSUED at once.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudfront::types as cf;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use xtask::aws::Clients;

mod iam;
mod support;

const DOMAIN: &str = "charts.kube9.io";
const BUCKET: &str = "kube9-charts";

/// `sitecustomize.py` for the moto server process: Python imports it at startup (it is
/// first on PYTHONPATH), so the patch is in place before moto serves a request.
const MOTO_PATCH: &str = r#"
import moto.cloudfront.models as cfm
_origin_init = cfm.Origin.__init__
def _origin(self, origin):
    _origin_init(self, origin)
    # CloudFront returns these; moto 5.2 drops them.
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    if "S3OriginConfig" in origin:
        self.s3_origin_config = origin["S3OriginConfig"]
cfm.Origin.__init__ = _origin
import moto.s3.responses as s3r
def _get_bucket_versioning(self):
    # S3 answers <VersioningConfiguration>; moto 5.2 answers <GetBucketVersioningResponse>.
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>')
    return 200, {}, body
s3r.S3Response.get_bucket_versioning = _get_bucket_versioning
"#;

/// A patched moto server from the harness (the `sitecustomize.py` above is loaded into
/// the server process); killed on drop. A missing moto fails with the command that
/// provisions it.
struct Moto(xtask_dev::harness::MotoServer);

impl Moto {
    fn start() -> Moto {
        Moto::start_with_acm_wait(0)
    }

    /// `acm_wait`: seconds before moto reports a requested certificate ISSUED.
    fn start_with_acm_wait(acm_wait: u64) -> Moto {
        let server = xtask_dev::harness::MotoServer::builder()
            .acm_validation_wait(acm_wait)
            .sitecustomize(MOTO_PATCH)
            .start()
            .unwrap_or_else(|err| panic!("{err:#}"));
        Moto(server)
    }
}

impl std::ops::Deref for Moto {
    type Target = xtask_dev::harness::MotoServer;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Counts write calls and fails the N-th one (no forward: moto never sees it).
#[derive(Default)]
struct ProxyState {
    upstream: String,
    writes: AtomicUsize,
    fail_at: AtomicUsize,
    /// The write to hold forever (never forwarded); `held` is notified when it arrives.
    hold_action: Mutex<Option<String>>,
    held: tokio::sync::Notify,
    log: Mutex<Vec<String>>,
    /// Every request (reads too), labelled with `role`: what the IAM test evaluates.
    requests: Mutex<Vec<iam::Recorded>>,
    role: Mutex<String>,
    /// Canned answers for AWS's eventual consistency and conflicts (never forwarded).
    inject: Mutex<Vec<Injection>>,
}

/// Answer the next `times` requests matching `what` (an X-Amz-Target operation, or the
/// start of `METHOD /path?query`) with `status` and `body` instead of moto.
struct Injection {
    what: String,
    /// Matching requests let through to moto before the first canned answer.
    skip: usize,
    times: usize,
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Stack {
    fn inject(&self, what: &str, times: usize, status: u16, content_type: &'static str, body: &str) {
        self.inject_after(what, 0, times, status, content_type, body);
    }

    fn inject_after(&self, what: &str, skip: usize, times: usize, status: u16, content_type: &'static str, body: &str) {
        self.proxy.inject.lock().unwrap().push(Injection {
            what: what.to_string(),
            skip,
            times,
            status,
            content_type,
            body: body.to_string(),
        });
    }

    fn injections_left(&self) -> usize {
        self.proxy.inject.lock().unwrap().iter().map(|i| i.times).sum()
    }
}

#[derive(Clone)]
struct Proxy(Arc<ProxyState>, reqwest::Client);

/// The AWS operation of a request, and whether it writes.
fn classify(method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> (String, bool) {
    let is_read = |action: &str| ["Get", "List", "Describe", "Head"].iter().any(|p| action.starts_with(p));
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let action = target.rsplit('.').next().unwrap_or(target).to_string();
        let write = !is_read(&action);
        return (action, write);
    }
    let text = String::from_utf8_lossy(body);
    if method == "POST"
        && let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action="))
    {
        return (action.to_string(), !is_read(action));
    }
    (format!("{method} {path}"), !matches!(method, "GET" | "HEAD"))
}

fn injected_failure(path: &str, headers: &HeaderMap) -> Response {
    let (status, content_type, body) = if headers.contains_key("x-amz-target") {
        (
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            r#"{"__type":"AccessDeniedException","message":"injected failure"}"#.to_string(),
        )
    } else if path.starts_with("/2020-05-31/") || path.starts_with("/2013-04-01/") {
        (
            StatusCode::FORBIDDEN,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>injected failure</Message>\
             </Error><RequestId>injected</RequestId></ErrorResponse>"
                .to_string(),
        )
    } else {
        (
            StatusCode::FORBIDDEN,
            "application/xml",
            "<Error><Code>AccessDenied</Code><Message>injected failure</Message></Error>".to_string(),
        )
    };
    Response::builder().status(status).header("content-type", content_type).body(Body::from(body)).unwrap()
}

async fn forward(State(Proxy(state, client)): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let path = parts.uri.path().to_string();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let (action, write) = classify(parts.method.as_str(), &path, &parts.headers, &body);
    state.requests.lock().unwrap().push(iam::Recorded {
        role: state.role.lock().unwrap().clone(),
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: body.to_vec(),
    });
    let request_line = format!("{} {path_and_query}", parts.method);
    let canned = {
        let mut rules = state.inject.lock().unwrap();
        match rules
            .iter_mut()
            .find(|rule| rule.times > 0 && (action == rule.what || request_line.starts_with(&rule.what)))
        {
            Some(rule) if rule.skip > 0 => {
                rule.skip -= 1;
                None
            }
            Some(rule) => {
                rule.times -= 1;
                Some((rule.status, rule.content_type, rule.body.clone()))
            }
            None => None,
        }
    };
    if let Some((status, content_type, body)) = canned {
        return Response::builder().status(status).header("content-type", content_type).body(Body::from(body)).unwrap();
    }
    if write {
        let n = state.writes.fetch_add(1, Ordering::SeqCst) + 1;
        state.log.lock().unwrap().push(action.clone());
        if state.fail_at.load(Ordering::SeqCst) == n {
            return injected_failure(&path, &parts.headers);
        }
        if state.hold_action.lock().unwrap().as_deref() == Some(action.as_str()) {
            state.held.notify_one();
            std::future::pending::<()>().await;
        }
    }
    let mut upstream = client.request(parts.method.clone(), format!("{}{path_and_query}", state.upstream));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.body(body).send().await.expect("forwarding to moto");
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if !["transfer-encoding", "connection", "content-length"].contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).unwrap()
}

/// moto + proxy + a temporary repository.toml + the hosted zone (a precondition).
struct Stack {
    moto: Moto,
    proxy: Arc<ProxyState>,
    proxy_endpoint: String,
    dir: tempfile::TempDir,
    clients: Clients,
}

impl Stack {
    async fn new() -> Stack {
        Stack::with_zone(true).await
    }

    async fn with_zone(zone: bool) -> Stack {
        Stack::start(Moto::start(), zone).await
    }

    async fn start(moto: Moto, zone: bool) -> Stack {
        let state = Arc::new(ProxyState { upstream: moto.endpoint.clone(), ..Default::default() });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Proxy(state.clone(), xtask::http::client_builder().no_proxy().build().unwrap()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let shared = xtask::aws::config_loader("us-east-1")
            .endpoint_url(&moto.endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let stack = Stack {
            proxy_endpoint: format!("http://{address}"),
            moto,
            proxy: state,
            dir: tempfile::tempdir().unwrap(),
            clients: Clients::from_shared(shared),
        };
        stack.write_config("");
        if zone {
            stack.create_zone().await;
        }
        stack
    }

    async fn create_zone(&self) {
        self.clients
            .route53
            .create_hosted_zone()
            .name("kube9.io")
            .caller_reference(format!("zone-{}", fastrand::u64(..)))
            .send()
            .await
            .unwrap();
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("repository.toml")
    }

    /// Write repository.toml; `extra` lines go before the tables.
    fn write_config(&self, extra: &str) {
        let text = format!(
            "domain = \"{DOMAIN}\"\nhosted_zone = \"kube9.io\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\n\
             price_class = \"PriceClass_100\"\n{extra}\n[tags]\nproject = \"kube9-operator\"\n\
             component = \"chart-repository\"\nmanaged-by = \"cargo-xtask\"\n"
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    fn writes(&self) -> usize {
        self.proxy.writes.load(Ordering::SeqCst)
    }

    fn reset_counter(&self, fail_at: usize) {
        self.proxy.writes.store(0, Ordering::SeqCst);
        self.proxy.fail_at.store(fail_at, Ordering::SeqCst);
        self.proxy.log.lock().unwrap().clear();
    }

    /// Run `xtask deploy-infra ARGS` against the proxy.
    async fn deploy(&self, args: &[&str]) -> Run {
        self.deploy_env(args, true).await
    }

    async fn deploy_env(&self, args: &[&str], credentials: bool) -> Run {
        let out = self.command(args, credentials).output().await.expect("running xtask");
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn command(&self, args: &[&str], credentials: bool) -> tokio::process::Command {
        self.xtask("deploy-infra", args, credentials)
    }

    /// `xtask --config CONFIG SUBCOMMAND ARGS` against the proxy.
    fn xtask(&self, subcommand: &str, args: &[&str], credentials: bool) -> tokio::process::Command {
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .arg("--config")
            .arg(self.config_path())
            .arg(subcommand)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.proxy_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn");
        if credentials {
            command.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// Every resource deploy-infra could have made, as text (empty when none).
    async fn inventory(&self) -> Vec<String> {
        let c = &self.clients;
        let mut found = Vec::new();
        for b in c.s3.list_buckets().send().await.unwrap().buckets() {
            found.push(format!("bucket {}", b.name().unwrap_or_default()));
        }
        let dists = c.cloudfront.list_distributions().send().await.unwrap();
        for d in dists.distribution_list().map(aws_sdk_cloudfront::types::DistributionList::items).unwrap_or_default() {
            found.push(format!("distribution {}", d.id()));
        }
        let oacs = c.cloudfront.list_origin_access_controls().send().await.unwrap();
        for o in oacs
            .origin_access_control_list()
            .map(aws_sdk_cloudfront::types::OriginAccessControlList::items)
            .unwrap_or_default()
        {
            found.push(format!("oac {}", o.id()));
        }
        for cert in c.acm.list_certificates().send().await.unwrap().certificate_summary_list() {
            found.push(format!("certificate {}", cert.certificate_arn().unwrap_or_default()));
        }
        let zone = self.zone_id().await;
        for set in
            c.route53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap().resource_record_sets()
        {
            let kind = set.r#type().as_str();
            if kind != "NS" && kind != "SOA" {
                found.push(format!("record {kind} {}", set.name()));
            }
        }
        found
    }

    async fn zone_id(&self) -> String {
        let zones = self.clients.route53.list_hosted_zones().send().await.unwrap();
        zones.hosted_zones()[0].id().trim_start_matches("/hostedzone/").to_string()
    }

    async fn our_distribution(&self) -> (String, String, String, cf::DistributionConfig, String) {
        let list = self.clients.cloudfront.list_distributions().send().await.unwrap();
        let summary = &list.distribution_list().unwrap().items()[0];
        let got = self.clients.cloudfront.get_distribution_config().id(summary.id()).send().await.unwrap();
        (
            summary.id().to_string(),
            summary.arn().to_string(),
            summary.domain_name().to_string(),
            got.distribution_config().unwrap().clone(),
            got.e_tag().unwrap_or_default().to_string(),
        )
    }

    async fn record(&self, kind: &str) -> Option<aws_sdk_route53::types::ResourceRecordSet> {
        let zone = self.zone_id().await;
        let sets = self.clients.route53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
        sets.resource_record_sets()
            .iter()
            .find(|s| s.name() == format!("{DOMAIN}.") && s.r#type().as_str() == kind)
            .cloned()
    }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ok: {}\n--- stdout\n{}\n--- stderr\n{}", self.ok, self.stdout, self.stderr)
    }
}

fn our_tags() -> Vec<(String, String)> {
    [("component", "chart-repository"), ("managed-by", "cargo-xtask"), ("project", "kube9-operator")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sorted(mut tags: Vec<(String, String)>) -> Vec<(String, String)> {
    tags.sort();
    tags
}

/// Read every required setting back through the SDK.
async fn assert_fully_deployed(stack: &Stack) {
    let c = &stack.clients;
    // Bucket.
    let bpa = c.s3.get_public_access_block().bucket(BUCKET).send().await.unwrap();
    let bpa = bpa.public_access_block_configuration().unwrap();
    assert_eq!(
        (bpa.block_public_acls(), bpa.ignore_public_acls(), bpa.block_public_policy(), bpa.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = c.s3.get_bucket_encryption().bucket(BUCKET).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
    let versioning = c.s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert_eq!(versioning.status().map(aws_sdk_s3::types::BucketVersioningStatus::as_str), Some("Enabled"));
    let ownership = c.s3.get_bucket_ownership_controls().bucket(BUCKET).send().await.unwrap();
    assert_eq!(ownership.ownership_controls().unwrap().rules()[0].object_ownership().as_str(), "BucketOwnerEnforced");
    let tags = c.s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
    let tags: Vec<(String, String)> = tags.tag_set().iter().map(|t| (t.key().into(), t.value().into())).collect();
    assert_eq!(sorted(tags), our_tags(), "bucket tags");

    // Distribution.
    let (id, arn, domain_name, config, _) = stack.our_distribution().await;
    assert_eq!(config.aliases().unwrap().items(), [DOMAIN]);
    assert!(config.enabled());
    let behavior = config.default_cache_behavior().unwrap();
    assert_eq!(behavior.viewer_protocol_policy().as_str(), "redirect-to-https");
    let mut methods: Vec<&str> =
        behavior.allowed_methods().unwrap().items().iter().map(aws_sdk_cloudfront::types::Method::as_str).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["GET", "HEAD"]);
    assert_eq!(behavior.cache_policy_id(), Some("658327ea-f89d-4fab-a63d-7e88639e58f6"));
    assert_eq!(behavior.response_headers_policy_id(), Some("67f7725c-6f97-4210-82d7-5512b31e9d03"));
    assert_eq!(behavior.compress(), Some(true));
    assert_eq!(config.http_version().map(aws_sdk_cloudfront::types::HttpVersion::as_str), Some("http2and3"));
    assert_eq!(config.is_ipv6_enabled(), Some(true));
    assert_eq!(config.price_class().map(aws_sdk_cloudfront::types::PriceClass::as_str), Some("PriceClass_100"));
    let cert = config.viewer_certificate().unwrap();
    assert_eq!(cert.ssl_support_method().map(aws_sdk_cloudfront::types::SslSupportMethod::as_str), Some("sni-only"));
    assert_eq!(
        cert.minimum_protocol_version().map(aws_sdk_cloudfront::types::MinimumProtocolVersion::as_str),
        Some("TLSv1.2_2021")
    );
    assert_eq!(cert.cloud_front_default_certificate(), Some(false));
    let cert_arn = cert.acm_certificate_arn().unwrap().to_string();
    let errors = config.custom_error_responses().unwrap().items();
    let mut codes: Vec<(i32, Option<&str>, Option<i64>)> =
        errors.iter().map(|e| (e.error_code(), e.response_code(), e.error_caching_min_ttl())).collect();
    codes.sort();
    assert_eq!(codes, [(403, Some("404"), Some(10)), (404, Some("404"), Some(10))]);
    let origin = &config.origins().unwrap().items()[0];
    assert_eq!(origin.domain_name(), format!("{BUCKET}.s3.us-east-1.amazonaws.com"));
    assert_eq!(
        origin.s3_origin_config().map(aws_sdk_cloudfront::types::S3OriginConfig::origin_access_identity),
        Some("")
    );
    let oac_id = origin.origin_access_control_id().unwrap().to_string();
    let dist_tags = c.cloudfront.list_tags_for_resource().resource(&arn).send().await.unwrap();
    let dist_tags: Vec<(String, String)> = dist_tags
        .tags()
        .unwrap()
        .items()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(sorted(dist_tags), our_tags(), "distribution tags");
    let status = c.cloudfront.get_distribution().id(&id).send().await.unwrap();
    assert_eq!(status.distribution().unwrap().status(), "Deployed");

    // Origin Access Control.
    let oac = c.cloudfront.get_origin_access_control().id(&oac_id).send().await.unwrap();
    let oac = oac.origin_access_control().unwrap().origin_access_control_config().unwrap();
    assert_eq!(oac.signing_protocol().as_str(), "sigv4");
    assert_eq!(oac.signing_behavior().as_str(), "always");
    assert_eq!(oac.origin_access_control_origin_type().as_str(), "s3");

    // Certificate: requested, tagged, ISSUED, validated through a CNAME in the zone.
    let detail = c.acm.describe_certificate().certificate_arn(&cert_arn).send().await.unwrap();
    let detail = detail.certificate().unwrap();
    assert_eq!(detail.status().map(aws_sdk_acm::types::CertificateStatus::as_str), Some("ISSUED"));
    assert_eq!(detail.domain_name(), Some(DOMAIN));
    let cert_tags = c.acm.list_tags_for_certificate().certificate_arn(&cert_arn).send().await.unwrap();
    let cert_tags: Vec<(String, String)> =
        cert_tags.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect();
    assert_eq!(sorted(cert_tags), our_tags(), "certificate tags");
    let validation = detail.domain_validation_options()[0].resource_record().unwrap();
    let zone = stack.zone_id().await;
    let sets = c.route53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
    assert!(
        sets.resource_record_sets().iter().any(|s| s.name() == validation.name() && s.r#type().as_str() == "CNAME"),
        "validation CNAME {} in the zone",
        validation.name()
    );

    // Bucket policy: only this distribution, only TLS.
    let policy = c.s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let allow = statements.iter().find(|s| s["Effect"] == "Allow").unwrap();
    assert_eq!(allow["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(allow["Condition"]["StringEquals"]["AWS:SourceArn"], arn.as_str());
    let deny = statements.iter().find(|s| s["Effect"] == "Deny").unwrap();
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");

    // Records: A and AAAA aliases to the distribution.
    for kind in ["A", "AAAA"] {
        let set = stack.record(kind).await.unwrap_or_else(|| panic!("{kind} record"));
        let alias = set.alias_target().unwrap();
        assert_eq!(alias.hosted_zone_id(), "Z2FDTNDATAQYW2");
        assert_eq!(alias.dns_name().trim_end_matches('.'), domain_name.trim_end_matches('.'));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_nothing_then_no_changes_with_zero_writes() {
    let stack = Stack::new().await;

    let dry = stack.deploy(&["--dry-run"]).await;
    assert!(dry.ok, "{dry:?}");
    assert!(dry.stdout.contains("+ create s3 bucket kube9-charts"), "{dry:?}");
    assert!(dry.stdout.contains("dry run: nothing was changed"), "{dry:?}");
    assert_eq!(stack.writes(), 0, "a dry run writes nothing");
    assert_eq!(stack.inventory().await, Vec::<String>::new(), "a dry run creates nothing");

    let first = stack.deploy(&[]).await;
    assert!(first.ok, "{first:?}");
    assert!(first.stdout.contains("deployed"), "{first:?}");
    assert!(stack.writes() > 0);
    assert_fully_deployed(&stack).await;

    stack.reset_counter(0);
    let second = stack.deploy(&[]).await;
    assert!(second.ok, "{second:?}");
    assert!(second.stdout.contains("no changes"), "{second:?}");
    assert_eq!(stack.writes(), 0, "re-run made writes: {:?}", stack.proxy.log.lock().unwrap());

    let json = stack.deploy(&["--output", "json"]).await;
    assert!(json.ok, "{json:?}");
    let document: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("--output json prints one JSON document");
    assert_eq!(document["result"]["outcome"], "no-changes");
    assert_eq!(document["result"]["summary"]["repository_url"], "https://charts.kube9.io");
    assert!(document["result"]["summary"]["distribution_id"].is_string());
    assert_eq!(stack.writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_and_repaired() {
    let stack = Stack::new().await;
    let first = stack.deploy(&[]).await;
    assert!(first.ok, "{first:?}");
    let c = &stack.clients;

    // Four hand changes: Block Public Access off, viewer protocol allow-all, the default
    // root object back to the index (as deployed before the landing page), the A record deleted.
    c.s3.put_public_access_block()
        .bucket(BUCKET)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(false)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (id, _, _, config, etag) = stack.our_distribution().await;
    let mut drifted = config.clone();
    let mut behavior = drifted.default_cache_behavior.clone().unwrap();
    behavior.viewer_protocol_policy = cf::ViewerProtocolPolicy::AllowAll;
    drifted.default_cache_behavior = Some(behavior);
    assert_eq!(drifted.default_root_object.as_deref(), Some("index.html"), "deployed with the landing page as root");
    drifted.default_root_object = Some("index.yaml".into());
    c.cloudfront.update_distribution().id(&id).if_match(etag).distribution_config(drifted).send().await.unwrap();
    let a = stack.record("A").await.unwrap();
    let zone = stack.zone_id().await;
    let delete = aws_sdk_route53::types::Change::builder()
        .action(aws_sdk_route53::types::ChangeAction::Delete)
        .resource_record_set(a)
        .build()
        .unwrap();
    c.route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(aws_sdk_route53::types::ChangeBatch::builder().changes(delete).build().unwrap())
        .send()
        .await
        .unwrap();

    // A dry run shows all three and changes nothing.
    stack.reset_counter(0);
    let dry = stack.deploy(&["--dry-run"]).await;
    assert!(dry.ok, "{dry:?}");
    for shown in [
        "block_public_acls: false → true",
        "restrict_public_buckets: false → true",
        "viewer_protocol_policy: allow-all → redirect-to-https",
        "default_root_object: index.yaml → index.html",
        "A.target: (none) → alias",
    ] {
        assert!(dry.stdout.contains(shown), "plan lacks {shown:?}: {dry:?}");
    }
    assert_eq!(stack.writes(), 0);
    assert!(stack.record("A").await.is_none(), "dry run repaired nothing");

    let repair = stack.deploy(&[]).await;
    assert!(repair.ok, "{repair:?}");
    assert!(repair.stdout.contains("~ update s3 bucket kube9-charts"), "{repair:?}");
    assert_fully_deployed(&stack).await;
    let (_, _, _, repaired, _) = stack.our_distribution().await;
    assert_eq!(repaired.default_root_object.as_deref(), Some("index.html"), "the root object was not put back");

    stack.reset_counter(0);
    let again = stack.deploy(&[]).await;
    assert!(again.stdout.contains("no changes"), "{again:?}");
    assert_eq!(stack.writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_distribution_holding_the_alias_is_refused_before_any_write() {
    let stack = Stack::new().await;
    let desired = xtask::infra::Desired::new(xtask::config::RepoConfig::load(&stack.config_path()).unwrap());
    // The portal's distribution: our alias, not our tags.
    let mut config =
        desired.distribution_config("portal", "E0PORTAL", "arn:aws:acm:us-east-1:1:certificate/p").unwrap();
    config.comment = "kube9 portal".into();
    let tags =
        cf::Tags::builder().items(cf::Tag::builder().key("project").value("kube9-portal").build().unwrap()).build();
    let created = stack
        .clients
        .cloudfront
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            cf::DistributionConfigWithTags::builder().distribution_config(config).tags(tags).build(),
        )
        .send()
        .await
        .unwrap();
    let portal_id = created.distribution().unwrap().id().to_string();
    let before = stack.clients.cloudfront.get_distribution_config().id(&portal_id).send().await.unwrap();

    let run = stack.deploy(&[]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains(&portal_id) && run.stderr.contains("ownership tags"), "{run:?}");
    assert!(run.stderr.contains("preflight"), "{run:?}");
    assert_eq!(stack.writes(), 0, "refused before any write");
    let after = stack.clients.cloudfront.get_distribution_config().id(&portal_id).send().await.unwrap();
    assert_eq!(before.distribution_config(), after.distribution_config(), "the portal's distribution is untouched");
    assert_eq!(stack.inventory().await, [format!("distribution {portal_id}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_untagged_bucket_with_our_name_is_refused_before_any_write() {
    let stack = Stack::new().await;
    stack.clients.s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    stack
        .clients
        .s3
        .put_bucket_tagging()
        .bucket(BUCKET)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(aws_sdk_s3::types::Tag::builder().key("project").value("kube9-portal").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let run = stack.deploy(&[]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("bucket kube9-charts already exists without our ownership tags"), "{run:?}");
    assert_eq!(stack.writes(), 0, "refused before any write");
    let tags = stack.clients.s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
    assert_eq!(tags.tag_set().len(), 1, "the foreign bucket's tags are untouched");
    let bpa = stack.clients.s3.get_public_access_block().bucket(BUCKET).send().await;
    assert!(bpa.is_err(), "no Block Public Access was put on the foreign bucket");
    assert_eq!(stack.inventory().await, [format!("bucket {BUCKET}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_each_write_rolls_back_what_the_run_created() {
    let stack = Stack::new().await;
    // A clean run, to learn how many writes a full deployment makes.
    let clean = stack.deploy(&[]).await;
    assert!(clean.ok, "{clean:?}");
    let writes: Vec<String> = stack.proxy.log.lock().unwrap().clone();
    assert!(writes.len() >= 10, "a full deployment makes every write: {writes:?}");

    let http = xtask::http::client_builder().build().unwrap();
    for n in 1..=writes.len() {
        http.post(format!("{}/moto-api/reset", stack.moto.endpoint)).send().await.unwrap();
        stack.create_zone().await;
        stack.reset_counter(n);
        let failed = stack.deploy(&[]).await;
        eprintln!("--- failing write {n} ({}):\n{}", writes[n - 1], failed.stderr);
        assert!(!failed.ok, "write {n} ({}) failed but the run succeeded: {failed:?}", writes[n - 1]);
        assert!(failed.stderr.contains("step `"), "names the failing step: {failed:?}");
        assert!(failed.stderr.contains("AccessDenied") && failed.stderr.contains("injected failure"), "{failed:?}");
        assert!(failed.stderr.contains("nothing this run created remains") || n == 1, "{failed:?}");
        assert_eq!(stack.inventory().await, Vec::<String>::new(), "after failing write {n} ({})", writes[n - 1]);

        stack.reset_counter(0);
        let retry = stack.deploy(&[]).await;
        assert!(retry.ok, "re-run after failing write {n}: {retry:?}");
    }
    assert_fully_deployed(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_failures_are_clear_and_create_nothing() {
    let stack = Stack::with_zone(false).await;

    let run = stack.deploy(&[]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("hosted zone kube9.io not found"), "{run:?}");

    stack.create_zone().await;
    stack.write_config(
        "certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000\"",
    );
    let run = stack.deploy(&[]).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("certificate arn:aws:acm:us-east-1:123456789012:certificate/00000000")
            && run.stderr.contains("ResourceNotFoundException"),
        "{run:?}"
    );

    stack.write_config("");
    let run = stack.deploy_env(&[], false).await;
    assert!(!run.ok);
    assert_eq!(run.stderr.matches("no AWS credentials: ").count(), 1, "{run:?}");

    let config = std::fs::read_to_string(stack.config_path()).unwrap().replace("us-east-1", "xx-nowhere-1");
    std::fs::write(stack.config_path(), config).unwrap();
    let run = stack.deploy(&[]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("unknown AWS region \"xx-nowhere-1\""), "{run:?}");

    assert_eq!(stack.writes(), 0);
    assert_eq!(stack.inventory().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_issued_certificate_is_used_as_is() {
    let stack = Stack::new().await;
    // Someone else's certificate for the domain: usable, never changed or deleted.
    let requested = stack
        .clients
        .acm
        .request_certificate()
        .domain_name(DOMAIN)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap();
    let arn = requested.certificate_arn().unwrap().to_string();
    stack.write_config(&format!("certificate_arn = \"{arn}\""));
    let run = stack.deploy(&[]).await;
    assert!(run.ok, "{run:?}");
    assert!(run.stdout.contains(&format!("= keep acm certificate {arn}")), "{run:?}");
    let (_, _, _, config, _) = stack.our_distribution().await;
    assert_eq!(config.viewer_certificate().unwrap().acm_certificate_arn(), Some(arn.as_str()));
    let certificates = stack.clients.acm.list_certificates().send().await.unwrap();
    assert_eq!(certificates.certificate_summary_list().len(), 1, "no certificate requested");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_times_out_says_what_is_pending_and_rolls_back() {
    // moto keeps requested certificates PENDING_VALIDATION for an hour here.
    let stack = Stack::start(Moto::start_with_acm_wait(3600), true).await;
    let run = stack.deploy(&["--wait-timeout", "2"]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("timed out after 2 s waiting for certificate"), "{run:?}");
    assert!(run.stderr.contains("still pending: certificate status PENDING_VALIDATION"), "{run:?}");
    assert!(run.stderr.contains("nothing this run created remains"), "{run:?}");
    assert_eq!(stack.inventory().await, Vec::<String>::new());
}

#[test]
fn iam_policies_are_valid_json_naming_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("repository.toml");
    std::fs::write(
        &config,
        "domain = \"charts.example.org\"\nhosted_zone = \"example.org\"\nbucket = \"example-charts\"\n\
         region = \"eu-west-1\"\n[tags]\nowner = \"charts\"\n",
    )
    .unwrap();
    let run = |role: &str| {
        let out = support::xtask().arg("--config").arg(&config).args(["iam-policy", "--role", role]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("iam-policy prints JSON")
    };
    let all = run("all");
    for (role, document) in [("deploy", run("deploy")), ("plan", run("plan")), ("release", run("release"))] {
        assert_eq!(all[role], document);
        assert_eq!(document["Version"], "2012-10-17");
        let text = document.to_string();
        assert!(text.contains("arn:aws:s3:::example-charts"), "{role}: {text}");
        assert!(role == "plan" || text.contains("aws:ResourceTag/owner"), "{role}: {text}");
        for statement in document["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            assert!(statement["Action"].as_array().is_some_and(|a| !a.is_empty()), "{statement}");
        }
    }
    let release = run("release").to_string();
    for action in ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "cloudfront:CreateInvalidation"] {
        assert!(release.contains(action), "{action}");
    }
    assert!(!release.contains("s3:DeleteBucket") && !release.contains("cloudfront:UpdateDistribution"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_pointing_elsewhere_is_refused_before_any_write() {
    use aws_sdk_route53::types as r53;
    let stack = Stack::new().await;
    let zone = stack.zone_id().await;
    let portal = r53::ResourceRecordSet::builder()
        .name(DOMAIN)
        .r#type(r53::RrType::A)
        .alias_target(
            r53::AliasTarget::builder()
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .dns_name("dportal123.cloudfront.net")
                .evaluate_target_health(false)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let change = r53::Change::builder().action(r53::ChangeAction::Create).resource_record_set(portal).build().unwrap();
    stack
        .clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(r53::ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();

    let run = stack.deploy(&[]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("Route53 A record charts.kube9.io already exists"), "{run:?}");
    assert!(run.stderr.contains("dportal123.cloudfront.net"), "{run:?}");
    assert_eq!(stack.writes(), 0);
    let kept = stack.record("A").await.unwrap();
    assert_eq!(kept.alias_target().unwrap().dns_name().trim_end_matches('.'), "dportal123.cloudfront.net");
    assert_eq!(stack.inventory().await, [format!("record A {DOMAIN}.")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_run_rolls_back_what_the_run_created() {
    let stack = Stack::new().await;
    // Learn how the distribution create looks, then hold exactly that write until Ctrl-C
    // (matched by operation, not by position: the count of writes before it may vary).
    let create = "POST /2020-05-31/distribution";
    let full = stack.deploy(&[]).await;
    assert!(full.ok, "{full:?}");
    assert!(stack.proxy.log.lock().unwrap().iter().any(|w| w == create), "a distribution create");
    http_reset(&stack).await;

    stack.reset_counter(0);
    *stack.proxy.hold_action.lock().unwrap() = Some(create.to_string());
    let child = stack.command(&[], true).kill_on_drop(true).spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(120), stack.proxy.held.notified()).await.expect("the held write arrived");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "Ctrl-C ends the run with 128 + SIGINT, after the rollback: {stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C) during step `create cloudfront distribution"), "{stderr}");
    assert!(stderr.contains("nothing this run created remains"), "{stderr}");
    assert_eq!(stack.inventory().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_abandons_the_rollback_and_names_what_remains() {
    let stack = Stack::new().await;
    // Hold the distribution create until Ctrl-C, then the rollback's certificate delete
    // until a second one.
    *stack.proxy.hold_action.lock().unwrap() = Some("POST /2020-05-31/distribution".to_string());
    let child = stack.command(&[], true).kill_on_drop(true).spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(120), stack.proxy.held.notified()).await.expect("the held create arrived");
    *stack.proxy.hold_action.lock().unwrap() = Some("DeleteCertificate".to_string());
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    tokio::time::timeout(Duration::from_secs(120), stack.proxy.held.notified()).await.expect("the held delete arrived");
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.expect("it ends").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C) during step `create cloudfront distribution"), "{stderr}");
    assert!(stderr.contains("rolled back (deleted): validation record"), "{stderr}");
    assert!(stderr.contains("rollback aborted by a second Ctrl-C; not deleted: acm certificate arn:"), "{stderr}");
    assert!(stderr.contains("origin access control") && stderr.contains("s3 bucket kube9-charts"), "{stderr}");
    assert_eq!(stderr.matches("error: ").count(), 1, "reported once, by entry.rs: {stderr}");
    let left = stack.inventory().await;
    assert!(
        left.iter().any(|r| r.starts_with("certificate ")) && left.contains(&format!("bucket {BUCKET}")),
        "{left:?}"
    );
}

/// Empty moto and put the hosted zone back.
async fn http_reset(stack: &Stack) {
    xtask::http::client_builder()
        .build()
        .unwrap()
        .post(format!("{}/moto-api/reset", stack.moto.endpoint))
        .send()
        .await
        .unwrap();
    stack.create_zone().await;
}

/// Run `xtask SUBCOMMAND ARGS` against the proxy as `role` (the label its requests get).
async fn run_as(stack: &Stack, role: &str, subcommand: &str, args: &[&str]) -> Run {
    *stack.proxy.role.lock().unwrap() = role.to_string();
    let out = stack.xtask(subcommand, args, true).output().await.expect("running xtask");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The policies `cargo xtask iam-policy` prints, offline: no AWS variable at all.
fn printed_policies(config: &std::path::Path) -> serde_json::Value {
    let out = support::xtask()
        .arg("--config")
        .arg(config)
        .args(["iam-policy", "--role", "all"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success(), "iam-policy offline: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_call_is_allowed_by_the_printed_policies_and_out_of_bounds_calls_are_denied() {
    let stack = Stack::new().await;
    let ok = |run: Run, what: &str| assert!(run.ok, "{what}: {run:?}");

    // The plan job and deploy-infra on an empty account, then on the deployed stack.
    ok(run_as(&stack, "plan", "deploy-infra", &["--dry-run"]).await, "plan from nothing");
    stack.reset_counter(0);
    ok(run_as(&stack, "deploy", "deploy-infra", &[]).await, "create");
    let writes_of_a_create = stack.writes();
    ok(run_as(&stack, "deploy", "deploy-infra", &[]).await, "no-op re-run");
    // Drift on the bucket and the distribution: planned, then repaired.
    let c = &stack.clients;
    c.s3.delete_public_access_block().bucket(BUCKET).send().await.unwrap();
    let (id, _, _, config, etag) = stack.our_distribution().await;
    let mut drifted = config.clone();
    drifted.comment = "changed by hand".into();
    c.cloudfront.update_distribution().id(&id).if_match(etag).distribution_config(drifted).send().await.unwrap();
    ok(run_as(&stack, "plan", "deploy-infra", &["--dry-run"]).await, "plan of the drift");
    ok(run_as(&stack, "deploy", "deploy-infra", &[]).await, "drift repair");

    // Releases into the deployed stack. moto evaluates the bucket policy, whose
    // `aws:SecureTransport = false` deny matches its plain-HTTP endpoint: lift it here.
    c.s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let chart = stack.dir.path().join("demo");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: \"1.0.0\"\n")
        .unwrap();
    std::fs::write(chart.join("values.yaml"), "replicas: 1\n").unwrap();
    let chart_arg = chart.display().to_string();
    let release = ["--chart", chart_arg.as_str(), "--no-verify", "--wait-timeout", "60"];
    ok(run_as(&stack, "release", "release-chart", &release).await, "release");
    ok(run_as(&stack, "release", "release-chart", &release).await, "release re-run");
    let dry_release = ["--chart", chart_arg.as_str(), "--no-verify", "--dry-run"];
    ok(run_as(&stack, "release", "release-chart", &dry_release).await, "release --dry-run");
    ok(run_as(&stack, "release", "reindex", &["--wait-timeout", "60"]).await, "reindex");
    ok(run_as(&stack, "release", "reindex", &["--dry-run"]).await, "reindex --dry-run");
    let yank = ["demo", "1.0.0", "--reason", "recorded for IAM", "--wait-timeout", "60"];
    ok(run_as(&stack, "release", "yank", &[&yank[..], &["--dry-run"]].concat()).await, "yank --dry-run");
    ok(run_as(&stack, "release", "yank", &yank).await, "yank");
    ok(run_as(&stack, "release", "yank", &["demo", "1.0.0", "--undo", "--wait-timeout", "60"]).await, "yank --undo");

    // A create that fails at its last write rolls everything back.
    http_reset(&stack).await;
    stack.reset_counter(writes_of_a_create);
    let failed = run_as(&stack, "deploy", "deploy-infra", &[]).await;
    assert!(!failed.ok && failed.stderr.contains("nothing this run created remains"), "{failed:?}");
    assert_eq!(stack.inventory().await, Vec::<String>::new());

    // Every recorded request, as IAM authorizes it.
    let ours = our_tags();
    let recorded = stack.proxy.requests.lock().unwrap().clone();
    let mut unmapped = Vec::new();
    let mut calls: Vec<(String, iam::Authz)> = Vec::new();
    for request in &recorded {
        match iam::authorize(request, &ours) {
            Ok((operation, authorizations)) => {
                calls.extend(authorizations.into_iter().map(|a| (operation.clone(), a)));
            }
            Err(unknown) => unmapped.push(unknown),
        }
    }
    unmapped.dedup();
    assert!(unmapped.is_empty(), "requests without an IAM mapping in tests/iam/mod.rs: {unmapped:#?}");
    for operation in ["CreateDistributionWithTags", "RequestCertificate", "DeleteDistribution", "CreateInvalidation"] {
        assert!(calls.iter().any(|(o, _)| o == operation), "the recorded runs include {operation}");
    }
    let policies = printed_policies(&stack.config_path());
    let mut unique: Vec<(String, iam::Authz)> = Vec::new();
    for call in calls {
        if !unique.iter().any(|(_, a)| *a == call.1) {
            unique.push(call);
        }
    }
    let authorizations: Vec<iam::Authz> = unique.iter().map(|(_, a)| a.clone()).collect();
    let decisions = iam::simulate(&policies, &authorizations);
    let denied: Vec<String> = unique
        .iter()
        .zip(&decisions)
        .filter(|(_, decision)| decision.as_str() != "Allowed")
        .map(|((operation, authz), decision)| format!("{operation}: {authz}: {decision}"))
        .collect();
    assert!(denied.is_empty(), "recorded calls the printed policies do not allow:\n{}", denied.join("\n"));

    // Least privilege: every granted action is used by a recorded call, except these
    // (code paths the recorded runs do not reach).
    let not_exercised = [
        ("deploy", "cloudfront:UpdateOriginAccessControl"), // only when the OAC drifted
    ];
    let mut unused = Vec::new();
    for role in ["deploy", "plan", "release"] {
        for statement in policies[role]["Statement"].as_array().unwrap() {
            for action in statement["Action"].as_array().unwrap().iter().filter_map(|a| a.as_str()) {
                let used = authorizations.iter().any(|a| a.role == role && a.action == action);
                if !used && !not_exercised.contains(&(role, action)) {
                    unused.push(format!("{role}: {action}"));
                }
            }
        }
    }
    assert!(unused.is_empty(), "granted but never used by a recorded call: {unused:#?}");

    // And what must stay out of reach.
    let forbidden = iam::out_of_bounds(BUCKET, DOMAIN, &ours);
    let decisions = iam::simulate(&policies, &forbidden);
    let allowed: Vec<String> = forbidden
        .iter()
        .zip(&decisions)
        .filter(|(_, decision)| !decision.ends_with("Denied"))
        .map(|(authz, decision)| format!("{authz}: {decision}"))
        .collect();
    assert!(allowed.is_empty(), "out-of-bounds calls not denied:\n{}", allowed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_repair_keeps_the_settings_this_tool_does_not_manage() {
    let stack = Stack::new().await;
    let first = stack.deploy(&[]).await;
    assert!(first.ok, "{first:?}");
    // By hand: access logs, a WAF web ACL, a second cache behavior and a geo restriction,
    // plus drift on a managed setting (viewer protocol).
    let (id, _, _, config, etag) = stack.our_distribution().await;
    let mut changed = config.clone();
    changed.logging = Some(
        cf::LoggingConfig::builder()
            .enabled(true)
            .include_cookies(false)
            .bucket("kube9-logs.s3.amazonaws.com")
            .prefix("charts/")
            .build(),
    );
    let web_acl = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/charts/0123abcd";
    changed.web_acl_id = Some(web_acl.to_string());
    let mut extra = config.default_cache_behavior().unwrap().clone();
    extra.viewer_protocol_policy = cf::ViewerProtocolPolicy::HttpsOnly;
    let get_head = vec![cf::Method::Get, cf::Method::Head];
    let extra = cf::CacheBehavior::builder()
        .path_pattern("/extra/*")
        .target_origin_id(extra.target_origin_id())
        .viewer_protocol_policy(cf::ViewerProtocolPolicy::HttpsOnly)
        .allowed_methods(
            cf::AllowedMethods::builder()
                .quantity(2)
                .set_items(Some(get_head.clone()))
                .cached_methods(cf::CachedMethods::builder().quantity(2).set_items(Some(get_head)).build().unwrap())
                .build()
                .unwrap(),
        )
        .cache_policy_id(xtask::infra::desired::CACHING_OPTIMIZED_POLICY_ID)
        .build()
        .unwrap();
    changed.cache_behaviors = Some(cf::CacheBehaviors::builder().quantity(1).items(extra).build().unwrap());
    changed.restrictions = Some(
        cf::Restrictions::builder()
            .geo_restriction(
                cf::GeoRestriction::builder()
                    .restriction_type(cf::GeoRestrictionType::Blacklist)
                    .quantity(1)
                    .items("KP")
                    .build()
                    .unwrap(),
            )
            .build(),
    );
    let mut behavior = changed.default_cache_behavior.clone().unwrap();
    behavior.viewer_protocol_policy = cf::ViewerProtocolPolicy::AllowAll;
    changed.default_cache_behavior = Some(behavior);
    stack
        .clients
        .cloudfront
        .update_distribution()
        .id(&id)
        .if_match(etag)
        .distribution_config(changed)
        .send()
        .await
        .unwrap();

    stack.reset_counter(0);
    let repair = stack.deploy(&[]).await;
    assert!(repair.ok, "{repair:?}");
    assert!(repair.stdout.contains("viewer_protocol_policy: allow-all → redirect-to-https"), "{repair:?}");
    assert!(stack.proxy.log.lock().unwrap().iter().any(|w| w.starts_with("PUT /2020-05-31/distribution/")));

    let (_, _, _, after, _) = stack.our_distribution().await;
    assert_eq!(after.default_cache_behavior().unwrap().viewer_protocol_policy().as_str(), "redirect-to-https");
    let logging = after.logging().expect("logging kept");
    assert!(logging.enabled() && logging.bucket() == "kube9-logs.s3.amazonaws.com" && logging.prefix() == "charts/");
    assert_eq!(after.web_acl_id(), Some(web_acl), "web ACL kept");
    let behaviors = after.cache_behaviors().expect("cache behaviors kept");
    assert_eq!(
        behaviors.items().iter().map(aws_sdk_cloudfront::types::CacheBehavior::path_pattern).collect::<Vec<_>>(),
        ["/extra/*"]
    );
    assert_eq!(behaviors.items()[0].viewer_protocol_policy().as_str(), "https-only");
    let geo = after.restrictions().and_then(|r| r.geo_restriction()).expect("geo restriction kept");
    assert_eq!((geo.restriction_type().as_str(), geo.items()), ("blacklist", &["KP".to_string()][..]));

    stack.reset_counter(0);
    let again = stack.deploy(&[]).await;
    assert!(again.stdout.contains("no changes"), "{again:?}");
    assert_eq!(stack.writes(), 0);
}

const ACM_JSON: &str = "application/x-amz-json-1.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventual_consistency_after_creates_is_waited_out() {
    let stack = Stack::new().await;
    // ACM does not know the certificate for a moment after RequestCertificate ...
    stack.inject(
        "DescribeCertificate",
        2,
        400,
        ACM_JSON,
        r#"{"__type":"ResourceNotFoundException","message":"Could not find certificate (injected)"}"#,
    );
    // ... then reports every validation SUCCESS while the certificate is not ISSUED yet
    // (after the call that reads the validation record).
    stack.inject_after(
        "DescribeCertificate",
        1,
        2,
        200,
        ACM_JSON,
        r#"{"Certificate":{"CertificateArn":"injected","DomainName":"charts.kube9.io","Status":"PENDING_VALIDATION","DomainValidationOptions":[{"DomainName":"charts.kube9.io","ValidationStatus":"SUCCESS","ValidationMethod":"DNS"}]}}"#,
    );
    // S3 does not know the new bucket for a moment after CreateBucket.
    let no_such_bucket = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist (injected)</Message>\
                          <BucketName>kube9-charts</BucketName></Error>";
    // (A bucket this run creates has no tags to read: tagging is the first call on it.)
    stack.inject("PUT /kube9-charts/?tagging", 2, 404, "application/xml", no_such_bucket);
    stack.inject("PUT /kube9-charts/?publicAccessBlock", 1, 404, "application/xml", no_such_bucket);

    let run = stack.deploy(&[]).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(stack.injections_left(), 0, "every injected answer was met");
    // The distribution was created only after ACM answered ISSUED.
    let requests = stack.proxy.requests.lock().unwrap().clone();
    let create = requests.iter().position(|r| r.method == "POST" && r.path == "/2020-05-31/distribution").unwrap();
    let describes = requests[..create]
        .iter()
        .filter(|r| r.headers.iter().any(|(k, v)| k == "x-amz-target" && v.ends_with("DescribeCertificate")))
        .count();
    assert!(describes >= 6, "2 not-found, the record, 2 validated-but-pending, then ISSUED: {describes}");
    assert_fully_deployed(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_conditional_writes_are_retried_not_read_as_vanished() {
    let stack = Stack::new().await;
    assert!(stack.deploy(&[]).await.ok);
    let chart = stack.dir.path().join("demo");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.0.0\n").unwrap();
    let conflict = "<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is \
                    currently in progress against this resource. Please try again. (injected)</Message></Error>";
    stack.inject("PUT /kube9-charts/demo-1.0.0.tgz", 2, 409, "application/xml", conflict);
    stack.inject("PUT /kube9-charts/index.yaml", 1, 409, "application/xml", conflict);
    // moto enforces the bucket policy's TLS-only deny on its plain-HTTP endpoint.
    stack.clients.s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let chart_arg = chart.display().to_string();
    let run = run_as(&stack, "release", "release-chart", &["--chart", &chart_arg, "--no-verify", "--no-wait"]).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(stack.injections_left(), 0);
    let index = stack.clients.s3.get_object().bucket(BUCKET).key("index.yaml").send().await.unwrap();
    let index = String::from_utf8(index.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(index.contains("demo-1.0.0.tgz"), "{index}");
    stack.clients.s3.head_object().bucket(BUCKET).key("demo-1.0.0.tgz").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_another_run_created_is_adopted_never_rolled_back() {
    let stack = Stack::new().await;
    // Another run creates (and tags) the bucket after this run's preflight looked.
    stack.inject("HEAD /kube9-charts", 1, 404, "application/xml", "");
    stack.clients.s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let tags = our_tags()
        .into_iter()
        .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap())
        .collect::<Vec<_>>();
    stack
        .clients
        .s3
        .put_bucket_tagging()
        .bucket(BUCKET)
        .tagging(aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tags)).build().unwrap())
        .send()
        .await
        .unwrap();
    // A later step fails: the rollback must not delete the other run's bucket.
    stack.inject(
        "POST /2020-05-31/origin-access-control",
        1,
        403,
        "text/xml",
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>injected failure</Message></Error></ErrorResponse>",
    );
    let run = stack.deploy(&[]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stdout.contains("+ create s3 bucket kube9-charts"), "the preflight saw no bucket: {run:?}");
    assert!(run.stderr.contains("created by another run since the preflight; adopting it"), "{run:?}");
    assert!(!run.stderr.contains("deleting s3 bucket"), "{run:?}");
    assert_eq!(stack.injections_left(), 0);
    stack.clients.s3.head_bucket().bucket(BUCKET).send().await.expect("the other run's bucket is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_public_zones_with_the_name_are_refused_before_any_write() {
    let stack = Stack::new().await;
    stack.create_zone().await;
    let zones = stack.clients.route53.list_hosted_zones().send().await.unwrap();
    let ids: Vec<String> =
        zones.hosted_zones().iter().map(|z| z.id().trim_start_matches("/hostedzone/").to_string()).collect();
    assert_eq!(ids.len(), 2);
    let run = stack.deploy(&[]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("2 public hosted zones are named kube9.io"), "{run:?}");
    assert!(ids.iter().all(|id| run.stderr.contains(id.as_str())), "names both ids {ids:?}: {run:?}");
    assert_eq!(stack.writes(), 0);
    assert_eq!(stack.inventory().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_bucket_403_names_both_causes() {
    let stack = Stack::new().await;
    stack.inject("HEAD /kube9-charts", 1, 403, "application/xml", "");
    let run = stack.deploy(&[]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("owned by another account, or this role lacks s3:ListBucket"), "{run:?}");
    assert_eq!(stack.writes(), 0);
}
