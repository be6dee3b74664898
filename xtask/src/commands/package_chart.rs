//! `cargo xtask package-chart`: a reproducible `helm package`.

use anyhow::{Context, Result};

use crate::chart;
use crate::ctx::Ctx;
use crate::project;
use crate::versioning::lock::check_operator_chart;

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Build NAME-VERSION.tgz from a chart folder, laid out exactly as `helm package` lays \
it out (top folder = chart name; Chart.yaml, Chart.lock, values.yaml, values.schema.json, templates/, the other \
files, then subcharts under NAME/charts/), honouring .helmignore with Helm's rules and Helm's built-in \
`templates/.?*` rule.\n\n\
Reproducible: fixed entry order, mode 0644, owner 0/0 with empty owner names, mtime 2000-01-01, a gzip header \
without name or time, so the same chart source gives the same bytes on every run and machine. \
SOURCE_DATE_EPOCH is deliberately ignored: the digest is the version's identity.\n\n\
Prints `SHA256  PATH`, the format of `sha256sum`.\n\n\
Refuses, writing nothing: a missing or unparsable Chart.yaml, a missing name or version, a version that is not \
SemVer 2, an apiVersion other than v1/v2, a values.yaml that is not a YAML mapping or a values.schema.json that \
is not JSON (Helm's loader refuses both, so every install would fail; an empty, comment-only or `null` \
values.yaml is an empty mapping, as for Helm), a symlink leaving the chart folder, a file over 5 MiB or a chart \
over 100 MiB in all (Helm's limits), and the operator chart (known by its name kube9-operator or by its folder, \
so a copy elsewhere too) when its version differs from the operator crate's: the same lock as release-chart \
(run `cargo xtask sync-version`).\n\n\
With --sign-key FILE (or $KUBE9_SIGNING_KEY), also writes Helm's provenance file NAME-VERSION.tgz.prov \
beside the package, as `helm package --sign` does; README.md's \"Signed releases\" says how to make the key.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask package-chart --out dist/\
\n  $ cargo xtask package-chart --out dist/ --sign-key kube9-signing.asc && helm verify dist/*.tgz --keyring pubkey.gpg";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Chart directory [default: charts/kube9-operator]
    #[arg(long, value_name = "DIR")]
    pub chart: Option<std::path::PathBuf>,
    /// Where to write NAME-VERSION.tgz [default: current directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub sign: crate::release::sign::SignArgs,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let cwd = ctx.sh.current_dir();
        let cwd_for_keys = cwd.clone();
        let chart_dir = match self.chart {
            Some(dir) => cwd.join(dir),
            None => project::operator_chart_dir(),
        };
        let out_dir = match self.out {
            Some(dir) => cwd.join(dir),
            None => cwd,
        };
        let package = chart::package_all(std::slice::from_ref(&chart_dir), check_operator_chart, |_| {})?.remove(0);
        let config = if self.sign.enabled() && ctx.config_path.exists() { Some(ctx.config()?) } else { None };
        let signing = config.as_ref().and_then(|c| c.signing.as_ref());
        let signer = self.sign.signer(&cwd_for_keys, signing, std::slice::from_ref(&package))?;
        let path = chart::write_package_file(&out_dir, &package).context("writing the package")?;
        let path = path.canonicalize().unwrap_or(path);
        crate::outln!("{}  {}", package.digest, path.display());
        if let Some(signer) = signer {
            let prov = signer.sign_package(&package)?;
            let prov_path = out_dir.join(crate::layout::prov_key(&package.file_name));
            chart::package::write_atomic(&prov_path, prov.as_bytes())
                .with_context(|| format!("writing the provenance file {}", prov_path.display()))?;
            crate::outln!("signed with key {}: {}", signer.fingerprint(), prov_path.display());
        }
        Ok(())
    }
}
