//! The Chart.yaml line editor: finds, checks and rewrites the top-level `version` and
//! `appVersion` lines without re-serialising the file (hand-written and commented), so
//! comments, quoting, key order and line endings stay byte-for-byte. Every scan is
//! cross-checked with a real YAML parse: a layout the scanner does not understand is an
//! error, never a silently wrong edit.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::display;
use super::manifest::crate_version;

/// The two Chart.yaml keys that follow the crate version, in file order of checking.
pub const VERSION_KEYS: [&str; 2] = ["version", "appVersion"];

/// What [`sync_chart`] did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub chart_yaml: PathBuf,
    pub version: String,
    /// Empty when Chart.yaml was already in sync.
    pub changes: Vec<LineChange>,
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
pub struct LineChange {
    pub key: &'static str,
    /// 1-based line number.
    pub line: usize,
    pub old: String,
    pub new: String,
}

impl fmt::Display for LineChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} {} -> {}", self.line, self.key, self.old, self.new)
    }
}

/// Chart.yaml text after a rewrite, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub text: String,
    pub changes: Vec<LineChange>,
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
        .map(|line| LineChange {
            key: line.key,
            line: line.line,
            old: line.value.clone(),
            new: new_version.to_string(),
        })
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

pub(super) fn chart_yaml_path(chart_dir: &Path) -> PathBuf {
    chart_dir.join("Chart.yaml")
}

pub(super) fn read_chart_yaml(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}; is the chart directory right (`--chart DIR`)?", display(path)))
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
                LineChange { key: "version", line: 4, old: "0.1.0".into(), new: "1.2.3-rc.1".into() },
                LineChange { key: "appVersion", line: 5, old: "0.1.0".into(), new: "1.2.3-rc.1".into() },
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

    /// Each text is refused with an error that contains the paired message.
    fn refused(cases: &[(&str, &str)]) {
        for (text, message) in cases {
            let err = ChartVersions::parse(text).unwrap_err();
            assert!(format!("{err:#}").contains(message), "{text:?}: {err:#}");
        }
    }

    #[test]
    fn missing_keys_are_errors_naming_the_key() {
        refused(&[
            ("apiVersion: v2\nname: demo\nappVersion: 0.1.0\n", "no top-level `version:` line"),
            ("apiVersion: v2\nversion: 0.1.0\n", "no top-level `appVersion:` line"),
        ]);
    }

    #[test]
    fn nested_version_alone_does_not_count_as_top_level() {
        let text = "name: demo\nappVersion: 0.1.0\ndependencies:\n  - name: x\n    version: 1.0.0\n";
        refused(&[(text, "no top-level `version:` line")]);
    }

    #[test]
    fn duplicate_and_unsupported_values_are_errors() {
        refused(&[
            ("version: 0.1.0\nappVersion: 0.1.0\nversion: 0.2.0\n", "appears twice, on lines 1 and 3"),
            ("version: >-\n  0.1.0\nappVersion: 0.1.0\n", "only a plain or quoted one-line scalar"),
            ("version:\nappVersion: 0.1.0\n", "the value is missing"),
            ("version: \"0.1.0\nappVersion: 0.1.0\n", "closing quote"),
        ]);
    }

    #[test]
    fn a_line_the_yaml_parser_reads_differently_is_refused() {
        // `1.10` scans as "1.10" but YAML reads the float 1.1: both readings must agree, so a
        // rewrite can never mean something other than what it says.
        let err = ChartVersions::parse("version: 1.10\nappVersion: 0.1.0\n").unwrap_err();
        assert!(format!("{err:#}").contains("YAML parses it as"), "{err:#}");
    }
}
