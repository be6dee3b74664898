//! `yanked.json`, the record of `cargo xtask yank`: it parses, and no version it holds as
//! yanked is still in the index. A repository without it has yanked nothing, which passes.
//! A yanked version is not missing from the index (it was taken out on purpose) and its
//! package, still stored, is no orphan: the other checks judge the index as it is.

use anyhow::Result;
use reqwest::StatusCode;

use super::Verdict;
use super::evidence::{Indexed, Run, YankedFile};
use crate::verify::client::Fetched;
use crate::verify::report::Status;
use crate::yanked::YankLog;

/// `yanked.json` as the runner obtained it.
pub(super) fn yanked_file(fetched: Result<Fetched>) -> YankedFile {
    match fetched {
        Ok(fetched) if fetched.status == StatusCode::NOT_FOUND => YankedFile::Absent,
        Ok(fetched) if fetched.status == StatusCode::OK => {
            match fetched.decoded_body().and_then(|body| YankLog::parse(&body)) {
                Ok(log) => YankedFile::Parsed(log),
                Err(err) => YankedFile::Unusable(format!("{} does not parse: {err:#}", fetched.url)),
            }
        }
        Ok(fetched) => YankedFile::Unusable(format!("GET {} answered {}", fetched.url, fetched.status)),
        Err(err) => YankedFile::Unusable(format!("{err:#}")),
    }
}

/// `yanked`: the record parses, no yanked version is in the index; how many are yanked.
pub(super) fn yanked(_: &Run, indexed: &Indexed) -> Verdict {
    let (url, file) = &indexed.yanked;
    let log = match file {
        YankedFile::Absent => return Verdict::new(Status::Pass, format!("no {url}: no version is yanked")),
        YankedFile::Unusable(why) => return Verdict::new(Status::Fail, why.clone()),
        YankedFile::Parsed(log) => log,
    };
    let active = log.active();
    let listed: Vec<String> = active
        .iter()
        .filter(|yank| indexed.index.get(&yank.chart, &yank.version).is_some())
        .map(|yank| {
            format!(
                "{} is {}, but the index still lists it (a yank stopped before the index: run `cargo xtask yank {} {}` \
                 again to complete it)",
                yank.what(),
                yank.when_and_why(),
                yank.chart,
                yank.version
            )
        })
        .collect();
    if !listed.is_empty() {
        return Verdict::new(Status::Fail, format!("{} yanked version(s) still in the index", listed.len()))
            .with_evidence(listed);
    }
    let evidence = active.iter().map(|yank| format!("{}: {}", yank.what(), yank.when_and_why())).collect();
    Verdict::new(
        Status::Pass,
        format!("{} version(s) yanked, none in the index ({} record(s) in {url})", active.len(), log.records.len()),
    )
    .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyOptions;
    use crate::verify::checks::evidence::Scope;
    use crate::verify::checks::fixtures::{entry, fetched, index, indexed};
    use crate::yanked::YankRecord;

    fn judge(file: YankedFile, listed: Vec<crate::index::IndexEntry>) -> Verdict {
        let opts = VerifyOptions::default();
        let run = Run::new("https://charts.kube9.io", Scope::default(), &opts).unwrap();
        let indexed = Indexed { yanked: (run.repo.join("yanked.json").unwrap(), file), ..indexed(&run, index(listed)) };
        yanked(&run, &indexed)
    }

    #[test]
    fn yanked_versions_must_be_out_of_the_index_and_no_record_passes() {
        let one = entry("a", "1.0.0", "https://charts.kube9.io/a-1.0.0.tgz");
        let two = entry("a", "2.0.0", "https://charts.kube9.io/a-2.0.0.tgz");
        let mut log = YankLog::default();
        log.append(YankRecord::yank(&one, "broken", Some("octocat".into()), chrono::Utc::now())).unwrap();

        let absent = judge(yanked_file(Ok(fetched(404, &[], b""))), vec![one.clone()]);
        assert_eq!(absent.status, Status::Pass, "{absent:?}");
        assert!(absent.summary.contains("no version is yanked"), "{absent:?}");

        let fine = judge(yanked_file(Ok(fetched(200, &[], &log.to_bytes()))), vec![two.clone()]);
        assert_eq!(fine.status, Status::Pass, "{fine:?}");
        assert!(fine.summary.starts_with("1 version(s) yanked, none in the index"), "{fine:?}");
        assert!(fine.evidence[0].starts_with("a 1.0.0: yanked ") && fine.evidence[0].ends_with("by octocat: broken"));

        let still = judge(YankedFile::Parsed(log.clone()), vec![two, one.clone()]);
        assert_eq!(still.status, Status::Fail, "{still:?}");
        assert!(still.evidence[0].contains("a 1.0.0 is yanked") && still.evidence[0].contains("still lists it"));

        let broken = judge(yanked_file(Ok(fetched(200, &[], b"{\"apiVersion\": \"v1\""))), vec![one.clone()]);
        assert_eq!(broken.status, Status::Fail);
        assert!(broken.summary.contains("does not parse"), "{broken:?}");
        let forbidden = judge(yanked_file(Ok(fetched(403, &[], b""))), vec![one]);
        assert_eq!(forbidden.status, Status::Fail);
        assert!(forbidden.summary.contains("403"), "{forbidden:?}");
    }
}
