//! Signed releases: the provenance file of each package and the public keys at the
//! repository root, written by [`super::publish`] when a [`Signer`] is given.
//!
//! **Invariants**
//! - A `.prov` is written after its package and before the index that names the package,
//!   create-only (`If-None-Match: *`), immutable like the package.
//! - A stored `.prov` is never rewritten (a new signature differs on every run; the stored
//!   one stands), except when `--force` replaces its package.
//! - A version the index already lists without a `.prov` is signed only with
//!   `--sign-existing`.
//! - `pubkey.gpg` / `pubkey.asc` only ever grow: the signing key is added to the keys
//!   already published, so files signed by an earlier key keep verifying.

use anyhow::{Context, Result, bail};

use super::{Options, PackageAction, step};
use crate::chart::ChartPackage;
use crate::index::MergeOutcome;
use crate::layout::{FileKind, PUBKEY_ASC_KEY, PUBKEY_GPG_KEY, prov_key};
use crate::provenance::{Keyring, Signer};
use crate::store::{Condition, PutOutcome, PutRequest, Store};

/// What happened to one provenance file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvAction {
    Uploaded,
    /// Already stored: kept as it is (not signed again).
    AlreadyPresent,
    /// The version was published unsigned before; `--sign-existing` adds its `.prov`.
    Unsigned,
    /// Added to a version published unsigned before (`--sign-existing`).
    Added,
    /// Its package was replaced by `--force`, so it was too.
    Replaced,
    WouldUpload,
    WouldAdd,
    WouldReplace,
}

impl ProvAction {
    pub fn describe(self) -> &'static str {
        match self {
            ProvAction::Uploaded => "signed, uploaded",
            ProvAction::AlreadyPresent => "already present (kept, not signed again)",
            ProvAction::Unsigned => "NOT signed: published unsigned before (add it with --sign-existing)",
            ProvAction::Added => "signed, added to a version published unsigned (--sign-existing)",
            ProvAction::Replaced => "signed again, replaced with its package (--force)",
            ProvAction::WouldUpload => "would sign and upload (dry run)",
            ProvAction::WouldAdd => "would sign and add (dry run, --sign-existing)",
            ProvAction::WouldReplace => "would sign again and replace (dry run, --force)",
        }
    }

    pub fn wrote(self) -> bool {
        matches!(self, ProvAction::Uploaded | ProvAction::Added | ProvAction::Replaced)
    }
}

/// Sign `package` and store `NAME-VERSION.tgz.prov` beside it, as the module docs say.
pub async fn store_provenance(
    store: &Store,
    signer: &Signer,
    package: &ChartPackage,
    merge: MergeOutcome,
    package_action: PackageAction,
    options: &Options,
) -> Result<ProvAction> {
    let key = prov_key(&package.file_name);
    let replace = matches!(package_action, PackageAction::Replaced | PackageAction::WouldReplace);
    let stored = store.head(&key).await.with_context(|| format!("looking for {}", store.location(&key)))?;
    if stored.is_some() && !replace {
        return Ok(ProvAction::AlreadyPresent);
    }
    let published_unsigned =
        stored.is_none() && merge == MergeOutcome::Unchanged && package_action == PackageAction::AlreadyPresent;
    if published_unsigned && !options.sign_existing {
        return Ok(ProvAction::Unsigned);
    }
    let prov = signer.sign_package(package)?;
    let condition = if replace { Condition::None } else { Condition::IfNoneMatch };
    if options.dry_run {
        step(format!(
            "  would write {} ({} bytes, {}, Cache-Control: {}, {condition}):",
            store.location(&key),
            prov.len(),
            FileKind::Provenance.content_type(),
            options.cache.package_cache_control
        ));
        for line in prov.lines() {
            step(format!("    {line}"));
        }
        return Ok(match (replace, published_unsigned) {
            (true, _) => ProvAction::WouldReplace,
            (false, true) => ProvAction::WouldAdd,
            (false, false) => ProvAction::WouldUpload,
        });
    }
    let request = PutRequest {
        key: &key,
        bytes: prov.as_bytes(),
        content_type: FileKind::Provenance.content_type(),
        cache_control: &options.cache.package_cache_control,
        condition,
    };
    match store.put(request).await.with_context(|| format!("uploading {key}"))? {
        PutOutcome::Written(_) if replace => Ok(ProvAction::Replaced),
        PutOutcome::Written(_) if published_unsigned => Ok(ProvAction::Added),
        PutOutcome::Written(_) => Ok(ProvAction::Uploaded),
        // A concurrent release of the same version signed it first: its file stands.
        PutOutcome::PreconditionFailed => Ok(ProvAction::AlreadyPresent),
    }
}

