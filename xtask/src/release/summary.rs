//! The release summary: printed to stdout, and in GitHub Actions appended as Markdown to
//! `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::{Context, Result};

use super::{IndexAction, Report};

/// What happened to the CDN cache.
#[derive(Debug, Clone)]
pub enum Invalidation {
    /// `--local`: there is no CDN.
    NotApplicable,
    /// Nothing changed, so nothing to invalidate.
    Skipped,
    WouldCreate,
    Created {
        id: String,
        completed: bool,
    },
}

impl Invalidation {
    pub fn describe(&self) -> String {
        match self {
            Invalidation::NotApplicable => "none (local folder)".into(),
            Invalidation::Skipped => "skipped (nothing changed)".into(),
            Invalidation::WouldCreate => "would invalidate /* (dry run)".into(),
            Invalidation::Created { id, completed: true } => format!("{id} (/*, completed)"),
            Invalidation::Created { id, completed: false } => format!("{id} (/*, not waited for)"),
        }
    }
}

fn index_line(report: &Report) -> String {
    match report.index {
        IndexAction::Written { attempt: 1 } => "written".to_string(),
        IndexAction::Written { attempt } => format!("written (attempt {attempt}, after concurrent releases)"),
        IndexAction::Unchanged => "unchanged (not written)".to_string(),
        IndexAction::WouldWrite => "would write (dry run)".to_string(),
    }
}

/// The plain-text summary.
pub fn text(report: &Report, invalidation: &Invalidation) -> String {
    let mut out = String::new();
    if report.index == IndexAction::Unchanged && !report.changed() {
        out.push_str("nothing changed: every version is already published with the same digest\n");
    }
    for chart in &report.charts {
        let m = &chart.metadata;
        let _ = writeln!(out, "{} {}", m.name, m.version);
        let _ = writeln!(out, "  app version   {}", m.app_version.as_deref().unwrap_or("-"));
        let _ = writeln!(out, "  digest        sha256:{}", chart.digest);
        let _ = writeln!(out, "  package       {} ({})", chart.package_url, chart.package.describe());
        if let Some(prov) = chart.provenance {
            let _ = writeln!(out, "  provenance    {}.prov ({})", chart.package_url, prov.describe());
        }
        if let Some(oci) = &chart.oci {
            let _ = writeln!(out, "  oci           oci://{} ({})", oci.reference, oci.action.describe());
        }
    }
    if let Some(signing) = &report.signing {
        let _ = writeln!(
            out,
            "signing key    {} (published keys: {})",
            signing.fingerprint,
            signing.keyring.fingerprints().join(", ")
        );
    }
    let _ = writeln!(out, "index          {} ({})", report.index_url, index_line(report));
    let _ = writeln!(out, "invalidation   {}", invalidation.describe());
    out
}

/// The Markdown summary for `$GITHUB_STEP_SUMMARY`.
pub fn markdown(report: &Report, invalidation: &Invalidation) -> String {
    let mut out = String::from("### Helm chart release\n\n| chart | version | app version | digest | package |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for chart in &report.charts {
        let m = &chart.metadata;
        let _ = writeln!(
            out,
            "| {} | {} | {} | `sha256:{}` | [{}]({}) ({}) |",
            m.name,
            m.version,
            m.app_version.as_deref().unwrap_or("-"),
            chart.digest,
            chart.file_name,
            chart.package_url,
            chart.package.describe()
        );
    }
    if let Some(signing) = &report.signing {
        let _ = writeln!(out, "\nSigned (Helm provenance) with key `{}`:", signing.fingerprint);
        for chart in &report.charts {
            if let Some(prov) = chart.provenance {
                let _ = writeln!(out, "- [{}.prov]({}.prov): {}", chart.file_name, chart.package_url, prov.describe());
            }
        }
    }
    for chart in &report.charts {
        if let Some(oci) = &chart.oci {
            let _ = writeln!(out, "\nOCI: `oci://{}` ({})  ", oci.reference, oci.action.describe());
        }
    }
    let _ = writeln!(out, "\nIndex: {} ({})  ", report.index_url, index_line(report));
    let _ = writeln!(out, "CloudFront invalidation: {}", invalidation.describe());
    out
}

/// Print the summary; in GitHub Actions also append it to the job summary.
pub fn emit(report: &Report, invalidation: &Invalidation) -> Result<()> {
    crate::out!("\n{}", text(report, invalidation));
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening $GITHUB_STEP_SUMMARY ({})", path.to_string_lossy()))?;
        file.write_all(markdown(report, invalidation).as_bytes()).context("writing $GITHUB_STEP_SUMMARY")?;
    }
    Ok(())
}
