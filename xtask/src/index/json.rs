//! The index as compact JSON, which Helm ≥ 3.13 reads through its fast path.
//!
//! Helm's `loadIndex` (`pkg/repo/v1/index.go`, `jsonOrYamlUnmarshal`) checks
//! `json.Valid(data)` and then decodes with `encoding/json` instead of its YAML parser,
//! several times faster on large indexes. JSON is also YAML, so every older Helm and every
//! YAML tool still reads the same file. Key names and omissions follow Helm's JSON tags
//! (`IndexFile`, `ChartVersion`, `chart.Metadata`, `chart.Dependency`): `apiVersion`,
//! `entries`, `generated` always; `urls` always per version; the rest `omitempty`.
//! Timestamps are RFC 3339 in UTC, as Go's `time.Time` marshals them. Each version's keys
//! and omissions come from its table in `schema` ([`JsonField`] is how each field kind is
//! written).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{IndexEntry, RepoIndex, format_time};
use crate::index::schema::record::Record;

/// Serialise `index` as one line of JSON (plus a final newline).
pub fn to_bytes(index: &RepoIndex, generated: DateTime<Utc>) -> Vec<u8> {
    let mut root = Map::new();
    if !index.annotations.is_empty() {
        root.insert("annotations".into(), str_map(&index.annotations));
    }
    root.insert("apiVersion".into(), "v1".into());
    let entries: Map<String, Value> = index
        .entries
        .iter()
        .map(|(name, versions)| (name.clone(), Value::Array(versions.iter().map(entry).collect())))
        .collect();
    root.insert("entries".into(), Value::Object(entries));
    root.insert("generated".into(), format_time(&generated).into());
    if !index.public_keys.is_empty() {
        root.insert("publicKeys".into(), strs(&index.public_keys));
    }
    if let Some(server_info) = &index.server_info {
        root.insert("serverInfo".into(), yaml_to_json(&serde_yaml::Value::Mapping(server_info.clone())));
    }
    let mut out = serde_json::to_vec(&Value::Object(root)).expect("a JSON value always serialises");
    out.push(b'\n');
    out
}

/// One version as a JSON object ([`IndexEntry::to_json`]).
pub(super) fn entry(entry: &IndexEntry) -> Value {
    let mut out = Map::new();
    entry.write_json(&mut out);
    Value::Object(out)
}

/// How a field kind is written as a JSON value; `None` (the key left out) when it is
/// empty, unless `always` (Helm's tag has no `omitempty`).
pub trait JsonField {
    fn to_json(&self, always: bool) -> Option<Value>;
}

impl JsonField for Option<String> {
    fn to_json(&self, always: bool) -> Option<Value> {
        self.as_deref().unwrap_or_default().to_json(always)
    }
}

impl JsonField for String {
    fn to_json(&self, always: bool) -> Option<Value> {
        self.as_str().to_json(always)
    }
}

impl JsonField for &str {
    fn to_json(&self, always: bool) -> Option<Value> {
        (always || !self.is_empty()).then(|| Value::String((*self).to_string()))
    }
}

impl JsonField for bool {
    fn to_json(&self, always: bool) -> Option<Value> {
        (always || *self).then_some(Value::Bool(*self))
    }
}

impl JsonField for Vec<String> {
    fn to_json(&self, always: bool) -> Option<Value> {
        (always || !self.is_empty()).then(|| strs(self))
    }
}

impl JsonField for BTreeMap<String, String> {
    fn to_json(&self, always: bool) -> Option<Value> {
        (always || !self.is_empty()).then(|| str_map(self))
    }
}

impl JsonField for Vec<serde_yaml::Value> {
    fn to_json(&self, always: bool) -> Option<Value> {
        (always || !self.is_empty()).then(|| Value::Array(self.iter().map(yaml_to_json).collect()))
    }
}

impl JsonField for Option<DateTime<Utc>> {
    fn to_json(&self, _always: bool) -> Option<Value> {
        self.as_ref().map(|time| Value::String(format_time(time)))
    }
}

impl<R: Record> JsonField for Vec<R> {
    fn to_json(&self, always: bool) -> Option<Value> {
        let records = self.iter().map(|record| {
            let mut out = Map::new();
            record.write_json(&mut out);
            Value::Object(out)
        });
        (always || !self.is_empty()).then(|| Value::Array(records.collect()))
    }
}

fn strs(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

fn str_map<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Object(map.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// A YAML value (`serverInfo`, `import-values`) as JSON; non-string keys become their
/// text, as sigs.k8s.io/yaml converts them.
fn yaml_to_json(value: &serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => n.to_string(),
                        Y::Null => "null".to_string(),
                        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(&tagged.value),
    }
}
