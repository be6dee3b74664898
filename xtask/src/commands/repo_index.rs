//! `cargo xtask repo-index`: a drop-in for `helm repo index` that never loses history.
//! The indexing is [`crate::chart::folder`].

use std::path::PathBuf;

use anyhow::Result;

use anyhow::Context as _;

use crate::ctx::Ctx;
use crate::layout::{IndexFormat, YANKED_KEY};
use crate::yanked::{YankLog, YankRecord};

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Index every .tgz in DIR and one folder below (DIR/*.tgz and DIR/*/*.tgz, as Helm \
does) into DIR/index.yaml: a drop-in for `helm repo index` that never loses history. Packages made by Helm are \
read like Helm reads them; files that are not charts are skipped with a warning.\n\n\
The base index is --merge FILE, else the existing DIR/index.yaml, else an empty one. Unlike Helm, versions are \
only appended: an existing version keeps its entry and its `created`; the same version with another digest is \
refused unless --force. \"The same version\" is Helm's: `v1.0.0` listed and a package `1.0.0` are one version \
(the listed entry is kept). Without --url, package URLs are relative, as Helm writes them.\n\n\
A version that DIR/yanked.json holds as yanked (`cargo xtask yank --local DIR`) stays out of the index; a \
yanked.json that does not parse is an error, and nothing is written.\n\n\
index.yaml is written atomically, in the form Helm writes it, or as compact JSON with --format json (JSON is \
YAML; Helm >= 3.13 loads it several times faster). The base index may be either.";

/// `--help` examples.
pub const EXAMPLES: &str = "Example:\
\n  $ cargo xtask repo-index dist/ --url https://charts.kube9.io --merge old/index.yaml";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding the .tgz packages; index.yaml is written here
    pub dir: PathBuf,
    /// Base URL of the repository (package URLs become URL/NAME-VERSION.tgz); without it
    /// URLs are relative (just the file name), as Helm writes them
    #[arg(long, value_name = "URL", value_parser = crate::layout::parse_url_flag)]
    pub url: Option<String>,
    /// Merge into this existing index [default: DIR/index.yaml when present]
    #[arg(long, value_name = "FILE")]
    pub merge: Option<PathBuf>,
    /// Replace a version already indexed with a different digest (keeps its `created`)
    #[arg(long)]
    pub force: bool,
    /// Write index.yaml as Helm's YAML or as compact JSON (Helm >= 3.13 loads it faster)
    /// [default: `[index] format` of charts/repository.toml, else yaml]
    #[arg(long, value_enum)]
    pub format: Option<IndexFormat>,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let cwd = ctx.sh.current_dir();
        let dir = cwd.join(&self.dir);
        let merge = self.merge.map(|m| cwd.join(m));
        let format = match self.format {
            Some(format) => format,
            None => ctx.optional_config()?.map(|config| config.index.format).unwrap_or_default(),
        };
        let yanks = yanks_in(&dir)?;
        let summary = crate::chart::folder::index_dir(
            &dir,
            self.url.as_deref().unwrap_or(""),
            merge.as_deref(),
            self.force,
            format,
            |name, version| yanks.active_yank(name, version).map(YankRecord::when_and_why),
        )?;
        crate::outln!(
            "{}: {} added, {} unchanged, {} replaced, {} skipped, {} yanked (kept out); {} versions in total",
            dir.join(crate::layout::INDEX_KEY).display(),
            summary.added,
            summary.unchanged,
            summary.replaced,
            summary.skipped,
            summary.kept_out,
            summary.total
        );
        Ok(())
    }
}

/// `DIR/yanked.json`, when the folder is a repository something was yanked from.
fn yanks_in(dir: &std::path::Path) -> Result<YankLog> {
    let path = dir.join(YANKED_KEY);
    match std::fs::read(&path) {
        Ok(bytes) => YankLog::parse(&bytes).with_context(|| {
            format!("{} does not parse: repair it before indexing (nothing was written)", path.display())
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(YankLog::default()),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}
