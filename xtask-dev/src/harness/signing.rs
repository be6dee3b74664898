//! Throw-away OpenPGP keys for tests and benchmarks, generated on the spot (no private key
//! is ever committed), (`gpg`, the independent verifier, is
//! provisioned in `tools.rs`).

use anyhow::{Context, Result};
use pgp::composed::{ArmorOptions, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey};

/// A generated key: the armored secret key (what `--sign-key` and `KUBE9_SIGNING_KEY`
/// take) and its public half.
pub struct TestKey {
    pub armored_secret: String,
    pub public: SignedPublicKey,
    /// Upper-case hex fingerprint.
    pub fingerprint: String,
}

/// Generate an RSA signing key (2048 bits: as Helm 3 and 4 verify it, quick enough for
/// tests) for `user_id`, protected by `passphrase` when given.
pub fn generate_rsa_key(user_id: &str, passphrase: Option<&str>) -> Result<TestKey> {
    generate_key(KeyType::Rsa(2048), user_id, passphrase)
}

/// Generate a signing key of `key_type` (e.g. `KeyType::Ed25519Legacy`).
pub fn generate_key(key_type: KeyType, user_id: &str, passphrase: Option<&str>) -> Result<TestKey> {
    let params = SecretKeyParamsBuilder::default()
        .key_type(key_type)
        .can_certify(true)
        .can_sign(true)
        .can_encrypt(EncryptionCaps::None)
        .primary_user_id(user_id.into())
        .passphrase(passphrase.map(str::to_string))
        .build()
        .context("building the test key parameters")?;
    let secret = params.generate(rand::rngs::OsRng).map_err(|err| anyhow::anyhow!("generating a test key: {err}"))?;
    let armored_secret = secret
        .to_armored_string(ArmorOptions::default())
        .map_err(|err| anyhow::anyhow!("armoring the test key: {err}"))?;
    let public = secret.to_public_key();
    let fingerprint = format!("{:X}", pgp::types::KeyDetails::fingerprint(&public));
    Ok(TestKey { armored_secret, public, fingerprint })
}
