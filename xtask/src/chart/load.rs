//! Load a chart from a folder or from a `.tgz` into a [`Chart`] tree, as Helm's loader
//! does (`pkg/chart/v2/loader`): files are classified into Chart.yaml, Chart.lock,
//! values.yaml, values.schema.json, templates, other files, and subcharts under
//! `charts/` (folders or `.tgz`, the latter expanded like `helm package` does).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::ignore::Rules;
use super::{ChartMetadata, Dependency};
use crate::layout::{MAX_CHART_SIZE, MAX_FILE_SIZE, PROV_SUFFIX};

/// One file of a chart: `/`-separated path relative to the chart root, and its bytes
/// (a leading UTF-8 BOM removed, as Helm does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    pub name: String,
    pub data: Vec<u8>,
}

/// A loaded chart, its files grouped and ordered the way `helm package` writes them.
#[derive(Debug, Clone)]
pub struct Chart {
    pub metadata: ChartMetadata,
    /// The Chart.yaml bytes as found (written unchanged into the package).
    pub chart_yaml: Vec<u8>,
    /// Chart.lock (apiVersion v2 only, as Helm).
    pub lock: Option<Vec<u8>>,
    pub values: Option<Vec<u8>>,
    pub schema: Option<Vec<u8>>,
    /// `templates/...`, sorted by path.
    pub templates: Vec<ChartFile>,
    /// Every other file, sorted by path (includes `charts/*.prov`, `.helmignore`, README...).
    pub files: Vec<ChartFile>,
    /// Subcharts from `charts/`, sorted by their folder (or archive) name.
    pub dependencies: Vec<Chart>,
}

/// Read the chart folder `dir`, honouring its `.helmignore` and Helm's default rule.
///
/// Refuses symlinks that leave the folder, irregular files, files larger than
/// [`MAX_FILE_SIZE`] and charts larger than [`MAX_CHART_SIZE`].
pub fn load_dir(dir: &Path) -> Result<Chart> {
    let root =
        dir.canonicalize().with_context(|| format!("cannot open chart folder {}: check `--chart`", dir.display()))?;
    if !root.is_dir() {
        bail!("chart folder {} is not a directory", dir.display());
    }
    if !root.join("Chart.yaml").is_file() {
        bail!("{} has no Chart.yaml: point `--chart` at a Helm chart folder", dir.display());
    }
    let mut rules = match std::fs::read_to_string(root.join(".helmignore")) {
        Ok(text) => Rules::parse(&text).with_context(|| format!("reading {}/.helmignore", dir.display()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Rules::default(),
        Err(err) => return Err(err).with_context(|| format!("reading {}/.helmignore", dir.display())),
    };
    rules.add_defaults();
    let mut walker = Walker { root: root.clone(), rules, files: Vec::new(), total: 0, stack: vec![root.clone()] };
    walker.walk(&root, "")?;
    load_files(walker.files).with_context(|| format!("loading chart {}", dir.display()))
}

struct Walker {
    root: PathBuf,
    rules: Rules,
    files: Vec<ChartFile>,
    total: u64,
    /// Canonical folders being walked, to refuse symlink loops.
    stack: Vec<PathBuf>,
}

impl Walker {
    fn walk(&mut self, dir: &Path, prefix: &str) -> Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading folder {}", dir.display()))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading folder {}", dir.display()))?;
        // Go's filepath.Walk order: lexical by bytes.
        names.sort();
        for name in names {
            let Some(name_str) = name.to_str() else {
                bail!("file name {:?} in {} is not UTF-8", name, dir.display());
            };
            let rel = if prefix.is_empty() { name_str.to_string() } else { format!("{prefix}/{name_str}") };
            let path = dir.join(&name);
            let link_meta = std::fs::symlink_metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            let (real, meta) = if link_meta.file_type().is_symlink() {
                let real = path.canonicalize().with_context(|| {
                    format!("symlink {rel} in the chart is broken: remove it or point it inside the chart")
                })?;
                if !real.starts_with(&self.root) {
                    bail!(
                        "symlink {rel} points outside the chart folder (to {}): copy the file into the chart instead",
                        real.display()
                    );
                }
                let meta = std::fs::metadata(&real).with_context(|| format!("reading {}", real.display()))?;
                (real, meta)
            } else {
                (path.clone(), link_meta)
            };
            if meta.is_dir() {
                if self.rules.ignore(&rel, true) {
                    continue;
                }
                let canonical = real.canonicalize().with_context(|| format!("reading {}", real.display()))?;
                if self.stack.contains(&canonical) {
                    bail!("symlink {rel} makes a loop in the chart folder: remove it");
                }
                self.stack.push(canonical);
                self.walk(&real, &rel)?;
                self.stack.pop();
                continue;
            }
            if self.rules.ignore(&rel, false) {
                continue;
            }
            if !meta.is_file() {
                bail!("{rel} is not a regular file (device, socket or pipe): remove it or add it to .helmignore");
            }
            if meta.len() > MAX_FILE_SIZE {
                bail!(
                    "{rel} is {} bytes, larger than the {} bytes a chart file may have (Helm's limit): add it to .helmignore",
                    meta.len(),
                    MAX_FILE_SIZE
                );
            }
            self.total += meta.len();
            if self.total > MAX_CHART_SIZE {
                bail!("the chart is larger than {MAX_CHART_SIZE} bytes (Helm's limit): trim it with .helmignore");
            }
            let data = std::fs::read(&real).with_context(|| format!("reading {}", real.display()))?;
            self.files.push(ChartFile { name: rel, data: strip_bom(data) });
        }
        Ok(())
    }
}

