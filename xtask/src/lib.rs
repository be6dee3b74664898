//! The library behind `cargo xtask`. The binary (`main.rs`) only parses arguments and
//! reports errors; the development crate `xtask-dev` (test harness, `test`, benchmarks)
//! and the integration tests use these modules directly.

// `unused_crate_dependencies` sees the package's dev-dependencies from the unit tests
// too: these are the integration tests'.
#[cfg(test)]
use libc as _;
#[cfg(test)]
use memchr as _;

pub mod aws;
pub mod chart;
pub mod cli;
pub mod commands;
pub mod config;
pub mod ctx;
pub mod entry;
pub mod http;
pub mod index;
pub mod infra;
pub mod interrupt;
pub mod landing;
pub mod layout;
pub mod logging;
pub mod oci;
pub mod project;
pub mod provenance;
pub mod release;
pub mod retry;
pub mod store;
pub mod verify;
pub mod versioning;
pub mod yanked;
