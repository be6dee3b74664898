//! `index.yaml`: it downloads and parses as Helm reads it, its versions are SemVer and
//! newest first, it lists what was asked for, its package URLs lie under the repository
//! and its charts name the repository in `sources`; and what `helm search repo` shows.

use super::Verdict;
use super::evidence::{Evidence, IndexAnswer, IndexFile, Indexed, NoAnswer, Run, Scope};
use super::transport::{tls_hint, unreachable_hint};
use super::urls::url_problems;
use crate::index::{IndexEntry, RepoIndex};
use crate::verify::report::{ChartSummary, Status};

/// `index-download`: `GET index.yaml` answers 200, anonymously. When nothing answered,
/// this is where the cause is said (a TLS failure on an https URL is said in `https`).
pub(super) fn download(run: &Run, evidence: &Evidence) -> Verdict {
    let index_url = &run.index_url;
    match evidence {
        Evidence::NoAnswer(why @ NoAnswer::Tls(_)) if run.repo.is_https() => {
            Verdict::new(Status::NotRun, format!("{}: see https", why.reason()))
        }
        Evidence::NoAnswer(NoAnswer::Tls(failure)) => {
            Verdict::new(Status::Fail, format!("{failure}; {}", tls_hint(failure)))
        }
        Evidence::NoAnswer(NoAnswer::Unreachable(cause)) => {
            Verdict::new(Status::Fail, format!("{cause}; {}", unreachable_hint(&run.repo)))
        }
        Evidence::Answered(answered) => match &answered.index {
            IndexAnswer::File(file) => Verdict::new(
                Status::Pass,
                format!("GET {index_url}: 200, {} bytes, anonymously", file.fetched.body.len()),
            ),
            IndexAnswer::Status(fetched) => {
                Verdict::new(Status::Fail, format!("GET {index_url} answered {}", fetched.status))
            }
            IndexAnswer::Failed(err) => Verdict::new(Status::Fail, err.clone()),
        },
    }
}

/// `index-parse`: the index parses as Helm reads it.
pub(super) fn parse(_: &Run, file: &IndexFile) -> Verdict {
    match &file.parsed {
        Ok(indexed) => Verdict::new(
            Status::Pass,
            format!(
                "index.yaml parses as Helm reads it: {} chart(s), {} version(s)",
                indexed.index.entries.len(),
                indexed.index.version_count()
            ),
        ),
        Err(err) => Verdict::new(Status::Fail, format!("index.yaml does not parse: {err:#}")),
    }
}

/// `semver`: every version is SemVer 2, every entry carries its chart's name.
pub(super) fn semver(_: &Run, indexed: &Indexed) -> Verdict {
    Verdict::from_problems(
        semver_problems(&indexed.index),
        "every version is SemVer 2 and every entry carries its chart's name",
        "some versions are not SemVer 2 or entries are misnamed",
    )
}

/// `version-order`: newest first, each version once.
pub(super) fn version_order(_: &Run, indexed: &Indexed) -> Verdict {
    Verdict::from_problems(
        order_problems(&indexed.index),
        "every chart lists its versions newest first, each once",
        "versions are out of order or duplicated",
    )
}

/// `search`: what `helm search repo` shows for the first charts (INFO).
pub(super) fn search(_: &Run, indexed: &Indexed) -> Verdict {
    let charts = &indexed.charts;
    let shown: Vec<String> = charts
        .iter()
        .take(3)
        .map(|c| match &c.latest_stable {
            Some(v) => format!("{} {v} (app {})", c.name, c.app_version.as_deref().unwrap_or("none")),
            None => format!("{} (no stable version: only with --devel)", c.name),
        })
        .collect();
    let more = if charts.len() > 3 { format!(", and {} more", charts.len() - 3) } else { String::new() };
    Verdict::new(
        Status::Info,
        format!(
            "`helm search repo` shows {}{more}",
            if shown.is_empty() { "nothing".to_string() } else { shown.join(", ") }
        ),
    )
}

/// `chart-present`: the index lists the chart of `--chart`.
pub(super) fn chart_present(run: &Run, indexed: &Indexed) -> Verdict {
    let Some(chart) = &run.scope.chart else {
        return Verdict::new(Status::NotRun, "no chart asked for");
    };
    match indexed.index.entries.get(chart) {
        None => Verdict::new(Status::Fail, format!("the index has no chart {chart:?}")),
        Some(entries) => Verdict::new(Status::Pass, format!("the index lists {} version(s) of {chart}", entries.len())),
    }
}

