//! Charts: load a chart folder, build a reproducible package, read a package back.
//!
//! Contract used by the other modules (the package/index issue fills it in; keep these
//! signatures, extend freely):
//! - [`ChartMetadata`]: Chart.yaml as Helm's `chart.Metadata` knows it.
//! - [`package_chart`]: chart folder -> [`ChartPackage`] (bytes in memory, reproducible).
//! - [`read_package`]: `.tgz` bytes -> the Chart.yaml inside.

use std::path::Path;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Chart.yaml metadata, as Helm's `chart.Metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// A packaged chart, held in memory.
#[derive(Debug, Clone)]
pub struct ChartPackage {
    pub metadata: ChartMetadata,
    /// `NAME-VERSION.tgz`
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// Lower-case hex sha256 of `bytes` (the index `digest`).
    pub digest: String,
}

/// Package the chart in `dir` reproducibly.
pub fn package_chart(_dir: &Path) -> Result<ChartPackage> {
    bail!("packaging is not built yet")
}

/// Read the Chart.yaml out of a `.tgz` chart package.
pub fn read_package(_bytes: &[u8]) -> Result<ChartMetadata> {
    bail!("reading packages is not built yet")
}
