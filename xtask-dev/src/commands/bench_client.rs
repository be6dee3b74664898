//! `cargo xtask bench-client`: what a user of a large repository waits for, `helm repo add`
//! and `helm search repo`, against the index as Helm writes it and as our compact JSON.
//!
//! Method (printed with the results):
//! - Indexes of 1,000 / 10,000 / 15,000 versions come from `bench-index`'s generator
//!   (real-world entries, Bitnami-sized), written by a child process.
//! - **YAML side**: Helm 4 itself rewrites each index (`helm repo index EMPTY --merge
//!   FILE`), so the YAML is exactly what `helm repo index` publishes. **JSON side**: our
//!   `repo-index EMPTY --merge HELM-YAML --format json` converts that very file, so both
//!   sides list the same entries.
//! - Each side is served as `index.yaml` by `cargo xtask serve` (a child process, so the
//!   served bytes never count towards the measured peaks), on loopback.
//! - Helm 3 and Helm 4 each run `helm repo add` (fresh, isolated HELM_* homes every run)
//!   and then `helm search repo` against that repository, 3 runs per side; the best wall
//!   time and the best peak RSS (`wait4` rusage, [`run_measured`]) are
//!   reported side by side with the speed-up.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::bench::measure::{Sample, run_measured, work_dir};
use crate::harness::{Helm, Tools};
use xtask::ctx::Ctx;

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Benchmark what users of a large repository wait for: `helm repo add` and \
`helm search repo` with Helm 3 and Helm 4, against the index as `helm repo index` writes it (YAML) and the same \
index as our compact JSON (`[index] format = \"json\"`), at 1,000, 10,000 and 15,000 versions, each served by \
`cargo xtask serve`. Best of --runs per side; prints wall time and peak RSS (wait4 rusage) side by side. The figures are in BENCHMARKS.md.";

/// `--help` examples.
pub const EXAMPLES: &str = "Example:\
\n  $ cargo xtask bench-client --runs 3";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Index sizes to benchmark, in versions
    #[arg(long, value_delimiter = ',', default_values_t = [1_000usize, 10_000, 15_000])]
    pub sizes: Vec<usize>,
    /// Runs per Helm, side and size (the best is reported)
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Keep the generated indexes in this folder instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// The best (smallest) wall time and peak RSS of some runs.
#[derive(Debug, Clone, Copy)]
struct Best {
    ms: f64,
    mb: f64,
}

impl Best {
    fn of(samples: &[Sample]) -> Best {
        let ms = samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).fold(f64::INFINITY, f64::min);
        let mb = samples.iter().map(|s| s.peak_rss as f64 / 1e6).fold(f64::INFINITY, f64::min);
        Best { ms, mb }
    }
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        let tools = Tools::locate().context("locating Helm 3 and Helm 4 for the benchmark")?;
        let temp = tempfile::tempdir().context("creating a scratch folder")?;
        let work = work_dir(self.work_dir.as_deref(), &temp)?;
        let me = std::env::current_exe().context("locating the xtask binary")?;
        let sizes = self.sizes.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        child_ok(Command::new(&me).args(["bench-index", "--sizes", &sizes, "--generate-to"]).arg(&work))
            .context("generating the benchmark indexes")?;

        let helms = [Helm::with_bin(3, tools.helm3.clone())?, Helm::with_bin(4, tools.helm4.clone())?];
        let versions: Vec<String> = helms.iter().map(|h| h.version().unwrap_or_else(|_| "unknown".into())).collect();
        xtask::outln!("bench-client: helm repo add + helm search repo, YAML as Helm writes it vs our JSON");
        xtask::outln!(
            "  best of {} runs per side; fresh Helm homes every run; served by `cargo xtask serve`",
            self.runs
        );
        xtask::outln!(
            "  helm 3: {} ({})   helm 4: {} ({})",
            tools.helm3.display(),
            versions[0],
            tools.helm4.display(),
            versions[1]
        );
        xtask::outln!();
        xtask::outln!(
            "{:>8} {:>5} {:>6} {:>6} | {:>8} {:>8} {:>7} | {:>8} {:>8} | {:>8} {:>8} {:>7}",
            "versions",
            "helm",
            "yaml",
            "json",
            "add ms",
            "add ms",
            "add",
            "add MB",
            "add MB",
            "search",
            "search",
            "search"
        );
        xtask::outln!(
            "{:>8} {:>5} {:>6} {:>6} | {:>8} {:>8} {:>7} | {:>8} {:>8} | {:>8} {:>8} {:>7}",
            "",
            "",
            "MB",
            "MB",
            "yaml",
            "json",
            "speedup",
            "yaml",
            "json",
            "yaml ms",
            "json ms",
            "speedup"
        );
        let mut verdicts = Vec::new();
        for &size in &self.sizes {
            let (yaml_dir, json_dir) = prepare_size(&me, &tools.helm4, &work, size)?;
            let yaml_mb = file_mb(&yaml_dir.join("index.yaml"))?;
            let json_mb = file_mb(&json_dir.join("index.yaml"))?;
            let yaml_server = ServeChild::start(&me, &yaml_dir)?;
            let json_server = ServeChild::start(&me, &json_dir)?;
            for helm in &helms {
                let yaml = measure_client(helm, &yaml_server.url, self.runs)?;
                let json = measure_client(helm, &json_server.url, self.runs)?;
                let (add_y, add_j) = (Best::of(&yaml.0), Best::of(&json.0));
                let (search_y, search_j) = (Best::of(&yaml.1), Best::of(&json.1));
                xtask::outln!(
                    "{:>8} {:>5} {:>6.1} {:>6.1} | {:>8.0} {:>8.0} {:>6.2}x | {:>8.1} {:>8.1} | {:>8.0} {:>8.0} {:>6.2}x",
                    size,
                    helm.major,
                    yaml_mb,
                    json_mb,
                    add_y.ms,
                    add_j.ms,
                    add_y.ms / add_j.ms,
                    add_y.mb,
                    add_j.mb,
                    search_y.ms,
                    search_j.ms,
                    search_y.ms / search_j.ms
                );
                if Some(&size) == self.sizes.iter().max() {
                    verdicts.push((helm.major, size, add_y.ms / add_j.ms));
                }
            }
        }
        xtask::outln!();
        for (major, size, speedup) in verdicts {
            xtask::outln!(
                "target at {size} versions, Helm {major}: `helm repo add` {speedup:.2}x faster on JSON (target >= 3x: {})",
                if speedup >= 3.0 { "met" } else { "MISSED" }
            );
        }
        Ok(())
    }
}

