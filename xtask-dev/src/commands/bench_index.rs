//! `cargo xtask bench-index`: our `repo-index --merge` against Helm 4's
//! `helm repo index --merge` on large, realistic indexes.
//!
//! Method (decided here, printed with the results):
//! - Indexes of 1,000 / 10,000 / 15,000 versions are generated from the real-world fixture
//!   entries (descriptions, annotations, maintainers, dependencies, keywords…), ~100
//!   versions per chart like Bitnami's index, fresh digests, URLs and `created` times.
//! - Both tools merge the same one-package folder into the same index file, each in its
//!   own copy of the folder, as separate processes, several runs each; the median wall
//!   time and the median peak RSS (`wait4` rusage of that child) are reported.
//! - Entries are made Bitnami-sized (~1.7 kB each, so 15k versions is ~25 MB like
//!   Bitnami's index) by adding the annotations Bitnami charts carry
//!   (`artifacthub.io/images`, license, category) to the real-world entries.
//! - Our side runs an optimised build of xtask, like Helm's release binary: before
//!   measuring, the command runs `cargo build -p xtask` with our crate at `opt-level = 3`
//!   and no debug assertions (the dev profile already optimises the dependencies on
//!   its hot path), and copies the binary to `target/bench-index/xtask`. This avoids a full `--release`
//!   build of the AWS SDK while measuring the same optimised code. `--xtask-bin FILE`
//!   measures another binary instead (e.g. `target/release/xtask`).
//! - Every run's output is checked: the merged index must list N+1 versions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{TimeZone as _, Utc};

use xtask::chart;
use xtask::ctx::Ctx;
use xtask::index::{IndexEntry, RepoIndex};

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Benchmark `cargo xtask repo-index DIR --merge FILE` against Helm 4's \
`helm repo index DIR --merge FILE`: indexes of 1,000, 10,000 and 15,000 versions are generated from the \
real-world fixture entries (Bitnami-sized, ~25 MB at 15k), one new package is merged into each by both \
tools, several runs each; prints median wall time and peak RSS (wait4 rusage of each child) side by side \
with the ratios. Our side is an optimised build of xtask made by this command (see --xtask-bin).\n\n\
Example: cargo xtask bench-index --runs 5";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Index sizes to benchmark, in versions
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,15000")]
    pub sizes: Vec<usize>,
    /// Runs per tool and size (the median is reported)
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// The xtask binary to measure [default: an optimised build made by this command]
    #[arg(long, value_name = "FILE")]
    pub xtask_bin: Option<PathBuf>,
    /// The Helm 4 binary [default: the one provisioned by `cargo xtask test`]
    #[arg(long, value_name = "FILE")]
    pub helm: Option<PathBuf>,
    /// Keep the generated indexes and runs in this folder instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Real-world index files to take entries from [default: the shared fixtures]
    #[arg(long, value_name = "FILE")]
    pub fixture: Vec<PathBuf>,
    /// Internal: only write `index-N.yaml` for each size into DIR and exit (the
    /// benchmark generates in a child process so its own memory never inflates the peak
    /// RSS the kernel reports for the measured children)
    #[arg(long, value_name = "DIR", hide = true)]
    pub generate_to: Option<PathBuf>,
}

