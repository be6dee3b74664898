//! One module per command. Each defines its clap `Args` and `Args::run`.

pub mod deploy_infra;
pub mod iam_policy;
pub mod package_chart;
pub mod reindex;
pub mod release_chart;
pub mod repo_index;
pub mod serve;
pub mod verify_repo;
pub mod version;
pub mod yank;
