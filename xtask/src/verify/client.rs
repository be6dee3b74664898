//! The anonymous HTTP client `verify-repo` looks through: no credentials, no AWS SDK,
//! only what any `helm repo add` user has.

use crate::retry::{self, Attempt};
use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url, redirect};

use crate::layout::MAX_BODY_BYTES;

/// One HTTP exchange as the checks need it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that answered (after redirects, when they are followed).
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body exactly as sent (never decompressed).
    pub body: Vec<u8>,
}

impl Fetched {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body with a `Content-Encoding: gzip` undone, as Go's HTTP client (Helm) does
    /// transparently.
    pub fn decoded_body(&self) -> Result<Vec<u8>> {
        match self.header(CONTENT_ENCODING.as_str()).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(self.body.clone()),
            Some(encoding) if encoding == "identity" => Ok(self.body.clone()),
            Some(encoding) if encoding == "gzip" => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(self.body.as_slice())
                    .read_to_end(&mut out)
                    .with_context(|| format!("{} is sent with Content-Encoding: gzip but does not gunzip", self.url))?;
                Ok(out)
            }
            Some(encoding) => bail!("{} is sent with Content-Encoding: {encoding}, which Helm cannot read", self.url),
        }
    }
}

/// Two anonymous clients: one follows redirects as Helm does, one does not (to see them).
#[derive(Debug, Clone)]
pub struct AnonymousClient {
    following: reqwest::Client,
    not_following: reqwest::Client,
}

impl AnonymousClient {
    pub fn new() -> Result<AnonymousClient> {
        let build = |policy| {
            crate::http::client_builder()
                .user_agent(concat!("kube9-xtask-verify/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(120))
                .redirect(policy)
                .build()
                .context("building the HTTP client")
        };
        Ok(AnonymousClient {
            following: build(redirect::Policy::limited(10))?,
            not_following: build(redirect::Policy::none())?,
        })
    }

    /// `GET url`, following redirects, offering gzip as Helm's Go client does (so a
    /// server or CDN that would compress a package shows it).
    pub async fn get(&self, url: &Url) -> Result<Fetched> {
        fetch_with_retries(&self.following, url).await
    }

    /// `GET url` without following a redirect.
    pub async fn get_once(&self, url: &Url) -> Result<Fetched> {
        fetch_with_retries(&self.not_following, url).await
    }
}

/// `GET url` under [`retry::VERIFY_GET`]: a 5xx or a dropped connection is asked again;
/// nothing listening, no such host or an untrusted certificate is not (asking again will
/// not change that). The last answer is the result.
async fn fetch_with_retries(client: &reqwest::Client, url: &Url) -> Result<Fetched> {
    let outcome = retry::run(
        retry::VERIFY_GET,
        |_| async move {
            let result = fetch(client, url).await;
            let transient = match &result {
                Ok(fetched) => fetched.status.is_server_error(),
                Err(err) => err.downcast_ref::<Unreachable>().is_none() && err.downcast_ref::<TlsFailure>().is_none(),
            };
            if transient { Attempt::Again(result) } else { Attempt::Done(result) }
        },
        |_, _| tracing::debug!("GET {url}: a transient failure, retrying"),
    )
    .await;
    outcome.unwrap_or_else(|gave_up| gave_up.last)
}

/// Nothing answered at all: the host name does not resolve, or nothing accepts the
/// connection. Distinct from every answer (and from a [`TlsFailure`], which is the
/// server's fault or the trust store's): the checks that need an answer are then not run
/// rather than failed one by one with the same cause. Found with `anyhow::Error::downcast_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// `host:port`
    pub address: String,
    /// The cause, e.g. `Connection refused (os error 111)`.
    pub cause: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot connect to {}: {}", self.address, self.cause)
    }
}

impl std::error::Error for Unreachable {}

/// The TLS handshake failed: the server's certificate is not trusted (no trusted CA signed
/// it, it names another host, it expired) or client and server agree on no protocol. The
/// same on every attempt, so never retried; like [`Unreachable`], the checks that need an
/// answer are then not run, and the cause is said once (in `https`). Found with
/// `anyhow::Error::downcast_ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    /// `host:port`
    pub address: String,
    /// rustls's error, e.g. `invalid peer certificate: UnknownIssuer`.
    pub cause: String,
    /// The certificate was refused (not the handshake as such).
    pub certificate: bool,
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.certificate {
            write!(f, "the TLS certificate of {} is not trusted: {}", self.address, self.cause)
        } else {
            write!(f, "the TLS handshake with {} failed: {}", self.address, self.cause)
        }
    }
}

