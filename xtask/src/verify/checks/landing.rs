//! The landing page at the repository root: HTML, short-lived, listing exactly the
//! (chart, version) pairs of the index, and apart exactly the versions `yanked.json` holds
//! as yanked (a yanked version on the page is not one the index lacks).

use anyhow::Result;
use reqwest::StatusCode;

use super::Verdict;
use super::evidence::{Indexed, Run, YankedFile};
use crate::index::RepoIndex;
use crate::verify::client::Fetched;
use crate::verify::policy;
use crate::yanked::YankLog;

/// `landing-page`: the root is the landing page of exactly this index.
pub(super) fn landing_page(_: &Run, indexed: &Indexed) -> Verdict {
    let (root, fetched) = &indexed.landing;
    // A record that does not parse is the `yanked` check's failure; the page is then
    // judged on the index alone.
    let no_yanks = YankLog::default();
    let yanks = match &indexed.yanked.1 {
        YankedFile::Parsed(log) => Some(log),
        YankedFile::Absent => Some(&no_yanks),
        YankedFile::Unusable(_) => None,
    };
    Verdict::from_problems(
        landing_page_problems(&indexed.index, yanks, fetched.as_ref()),
        format!(
            "{root} is the landing page and lists exactly the {} version(s) of the index",
            indexed.index.version_count()
        ),
        "the landing page does not match the index",
    )
}

