//! Chart tree -> `.tgz`, laid out like `helm package` (Helm's `chartutil.Save`) but
//! byte-for-byte reproducible.
//!
//! Layout: one top folder named after Chart.yaml `name`; in it Chart.yaml, Chart.lock
//! (apiVersion v2), values.yaml, values.schema.json, `templates/…` (sorted), every other
//! file (sorted), then each subchart under `NAME/charts/SUBCHART/` in the same order
//! (subcharts sorted by folder name; Helm's order is random). Only regular-file entries,
//! no directory entries, as Helm writes them.
//!
//! Reproducibility, decided here:
//! - tar: ustar headers, mode 0644, uid/gid 0, empty user/group names, mtime
//!   [`PACKAGE_MTIME`] for every entry. `SOURCE_DATE_EPOCH` is deliberately **not**
//!   honoured: the package digest is the identity of a published version, and a timestamp
//!   taken from the commit would make an unchanged chart look changed (and its re-release
//!   be refused as a different digest).
//! - gzip: no file name, mtime 0, OS byte 255 ("unknown", as Go writes it), default level.
//!   Same source + same `Cargo.lock` (same deflate implementation) = same bytes.
//! - Chart.yaml is written as found (comments kept), not re-serialised; Helm's readers
//!   only need it to parse.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::ChartPackage;
use super::load::Chart;

/// The mtime of every entry in our packages: 2000-01-01T00:00:00Z. A fixed, plausible
/// date (some tools warn about 1970), the same on every machine.
pub const PACKAGE_MTIME: u64 = 946_684_800;

/// The `.tgz` bytes of `chart`.
pub fn write_tgz(chart: &Chart) -> Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new().mtime(0).operating_system(255).write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    write_chart(&mut tar, chart, "")?;
    let gz = tar.into_inner().context("finishing the tar stream")?;
    gz.finish().context("finishing the gzip stream")
}

fn write_chart<W: Write>(tar: &mut tar::Builder<W>, chart: &Chart, prefix: &str) -> Result<()> {
    let name = &chart.metadata.name;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
        bail!("chart name {name:?} cannot be a folder name in the package");
    }
    let base = format!("{prefix}{name}");
    append(tar, &format!("{base}/Chart.yaml"), &chart.chart_yaml)?;
    if let Some(lock) = &chart.lock {
        append(tar, &format!("{base}/Chart.lock"), lock)?;
    }
    if let Some(values) = &chart.values {
        append(tar, &format!("{base}/values.yaml"), values)?;
    }
    if let Some(schema) = &chart.schema {
        append(tar, &format!("{base}/values.schema.json"), schema)?;
    }
    for file in chart.templates.iter().chain(&chart.files) {
        append(tar, &format!("{base}/{}", file.name), &file.data)?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for dependency in &chart.dependencies {
        if !seen.insert(dependency.metadata.name.as_str()) {
            bail!("chart {name} has two subcharts named {:?} under charts/", dependency.metadata.name);
        }
        write_chart(tar, dependency, &format!("{base}/charts/"))?;
    }
    Ok(())
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("").context("tar header")?;
    header.set_groupname("").context("tar header")?;
    header.set_mtime(PACKAGE_MTIME);
    header.set_size(data.len() as u64);
    // `append_data` sets the path (GNU long-name entry when it does not fit) and checksum.
    tar.append_data(&mut header, path, data).with_context(|| format!("adding {path} to the package"))
}

/// Write `package` into `out_dir` as `NAME-VERSION.tgz`, atomically (temporary file in the
/// same folder, then rename), so a failure never leaves a partial package behind.
pub fn write_package_file(out_dir: &Path, package: &ChartPackage) -> Result<PathBuf> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating output folder {}", out_dir.display()))?;
    let dest = out_dir.join(&package.file_name);
    write_atomic(&dest, &package.bytes)?;
    Ok(dest)
}

/// Write `bytes` to `dest` through a temporary file in the same folder and a rename.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("writing {}", dest.display()))?;
    tmp.as_file().sync_all().with_context(|| format!("writing {}", dest.display()))?;
    // tempfile creates files 0600; packages and indexes are meant to be world-readable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting permissions on {}", dest.display()))?;
    }
    tmp.persist(dest).map_err(|err| err.error).with_context(|| format!("renaming into {}", dest.display()))?;
    Ok(())
}
