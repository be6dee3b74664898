//! The verification report: every check with its verdict and evidence, what `helm
//! search repo` will show, and the fate of every package. Rendered as text for people
//! and as JSON (`--output json`) for machines.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde::Serialize;

/// Evidence lines shown per check in the text report (JSON has them all).
const TEXT_EVIDENCE_LINES: usize = 15;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not applicable here, by request (the http -> https redirect of a plain-http URL
    /// allowed with `--allow-http`).
    Skip,
    /// Could not be evaluated: the repository did not answer, or what the check needs
    /// (the index, a package) was not obtained. Never a pass in disguise: the summary
    /// says why. JSON: `"not-run"`.
    #[serde(rename = "not-run")]
    NotRun,
    /// Informational evidence (CDN headers, what `helm search` shows): never fails.
    Info,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::NotRun => "NOT RUN",
            Status::Info => "INFO",
        }
    }
}

/// One named check. `name` is stable (scripts and tests match on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// One line: what was found.
    pub summary: String,
    /// The evidence: for a failure, each problem; otherwise what was seen.
    pub evidence: Vec<String>,
}

impl Check {
    pub fn new(name: &str, status: Status, summary: impl Into<String>) -> Check {
        Check { name: name.to_string(), status, summary: summary.into(), evidence: Vec::new() }
    }

    pub fn with_evidence(mut self, evidence: Vec<String>) -> Check {
        self.evidence = evidence;
        self
    }

    /// Pass when `problems` is empty, else fail with them as evidence.
    pub fn from_problems(name: &str, problems: Vec<String>, pass: impl Into<String>, fail: impl Into<String>) -> Check {
        if problems.is_empty() {
            Check::new(name, Status::Pass, pass)
        } else {
            Check::new(name, Status::Fail, fail).with_evidence(problems)
        }
    }
}

/// One chart as `helm search repo` presents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartSummary {
    pub name: String,
    /// Every version, newest first by SemVer.
    pub versions: Vec<String>,
    /// The version `helm search repo` shows (the newest without a pre-release part).
    pub latest_stable: Option<String>,
    /// The app version of `latest_stable`.
    pub app_version: Option<String>,
}

/// What became of one package the index names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageOutcome {
    /// Downloaded; digest, Chart.yaml and headers all match.
    Verified,
    /// The repository answers 404 for it.
    Missing,
    /// Downloaded (or tried to) but something is wrong: see `problems`.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageReport {
    pub chart: String,
    pub version: String,
    /// The first URL the index gives (what Helm downloads).
    pub index_url: String,
    /// Where it was fetched: the index URL, or the same file name under the repository
    /// URL when the index points elsewhere (which `url-consistency` reports).
    pub fetched_url: String,
    pub outcome: PackageOutcome,
    pub http_status: Option<u16>,
    /// sha256 of the bytes served.
    pub sha256: Option<String>,
    /// Set when the index URL points outside the repository and the file was looked
    /// for under the repository URL instead (the content is still judged).
    pub note: Option<String>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The repository URL checked.
    pub url: String,
    /// True when no check failed and none was left not run.
    pub passed: bool,
    pub checks: Vec<Check>,
    pub charts: Vec<ChartSummary>,
    pub packages: Vec<PackageReport>,
}

