//! The container image a chart deploys when installed with its defaults, read from its
//! package the way the common chart convention spells it in `values.yaml`:
//! `image.registry` (optional), `image.repository`, and `image.tag`, which when empty is
//! the chart's `appVersion` (as the operator chart's `kube9-operator.image` helper does).
//! A digest (`image.digest`) pins it instead of the tag.

use anyhow::{Context, Result};
use serde_yaml::Value;

use super::load;

/// `REGISTRY/REPOSITORY:TAG` (or `@DIGEST`) the package `bytes` deploys by default;
/// `None` when its values name no `image.repository`.
pub fn default_image(bytes: &[u8]) -> Result<Option<String>> {
    let chart = load::load_archive(bytes)?;
    let Some(values) = chart.values else { return Ok(None) };
    let values: Value = serde_yaml::from_slice(&values).context("reading values.yaml")?;
    let image = &values["image"];
    let text = |key: &str| image[key].as_str().map(str::trim).filter(|text| !text.is_empty());
    let Some(repository) = text("repository") else { return Ok(None) };
    let name = match text("registry") {
        Some(registry) => format!("{}/{repository}", registry.trim_end_matches('/')),
        None => repository.to_string(),
    };
    if let Some(digest) = text("digest") {
        return Ok(Some(format!("{name}@{digest}")));
    }
    // A number in YAML (`tag: 1.2`) is still the tag it spells.
    let tag = text("tag").map(str::to_string).or_else(|| match &image["tag"] {
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    });
    let tag = tag.or_else(|| chart.metadata.app_version.clone().filter(|v| !v.is_empty()));
    Ok(Some(match tag {
        Some(tag) => format!("{name}:{tag}"),
        None => format!("{name}:latest"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(values: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("Chart.yaml"),
            "apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: 2.0.0\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("values.yaml"), values).unwrap();
        super::super::package_chart(dir.path()).unwrap().bytes
    }

    #[test]
    fn the_default_image_is_repository_and_tag_or_app_version() {
        let image = |values: &str| default_image(&package(values)).unwrap();
        assert_eq!(image("image:\n  repository: ghcr.io/a/b\n  tag: \"\"\n").unwrap(), "ghcr.io/a/b:2.0.0");
        assert_eq!(image("image:\n  repository: ghcr.io/a/b\n  tag: v3\n").unwrap(), "ghcr.io/a/b:v3");
        assert_eq!(image("image:\n  repository: nginx\n  tag: 1.27\n").unwrap(), "nginx:1.27");
        assert_eq!(image("image:\n  registry: quay.io/\n  repository: a/b\n").unwrap(), "quay.io/a/b:2.0.0");
        assert_eq!(image("image:\n  repository: a/b\n  digest: sha256:abc\n").unwrap(), "a/b@sha256:abc");
        assert_eq!(image("replicas: 1\n"), None);
        assert_eq!(image("image: nginx\n"), None, "a plain string is no repository/tag pair");
        assert_eq!(image(""), None);
    }

    #[test]
    fn the_operator_chart_deploys_its_own_image_at_the_crate_version() {
        let package = crate::chart::package_chart(&crate::project::operator_chart_dir()).unwrap();
        let version = package.metadata.app_version.clone().unwrap();
        assert_eq!(default_image(&package.bytes).unwrap().unwrap(), format!("ghcr.io/kube9/kube9-operator:{version}"));
    }
}
