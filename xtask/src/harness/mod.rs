//! The test and benchmark harness: real tools, started for real, stopped on `Drop`.
//!
//! Contract (the foundation issue fills it in; keep these names):
//! - [`Tools::locate`]: paths of `moto_server`, Helm 3 and Helm 4 as provisioned by
//!   `cargo xtask test`; an error naming that command when they are missing.
//! - [`MotoServer::start`]: a moto server on a free loopback port, killed on drop.
//! - [`Helm`]: one Helm binary with its own isolated HELM_* homes.

use std::path::PathBuf;

use anyhow::{Result, bail};

/// Paths of the provisioned test tools.
#[derive(Debug, Clone)]
pub struct Tools {
    pub moto_server: PathBuf,
    pub helm3: PathBuf,
    pub helm4: PathBuf,
}

impl Tools {
    pub fn locate() -> Result<Tools> {
        bail!("test tools are not provisioned: run `cargo xtask test`")
    }
}

/// A running moto server. Dropping it kills the process.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl MotoServer {
    pub fn start() -> Result<MotoServer> {
        bail!("moto harness is not built yet")
    }

    /// Environment for a child process (e.g. the `xtask` binary) to talk to this
    /// server: `AWS_ENDPOINT_URL`, dummy credentials, `AWS_REGION`.
    pub fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// A ready SDK config pointed at this server.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder().build()
    }
}

/// One Helm binary with isolated HELM_CACHE_HOME / HELM_CONFIG_HOME / HELM_DATA_HOME.
#[derive(Debug)]
pub struct Helm {
    pub major: u8,
    pub bin: PathBuf,
}

impl Helm {
    pub fn v3() -> Result<Helm> {
        bail!("helm harness is not built yet")
    }
    pub fn v4() -> Result<Helm> {
        bail!("helm harness is not built yet")
    }
    /// Helm 3 and Helm 4.
    pub fn both() -> Result<Vec<Helm>> {
        Ok(vec![Helm::v3()?, Helm::v4()?])
    }
    /// Run `helm ARGS`; stdout on success, an error with stderr otherwise.
    pub fn run(&self, _args: &[&str]) -> Result<String> {
        bail!("helm harness is not built yet")
    }
}
