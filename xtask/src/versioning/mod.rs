//! The operator crate's version is the single source of truth for the chart's `version`
//! and `appVersion`. Three parts, each importing only the ones before it:
//!
//! - [`manifest`]: the operator crate's version, read from its Cargo manifest (following
//!   `version.workspace = true`).
//! - [`chart_yaml`]: the Chart.yaml line editor. Chart.yaml is hand-written and commented,
//!   so it is never re-serialised: the two top-level lines are found by a line scan and only
//!   their values are replaced, which keeps comments, quoting, key order and line endings
//!   byte-for-byte. Every scan is cross-checked with a real YAML parse, so a layout the
//!   scanner does not understand is an error, never a silently wrong edit (`sync-version`).
//! - [`lock`]: the version lock, one rule on parsed chart metadata
//!   ([`lock::check_locked_versions`]), used by `check-version`, by `package-chart` /
//!   `release-chart` ([`lock::check_operator_chart`], which they hand to
//!   `chart::package_all`, before anything is built) and, as far as it can hold for old
//!   releases, by `reindex` ([`lock::stored_package_problem`]).

pub mod chart_yaml;
pub mod lock;
pub mod manifest;

use std::path::Path;

use crate::project;

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
