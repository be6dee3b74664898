//! Helm provenance files (`NAME-VERSION.tgz.prov`), made and checked in Rust with rPGP:
//! no gpg at run time.
//!
//! A provenance file is an OpenPGP clear-signed message (SHA-512, signature type "text")
//! over exactly what Helm's `provenance.messageBlock` builds:
//!
//! ```text
//! <Chart.yaml metadata as sigs.k8s.io/yaml marshals chart.Metadata>
//!                                   <- the metadata ends with "\n"; then "\n...\n"
//! ...
//! files:
//!   NAME-VERSION.tgz: sha256:HEX
//! ```
//!
//! Helm verifies only the signature and the `files` block (`parseMessageBlock` splits on
//! `"\n...\n"`); the metadata is informational. Lines are signed as the clear-signing
//! framework says (RFC 9580 §7): trailing spaces and tabs dropped, CRLF line ends, the
//! line ending before the signature armor not signed, lines starting with `-` dash-escaped
//! in the text (not in what is hashed). Go's `clearsign` writer (Helm) and rPGP agree on
//! that; trailing whitespace is removed here before signing so the text shown is the text
//! signed.
//!
//! - [`Signer`]: an OpenPGP secret key (armored, binary, or base64 of binary;
//!   optionally passphrase-protected), from `--sign-key FILE` or `KUBE9_SIGNING_KEY`;
//!   never printed (its `Debug` shows only the
//!   fingerprint).
//! - [`Keyring`]: the public keys a verifier trusts, read from a binary keyring (what
//!   Helm's `--keyring` takes) or armored keys.
//! - [`Keyring::verify`]: Helm's `Signatory.Verify`: signature by a key of the keyring,
//!   then the file name and sha256 of the package.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, PublicOrSecret, SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails, KeyVersion, Password, Timestamp};

use crate::chart::{ChartMetadata, ChartPackage};
use crate::layout::{is_fingerprint, normalize_fingerprint, sha256_hex};

/// The armored secret key, for CI (a secret): turns signing on when `--sign-key` is absent.
pub const SIGNING_KEY_ENV: &str = "KUBE9_SIGNING_KEY";
/// The passphrase of the signing key, when it has one.
pub const SIGNING_PASSPHRASE_ENV: &str = "KUBE9_SIGNING_PASSPHRASE";
/// Artifact Hub's chart annotation naming the signing key (fingerprint + url).
pub const SIGN_KEY_ANNOTATION: &str = "artifacthub.io/signKey";

/// The text Helm signs for a package: metadata, `...`, `files:` (see the module docs).
pub fn message_block(metadata: &ChartMetadata, file_name: &str, digest: &str) -> String {
    let mut text = crate::index::metadata_yaml(metadata);
    text.push_str("\n...\n");
    text.push_str("files:\n  ");
    if crate::index::emit::is_plain_safe(file_name) {
        text.push_str(file_name);
    } else {
        crate::index::emit::quote_into(&mut text, file_name);
    }
    text.push_str(": sha256:");
    text.push_str(digest);
    text.push('\n');
    // What the clear-signing framework hashes has no trailing blanks: show exactly that.
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (content, end) = line.strip_suffix('\n').map_or((line, ""), |c| (c, "\n"));
        out.push_str(content.trim_end_matches([' ', '\t', '\r']));
        out.push_str(end);
    }
    out
}

/// Upper-case hex fingerprint, as gpg and Artifact Hub show it.
fn hex_fingerprint(key: &impl KeyDetails) -> String {
    format!("{:X}", key.fingerprint())
}