impl std::error::Error for TlsFailure {}

/// `err` and every error under it. An `io::Error` wrapping another error gives that error
/// itself next (its `source()` would skip it, and tokio-rustls's rustls error sits inside
/// two `io::Error`s under hyper's).
fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |cause| match cause.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => cause.source(),
    })
}

/// The rustls error somewhere in `err`'s chain.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(err).find_map(|cause| cause.downcast_ref::<rustls::Error>())
}

/// A failed TLS handshake with the server of `url`, when that is what `err` is.
fn tls_failure(err: &(dyn std::error::Error + 'static), url: &Url) -> Option<TlsFailure> {
    let tls = rustls_error(err)?;
    Some(TlsFailure {
        address: address(url),
        cause: tls.to_string(),
        certificate: matches!(tls, rustls::Error::InvalidCertificate(_)),
    })
}

/// `host:port` of `url`.
fn address(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0))
}

/// A connect failure that is not a TLS failure (rustls reports those as `InvalidData`).
fn unreachable(err: &reqwest::Error, url: &Url) -> Option<Unreachable> {
    if !err.is_connect() {
        return None;
    }
    let mut innermost = err.to_string();
    for cause in causes(err) {
        if cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData) {
            return None;
        }
        innermost = cause.to_string();
    }
    Some(Unreachable { address: address(url), cause: innermost })
}

async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Fetched> {
    let mut response =
        client.get(url.clone()).header(ACCEPT_ENCODING, HeaderValue::from_static("gzip")).send().await.map_err(
            |err| {
                if let Some(failure) = tls_failure(&err, url) {
                    anyhow::Error::new(failure)
                } else if let Some(unreachable) = unreachable(&err, url) {
                    anyhow::Error::new(unreachable)
                } else {
                    anyhow::anyhow!("GET {url}: {}", error_chain(&err))
                }
            },
        )?;
    let status = response.status();
    let headers = response.headers().clone();
    let final_url = response.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|err| anyhow::anyhow!("GET {url}: reading the body: {}", error_chain(&err)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY_BYTES {
            bail!("GET {url}: the body is larger than {} MiB", MAX_BODY_BYTES / 1024 / 1024);
        }
    }
    Ok(Fetched { url: final_url, status, headers, body })
}

/// reqwest's errors keep the cause (connection refused, TLS, DNS) in their sources.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that wraps another, as reqwest and hyper wrap the connector's.
    #[derive(Debug)]
    struct Wrapped(Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[test]
    fn a_rustls_error_inside_an_io_error_is_a_tls_failure() {
        let url = Url::parse("https://127.0.0.2:8443/index.yaml").unwrap();
        // As reqwest 0.13 hands it over: hyper's error over an io::Error over tokio-rustls's.
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let tls = std::io::Error::new(std::io::ErrorKind::InvalidData, untrusted);
        let err = Wrapped(Box::new(std::io::Error::other(tls)));
        let failure = tls_failure(&err, &url).expect("a certificate failure");
        assert!(failure.certificate);
        assert_eq!(failure.address, "127.0.0.2:8443");
        assert_eq!(
            failure.to_string(),
            "the TLS certificate of 127.0.0.2:8443 is not trusted: invalid peer certificate: UnknownIssuer"
        );

        let handshake = Wrapped(Box::new(rustls::Error::HandshakeNotComplete));
        let failure = tls_failure(&handshake, &url).expect("a handshake failure");
        assert!(!failure.certificate);
        assert!(failure.to_string().starts_with("the TLS handshake with 127.0.0.2:8443 failed: "), "{failure}");

        let refused = Wrapped(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert_eq!(tls_failure(&refused, &url), None);
        let innermost: Vec<String> = causes(&refused).map(ToString::to_string).collect();
        assert_eq!(innermost, ["client error (Connect)", "connection refused"]);
    }
}