fn strip_bom(mut data: Vec<u8>) -> Vec<u8> {
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    data
}

/// Group loose files into a chart, as Helm's `loader.LoadFiles`.
pub fn load_files(files: Vec<ChartFile>) -> Result<Chart> {
    let Some(chart_yaml) = files.iter().find(|f| f.name == "Chart.yaml").map(|f| f.data.clone()) else {
        bail!("Chart.yaml file is missing");
    };
    let mut metadata = ChartMetadata::from_chart_yaml(&chart_yaml)?;
    let is_v1 = metadata.api_version_or_default() == "v1";
    let mut chart = Chart {
        metadata: ChartMetadata::default(),
        chart_yaml,
        lock: None,
        values: None,
        schema: None,
        templates: Vec::new(),
        files: Vec::new(),
        dependencies: Vec::new(),
    };
    // Subchart name -> its files (relative to the subchart folder, or the archive itself).
    let mut subcharts: std::collections::BTreeMap<String, Vec<ChartFile>> = Default::default();
    for file in files {
        match file.name.as_str() {
            "Chart.yaml" => {}
            "Chart.lock" => {
                if !is_v1 {
                    chart.lock = Some(file.data);
                }
            }
            "values.yaml" => {
                check_values(&file.data)?;
                chart.values = Some(file.data);
            }
            "values.schema.json" => {
                serde_json::from_slice::<serde_json::Value>(&file.data)
                    .context("values.schema.json is not valid JSON: Helm could not validate any install against it")?;
                chart.schema = Some(file.data);
            }
            "requirements.yaml" if is_v1 => {
                #[derive(serde::Deserialize)]
                struct Requirements {
                    #[serde(default)]
                    dependencies: Vec<Dependency>,
                }
                let requirements: Requirements =
                    serde_yaml::from_slice(&file.data).context("cannot load requirements.yaml")?;
                metadata.dependencies = requirements.dependencies;
                chart.files.push(file);
            }
            name if name.starts_with("templates/") => chart.templates.push(file),
            name if name.starts_with("charts/") && !name.ends_with(PROV_SUFFIX) => {
                let rest = &name["charts/".len()..];
                let (sub, inner) = rest.split_once('/').unwrap_or((rest, ""));
                let sub = sub.to_string();
                let inner = inner.to_string();
                subcharts.entry(sub).or_default().push(ChartFile { name: inner, data: file.data });
            }
            _ => chart.files.push(file),
        }
    }
    chart.metadata = metadata;
    chart.templates.sort_by(|a, b| a.name.cmp(&b.name));
    chart.files.sort_by(|a, b| a.name.cmp(&b.name));
    for (name, files) in subcharts {
        if name.starts_with(['_', '.']) {
            continue;
        }
        let sub = if name.ends_with(".tgz") {
            let Some(archive) = files.iter().find(|f| f.name.is_empty()) else {
                bail!("charts/{name} is a folder named like an archive: rename it");
            };
            load_archive(&archive.data).with_context(|| format!("unpacking subchart charts/{name}"))?
        } else {
            let files = files.into_iter().filter(|f| !f.name.is_empty()).collect();
            load_files(files).with_context(|| format!("loading subchart charts/{name}"))?
        };
        chart.dependencies.push(sub);
    }
    Ok(chart)
}

