//! Plain HTTP(S) clients (verify-repo, benchmark and test proxies): every reqwest client
//! is built from [`client_builder`], which makes `ring` the process's rustls provider
//! first (reqwest is built without a provider of its own, see the workspace Cargo.toml).

/// `reqwest::Client::builder()`, with the TLS provider installed.
#[allow(clippy::disallowed_methods)] // the one place that may
pub fn client_builder() -> reqwest::ClientBuilder {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_a_client_for_https() {
        // Without a provider this would panic inside reqwest.
        super::client_builder().build().unwrap();
    }
}