/// A secret key ready to sign. Never printed: `Debug` shows the fingerprint only.
pub struct Signer {
    key: SignedSecretKey,
    password: Password,
    fingerprint: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

impl Signer {
    /// Where the key comes from: `--sign-key FILE`, else `KUBE9_SIGNING_KEY`, else none
    /// (no signing). The passphrase is `KUBE9_SIGNING_PASSPHRASE` either way. The file may
    /// hold the key armored or binary (`gpg --export-secret-keys`, with or without
    /// `--armor`); the variable, which must be text, the armored key or a base64 of the
    /// binary one.
    pub fn from_flag_or_env(file: Option<&Path>) -> Result<Option<Signer>> {
        let passphrase = std::env::var(SIGNING_PASSPHRASE_ENV).ok().filter(|p| !p.is_empty());
        if let Some(file) = file {
            let bytes = std::fs::read(file)
                .with_context(|| format!("reading the signing key {} (--sign-key)", file.display()))?;
            let signer = Signer::from_key(&bytes, passphrase.as_deref())
                .with_context(|| format!("loading the signing key {} (--sign-key)", file.display()))?;
            return Ok(Some(signer));
        }
        match std::env::var(SIGNING_KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => Signer::from_key(text.as_bytes(), passphrase.as_deref())
                .map(Some)
                .with_context(|| format!("loading the signing key from ${SIGNING_KEY_ENV}")),
            Err(std::env::VarError::NotUnicode(_)) => bail!(
                "${SIGNING_KEY_ENV} is not text: store the armored key (`gpg --armor --export-secret-keys`) or a \
                 base64 of the binary one (`gpg --export-secret-keys FINGERPRINT | base64 -w0`)"
            ),
            _ => Ok(None),
        }
    }

    /// Parse one OpenPGP secret key, armored, binary or base64 of binary (see
    /// [`parse_secret_key`]), and prove it can sign (with `passphrase` when it is
    /// protected). Errors never quote the key.
    pub fn from_key(bytes: &[u8], passphrase: Option<&str>) -> Result<Signer> {
        let key = parse_secret_key(bytes)?;
        key.verify_bindings().map_err(|err| anyhow::anyhow!("the secret key's self-signatures are invalid: {err}"))?;
        if key.primary_key.version() != KeyVersion::V4 {
            bail!(
                "the signing key is an OpenPGP {:?} key: Helm verifies only v4 keys; create an RSA 4096 key with \
                 `gpg --full-generate-key`",
                key.primary_key.version()
            );
        }
        match key.primary_key.algorithm() {
            PublicKeyAlgorithm::RSA | PublicKeyAlgorithm::RSASign => {}
            PublicKeyAlgorithm::EdDSALegacy | PublicKeyAlgorithm::Ed25519 => tracing::warn!(
                "the signing key is Ed25519: Helm 4 verifies it, Helm 3 (golang.org/x/crypto/openpgp) cannot; use an \
                 RSA key so every Helm user can verify"
            ),
            other => bail!(
                "the signing key's algorithm {other:?} is not one Helm 3 and 4 both verify: use an RSA key \
                 (`gpg --full-generate-key`, RSA and RSA, 4096 bits)"
            ),
        }
        let password = passphrase.map_or_else(Password::empty, Password::from);
        let fingerprint = hex_fingerprint(&key.primary_key);
        let signer = Signer { key, password, fingerprint };
        signer.sign_text("kube9 signing key check\n").map_err(|err| {
            if passphrase.is_none() {
                anyhow::anyhow!(
                    "the signing key {} cannot sign ({err:#}); if it is passphrase-protected, set \
                     {SIGNING_PASSPHRASE_ENV}",
                    signer.fingerprint
                )
            } else {
                anyhow::anyhow!(
                    "the signing key {} cannot sign with the passphrase in {SIGNING_PASSPHRASE_ENV} ({err:#}): check \
                     the passphrase",
                    signer.fingerprint
                )
            }
        })?;
        Ok(signer)
    }

    /// The primary key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Clear-sign `text` with SHA-512, as Helm's `ClearSign` does (v4 "text" signature
    /// with creation time, issuer fingerprint and issuer key id).
    fn sign_text(&self, text: &str) -> Result<String> {
        let primary = &self.key.primary_key;
        let mut config = SignatureConfig::v4(SignatureType::Text, primary.algorithm(), HashAlgorithm::Sha512);
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now()))?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(primary.fingerprint()))?,
        ];
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(primary.legacy_key_id()))?];
        let message = CleartextSignedMessage::new(text, config, primary, &self.password)
            .map_err(|err| anyhow::anyhow!("signing: {err}"))?;
        message.to_armored_string(ArmorOptions::default()).map_err(|err| anyhow::anyhow!("armoring: {err}"))
    }

    /// The provenance file for `package` (`NAME-VERSION.tgz.prov` content).
    pub fn sign_package(&self, package: &ChartPackage) -> Result<String> {
        self.sign_text(&message_block(&package.metadata, &package.file_name, &package.digest))
            .with_context(|| format!("signing {}", package.file_name))
    }

    /// The public half of the key.
    pub fn public_key(&self) -> SignedPublicKey {
        self.key.to_public_key()
    }
}

