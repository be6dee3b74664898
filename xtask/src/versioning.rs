//! The operator crate's version is the single source of truth for the chart's `version`
//! and `appVersion`.
//!
//! Chart.yaml is hand-written and commented, so it is never re-serialised: the two
//! top-level lines are found by a line scan and only their values are replaced, which
//! keeps comments, quoting, key order and line endings byte-for-byte. Every scan is
//! cross-checked with a real YAML parse, so a layout the scanner does not understand is
//! an error, never a silently wrong edit.
//!
//! The version lock is one rule on parsed chart metadata ([`check_locked_versions`]), used
//! by `check-version`, by `package-chart` / `release-chart` ([`check_operator_chart`], before
//! anything is built) and, as far as it can hold for old releases, by `reindex`
//! ([`stored_package_problem`]).

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::chart::ChartMetadata;
use crate::project;

/// The two Chart.yaml keys that follow the crate version, in file order of checking.
pub const VERSION_KEYS: [&str; 2] = ["version", "appVersion"];

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

/// Fail unless `chart_dir/Chart.yaml` has `version` and `appVersion` equal to the
/// operator crate version; returns that version.
pub fn check_chart_in_sync(chart_dir: &Path) -> Result<String> {
    check_chart_matches(chart_dir, &project::operator_manifest())
}

/// `check-version`: read `chart_dir/Chart.yaml` and apply the version lock
/// ([`check_locked_versions`]) against the crate version of `manifest`; returns that version.
pub fn check_chart_matches(chart_dir: &Path, manifest: &Path) -> Result<String> {
    let expected = crate_version(manifest)?;
    let chart_yaml = chart_yaml_path(chart_dir);
    let text = read_chart_yaml(&chart_yaml)?;
    let metadata = ChartMetadata::from_chart_yaml(text.as_bytes())
        .with_context(|| format!("cannot read {}", display(&chart_yaml)))?;
    check_locked_versions(&metadata, chart_dir, &expected, manifest)?;
    Ok(expected)
}

/// Whether `metadata` (the Chart.yaml of `chart_dir`) is the operator chart, whose version
/// is locked to the operator crate: by its name, or by its folder (`charts/kube9-operator`),
/// so neither a copy elsewhere nor a renamed chart in place bypasses the lock.
pub fn is_operator_chart(metadata: &ChartMetadata, chart_dir: &Path) -> bool {
    metadata.name == project::OPERATOR_CHART || same_path(chart_dir, &project::operator_chart_dir())
}

/// The version lock, the one rule every command applies (`package-chart`, `release-chart`,
/// `check-version`): the chart's `version` and `appVersion` both equal `crate_version`
/// (the version of `manifest`). The error names both, the file and the fix (`sync-version`).
pub fn check_locked_versions(
    metadata: &ChartMetadata,
    chart_dir: &Path,
    crate_version: &str,
    manifest: &Path,
) -> Result<()> {
    let app_version = metadata.app_version.as_deref().unwrap_or("");
    if metadata.version != crate_version || app_version != crate_version {
        bail!(
            "{chart} is out of sync with the operator crate: it has version {} and appVersion {}, but {manifest} \
             has version {crate_version}; run `{fix}`",
            metadata.version,
            if app_version.is_empty() { "(none)" } else { app_version },
            chart = display(&chart_yaml_path(chart_dir)),
            manifest = display(manifest),
            fix = sync_command(chart_dir, manifest),
        );
    }
    Ok(())
}

/// The lock for publishing (`package-chart`, `release-chart`), on the Chart.yaml already
/// parsed for packaging: the operator chart ([`is_operator_chart`]) must carry the operator
/// crate's version; other charts are published under their own version.
pub fn check_operator_chart(metadata: &ChartMetadata, chart_dir: &Path) -> Result<()> {
    if !is_operator_chart(metadata, chart_dir) {
        return Ok(());
    }
    let manifest = project::operator_manifest();
    check_locked_versions(metadata, chart_dir, &crate_version(&manifest)?, &manifest)
        .context("version drift: the operator chart must carry the operator crate's version")
}

