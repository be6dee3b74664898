//! The test and benchmark harness: real tools, started for real, stopped on `Drop`.
//!
//! - [`Tools`]: paths of `moto_server`, Helm 3 and Helm 4. [`Tools::provision`] (run by
//!   `cargo xtask test`) installs them once under `target/test-tools/`;
//!   [`Tools::locate`] only finds them, and fails with the command that provisions
//!   them. A missing tool is never a skipped test.
//! - [`MotoServer::start`]: a moto server on a free loopback port, killed on drop;
//!   [`MotoServer::shared`] one per test process, with [`unique_name`] for resources.
//! - [`Helm`]: one Helm binary with its own isolated HELM_* homes.

mod helm;
mod moto;
mod tools;

pub use helm::Helm;
pub use moto::{ACCESS_KEY_ID, MotoBuilder, MotoServer, REGION, SECRET_ACCESS_KEY, unique_name};
pub use tools::{
    ENV_HELM3, ENV_HELM4, ENV_MOTO_SERVER, HELM3, HELM4, HelmPin, MOTO_REQUIREMENT, Stamp, Tools, helm_version,
    locate_helm, locate_moto_server, tools_dir,
};