/// rPGP's text for an error, without the `Debug` dump (and backtrace) some of its
/// variants append: what failed, in one line.
fn pgp_reason(err: &pgp::errors::Error) -> String {
    let text = err.to_string();
    text.split(" { ").next().unwrap_or(&text).trim_end_matches([':', ' ']).to_string()
}

/// One OpenPGP secret key, as people keep it: ASCII-armored (`gpg --armor
/// --export-secret-keys`), binary (`gpg --export-secret-keys`, the form Helm's
/// `--keyring` reads), or a base64 of the binary form (a CI secret must be text). A
/// binary OpenPGP packet always starts with a byte whose top bit is set, which no
/// armored or base64 text does. Exactly one secret key must be in it.
pub fn parse_secret_key(bytes: &[u8]) -> Result<SignedSecretKey> {
    const ARMOR: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
    if bytes.trim_ascii().is_empty() {
        bail!("the signing key is empty");
    }
    // Binary is taken exactly as it is: its last byte may be a space or a newline.
    let binary: std::borrow::Cow<'_, [u8]> = if bytes[0] & 0x80 != 0 {
        bytes.into()
    } else {
        let text = std::str::from_utf8(bytes.trim_ascii())
            .map_err(|_| anyhow::anyhow!("the signing key is neither binary OpenPGP nor text"))?;
        if text.contains(ARMOR) {
            let (key, _) = SignedSecretKey::from_string(text).map_err(|err| {
                anyhow::anyhow!("the armored secret key does not parse as OpenPGP ({})", pgp_reason(&err))
            })?;
            return Ok(key);
        }
        if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            bail!(
                "this is a public key: signing needs the secret key (`gpg --armor --export-secret-keys FINGERPRINT`)"
            );
        }
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        match base64::Engine::decode(&base64::engine::general_purpose::STANDARD, compact) {
            Ok(decoded) if decoded.first().is_some_and(|b| b & 0x80 != 0) => decoded.into(),
            _ => bail!(
                "not an OpenPGP secret key: expected an armored key (`-----BEGIN PGP PRIVATE KEY BLOCK-----`, from \
                 `gpg --armor --export-secret-keys FINGERPRINT`), a binary one (`gpg --export-secret-keys \
                 FINGERPRINT`) or a base64 of the binary one"
            ),
        }
    };
    let mut keys = Vec::new();
    let unparsable = |err: pgp::errors::Error| {
        anyhow::anyhow!("the binary secret key does not parse as OpenPGP ({})", pgp_reason(&err))
    };
    for key in SignedSecretKey::from_bytes_many(&binary[..]).map_err(unparsable)? {
        keys.push(key.map_err(unparsable)?);
    }
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => bail!(
            "no secret key in the binary OpenPGP data (a public keyring? export the secret key with \
             `gpg --export-secret-keys FINGERPRINT`)"
        ),
        n => bail!("{n} secret keys in one file: export only the signing key (`gpg --export-secret-keys FINGERPRINT`)"),
    }
}

/// Public keys a verifier trusts: exactly these, nothing from any user keyring.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

/// What a valid provenance file proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Fingerprint of the key (primary) that signed.
    pub signer: String,
    pub file_name: String,
    pub sha256: String,
}

impl Keyring {
    pub fn new(keys: Vec<SignedPublicKey>) -> Keyring {
        Keyring { keys }
    }