/// values.yaml must be what Helm's loader reads into the chart's values: a YAML mapping
/// (`cannot load values.yaml` otherwise, and every install of the chart fails). Empty,
/// comment-only and `null` documents are an empty mapping; like Go's `yaml.Unmarshal`,
/// only the first document of a stream counts and a repeated key is no error (the last
/// one wins), so the document is walked, not collected into a map.
pub fn check_values(data: &[u8]) -> Result<()> {
    use serde::Deserializer as _;
    let Some(document) = serde_yaml::Deserializer::from_slice(data).next() else { return Ok(()) };
    let shape =
        document.deserialize_any(ShapeOf).context("values.yaml does not parse as YAML: Helm cannot load the chart")?;
    match shape {
        "a mapping" | "empty" => Ok(()),
        kind => bail!("values.yaml is {kind}, not a YAML mapping of keys to values: Helm cannot load the chart"),
    }
}

/// What kind of YAML node a document is, read to its end (so every syntax error is
/// found) without keeping anything.
struct ShapeOf;

impl<'de> serde::de::Visitor<'de> for ShapeOf {
    type Value = &'static str;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a YAML document")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok("empty")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok("empty")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok("a boolean")
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok("a number")
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok("a number")
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok("a number")
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok("a string")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok("a list")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok("a mapping")
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        use serde::de::VariantAccess as _;
        let (serde::de::IgnoredAny, variant) = data.variant()?;
        variant.newtype_variant::<serde::de::IgnoredAny>()?;
        Ok("a tagged value")
    }
}

/// Read the files of a chart archive, with Helm's safety checks (no absolute paths, no
/// `..`, size limits). Returns the top folder name and the files relative to it.
pub fn read_archive_files(bytes: &[u8]) -> Result<(String, Vec<ChartFile>)> {
    let decoder = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(decoder);
    let mut files = Vec::new();
    let mut top: Option<String> = None;
    let mut remaining = MAX_CHART_SIZE;
    for entry in archive.entries().context("not a gzip-compressed tar archive")? {
        let mut entry = entry.context("the archive is corrupt (gzip or tar)")?;
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let delimiter = if raw.contains('\\') { '\\' } else { '/' };
        let mut parts = raw.split(delimiter);
        let first = parts.next().unwrap_or_default().to_string();
        let rest: Vec<&str> = parts.collect();
        if rest.is_empty() && first == "Chart.yaml" {
            bail!("chart yaml not in base directory");
        }
        let name = clean_path(&rest.join("/"));
        if name.starts_with('/') {
            bail!("chart illegally contains absolute paths");
        }
        if name == "." || name.is_empty() {
            bail!("chart illegally contains content outside the base directory: {raw:?}");
        }
        if name.starts_with("..") {
            bail!("chart illegally references parent directory");
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > MAX_FILE_SIZE {
            bail!("chart file {raw:?} is larger than the maximum file size {MAX_FILE_SIZE}");
        }
        if size > remaining {
            bail!("decompressed chart is larger than the maximum size {MAX_CHART_SIZE}");
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).with_context(|| format!("reading {raw} from the archive"))?;
        remaining -= data.len() as u64;
        top.get_or_insert(first);
        files.push(ChartFile { name, data: strip_bom(data) });
    }
    let Some(top) = top else {
        bail!("no files in chart archive");
    };
    Ok((top, files))
}

/// Go's `path.Clean` on a relative `/`-separated path.
fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(last) if *last != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Load a whole chart from `.tgz` bytes.
pub fn load_archive(bytes: &[u8]) -> Result<Chart> {
    let (_, files) = read_archive_files(bytes)?;
    load_files(files)
}

/// Chart.yaml metadata from `.tgz` bytes, as `helm repo index` sees it (for apiVersion v1
/// charts, dependencies come from `requirements.yaml`).
pub fn read_archive_metadata(bytes: &[u8]) -> Result<ChartMetadata> {
    let (_, files) = read_archive_files(bytes)?;
    let chart = load_files(files)?;
    let mut metadata = chart.metadata;
    if metadata.api_version.as_deref().is_none_or(str::is_empty) {
        metadata.api_version = Some("v1".to_string());
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_matches_go() {
        assert_eq!(clean_path("a/b/../c"), "a/c");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path("a/../../x"), "../x");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("./a//b/"), "a/b");
    }
}
