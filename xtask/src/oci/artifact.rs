//! What is pushed, byte for byte: a chart as `helm push` lays it out, and Artifact Hub's
//! repository metadata as Artifact Hub reads it. Pure: no network.
//!
//! A chart at `PATH/NAME:VERSION` is one OCI image manifest with
//! - config [`HELM_CONFIG`]: the chart's Chart.yaml as JSON (Helm's `chart.Metadata`
//!   JSON, key order aside: Helm reads it back with `encoding/json`);
//! - layer [`HELM_CHART_CONTENT`]: the package, **the very bytes** the HTTP repository
//!   serves (its sha256 is the index `digest`);
//! - layer [`HELM_PROVENANCE`], when the release is signed: the `.prov` served beside it;
//! - the annotations Helm's `generateOCIAnnotations` writes (`pkg/registry/chart.go`):
//!   description, title, version, url, created, source, authors, then the chart's own
//!   annotations (never overriding title or version). `created` is the index entry's
//!   `created`, not the time of the push, so pushing the same version again makes the
//!   same manifest, digest and all.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::chart::ChartMetadata;
use crate::index::schema::record::Record;
use crate::layout::sha256_hex;

/// The manifest's own media type (OCI image manifest, what Helm pushes).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// A Helm chart's config blob: Chart.yaml as JSON.
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// A Helm chart's package layer.
pub const HELM_CHART_CONTENT: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// A Helm chart's provenance layer.
pub const HELM_PROVENANCE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";
/// Artifact Hub's repository metadata: the config (empty) ...
pub const ARTIFACTHUB_CONFIG: &str = "application/vnd.cncf.artifacthub.config.v1+yaml";
/// ... and the layer holding `artifacthub-repo.yml`.
pub const ARTIFACTHUB_LAYER: &str = "application/vnd.cncf.artifacthub.repository-metadata.layer.v1.yaml";
/// The tag Artifact Hub reads the metadata from, in each chart's OCI repository.
pub const ARTIFACTHUB_TAG: &str = "artifacthub.io";

/// `sha256:HEX`, an OCI digest.
pub fn oci_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: oci_digest(bytes),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        }
    }
}

/// An OCI image manifest, as pushed and as read back (unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// The first layer of `media_type`.
    pub fn layer(&self, media_type: &str) -> Option<&Descriptor> {
        self.layers.iter().find(|layer| layer.media_type == media_type)
    }

    /// The chart package layer's digest (`sha256:HEX`), when this is a chart.
    pub fn chart_digest(&self) -> Option<&str> {
        self.layer(HELM_CHART_CONTENT).map(|layer| layer.digest.as_str())
    }
}

/// A blob to push: its descriptor and its bytes.
#[derive(Debug, Clone)]
pub struct Blob {
    pub descriptor: Descriptor,
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob { descriptor: Descriptor::of(media_type, &bytes), bytes }
    }
}

/// Everything one tag holds: the config, the layers and the manifest that names them,
/// serialised once (its digest is the digest of exactly these bytes).
#[derive(Debug, Clone)]
pub struct Artifact {
    pub manifest: Manifest,
    /// The manifest as pushed.
    pub manifest_bytes: Vec<u8>,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Artifact {
    fn new(config: Blob, layers: Vec<Blob>, annotations: BTreeMap<String, String>) -> Artifact {
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_string()),
            config: config.descriptor.clone(),
            layers: layers.iter().map(|blob| blob.descriptor.clone()).collect(),
            annotations,
        };
        let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest always serialises");
        Artifact { manifest, manifest_bytes, config, layers }
    }

    /// `sha256:HEX` of the manifest: what the registry answers for the tag once pushed.
    pub fn digest(&self) -> String {
        oci_digest(&self.manifest_bytes)
    }

    /// Every blob: the config first, then the layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    /// A chart version as `helm push` lays it out (module docs). `package` is the
    /// published package, `provenance` its published `.prov`, `created` its index entry's.
    pub fn chart(
        metadata: &ChartMetadata,
        package: &[u8],
        provenance: Option<&[u8]>,
        created: DateTime<Utc>,
    ) -> Artifact {
        let mut json = serde_json::Map::new();
        metadata.write_json(&mut json);
        let config = serde_json::to_vec(&serde_json::Value::Object(json)).expect("JSON always serialises");
        let mut layers = vec![Blob::new(HELM_CHART_CONTENT, package.to_vec())];
        if let Some(prov) = provenance {
            layers.push(Blob::new(HELM_PROVENANCE, prov.to_vec()));
        }
        Artifact::new(Blob::new(HELM_CONFIG, config), layers, chart_annotations(metadata, created))
    }

    /// Artifact Hub's repository metadata (`artifacthub-repo.yml`) as the `artifacthub.io`
    /// tag holds it: a config of [`ARTIFACTHUB_CONFIG`] and one layer of
    /// [`ARTIFACTHUB_LAYER`], as Artifact Hub's documented `oras push` makes it. Artifact
    /// Hub reads only the layer; the config is `{}` (an empty YAML mapping) rather than
    /// `oras`'s empty file, because a registry upload of an empty blob is refused by the
    /// OCI client.
    pub fn artifacthub(metadata: &[u8]) -> Artifact {
        let mut layer = Blob::new(ARTIFACTHUB_LAYER, metadata.to_vec());
        layer
            .descriptor
            .annotations
            .insert("org.opencontainers.image.title".into(), crate::layout::ARTIFACTHUB_KEY.into());
        Artifact::new(Blob::new(ARTIFACTHUB_CONFIG, b"{}".to_vec()), vec![layer], BTreeMap::new())
    }
}

