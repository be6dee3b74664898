//! The version lock: the operator chart's `version` and `appVersion` both equal the operator
//! crate's version. One rule on parsed chart metadata ([`check_locked_versions`]), applied by
//! `check-version` ([`check_chart_matches`]), by `package-chart` and `release-chart`
//! ([`check_operator_chart`], handed to `chart::package_all`) and, as far as it can hold
//! for a package already stored, by `reindex` ([`stored_package_problem`]).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::chart_yaml::{chart_yaml_path, read_chart_yaml};
use super::display;
use super::manifest::crate_version;
use crate::chart::ChartMetadata;
use crate::project;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versioning::chart_yaml::sync_chart;
    use crate::versioning::manifest::operator_version;

    const CHART: &str = "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"0.1.0\"\n";

    #[test]
    fn checked_in_chart_is_in_sync_with_operator_crate() {
        // The tidy check: plain `cargo test` fails when someone bumps the crate and forgets the chart.
        let version = check_chart_in_sync(&project::operator_chart_dir()).unwrap();
        assert_eq!(version, operator_version().unwrap());
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
