//! Headless Chromium for the landing page's browser test, from the machine's Debian
//! packages (`apt-get install chromium`): no browser build is downloaded from anywhere
//! else. Provisioning installs it where it is missing (as root, through apt) and writes
//! `chromium/stamp` (path and version) into the tools folder; locating finds it through
//! `KUBE9_CHROMIUM`, the stamp, or `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::provision::{Stamp, tools_dir};

/// Environment variable through which `cargo xtask test` hands the browser to tests.
pub const ENV_CHROMIUM: &str = "KUBE9_CHROMIUM";
/// The Debian package.
pub const CHROMIUM_PACKAGE: &str = "chromium";

/// Find Chromium, installing the Debian package when it is missing.
pub fn provision_chromium() -> Result<PathBuf> {
    let bin = match on_path() {
        Some(bin) => bin,
        None => {
            install_with_apt()?;
            on_path().context("apt-get installed chromium, but no `chromium` is on PATH")?
        }
    };
    let version = chromium_version(&bin)?;
    let dir = tools_dir().join("chromium");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = Stamp::new([("path", bin.to_string_lossy().as_ref()), ("version", version.as_str())]);
    std::fs::write(dir.join("stamp"), stamp.render()).context("writing the chromium stamp")?;
    Ok(bin)
}

/// Chromium as provisioned: `KUBE9_CHROMIUM`, else the stamp's path, else `PATH`.
pub fn locate_chromium() -> Result<PathBuf> {
    if let Some(value) = std::env::var_os(ENV_CHROMIUM).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        if !path.is_file() {
            bail!("{ENV_CHROMIUM} points at {}, which is not a file: run `cargo xtask test`", path.display());
        }
        return Ok(path);
    }
    let stamp = std::fs::read_to_string(tools_dir().join("chromium").join("stamp")).ok().map(|t| Stamp::parse(&t));
    if let Some(path) = stamp.as_ref().and_then(|s| s.get("path")).map(PathBuf::from).filter(|p| p.is_file()) {
        return Ok(path);
    }
    on_path().context(
        "headless Chromium is not installed: run `cargo xtask test` (it runs `apt-get install chromium` as root), \
         or install the `chromium` package yourself",
    )
}

fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|bin| bin.is_file())
}

fn install_with_apt() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "headless Chromium is missing and this user cannot install it: run `sudo apt-get install -y \
             {CHROMIUM_PACKAGE}`, then `cargo xtask test` again"
        );
    }
    if !Path::new("/usr/bin/apt-get").is_file() {
        bail!("headless Chromium is missing and there is no apt-get: install the `{CHROMIUM_PACKAGE}` package");
    }
    tracing::info!("installing {CHROMIUM_PACKAGE} with apt-get (for the landing page's browser test)...");
    for args in [&["update", "-q"][..], &["install", "-y", "-q", "--no-install-recommends", CHROMIUM_PACKAGE][..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("`apt-get {}` failed ({status}) while installing {CHROMIUM_PACKAGE}", args.join(" "));
        }
    }
    Ok(())
}

fn chromium_version(bin: &Path) -> Result<String> {
    let output = Command::new(bin).arg("--version").output().with_context(|| format!("running {}", bin.display()))?;
    if !output.status.success() {
        bail!("`{} --version` failed ({})", bin.display(), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
