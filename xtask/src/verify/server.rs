//! `cargo xtask serve`: a local repository folder over HTTP with the production headers.
//!
//! Only `GET` and `HEAD` of regular files inside the folder are answered. Every file
//! gets a strong `ETag` (the quoted sha256 of its bytes, so a package's ETag is its
//! index digest) and `If-None-Match` answers `304`. There is no directory listing, and
//! a path that could leave the folder (`..`, `%2e%2e`, a backslash, a drive letter, a
//! symlink pointing out) is refused before the file system is touched. Hidden files
//! (temporary files of a release in progress, an old `.kube9-store.lock`) answer 404.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::checks::urls::percent_decode;
use super::policy::HSTS;
use crate::config::CachePolicy;
use crate::layout::{FileKind, PAGE_KEY, sha256_hex};

/// What the request handler needs.
struct Shared {
    /// The served folder, canonicalised.
    root: PathBuf,
    policy: CachePolicy,
}

/// A server running in the background on the current tokio runtime (tests, demos).
/// Dropping it stops the server.
#[derive(Debug)]
pub struct RepoServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
}

impl RepoServer {
    /// Bind `addr` (port 0 picks a free one) and serve `dir` in the background.
    pub async fn start(dir: &Path, addr: SocketAddr, policy: CachePolicy) -> Result<RepoServer> {
        let listener = bind(addr).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let router = router(dir, policy)?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_router(router, listener, async {
            let _ = rx.await;
        }));
        Ok(RepoServer { addr, shutdown: Some(tx), task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the repository URL to give Helm.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, finish the requests in flight, and return the server's result.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.context("the server task panicked")?,
            None => Ok(()),
        }
    }
}

impl Drop for RepoServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Bind a TCP listener, naming the address and the usual cause on failure.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (is another server using it? pick one with --addr)"))
}

/// Serve `dir` on `listener` until `shutdown` completes, then drain the open requests.
pub async fn serve(
    dir: &Path,
    listener: TcpListener,
    policy: CachePolicy,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_router(router(dir, policy)?, listener, shutdown).await
}

async fn serve_router(
    router: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.context("serving HTTP")
}

/// The request handler for `dir`: every path goes to one fallback, no routes.
pub fn router(dir: &Path, policy: CachePolicy) -> Result<Router> {
    let root = std::fs::canonicalize(dir).with_context(|| {
        format!(
            "repository folder {} does not exist (build one with `cargo xtask release-chart --local DIR`)",
            dir.display()
        )
    })?;
    if !root.is_dir() {
        bail!(
            "{} is not a folder: serve a repository folder (the output of `release-chart --local DIR`)",
            dir.display()
        );
    }
    let shared = Arc::new(Shared { root, policy });
    Ok(Router::new().fallback(handle).with_state(shared))
}

/// Why a request path is not served.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Malformed or trying to leave the folder: 400.
    BadRequest(&'static str),
    /// Not a file inside the folder: 404.
    NotFound,
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = respond(&shared, &method, &path, request.headers()).await;
    tracing::info!("{method} {path} {}", response.status().as_u16());
    with_security_headers(response)
}

async fn respond(shared: &Shared, method: &Method, raw_path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD are served\n");
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    // `/` is the landing page, as CloudFront's default root object makes it.
    let page = format!("/{PAGE_KEY}");
    let raw_path = if raw_path == "/" { page.as_str() } else { raw_path };
    let segments = match request_segments(raw_path) {
        Ok(segments) => segments,
        Err(Refusal::BadRequest(why)) => return plain(StatusCode::BAD_REQUEST, &format!("bad request: {why}\n")),
        Err(Refusal::NotFound) => return not_found(),
    };
    let Some(file) = locate(&shared.root, &segments).await else {
        return not_found();
    };
    let bytes = match tokio::fs::read(&file).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!("reading {}: {err}", file.display());
            return not_found();
        }
    };
    let etag = format!("\"{}\"", sha256_hex(&bytes));
    let file_name = segments.last().map(String::as_str).unwrap_or_default();
    // The content type and cache policy S3 stores each kind of file with.
    let kind = FileKind::of(file_name);
    let (content_type, cache_control) = (kind.content_type(), shared.policy.for_kind(kind));

    let not_modified = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| etag_matches(value, &etag));
    let mut builder =
        Response::builder().header(ETAG, &etag).header(CACHE_CONTROL, cache_control).header(CONTENT_TYPE, content_type);
    let body = if not_modified {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        Body::empty()
    } else {
        builder = builder.status(StatusCode::OK).header(CONTENT_LENGTH, bytes.len());
        if method == Method::HEAD { Body::empty() } else { Body::from(bytes) }
    };
    builder.body(body).unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot build the response\n"))
}

