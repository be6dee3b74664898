//! Who pushes: the registry credentials of a release, looked up the way Helm and Docker
//! users keep them, first found wins:
//! 1. `KUBE9_OCI_USERNAME` and `KUBE9_OCI_PASSWORD` (CI: `github.actor` and
//!    `GITHUB_TOKEN` for ghcr.io); one without the other is an error;
//! 2. Helm's registry config (`helm registry login`): `$HELM_REGISTRY_CONFIG`, else
//!    `$XDG_CONFIG_HOME/helm/registry/config.json` (`~/.config/…`);
//! 3. Docker's (`docker login`): `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
//!
//! In a config file, the entry of the registry host (`ghcr.io`, or `https://ghcr.io`;
//! Docker Hub's `https://index.docker.io/v1/`) gives `auth` (base64 of `user:password`) or
//! `username` and `password`. Credential helpers (`credsStore`, `credHelpers`) are not run:
//! a registry only they know is reported, with the variables to set instead.
//! Nothing here prints a password or a username: [`Credentials`]'s `Debug` and
//! [`Credentials::describe`] name only where they came from.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde::Deserialize;

/// The username variable.
pub const ENV_USERNAME: &str = "KUBE9_OCI_USERNAME";
/// The password (or token) variable.
pub const ENV_PASSWORD: &str = "KUBE9_OCI_PASSWORD";

/// Credentials for one registry, or none (anonymous).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Anonymous,
    Basic {
        username: String,
        password: String,
        /// Where they were found (a variable's or a file's name): safe to print.
        source: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Credentials {
    /// `anonymous`, or where the credentials came from.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Anonymous => "anonymous".to_string(),
            Credentials::Basic { source, .. } => format!("credentials from {source}"),
        }
    }

    /// The credentials to push to `registry` (`HOST[:PORT]`), as the module docs say.
    pub fn for_push(registry: &str) -> Result<Credentials> {
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        match (env(ENV_USERNAME), env(ENV_PASSWORD)) {
            (Some(username), Some(password)) => {
                return Ok(Credentials::Basic { username, password, source: format!("{ENV_USERNAME}/{ENV_PASSWORD}") });
            }
            (Some(_), None) => bail!("{ENV_USERNAME} is set but {ENV_PASSWORD} is not: set both, or neither"),
            (None, Some(_)) => bail!("{ENV_PASSWORD} is set but {ENV_USERNAME} is not: set both, or neither"),
            (None, None) => {}
        }
        let mut helpers = Vec::new();
        for file in config_files() {
            match from_file(&file, registry)? {
                Found::Credentials(credentials) => return Ok(credentials),
                Found::Helper => helpers.push(file.display().to_string()),
                Found::Nothing => {}
            }
        }
        if !helpers.is_empty() {
            tracing::warn!(
                "{} names a credential helper for {registry}, which is not run: set {ENV_USERNAME} and \
                 {ENV_PASSWORD}; pushing anonymously",
                helpers.join(", ")
            );
        }
        Ok(Credentials::Anonymous)
    }
}

/// Helm's registry config, then Docker's.
fn config_files() -> Vec<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let home = var("HOME");
    let helm = var("HELM_REGISTRY_CONFIG").or_else(|| {
        let config_home = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|home| home.join(".config")))?;
        Some(config_home.join("helm").join("registry").join("config.json"))
    });
    let docker = var("DOCKER_CONFIG")
        .or_else(|| home.as_ref().map(|home| home.join(".docker")))
        .map(|dir| dir.join("config.json"));
    helm.into_iter().chain(docker).collect()
}

/// What one config file says about a registry.
enum Found {
    Credentials(Credentials),
    /// Only a credential helper knows it.
    Helper,
    Nothing,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The registry's entry in the config file at `path` (a missing file says nothing).
fn from_file(path: &Path, registry: &str) -> Result<Found> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(err) => return Err(err).with_context(|| format!("reading the registry credentials {}", path.display())),
    };
    // serde_json's error names a line and column, never the text around it.
    let config: ConfigFile = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a registry config (JSON with `auths`)", path.display()))?;
    let keys = registry_keys(registry);
    let source = path.display().to_string();
    for key in &keys {
        let Some(entry) = config.auths.get(key) else { continue };
        let pair = match (&entry.auth, &entry.username, &entry.password) {
            (Some(auth), _, _) if !auth.is_empty() => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .with_context(|| format!("{source}: the `auth` of {key} is not base64 of user:password"))?;
                let (username, password) = decoded
                    .split_once(':')
                    .with_context(|| format!("{source}: the `auth` of {key} is not base64 of user:password"))?;
                (username.to_string(), password.to_string())
            }
            (_, Some(username), Some(password)) => (username.clone(), password.clone()),
            _ => continue,
        };
        let (username, password) = pair;
        return Ok(Found::Credentials(Credentials::Basic { username, password, source }));
    }
    let helper = config.creds_store.is_some() || keys.iter().any(|key| config.cred_helpers.contains_key(key));
    Ok(if helper { Found::Helper } else { Found::Nothing })
}

/// The keys a registry's entry may have in a config file.
fn registry_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![registry.to_string(), format!("https://{registry}"), format!("http://{registry}")];
    if matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io") {
        keys.push("https://index.docker.io/v1/".to_string());
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, json: &str) -> PathBuf {
        let path = dir.join("config.json");
        std::fs::write(&path, json).unwrap();
        path
    }

    #[test]
    fn a_config_file_gives_the_registry_entry_by_host_or_url() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("ann:s3cret:with-colon");
        let path = write(
            dir.path(),
            &format!(
                r#"{{"auths": {{"ghcr.io": {{"auth": "{auth}"}}, "https://registry.example.com": {{"username": "bob", "password": "pw"}}}}}}"#
            ),
        );
        let Found::Credentials(Credentials::Basic { username, password, source }) =
            from_file(&path, "ghcr.io").unwrap()
        else {
            panic!("ghcr.io has an entry")
        };
        assert_eq!((username.as_str(), password.as_str()), ("ann", "s3cret:with-colon"));
        assert_eq!(source, path.display().to_string());
        let Found::Credentials(other) = from_file(&path, "registry.example.com").unwrap() else { panic!() };
        assert!(matches!(other, Credentials::Basic { ref username, .. } if username == "bob"));
        assert!(!format!("{other:?}").contains("pw") && !other.describe().contains("bob"));
        assert!(matches!(from_file(&path, "quay.io").unwrap(), Found::Nothing));
        assert!(matches!(from_file(&dir.path().join("absent.json"), "ghcr.io").unwrap(), Found::Nothing));
    }

    #[test]
    fn a_helper_is_reported_and_a_broken_file_is_an_error_that_echoes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), r#"{"auths": {}, "credHelpers": {"ghcr.io": "gcr"}}"#);
        assert!(matches!(from_file(&path, "ghcr.io").unwrap(), Found::Helper));
        let path = write(dir.path(), r#"{"auths": {"ghcr.io": {"auth": "not base64 s3cret"}}}"#);
        let err = format!("{:#}", from_file(&path, "ghcr.io").err().unwrap());
        assert!(err.contains("not base64 of user:password") && !err.contains("s3cret"), "{err}");
        let path = write(dir.path(), r#"{"auths": {"ghcr.io": {"auth": "s3cret""#);
        let err = format!("{:#}", from_file(&path, "ghcr.io").err().unwrap());
        assert!(err.contains("is not a registry config") && !err.contains("s3cret"), "{err}");
    }
}
