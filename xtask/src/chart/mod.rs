//! Charts: load a chart folder, build a reproducible package, read a package back.
//!
//! Contract used by the other modules (keep these signatures, extend freely):
//! - [`ChartMetadata`]: Chart.yaml as Helm's `chart.Metadata` knows it.
//! - [`package_chart`]: chart folder -> [`ChartPackage`] (bytes in memory, reproducible);
//!   [`package_all`]: the same for publishing, every chart checked before any is built
//!   (the commands pass the operator chart's version lock, which `versioning` owns).
//! - [`read_package`]: `.tgz` bytes -> the Chart.yaml inside.
//!
//! Submodules: [`ignore`] (`.helmignore`), [`load`] (folder and archive -> chart tree),
//! [`package`] (chart tree -> reproducible `.tgz`).

pub mod folder;
pub mod ignore;
pub mod image;
pub mod load;
pub mod package;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::index::IndexEntry;
/// Chart.yaml's types (Helm's `Metadata`, `Maintainer`, `Dependency`), defined once in
/// [`crate::index::schema`] with the index entry.
pub use crate::index::schema::{ChartMetadata, Dependency, Maintainer};
pub use package::{PACKAGE_MTIME, write_package_file};

use crate::layout::sha256_hex;

impl ChartMetadata {
    /// Parse a Chart.yaml (lenient about unknown keys, as Helm is).
    pub fn from_chart_yaml(bytes: &[u8]) -> Result<ChartMetadata> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            bail!("Chart.yaml is empty");
        }
        serde_yaml::from_slice(bytes).context("Chart.yaml is not valid YAML for a chart")
    }

    /// The `apiVersion`, defaulting to `v1` as Helm does.
    pub fn api_version_or_default(&self) -> &str {
        self.api_version.as_deref().filter(|v| !v.is_empty()).unwrap_or("v1")
    }

    /// Checks for packaging: stricter than Helm (the version must be SemVer 2 exactly,
    /// without a leading `v`), so that `NAME-VERSION.tgz` and the index agree everywhere.
    pub fn validate_for_package(&self) -> Result<()> {
        if self.name.is_empty() {
            bail!("Chart.yaml has no `name`: add `name: <chart name>`");
        }
        if self.name == "." || self.name == ".." || self.name.contains(['/', '\\']) {
            bail!("Chart.yaml `name` {:?} is not a valid chart name (no path separators, not `.` or `..`)", self.name);
        }
        if self.version.is_empty() {
            bail!("Chart.yaml has no `version`: add `version: <SemVer 2 version>`");
        }
        if let Err(err) = semver::Version::parse(&self.version) {
            bail!(
                "Chart.yaml `version` {:?} is not a SemVer 2 version ({err}); use MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] without a leading `v`",
                self.version
            );
        }
        match self.api_version_or_default() {
            "v1" | "v2" => {}
            other => bail!("Chart.yaml `apiVersion` {other:?} is not supported: use `v2` (or `v1`)"),
        }
        match self.chart_type.as_deref() {
            None | Some("" | "application" | "library") => {}
            Some(other) => bail!("Chart.yaml `type` {other:?} is invalid: use `application` or `library`"),
        }
        let mut seen = std::collections::BTreeSet::new();
        for dependency in &self.dependencies {
            let key = dependency.alias.as_deref().filter(|a| !a.is_empty()).unwrap_or(&dependency.name);
            if !seen.insert(key.to_string()) {
                bail!("Chart.yaml has more than one dependency with name or alias {key:?}");
            }
        }
        Ok(())
    }
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

impl ChartPackage {
    /// The index entry for this package, served from `base_url`
    /// (`{base_url}/NAME-VERSION.tgz`). An empty `base_url` gives a relative URL (just the
    /// file name), as Helm does.
    pub fn index_entry(&self, base_url: &str, created: chrono::DateTime<chrono::Utc>) -> IndexEntry {
        let mut metadata = self.metadata.clone();
        if metadata.api_version.as_deref().is_none_or(str::is_empty) {
            metadata.api_version = Some("v1".to_string());
        }
        IndexEntry {
            metadata,
            urls: vec![crate::index::join_url(base_url, &self.file_name)],
            created: Some(created),
            digest: self.digest.clone(),
            ..IndexEntry::default()
        }
    }
}

/// Package the chart in `dir` reproducibly (see [`package`] for the exact format).
pub fn package_chart(dir: &Path) -> Result<ChartPackage> {
    build_package(load_for_package(dir)?)
}

/// Load the chart in `dir` and check it can be packaged: its Chart.yaml is read and
/// parsed here, once.
fn load_for_package(dir: &Path) -> Result<load::Chart> {
    let chart = load::load_dir(dir)?;
    chart.metadata.validate_for_package().with_context(|| format!("chart {}", dir.display()))?;
    Ok(chart)
}

/// Package charts for publishing (`package-chart`, `release-chart`). Every chart is loaded
/// and checked first (`check` on the parsed Chart.yaml and the chart's folder: both commands
/// pass the version lock, `versioning::lock::check_operator_chart`; two folders building
/// the same `NAME-VERSION.tgz`), so a refusal happens before anything is built. `progress`
/// receives one line per step.
pub fn package_all(
    dirs: &[PathBuf],
    check: impl Fn(&ChartMetadata, &Path) -> Result<()>,
    progress: impl Fn(String),
) -> Result<Vec<ChartPackage>> {
    let mut charts: Vec<load::Chart> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let chart = load_for_package(dir).with_context(|| format!("packaging the chart in {}", dir.display()))?;
        check(&chart.metadata, dir)
            .with_context(|| format!("packaging the chart in {}: nothing was built", dir.display()))?;
        let name = package_file_name(&chart.metadata);
        if charts.iter().any(|c| package_file_name(&c.metadata) == name) {
            bail!("{name} is given twice (two --chart folders build the same chart version)");
        }
        charts.push(chart);
    }
    let mut packages = Vec::with_capacity(charts.len());
    for (dir, chart) in dirs.iter().zip(charts) {
        progress(format!("packaging {}", dir.display()));
        let package = build_package(chart).with_context(|| format!("packaging the chart in {}", dir.display()))?;
        progress(format!("  {} sha256:{}", package.file_name, package.digest));
        packages.push(package);
    }
    Ok(packages)
}

fn package_file_name(metadata: &ChartMetadata) -> String {
    crate::layout::package_key(&metadata.name, &metadata.version)
}

/// Build the package of a chart [`load_for_package`] loaded.
fn build_package(chart: load::Chart) -> Result<ChartPackage> {
    let bytes = package::write_tgz(&chart)?;
    let metadata = chart.metadata;
    Ok(ChartPackage { file_name: package_file_name(&metadata), digest: sha256_hex(&bytes), metadata, bytes })
}

/// Read the Chart.yaml out of a `.tgz` chart package (made by us or by Helm).
pub fn read_package(bytes: &[u8]) -> Result<ChartMetadata> {
    load::read_archive_metadata(bytes)
}

#[cfg(test)]
mod tests;