/// Split a raw (still percent-encoded) request path into safe file-name segments.
fn request_segments(raw_path: &str) -> Result<Vec<String>, Refusal> {
    let Some(rest) = raw_path.strip_prefix('/') else {
        return Err(Refusal::BadRequest("the path must start with /"));
    };
    let decoded = percent_decode(rest).map_err(|_| Refusal::BadRequest("malformed percent-encoding"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::BadRequest("the path is not UTF-8"))?;
    if decoded.contains(['\\', '\0', ':']) {
        return Err(Refusal::BadRequest("backslash, NUL or drive letter in the path"));
    }
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            // `/`, `//x`, `dir/`: folder-like paths; there is no listing.
            "" => return Err(Refusal::NotFound),
            "." | ".." => return Err(Refusal::BadRequest("`.` or `..` in the path")),
            // Hidden files (the local store's lock and temporary files) are not published.
            hidden if hidden.starts_with('.') => return Err(Refusal::NotFound),
            _ => segments.push(segment.to_string()),
        }
    }
    Ok(segments)
}

/// The regular file the segments name, only if it really lies inside `root` (a symlink
/// pointing out of the folder is not followed).
async fn locate(root: &Path, segments: &[String]) -> Option<PathBuf> {
    let mut candidate = root.to_path_buf();
    for segment in segments {
        candidate.push(segment);
    }
    let canonical = tokio::fs::canonicalize(&candidate).await.ok()?;
    if !canonical.starts_with(root) {
        tracing::warn!("refusing {}: it resolves outside the served folder", candidate.display());
        return None;
    }
    let metadata = tokio::fs::metadata(&canonical).await.ok()?;
    metadata.is_file().then_some(canonical)
}

/// `If-None-Match` (a list of entity tags, or `*`) against our strong tag, compared
/// weakly as RFC 9110 requires for this header.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag)
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = Response::new(Body::from(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

/// What CloudFront's managed `SecurityHeadersPolicy` adds to every response.
fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_file_names_are_accepted() {
        assert_eq!(request_segments("/index.yaml"), Ok(vec!["index.yaml".to_string()]));
        assert_eq!(
            request_segments("/charts/kube9-operator-0.1.0%2Brc.1.tgz"),
            Ok(vec!["charts".to_string(), "kube9-operator-0.1.0+rc.1.tgz".to_string()])
        );
    }

    #[test]
    fn traversal_is_refused() {
        for path in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/secret",
            "/%2E%2E%2Fsecret",
            "/..%2fsecret",
            "/.%2e/secret",
            "/a/./b",
            "/..\\secret",
            "/%5c..%5csecret",
            "/C:/Windows",
            "/a%00b",
            "/%zz",
            "/%2",
            "/%+1",
            "/%ff",
            "relative",
        ] {
            assert!(matches!(request_segments(path), Err(Refusal::BadRequest(_))), "{path} was not refused");
        }
    }

    #[test]
    fn folders_are_not_listed() {
        for path in ["/", "/charts/", "//etc/passwd", "/%2fetc/passwd", "/.kube9-store.lock", "/%2Etmp.tgz"] {
            assert_eq!(request_segments(path), Err(Refusal::NotFound), "{path}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = "\"abc\"";
        assert!(etag_matches("\"abc\"", etag));
        assert!(etag_matches("\"x\", W/\"abc\"", etag));
        assert!(etag_matches("*", etag));
        assert!(!etag_matches("\"abd\"", etag));
        assert!(!etag_matches("abc", etag));
    }

    #[tokio::test]
    async fn symlinks_out_of_the_folder_are_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join("index.yaml"), "apiVersion: v1\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), repo.path().join("leak.tgz")).unwrap();
        let root = std::fs::canonicalize(repo.path()).unwrap();
        assert!(locate(&root, &["index.yaml".to_string()]).await.is_some());
        assert_eq!(locate(&root, &["leak.tgz".to_string()]).await, None);
        assert_eq!(locate(&root, &["missing.tgz".to_string()]).await, None);
    }
}