/// The lock as it can hold for a package already stored (`reindex`): the crate version is
/// the next release's, not an old one's, so only what every operator release had is
/// checked, `appVersion` equal to `version`. `Some(problem)` for an operator package that
/// breaks it (reported, still indexed: reindex repairs the index, it does not judge history).
pub fn stored_package_problem(metadata: &ChartMetadata) -> Option<String> {
    let app_version = metadata.app_version.as_deref().unwrap_or("");
    (metadata.name == project::OPERATOR_CHART && app_version != metadata.version).then(|| {
        format!(
            "{} {} has appVersion {:?}: operator packages carry the crate version as both (version drift when it \
             was built)",
            metadata.name, metadata.version, app_version
        )
    })
}

/// What [`sync_chart`] did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub chart_yaml: PathBuf,
    pub version: String,
    /// Empty when Chart.yaml was already in sync.
    pub changes: Vec<Change>,
}

/// Rewrite `chart_dir/Chart.yaml` so `version` and `appVersion` equal the version of
/// `manifest`. Only those two values change; the file is not written when nothing
/// changes or when `dry_run` is set.
pub fn sync_chart(chart_dir: &Path, manifest: &Path, dry_run: bool) -> Result<SyncOutcome> {
    let version = crate_version(manifest)?;
    let chart_yaml = chart_yaml_path(chart_dir);
    let text = read_chart_yaml(&chart_yaml)?;
    let rewrite =
        rewrite_chart_versions(&text, &version).with_context(|| format!("cannot update {}", display(&chart_yaml)))?;
    if !rewrite.changes.is_empty() && !dry_run {
        std::fs::write(&chart_yaml, &rewrite.text).with_context(|| format!("cannot write {}", display(&chart_yaml)))?;
    }
    Ok(SyncOutcome { chart_yaml, version, changes: rewrite.changes })
}

/// One rewritten line of Chart.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: &'static str,
    /// 1-based line number.
    pub line: usize,
    pub old: String,
    pub new: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} {} -> {}", self.line, self.key, self.old, self.new)
    }
}

/// Chart.yaml text after a rewrite, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub text: String,
    pub changes: Vec<Change>,
}

/// Set the top-level `version` and `appVersion` values in Chart.yaml `text` to
/// `new_version`, touching nothing else. The result is parsed again to prove the
/// edit says what was intended.
pub fn rewrite_chart_versions(text: &str, new_version: &str) -> Result<Rewrite> {
    let found = ChartVersions::parse(text)?;
    let mut edits: Vec<&VersionLine> =
        [&found.version, &found.app_version].into_iter().filter(|line| line.value != new_version).collect();
    let changes = edits
        .iter()
        .map(|line| Change { key: line.key, line: line.line, old: line.value.clone(), new: new_version.to_string() })
        .collect();
    // Replace from the end so earlier byte ranges stay valid.
    edits.sort_by_key(|line| std::cmp::Reverse(line.value_range.start));
    let mut out = text.to_string();
    for line in edits {
        out.replace_range(line.value_range.clone(), new_version);
    }
    let check = ChartVersions::parse(&out).context("the rewritten Chart.yaml does not read back")?;
    if check.version.value != new_version || check.app_version.value != new_version {
        bail!(
            "the rewritten Chart.yaml reads back as version {} and appVersion {}, not {new_version}",
            check.version.value,
            check.app_version.value
        );
    }
    Ok(Rewrite { text: out, changes })
}

/// The `version` and `appVersion` lines of a Chart.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartVersions {
    pub version: VersionLine,
    pub app_version: VersionLine,
}

