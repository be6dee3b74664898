//! What every command gets besides its own arguments.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::RepoConfig;
use crate::project;

/// What every command may need: the workspace root, a shell rooted there, and the
/// configuration (loaded on demand, so commands without AWS never read it).
pub struct Ctx {
    pub sh: xshell::Shell,
    pub config_path: PathBuf,
}

impl Ctx {
    pub fn new(config: Option<PathBuf>) -> Result<Ctx> {
        let sh = xshell::Shell::new()?;
        let config_path = match config {
            Some(path) => sh.current_dir().join(path),
            None => project::default_config_path(),
        };
        Ok(Ctx { sh, config_path })
    }

    /// Load and validate `charts/repository.toml` (or `--config FILE`).
    pub fn config(&self) -> Result<RepoConfig> {
        RepoConfig::load(&self.config_path)
    }

    /// The configuration when its file exists ([`RepoConfig::load_if_present`]).
    pub fn optional_config(&self) -> Result<Option<RepoConfig>> {
        RepoConfig::load_if_present(&self.config_path)
    }
}
