//! What lives in OCI registries, asked anonymously as every user asks: the OCI copy of
//! each version in scope (`oci`: `PATH/NAME:VERSION` exists, its chart layer is the
//! index digest, and with a keyring its provenance layer verifies), and the image each
//! version deploys by default (`image`: its manifest resolves in its registry).
//!
//! A registry that does not answer leaves a check NOT RUN with the cause, never passed;
//! one that answers "denied" to an anonymous user fails it (users could not pull).

use std::collections::BTreeMap;

use super::Verdict;
use super::evidence::{Indexed, Run};
use super::packages::PackageResult;
use crate::layout::{OciRepository, package_key};
use crate::oci::artifact::{HELM_CHART_CONTENT, HELM_PROVENANCE};
use crate::oci::{Registry, RegistryError};
use crate::provenance::Keyring;
use crate::verify::report::Status;

/// What the registries said, for the versions in scope.
#[derive(Debug, Clone, Default)]
pub(super) struct RegistryEvidence {
    /// One per version in scope, when an OCI repository was asked for.
    pub oci: Vec<OciFinding>,
    /// One per distinct image, when `--check-images` was given.
    pub images: Vec<ImageFinding>,
    /// Versions in scope whose values name no image, when `--check-images` was given.
    pub imageless: Vec<String>,
}

/// One version's OCI tag.
#[derive(Debug, Clone)]
pub(super) struct OciFinding {
    /// `HOST/PATH/NAME:TAG`.
    pub reference: String,
    /// What is wrong with it.
    pub problems: Vec<String>,
    /// Nothing answered: why.
    pub unreachable: Option<String>,
}

