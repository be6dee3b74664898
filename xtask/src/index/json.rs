//! The index as compact JSON, which Helm ≥ 3.13 reads through its fast path.
//!
//! Helm's `loadIndex` (`pkg/repo/v1/index.go`, `jsonOrYamlUnmarshal`) checks
//! `json.Valid(data)` and then decodes with `encoding/json` instead of its YAML parser,
//! several times faster on large indexes. JSON is also YAML, so every older Helm and every
//! YAML tool still reads the same file. Key names and omissions follow Helm's JSON tags
//! (`IndexFile`, `ChartVersion`, `chart.Metadata`, `chart.Dependency`): `apiVersion`,
//! `entries`, `generated` always; `urls` always per version; the rest `omitempty`.
//! Timestamps are RFC 3339 in UTC, as Go's `time.Time` marshals them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{IndexEntry, RepoIndex, format_time};
use crate::chart::Dependency;

/// Serialise `index` as one line of JSON (plus a final newline).
pub fn write_index(index: &RepoIndex, generated: DateTime<Utc>) -> Vec<u8> {
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

fn entry(entry: &IndexEntry) -> Value {
    let m = &entry.metadata;
    let l = &entry.legacy;
    let mut out = Map::new();
    let opt = |out: &mut Map<String, Value>, key: &str, value: &Option<String>| {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            out.insert(key.into(), value.into());
        }
    };
    if !m.annotations.is_empty() {
        out.insert("annotations".into(), str_map(&m.annotations));
    }
    opt(&mut out, "apiVersion", &m.api_version);
    opt(&mut out, "appVersion", &m.app_version);
    opt(&mut out, "checksum", &l.checksum);
    opt(&mut out, "condition", &m.condition);
    if let Some(created) = &entry.created {
        out.insert("created".into(), format_time(created).into());
    }
    if !m.dependencies.is_empty() {
        out.insert("dependencies".into(), Value::Array(m.dependencies.iter().map(dependency).collect()));
    }
    if m.deprecated {
        out.insert("deprecated".into(), true.into());
    }
    opt(&mut out, "description", &m.description);
    if !entry.digest.is_empty() {
        out.insert("digest".into(), entry.digest.clone().into());
    }
    opt(&mut out, "engine", &l.engine);
    opt(&mut out, "home", &m.home);
    opt(&mut out, "icon", &m.icon);
    if !m.keywords.is_empty() {
        out.insert("keywords".into(), strs(&m.keywords));
    }
    opt(&mut out, "kubeVersion", &m.kube_version);
    if !m.maintainers.is_empty() {
        let maintainers = m
            .maintainers
            .iter()
            .map(|maintainer| {
                let mut item = Map::new();
                opt(&mut item, "email", &maintainer.email);
                opt(&mut item, "name", &maintainer.name);
                opt(&mut item, "url", &maintainer.url);
                Value::Object(item)
            })
            .collect();
        out.insert("maintainers".into(), Value::Array(maintainers));
    }
    if !m.name.is_empty() {
        out.insert("name".into(), m.name.clone().into());
    }
    if entry.removed {
        out.insert("removed".into(), true.into());
    }
    if !m.sources.is_empty() {
        out.insert("sources".into(), strs(&m.sources));
    }
    opt(&mut out, "tags", &m.tags);
    opt(&mut out, "tillerVersion", &l.tiller_version);
    opt(&mut out, "type", &m.chart_type);
    opt(&mut out, "url", &l.url);
    out.insert("urls".into(), strs(&entry.urls));
    if !m.version.is_empty() {
        out.insert("version".into(), m.version.clone().into());
    }
    Value::Object(out)
}

fn dependency(d: &Dependency) -> Value {
    let mut out = Map::new();
    if let Some(alias) = d.alias.as_deref().filter(|v| !v.is_empty()) {
        out.insert("alias".into(), alias.into());
    }
    if let Some(condition) = d.condition.as_deref().filter(|v| !v.is_empty()) {
        out.insert("condition".into(), condition.into());
    }
    if d.enabled {
        out.insert("enabled".into(), true.into());
    }
    if !d.import_values.is_empty() {
        out.insert("import-values".into(), Value::Array(d.import_values.iter().map(yaml_to_json).collect()));
    }
    // Helm's tags: `name` and `repository` have no omitempty.
    out.insert("name".into(), d.name.clone().into());
    out.insert("repository".into(), d.repository.clone().into());
    if !d.tags.is_empty() {
        out.insert("tags".into(), strs(&d.tags));
    }
    if let Some(version) = d.version.as_deref().filter(|v| !v.is_empty()) {
        out.insert("version".into(), version.into());
    }
    Value::Object(out)
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
