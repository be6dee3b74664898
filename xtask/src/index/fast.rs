//! A fast path for reading large indexes (Bitnami's is ~25 MB).
//!
//! Indexes written by Helm (Go's yaml.v2), by us and by most tools use a small part of
//! YAML, which `block.rs` parses into a tree; this module turns the tree into the model,
//! with the same typing rules as the serde path, each record through its table in
//! `schema` ([`FromNode`] is how each field kind reads a node). Anything outside the
//! subset, and duplicate or unknown keys, null-like or odd scalars in typed fields, bad
//! timestamps…, makes it return `None`, and [`super::RepoIndex::parse`] falls back to the
//! full YAML parser, which is the authority on the result and on errors. The tests check
//! that both paths agree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use super::block::Node;
use super::{IndexEntry, RepoIndex};
use crate::index::schema::record::Record;

type P<T> = Option<T>;

/// Parse `bytes` on the fast path; `None` means "use the full parser".
pub fn parse(bytes: &[u8]) -> Option<RepoIndex> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    convert_index(super::block::parse(text)?)
}

// ---------------------------------------------------------------------------------------
// Tree -> model, with the same typing rules as the serde path (any scalar reads as a
// string; null-like plain scalars only where an Option takes them).

fn is_null_like(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

fn opt_string(node: Node) -> P<Option<String>> {
    match node {
        Node::Scalar(s, true) if is_null_like(&s) => Some(None),
        Node::Scalar(s, _) => Some(Some(s)),
        _ => None,
    }
}

fn string(node: Node) -> P<String> {
    match node {
        Node::Scalar(s, true) if is_null_like(&s) => None,
        Node::Scalar(s, _) => Some(s),
        _ => None,
    }
}

fn boolean(node: Node) -> P<bool> {
    match node {
        Node::Scalar(s, true) => match s.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn strings(node: Node) -> P<Vec<String>> {
    match node {
        Node::Seq(items) => items.into_iter().map(string).collect(),
        _ => None,
    }
}

fn string_map(node: Node) -> P<BTreeMap<String, String>> {
    match node {
        Node::Map(entries) => {
            let mut map = BTreeMap::new();
            for (k, _, v) in entries {
                map.insert(k, string(v)?);
            }
            Some(map)
        }
        _ => None,
    }
}

fn time(node: Node) -> P<Option<DateTime<Utc>>> {
    match opt_string(node)? {
        None => Some(None),
        Some(text) => Some(Some(DateTime::parse_from_rfc3339(text.trim()).ok()?.with_timezone(&Utc))),
    }
}

/// A generic YAML value, resolving plain scalars exactly as serde_yaml does.
fn value(node: Node) -> P<serde_yaml::Value> {
    Some(match node {
        Node::Scalar(s, true) => serde_yaml::from_str(&s).ok()?,
        Node::Scalar(s, false) => serde_yaml::Value::String(s),
        Node::Seq(items) => serde_yaml::Value::Sequence(items.into_iter().map(value).collect::<Option<_>>()?),
        Node::Map(entries) => {
            let mut map = serde_yaml::Mapping::new();
            for (k, plain, v) in entries {
                let key = if plain { serde_yaml::from_str(&k).ok()? } else { serde_yaml::Value::String(k) };
                if map.insert(key, value(v)?).is_some() {
                    return None;
                }
            }
            serde_yaml::Value::Mapping(map)
        }
    })
}

fn convert_index(root: Node) -> P<RepoIndex> {
    let Node::Map(fields) = root else { return None };
    let mut index = RepoIndex::default();
    let mut api_version = None;
    for (key, _, node) in fields {
        match key.as_str() {
            "apiVersion" => api_version = opt_string(node)?,
            "annotations" => index.annotations = string_map(node)?,
            "generated" => index.generated = time(node)?,
            "publicKeys" => index.public_keys = strings(node)?,
            "serverInfo" => match value(node)? {
                serde_yaml::Value::Mapping(m) => index.server_info = Some(m),
                serde_yaml::Value::Null => {}
                _ => return None,
            },
            "entries" => {
                let Node::Map(charts) = node else { return None };
                for (name, _, versions) in charts {
                    let Node::Seq(versions) = versions else { return None };
                    let mut list = Vec::with_capacity(versions.len());
                    for version in versions {
                        list.push(record::<IndexEntry>(version)?);
                    }
                    super::sort_versions(&mut list);
                    index.entries.insert(name, list);
                }
            }
            _ => return None,
        }
    }
    // Only a plain `apiVersion: v1` index takes the fast path; anything else gets the
    // full parser's verdict and message.
    (api_version.as_deref() == Some("v1")).then_some(index)
}

/// A record (an index entry, a maintainer, a dependency) from a mapping node, each key
/// through the record's table; `None` for an unknown key.
fn record<R: Record>(node: Node) -> P<R> {
    let Node::Map(fields) = node else { return None };
    let mut record = R::default();
    for (key, _, node) in fields {
        record.read_node(&key, node)?;
    }
    Some(record)
}

/// How a field kind reads a node of the tree (`None`: leave it to the full parser).
pub trait FromNode: Sized {
    fn from_node(node: Node) -> Option<Self>;
}

impl FromNode for Option<String> {
    fn from_node(node: Node) -> Option<Self> {
        opt_string(node)
    }
}

/// A string Helm may leave out (`name`, `version`, `digest`…): null-like reads as empty.
impl FromNode for String {
    fn from_node(node: Node) -> Option<Self> {
        Some(opt_string(node)?.unwrap_or_default())
    }
}

impl FromNode for bool {
    fn from_node(node: Node) -> Option<Self> {
        boolean(node)
    }
}

impl FromNode for Vec<String> {
    fn from_node(node: Node) -> Option<Self> {
        strings(node)
    }
}

impl FromNode for BTreeMap<String, String> {
    fn from_node(node: Node) -> Option<Self> {
        string_map(node)
    }
}

impl FromNode for Vec<serde_yaml::Value> {
    fn from_node(node: Node) -> Option<Self> {
        let Node::Seq(items) = node else { return None };
        items.into_iter().map(value).collect()
    }
}

impl FromNode for Option<DateTime<Utc>> {
    fn from_node(node: Node) -> Option<Self> {
        time(node)
    }
}

impl<R: Record> FromNode for Vec<R> {
    fn from_node(node: Node) -> Option<Self> {
        let Node::Seq(items) = node else { return None };
        items.into_iter().map(record).collect()
    }
}