/// One image, and what its registry said.
#[derive(Debug, Clone)]
pub(super) struct ImageFinding {
    pub image: String,
    /// The versions that deploy it.
    pub versions: Vec<String>,
    pub outcome: ImageOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ImageOutcome {
    /// Its manifest's digest.
    Resolved(String),
    Missing,
    /// The registry answered no (or could not be asked).
    Failed(String),
    Unreachable(String),
}

/// Ask the registries about the packages in scope (after they were downloaded).
pub(super) async fn gather(run: &Run<'_>, packages: &[PackageResult]) -> RegistryEvidence {
    let opts = run.opts;
    let mut evidence = RegistryEvidence::default();
    if opts.oci.is_none() && !opts.check_images {
        return evidence;
    }
    // No client: nothing could be asked, so both checks are not run (never skipped).
    let registry = Registry::anonymous(opts.plain_http).map_err(|err| format!("{err:#}"));
    if let Some(repository) = &opts.oci {
        for package in packages {
            let finding = match &registry {
                Ok(registry) => check_tag(registry, repository, package, opts.keyring.as_ref()).await,
                Err(cause) => OciFinding {
                    reference: repository
                        .version_reference(&package.entry.metadata.name, &package.entry.metadata.version),
                    problems: Vec::new(),
                    unreachable: Some(cause.clone()),
                },
            };
            evidence.oci.push(finding);
        }
    }
    if opts.check_images {
        let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for package in packages {
            let label = format!("{} {}", package.entry.metadata.name, package.entry.metadata.version);
            match &package.findings.image {
                Some(Ok(Some(image))) => images.entry(image.clone()).or_default().push(label),
                Some(Ok(None)) => evidence.imageless.push(label),
                Some(Err(err)) => evidence.images.push(ImageFinding {
                    image: format!("(the image of {label})"),
                    versions: vec![label],
                    outcome: ImageOutcome::Failed(err.clone()),
                }),
                // Not downloaded: package-download says why.
                None => {}
            }
        }
        for (image, versions) in images {
            let outcome = match &registry {
                Err(cause) => ImageOutcome::Unreachable(cause.clone()),
                Ok(registry) => match registry.resolve(&image).await {
                    Ok(Some(digest)) => ImageOutcome::Resolved(digest),
                    Ok(None) => ImageOutcome::Missing,
                    Err(RegistryError::Unreachable(cause)) => ImageOutcome::Unreachable(cause),
                    Err(err) => ImageOutcome::Failed(err.to_string()),
                },
            };
            evidence.images.push(ImageFinding { image, versions, outcome });
        }
    }
    evidence
}

/// One version's tag: it exists, its chart layer is the index digest, and with a
/// keyring its provenance layer verifies for the chart layer's bytes.
async fn check_tag(
    registry: &Registry,
    repository: &OciRepository,
    package: &PackageResult,
    keyring: Option<&Keyring>,
) -> OciFinding {
    let metadata = &package.entry.metadata;
    let reference = repository.version_reference(&metadata.name, &metadata.version);
    let mut finding = OciFinding { reference: reference.clone(), problems: Vec::new(), unreachable: None };
    let label = format!("{} {}", metadata.name, metadata.version);
    let manifest = match registry.manifest(&reference).await {
        Ok(Some((manifest, _))) => manifest,
        Ok(None) => {
            finding.problems.push(format!("{label}: oci://{reference} does not exist"));
            return finding;
        }
        Err(RegistryError::Unreachable(cause)) => {
            finding.unreachable = Some(cause);
            return finding;
        }
        Err(err) => {
            finding.problems.push(format!("{label}: oci://{reference}: {err}"));
            return finding;
        }
    };
    let index_digest = format!("sha256:{}", package.entry.digest.to_ascii_lowercase());
    let Some(chart_layer) = manifest.layer(HELM_CHART_CONTENT) else {
        finding.problems.push(format!("{label}: oci://{reference} holds no Helm chart layer ({HELM_CHART_CONTENT})"));
        return finding;
    };
    if chart_layer.digest != index_digest {
        finding.problems.push(format!(
            "{label}: oci://{reference} holds chart layer {}, but the index digest is {index_digest}",
            chart_layer.digest
        ));
        return finding;
    }
    let Some(keyring) = keyring else { return finding };
    let Some(prov_layer) = manifest.layer(HELM_PROVENANCE) else {
        finding
            .problems
            .push(format!("{label}: oci://{reference} has no provenance layer: `helm pull --verify` fails"));
        return finding;
    };
    let blobs = async {
        let prov = registry.blob(&reference, prov_layer).await?;
        let chart = registry.blob(&reference, chart_layer).await?;
        Ok::<_, RegistryError>((prov, chart))
    };
    match blobs.await {
        Ok((prov, chart)) => {
            let file_name = package_key(&metadata.name, &metadata.version);
            if let Err(err) = keyring.verify(&prov, &file_name, &chart) {
                finding.problems.push(format!("{label}: the provenance layer of oci://{reference}: {err:#}"));
            }
        }
        Err(RegistryError::Unreachable(cause)) => finding.unreachable = Some(cause),
        Err(err) => finding.problems.push(format!("{label}: oci://{reference}: {err}")),
    }
    finding
}

/// `oci`: every version in scope has its tag, holding the package the index names.
pub(super) fn oci(run: &Run, indexed: &Indexed) -> Verdict {
    let findings = &indexed.registry.oci;
    let repository = run.opts.oci.as_ref().map(ToString::to_string).unwrap_or_default();
    if findings.is_empty() {
        return Verdict::new(Status::NotRun, "no version in scope to look for");
    }
    let problems: Vec<String> = findings.iter().flat_map(|f| f.problems.iter().cloned()).collect();
    if !problems.is_empty() {
        let bad = findings.iter().filter(|f| !f.problems.is_empty()).count();
        let summary = format!("{bad} of {} version(s) are not in {repository} as the index names them", findings.len());
        return Verdict::new(Status::Fail, summary).with_evidence(problems);
    }
    if let Some(cause) = findings.iter().find_map(|f| f.unreachable.as_ref()) {
        return Verdict::new(Status::NotRun, format!("{repository} could not be asked: {cause}"));
    }
    let signed = if run.opts.keyring.is_some() { ", its provenance layer verified with the keyring" } else { "" };
    Verdict::new(
        Status::Pass,
        format!("all {} version(s) are in {repository}, each chart layer the index digest{signed}", findings.len()),
    )
    .with_evidence(findings.iter().map(|f| format!("oci://{}", f.reference)).collect())
}

/// `image`: the image each version in scope deploys by default resolves anonymously.
pub(super) fn image(_: &Run, indexed: &Indexed) -> Verdict {
    let evidence = &indexed.registry;
    if evidence.images.is_empty() {
        let why = if evidence.imageless.is_empty() {
            "no package was downloaded to read its image from"
        } else {
            "no version in scope names an image (image.repository in values.yaml)"
        };
        return Verdict::new(Status::Skip, why);
    }
    let mut problems = Vec::new();
    let mut unreachable = Vec::new();
    let mut resolved = Vec::new();
    for finding in &evidence.images {
        let versions = finding.versions.join(", ");
        match &finding.outcome {
            ImageOutcome::Resolved(digest) => resolved.push(format!("{}@{digest} ({versions})", finding.image)),
            ImageOutcome::Missing => {
                problems.push(format!("{} ({versions}): no such manifest in its registry", finding.image));
            }
            ImageOutcome::Failed(cause) => problems.push(format!("{} ({versions}): {cause}", finding.image)),
            ImageOutcome::Unreachable(cause) => unreachable.push(format!("{} ({versions}): {cause}", finding.image)),
        }
    }
    if !problems.is_empty() {
        let summary = format!("{} of {} image(s) cannot be pulled anonymously", problems.len(), evidence.images.len());
        return Verdict::new(Status::Fail, summary).with_evidence(problems);
    }
    if !unreachable.is_empty() {
        return Verdict::new(
            Status::NotRun,
            format!("{} of {} image registries could not be asked", unreachable.len(), evidence.images.len()),
        )
        .with_evidence(unreachable);
    }
    Verdict::new(Status::Pass, format!("all {} image(s) resolve anonymously", resolved.len())).with_evidence(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyOptions;
    use crate::verify::checks::evidence::Scope;
    use crate::verify::checks::fixtures::{self, index};

    fn indexed(run: &Run, registry: RegistryEvidence) -> Indexed {
        Indexed { registry, ..fixtures::indexed(run, index(Vec::new())) }
    }

    fn tag(reference: &str, problems: &[&str], unreachable: Option<&str>) -> OciFinding {
        OciFinding {
            reference: reference.into(),
            problems: problems.iter().map(ToString::to_string).collect(),
            unreachable: unreachable.map(Into::into),
        }
    }

    #[test]
    fn a_wrong_tag_fails_before_a_silent_registry_is_not_run_and_only_all_good_passes() {
        let opts =
            VerifyOptions { oci: Some(OciRepository::parse("oci://r.io/c").unwrap()), ..VerifyOptions::default() };
        let run = Run::new("https://charts.kube9.io", Scope::default(), &opts).unwrap();
        let judge = |findings: Vec<OciFinding>| {
            oci(&run, &indexed(&run, RegistryEvidence { oci: findings, ..RegistryEvidence::default() }))
        };
        let good = judge(vec![tag("r.io/c/a:1", &[], None), tag("r.io/c/a:2", &[], None)]);
        assert_eq!(good.status, Status::Pass);
        assert!(good.summary.contains("all 2 version(s) are in oci://r.io/c"), "{good:?}");
        let silent = judge(vec![tag("r.io/c/a:1", &[], None), tag("r.io/c/a:2", &[], Some("connection refused"))]);
        assert_eq!(silent.status, Status::NotRun);
        assert!(silent.summary.contains("connection refused"), "{silent:?}");
        let wrong =
            judge(vec![tag("r.io/c/a:1", &["a 1: holds chart layer sha256:x"], None), tag("x", &[], Some("?"))]);
        assert_eq!(wrong.status, Status::Fail);
        assert_eq!(wrong.evidence, ["a 1: holds chart layer sha256:x"]);
        assert_eq!(judge(Vec::new()).status, Status::NotRun);
    }

    #[test]
    fn images_pass_only_when_every_one_resolves() {
        let opts = VerifyOptions { check_images: true, ..VerifyOptions::default() };
        let run = Run::new("https://charts.kube9.io", Scope::default(), &opts).unwrap();
        let image = |name: &str, outcome| ImageFinding { image: name.into(), versions: vec!["a 1".into()], outcome };
        let judge = |images: Vec<ImageFinding>, imageless: Vec<String>| {
            super::image(&run, &indexed(&run, RegistryEvidence { oci: Vec::new(), images, imageless }))
        };
        let resolved = ImageOutcome::Resolved("sha256:1".into());
        let pass = judge(vec![image("r.io/a:1", resolved.clone())], Vec::new());
        assert_eq!(pass.status, Status::Pass);
        assert_eq!(pass.evidence, ["r.io/a:1@sha256:1 (a 1)"]);
        let silent = judge(
            vec![image("r.io/a:1", resolved.clone()), image("s.io/b:1", ImageOutcome::Unreachable("dns".into()))],
            Vec::new(),
        );
        assert_eq!(silent.status, Status::NotRun);
        let missing = judge(
            vec![image("r.io/a:1", ImageOutcome::Missing), image("s.io/b:1", ImageOutcome::Unreachable("dns".into()))],
            Vec::new(),
        );
        assert_eq!(missing.status, Status::Fail);
        assert_eq!(missing.evidence, ["r.io/a:1 (a 1): no such manifest in its registry"]);
        let none = judge(Vec::new(), vec!["a 1".into()]);
        assert_eq!(none.status, Status::Skip);
        assert!(none.summary.contains("names an image"), "{none:?}");
    }
}
