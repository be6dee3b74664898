//! An HTTP proxy on loopback in front of an AWS endpoint (moto, or SeaweedFS for S3
//! alone): forwards every request, counts it (storage vs CloudFront, reads vs writes),
//! and can hold one kind of request forever (never forwarded) so a test can kill the
//! client at exactly that point.
//!
//! In front of an open OCI registry, [`Proxy::start_token_gate`] makes it ask for a token
//! the way ghcr.io and Docker Hub do for anonymous pulls: `401` with
//! `WWW-Authenticate: Bearer realm=…/token,service=…`, a token for anyone at that realm,
//! and only requests carrying it are forwarded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;

/// CloudFront's API lives under its version date; everything else is S3.
const CLOUDFRONT_API_PREFIX: &str = "/2020-05-31/";

/// Requests seen by a [`Proxy`].
#[derive(Debug, Default)]
pub struct Counts {
    pub storage: AtomicUsize,
    pub storage_writes: AtomicUsize,
    pub cdn: AtomicUsize,
}

impl Counts {
    /// `(storage, storage_writes, cdn)` since the last call.
    pub fn take(&self) -> (usize, usize, usize) {
        (
            self.storage.swap(0, Ordering::SeqCst),
            self.storage_writes.swap(0, Ordering::SeqCst),
            self.cdn.swap(0, Ordering::SeqCst),
        )
    }
}

/// Requests to hold: `METHOD` and the end of the path (e.g. `PUT`, `/index.yaml`).
#[derive(Default)]
struct Hold {
    rule: Mutex<Option<(Method, String)>>,
    arrived: tokio::sync::Notify,
}

/// A forwarding proxy to `upstream` on `http://127.0.0.1:PORT`; stopped on drop.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub counts: Arc<Counts>,
    /// The token flow, for a token gate.
    pub gate: Option<Arc<TokenGate>>,
    hold: Arc<Hold>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    counts: Arc<Counts>,
    hold: Arc<Hold>,
    /// The token flow to demand, when it is a token gate.
    gate: Option<Arc<TokenGate>>,
}

/// The anonymous token flow of a token gate.
#[derive(Debug)]
pub struct TokenGate {
    /// `http://127.0.0.1:PORT/token`
    realm: String,
    /// Tokens handed out.
    pub issued: AtomicUsize,
    /// Requests refused for want of the token.
    pub challenged: AtomicUsize,
}

/// The one token a gate hands out (to anyone: it stands for anonymous access).
const GATE_TOKEN: &str = "kube9-anonymous-pull-token";

impl Proxy {
    /// Start the proxy on the current tokio runtime.
    pub async fn start(upstream: &str) -> Result<Proxy> {
        Proxy::start_with(upstream, false).await
    }

    /// Start a token gate in front of the open registry at `upstream` (module docs).
    pub async fn start_token_gate(upstream: &str) -> Result<Proxy> {
        Proxy::start_with(upstream, true).await
    }

    async fn start_with(upstream: &str, gate: bool) -> Result<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the test proxy")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(Counts::default());
        let hold = Arc::new(Hold::default());
        let gate = gate.then(|| {
            Arc::new(TokenGate {
                realm: format!("{endpoint}/token"),
                issued: AtomicUsize::new(0),
                challenged: AtomicUsize::new(0),
            })
        });
        let state = ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: xtask::http::client_builder().no_proxy().build()?,
            counts: counts.clone(),
            hold: hold.clone(),
            gate: gate.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Proxy { endpoint, counts, gate, hold, task })
    }

    /// From now on, hold every `method` request whose path ends with `path_suffix`:
    /// it is never forwarded and never answered.
    pub fn hold(&self, method: Method, path_suffix: &str) {
        *self.hold.rule.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((method, path_suffix.to_string()));
    }

    /// Wait until a held request has arrived (returns at once if one already did).
    pub async fn held(&self) {
        self.hold.arrived.notified().await;
    }
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", axum::http::uri::PathAndQuery::as_str).to_string();
    if path.starts_with(CLOUDFRONT_API_PREFIX) {
        state.counts.cdn.fetch_add(1, Ordering::SeqCst);
    } else {
        state.counts.storage.fetch_add(1, Ordering::SeqCst);
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            state.counts.storage_writes.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut headers = parts.headers.clone();
    if let Some(gate) = &state.gate {
        if parts.uri.path() == "/token" {
            gate.issued.fetch_add(1, Ordering::SeqCst);
            return Response::new(Body::from(format!(r#"{{"token": "{GATE_TOKEN}", "expires_in": 300}}"#)));
        }
        let bearer = format!("Bearer {GATE_TOKEN}");
        if headers.get("authorization").is_none_or(|value| value.as_bytes() != bearer.as_bytes()) {
            gate.challenged.fetch_add(1, Ordering::SeqCst);
            let mut out = Response::new(Body::from(r#"{"errors":[{"code":"UNAUTHORIZED","message":"token"}]}"#));
            *out.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            let challenge = format!(r#"Bearer realm="{}",service="kube9-test""#, gate.realm);
            if let Ok(value) = challenge.parse() {
                out.headers_mut().insert("www-authenticate", value);
            }
            return out;
        }
        // The registry behind is open: the token stops here.
        headers.remove("authorization");
    }
    let held = state
        .hold
        .rule
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .is_some_and(|(method, suffix)| parts.method == method && parts.uri.path().ends_with(suffix.as_str()));
    if held {
        state.hold.arrived.notify_one();
        std::future::pending::<()>().await;
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    // The Host header goes through as the client sent it: the client signed it (SigV4),
    // and a server that checks signatures (SeaweedFS; moto does not) refuses a request
    // whose Host was rewritten to the upstream's (and a registry builds its Location
    // headers from it, so uploads come back through the proxy).
    for hop in ["content-length", "transfer-encoding", "connection", "expect"] {
        headers.remove(hop);
    }
    let upstream = state
        .client
        .request(parts.method.clone(), format!("{}{path}", state.upstream))
        .headers(headers)
        .body(bytes)
        .send()
        .await;
    match upstream {
        Ok(response) => {
            let status = response.status();
            let mut headers = response.headers().clone();
            headers.remove("transfer-encoding");
            headers.remove("connection");
            let body = response.bytes().await.unwrap_or_default();
            let mut out = Response::new(Body::from(body));
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            out
        }
        Err(err) => {
            let mut out = Response::new(Body::from(format!("proxy error: {err}")));
            *out.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
            out
        }
    }
}