/// `release-present`: the index lists the version just released.
pub(super) fn release_present(run: &Run, indexed: &Indexed) -> Verdict {
    let (Some(chart), Some(version)) = (&run.scope.chart, &run.scope.version) else {
        return Verdict::new(Status::NotRun, "no release asked for");
    };
    match indexed.index.entries.get(chart) {
        None => Verdict::new(Status::Fail, format!("the index has no chart {chart:?}")),
        Some(entries) if entries.iter().any(|e| &e.metadata.version == version) => {
            Verdict::new(Status::Pass, format!("the index lists {chart} {version}"))
        }
        Some(_) => Verdict::new(Status::Fail, format!("the index does not list {chart} {version}")),
    }
}

/// `url-consistency`: every package URL lies under the repository URL.
pub(super) fn url_consistency(run: &Run, indexed: &Indexed) -> Verdict {
    let repo = run.repo.as_str();
    Verdict::from_problems(
        url_problems(&indexed.index, &run.repo),
        format!("every package URL lies under {repo}"),
        format!("package URLs point outside {repo}"),
    )
}

/// `chart-sources`: the charts in scope name the repository URL (or the public one).
pub(super) fn chart_sources(run: &Run, indexed: &Indexed) -> Verdict {
    let mut accepted = vec![run.repo.as_str().to_string()];
    if let Some(public) = &run.opts.public_url
        && !accepted.iter().any(|a| a.eq_ignore_ascii_case(public.trim_end_matches('/')))
    {
        accepted.push(public.trim_end_matches('/').to_string());
    }
    Verdict::from_problems(
        source_problems(&indexed.index, &run.scope, &accepted),
        format!("every chart's sources name {}", accepted.join(" or ")),
        "some charts' sources do not name the repository URL",
    )
}

/// Entries whose Chart.yaml `sources` name none of `accepted` (the repository URL and
/// the public `https://{domain}`), one line per chart.
fn source_problems(index: &RepoIndex, scope: &Scope, accepted: &[String]) -> Vec<String> {
    let normalise = |url: &str| url.trim().trim_end_matches('/').to_ascii_lowercase();
    let accepted: Vec<String> = accepted.iter().map(|url| normalise(url)).collect();
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        let lacking: Vec<&IndexEntry> = entries
            .iter()
            .filter(|entry| scope.includes(chart, &entry.metadata.version))
            .filter(|entry| !entry.metadata.sources.iter().any(|source| accepted.contains(&normalise(source))))
            .collect();
        if lacking.is_empty() {
            continue;
        }
        let versions: Vec<&str> = lacking.iter().map(|entry| entry.metadata.version.as_str()).collect();
        problems.push(format!(
            "{chart} {}: sources {:?} do not name {}",
            versions.join(", "),
            lacking[0].metadata.sources,
            accepted.join(" or ")
        ));
    }
    problems
}

/// Versions that are not SemVer 2 (Helm reads some of them leniently, but then orders
/// and compares them differently than the publisher meant).
fn semver_problems(index: &RepoIndex) -> Vec<String> {
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        for entry in entries {
            if let Err(err) = semver::Version::parse(&entry.metadata.version) {
                problems.push(format!("{chart} {:?}: not SemVer 2 ({err})", entry.metadata.version));
            }
            if entry.metadata.name != *chart {
                problems.push(format!(
                    "{chart} {}: the entry is named {:?}, not {chart:?}",
                    entry.metadata.version, entry.metadata.name
                ));
            }
        }
    }
    problems
}

/// Charts whose versions are not newest first by SemVer, or list a version twice.
fn order_problems(index: &RepoIndex) -> Vec<String> {
    let mut problems = Vec::new();
    for (chart, entries) in &index.entries {
        let versions: Vec<(&str, Option<semver::Version>)> = entries
            .iter()
            .map(|entry| (entry.metadata.version.as_str(), semver::Version::parse(&entry.metadata.version).ok()))
            .collect();
        for pair in versions.windows(2) {
            let ((a, va), (b, vb)) = (&pair[0], &pair[1]);
            if let (Some(va), Some(vb)) = (va, vb) {
                match va.cmp_precedence(vb) {
                    std::cmp::Ordering::Less => problems.push(format!("{chart}: {a} is listed before the newer {b}")),
                    std::cmp::Ordering::Equal => problems.push(format!("{chart}: version {a} is listed twice ({b})")),
                    std::cmp::Ordering::Greater => {}
                }
            }
        }
    }
    problems
}

