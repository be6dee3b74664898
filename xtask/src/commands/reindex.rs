//! `cargo xtask reindex`: rebuild `index.yaml` from the packages in the repository. The
//! rebuild and its conditional write are [`crate::release::reindex`]; this file handles
//! the arguments, the target and the printing.

use anyhow::Result;

use crate::ctx::Ctx;
use crate::release::summary::Invalidation;
use crate::release::target::{StoreChange, Target, TargetArgs};
use crate::release::{IndexAction, page, reindex, step};

/// `--help` text (the subcommand variant in `cli.rs` uses it).
pub const LONG_ABOUT: &str = "Repair: rebuild index.yaml from every .tgz package stored in the bucket (or the \
--local folder). Reads each package's Chart.yaml and recomputes its digest, keeping `created` from the old index \
wherever it can be read, even from one that no longer parses. Use it when release-chart reports that the stored \
index does not parse.\n\n\
The index is written with release-chart's conditional write, in the configured `[index] format` (a release that \
wins the race is read back in and kept); then the landing page, then the CloudFront invalidation. A stored \
kube9-operator package whose `appVersion` differs from its `version` is reported (and still indexed). A version \
yanked.json holds as yanked (`cargo xtask yank`) stays out of the rebuilt index; its package stays stored. --local, \
--url, --dry-run, --no-wait and --wait-timeout mean what they mean for release-chart.";

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\
\n  $ cargo xtask reindex --dry-run\
\n  $ cargo xtask reindex\
\n  $ cargo xtask reindex --local dist/repo --url http://127.0.0.1:9000   # packages now served there";

/// `cargo xtask reindex` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let dry_run = self.target.dry_run;
        if dry_run {
            step("dry run: nothing is written");
        }
        let target = Target::build(&self.target, &ctx.config_path).await?;
        let store = &target.store;
        let rebuilt = reindex::rebuild(store, &target.base_url).await?;
        let index = reindex::write(
            store,
            rebuilt,
            &target.base_url,
            target.index_format,
            &target.cache.index_cache_control,
            dry_run,
        )
        .await?;
        // After the index: the page is made from the index actually stored. A dry run
        // wrote no index, and the stored one may not even parse: it only says so.
        let page_written = if dry_run {
            step(format!("would regenerate {} from the rebuilt index", store.location(crate::layout::PAGE_KEY)));
            false
        } else {
            page::publish_page(store, &target.site, &target.cache.index_cache_control, false, None).await?.wrote()
        };
        let change = match (dry_run, matches!(index, IndexAction::Written { .. }) || page_written) {
            (true, _) => StoreChange::WouldWrite,
            (false, true) => StoreChange::Wrote,
            (false, false) => StoreChange::Nothing,
        };
        let invalidation = target.invalidate("reindex", change, &self.target).await?;
        if !matches!(invalidation, Invalidation::NotApplicable) {
            step(format!("invalidation: {}", invalidation.describe()));
        }
        Ok(())
    }
}
