//! `cargo xtask reindex`: rebuild `index.yaml` from the packages in the repository. The
//! rebuild and its conditional write are [`crate::release::reindex`]; this file handles
//! the arguments, the target and the printing.

use anyhow::Result;

use crate::ctx::Ctx;
use crate::release::summary::Invalidation;
use crate::release::target::{Change, Target, TargetArgs};
use crate::release::{IndexAction, page, reindex, step};

#[derive(Debug, clap::Args)]
#[command(after_help = "Rebuild index.yaml from every .tgz package stored in the bucket (or --local folder):\n\
                  reads each package's Chart.yaml, recomputes its digest, keeps `created` from the old\n\
                  index where it can still be read, and writes the index with a conditional write\n\
                  (a release that wins the race is read back in, not lost).\n\
                  Use it when release-chart reports that the stored index does not parse.\n\n\
                  Example: cargo xtask reindex --dry-run")]
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
            (true, _) => Change::WouldWrite,
            (false, true) => Change::Wrote,
            (false, false) => Change::Nothing,
        };
        let invalidation = target.invalidate("reindex", change, &self.target).await?;
        if !matches!(invalidation, Invalidation::NotApplicable) {
            step(format!("invalidation: {}", invalidation.describe()));
        }
        Ok(())
    }
}
