//! The development commands. Each defines its clap `Args` and `Args::run`.

pub mod bench_build;
pub mod bench_client;
pub mod bench_index;
pub mod bench_release;
pub mod docs;
pub mod test;
