//! `cargo xtask bench-build`: the cold build of the shipped binary, the build every
//! release, plan and apply job pays (they restore no cache) and every newcomer pays first.
//!
//! Method: `cargo fetch --locked` (so the registry is not measured), then `cargo build
//! --locked -p xtask` into an empty target folder of its own, timed with `wait4`: wall
//! time, CPU time of the whole build tree, the largest single process (one rustc), and the
//! size of the target folder. Printed beside the budget the release path is held to.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::bench::measure::run_measured;
use xtask::ctx::Ctx;

/// The cold build must stay at or below this wall time on a 2-core machine: it is on the
/// path from a release tag to a live chart.
pub const BUDGET: Duration = Duration::from_secs(240);

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Time the cold build of the shipped binary, `cargo build --locked -p xtask` \
into an empty target folder (crates fetched first, so the download is not measured), as every release, plan and \
apply job builds it: they restore no cache. Prints wall time, CPU time, the largest process's peak RSS and the \
target folder's size beside the 240 s budget, and fails when the build is over it. Run it on an idle machine: \
other work on the same cores lengthens the wall time. The figures are in BENCHMARKS.md.";

/// `--help` examples.
pub const EXAMPLES: &str = "Example:\
\n  $ cargo xtask bench-build";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Build into this folder (emptied first, kept afterwards) instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        tokio::task::spawn_blocking(move || self.measure()).await.context("the build benchmark panicked")?
    }

    fn measure(self) -> Result<()> {
        let root = xtask::project::project_root();
        let temp = tempfile::Builder::new().prefix("kube9-cold-build-").tempdir().context("creating a temp folder")?;
        let target = match &self.target_dir {
            Some(dir) => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
                }
                dir.clone()
            }
            None => temp.path().join("target"),
        };
        tracing::info!("fetching the locked crates (not measured)");
        let fetched = crate::harness::cargo().args(["fetch", "--locked"]).current_dir(&root).status();
        if !fetched.context("running `cargo fetch --locked`")?.success() {
            bail!("`cargo fetch --locked` failed: the registry must be reachable once");
        }
        tracing::info!("building xtask into the empty {} (a few minutes)", target.display());
        let mut build = crate::harness::cargo();
        build.args(["build", "--locked", "--quiet", "-p", "xtask"]).current_dir(&root).env("CARGO_TARGET_DIR", &target);
        let sample = run_measured(&mut build).context("the cold build")?;
        let size = folder_size(&target);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let verdict = if sample.wall <= BUDGET { "within" } else { "OVER" };
        xtask::outln!("cold build of xtask (`cargo build --locked -p xtask`, empty target folder, {cores} cores)");
        xtask::outln!("{:<28} {:>10} {:>10}", "", "measured", "budget");
        xtask::outln!("{:<28} {:>9.0}s {:>9}s   {verdict}", "wall time", sample.wall.as_secs_f64(), BUDGET.as_secs());
        xtask::outln!("{:<28} {:>9.0}s", "CPU time (user + system)", sample.cpu.as_secs_f64());
        xtask::outln!("{:<28} {:>8.2}GB", "largest process (peak RSS)", sample.peak_rss as f64 / 1e9);
        xtask::outln!("{:<28} {:>8.2}GB", "target folder", size as f64 / 1e9);
        if sample.wall > BUDGET {
            bail!(
                "the cold build took {:.0} s, over the {} s budget of the release path (BENCHMARKS.md \"Cold build\")",
                sample.wall.as_secs_f64(),
                BUDGET.as_secs()
            );
        }
        Ok(())
    }
}

/// Bytes of every file under `dir`.
fn folder_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}