    /// Read a binary keyring (`gpg --export > pubkey.gpg`) or armored public keys (one
    /// block, or several concatenated, as Helm 4 reads them); secret keys in it contribute
    /// their public half.
    pub fn parse(bytes: &[u8]) -> Result<Keyring> {
        const BEGIN: &str = "-----BEGIN PGP ";
        let text = std::str::from_utf8(bytes).ok().filter(|t| t.trim_start().starts_with(BEGIN));
        let blocks: Vec<&[u8]> = match text {
            Some(text) => {
                let starts: Vec<usize> = text.match_indices(BEGIN).map(|(i, _)| i).chain([text.len()]).collect();
                starts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
            }
            None => vec![bytes],
        };
        let mut out = Vec::new();
        for block in blocks {
            let (keys, _) = PublicOrSecret::from_reader_many(block)
                .map_err(|err| anyhow::anyhow!("not an OpenPGP keyring: {err}"))?;
            for key in keys {
                let key = key.map_err(|err| anyhow::anyhow!("a key in the keyring does not parse: {err}"))?;
                out.push(match key {
                    PublicOrSecret::Public(key) => key,
                    PublicOrSecret::Secret(key) => key.to_public_key(),
                });
            }
        }
        if out.is_empty() {
            bail!("the keyring holds no key");
        }
        Ok(Keyring { keys: out })
    }

    /// [`Keyring::parse`] of a file.
    pub fn load(path: &Path) -> Result<Keyring> {
        let bytes = std::fs::read(path).with_context(|| format!("reading the keyring {}", path.display()))?;
        Keyring::parse(&bytes).with_context(|| format!("reading the keyring {}", path.display()))
    }

    /// Upper-case hex fingerprints of the primary keys.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(hex_fingerprint).collect()
    }

    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints().iter().any(|f| f == fingerprint)
    }

    /// Add `key` unless a key with its fingerprint is there; whether it was added.
    pub fn add(&mut self, key: SignedPublicKey) -> bool {
        if self.contains(&hex_fingerprint(&key)) {
            return false;
        }
        self.keys.push(key);
        true
    }

    /// The binary keyring (every key, in order), for `pubkey.gpg`.
    pub fn to_binary(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for key in &self.keys {
            key.to_writer(&mut out).map_err(|err| anyhow::anyhow!("serialising a public key: {err}"))?;
        }
        Ok(out)
    }

    /// Every key in one armored block (as `gpg --armor --export A B` writes), for `pubkey.asc`.
    pub fn to_armored(&self) -> Result<String> {
        struct Keys<'a>(&'a [SignedPublicKey]);
        impl pgp::ser::Serialize for Keys<'_> {
            fn to_writer<W: std::io::Write>(&self, writer: &mut W) -> pgp::errors::Result<()> {
                self.0.iter().try_for_each(|key| key.to_writer(writer))
            }
            fn write_len(&self) -> usize {
                self.0.iter().map(pgp::ser::Serialize::write_len).sum()
            }
        }
        let mut out = Vec::new();
        pgp::armor::write(&Keys(&self.keys), pgp::armor::BlockType::PublicKey, &mut out, None, true)
            .map_err(|err| anyhow::anyhow!("armoring the public keys: {err}"))?;
        String::from_utf8(out).context("the armored keys are not UTF-8")
    }

    /// Helm's `Signatory.Verify`: `prov` is a clear-signed message signed by a key of this
    /// keyring (its primary key or a subkey), whose `files` block gives `file_name` the
    /// sha256 of `package`. Each failure names what is wrong.
    pub fn verify(&self, prov: &[u8], file_name: &str, package: &[u8]) -> Result<Verified> {
        let text = std::str::from_utf8(prov).context("the provenance file is not UTF-8 text")?;
        let start = text
            .find("-----BEGIN PGP SIGNED MESSAGE-----")
            .context("signature block not found (no `-----BEGIN PGP SIGNED MESSAGE-----`)")?;
        let (message, _) = CleartextSignedMessage::from_string(&text[start..])
            .map_err(|err| anyhow::anyhow!("the clear-signed message does not parse: {err}"))?;
        let signer = self
            .keys
            .iter()
            .find_map(|key| {
                if message.verify(key).is_ok() {
                    return Some(hex_fingerprint(key));
                }
                key.public_subkeys.iter().any(|sub| message.verify(sub).is_ok()).then(|| hex_fingerprint(key))
            })
            .with_context(|| {
                let issuers: Vec<String> = message
                    .signatures()
                    .iter()
                    .flat_map(|s| s.issuer_fingerprint().into_iter().map(|f| format!("{f:X}")))
                    .collect();
                format!(
                    "the signature does not verify with any key of the keyring ({}); signed by {}: a foreign key, or \
                     the text was changed after signing",
                    self.fingerprints().join(", "),
                    if issuers.is_empty() { "an unnamed key".to_string() } else { issuers.join(", ") }
                )
            })?;
        let signed = message.signed_text().replace("\r\n", "\n");
        let files = parse_files(&signed)?;
        let sha256 = sha256_hex(package);
        let Some(listed) = files.iter().find(|(name, _)| name == file_name).map(|(_, sum)| sum) else {
            bail!(
                "provenance does not contain a SHA for a file named {file_name:?} (it names {})",
                files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            );
        };
        if *listed != format!("sha256:{sha256}") {
            bail!("sha256 sum does not match for {file_name}: {listed:?} != \"sha256:{sha256}\"");
        }
        Ok(Verified { signer, file_name: file_name.to_string(), sha256 })
    }
}

