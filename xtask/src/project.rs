//! Where things are in the repository.

use std::path::{Path, PathBuf};

/// The workspace root: the parent of the `xtask` crate.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The name of the chart whose version is locked to the operator crate.
pub const OPERATOR_CHART: &str = "kube9-operator";

/// How to publish changed content of chart `name`: a new version. The operator chart's
/// version comes from the operator crate, so its fix is the crate version plus
/// `sync-version`; every other chart bumps its own Chart.yaml.
pub fn version_bump_fix(name: &str) -> &'static str {
    if name == OPERATOR_CHART {
        "bump the operator crate version in operator/Cargo.toml, then `cargo xtask sync-version`"
    } else {
        "bump the chart version in its Chart.yaml"
    }
}

/// The chart whose version is locked to the operator crate.
pub fn operator_chart_dir() -> PathBuf {
    project_root().join("charts").join("kube9-operator")
}

/// The operator crate's manifest: the single source of truth for the chart version.
pub fn operator_manifest() -> PathBuf {
    project_root().join("operator").join("Cargo.toml")
}

/// The default repository configuration file.
pub fn default_config_path() -> PathBuf {
    project_root().join("charts").join("repository.toml")
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { project_root().join(dir) }
        }
        None => project_root().join("target"),
    }
}

/// Helm-made indexes and packages of real public repositories that the tests and
/// benchmarks compare against: `testdata/real-world/` in this repository (its
/// `SOURCES.md` says where each file comes from).
pub fn real_world_fixtures() -> PathBuf {
    project_root().join("testdata").join("real-world")
}
