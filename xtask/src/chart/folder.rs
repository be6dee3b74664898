//! A folder of chart packages indexed into its `index.yaml`, as `helm repo index` does,
//! but append-only: the base index (`--merge FILE`, else the folder's own) keeps every
//! version and its `created`; the same version with another digest is refused unless
//! `force` (the merge rules are [`RepoIndex::add`]). A package the caller keeps out (a
//! yanked version, `repo-index` says) is left out of the index.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::Utc;

use crate::chart;
use crate::index::{MergeOutcome, RepoIndex, join_url, version};
use crate::layout::IndexFormat;
use crate::layout::{FileKind, INDEX_KEY, sha256_hex};

/// What [`index_dir`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    pub unchanged: usize,
    pub replaced: usize,
    pub skipped: usize,
    /// Packages kept out of the index by the caller (yanked versions).
    pub kept_out: usize,
    pub total: usize,
}

/// Index `dir` into `dir/index.yaml` (`cargo xtask repo-index`). `kept_out` says why a
/// chart name and version must stay out of the index (`None`: index it).
pub fn index_dir(
    dir: &Path,
    base_url: &str,
    merge: Option<&Path>,
    force: bool,
    format: IndexFormat,
    kept_out: impl Fn(&str, &str) -> Option<String>,
) -> Result<Summary> {
    if !dir.is_dir() {
        bail!("{} is not a folder: pass the folder that holds the .tgz packages", dir.display());
    }
    let dest = dir.join(INDEX_KEY);
    let base_path = merge.map_or_else(|| dest.clone(), Path::to_path_buf);
    let started = std::time::Instant::now();
    let mut index = match std::fs::read(&base_path) {
        Ok(bytes) => RepoIndex::parse(&bytes).with_context(|| {
            format!(
                "reading the index to merge into, {}: fix it or delete it to rebuild from the packages",
                base_path.display()
            )
        })?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => RepoIndex::new(),
        Err(err) => return Err(err).with_context(|| format!("reading {}", base_path.display())),
    };

    tracing::debug!("read the base index ({} versions) in {:?}", index.version_count(), started.elapsed());
    let created = Utc::now();
    let mut summary = Summary::default();
    for (rel_dir, file_name, path) in packages_in(dir)? {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let metadata = match chart::read_package(&bytes) {
            Ok(metadata) => metadata,
            Err(err) => {
                tracing::warn!("skipping {}: not a chart package ({err:#})", path.display());
                summary.skipped += 1;
                continue;
            }
        };
        if metadata.name.is_empty() || metadata.version.is_empty() {
            bail!("{} has no chart name or version in its Chart.yaml: remove it or repackage it", path.display());
        }
        if version::parse_lenient(&metadata.version).is_none() {
            bail!(
                "{}: chart version {:?} is not a valid version (Helm would refuse it)",
                path.display(),
                metadata.version
            );
        }
        if let Some(why) = kept_out(&metadata.name, &metadata.version) {
            tracing::info!("{}: {} {} {why}: kept out of the index", path.display(), metadata.name, metadata.version);
            summary.kept_out += 1;
            continue;
        }
        let package = chart::ChartPackage {
            file_name: file_name.clone(),
            digest: sha256_hex(&bytes),
            metadata,
            bytes: Vec::new(),
        };
        let base = if rel_dir.is_empty() { base_url.to_string() } else { join_url(base_url, &rel_dir) };
        let entry = package.index_entry(&base, created);
        let outcome = index.add(entry, force).with_context(|| format!("indexing {}", path.display()))?;
        match outcome {
            MergeOutcome::Added => summary.added += 1,
            MergeOutcome::Unchanged => summary.unchanged += 1,
            MergeOutcome::Replaced => summary.replaced += 1,
        }
    }
    summary.total = index.version_count();
    tracing::debug!("merged the packages at {:?}", started.elapsed());
    let yaml = index.to_bytes(format)?;
    tracing::debug!("serialised {} bytes at {:?}", yaml.len(), started.elapsed());
    chart::package::write_atomic(&dest, &yaml).context("writing index.yaml")?;
    tracing::debug!("wrote {} at {:?}", dest.display(), started.elapsed());
    Ok(summary)
}

/// `(sub-folder relative to dir or "", file name, path)` of every `*.tgz` in `dir` and one
/// level below (what Helm's `IndexDirectory` globs), sorted for a stable order.
fn packages_in(dir: &Path) -> Result<Vec<(String, String, PathBuf)>> {
    let mut found = Vec::new();
    let scan = |folder: &Path, rel: &str, descend: bool, found: &mut Vec<_>| -> Result<Vec<(String, PathBuf)>> {
        let mut subdirs = Vec::new();
        for entry in std::fs::read_dir(folder).with_context(|| format!("reading folder {}", folder.display()))? {
            let entry = entry.with_context(|| format!("reading folder {}", folder.display()))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            let file_type = entry.file_type()?;
            if descend && file_type.is_dir() {
                subdirs.push((name, path));
            } else if FileKind::of(&name) == FileKind::Package && path.is_file() {
                found.push((rel.to_string(), name, path));
            }
        }
        Ok(subdirs)
    };
    let subdirs = scan(dir, "", true, &mut found)?;
    for (name, path) in subdirs {
        scan(&path, &name, false, &mut found)?;
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_found_in_the_folder_and_one_level_below_in_a_stable_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in
            ["b-1.0.0.tgz", "a-1.0.0.tgz", "index.yaml", "a-1.0.0.tgz.prov", "sub/c-1.0.0.tgz", "sub/deep/d.tgz"]
        {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, name).unwrap();
        }
        let found: Vec<(String, String)> =
            packages_in(dir.path()).unwrap().into_iter().map(|(rel, name, _)| (rel, name)).collect();
        let expected = [("", "a-1.0.0.tgz"), ("", "b-1.0.0.tgz"), ("sub", "c-1.0.0.tgz")];
        assert_eq!(found, expected.map(|(rel, name)| (rel.to_string(), name.to_string())));
        let err = index_dir(&dir.path().join("missing"), "", None, false, IndexFormat::Yaml, |_, _| None).unwrap_err();
        assert!(format!("{err:#}").contains("is not a folder"), "{err:#}");
    }
}
