//! The development side of `cargo xtask`, never part of the shipped `xtask` binary: the
//! test and benchmark harness ([`harness`]), `cargo xtask test` and the `bench-*`
//! commands ([`commands`], with what they share in [`bench`]), and the checks that guard the repository (`tidy.rs`).
//! Its binary `xtask-dev` (what `cargo xtask` runs, see `.cargo/config.toml`) offers
//! every command of `xtask` plus these ([`cli`]).

pub mod bench;
pub mod cli;
pub mod commands;
pub mod harness;
#[cfg(test)]
mod tidy;