/// The `files:` map of a message block (after the `...` line), as Helm parses it.
fn parse_files(text: &str) -> Result<Vec<(String, String)>> {
    #[derive(serde::Deserialize)]
    struct Sums {
        #[serde(default)]
        files: std::collections::BTreeMap<String, String>,
    }
    let Some((_, sums)) = text.split_once("\n...\n") else {
        bail!("message block must have at least two parts (no `...` line)");
    };
    let sums: Sums = serde_yaml::from_str(sums).context("the `files` block of the provenance does not parse")?;
    Ok(sums.files.into_iter().collect())
}

/// Warnings when the signing key is not the key the configuration or a chart names.
pub fn fingerprint_warnings(signer: &str, configured: Option<&str>, charts: &[&ChartMetadata]) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(configured) = configured.map(normalize_fingerprint).filter(|f| !f.is_empty())
        && configured != signer
    {
        warnings.push(format!(
            "the signing key {signer} is not the key configured in charts/repository.toml ([signing] fingerprint = \
             {configured}): users who verify with the published key will reject these packages"
        ));
    }
    for chart in charts {
        match sign_key_annotation(chart) {
            Ok(Some(annotation)) if annotation.fingerprint != signer => warnings.push(format!(
                "the signing key {signer} is not the key chart {} names in {SIGN_KEY_ANNOTATION} ({}): Artifact Hub \
                 will show the wrong key",
                chart.name, annotation.fingerprint
            )),
            Err(err) => warnings.push(format!("chart {}: {err:#}", chart.name)),
            _ => {}
        }
    }
    warnings
}

/// Artifact Hub's `artifacthub.io/signKey` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignKeyAnnotation {
    pub fingerprint: String,
    pub url: String,
}

/// Read a chart's `artifacthub.io/signKey` annotation (`fingerprint:` and `url:` lines).
pub fn sign_key_annotation(chart: &ChartMetadata) -> Result<Option<SignKeyAnnotation>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        fingerprint: String,
        url: String,
    }
    let Some(text) = chart.annotations.get(SIGN_KEY_ANNOTATION) else { return Ok(None) };
    let doc: Doc = serde_yaml::from_str(text)
        .with_context(|| format!("the {SIGN_KEY_ANNOTATION} annotation must hold `fingerprint:` and `url:`"))?;
    let fingerprint = normalize_fingerprint(&doc.fingerprint);
    if !is_fingerprint(&fingerprint) {
        bail!("the {SIGN_KEY_ANNOTATION} fingerprint {:?} is not 40 hex digits", doc.fingerprint);
    }
    Ok(Some(SignKeyAnnotation { fingerprint, url: doc.url }))
}

#[cfg(test)]
mod tests;
