//! The second channel: the same chart packages in an OCI registry, where
//! `helm install NAME oci://HOST/PATH/NAME --version V` (Helm ≥ 3.8, Flux, Argo CD) and
//! Artifact Hub find them.
//!
//! - [`artifact`]: what a tag holds, byte for byte (a chart as `helm push` lays it out,
//!   Artifact Hub's repository metadata); pure.
//! - [`registry`]: the distribution API through `oci-client` (read a manifest or a blob,
//!   resolve an image, push an artifact), failures classified as [`RegistryError`].
//! - [`credentials`]: who pushes (environment, Helm's and Docker's login files).
//!
//! The release decides what to push (`release::oci`); `verify-repo` reads the tags back
//! anonymously (`verify::registry`). The address grammar is `layout::OciRepository`.

pub mod artifact;
pub mod credentials;
pub mod registry;

pub use artifact::{Artifact, Manifest};
pub use credentials::Credentials;
pub use registry::{Registry, RegistryError};
