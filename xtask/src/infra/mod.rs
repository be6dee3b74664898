//! The infrastructure behind `https://{domain}`: a private S3 bucket, a CloudFront
//! distribution reading it through an Origin Access Control, an ACM certificate and
//! Route53 alias records.
//!
//! One pass of `cargo xtask deploy-infra`:
//! 1. [`desired`]: what every resource must look like, derived from the `RepoConfig`.
//! 2. [`discover`]: the read-only preflight and the actual state (no write call).
//! 3. [`plan`]: a [`Plan`] of [`Step`]s (create / update / no change), each listing the
//!    settings that differ, in dependency order.
//! 4. [`apply`]: the steps run in order; every resource this run creates goes into an
//!    undo journal, and any failure (or Ctrl-C) rolls exactly those back, newest first.
//!
//! Each resource has one module holding what discovery reads of it, how a step creates
//! or updates it and how a rollback deletes it: [`bucket`] (with the error page and the
//! bucket policy), [`oac`], [`certificate`], [`distribution`], [`records`]. Their managed
//! settings are named by [`settings::Setting`].
//!
//! Ownership: a bucket, distribution or certificate is ours only when it carries every
//! ownership tag of the config; anything else with our name or alias stops the run
//! before the first write. Records (Route53 cannot tag them) are ours when they are
//! alias records pointing at our distribution; the Origin Access Control (CloudFront
//! cannot tag it) is ours when it has our name and our description.

pub mod apply;
pub mod bucket;
pub mod certificate;
pub mod desired;
pub mod discover;
pub mod distribution;
pub mod oac;
pub mod plan;
pub mod policy;
pub mod records;
pub mod settings;
pub mod trust;
mod wait;

pub use apply::{Outcome, Summary};
pub use desired::Desired;
pub use discover::Actual;
pub use plan::{Action, Plan, Resource, Step};
pub use settings::{Before, Setting, SettingChange, Settings};
