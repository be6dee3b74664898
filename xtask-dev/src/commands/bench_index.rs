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

use anyhow::{Context, Result, bail};
use xtask::ctx::Ctx;

use crate::bench::generate::{BENCH_URL, default_fixtures, generate_index, load_templates, write_new_package};
use crate::bench::measure::{Sample, median_mb, median_ms, run_measured, self_peak_rss, work_dir};

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Benchmark `cargo xtask repo-index DIR --merge FILE` against Helm 4's \
`helm repo index DIR --merge FILE`: indexes of 1,000, 10,000 and 15,000 versions are generated from the \
real-world fixture entries (Bitnami-sized, ~25 MB at 15k), one new package is merged into each by both \
tools, several runs each; prints median wall time and peak RSS (wait4 rusage of each child) side by side \
with the ratios. Our side is an optimised build of xtask made by this command (see --xtask-bin). The figures \
are in BENCHMARKS.md.";

/// `--help` examples.
pub const EXAMPLES: &str = "Example:\
\n  $ cargo xtask bench-index --runs 5";

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
    /// Real-world index files to take entries from [default: testdata/real-world/*.yaml]
    #[arg(long, value_name = "FILE")]
    pub fixture: Vec<PathBuf>,
    /// Internal: only write `index-N.yaml` for each size into DIR and exit (the
    /// benchmark generates in a child process so its own memory never inflates the peak
    /// RSS the kernel reports for the measured children)
    #[arg(long, value_name = "DIR", hide = true)]
    pub generate_to: Option<PathBuf>,
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
        xtask::outln!(
            "bench-index: merge one new package into an index of N versions ({} runs each, median)",
            self.runs
        );
        xtask::outln!("  ours: {} repo-index DIR --merge FILE --url URL", ours.display());
        xtask::outln!("  helm: {} ({}) repo index DIR --merge FILE --url URL", helm.display(), helm_version.trim());
        xtask::outln!();
        xtask::outln!(
            "{:>8} {:>9} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7}",
            "versions",
            "index",
            "ours",
            "helm",
            "time",
            "ours",
            "helm",
            "memory"
        );
        xtask::outln!(
            "{:>8} {:>9} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7}",
            "",
            "MB",
            "wall ms",
            "wall ms",
            "ratio",
            "peak MB",
            "peak MB",
            "ratio"
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
            xtask::outln!(
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
        xtask::outln!();
        xtask::outln!(
            "measurement floor: the measuring process peaked at {:.1} MB RSS (children spawned from it report at least that)",
            self_peak_rss() as f64 / 1e6
        );
        if let Some((size, time_ratio, mem_ratio)) = last {
            xtask::outln!(
                "targets at {size} versions: time ratio {time_ratio:.3} (target <= 0.100: {}), memory ratio {mem_ratio:.3} (target <= 0.500: {})",
                if time_ratio <= 0.1 { "met" } else { "MISSED" },
                if mem_ratio <= 0.5 { "met" } else { "MISSED" },
            );
        }
        Ok(())
    }
}

/// Build xtask with our crate optimised (the dependencies on its hot path already are, in
/// the dev profile) and copy it to `target/bench-index/xtask`.
fn build_optimised() -> Result<PathBuf> {
    xtask::outln!("building an optimised xtask for the measurement (cargo build -p xtask, opt-level 3)...");
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

fn run_capture(bin: &Path, args: &[&str]) -> Result<String> {
    let output = std::process::Command::new(bin).args(args).output()?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
