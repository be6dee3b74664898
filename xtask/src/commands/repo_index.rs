//! `cargo xtask repo-index`: a drop-in for `helm repo index` that never loses history.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::Utc;

use crate::chart;
use crate::ctx::Ctx;
use crate::index::{IndexEntry, IndexFormat, MergeOutcome, RepoIndex, join_url};

/// Index every .tgz in DIR (and one folder level below, as Helm does) into DIR/index.yaml.
///
/// Reads the Chart.yaml of each package (ours or Helm's), computes its sha256 digest and
/// merges it into the base index: the file given with --merge, otherwise the existing
/// DIR/index.yaml, otherwise an empty index. Unlike `helm repo index`, versions are only
/// ever appended: an existing version keeps its entry and its `created` time; the same
/// version with a different digest is refused unless --force. The index is written
/// atomically (temporary file + rename). Files that are not charts are skipped with a
/// warning, as Helm skips them.
/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Index every .tgz in DIR (and one folder below, as Helm does) into DIR/index.yaml: a \
drop-in for `helm repo index` that never loses history.\n\n\
The base index is --merge FILE, else the existing DIR/index.yaml, else an empty one. Versions are only \
appended: an existing version keeps its entry and its `created`; the same version with another digest is \
refused unless --force. Packages made by Helm are read like Helm reads them; files that are not charts are \
skipped with a warning. index.yaml is written atomically, in the form Helm writes it, or as compact JSON with \
--format json (JSON is YAML; Helm >= 3.13 loads it several times faster). The base index may be either.\n\n\
Example: cargo xtask repo-index dist/ --url https://charts.kube9.io --merge old-index.yaml";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding the .tgz packages; index.yaml is written here
    pub dir: PathBuf,
    /// Base URL of the repository (package URLs become URL/NAME-VERSION.tgz); without it
    /// URLs are relative (just the file name), as Helm writes them
    #[arg(long)]
    pub url: Option<String>,
    /// Merge into this existing index [default: DIR/index.yaml when present]
    #[arg(long, value_name = "FILE")]
    pub merge: Option<PathBuf>,
    /// Replace a version already indexed with a different digest (keeps its `created`)
    #[arg(long)]
    pub force: bool,
    /// Write index.yaml as Helm's YAML or as compact JSON (Helm >= 3.13 loads it faster)
    /// [default: `[index] format` of charts/repository.toml, else yaml]
    #[arg(long, value_enum)]
    pub format: Option<IndexFormat>,
}

/// What [`index_dir`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    pub unchanged: usize,
    pub replaced: usize,
    pub skipped: usize,
    pub total: usize,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let cwd = ctx.sh.current_dir();
        let dir = cwd.join(&self.dir);
        let merge = self.merge.map(|m| cwd.join(m));
        let format = match self.format {
            Some(format) => format,
            None => crate::commands::release_chart::local_index_format(ctx)?,
        };
        let summary = index_dir(&dir, self.url.as_deref().unwrap_or(""), merge.as_deref(), self.force, format)?;
        println!(
            "{}: {} added, {} unchanged, {} replaced, {} skipped; {} versions in total",
            dir.join("index.yaml").display(),
            summary.added,
            summary.unchanged,
            summary.replaced,
            summary.skipped,
            summary.total
        );
        Ok(())
    }
}

/// The library form of the command: index `dir` into `dir/index.yaml`.
pub fn index_dir(
    dir: &Path,
    base_url: &str,
    merge: Option<&Path>,
    force: bool,
    format: IndexFormat,
) -> Result<Summary> {
    if !dir.is_dir() {
        bail!("{} is not a folder: pass the folder that holds the .tgz packages", dir.display());
    }
    let dest = dir.join("index.yaml");
    let base_path = merge.map(Path::to_path_buf).unwrap_or_else(|| dest.clone());
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
        if crate::index::version::parse_lenient(&metadata.version).is_none() {
            bail!(
                "{}: chart version {:?} is not a valid version (Helm would refuse it)",
                path.display(),
                metadata.version
            );
        }
        let package = chart::ChartPackage {
            file_name: file_name.clone(),
            digest: chart::sha256_hex(&bytes),
            metadata,
            bytes: Vec::new(),
        };
        let base = if rel_dir.is_empty() { base_url.to_string() } else { join_url(base_url, &rel_dir) };
        let entry = IndexEntry::for_package(&package, &base, created);
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
            } else if name.ends_with(".tgz") && path.is_file() {
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
