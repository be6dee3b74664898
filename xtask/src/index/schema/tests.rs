//! The tables of `schema` against Helm's own types.
//!
//! Helm's field lists below are read from helm/helm at tag v4.2.4 (commit 3900f434fd3e):
//! `pkg/chart/v2/metadata.go` (`Metadata`, `Maintainer`), `pkg/chart/v2/dependency.go`
//! (`Dependency`) and `pkg/repo/v1/index.go` (`ChartVersion`: `*chart.Metadata` plus its
//! own fields); each key is the field's JSON tag, in the Go declaration order. Helm 3.21.4
//! (`pkg/chart/metadata.go`, `pkg/chart/dependency.go`) has the same fields and tags.
//! When Helm adds a field, add it here and one row to its table in `schema/mod.rs`.

use chrono::TimeZone as _;
use serde_yaml::{Mapping, Value};

use super::record::Record;
use super::{ChartMetadata, Dependency, IndexEntry, Maintainer};
use crate::index::{RepoIndex, fast, metadata_yaml};
use crate::layout::IndexFormat;

/// Helm's `Metadata`: each field's key, with a value to try it with (YAML flow text).
const HELM_METADATA: &[(&str, &str)] = &[
    ("name", "demo"),
    ("home", "https://example.com/home"),
    ("sources", "[https://github.com/example/demo]"),
    ("version", "1.2.3"),
    ("description", "'A demo: one line, with a colon'"),
    ("keywords", "[demo, 'yes']"),
    ("maintainers", "[{name: Ann}]"),
    ("icon", "https://example.com/icon.png"),
    ("apiVersion", "v2"),
    ("condition", "demo.enabled"),
    ("tags", "front,back"),
    ("appVersion", "'1.10'"),
    ("deprecated", "true"),
    ("annotations", r#"{category: Infra, "artifacthub.io/links": "- name: x\n  url: y\n"}"#),
    ("kubeVersion", "'>=1.25.0-0'"),
    ("dependencies", "[{name: db, repository: 'https://charts.example'}]"),
    ("type", "application"),
];

/// Helm's `Maintainer`.
const HELM_MAINTAINER: &[(&str, &str)] =
    &[("name", "Ann"), ("email", "ann@example.com"), ("url", "https://ann.example")];

/// Helm's `Dependency`.
const HELM_DEPENDENCY: &[(&str, &str)] = &[
    ("name", "postgresql"),
    ("version", "~12.0"),
    ("repository", "https://charts.example"),
    ("condition", "db.enabled"),
    ("tags", "[database]"),
    ("enabled", "true"),
    ("import-values", "[{child: a, parent: b}, simple]"),
    ("alias", "db"),
];

/// Helm's `ChartVersion`, besides the embedded `*chart.Metadata`: `URLs`, `Created`,
/// `Removed`, `Digest` and Helm 2's `ChecksumDeprecated`, `EngineDeprecated`,
/// `TillerVersionDeprecated`, `URLDeprecated`.
const HELM_CHART_VERSION: &[(&str, &str)] = &[
    ("urls", "[https://charts.example/demo-1.2.3.tgz]"),
    ("created", "'2024-01-02T03:04:05.123456789Z'"),
    ("removed", "true"),
    ("digest", "46423699a3aa1abcaf21c5c1c88fa7f75c5de2c6bce8b056f413d8fa9e40da69"),
    ("checksum", "abc"),
    ("engine", "gotpl"),
    ("tillerVersion", "'>=2.0'"),
    ("url", "https://old.example/demo-1.2.3.tgz"),
];

fn keys(fields: &[(&str, &str)]) -> Vec<String> {
    let mut keys: Vec<String> = fields.iter().map(|(key, _)| (*key).to_string()).collect();
    keys.sort();
    keys
}

fn table_keys<R: Record>() -> Vec<String> {
    R::all_keys().iter().map(|key| (*key).to_string()).collect()
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn mapping(fields: &[(&str, &str)]) -> Mapping {
    fields.iter().map(|(key, value)| (Value::from(*key), yaml(value))).collect()
}

#[test]
fn the_tables_list_exactly_helms_fields() {
    assert_eq!(table_keys::<ChartMetadata>(), keys(HELM_METADATA), "Metadata");
    assert_eq!(table_keys::<Maintainer>(), keys(HELM_MAINTAINER), "Maintainer");
    assert_eq!(table_keys::<Dependency>(), keys(HELM_DEPENDENCY), "Dependency");
    let chart_version: Vec<(&str, &str)> = HELM_METADATA.iter().chain(HELM_CHART_VERSION).copied().collect();
    assert_eq!(table_keys::<IndexEntry>(), keys(&chart_version), "ChartVersion");
    // What the machinery assumes (`record.rs`): one level of embedding, 64 keys at most.
    assert!(<<IndexEntry as Record>::Embedded as Record>::Embedded::OWN_KEYS.is_empty());
    assert!(IndexEntry::all_keys().len() <= 64);
}

#[test]
fn table_rows_are_in_the_order_helm_writes_keys() {
    for (name, own) in [
        (ChartMetadata::NAME, ChartMetadata::OWN_KEYS),
        (Maintainer::NAME, Maintainer::OWN_KEYS),
        (Dependency::NAME, Dependency::OWN_KEYS),
        (IndexEntry::NAME, IndexEntry::OWN_KEYS),
    ] {
        assert!(own.is_sorted_by(|a, b| a < b), "{name}'s rows are not in alphabetical key order: {own:?}");
    }
}

/// An index entry with `name`, `version` and `urls`, plus `extra` (replacing those three
/// where it has them).
fn entry_with(extra: Mapping) -> Mapping {
    let mut entry = mapping(&[("name", "demo"), ("version", "1.2.3"), ("urls", "[demo-1.2.3.tgz]")]);
    entry.extend(extra);
    entry
}

/// One version of an index document, in block YAML as serde_norway writes it (so the fast
/// path takes it too).
fn index_with(entry: &Mapping) -> String {
    let doc = Value::Mapping(
        mapping(&[("apiVersion", "v1")])
            .into_iter()
            .chain([(
                Value::from("entries"),
                Value::Mapping(
                    [(Value::from("demo"), Value::Sequence(vec![Value::Mapping(entry.clone())]))].into_iter().collect(),
                ),
            )])
            .collect(),
    );
    serde_yaml::to_string(&doc).unwrap()
}

/// The one version of `written` (an index in YAML or JSON) as a generic tree.
fn written_entry(written: &[u8]) -> Mapping {
    let doc: Value = serde_yaml::from_slice(written).unwrap();
    doc["entries"]["demo"][0]
        .as_mapping()
        .cloned()
        .unwrap_or_else(|| panic!("no entry in\n{}", String::from_utf8_lossy(written)))
}

/// `entry` read by both parsers and written by both writers, and each written form read
/// back by both parsers: the model and every key and value survive. `what` names the field.
fn assert_round_trips(what: &str, entry: &Mapping) {
    let text = index_with(entry);
    let full =
        RepoIndex::parse_full(text.as_bytes()).unwrap_or_else(|err| panic!("{what}: the full parser: {err:#}\n{text}"));
    let fast = fast::parse(text.as_bytes()).unwrap_or_else(|| panic!("{what}: the fast path refused\n{text}"));
    assert_eq!(fast, full, "{what}: the two parsers disagree on\n{text}");

    let generated = chrono::Utc.timestamp_opt(0, 0).unwrap();
    let yaml = full.to_bytes_generated_at(IndexFormat::Yaml, generated).unwrap();
    let json = full.to_bytes_generated_at(IndexFormat::Json, generated).unwrap();
    for (format, written) in [("YAML", &yaml), ("JSON", &json)] {
        let shown = String::from_utf8_lossy(written);
        let out = written_entry(written);
        assert_eq!(&out, entry, "{what}: a key or value changed through the {format} writer:\n{shown}");
        let keys: Vec<&str> = out.keys().filter_map(Value::as_str).collect();
        assert!(keys.is_sorted(), "{what}: the {format} writer's keys are not in Helm's order: {keys:?}");
        let reread = RepoIndex::parse(written).unwrap_or_else(|err| panic!("{what}: reading our {format}: {err:#}"));
        assert_eq!(reread.entries, full.entries, "{what}: the model changed through the {format} writer:\n{shown}");
        let reread =
            RepoIndex::parse_full(written).unwrap_or_else(|err| panic!("{what}: reading our {format}: {err:#}"));
        assert_eq!(reread.entries, full.entries, "{what}: the full parser reads our {format} otherwise:\n{shown}");
    }
    let fast = fast::parse(&yaml).unwrap_or_else(|| panic!("{what}: the fast path refused our own YAML"));
    assert_eq!(fast.entries, full.entries, "{what}: the fast path reads our YAML otherwise");
}

/// Every field of Helm's `Metadata`, `Maintainer`, `Dependency` and `ChartVersion`, one at
/// a time and all at once, through the fast and the full parser and the YAML and the JSON
/// writer; the `Metadata` fields also through Chart.yaml's reader and the provenance
/// writer. Dropping a row from a table makes the index parsers refuse the key.
#[test]
fn every_helm_field_round_trips_through_both_parsers_and_both_writers() {
    let dependency_base = mapping(&[("name", "db"), ("repository", "https://charts.example")]);
    let mut all = Mapping::new();
    for (go_type, fields) in [("Metadata", HELM_METADATA), ("ChartVersion", HELM_CHART_VERSION)] {
        for (key, value) in fields {
            assert_round_trips(&format!("Helm's {go_type}.{key}"), &entry_with(mapping(&[(key, value)])));
            all.insert(Value::from(*key), yaml(value));
        }
    }
    for (key, value) in HELM_MAINTAINER {
        let maintainer = Value::Mapping(mapping(&[(key, value)]));
        let extra = [(Value::from("maintainers"), Value::Sequence(vec![maintainer]))].into_iter().collect();
        assert_round_trips(&format!("Helm's Maintainer.{key}"), &entry_with(extra));
    }
    for (key, value) in HELM_DEPENDENCY {
        let mut dependency = dependency_base.clone();
        dependency.insert(Value::from(*key), yaml(value));
        let extra =
            [(Value::from("dependencies"), Value::Sequence(vec![Value::Mapping(dependency)]))].into_iter().collect();
        assert_round_trips(&format!("Helm's Dependency.{key}"), &entry_with(extra));
    }
    all.insert("maintainers".into(), Value::Sequence(vec![Value::Mapping(mapping(HELM_MAINTAINER))]));
    all.insert("dependencies".into(), Value::Sequence(vec![Value::Mapping(mapping(HELM_DEPENDENCY))]));
    assert_round_trips("every field at once", &all);

    // Chart.yaml: read leniently, written as Helm marshals `chart.Metadata` (provenance).
    let mut metadata = all.clone();
    for (key, _) in HELM_CHART_VERSION {
        metadata.remove(*key);
    }
    let chart_yaml = serde_yaml::to_string(&metadata).unwrap();
    let read = ChartMetadata::from_chart_yaml(chart_yaml.as_bytes()).unwrap();
    let written = metadata_yaml(&read);
    assert_eq!(yaml(&written), Value::Mapping(metadata), "Chart.yaml through the provenance writer:\n{written}");
    assert_eq!(ChartMetadata::from_chart_yaml(written.as_bytes()).unwrap(), read);
}
