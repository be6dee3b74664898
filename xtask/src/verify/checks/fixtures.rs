//! Hand-built inputs for the checks' unit tests: index entries, an index, the production
//! repository URL, an HTTP answer, the evidence of a parsed index.

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};

use super::evidence::{Indexed, Run, YankedFile};
use super::registry::RegistryEvidence;
use super::urls::RepoUrl;
use crate::chart::ChartMetadata;
use crate::index::{IndexEntry, RepoIndex};
use crate::verify::client::Fetched;

/// `name` `version` at `url`, with its app version equal to its version, sources naming
/// the production repository and a digest of `abab…`.
pub fn entry(name: &str, version: &str, url: &str) -> IndexEntry {
    IndexEntry {
        metadata: ChartMetadata {
            name: name.to_string(),
            version: version.to_string(),
            app_version: Some(version.to_string()),
            sources: vec!["https://charts.kube9.io".to_string()],
            ..ChartMetadata::default()
        },
        urls: vec![url.to_string()],
        digest: "ab".repeat(32),
        ..IndexEntry::default()
    }
}

/// An index of `entries`, in their order.
pub fn index(entries: Vec<IndexEntry>) -> RepoIndex {
    let mut index = RepoIndex::new();
    for entry in entries {
        index.entries.entry(entry.metadata.name.clone()).or_default().push(entry);
    }
    index
}

pub fn repo() -> RepoUrl {
    RepoUrl::parse("https://charts.kube9.io").unwrap()
}

/// An answer from `http://charts.kube9.io/index.yaml`.
pub fn fetched(status: u16, headers: &[(&'static str, &str)], body: &[u8]) -> Fetched {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, value.parse().unwrap());
    }
    Fetched {
        url: Url::parse("http://charts.kube9.io/index.yaml").unwrap(),
        status: StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: body.to_vec(),
    }
}

/// The evidence of `index` as parsed, with nothing else obtained: no package, no landing
/// page, no `yanked.json`, no registry asked. Tests fill in what they judge.
pub fn indexed(run: &Run, index: RepoIndex) -> Indexed {
    Indexed {
        index,
        charts: Vec::new(),
        packages: Vec::new(),
        landing: (run.repo.join("").unwrap(), Err(anyhow::anyhow!("not fetched"))),
        yanked: (run.repo.join(crate::layout::YANKED_KEY).unwrap(), YankedFile::Absent),
        registry: RegistryEvidence::default(),
    }
}
