//! Plain HTTP(S) clients (verify-repo, benchmark and test proxies): every reqwest client
//! is built from [`client_builder`], which makes `ring` the process's rustls provider
//! first (reqwest is built without a provider of its own, see the workspace Cargo.toml).
//!
//! Server certificates are checked against the system's CA certificates, as reqwest's
//! rustls-platform-verifier loads them on Linux (rustls-native-certs): `SSL_CERT_FILE`
//! and `SSL_CERT_DIR`, when set, replace the system's store, as for OpenSSL and Go (Helm).
//! That is how a test trusts exactly one CA, and how a user behind a TLS-inspecting proxy
//! trusts its CA; no code or dependency of ours is involved.

/// `reqwest::Client::builder()`, with the TLS provider installed.
#[allow(clippy::disallowed_methods)] // the one place that may
pub fn client_builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// Make `ring` the process's rustls provider, for a client built elsewhere (the OCI
/// client builds its own reqwest client).
pub fn install_tls_provider() {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_a_client_for_https() {
        // Without a provider this would panic inside reqwest.
        super::client_builder().build().unwrap();
    }
}
