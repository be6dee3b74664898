//! The index as Helm's YAML, and Chart.yaml metadata as Helm marshals it (provenance).
//!
//! Keys in alphabetical order, as Helm writes them (sigs.k8s.io/yaml sorts them), empty
//! optional ones left out; each record's keys, order and omissions come from its table in
//! `schema` ([`YamlField`] is how each field kind is written), the layout and quoting from
//! [`Emitter`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::emit::Emitter;
use super::{RepoIndex, format_time};
use crate::index::schema::ChartMetadata;
use crate::index::schema::record::Record;

/// `index` in Helm's block style, with `generated` as given.
pub fn to_string(index: &RepoIndex, generated: DateTime<Utc>) -> String {
    let mut e = Emitter::with_capacity(index.version_count() * 2048 + 256);
    if !index.annotations.is_empty() {
        e.str_map_field(0, "annotations", &index.annotations);
    }
    e.str_field(0, "apiVersion", "v1");
    e.key(0, "entries");
    if index.entries.is_empty() {
        e.out.push_str(" {}\n");
    } else {
        e.out.push('\n');
    }
    for (name, versions) in &index.entries {
        e.key(2, name);
        if versions.is_empty() {
            e.out.push_str(" []\n");
            continue;
        }
        e.out.push('\n');
        for entry in versions {
            let mark = e.begin_map_item();
            entry.write_yaml(&mut e, 4);
            e.end_map_item(mark, 2);
        }
    }
    e.str_field(0, "generated", &format_time(&generated));
    if !index.public_keys.is_empty() {
        e.str_seq_field(0, "publicKeys", &index.public_keys);
    }
    if let Some(server_info) = &index.server_info {
        e.key(0, "serverInfo");
        e.value(0, &serde_yaml::Value::Mapping(server_info.clone()));
    }
    e.out
}

/// Chart.yaml metadata as Helm marshals `chart.Metadata` (sigs.k8s.io/yaml: every key
/// Helm knows, alphabetically, empty ones omitted): the first part of a provenance file.
pub fn metadata_yaml(metadata: &ChartMetadata) -> String {
    let mut e = Emitter::with_capacity(2048);
    metadata.write_yaml(&mut e, 0);
    e.out
}

/// How a field kind is written as `key: value` at `indent`; nothing when the value is
/// empty, unless `always` (a key Helm writes even when empty).
pub trait YamlField {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool);
}

impl YamlField for Option<String> {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        self.as_deref().unwrap_or_default().write_yaml(e, indent, key, always);
    }
}

impl YamlField for String {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        self.as_str().write_yaml(e, indent, key, always);
    }
}

impl YamlField for &str {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        if always || !self.is_empty() {
            e.str_field(indent, key, self);
        }
    }
}

impl YamlField for bool {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        if *self || always {
            e.raw_field(indent, key, if *self { "true" } else { "false" });
        }
    }
}

impl YamlField for Vec<String> {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        if always || !self.is_empty() {
            e.str_seq_field(indent, key, self);
        }
    }
}

impl YamlField for BTreeMap<String, String> {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        if always || !self.is_empty() {
            e.str_map_field(indent, key, self);
        }
    }
}

/// `import-values`: any YAML values, one per item.
impl YamlField for Vec<serde_yaml::Value> {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        if always || !self.is_empty() {
            e.seq_field(indent, key, self, Emitter::seq_item);
        }
    }
}

/// A timestamp, in Go's RFC 3339 form in UTC.
impl YamlField for Option<DateTime<Utc>> {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, _always: bool) {
        if let Some(time) = self {
            e.str_field(indent, key, &format_time(time));
        }
    }
}

/// A list of records (`maintainers`, `dependencies`): each item a mapping, `{}` when it
/// has nothing to write (Helm refuses a null one).
impl<R: Record> YamlField for Vec<R> {
    fn write_yaml(&self, e: &mut Emitter, indent: usize, key: &str, always: bool) {
        if !always && self.is_empty() {
            return;
        }
        e.key(indent, key);
        if self.is_empty() {
            e.out.push_str(" []\n");
            return;
        }
        e.out.push('\n');
        let inner = indent + 2;
        for record in self {
            let mark = e.begin_map_item();
            record.write_yaml(e, inner);
            if e.out.len() == mark {
                e.out.push_str(&" ".repeat(inner));
                e.out.push_str("{}\n");
            }
            e.end_map_item(mark, indent);
        }
    }
}
