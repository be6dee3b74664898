//! Talking to one OCI registry (the distribution API) through `oci-client`: read a tag's
//! manifest, read a blob, resolve a manifest's digest, push an [`Artifact`]. Every
//! failure is a [`RegistryError`], which says whether the registry answered at all, so a
//! check can tell "not run" (nothing answered) from "failed" (it answered no).
//!
//! A push uploads each blob (monolithic: `POST` + `PUT`), then the manifest by tag, as
//! exactly the bytes of [`Artifact::manifest_bytes`].

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::artifact::{Artifact, Descriptor, Manifest, OCI_MANIFEST};
use super::credentials::Credentials;

/// Manifest types a tag may hold: OCI and Docker, single images and indexes.
const MANIFEST_TYPES: &[&str] = &[
    OCI_MANIFEST,
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Why a registry request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// Nothing answered (connection refused, DNS, TLS, timeout): the cause.
    Unreachable(String),
    /// The registry refused the credentials used (anonymous included).
    Denied(String),
    /// Anything else the registry answered.
    Failed(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Unreachable(cause) => write!(f, "the registry did not answer: {cause}"),
            RegistryError::Denied(cause) => write!(f, "the registry refused access: {cause}"),
            RegistryError::Failed(cause) => f.write_str(cause),
        }
    }
}

impl std::error::Error for RegistryError {}

/// A client for the registries of one command: https, or plain http for all of them
/// (`--plain-http`, Helm's flag, for a registry without TLS).
#[derive(Clone)]
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    credentials: Credentials,
    plain_http: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("credentials", &self.credentials)
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A client that uses `credentials` for every request.
    pub fn new(credentials: Credentials, plain_http: bool) -> anyhow::Result<Registry> {
        crate::http::install_tls_provider();
        let config = ClientConfig {
            protocol: if plain_http { ClientProtocol::Http } else { ClientProtocol::Https },
            use_monolithic_push: true,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(60)),
            user_agent: concat!("kube9-xtask/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = Client::try_from(config).map_err(|err| anyhow::anyhow!("building the OCI client: {err}"))?;
        let auth = match &credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password, .. } => RegistryAuth::Basic(username.clone(), password.clone()),
        };
        Ok(Registry { client, auth, credentials, plain_http })
    }

    /// An anonymous client (what every user pulls with).
    pub fn anonymous(plain_http: bool) -> anyhow::Result<Registry> {
        Registry::new(Credentials::Anonymous, plain_http)
    }

    /// Whether it asks without credentials.
    pub fn is_anonymous(&self) -> bool {
        self.credentials == Credentials::Anonymous
    }

    /// Where the credentials came from, for the report (never the credentials).
    pub fn credentials(&self) -> String {
        self.credentials.describe()
    }

    /// The manifest `reference` (`HOST/PATH:TAG`) names, with its digest; `None` when the
    /// tag (or the repository) does not exist.
    pub async fn manifest(&self, reference: &str) -> Result<Option<(Manifest, String)>, RegistryError> {
        let reference = parse(reference)?;
        match self.client.pull_manifest_raw(&reference, &self.auth, MANIFEST_TYPES).await {
            Ok((bytes, digest)) => {
                let manifest = serde_json::from_slice(&bytes).map_err(|err| {
                    RegistryError::Failed(format!("the manifest of {reference} is not an image manifest: {err}"))
                })?;
                Ok(Some((manifest, digest)))
            }
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(classify(&err, &reference)),
        }
    }

    /// The digest the manifest `reference` resolves to (one `HEAD`, as a container runtime
    /// resolves an image); `None` when it does not exist.
    pub async fn resolve(&self, reference: &str) -> Result<Option<String>, RegistryError> {
        let reference = parse(reference)?;
        match self.client.fetch_manifest_digest(&reference, &self.auth).await {
            Ok(digest) => Ok(Some(digest)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(classify(&err, &reference)),
        }
    }

    /// The bytes of the blob `descriptor` names in the repository of `reference`, checked
    /// against its digest.
    pub async fn blob(&self, reference: &str, descriptor: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        let reference = parse(reference)?;
        let mut out = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0).min(64 << 20));
        self.client
            .pull_blob(&reference, descriptor.digest.as_str(), &mut out)
            .await
            .map_err(|err| classify(&err, &reference))?;
        if super::artifact::oci_digest(&out) != descriptor.digest {
            return Err(RegistryError::Failed(format!(
                "the blob {} of {reference} does not have that digest",
                descriptor.digest
            )));
        }
        Ok(out)
    }

    /// Push `artifact` to `reference` (`HOST/PATH:TAG`): every blob (a monolithic upload,
    /// `POST` + `PUT`; a registry keeps one copy of a blob it already has), then the
    /// manifest by tag. Chart blobs are small, so asking first (`HEAD`) would cost a
    /// request more per blob on the usual path, a new version.
    pub async fn push(&self, reference: &str, artifact: &Artifact) -> Result<(), RegistryError> {
        let reference = parse(reference)?;
        for blob in artifact.blobs() {
            self.client
                .push_blob(&reference, blob.bytes.clone(), &blob.descriptor.digest)
                .await
                .map_err(|err| classify(&err, &reference))?;
        }
        let content_type = reqwest::header::HeaderValue::from_static(OCI_MANIFEST);
        self.client
            .push_manifest_raw(&reference, artifact.manifest_bytes.clone(), content_type)
            .await
            .map_err(|err| classify(&err, &reference))?;
        Ok(())
    }
}

fn parse(reference: &str) -> Result<Reference, RegistryError> {
    reference
        .parse::<Reference>()
        .map_err(|err| RegistryError::Failed(format!("{reference:?} is not an OCI reference: {err}")))
}

/// A 404 of the tag or the repository (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`).
fn is_not_found(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                oci_client::errors::OciErrorCode::ManifestUnknown | oci_client::errors::OciErrorCode::NameUnknown
            )
        }),
        _ => false,
    }
}

/// What went wrong, in words (its cause chain), and whether anything answered.
fn classify(err: &OciDistributionError, reference: &Reference) -> RegistryError {
    let registry = reference.resolve_registry();
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !cause.contains(&text) {
            cause = format!("{cause}: {text}");
        }
        source = inner.source();
    }
    match err {
        OciDistributionError::RequestError(request) if request.is_connect() || request.is_timeout() => {
            RegistryError::Unreachable(format!("{registry}: {cause}"))
        }
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => {
            RegistryError::Denied(format!("{registry}: {cause}"))
        }
        OciDistributionError::ServerError { code: 401 | 403, .. } => {
            RegistryError::Denied(format!("{registry}: {cause}"))
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| {
                matches!(
                    e.code,
                    oci_client::errors::OciErrorCode::Unauthorized | oci_client::errors::OciErrorCode::Denied
                )
            }) =>
        {
            RegistryError::Denied(format!("{registry}: {cause}"))
        }
        _ => RegistryError::Failed(format!("{reference}: {cause}")),
    }
}