/// One top-level `key: value` line and where its value sits in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLine {
    pub key: &'static str,
    /// 1-based line number.
    pub line: usize,
    /// The value without quotes.
    pub value: String,
    /// Byte range of the value (inside the quotes, if quoted) in the whole text.
    pub value_range: Range<usize>,
}

impl ChartVersions {
    /// Find both lines in Chart.yaml `text` and confirm them with a YAML parse.
    pub fn parse(text: &str) -> Result<ChartVersions> {
        let [version, app_version] = VERSION_KEYS.map(|key| find_top_level(text, key));
        let found = ChartVersions { version: version?, app_version: app_version? };
        let yaml: serde_yaml::Value = serde_yaml::from_str(text).context("Chart.yaml is not valid YAML")?;
        for line in [&found.version, &found.app_version] {
            let parsed = match yaml.get(line.key) {
                Some(serde_yaml::Value::String(s)) => s.clone(),
                Some(serde_yaml::Value::Number(n)) => n.to_string(),
                Some(other) => bail!("`{}` must be a string, found {other:?}", line.key),
                None => bail!("`{}` on line {} is not a top-level key of the YAML document", line.key, line.line),
            };
            if parsed != line.value {
                bail!(
                    "line {} reads `{}: {}` but YAML parses it as {parsed:?}; write it as a plain or quoted \
                     one-line value",
                    line.line,
                    line.key,
                    line.value
                );
            }
        }
        Ok(found)
    }
}

/// The single line `key: value` at column 0 (a top-level mapping key; nested keys such as
/// `dependencies[].version` are indented and never match).
fn find_top_level(text: &str, key: &'static str) -> Result<VersionLine> {
    let mut found: Option<VersionLine> = None;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let Some(after_key) = [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix.as_str()))
        else {
            continue;
        };
        let Some(after_colon) = after_key.trim_start_matches([' ', '\t']).strip_prefix(':') else {
            continue; // another key that starts with the same letters, e.g. `versionNote:`
        };
        if !(after_colon.is_empty() || after_colon.starts_with([' ', '\t'])) {
            continue;
        }
        let line_no = index + 1;
        if let Some(first) = &found {
            bail!("`{key}` appears twice, on lines {} and {line_no}; keep one", first.line);
        }
        let value_start = line.len() - after_colon.len();
        let (value, range) =
            parse_scalar(after_colon).with_context(|| format!("line {line_no}: cannot read the value of `{key}`"))?;
        let range = line_start + value_start + range.start..line_start + value_start + range.end;
        found = Some(VersionLine { key, line: line_no, value, value_range: range });
    }
    found.with_context(|| format!("no top-level `{key}:` line; add `{key}: <version>` at the start of a line"))
}

/// Parse the value part of a `key: value` line (everything after the colon). Returns the
/// unquoted value and its byte range within `rest`.
fn parse_scalar(rest: &str) -> Result<(String, Range<usize>)> {
    let start = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let body = &rest[start..];
    let (range, after) = match body.chars().next() {
        None | Some('#') => bail!("the value is missing (it must be on the same line)"),
        Some(quote @ ('"' | '\'')) => {
            let close = body[1..].find(quote).context("the closing quote is missing")? + 1;
            let inner = &body[1..close];
            if (quote == '"' && inner.contains('\\')) || (quote == '\'' && body[close + 1..].starts_with('\'')) {
                bail!("escape sequences are not supported in a version");
            }
            (start + 1..start + close, &body[close + 1..])
        }
        Some('|' | '>' | '&' | '*' | '!' | '[' | '{' | '%' | '@' | '`') => {
            bail!("only a plain or quoted one-line scalar is supported, found `{}`", body.trim())
        }
        Some(_) => {
            // A plain scalar ends at ` #` (a comment) or the end of the line.
            let end = body.find(" #").or_else(|| body.find("\t#")).unwrap_or(body.len());
            let value = body[..end].trim_end_matches([' ', '\t']);
            (start..start + value.len(), &body[value.len()..])
        }
    };
    let after = after.trim_start_matches([' ', '\t']);
    if !(after.is_empty() || after.starts_with('#')) {
        bail!("unexpected text after the value: `{after}`");
    }
    let value = &rest[range.clone()];
    if value.is_empty() {
        bail!("the value is empty");
    }
    Ok((value.to_string(), range))
}

