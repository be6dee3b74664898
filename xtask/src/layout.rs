//! The chart repository's vocabulary, in one place: the object keys (the index, the yank
//! record `yanked.json`, the landing page, …), the two forms of the
//! index file ([`IndexFormat`]; the config chooses one, `index` writes it), the kind of file a
//! key names, each kind's content type and whether it is immutable (its `Cache-Control` is
//! `config::CachePolicy`'s), the limits `verify-repo` and the packager enforce, sha256, the
//! one spelling of a signing key's fingerprint, and the one rule for a repository URL.
//! The store, `serve`, `verify-repo`, the config, the release and the landing page all use
//! these, so S3 and `serve` answer every file alike. It imports nothing of the crate.

use reqwest::Url;
use sha2::{Digest, Sha256};

/// The repository index.
pub const INDEX_KEY: &str = "index.yaml";
/// The landing page (CloudFront's default root object; `serve` answers `/` with it).
pub const PAGE_KEY: &str = "index.html";
/// Artifact Hub's repository metadata.
pub const ARTIFACTHUB_KEY: &str = "artifacthub-repo.yml";
/// The append-only record of every yank and undo (`cargo xtask yank`), beside the index.
pub const YANKED_KEY: &str = "yanked.json";
/// The published signing keys as a binary keyring (what `helm --keyring` reads).
pub const PUBKEY_GPG_KEY: &str = "pubkey.gpg";
/// The same keys, ASCII-armored.
pub const PUBKEY_ASC_KEY: &str = "pubkey.asc";
/// Helm's provenance file suffix: `NAME-VERSION.tgz.prov`.
pub const PROV_SUFFIX: &str = ".prov";
/// A chart package's suffix: `NAME-VERSION.tgz`.
pub const PACKAGE_SUFFIX: &str = ".tgz";

/// `NAME-VERSION.tgz`, the key of a chart package.
pub fn package_key(name: &str, version: &str) -> String {
    format!("{name}-{version}{PACKAGE_SUFFIX}")
}

/// `NAME-VERSION.tgz.prov`, the provenance file of a package key.
pub fn prov_key(package_key: &str) -> String {
    format!("{package_key}{PROV_SUFFIX}")
}

/// How the index file is written. Both are read back the same way, and both are the
/// file `index.yaml` (JSON is YAML): `Yaml` is Helm's own block style, human-readable;
/// `Json` is compact JSON, which Helm ≥ 3.13 loads several times faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum IndexFormat {
    #[default]
    Yaml,
    Json,
}

impl IndexFormat {
    /// The format stored `bytes` are in: JSON when the document is a JSON object.
    pub fn of(bytes: &[u8]) -> IndexFormat {
        if json_object_start(bytes) { IndexFormat::Json } else { IndexFormat::Yaml }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IndexFormat::Yaml => "yaml",
            IndexFormat::Json => "json",
        }
    }
}

impl std::fmt::Display for IndexFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the first non-blank byte (after a UTF-8 BOM) opens a JSON object.
fn json_object_start(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(bytes);
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Content type of `index.yaml` and the other YAML files. Helm ignores it;
/// `application/x-yaml` is what ChartMuseum and most chart repositories serve, and
/// browsers show it as a download, not a page.
pub const YAML_CONTENT_TYPE: &str = "application/x-yaml";
/// Content types accepted for `index.yaml` (the registered one and the common aliases).
pub const YAML_CONTENT_TYPES: [&str; 4] = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"];
/// Content type of chart packages (never with `Content-Encoding: gzip`: Helm's Go client
/// would gunzip the package and the digest would no longer match).
pub const PACKAGE_CONTENT_TYPE: &str = "application/gzip";
/// Content type of `yanked.json`.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Content type of the landing page.
pub const PAGE_CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// Content type of provenance files. Helm ignores it. A `.prov` is a clear-signed *text*
/// message, readable as it is, not the detached signature that `application/pgp-signature`
/// (RFC 3156) names, so browsers and `curl` show it as text.
pub const PROV_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// Content type of the armored public keys (`pubkey.asc`), as RFC 3156 registers it.
pub const KEYS_CONTENT_TYPE: &str = "application/pgp-keys";
/// Content type of binary files (`pubkey.gpg`, anything not in this vocabulary).
pub const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// What kind of repository file a key (or its last path segment) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Index,
    /// `yanked.json`: short-lived like the index, which it changes with.
    Yanked,
    /// The landing page: short-lived like the index, served as HTML.
    Page,
    Package,
    /// `NAME-VERSION.tgz.prov`: immutable like its package.
    Provenance,
    /// `artifacthub-repo.yml`.
    ArtifactHub,
    /// `pubkey.gpg`.
    Keyring,
    /// `pubkey.asc`.
    ArmoredKeys,
    Other,
}