/// What `helm search repo` shows for each chart in scope: versions newest first, the
/// newest stable version and its app version.
pub(super) fn summaries(index: &RepoIndex, scope: &Scope) -> Vec<ChartSummary> {
    index
        .entries
        .iter()
        .filter(|(chart, _)| scope.chart.as_deref().is_none_or(|c| c == chart.as_str()))
        .map(|(chart, entries)| {
            let mut sorted: Vec<(&IndexEntry, Option<semver::Version>)> =
                entries.iter().map(|entry| (entry, semver::Version::parse(&entry.metadata.version).ok())).collect();
            // Newest first; versions that do not parse go last, in index order.
            sorted.sort_by(|(_, a), (_, b)| match (a, b) {
                (Some(a), Some(b)) => b.cmp_precedence(a),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
            let latest = sorted.iter().find(|(_, v)| v.as_ref().is_some_and(|v| v.pre.is_empty())).map(|(e, _)| *e);
            ChartSummary {
                name: chart.clone(),
                versions: sorted.iter().map(|(entry, _)| entry.metadata.version.clone()).collect(),
                latest_stable: latest.map(|entry| entry.metadata.version.clone()),
                app_version: latest.and_then(|entry| entry.metadata.app_version.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::checks::fixtures::{entry, index};

    #[test]
    fn sources_must_name_the_repository() {
        let mut index = index(vec![entry("a", "1.0.0", "x"), entry("a", "0.9.0", "y"), entry("b", "1.0.0", "z")]);
        let accepted = vec!["http://127.0.0.1:8879".to_string(), "https://charts.kube9.io".to_string()];
        assert!(source_problems(&index, &Scope::default(), &accepted).is_empty());
        index.entries.get_mut("a").unwrap()[1].metadata.sources =
            vec!["https://github.com/kube9/kube9-operator".into()];
        let problems = source_problems(&index, &Scope::default(), &accepted);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("a 0.9.0: sources"), "{problems:?}");
        // A release scope only looks at its own version.
        let scope = Scope { chart: Some("a".into()), version: Some("1.0.0".into()) };
        assert!(source_problems(&index, &scope, &accepted).is_empty());
    }

    #[test]
    fn versions_must_be_semver_newest_first_and_unique() {
        let good = index(vec![entry("a", "1.10.0", "x"), entry("a", "1.9.0", "x"), entry("a", "1.9.0-rc.1", "x")]);
        assert!(semver_problems(&good).is_empty());
        assert!(order_problems(&good).is_empty());

        let bad = index(vec![entry("a", "1.9.0", "x"), entry("a", "1.10.0", "x"), entry("a", "1.10.0", "x")]);
        let problems = order_problems(&bad);
        assert_eq!(
            problems,
            ["a: 1.9.0 is listed before the newer 1.10.0", "a: version 1.10.0 is listed twice (1.10.0)"]
        );

        let mut lenient = index(vec![entry("a", "v1.0", "x")]);
        lenient.entries.get_mut("a").unwrap()[0].metadata.name = "b".into();
        let problems = semver_problems(&lenient);
        assert!(problems[0].contains("\"v1.0\": not SemVer 2"), "{problems:?}");
        assert!(problems[1].contains("named \"b\""), "{problems:?}");
    }

    #[test]
    fn search_shows_the_newest_stable_version_and_its_app_version() {
        let mut index = index(vec![entry("a", "1.0.0", "x"), entry("a", "2.0.0-rc.1", "x"), entry("a", "1.2.0", "x")]);
        index.entries.get_mut("a").unwrap()[2].metadata.app_version = Some("v9".into());
        index.entries.insert("pre".into(), vec![entry("pre", "0.1.0-alpha", "x")]);
        let charts = summaries(&index, &Scope::default());
        assert_eq!(charts[0].versions, ["2.0.0-rc.1", "1.2.0", "1.0.0"]);
        assert_eq!(charts[0].latest_stable.as_deref(), Some("1.2.0"));
        assert_eq!(charts[0].app_version.as_deref(), Some("v9"));
        assert_eq!(charts[1].latest_stable, None);
        let only_a = summaries(&index, &Scope { chart: Some("a".into()), version: None });
        assert_eq!(only_a.len(), 1);
    }
}
