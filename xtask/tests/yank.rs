//! Yanked versions as users and `verify-repo` see them, end to end: a local repository
//! made by the real `release-chart --local` and `yank --local`, served by `serve`'s server,
//! read by real Helm 3 and Helm 4 (`search repo --versions`, `pull --version`, `template`,
//! `install --dry-run=client`, a pull by the pinned package URL) and judged by
//! `verify-repo` (`yanked`, `landing-page`). The commands themselves, on S3 and on a folder,
//! racing releases, are tested in `release.rs`.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links every dependency of its package and uses a few"
)]

use std::path::Path;
use std::process::Output;

use xtask_dev::harness::Helm;

mod support;
use support::{Served, assert_fails_with, assert_ok, check, text};

const CHART: &str = "yank-demo";

impl Served {
    /// `xtask COMMAND --local REPO --url URL ARGS…`.
    fn xtask(&self, command: &str, args: &[&str]) -> Output {
        let local = ["--local", self.repo.to_str().unwrap(), "--url", &self.url];
        support::run(&[&[command][..], &local, args].concat())
    }

    fn release(&self, version: &str) {
        let chart = support::chart_at(self.work.path(), CHART, version);
        assert_ok(&self.xtask("release-chart", &["--chart", chart.to_str().unwrap()]));
    }

    /// `verify-repo --output json` of the served repository: whether it passed, and the report.
    fn verify(&self) -> (bool, serde_json::Value) {
        let output = support::run(&["verify-repo", "--url", &self.url, "--allow-http", "--output", "json"]);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", text(&output)));
        (output.status.success(), report)
    }
}

/// The versions `helm search repo CHART --versions` lists (its second column).
fn searched(helm: &Helm) -> Vec<String> {
    let search = helm.run(&["search", "repo", &format!("kube9/{CHART}"), "--versions"]).unwrap();
    search.lines().skip(1).filter_map(|line| line.split_whitespace().nth(1)).map(str::to_string).collect()
}

fn pull(helm: &Helm, version: &str, dest: &Path) -> Output {
    let dest = dest.join(format!("helm{}-{version}", helm.major));
    std::fs::create_dir_all(&dest).unwrap();
    let chart = format!("kube9/{CHART}");
    helm.command().args(["pull", &chart, "--version", version, "-d", dest.to_str().unwrap()]).output().unwrap()
}

#[test]
fn helm_3_and_4_no_longer_offer_a_yanked_version_and_the_others_install() {
    let served = Served::new();
    served.release("1.0.0");
    served.release("1.1.0");
    let package = std::fs::read(served.path(&format!("{CHART}-1.0.0.tgz"))).unwrap();
    let yanked = served.xtask("yank", &[CHART, "1.0.0", "--reason", "the upgrade deletes the CRDs; use 1.1.0"]);
    assert_ok(&yanked);
    let dest = served.work.path().join("pulled");

    for helm in Helm::both().expect("Helm 3 and 4 (run `cargo xtask test`)") {
        helm.run(&["repo", "add", "kube9", &served.url]).unwrap();
        assert_eq!(searched(&helm), ["1.1.0"], "Helm {} still offers the yanked version", helm.major);
        let refused = pull(&helm, "1.0.0", &dest);
        assert!(!refused.status.success(), "Helm {} pulled a yanked version:\n{}", helm.major, text(&refused));
        assert!(text(&refused).contains("1.0.0"), "Helm {}: {}", helm.major, text(&refused));
        assert_ok(&pull(&helm, "1.1.0", &dest));
        let chart = format!("kube9/{CHART}");
        let manifest = helm.run(&["template", "demo", &chart, "--version", "1.1.0"]).unwrap();
        assert!(manifest.contains("kind: Deployment"), "Helm {}: {manifest}", helm.major);
        if helm.major == 4 {
            // --dry-run=client renders without a cluster.
            let installed = helm.run(&["install", "demo", &chart, "--version", "1.1.0", "--dry-run=client"]).unwrap();
            assert!(installed.contains("kind: Deployment"), "{installed}");
        }
        // A download pinned by URL keeps working, with the same bytes.
        let pinned = dest.join(format!("pinned-{}", helm.major));
        std::fs::create_dir_all(&pinned).unwrap();
        let url = format!("{}/{CHART}-1.0.0.tgz", served.url);
        helm.run(&["pull", &url, "-d", pinned.to_str().unwrap()]).unwrap();
        assert_eq!(std::fs::read(pinned.join(format!("{CHART}-1.0.0.tgz"))).unwrap(), package);
    }

    let (passed, report) = served.verify();
    assert!(passed, "{report:#}");
    let (status, yanked) = check(&report, "yanked");
    assert!(status == "pass" && yanked.contains("1 version(s) yanked, none in the index"), "{yanked}");
    assert!(yanked.contains("the upgrade deletes the CRDs"), "{yanked}");
    assert_eq!(check(&report, "landing-page").0, "pass");

    // Undone: Helm offers it again, and pulls the same bytes.
    assert_ok(&served.xtask("yank", &[CHART, "1.0.0", "--undo"]));
    for helm in Helm::both().unwrap() {
        helm.run(&["repo", "add", "kube9", &served.url]).unwrap();
        assert_eq!(searched(&helm), ["1.1.0", "1.0.0"], "Helm {}", helm.major);
        assert_ok(&pull(&helm, "1.0.0", &dest.join("undone")));
        let pulled = dest.join("undone").join(format!("helm{}-1.0.0", helm.major)).join(format!("{CHART}-1.0.0.tgz"));
        assert_eq!(std::fs::read(pulled).unwrap(), package);
    }
    let (passed, report) = served.verify();
    assert!(passed && check(&report, "yanked").1.contains("0 version(s) yanked"), "{report:#}");
}