/// The published keyring plus the signing key: read `pubkey.gpg`, add the key when it is
/// new, write `pubkey.gpg` (conditional on what was read) and `pubkey.asc`. Returns the
/// keyring users get and whether anything was (or would be) written. A stored keyring
/// that does not parse is never overwritten.
pub async fn publish_public_keys(store: &Store, signer: &Signer, options: &Options) -> Result<(Keyring, bool)> {
    let stored = store.get(PUBKEY_GPG_KEY).await.context("reading the published public keys")?;
    let (mut keyring, condition) = match &stored {
        None => (Keyring::default(), Condition::IfNoneMatch),
        Some(object) => (
            Keyring::parse(&object.bytes).with_context(|| {
                format!(
                    "the published keyring {} does not parse; it was left untouched: restore it from the maintainers' \
                     copy of every signing key (`gpg --export FINGERPRINT... > pubkey.gpg`)",
                    store.location(PUBKEY_GPG_KEY)
                )
            })?,
            Condition::IfMatch(object.etag.clone()),
        ),
    };
    let added = keyring.add(signer.public_key());
    let asc_present = store.head(PUBKEY_ASC_KEY).await?.is_some();
    if !added && asc_present {
        return Ok((keyring, false));
    }
    let binary = keyring.to_binary()?;
    let armored = keyring.to_armored()?;
    if options.dry_run {
        for (key, len) in [(PUBKEY_GPG_KEY, binary.len()), (PUBKEY_ASC_KEY, armored.len())] {
            step(format!(
                "  would write {} ({len} bytes, keys {})",
                store.location(key),
                keyring.fingerprints().join(", ")
            ));
        }
        return Ok((keyring, true));
    }
    let gpg = PutRequest {
        key: PUBKEY_GPG_KEY,
        bytes: &binary,
        content_type: FileKind::Keyring.content_type(),
        cache_control: &options.cache.index_cache_control,
        condition: if added { condition } else { Condition::None },
    };
    if store.put(gpg).await.context("writing the public keyring")? == PutOutcome::PreconditionFailed {
        bail!(
            "{} changed while this release added its key (another release?): re-run the release",
            store.location(PUBKEY_GPG_KEY)
        );
    }
    let asc = PutRequest {
        key: PUBKEY_ASC_KEY,
        bytes: armored.as_bytes(),
        content_type: FileKind::ArmoredKeys.content_type(),
        cache_control: &options.cache.index_cache_control,
        condition: Condition::None,
    };
    let _ = store.put(asc).await.context("writing the armored public keys")?;
    step(format!(
        "  {} and {}: written (keys {})",
        store.location(PUBKEY_GPG_KEY),
        store.location(PUBKEY_ASC_KEY),
        keyring.fingerprints().join(", ")
    ));
    Ok((keyring, true))
}

/// Signing flags, shared by `release-chart` and `package-chart`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Sign each package with this OpenPGP secret key (armored or binary, as `gpg
    /// --export-secret-keys` writes it), writing Helm's NAME-VERSION.tgz.prov [default:
    /// the key in $KUBE9_SIGNING_KEY, armored or base64 of binary, when set; its
    /// passphrase: $KUBE9_SIGNING_PASSPHRASE]
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<std::path::PathBuf>,
}

impl SignArgs {
    /// Whether a key is given (flag or environment).
    pub fn enabled(&self) -> bool {
        self.sign_key.is_some()
            || std::env::var(crate::provenance::SIGNING_KEY_ENV).is_ok_and(|key| !key.trim().is_empty())
    }

    /// The signer, or `None` when signing is off; warns when the key is not the one the
    /// configuration or a chart's `artifacthub.io/signKey` names.
    pub fn signer(
        &self,
        cwd: &std::path::Path,
        configured: Option<&crate::config::SigningConfig>,
        packages: &[ChartPackage],
    ) -> Result<Option<std::sync::Arc<Signer>>> {
        let file = self.sign_key.as_ref().map(|file| cwd.join(file));
        let Some(signer) = Signer::from_flag_or_env(file.as_deref())? else { return Ok(None) };
        let charts: Vec<&crate::chart::ChartMetadata> = packages.iter().map(|p| &p.metadata).collect();
        let configured = configured.map(|c| c.fingerprint.as_str());
        for warning in crate::provenance::fingerprint_warnings(signer.fingerprint(), configured, &charts) {
            tracing::warn!("{warning}");
        }
        Ok(Some(std::sync::Arc::new(signer)))
    }
}
