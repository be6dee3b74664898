//! A real Helm binary with its own, empty HELM_* homes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::npm::locate_helm;

/// One Helm binary with isolated HELM_CACHE_HOME / HELM_CONFIG_HOME / HELM_DATA_HOME
/// (a fresh temp folder per instance, removed on drop) and a KUBECONFIG that points at
/// no cluster. Inherited `HELM_*` variables are removed, so nothing from the developer's
/// own Helm setup (repositories, plugins, registry logins, kube context) leaks in.
#[derive(Debug)]
pub struct Helm {
    pub major: u8,
    pub bin: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    /// Helm 3.17 as provisioned by `cargo xtask test`.
    pub fn v3() -> Result<Helm> {
        Helm::with_bin(3, locate_helm(3)?)
    }

    /// Helm 4 as provisioned by `cargo xtask test`.
    pub fn v4() -> Result<Helm> {
        Helm::with_bin(4, locate_helm(4)?)
    }

    /// Helm 3 and Helm 4.
    pub fn both() -> Result<Vec<Helm>> {
        Ok(vec![Helm::v3()?, Helm::v4()?])
    }

    /// A given Helm binary with fresh homes.
    pub fn with_bin(major: u8, bin: PathBuf) -> Result<Helm> {
        let home = tempfile::Builder::new()
            .prefix(&format!("kube9-helm{major}-"))
            .tempdir()
            .context("cannot create a temp folder for the Helm homes")?;
        Ok(Helm { major, bin, home })
    }

    /// The folder holding this instance's `cache/`, `config/` and `data/` homes.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `helm` with the isolated environment, for tests that need the exit status or
    /// want to set a working folder or stdin.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HELM_") {
                command.env_remove(key);
            }
        }
        let home = self.home.path();
        command
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            // A path that does not exist: any command that would reach a cluster fails fast.
            .env("KUBECONFIG", home.join("no-cluster-kubeconfig"));
        command
    }

    /// Run `helm ARGS`; stdout on success, an error with the command line, the exit
    /// status and stderr otherwise.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let output =
            self.command().args(args).output().with_context(|| {
                format!("cannot run {}: run `cargo xtask test` to provision it", self.bin.display())
            })?;
        if !output.status.success() {
            bail!(
                "`{}` (Helm {}) failed with {}:\n{}{}",
                Self::command_line(args),
                self.major,
                output.status,
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout),
            );
        }
        String::from_utf8(output.stdout)
            .with_context(|| format!("`{}` printed invalid UTF-8", Self::command_line(args)))
    }

    /// `helm version`'s version, e.g. `v3.17.2`.
    pub fn version(&self) -> Result<String> {
        Ok(self.run(&["version", "--template", "{{.Version}}"])?.trim().to_string())
    }

    fn command_line<S: AsRef<OsStr>>(args: &[S]) -> String {
        let mut line = String::from("helm");
        for arg in args {
            line.push(' ');
            line.push_str(&arg.as_ref().to_string_lossy());
        }
        line
    }
}