/// The two repository folders for one size: `yaml-N/index.yaml` as Helm 4 writes it and
/// `json-N/index.yaml`, our JSON of that same file.
fn prepare_size(me: &Path, helm4: &Path, work: &Path, size: usize) -> Result<(PathBuf, PathBuf)> {
    let generated = work.join(format!("index-{size}.yaml"));
    let yaml_dir = work.join(format!("yaml-{size}"));
    let json_dir = work.join(format!("json-{size}"));
    for dir in [&yaml_dir, &json_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let helm = Helm::with_bin(4, helm4.to_path_buf())?;
    child_ok(helm.command().args(["repo", "index"]).arg(&yaml_dir).arg("--merge").arg(&generated))
        .context("letting Helm 4 write the YAML index")?;
    child_ok(
        Command::new(me)
            .arg("repo-index")
            .arg(&json_dir)
            .arg("--merge")
            .arg(yaml_dir.join("index.yaml"))
            .args(["--format", "json"])
            .env("RUST_LOG", "error"),
    )
    .context("converting Helm's index to JSON with repo-index --format json")?;
    Ok((yaml_dir, json_dir))
}

/// `runs` times: a fresh `helm repo add bench URL`, then `helm search repo bench/`.
fn measure_client(helm: &Helm, url: &str, runs: usize) -> Result<(Vec<Sample>, Vec<Sample>)> {
    let (mut add, mut search) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let fresh = Helm::with_bin(helm.major, helm.bin.clone())?;
        add.push(
            run_measured(fresh.command().args(["repo", "add", "bench", url]))
                .with_context(|| format!("helm {} repo add {url}", helm.major))?,
        );
        search.push(
            run_measured(fresh.command().args(["search", "repo", "bench/"]))
                .with_context(|| format!("helm {} search repo", helm.major))?,
        );
    }
    Ok((add, search))
}

fn child_ok(cmd: &mut Command) -> Result<()> {
    let output = cmd.stdout(Stdio::null()).output().with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !output.status.success() {
        bail!("{:?} failed ({}): {}", cmd.get_program(), output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

fn file_mb(path: &Path) -> Result<f64> {
    Ok(std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len() as f64 / 1e6)
}

/// `cargo xtask serve --dir DIR --addr 127.0.0.1:0` as a child process, killed on drop.
struct ServeChild {
    child: Child,
    url: String,
    /// Kept open: serve prints more lines, and a closed pipe would kill it.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl ServeChild {
    fn start(me: &Path, dir: &Path) -> Result<ServeChild> {
        let mut child = Command::new(me)
            .arg("serve")
            .arg("--dir")
            .arg(dir)
            .args(["--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting cargo xtask serve")?;
        let stdout = child.stdout.take().context("serve has no stdout")?;
        let mut stdout = std::io::BufReader::new(stdout);
        let mut first = String::new();
        stdout.read_line(&mut first).context("reading serve's address")?;
        // "Serving DIR at http://ADDR (Ctrl-C to stop)"
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .map(str::to_string)
            .with_context(|| format!("serve printed no address: {first:?}"))?;
        Ok(ServeChild { child, url, _stdout: stdout })
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
