//! `cargo xtask bench-release`: one release with `release-chart` against the shell
//! workflow most chart repositories use, side by side against one local moto server,
//! timing each and counting the storage requests each makes.
//!
//! The script is the typical one: `helm package`, `aws s3 cp` of the live index down,
//! `helm repo index --merge`, two `aws s3 cp` uploads, `aws cloudfront
//! create-invalidation` (AWS CLI from PyPI, installed into `target/bench-venv`). Both
//! talk to moto through a counting proxy on loopback ([`Proxy`]), which tells
//! storage (S3) requests from CloudFront API requests by path. Neither waits for the
//! invalidation to complete (the script cannot), so `--no-wait` is used for ours.
//!
//! The OCI channel is measured beside it: `release-chart --oci` against a real registry
//! (the distribution registry of the test harness) next to the plain release, and the
//! script plus `helm push` next to the script; the registry's log counts its requests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use xtask::ctx::Ctx;
use xtask::project;

use crate::harness::{Counts, MotoServer, OciRegistry, Proxy, RegistryAuth, Tools};

const DOMAIN: &str = "charts.bench.example.com";

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Time one release with `release-chart` and with the usual shell workflow (helm \
package, aws s3 cp of the index, helm repo index --merge, two aws s3 cp uploads, aws cloudfront \
create-invalidation) against one local moto server, and count the storage requests each makes through a \
counting proxy. Targets: at most 1/10 of the script's wall time and at most 4 storage requests per release \
(--strict fails when one is missed). Beside them, what the OCI channel adds: `release-chart --oci` against a real \
registry on loopback, and the script plus `helm push`, with the registry's requests. The figures are in \
BENCHMARKS.md.";

/// `--help` examples.
pub const EXAMPLES: &str = "Example:\
\n  $ cargo xtask bench-release --rounds 5";

/// `cargo xtask bench-release` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Releases timed per contender (each a new version; the median is reported)
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Fail when a target is missed
    #[arg(long)]
    pub strict: bool,
}

/// The AWS CLI from PyPI in a bench-only virtualenv under `target/`.
fn provision_aws_cli() -> Result<PathBuf> {
    let venv = project::target_dir().join("bench-venv");
    let aws = venv.join("bin").join("aws");
    if aws.exists() {
        return Ok(aws);
    }
    tracing::info!("installing the AWS CLI (PyPI `awscli`) into {}", venv.display());
    let status = std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
    if !status.is_ok_and(|s| s.success()) {
        bail!("creating a Python virtualenv in {} failed: install python3 with the venv module", venv.display());
    }
    let status = std::process::Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "awscli"])
        .status()
        .context("running pip")?;
    if !status.success() || !aws.exists() {
        bail!("`pip install awscli` into {} failed", venv.display());
    }
    Ok(aws)
}

fn write_chart(dir: &Path, version: &str) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: bench\ndescription: Benchmark chart\nversion: {version}\nappVersion: \"{version}\"\n"
        ),
    )?;
    std::fs::write(dir.join("values.yaml"), "replicas: 1\nimage: example/bench\n")?;
    std::fs::write(
        dir.join("templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n",
    )?;
    Ok(())
}

const SCRIPT: &str = r#"set -euo pipefail
helm package "$CHART" --destination "$WORK/pkg" >/dev/null
aws s3 cp "s3://$BUCKET/index.yaml" "$WORK/old-index.yaml" --only-show-errors || echo "apiVersion: v1" > "$WORK/old-index.yaml"
helm repo index "$WORK/pkg" --url "https://$DOMAIN" --merge "$WORK/old-index.yaml"
aws s3 cp "$WORK/pkg/$PACKAGE" "s3://$BUCKET/$PACKAGE" --only-show-errors --content-type application/gzip --cache-control "public, max-age=31536000, immutable"
aws s3 cp "$WORK/pkg/index.yaml" "s3://$BUCKET/index.yaml" --only-show-errors --content-type application/x-yaml --cache-control "public, max-age=300"
aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" --paths '/*' >/dev/null
"#;

/// The script's OCI step: `helm push` of the package it made.
const PUSH: &str = r#"helm push "$WORK/pkg/$PACKAGE" "$OCI" --plain-http >/dev/null 2>&1
"#;

struct Round {
    seconds: f64,
    storage: usize,
    storage_writes: usize,
    cdn: usize,
    /// Requests the OCI registry answered.
    registry: usize,
}

