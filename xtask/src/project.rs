//! Where things are in the repository.

use std::path::{Path, PathBuf};

/// The workspace root: the parent of the `xtask` crate.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
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

/// Helm-made indexes and packages the tests compare against (`xtask/tests/fixtures/real-world`).
pub fn real_world_fixtures() -> PathBuf {
    project_root().join("xtask").join("tests").join("fixtures").join("real-world")
}