/// One measured process run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub peak_rss: u64,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        let fixtures = if self.fixture.is_empty() { default_fixtures() } else { self.fixture.clone() };
        if let Some(dir) = &self.generate_to {
            let templates = load_templates(&fixtures)?;
            for &size in &self.sizes {
                let path = dir.join(format!("index-{size}.yaml"));
                let bytes = generate_index(&templates, size).to_yaml()?;
                std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            }
            return Ok(());
        }
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        let helm = match self.helm {
            Some(helm) => helm,
            None => crate::harness::Tools::locate().context("locating Helm 4 for the benchmark")?.helm4,
        };
        let temp = tempfile::tempdir().context("creating a scratch folder")?;
        let work = work_dir(self.work_dir.as_deref(), &temp)?;
        let package = write_new_package(&work)?;
        // Generate the indexes in a child process: the kernel carries a parent's peak RSS
        // into the peak its children report (through fork/vfork and exec), so the measuring
        // process must stay small.
        let mut generate = std::process::Command::new(std::env::current_exe()?);
        generate.arg("bench-index").arg("--generate-to").arg(&work);
        generate.arg("--sizes").arg(self.sizes.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        for fixture in &fixtures {
            generate.arg("--fixture").arg(fixture);
        }
        let status = generate.status().context("generating the benchmark indexes")?;
        if !status.success() {
            bail!("generating the benchmark indexes failed ({status})");
        }
        let ours = match self.xtask_bin {
            Some(bin) => bin,
            None => build_optimised()?,
        };

        let helm_version = run_capture(&helm, &["version", "--short"]).unwrap_or_else(|_| "unknown".into());
        println!("bench-index: merge one new package into an index of N versions ({} runs each, median)", self.runs);
        println!("  ours: {} repo-index DIR --merge FILE --url URL", ours.display());
        println!("  helm: {} ({}) repo index DIR --merge FILE --url URL", helm.display(), helm_version.trim());
        println!();
        println!(
            "{:>8} {:>9} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7}",
            "versions", "index", "ours", "helm", "time", "ours", "helm", "memory"
        );
        println!(
            "{:>8} {:>9} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7}",
            "", "MB", "wall ms", "wall ms", "ratio", "peak MB", "peak MB", "ratio"
        );
        let mut last = None;
        for &size in &self.sizes {
            let index_path = work.as_path().join(format!("index-{size}.yaml"));
            let index_bytes =
                std::fs::metadata(&index_path).with_context(|| format!("reading {}", index_path.display()))?.len();
            let ours_samples = measure(self.runs, work.as_path(), &package, size, |dir| {
                let mut cmd = std::process::Command::new(&ours);
                cmd.arg("repo-index").arg(dir).arg("--merge").arg(&index_path).arg("--url").arg(BENCH_URL);
                cmd.env("RUST_LOG", "error");
                cmd
            })
            .context("measuring our repo-index")?;
            let helm_samples = measure(self.runs, work.as_path(), &package, size, |dir| {
                let mut cmd = std::process::Command::new(&helm);
                cmd.args(["repo", "index"]).arg(dir).arg("--merge").arg(&index_path).arg("--url").arg(BENCH_URL);
                cmd
            })
            .context("measuring helm repo index")?;
            let (ours_ms, helm_ms) = (median_ms(&ours_samples), median_ms(&helm_samples));
            let (ours_mb, helm_mb) = (median_mb(&ours_samples), median_mb(&helm_samples));
            println!(
                "{:>8} {:>9.1} | {:>9.0} {:>9.0} {:>7.3} | {:>9.1} {:>9.1} {:>7.3}",
                size,
                index_bytes as f64 / 1e6,
                ours_ms,
                helm_ms,
                ours_ms / helm_ms,
                ours_mb,
                helm_mb,
                ours_mb / helm_mb
            );
            last = Some((size, ours_ms / helm_ms, ours_mb / helm_mb));
        }
        println!();
        println!(
            "measurement floor: the measuring process peaked at {:.1} MB RSS (children spawned from it report at least that)",
            self_peak_rss() as f64 / 1e6
        );
        if let Some((size, time_ratio, mem_ratio)) = last {
            println!(
                "targets at {size} versions: time ratio {time_ratio:.3} (target <= 0.100: {}), memory ratio {mem_ratio:.3} (target <= 0.500: {})",
                if time_ratio <= 0.1 { "met" } else { "MISSED" },
                if mem_ratio <= 0.5 { "met" } else { "MISSED" },
            );
        }
        Ok(())
    }
}

/// The benchmark's scratch folder: `--work-dir DIR` (created, and kept afterwards), else
/// the temporary folder `temp` (removed when it drops).
pub(super) fn work_dir(keep: Option<&Path>, temp: &tempfile::TempDir) -> Result<PathBuf> {
    match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(dir.to_path_buf())
        }
        None => Ok(temp.path().to_path_buf()),
    }
}