/// Run one workflow to completion and measure it: wall time and the requests the proxy
/// counted meanwhile.
async fn measured_round(
    counts: &Counts,
    registry: &OciRegistry,
    what: &str,
    command: &mut tokio::process::Command,
) -> Result<Round> {
    counts.take();
    let registry_before = registry.requests();
    let start = Instant::now();
    let output = command.stdin(Stdio::null()).output().await?;
    let seconds = start.elapsed().as_secs_f64();
    let (storage, storage_writes, cdn) = counts.take();
    if !output.status.success() {
        bail!("{what} failed in the benchmark:\n{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(Round { seconds, storage, storage_writes, cdn, registry: registry.requests() - registry_before })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

impl Args {
    pub async fn run(self, _ctx: &Ctx) -> Result<()> {
        let rounds = self.rounds.max(1);
        let tools = Tools::locate()?;
        let aws_cli = provision_aws_cli()?;
        let moto = MotoServer::start()?;
        let proxy = Proxy::start(&moto.endpoint).await?;
        let registry = OciRegistry::start(RegistryAuth::Open)?;
        let clients = xtask::aws::Clients::from_shared(moto.sdk_config().await);
        let work = tempfile::tempdir()?;

        // Two buckets (ours, the script's) and one tagged distribution with the alias.
        let ours = format!("bench-ours-{:08x}", fastrand::u32(..));
        let theirs = format!("bench-script-{:08x}", fastrand::u32(..));
        for bucket in [&ours, &theirs] {
            clients.s3.create_bucket().bucket(bucket).send().await.context("creating a bench bucket")?;
        }
        let distribution =
            crate::harness::create_distribution(&clients, &ours, DOMAIN, &[("managed-by", "cargo-xtask")]).await?;
        let config = work.path().join("repository.toml");
        std::fs::write(
            &config,
            format!(
                "domain = \"{DOMAIN}\"\nhosted_zone = \"bench.example.com\"\nbucket = \"{ours}\"\nregion = \"us-east-1\"\n[tags]\nmanaged-by = \"cargo-xtask\"\n"
            ),
        )?;
        let xtask = std::env::current_exe().context("locating the xtask binary")?;
        let helm_bin_dir = tools.helm3.parent().context("helm path")?.to_path_buf();
        let aws_bin_dir = aws_cli.parent().context("aws path")?.to_path_buf();
        let path = format!(
            "{}:{}:{}",
            helm_bin_dir.display(),
            aws_bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let env: Vec<(String, String)> = moto
            .env()
            .into_iter()
            .map(|(k, v)| if k == "AWS_ENDPOINT_URL" { (k, proxy.endpoint.clone()) } else { (k, v) })
            .chain([
                ("AWS_ENDPOINT_URL".to_string(), proxy.endpoint.clone()),
                ("AWS_CONFIG_FILE".to_string(), "/dev/null".to_string()),
                ("AWS_SHARED_CREDENTIALS_FILE".to_string(), "/dev/null".to_string()),
                ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
                // The AWS CLI v1 reads the region from here, not AWS_REGION.
                ("AWS_DEFAULT_REGION".to_string(), "us-east-1".to_string()),
                ("HELM_CACHE_HOME".to_string(), work.path().join("helm/cache").display().to_string()),
                ("HELM_CONFIG_HOME".to_string(), work.path().join("helm/config").display().to_string()),
                ("HELM_DATA_HOME".to_string(), work.path().join("helm/data").display().to_string()),
                ("PATH".to_string(), path),
            ])
            .collect();

        // `release-chart` of `chart` with `extra` flags.
        let release = |chart: &Path, extra: &[&str]| {
            let mut command = tokio::process::Command::new(&xtask);
            command.arg("--config").arg(&config).arg("release-chart").arg("--chart").arg(chart);
            command.arg("--no-wait").args(extra).envs(env.iter().cloned());
            command
        };
        // The shell workflow `script` releasing `chart` at `version`, in a folder `name`.
        let shell = |script: &str, chart: &Path, version: &str, name: &str| -> Result<tokio::process::Command> {
            let script_work = work.path().join(name);
            std::fs::create_dir_all(&script_work)?;
            let mut command = tokio::process::Command::new("bash");
            command
                .arg("-c")
                .arg(script)
                .envs(env.iter().cloned())
                .env("CHART", chart)
                .env("WORK", &script_work)
                .env("BUCKET", &theirs)
                .env("DOMAIN", DOMAIN)
                .env("PACKAGE", format!("bench-{version}.tgz"))
                .env("DISTRIBUTION", &distribution)
                .env("OCI", registry.url("bench/script"));
            Ok(command)
        };
        let with_push = format!("{SCRIPT}{PUSH}");

        // One untimed warm-up release each (first index, caches), then the timed rounds.
        let mut our_rounds = Vec::new();
        let mut script_rounds = Vec::new();
        let mut our_oci_rounds = Vec::new();
        let mut script_push_rounds = Vec::new();
        for round in 0..=rounds {
            // The plain release and one of another version with the OCI channel, each
            // beside the script (with `helm push` for the second).
            let version = format!("1.{round}.0");
            let chart = work.path().join(format!("chart-{round}"));
            write_chart(&chart, &version)?;
            let oci_version = format!("1.{round}.1");
            let oci_chart = work.path().join(format!("chart-oci-{round}"));
            write_chart(&oci_chart, &oci_version)?;
            let oci = registry.url("bench/ours");
            let contenders = [
                ("release-chart", release(&chart, &[]), &mut our_rounds),
                ("release-chart --oci", release(&oci_chart, &["--plain-http", "--oci", &oci]), &mut our_oci_rounds),
                (
                    "the shell workflow",
                    shell(SCRIPT, &chart, &version, &format!("script-{round}"))?,
                    &mut script_rounds,
                ),
                (
                    "the shell workflow + helm push",
                    shell(&with_push, &oci_chart, &oci_version, &format!("script-oci-{round}"))?,
                    &mut script_push_rounds,
                ),
            ];
            for (what, mut command, rounds) in contenders {
                let measured = measured_round(&proxy.counts, &registry, what, &mut command).await?;
                if round > 0 {
                    rounds.push(measured);
                }
            }
        }

        let ours_s = median(&mut our_rounds.iter().map(|r| r.seconds).collect::<Vec<_>>());
        let script_s = median(&mut script_rounds.iter().map(|r| r.seconds).collect::<Vec<_>>());
        let ours_storage = our_rounds.iter().map(|r| r.storage).max().unwrap_or(0);
        let ratio = ours_s / script_s;
        xtask::outln!(
            "one release (median of {rounds} rounds, after one warm-up each; moto on loopback, no CDN wait)\n"
        );
        let ours_oci_s = median(&mut our_oci_rounds.iter().map(|r| r.seconds).collect::<Vec<_>>());
        let script_push_s = median(&mut script_push_rounds.iter().map(|r| r.seconds).collect::<Vec<_>>());
        xtask::outln!("| workflow | wall time | storage requests (writes) | CloudFront requests | registry requests |");
        xtask::outln!("| --- | ---: | ---: | ---: | ---: |");
        let script_name = "helm package + helm repo index --merge + aws s3 cp ×3 + aws cloudfront";
        let script_push_name = format!("{script_name} + helm push");
        for (name, seconds, rounds) in [
            ("cargo xtask release-chart", ours_s, &our_rounds),
            ("cargo xtask release-chart --oci", ours_oci_s, &our_oci_rounds),
            (script_name, script_s, &script_rounds),
            (script_push_name.as_str(), script_push_s, &script_push_rounds),
        ] {
            let last = rounds.last().expect("at least one round");
            xtask::outln!(
                "| {name} | {:.0} ms | {} ({}) | {} | {} |",
                seconds * 1000.0,
                last.storage,
                last.storage_writes,
                last.cdn,
                last.registry
            );
        }
        let registry_requests = |rounds: &[Round]| rounds.last().map_or(0, |r| r.registry);
        xtask::outln!(
            "\nthe OCI channel adds {:.0} ms and {} registry requests to release-chart; helm push adds {:.0} ms and {} \
             to the script",
            (ours_oci_s - ours_s) * 1000.0,
            registry_requests(&our_oci_rounds),
            (script_push_s - script_s) * 1000.0,
            registry_requests(&script_push_rounds)
        );
        let time_ok = ratio <= 0.1;
        let requests_ok = ours_storage <= 4;
        xtask::outln!(
            "\nwall time ratio {:.3} (target ≤ 0.100: {}), storage requests per release {} (target ≤ 4: {})",
            ratio,
            if time_ok { "met" } else { "MISSED" },
            ours_storage,
            if requests_ok { "met" } else { "MISSED" }
        );
        if self.strict && !(time_ok && requests_ok) {
            bail!("bench-release: a target was missed");
        }
        drop(proxy);
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(())
    }
}