fn chart_yaml_path(chart_dir: &Path) -> PathBuf {
    chart_dir.join("Chart.yaml")
}

fn read_chart_yaml(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}; is the chart directory right (`--chart DIR`)?", display(path)))
}

/// The command that fixes a mismatch, with the non-default paths spelled out.
fn sync_command(chart_dir: &Path, manifest: &Path) -> String {
    let mut command = "cargo xtask sync-version".to_string();
    if !same_path(chart_dir, &project::operator_chart_dir()) {
        let _ = write!(command, " --chart {}", display(chart_dir));
    }
    if !same_path(manifest, &project::operator_manifest()) {
        let _ = write!(command, " --manifest {}", display(manifest));
    }
    command
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A path as a reader wants it: relative to the workspace root when inside it.
pub fn display(path: &Path) -> String {
    let root = project::project_root();
    if let Ok(relative) = path.strip_prefix(&root) {
        return relative.display().to_string();
    }
    if let (Ok(root), Ok(path)) = (root.canonicalize(), path.canonicalize())
        && let Ok(relative) = path.strip_prefix(&root)
    {
        return relative.display().to_string();
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: &str = "\
apiVersion: v2
name: demo
# kept in sync by `cargo xtask sync-version`
version: 0.1.0
appVersion: \"0.1.0\"
dependencies:
  - name: common
    version: 2.0.0
    repository: https://example.com
";

    #[test]
    fn checked_in_chart_is_in_sync_with_operator_crate() {
        // The tidy check: plain `cargo test` fails when someone bumps the crate and forgets the chart.
        let version = check_chart_in_sync(&project::operator_chart_dir()).unwrap();
        assert_eq!(version, operator_version().unwrap());
    }

    #[test]
    fn rewrite_changes_only_the_two_values_and_keeps_quoting() {
        let rewrite = rewrite_chart_versions(CHART, "1.2.3-rc.1").unwrap();
        assert_eq!(
            rewrite.text,
            CHART
                .replace("version: 0.1.0", "version: 1.2.3-rc.1")
                .replace("appVersion: \"0.1.0\"", "appVersion: \"1.2.3-rc.1\"")
        );
        assert!(rewrite.text.contains("    version: 2.0.0\n"), "nested dependency version untouched");
        assert_eq!(
            rewrite.changes,
            vec![
                Change { key: "version", line: 4, old: "0.1.0".into(), new: "1.2.3-rc.1".into() },
                Change { key: "appVersion", line: 5, old: "0.1.0".into(), new: "1.2.3-rc.1".into() },
            ]
        );
    }

    #[test]
    fn rewrite_keeps_single_quotes_trailing_comments_and_crlf() {
        let text = "apiVersion: v2\r\nname: demo\r\nversion:   '0.1.0'   # chart\r\nappVersion: 0.1.0 # app\r\n";
        let rewrite = rewrite_chart_versions(text, "0.2.0").unwrap();
        assert_eq!(
            rewrite.text,
            "apiVersion: v2\r\nname: demo\r\nversion:   '0.2.0'   # chart\r\nappVersion: 0.2.0 # app\r\n"
        );
    }

    #[test]
    fn rewrite_without_trailing_newline_and_with_tabs() {
        let text = "name: demo\nappVersion:\t\"0.1.0\"\nversion: 0.1.0";
        let rewrite = rewrite_chart_versions(text, "0.3.0").unwrap();
        assert_eq!(rewrite.text, "name: demo\nappVersion:\t\"0.3.0\"\nversion: 0.3.0");
        assert_eq!(rewrite.changes.iter().map(|c| c.line).collect::<Vec<_>>(), [3, 2]);
    }

    #[test]
    fn rewrite_in_sync_is_a_no_op() {
        let rewrite = rewrite_chart_versions(CHART, "0.1.0").unwrap();
        assert_eq!(rewrite.text, CHART);
        assert!(rewrite.changes.is_empty());
    }

    #[test]
    fn only_the_differing_line_changes() {
        let text = CHART.replace("appVersion: \"0.1.0\"", "appVersion: \"0.2.0\"");
        let rewrite = rewrite_chart_versions(&text, "0.2.0").unwrap();
        assert_eq!(rewrite.changes.len(), 1);
        assert_eq!(rewrite.changes[0].key, "version");
        assert_eq!(rewrite.text, CHART.replace("0.1.0", "0.2.0"));
    }

    #[test]
    fn similar_keys_and_comments_are_not_version_lines() {
        let text = "# version: 9.9.9\nversionNote: x\nappVersionOld: y\nversion: 0.1.0\nappVersion: 0.1.0\n";
        let found = ChartVersions::parse(text).unwrap();
        assert_eq!((found.version.line, found.app_version.line), (4, 5));
    }

    #[test]
    fn missing_keys_are_errors_naming_the_key() {
        let err = ChartVersions::parse("apiVersion: v2\nname: demo\nappVersion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("no top-level `version:` line"), "{err:#}");
        let err = ChartVersions::parse("apiVersion: v2\nversion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("no top-level `appVersion:` line"), "{err:#}");
    }

    #[test]
    fn nested_version_alone_does_not_count_as_top_level() {
        let text = "name: demo\nappVersion: 0.1.0\ndependencies:\n  - name: x\n    version: 1.0.0\n";
        let err = ChartVersions::parse(text).unwrap_err();
        assert!(format!("{err:#}").contains("no top-level `version:` line"), "{err:#}");
    }

    #[test]
    fn duplicate_and_unsupported_values_are_errors() {
        let err = ChartVersions::parse("version: 0.1.0\nappVersion: 0.1.0\nversion: 0.2.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("appears twice, on lines 1 and 3"), "{err:#}");
        let err = ChartVersions::parse("version: >-\n  0.1.0\nappVersion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("only a plain or quoted one-line scalar"), "{err:#}");
        let err = ChartVersions::parse("version:\nappVersion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("the value is missing"), "{err:#}");
        let err = ChartVersions::parse("version: \"0.1.0\nappVersion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("closing quote"), "{err:#}");
    }

    #[test]
    fn a_line_the_yaml_parser_reads_differently_is_refused() {
        // `1.10` scans as "1.10" but YAML reads the float 1.1: both readings must agree, so a
        // rewrite can never mean something other than what it says.
        let err = ChartVersions::parse("version: 1.10\nappVersion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("YAML parses it as"), "{err:#}");
    }

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

    fn metadata(name: &str, version: &str, app_version: Option<&str>) -> ChartMetadata {
        ChartMetadata {
            name: name.into(),
            version: version.into(),
            app_version: app_version.map(str::to_string),
            ..ChartMetadata::default()
        }
    }

    #[test]
    fn the_lock_needs_both_version_and_app_version_equal_to_the_crate() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        check_locked_versions(&metadata("x", "1.2.3", Some("1.2.3")), dir.path(), "1.2.3", &manifest).unwrap();
        for (version, app) in [("1.2.4", Some("1.2.3")), ("1.2.3", Some("1.2.4")), ("1.2.3", None)] {
            let err = check_locked_versions(&metadata("x", version, app), dir.path(), "1.2.3", &manifest);
            let err = format!("{:#}", err.unwrap_err());
            assert!(err.contains("has version 1.2.3") && err.contains("cargo xtask sync-version --chart"), "{err}");
        }
    }

    #[test]
    fn the_operator_chart_is_known_by_name_or_by_folder() {
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(is_operator_chart(&metadata(project::OPERATOR_CHART, "9.9.9", None), elsewhere.path()));
        assert!(is_operator_chart(&metadata("renamed", "9.9.9", None), &project::operator_chart_dir()));
        assert!(!is_operator_chart(&metadata("demo", "9.9.9", None), elsewhere.path()));
        // A copy with another version is refused, naming the fix; another chart is not locked.
        let err = check_operator_chart(&metadata(project::OPERATOR_CHART, "9.9.9", Some("9.9.9")), elsewhere.path());
        let err = format!("{:#}", err.unwrap_err());
        assert!(err.contains("version drift") && err.contains("9.9.9") && err.contains("sync-version"), "{err}");
        check_operator_chart(&metadata("demo", "9.9.9", None), elsewhere.path()).unwrap();
        let current = operator_version().unwrap();
        check_operator_chart(&metadata(project::OPERATOR_CHART, &current, Some(&current)), elsewhere.path()).unwrap();
    }

    #[test]
    fn package_all_under_the_lock_refuses_a_copy_of_the_operator_chart_before_building_anything() {
        let root = tempfile::tempdir().unwrap();
        let (demo, copy) = (root.path().join("demo"), root.path().join("copy"));
        for (dir, name, version) in [(&demo, "demo", "1.2.3"), (&copy, project::OPERATOR_CHART, "9.9.9")] {
            std::fs::create_dir_all(dir).unwrap();
            let yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: {version}\n");
            std::fs::write(dir.join("Chart.yaml"), yaml).unwrap();
        }
        let progress = std::cell::RefCell::new(Vec::new());
        let err =
            crate::chart::package_all(&[demo, copy], check_operator_chart, |line| progress.borrow_mut().push(line));
        let err = format!("{:#}", err.unwrap_err());
        assert!(
            err.contains("version drift") && err.contains("9.9.9") && err.contains("cargo xtask sync-version"),
            "{err}"
        );
        assert!(progress.borrow().is_empty(), "a chart was built before the refusal: {:?}", progress.borrow());
    }

    #[test]
    fn stored_operator_packages_must_have_app_version_equal_to_version() {
        assert_eq!(stored_package_problem(&metadata(project::OPERATOR_CHART, "0.1.0", Some("0.1.0"))), None);
        assert_eq!(stored_package_problem(&metadata("demo", "0.1.0", Some("2.0"))), None);
        let problem = stored_package_problem(&metadata(project::OPERATOR_CHART, "0.2.0", Some("0.1.0"))).unwrap();
        assert!(problem.contains("0.2.0") && problem.contains("\"0.1.0\""), "{problem}");
    }

    #[test]
    fn check_and_sync_on_files() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"x\"\nversion = \"0.2.0\"\n").unwrap();
        std::fs::write(dir.path().join("Chart.yaml"), CHART).unwrap();

        let err = check_chart_matches(dir.path(), &manifest).unwrap_err().to_string();
        assert!(err.contains("version 0.1.0 and appVersion 0.1.0"), "{err}");
        assert!(err.contains("has version 0.2.0"), "{err}");
        assert!(err.contains("run `cargo xtask sync-version --chart "), "{err}");

        let dry = sync_chart(dir.path(), &manifest, true).unwrap();
        assert_eq!(dry.changes.len(), 2);
        assert_eq!(std::fs::read_to_string(dir.path().join("Chart.yaml")).unwrap(), CHART, "dry run writes nothing");

        let done = sync_chart(dir.path(), &manifest, false).unwrap();
        assert_eq!(done.changes, dry.changes);
        assert_eq!(check_chart_matches(dir.path(), &manifest).unwrap(), "0.2.0");
        assert!(sync_chart(dir.path(), &manifest, false).unwrap().changes.is_empty());
    }
}