#[test]
fn verify_repo_checks_yanked_json_and_a_broken_one_stops_every_writer() {
    let served = Served::new();
    served.release("1.0.0");
    // Nothing yanked yet: no yanked.json, and the check passes.
    let (passed, report) = served.verify();
    let (status, yanked) = check(&report, "yanked");
    assert!(passed && status == "pass" && yanked.contains("no version is yanked"), "{report:#}");

    served.release("1.1.0");
    let index_before = std::fs::read(served.path("index.yaml")).unwrap();
    assert_ok(&served.xtask("yank", &[CHART, "1.0.0", "--reason", "broken"]));
    let (passed, _) = served.verify();
    assert!(passed);
    // repo-index over the folder (every .tgz in it) keeps the yanked version out too.
    let repo = served.repo.to_str().unwrap();
    let indexed = support::run(&["repo-index", repo, "--url", &served.url]);
    assert_ok(&indexed);
    assert!(text(&indexed).contains("1 yanked (kept out)"), "{}", text(&indexed));
    let index = xtask::index::RepoIndex::parse(&std::fs::read(served.path("index.yaml")).unwrap()).unwrap();
    assert!(index.get(CHART, "1.0.0").is_none() && index.get(CHART, "1.1.0").is_some());
    let (passed, report) = served.verify();
    assert!(passed, "{report:#}");

    // The yanked version back in the index behind the record's back: both checks see it.
    let index_after = std::fs::read(served.path("index.yaml")).unwrap();
    std::fs::write(served.path("index.yaml"), &index_before).unwrap();
    let (passed, report) = served.verify();
    let (status, yanked) = check(&report, "yanked");
    assert!(!passed && status == "fail", "{report:#}");
    assert!(yanked.contains(&format!("{CHART} 1.0.0 is yanked")) && yanked.contains("still lists it"), "{yanked}");
    assert!(yanked.contains(&format!("cargo xtask yank {CHART} 1.0.0")), "the fix: {yanked}");
    std::fs::write(served.path("index.yaml"), &index_after).unwrap();

    // A record that does not parse: verify-repo fails, and no command overwrites it.
    let record = std::fs::read(served.path("yanked.json")).unwrap();
    let broken = &record[..record.len() / 2];
    std::fs::write(served.path("yanked.json"), broken).unwrap();
    let (passed, report) = served.verify();
    let (status, yanked) = check(&report, "yanked");
    assert!(!passed && status == "fail" && yanked.contains("does not parse"), "{report:#}");
    let chart = support::chart_at(served.work.path(), CHART, "1.2.0");
    let never = ["does not parse", "left untouched"];
    assert_fails_with(&served.xtask("release-chart", &["--chart", chart.to_str().unwrap()]), &never);
    assert_fails_with(&served.xtask("yank", &[CHART, "1.1.0", "--reason", "x"]), &never);
    assert_fails_with(&served.xtask("reindex", &[]), &never);
    assert_fails_with(&support::run(&["repo-index", repo, "--url", &served.url]), &["yanked.json does not parse"]);
    assert_eq!(std::fs::read(served.path("yanked.json")).unwrap(), broken, "a broken record is never overwritten");
    assert!(!served.path(&format!("{CHART}-1.2.0.tgz")).exists(), "nothing was published");
}