/// What is wrong with the landing page served at the repository root: it must be HTML,
/// short-lived, and list exactly the (chart, version) pairs of `index`, and apart exactly
/// the yanks in force of `yanks` (when it is known).
fn landing_page_problems(
    index: &RepoIndex,
    yanks: Option<&YankLog>,
    fetched: Result<&Fetched, &anyhow::Error>,
) -> Vec<String> {
    let fetched = match fetched {
        Ok(fetched) if fetched.status == StatusCode::OK => fetched,
        Ok(fetched) => {
            return vec![format!(
                "{} answered {}: no landing page (`release-chart` or `reindex` writes index.html; CloudFront's \
                 default root object must be index.html: `cargo xtask deploy-infra`)",
                fetched.url, fetched.status
            )];
        }
        Err(err) => return vec![format!("{err:#}")],
    };
    let mut problems = policy::page_header_problems(&fetched.headers);
    let html = match fetched.decoded_body().map(String::from_utf8) {
        Ok(Ok(html)) => html,
        Ok(Err(_)) => return vec![format!("{} is not UTF-8", fetched.url)],
        Err(err) => return vec![format!("{err:#}")],
    };
    let listed = crate::landing::listed_versions(&html);
    let indexed = crate::landing::index_versions(index);
    let missing: Vec<String> = indexed.difference(&listed).map(|(c, v)| format!("{c} {v}")).collect();
    let extra: Vec<String> = listed.difference(&indexed).map(|(c, v)| format!("{c} {v}")).collect();
    let show = |list: &[String]| {
        let more = if list.len() > 5 { format!(" and {} more", list.len() - 5) } else { String::new() };
        format!("{}{more}", list.iter().take(5).cloned().collect::<Vec<_>>().join(", "))
    };
    if !missing.is_empty() {
        problems.push(format!(
            "the page does not list {} version(s) of the index: {} (run `cargo xtask reindex` to regenerate it)",
            missing.len(),
            show(&missing)
        ));
    }
    if !extra.is_empty() {
        problems.push(format!("the page lists {} version(s) the index does not: {}", extra.len(), show(&extra)));
    }
    if let Some(yanks) = yanks {
        let shown = crate::landing::yanked_versions(&html);
        let recorded = crate::landing::yanked_in(yanks);
        let unshown: Vec<String> = recorded.difference(&shown).map(|(c, v)| format!("{c} {v}")).collect();
        let not_yanked: Vec<String> = shown.difference(&recorded).map(|(c, v)| format!("{c} {v}")).collect();
        if !unshown.is_empty() {
            problems.push(format!(
                "the page does not list {} yanked version(s) of yanked.json: {} (run `cargo xtask reindex` to \
                 regenerate it)",
                unshown.len(),
                show(&unshown)
            ));
        }
        if !not_yanked.is_empty() {
            problems.push(format!(
                "the page lists {} version(s) as yanked that yanked.json does not: {}",
                not_yanked.len(),
                show(&not_yanked)
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landing::Contents;
    use crate::verify::checks::fixtures::{entry, fetched, index};

    /// The problems of a page when nothing is yanked (no yanked.json).
    fn landing_page_problems(index: &RepoIndex, fetched: Result<&Fetched, &anyhow::Error>) -> Vec<String> {
        super::landing_page_problems(index, Some(&YankLog::default()), fetched)
    }

    #[test]
    fn the_landing_page_must_list_exactly_the_index() {
        let site = crate::landing::Site::new("https://charts.kube9.io", "kube9.io");
        let full = index(vec![
            entry("kube9-operator", "0.2.0", "https://charts.kube9.io/kube9-operator-0.2.0.tgz"),
            entry("kube9-operator", "0.1.0", "https://charts.kube9.io/kube9-operator-0.1.0.tgz"),
        ]);
        let older = index(vec![entry("kube9-operator", "0.1.0", "https://charts.kube9.io/kube9-operator-0.1.0.tgz")]);
        let html_headers = [("cache-control", "public, max-age=300"), ("content-type", "text/html; charset=utf-8")];
        let page = |index: &RepoIndex| {
            fetched(200, &html_headers, crate::landing::render(&Contents::of(index), &site).as_bytes())
        };

        assert_eq!(landing_page_problems(&full, Ok(&page(&full))), Vec::<String>::new());
        let stale = landing_page_problems(&full, Ok(&page(&older))).join("\n");
        assert!(stale.contains("does not list 1 version(s)") && stale.contains("kube9-operator 0.2.0"), "{stale}");
        let extra = landing_page_problems(&older, Ok(&page(&full))).join("\n");
        assert!(extra.contains("the index does not: kube9-operator 0.2.0"), "{extra}");
        let missing = landing_page_problems(&full, Ok(&fetched(403, &[], b"AccessDenied"))).join("\n");
        assert!(missing.contains("403") && missing.contains("default root object"), "{missing}");
        let as_download = fetched(
            200,
            &[("cache-control", "max-age=300"), ("content-type", "application/octet-stream")],
            crate::landing::render(&Contents::of(&full), &site).as_bytes(),
        );
        let wrong_type = landing_page_problems(&full, Ok(&as_download)).join("\n");
        assert!(wrong_type.contains("application/octet-stream"), "{wrong_type}");
        let unreachable = anyhow::anyhow!("GET https://charts.kube9.io/: connection reset");
        assert_eq!(landing_page_problems(&full, Err(&unreachable)), ["GET https://charts.kube9.io/: connection reset"]);
    }

    /// A yanked version listed apart is no extra version; the yanked rows must be exactly
    /// the record's yanks in force.
    #[test]
    fn the_landing_page_lists_exactly_the_yanks_apart() {
        use crate::yanked::YankRecord;
        let site = crate::landing::Site::new("https://charts.kube9.io", "kube9.io");
        let one = entry("kube9-operator", "0.1.0", "https://charts.kube9.io/kube9-operator-0.1.0.tgz");
        let two = entry("kube9-operator", "0.2.0", "https://charts.kube9.io/kube9-operator-0.2.0.tgz");
        let index = index(vec![two]);
        let mut yanks = YankLog::default();
        yanks.append(YankRecord::yank(&one, "broken", None, chrono::Utc::now())).unwrap();
        let headers = [("cache-control", "public, max-age=300"), ("content-type", "text/html; charset=utf-8")];
        let page = |yanks: &YankLog| {
            let contents = Contents { index: &index, yanks, signing_keys: &[] };
            fetched(200, &headers, crate::landing::render(&contents, &site).as_bytes())
        };
        let none = YankLog::default();
        let problems = super::landing_page_problems;
        assert_eq!(problems(&index, Some(&yanks), Ok(&page(&yanks))), Vec::<String>::new());
        let unshown = problems(&index, Some(&yanks), Ok(&page(&none))).join("\n");
        assert!(
            unshown.contains("does not list 1 yanked version(s) of yanked.json: kube9-operator 0.1.0"),
            "{unshown}"
        );
        let extra = problems(&index, Some(&none), Ok(&page(&yanks))).join("\n");
        assert!(extra.contains("as yanked that yanked.json does not: kube9-operator 0.1.0"), "{extra}");
        assert_eq!(problems(&index, None, Ok(&page(&yanks))), Vec::<String>::new(), "record unknown");
    }
}