impl FileKind {
    pub fn of(key: &str) -> FileKind {
        let name = key.rsplit('/').next().unwrap_or(key);
        match name {
            INDEX_KEY => FileKind::Index,
            YANKED_KEY => FileKind::Yanked,
            PAGE_KEY => FileKind::Page,
            ARTIFACTHUB_KEY => FileKind::ArtifactHub,
            PUBKEY_GPG_KEY => FileKind::Keyring,
            PUBKEY_ASC_KEY => FileKind::ArmoredKeys,
            _ if name.strip_suffix(PROV_SUFFIX).is_some_and(|package| package.ends_with(PACKAGE_SUFFIX)) => {
                FileKind::Provenance
            }
            _ if name.ends_with(PACKAGE_SUFFIX) => FileKind::Package,
            _ => FileKind::Other,
        }
    }

    /// The `Content-Type` this kind is stored and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Index | FileKind::ArtifactHub => YAML_CONTENT_TYPE,
            FileKind::Yanked => JSON_CONTENT_TYPE,
            FileKind::Page => PAGE_CONTENT_TYPE,
            FileKind::Package => PACKAGE_CONTENT_TYPE,
            FileKind::Provenance => PROV_CONTENT_TYPE,
            FileKind::ArmoredKeys => KEYS_CONTENT_TYPE,
            FileKind::Keyring | FileKind::Other => BINARY_CONTENT_TYPE,
        }
    }

    /// Whether a published file of this kind never changes (cached long, `immutable`);
    /// everything else changes with a release and is cached briefly.
    pub fn immutable(self) -> bool {
        matches!(self, FileKind::Package | FileKind::Provenance)
    }
}

/// The longest `max-age` still "short" for `index.yaml` (the config allows at most this).
pub const INDEX_MAX_AGE_LIMIT: u64 = 3600;
/// The shortest `max-age` still "long" for a package (the config requires at least this).
pub const PACKAGE_MAX_AGE_MIN: u64 = 86_400;
/// Largest file a chart may contain: Helm's `MaxDecompressedFileSize` (5 MiB), so any
/// package we write is one Helm can read.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// Largest total (uncompressed) chart: Helm's `MaxDecompressedChartSize` (100 MiB).
pub const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// The largest body `verify-repo` reads (index or package); a bigger one is an error, not
/// a hang.
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// The one rule for a repository's base URL, wherever one is given (`--url` of
/// `repo-index`, `release-chart --local` and `reindex --local`, `verify-repo --url`): an
/// http(s) URL with a host (and, when a port is written, a port), with no query, fragment or
/// credentials, because users reach the repository anonymously. The error says what is
/// wrong, for the caller to put after the flag's or the setting's name.
pub fn parse_repo_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let example = "such as https://charts.kube9.io";
    let want = || format!("must be an http(s) URL with a host, {example}, got {text:?}");
    let url = Url::parse(text).map_err(|_| want())?;
    let authority = text.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) || authority.ends_with(':')
    {
        return Err(want());
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("must have no query, fragment or credentials (anonymous access only), got {text:?}"));
    }
    Ok(url)
}

/// [`parse_repo_url`] as a `--url` flag's value parser: the text as given, or an error that
/// names the flag.
pub fn parse_url_flag(text: &str) -> Result<String, String> {
    parse_repo_url(text).map(|_| text.to_string()).map_err(|err| format!("--url {err}"))
}

