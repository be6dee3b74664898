//! Helm's chart schema, written once: Chart.yaml's metadata (Helm's `Metadata`,
//! `Maintainer`, `Dependency` in `pkg/chart/v2`) and an index entry (Helm's `ChartVersion`
//! in `pkg/repo/v1`: the metadata plus `urls`, `created`, `removed`, `digest` and Helm 2's
//! deprecated keys).
//!
//! Each type is one table below: one row per key, as Helm's JSON tag spells it, with the
//! Rust field and its kind. `record::helm_record!` makes the struct and everything that
//! reads or writes it from that row: the fast block-YAML parser's field dispatch
//! (`index/fast.rs`), the full serde parser for Chart.yaml and indexes (`de.rs`), Helm's
//! YAML with its key order, omissions and quoting (`index/yaml.rs`) and the compact JSON
//! (`index/json.rs`). **Adding a key Helm knows is one row here**; nothing else lists keys.
//!
//! Rules every row follows (Helm's, checked by `tests.rs` against Helm's own field list):
//! - rows are in alphabetical key order, the order Helm writes keys in;
//! - an empty value (`None`, `""`, `false`, an empty list or map) is not written, as
//!   `omitempty` in Helm's tags; `always` marks the keys Helm writes even when empty;
//! - an index refuses a key not in these tables, as Helm's strict decoder does; a
//!   Chart.yaml ignores it, as Helm's chart loader does.

pub mod de;
pub mod record;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use record::helm_record;

helm_record! {
    /// Chart.yaml metadata, as Helm's `chart.Metadata` (every field Helm knows).
    ///
    /// Reading is lenient like Helm's Chart.yaml loader (unknown keys are dropped); the
    /// index reads these same fields strictly (see `index`).
    pub struct ChartMetadata {
        "annotations" => annotations: BTreeMap<String, String>,
        "apiVersion" => api_version: Option<String>,
        "appVersion" => app_version: Option<String>,
        "condition" => condition: Option<String>,
        "dependencies" => dependencies: Vec<Dependency>,
        "deprecated" => deprecated: bool,
        "description" => description: Option<String>,
        "home" => home: Option<String>,
        "icon" => icon: Option<String>,
        "keywords" => keywords: Vec<String>,
        "kubeVersion" => kube_version: Option<String>,
        "maintainers" => maintainers: Vec<Maintainer>,
        "name" => name: String,
        "sources" => sources: Vec<String>,
        "tags" => tags: Option<String>,
        "type" => chart_type: Option<String>,
        "version" => version: String,
    }
}

helm_record! {
    /// A chart maintainer (`maintainers[]`), as Helm's `chart.Maintainer`.
    pub struct Maintainer {
        "email" => email: Option<String>,
        "name" => name: Option<String>,
        "url" => url: Option<String>,
    }
}

helm_record! {
    /// A chart dependency (`dependencies[]`), as Helm's `chart.Dependency`.
    pub struct Dependency {
        "alias" => alias: Option<String>,
        "condition" => condition: Option<String>,
        "enabled" => enabled: bool,
        /// Strings or `{child, parent}` maps; kept as YAML values.
        "import-values" => import_values: Vec<serde_yaml::Value>,
        /// Helm always writes `name` and `repository`, even when empty.
        "name" always => name: String,
        "repository" always => repository: String,
        "tags" => tags: Vec<String>,
        "version" => version: Option<String>,
    }
}

helm_record! {
    /// One version of one chart in the index, as Helm's `repo.ChartVersion`: the chart's
    /// metadata with the index's own keys merged in among them.
    pub struct IndexEntry {
        embed metadata: ChartMetadata;
        /// Helm 2's `checksum` (deprecated; Helm 3 and 4 still accept it, and we keep it).
        "checksum" => checksum: Option<String>,
        "created" => created: Option<DateTime<Utc>>,
        "digest" => digest: String,
        /// Helm 2's `engine` (deprecated, kept).
        "engine" => engine: Option<String>,
        /// Helm's `removed` flag (kept, never set by us).
        "removed" => removed: bool,
        /// Helm 2's `tillerVersion` (deprecated, kept).
        "tillerVersion" => tiller_version: Option<String>,
        /// Helm 2's single `url` (deprecated, kept).
        "url" => url: Option<String>,
        /// Helm writes `urls` even when empty.
        "urls" always => urls: Vec<String>,
    }
}

#[cfg(test)]
mod tests;
