//! The operator crate's version, from its Cargo manifest: the single source of truth the
//! chart's `version` and `appVersion` follow.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::display;
use crate::project;

/// The `[package] version` of the Cargo manifest at `manifest`, validated as SemVer.
/// `version.workspace = true` is followed to the enclosing workspace's
/// `[workspace.package] version`, as Cargo does.
pub fn crate_version(manifest: &Path) -> Result<String> {
    let doc = read_toml(manifest)?;
    let item = doc
        .get("package")
        .and_then(|package| package.get("version"))
        .with_context(|| format!("{} has no `[package] version`", display(manifest)))?;
    let version = if let Some(version) = item.as_str() {
        version.to_string()
    } else if item.as_table_like().and_then(|t| t.get("workspace")).and_then(toml_edit::Item::as_bool) == Some(true) {
        workspace_version(manifest)?
    } else {
        bail!("{}: `[package] version` must be a string such as \"0.1.0\"", display(manifest));
    };
    semver::Version::parse(&version)
        .with_context(|| format!("{}: `[package] version` {version:?} is not SemVer", display(manifest)))?;
    Ok(version)
}

/// `[workspace.package] version` of the nearest ancestor manifest with a `[workspace]`.
fn workspace_version(member: &Path) -> Result<String> {
    let start = member.parent().and_then(Path::parent);
    for dir in start.into_iter().flat_map(Path::ancestors) {
        let candidate = dir.join("Cargo.toml");
        if !candidate.is_file() {
            continue;
        }
        let doc = read_toml(&candidate)?;
        let Some(workspace) = doc.get("workspace") else { continue };
        return workspace
            .get("package")
            .and_then(|package| package.get("version"))
            .and_then(|version| version.as_str())
            .map(str::to_string)
            .with_context(|| {
                format!(
                    "{} inherits its version from the workspace, but {} has no `[workspace.package] version`",
                    display(member),
                    display(&candidate)
                )
            });
    }
    bail!("{} inherits its version from the workspace, but no enclosing workspace manifest was found", display(member))
}

fn read_toml(path: &Path) -> Result<toml_edit::DocumentMut> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the crate manifest {}", display(path)))?;
    text.parse().with_context(|| format!("{} is not valid TOML", display(path)))
}

/// The operator crate version (`operator/Cargo.toml`).
pub fn operator_version() -> Result<String> {
    crate_version(&project::operator_manifest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_version_reads_the_package_table() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"x\"\nversion = \"1.4.0-beta.2\" # note\n").unwrap();
        assert_eq!(crate_version(&manifest).unwrap(), "1.4.0-beta.2");
        std::fs::write(&manifest, "[package]\nname = \"x\"\nversion = \"1.4\"\n").unwrap();
        let err = crate_version(&manifest).unwrap_err();
        assert!(format!("{err:#}").contains("is not SemVer"), "{err:#}");
        std::fs::write(&manifest, "[package]\nname = \"x\"\nversion = 3\n").unwrap();
        let err = crate_version(&manifest).unwrap_err();
        assert!(format!("{err:#}").contains("must be a string"), "{err:#}");
        std::fs::write(&manifest, "[package]\nname = \"x\"\n").unwrap();
        let err = crate_version(&manifest).unwrap_err();
        assert!(format!("{err:#}").contains("has no `[package] version`"), "{err:#}");
    }

    #[test]
    fn crate_version_follows_workspace_inheritance() {
        let dir = tempfile::tempdir().unwrap();
        let member = dir.path().join("operator").join("Cargo.toml");
        std::fs::create_dir_all(member.parent().unwrap()).unwrap();
        std::fs::write(&member, "[package]\nname = \"x\"\nversion.workspace = true\n").unwrap();
        let root = dir.path().join("Cargo.toml");
        std::fs::write(&root, "[workspace]\nmembers = [\"operator\"]\n").unwrap();
        let err = crate_version(&member).unwrap_err();
        assert!(format!("{err:#}").contains("has no `[workspace.package] version`"), "{err:#}");
        std::fs::write(&root, "[workspace]\nmembers = [\"operator\"]\n[workspace.package]\nversion = \"2.1.0\"\n")
            .unwrap();
        assert_eq!(crate_version(&member).unwrap(), "2.1.0");
    }
}