/// Build xtask with our crate optimised (the dependencies on its hot path already are, in
/// the dev profile) and copy it to `target/bench-index/xtask`.
fn build_optimised() -> Result<PathBuf> {
    println!("building an optimised xtask for the measurement (cargo build -p xtask, opt-level 3)...");
    let status = crate::harness::cargo()
        .current_dir(xtask::project::project_root())
        .args(["build", "--quiet", "-p", "xtask", "--bin", "xtask"])
        .args(["--config", "profile.dev.package.xtask.opt-level=3"])
        .args(["--config", "profile.dev.package.xtask.debug-assertions=false"])
        .args(["--config", "profile.dev.package.xtask.overflow-checks=false"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the optimised xtask failed ({status}); pass `--xtask-bin FILE` to measure a prebuilt binary");
    }
    let target = xtask::project::target_dir();
    let dest_dir = target.join("bench-index");
    std::fs::create_dir_all(&dest_dir).with_context(|| format!("creating {}", dest_dir.display()))?;
    let dest = dest_dir.join("xtask");
    std::fs::copy(target.join("debug").join("xtask"), &dest).context("copying the optimised xtask binary")?;
    Ok(dest)
}

const BENCH_URL: &str = "https://charts.example.com/stable";

fn default_fixtures() -> Vec<PathBuf> {
    let shared = xtask::project::real_world_fixtures();
    ["mozilla-it-index.yaml", "prometheus-community-fork-index.yaml"].iter().map(|f| shared.join(f)).collect()
}

/// Every entry of the real-world indexes, as templates for generated versions.
fn load_templates(fixtures: &[PathBuf]) -> Result<Vec<IndexEntry>> {
    let mut templates = Vec::new();
    for path in fixtures {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading fixture {}: pass `--fixture FILE` with a real index", path.display()))?;
        let index = RepoIndex::parse(&bytes).with_context(|| format!("parsing fixture {}", path.display()))?;
        templates.extend(index.entries.into_values().flatten());
    }
    if templates.is_empty() {
        bail!("the fixture indexes have no entries to generate from");
    }
    Ok(templates)
}

/// An index of `size` versions: ~100 versions per chart, each version a real-world entry
/// with its own name, version, URL, digest and `created`.
pub fn generate_index(templates: &[IndexEntry], size: usize) -> RepoIndex {
    const PER_CHART: usize = 100;
    let mut rng = fastrand::Rng::with_seed(size as u64);
    let mut index = RepoIndex::new();
    let base = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    for i in 0..size {
        let chart_no = i / PER_CHART;
        let template = &templates[(chart_no * 7 + i) % templates.len()];
        let name = format!("{}-{chart_no}", template.metadata.name);
        let n = i % PER_CHART;
        let version = if n % 10 == 9 {
            format!("{}.{}.0-rc.{}", n / 20, n % 20, n % 3)
        } else {
            format!("{}.{}.{}", n / 20, n % 20, n % 7)
        };
        let mut entry = template.clone();
        bitnami_annotations(&mut entry, &name, n);
        entry.metadata.name = name.clone();
        entry.metadata.version = version.clone();
        entry.urls = vec![format!("{BENCH_URL}/{name}-{version}.tgz")];
        entry.digest = (0..64).map(|_| char::from(b"0123456789abcdef"[rng.usize(..16)])).collect();
        entry.created = Some(
            base + chrono::Duration::seconds(i as i64 * 3600)
                + chrono::Duration::nanoseconds(rng.i64(0..1_000_000_000)),
        );
        // Distinct (name, version) pairs only: a duplicate would be a merge conflict.
        if index.get(&name, &version).is_none() {
            index.entries.entry(name).or_default().push(entry);
        }
    }
    // Top up to exactly `size` with patch releases of the last chart.
    let mut extra = 0;
    while index.version_count() < size {
        let mut entry = templates[0].clone();
        entry.metadata.name = "bench-extra".into();
        entry.metadata.version = format!("9.9.{extra}");
        entry.urls = vec![format!("{BENCH_URL}/bench-extra-9.9.{extra}.tgz")];
        entry.digest = format!("{extra:064x}");
        index.entries.entry("bench-extra".into()).or_default().push(entry);
        extra += 1;
    }
    index.sort_entries();
    index
}

/// The annotations Bitnami's charts carry on every version (images list, license,
/// category), which make their index entries ~1.7 kB.
fn bitnami_annotations(entry: &mut IndexEntry, name: &str, n: usize) {
    let app = entry.metadata.app_version.clone().unwrap_or_else(|| "1.0.0".into());
    let a = &mut entry.metadata.annotations;
    a.insert("category".into(), "Infrastructure".into());
    a.insert("licenses".into(), "Apache-2.0".into());
    a.insert(
        "images".into(),
        format!(
            "- name: {name}\n  image: docker.io/bitnami/{name}:{app}-debian-12-r{n}\n\
             - name: {name}-exporter\n  image: docker.io/bitnami/{name}-exporter:0.{n}.1-debian-12-r{n}\n\
             - name: os-shell\n  image: docker.io/bitnami/os-shell:12-debian-12-r{n}\n"
        ),
    );
    if entry.metadata.keywords.len() < 4 {
        entry.metadata.keywords.extend(["kubernetes", "bitnami", "database", "cache"].map(String::from));
    }
    if entry.metadata.dependencies.is_empty() {
        entry.metadata.dependencies.push(xtask::chart::Dependency {
            name: "common".into(),
            repository: "oci://registry-1.docker.io/bitnamicharts".into(),
            tags: vec!["bitnami-common".into()],
            version: Some("2.x.x".into()),
            ..Default::default()
        });
    }
    if entry.metadata.maintainers.is_empty() {
        entry.metadata.maintainers.push(xtask::chart::Maintainer {
            name: Some("Broadcom, Inc. All Rights Reserved.".into()),
            url: Some("https://github.com/bitnami/charts".into()),
            email: None,
        });
    }
    if entry.metadata.sources.is_empty() {
        entry.metadata.sources.push(format!("https://github.com/bitnami/charts/tree/main/bitnami/{name}"));
    }
}

/// A small new chart package (`bench-new-1.0.0.tgz`) that no generated index contains.
fn write_new_package(work: &Path) -> Result<PathBuf> {
    let chart_dir = work.join("chart");
    std::fs::create_dir_all(chart_dir.join("templates"))?;
    std::fs::write(
        chart_dir.join("Chart.yaml"),
        "apiVersion: v2\nname: bench-new\nversion: 1.0.0\nappVersion: \"1.0.0\"\ndescription: The package merged by the benchmark\n",
    )?;
    std::fs::write(chart_dir.join("values.yaml"), "replicas: 1\n")?;
    std::fs::write(chart_dir.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")?;
    let package = chart::package_chart(&chart_dir)?;
    let path = work.join("package.tgz");
    std::fs::write(&path, &package.bytes)?;
    Ok(path)
}

/// Run `command(dir)` `runs` times, each in a fresh folder holding only the new package,
/// checking the merged index each time.
fn measure(
    runs: usize,
    work: &Path,
    package: &Path,
    size: usize,
    command: impl Fn(&Path) -> std::process::Command,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let dir = work.join(format!("run-{size}-{run}-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(package, dir.join("bench-new-1.0.0.tgz"))?;
        let mut cmd = command(&dir);
        let sample = run_measured(&mut cmd)?;
        let (versions, has_new) = count_versions(&dir.join("index.yaml"))?;
        if versions != size + 1 || !has_new {
            bail!("the merged index lists {versions} versions (new package present: {has_new}), expected {}", size + 1);
        }
        std::fs::remove_dir_all(&dir)?;
        samples.push(sample);
    }
    Ok(samples)
}

/// Spawn `cmd`, wait for it with `wait4` and return its wall time and peak RSS.
pub fn run_measured(cmd: &mut std::process::Command) -> Result<Sample> {
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let stderr = child.stderr.take();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped; the pointers are valid for the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if reaped != pid {
        bail!("waiting for {:?}: {}", cmd.get_program(), std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut message = String::new();
        if let Some(mut stderr) = stderr {
            use std::io::Read as _;
            let _ = stderr.read_to_string(&mut message);
        }
        bail!("{:?} failed (status {status}): {}", cmd.get_program(), message.trim());
    }
    // Linux reports ru_maxrss in KiB.
    Ok(Sample { wall, peak_rss: usage.ru_maxrss as u64 * 1024 })
}

/// Versions listed in an index file written by Helm or by us (one `  - ` item per version
/// under `entries`), and whether it names the benchmark's new package. Streams the file so
/// the measuring process stays small.
fn count_versions(path: &Path) -> Result<(usize, bool)> {
    use std::io::BufRead as _;
    let file = std::fs::File::open(path).with_context(|| format!("the tool wrote no {}", path.display()))?;
    let (mut versions, mut has_new, mut in_entries) = (0, false, false);
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if !line.starts_with(' ') {
            in_entries = line.starts_with("entries:");
        } else if in_entries && line.starts_with("  - ") {
            versions += 1;
        }
        has_new |= line.contains("/bench-new-1.0.0.tgz");
    }
    Ok((versions, has_new))
}

/// This process's own peak RSS in bytes (`VmHWM` of its address space; `getrusage` would
/// also count what `cargo run` used before it exec'd us).
fn self_peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn run_capture(bin: &Path, args: &[&str]) -> Result<String> {
    let output = std::process::Command::new(bin).args(args).output()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

fn median_ms(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect())
}

fn median_mb(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.peak_rss as f64 / 1e6).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_indexes_have_exactly_the_requested_versions() {
        let templates = load_templates(&default_fixtures()).unwrap();
        for size in [1, 150, 1_000] {
            let index = generate_index(&templates, size);
            assert_eq!(index.version_count(), size);
            let reparsed = RepoIndex::parse(&index.to_yaml().unwrap()).unwrap();
            assert_eq!(reparsed.version_count(), size);
        }
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