impl Report {
    pub fn new(url: &str, checks: Vec<Check>, charts: Vec<ChartSummary>, packages: Vec<PackageReport>) -> Report {
        let passed = checks.iter().all(|check| !matches!(check.status, Status::Fail | Status::NotRun));
        Report { url: url.to_string(), passed, checks, charts, packages }
    }

    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|check| check.status == Status::Fail).collect()
    }

    /// How many checks could not run.
    pub fn not_run(&self) -> usize {
        self.checks.iter().filter(|check| check.status == Status::NotRun).count()
    }

    /// `, N not run` when some checks could not run, for the one-line verdicts.
    fn not_run_note(&self) -> String {
        match self.not_run() {
            0 => String::new(),
            n => format!(", {n} not run"),
        }
    }

    /// The check called `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }

    /// `Ok(self)` when every check passed, else an error naming the failed checks (and
    /// how many could not run) with their summaries.
    pub fn into_result(self) -> Result<Report> {
        if self.passed {
            return Ok(self);
        }
        let details: Vec<String> =
            self.failures().iter().map(|check| format!("{}: {}", check.name, check.summary)).collect();
        bail!("{}: {}", self.verdict(), details.join("; "))
    }

    /// Like [`Report::into_result`], but the error only names the checks: for
    /// `verify-repo`, which has just printed the whole report, so no cause is said twice.
    pub fn into_brief_result(self) -> Result<Report> {
        if self.passed {
            return Ok(self);
        }
        bail!("{}", self.verdict())
    }

    /// `verification of URL failed: 2 checks failed (a, b), 3 not run`.
    fn verdict(&self) -> String {
        let failures = self.failures();
        let names: Vec<&str> = failures.iter().map(|check| check.name.as_str()).collect();
        match failures.len() {
            0 => format!("verification of {} is incomplete: {} check(s) not run", self.url, self.not_run()),
            n => format!(
                "verification of {} failed: {n} check{} failed ({}){}",
                self.url,
                if n == 1 { "" } else { "s" },
                names.join(", "),
                self.not_run_note()
            ),
        }
    }

    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The human report: charts, packages, then every check with its evidence.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Repository {}", self.url);
        if !self.charts.is_empty() {
            let _ = writeln!(out, "\nCharts (what `helm search repo` shows):");
            let width = self.charts.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for chart in &self.charts {
                let latest = match &chart.latest_stable {
                    Some(version) => format!("{version}  app {}", chart.app_version.as_deref().unwrap_or("(none)")),
                    None => "no stable version (listed only with --devel)".to_string(),
                };
                let _ = writeln!(
                    out,
                    "  {:width$}  {latest}  [{} version{}: {}]",
                    chart.name,
                    chart.versions.len(),
                    if chart.versions.len() == 1 { "" } else { "s" },
                    chart.versions.join(", ")
                );
            }
        }
        if !self.packages.is_empty() {
            let count = |outcome| self.packages.iter().filter(|p| p.outcome == outcome).count();
            let _ = writeln!(
                out,
                "\nPackages: {} verified, {} missing, {} failed",
                count(PackageOutcome::Verified),
                count(PackageOutcome::Missing),
                count(PackageOutcome::Failed)
            );
            let relocated = self.packages.iter().filter(|p| p.note.is_some()).count();
            if relocated > 0 {
                let _ = writeln!(
                    out,
                    "  ({relocated} index URL(s) point outside the repository: those files were looked for by name \
                     under {})",
                    self.url
                );
            }
            for package in &self.packages {
                let outcome = match package.outcome {
                    PackageOutcome::Verified => "verified",
                    PackageOutcome::Missing => "missing ",
                    PackageOutcome::Failed => "FAILED  ",
                };
                let _ = writeln!(out, "  {outcome}  {} {}  {}", package.chart, package.version, package.fetched_url);
                if package.outcome == PackageOutcome::Failed {
                    for problem in &package.problems {
                        let _ = writeln!(out, "              - {problem}");
                    }
                }
            }
        }
        let _ = writeln!(out, "\nChecks:");
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        // Labels are 4 wide unless a check did not run ("NOT RUN").
        let label = if self.not_run() > 0 { 7 } else { 4 };
        for check in &self.checks {
            let _ = writeln!(out, "  {:label$}  {:width$}  {}", check.status.label(), check.name, check.summary);
            for line in check.evidence.iter().take(TEXT_EVIDENCE_LINES) {
                let _ = writeln!(out, "  {:label$}  {:width$}  - {line}", "", "");
            }
            if check.evidence.len() > TEXT_EVIDENCE_LINES {
                let more = check.evidence.len() - TEXT_EVIDENCE_LINES;
                let _ =
                    writeln!(out, "  {:label$}  {:width$}  ... and {more} more (--output json lists them all)", "", "");
            }
        }
        let failures = self.failures();
        if failures.is_empty() && self.not_run() == 0 {
            let _ = writeln!(out, "\nAll checks passed.");
        } else if failures.is_empty() {
            let _ = writeln!(out, "\nNo check failed{}.", self.not_run_note());
        } else {
            let names: Vec<&str> = failures.iter().map(|check| check.name.as_str()).collect();
            let _ = writeln!(out, "\n{} check(s) failed: {}{}", failures.len(), names.join(", "), self.not_run_note());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of `checks` alone, without charts or packages.
    fn checks_only(url: &str, checks: Vec<Check>) -> Report {
        Report::new(url, checks, vec![], vec![])
    }

    #[test]
    fn a_report_passes_only_without_failures() {
        let ok = checks_only(
            "http://x",
            vec![
                Check::new("a", Status::Pass, "fine"),
                Check::new("cdn", Status::Info, "none"),
                Check::new("b", Status::Skip, "n/a"),
            ],
        );
        assert!(ok.passed);
        assert!(ok.into_result().is_ok());

        let bad = checks_only(
            "http://x",
            vec![
                Check::new("a", Status::Pass, "fine"),
                Check::from_problems("package-digest", vec!["x 1.0: differs".into()], "ok", "1 package differs"),
            ],
        );
        assert!(!bad.passed);
        assert!(bad.render_text().contains("FAIL  package-digest"));
        let err = format!("{:#}", bad.into_result().unwrap_err());
        assert!(err.contains("package-digest: 1 package differs"), "{err}");
    }

    #[test]
    fn json_names_every_check() {
        let report = checks_only("http://x", vec![Check::new("https", Status::Skip, "plain http allowed")]);
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(json["passed"], true);
        assert_eq!(json["checks"][0]["name"], "https");
        assert_eq!(json["checks"][0]["status"], "skip");
    }

    #[test]
    fn checks_that_could_not_run_are_shown_as_such_and_never_pass() {
        let report = checks_only(
            "http://127.0.0.1:9",
            vec![
                Check::new("index-download", Status::Fail, "cannot connect to 127.0.0.1:9: refused"),
                Check::new("hsts", Status::NotRun, "not run: the repository could not be reached"),
            ],
        );
        let text = report.render_text();
        assert!(text.contains("  NOT RUN  hsts"), "{text}");
        assert!(text.contains("  FAIL     index-download"), "{text}");
        assert!(text.contains("1 check(s) failed: index-download, 1 not run"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        assert_eq!(json["checks"][1]["status"], "not-run");
        let brief = format!("{:#}", report.clone().into_brief_result().unwrap_err());
        assert_eq!(brief, "verification of http://127.0.0.1:9 failed: 1 check failed (index-download), 1 not run");
        let full = format!("{:#}", report.into_result().unwrap_err());
        assert!(full.contains("refused"), "{full}");

        // Nothing failed but something did not run: not "All checks passed".
        let partial = checks_only("http://x", vec![Check::new("cdn", Status::NotRun, "no response")]);
        assert!(partial.render_text().contains("No check failed, 1 not run."));
        assert!(!partial.passed, "a check that did not run is not a pass");
    }
}