/// An OCI repository that charts are pushed to, as `helm push PACKAGE oci://HOST[:PORT]/PATH`
/// takes it: chart NAME at VERSION is `HOST[:PORT]/PATH/NAME:VERSION`, as Helm lays it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRepository {
    /// `HOST[:PORT]`, as the registry is addressed (lower case).
    pub registry: String,
    /// The repository path under the registry, without slashes at either end.
    pub path: String,
}

impl OciRepository {
    /// Parse `oci://HOST[:PORT]/PATH`. The path is one or more lower-case components of the
    /// OCI distribution grammar (`[a-z0-9]+` joined by `.`, `_`, `__` or dashes); no tag,
    /// digest, credentials, query or fragment. The error says what is wrong, for the caller
    /// to put after the flag's or the setting's name.
    pub fn parse(text: &str) -> Result<OciRepository, String> {
        let text = text.trim();
        let want = || format!("must be oci://HOST[:PORT]/PATH, such as oci://ghcr.io/kube9/charts, got {text:?}");
        let rest = text.strip_prefix("oci://").ok_or_else(want)?;
        let (authority, path) = rest.split_once('/').ok_or_else(want)?;
        let path = path.trim_end_matches('/');
        if authority.contains('@') || path.contains(['@', '?', '#']) {
            // Not echoed: it may hold a password.
            return Err("must be oci://HOST[:PORT]/PATH with no credentials, digest, query or fragment (credentials \
                        come from the environment or a registry login, never from the address)"
                .to_string());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
        if !host_ok || !port_ok {
            return Err(want());
        }
        if path.is_empty() || !path.split('/').all(is_oci_path_component) {
            return Err(format!(
                "{}: the path must be lower-case components ([a-z0-9] joined by '.', '_' or '-') and no tag \
                 (each chart is pushed as PATH/NAME:VERSION)",
                want()
            ));
        }
        Ok(OciRepository { registry: authority.to_string(), path: path.to_string() })
    }

    /// `HOST[:PORT]/PATH/NAME`, the OCI repository of one chart.
    pub fn chart_repository(&self, chart: &str) -> String {
        format!("{}/{}/{chart}", self.registry, self.path)
    }

    /// `HOST[:PORT]/PATH/NAME:TAG`.
    pub fn reference(&self, chart: &str, tag: &str) -> String {
        format!("{}:{tag}", self.chart_repository(chart))
    }

    /// `HOST[:PORT]/PATH/NAME:TAG` of a chart version, tagged as Helm tags it: the
    /// version, with `+` (not allowed in a tag) spelled `_`.
    pub fn version_reference(&self, chart: &str, version: &str) -> String {
        self.reference(chart, &version.replace('+', "_"))
    }
}

impl std::fmt::Display for OciRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.path)
    }
}

/// [`OciRepository::parse`] as an `--oci` flag's value parser.
pub fn parse_oci_flag(text: &str) -> Result<OciRepository, String> {
    OciRepository::parse(text).map_err(|err| format!("--oci {err}"))
}

/// One component of an OCI repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_oci_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators between alphanumeric runs: one '.', one or two '_', or any run of '-'.
    component
        .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        .filter(|separator| !separator.is_empty())
        .all(|separator| matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-'))
}

/// Lower-case hex sha256 of `bytes`, as Helm's `provenance.Digest` (the index `digest`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    lower_hex(&Sha256::digest(bytes))
}

/// A digest as lower-case hex (a sha256 computed in pieces, e.g. of a large download).
pub fn lower_hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        use std::fmt::Write as _;
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// An OpenPGP fingerprint as someone typed it (`[signing] fingerprint`, a chart's
/// `artifacthub.io/signKey`: spaces, lower case, `0x`), spelled as gpg shows it: upper-case hex.
pub fn normalize_fingerprint(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase()
}