/// Helm's manifest annotations for a chart (`generateOCIAnnotations`): the standard OCI
/// ones from the metadata (left out when blank), then the chart's own annotations, which
/// may not override `title` or `version`.
fn chart_annotations(metadata: &ChartMetadata, created: DateTime<Utc>) -> BTreeMap<String, String> {
    const TITLE: &str = "org.opencontainers.image.title";
    const VERSION: &str = "org.opencontainers.image.version";
    let mut out = BTreeMap::new();
    let mut add = |key: &str, value: &str| {
        if !value.trim().is_empty() {
            out.insert(key.to_string(), value.to_string());
        }
    };
    add("org.opencontainers.image.description", metadata.description.as_deref().unwrap_or_default());
    add(TITLE, &metadata.name);
    add(VERSION, &metadata.version);
    add("org.opencontainers.image.url", metadata.home.as_deref().unwrap_or_default());
    add("org.opencontainers.image.created", &created.to_rfc3339_opts(SecondsFormat::Secs, true));
    if let Some(source) = metadata.sources.first() {
        add("org.opencontainers.image.source", source);
    }
    let authors: Vec<String> = metadata
        .maintainers
        .iter()
        .map(|m| match m.email.as_deref().filter(|email| !email.is_empty()) {
            Some(email) => format!("{} ({email})", m.name.as_deref().unwrap_or_default()),
            None => m.name.clone().unwrap_or_default(),
        })
        .collect();
    add("org.opencontainers.image.authors", &authors.join(", "));
    for (key, value) in &metadata.annotations {
        if key != TITLE && key != VERSION {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> ChartMetadata {
        let yaml = "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"1.2.3\"\ndescription: A demo\n\
                    home: https://example.com\nsources: [https://example.com/src, https://x]\n\
                    maintainers: [{name: Ann, email: ann@example.com}, {name: Bob}]\n\
                    annotations: {org.opencontainers.image.title: nope, example.com/x: y}\n";
        ChartMetadata::from_chart_yaml(yaml.as_bytes()).unwrap()
    }

    #[test]
    fn a_chart_is_laid_out_as_helm_push_lays_it_out() {
        let created = "2026-01-02T03:04:05.678Z".parse().unwrap();
        let artifact = Artifact::chart(&metadata(), b"package bytes", Some(b"prov text"), created);
        let manifest = &artifact.manifest;
        assert_eq!(manifest.config.media_type, HELM_CONFIG);
        let types: Vec<&str> = manifest.layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(types, [HELM_CHART_CONTENT, HELM_PROVENANCE]);
        assert_eq!(manifest.chart_digest(), Some(format!("sha256:{}", sha256_hex(b"package bytes")).as_str()));
        assert_eq!(manifest.layers[0].size, 13);
        let config: serde_json::Value = serde_json::from_slice(&artifact.config.bytes).unwrap();
        assert_eq!(config["name"], "demo");
        assert_eq!(config["appVersion"], "1.2.3");
        assert_eq!(config["maintainers"][0]["email"], "ann@example.com");
        let annotations = &manifest.annotations;
        assert_eq!(annotations["org.opencontainers.image.title"], "demo", "a chart annotation never overrides it");
        assert_eq!(annotations["org.opencontainers.image.version"], "1.2.3");
        assert_eq!(annotations["org.opencontainers.image.created"], "2026-01-02T03:04:05Z");
        assert_eq!(annotations["org.opencontainers.image.source"], "https://example.com/src");
        assert_eq!(annotations["org.opencontainers.image.authors"], "Ann (ann@example.com), Bob");
        assert_eq!(annotations["org.opencontainers.image.url"], "https://example.com");
        assert_eq!(annotations["example.com/x"], "y");
        // The manifest's digest is the digest of the bytes pushed, and the same every time.
        let again = Artifact::chart(&metadata(), b"package bytes", Some(b"prov text"), created);
        assert_eq!(artifact.digest(), again.digest());
        assert_eq!(artifact.digest(), oci_digest(&artifact.manifest_bytes));
        let parsed: Manifest = serde_json::from_slice(&artifact.manifest_bytes).unwrap();
        assert_eq!(&parsed, manifest);
        // Unsigned: the chart layer alone.
        let unsigned = Artifact::chart(&metadata(), b"package bytes", None, created);
        assert_eq!(unsigned.manifest.layers.len(), 1);
        assert_eq!(unsigned.blobs().count(), 2);
    }

    #[test]
    fn artifacthub_metadata_has_an_empty_config_and_one_layer() {
        let artifact = Artifact::artifacthub(b"owners: []\n");
        assert_eq!(artifact.manifest.config.media_type, ARTIFACTHUB_CONFIG);
        assert_eq!(artifact.config.bytes, b"{}");
        assert_eq!(artifact.manifest.layers.len(), 1);
        assert_eq!(artifact.manifest.layers[0].media_type, ARTIFACTHUB_LAYER);
        assert_eq!(artifact.layers[0].bytes, b"owners: []\n");
    }
}