/// Whether a fingerprint is 40 (v4) or 64 (v6) hex digits.
pub fn is_fingerprint(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_repositories_are_a_registry_and_a_lower_case_path() {
        let repo = OciRepository::parse("oci://ghcr.io/kube9/charts/").unwrap();
        assert_eq!(repo, OciRepository { registry: "ghcr.io".into(), path: "kube9/charts".into() });
        assert_eq!(repo.reference("kube9-operator", "0.1.0"), "ghcr.io/kube9/charts/kube9-operator:0.1.0");
        assert_eq!(repo.to_string(), "oci://ghcr.io/kube9/charts");
        assert_eq!(repo.version_reference("a", "1.2.3-rc.1+build.5"), "ghcr.io/kube9/charts/a:1.2.3-rc.1_build.5");
        let local = OciRepository::parse("oci://127.0.0.1:5000/a/b__c.d-e").unwrap();
        assert_eq!(local.registry, "127.0.0.1:5000");
        for bad in [
            "ghcr.io/kube9/charts",
            "https://ghcr.io/kube9/charts",
            "oci://ghcr.io",
            "oci://ghcr.io/",
            "oci:///charts",
            "oci://ghcr.io/Kube9/charts",
            "oci://ghcr.io/kube9/charts:1.0",
            "oci://user:pw@ghcr.io/kube9",
            "oci://ghcr.io:99999/kube9",
            "oci://ghcr.io/kube9//charts",
            "oci://ghcr.io/-kube9",
            "oci://ghcr.io/a..b",
        ] {
            let err = OciRepository::parse(bad).expect_err(bad);
            assert!(err.contains("oci://"), "{bad}: {err}");
        }
        assert!(parse_oci_flag("x").unwrap_err().starts_with("--oci must be"));
        assert!(!OciRepository::parse("oci://u:secret@ghcr.io/x").unwrap_err().contains("secret"));
    }

    #[test]
    fn only_http_urls_with_a_host_and_nothing_private_are_repository_urls() {
        for good in ["http://127.0.0.1:8879", "https://charts.example.com/", "http://localhost:8080/sub"] {
            assert_eq!(parse_url_flag(good).as_deref(), Ok(good));
            assert!(parse_repo_url(good).is_ok(), "{good}");
        }
        for bad in ["127.0.0.1:8879", "ftp://x", "http://", "https://", "http://host:", "file:///tmp/repo", "not-a-url"]
        {
            let err = parse_url_flag(bad).unwrap_err();
            assert!(err.contains("--url must be an http(s) URL"), "{bad}: {err}");
        }
        for private in ["https://user:pw@charts.kube9.io", "https://x.io/?a=b", "https://x.io/#top"] {
            let err = parse_url_flag(private).unwrap_err();
            assert!(err.contains("--url must have no query, fragment or credentials"), "{private}: {err}");
        }
    }

    #[test]
    fn every_key_has_its_kind_and_content_type() {
        for (key, kind, content_type, immutable) in [
            ("index.yaml", FileKind::Index, "application/x-yaml", false),
            ("index.html", FileKind::Page, "text/html; charset=utf-8", false),
            ("yanked.json", FileKind::Yanked, "application/json", false),
            ("artifacthub-repo.yml", FileKind::ArtifactHub, "application/x-yaml", false),
            ("pubkey.gpg", FileKind::Keyring, "application/octet-stream", false),
            ("pubkey.asc", FileKind::ArmoredKeys, "application/pgp-keys", false),
            ("kube9-operator-0.1.0.tgz", FileKind::Package, "application/gzip", true),
            ("sub/demo-1.0.0.tgz", FileKind::Package, "application/gzip", true),
            ("kube9-operator-0.1.0.tgz.prov", FileKind::Provenance, "text/plain; charset=utf-8", true),
            ("notes.txt", FileKind::Other, "application/octet-stream", false),
        ] {
            assert_eq!(FileKind::of(key), kind, "{key}");
            assert_eq!(kind.content_type(), content_type, "{key}");
            assert_eq!(kind.immutable(), immutable, "{key}");
        }
        assert_eq!(prov_key(&package_key("demo", "1.0.0")), "demo-1.0.0.tgz.prov");
        assert!(YAML_CONTENT_TYPES.contains(&YAML_CONTENT_TYPE));
    }

    #[test]
    fn fingerprints_are_normalised() {
        assert_eq!(normalize_fingerprint(" 0xab cd "), "ABCD");
        assert!(is_fingerprint(&"A".repeat(40)));
        assert!(!is_fingerprint(&"G".repeat(40)));
    }

    #[test]
    fn sha256_hex_is_lower_case_hex() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
