//! The machinery behind the field tables of [`super`]: the [`Record`] trait every Helm
//! type implements, and `helm_record!`, which writes the struct and that implementation
//! from one table.
//!
//! A record is generic over its field kinds: each parser and writer owns one trait that
//! says how a kind (`Option<String>`, `Vec<String>`, `bool`, a list of records…) is read or
//! written in its format, and the generated code calls it once per field, in table order:
//! - the fast path: [`FromNode`] (`index/fast.rs`);
//! - the full serde path: [`DeField`] (`de.rs`), for Chart.yaml and for indexes;
//! - Helm's YAML: [`YamlField`] (`index/yaml.rs`);
//! - compact JSON: [`JsonField`] (`index/json.rs`).
//!
//! So a new key of a known kind is one line in a table, and a new kind is one impl per
//! format, each next to the rest of that format.

use serde::de::MapAccess;

pub use super::de::{DeField, Source};
pub use crate::index::emit::Emitter;
pub use crate::index::fast::{FromNode, Node};
pub use crate::index::json::JsonField;
pub use crate::index::yaml::YamlField;

/// One of Helm's chart types, as a table of keys and field kinds (`helm_record!`).
///
/// A record may embed one other record whose keys it shares, as Helm's `ChartVersion`
/// embeds `*chart.Metadata`: its keys are read and written as if they were the record's
/// own, in one alphabetical order. Records with nothing embedded embed `()`; an embedded
/// record embeds nothing (one level, as in Helm), and a record has at most 64 keys in all
/// (the serde reader tracks them in a `u64`; a unit test checks both).
pub trait Record: Default {
    /// The Rust type name (serde's "expected struct …").
    const NAME: &'static str;
    /// This record's own keys, in table order: alphabetical, the order Helm writes them.
    const OWN_KEYS: &'static [&'static str];
    /// The record whose keys this one shares (`()` for none).
    type Embedded: Record;

    fn embedded(&self) -> &Self::Embedded;

    /// Every key, own and embedded, sorted (serde's "expected one of …").
    fn all_keys() -> &'static [&'static str];

    /// Fast path: set the field `key` (own or embedded) from its node. `None` when the
    /// key is unknown or the node is outside what the fast path reads.
    fn read_node(&mut self, key: &str, node: Node) -> Option<()>;

    /// Serde path: the position of an own key in [`Record::OWN_KEYS`].
    fn own_index(key: &str) -> Option<usize>;

    /// Serde path: read the value of field `index` (of [`Record::key_index`]) from `map`.
    fn read_value<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A, source: Source)
    -> Result<(), A::Error>;

    /// YAML: how own and embedded keys interleave in key order, as runs of
    /// `(embedded, end)`: write the own (or embedded) fields up to position `end`.
    /// Computed once per type ([`yaml_runs`]).
    fn yaml_runs() -> &'static [(bool, usize)];

    /// YAML: write the own fields from position `*next` (in [`Record::OWN_KEYS`]) up to
    /// `end` (exclusive), in table order; `*next` ends at `end`.
    fn write_yaml_own(&self, e: &mut Emitter, indent: usize, next: &mut usize, end: usize);

    /// JSON: insert every own field that is written (keys sort themselves in the map).
    fn write_json_own(&self, out: &mut serde_json::Map<String, serde_json::Value>);

    /// Serde path: the position of any key (own first, then the embedded record's).
    fn key_index(key: &str) -> Option<usize> {
        Self::own_index(key).or_else(|| Self::Embedded::key_index(key).map(|i| i + Self::OWN_KEYS.len()))
    }

    /// The key at a position of [`Record::key_index`].
    fn key_name(index: usize) -> &'static str {
        match Self::OWN_KEYS.get(index) {
            Some(key) => key,
            None => Self::Embedded::key_name(index - Self::OWN_KEYS.len()),
        }
    }

    /// YAML: every field that is written, own and embedded merged in key order, each key
    /// at `indent`.
    fn write_yaml(&self, e: &mut Emitter, indent: usize) {
        if <Self::Embedded as Record>::OWN_KEYS.is_empty() {
            return self.write_yaml_own(e, indent, &mut 0, Self::OWN_KEYS.len());
        }
        let (mut own, mut inner) = (0, 0);
        for &(embedded, end) in Self::yaml_runs() {
            if embedded {
                self.embedded().write_yaml_own(e, indent, &mut inner, end);
            } else {
                self.write_yaml_own(e, indent, &mut own, end);
            }
        }
    }

    /// JSON: every field that is written, own and embedded.
    fn write_json(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
        self.embedded().write_json(out);
        self.write_json_own(out);
    }
}

/// The empty record: what a record with nothing embedded embeds.
impl Record for () {
    const NAME: &'static str = "()";
    const OWN_KEYS: &'static [&'static str] = &[];
    type Embedded = ();

    fn embedded(&self) -> &() {
        self
    }

    fn all_keys() -> &'static [&'static str] {
        &[]
    }

    fn read_node(&mut self, _key: &str, _node: Node) -> Option<()> {
        None
    }

    fn own_index(_key: &str) -> Option<usize> {
        None
    }

    fn key_index(_key: &str) -> Option<usize> {
        None
    }

    fn key_name(_index: usize) -> &'static str {
        ""
    }

    fn read_value<'de, A: MapAccess<'de>>(&mut self, _: usize, _: &mut A, _: Source) -> Result<(), A::Error> {
        Ok(())
    }

    fn yaml_runs() -> &'static [(bool, usize)] {
        &[]
    }

    fn write_yaml_own(&self, _: &mut Emitter, _: usize, _: &mut usize, _: usize) {}

    fn write_json_own(&self, _: &mut serde_json::Map<String, serde_json::Value>) {}

    fn write_json(&self, _: &mut serde_json::Map<String, serde_json::Value>) {}
}

/// The runs of [`Record::yaml_runs`] for own keys `own` and embedded keys `embedded`
/// (each sorted): alternately, how far to write in each so that keys come out sorted.
pub fn yaml_runs(own: &[&str], embedded: &[&str]) -> Vec<(bool, usize)> {
    let (mut i, mut j) = (0, 0);
    let mut runs: Vec<(bool, usize)> = Vec::new();
    while i < own.len() || j < embedded.len() {
        let take_embedded = i == own.len() || (j < embedded.len() && embedded[j] < own[i]);
        if take_embedded {
            j += 1;
        } else {
            i += 1;
        }
        let end = if take_embedded { j } else { i };
        match runs.last_mut() {
            Some((last, last_end)) if *last == take_embedded => *last_end = end,
            _ => runs.push((take_embedded, end)),
        }
    }
    runs
}

/// `a` and `b` (each sorted) merged into one sorted list.
pub fn merged_keys(a: &[&'static str], b: &[&'static str]) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all
}

/// A Helm type as one table: the struct, with `Debug`, `Clone`, `Default` and
/// `PartialEq`, and its [`Record`] implementation. Each row is
/// `"key" => field: Kind,` (the key as Helm's JSON tag spells it), or
/// `"key" always => field: Kind,` for a field written even when empty (no `omitempty`
/// in Helm's tag). Rows are in alphabetical key order, the order Helm writes them
/// (a unit test checks). An optional first row `embed field: Record;` embeds a record.
macro_rules! helm_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(embed $(#[$emeta:meta])* $embed:ident: $embedded:ty;)?
            $(
                $(#[$fmeta:meta])*
                $key:literal $($always:ident)? => $field:ident: $kind:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $($(#[$emeta])* pub $embed: $embedded,)?
            $($(#[$fmeta])* pub $field: $kind,)*
        }

        const _: () = {
            use $crate::index::schema::record::{DeField, Emitter, FromNode, JsonField, Node, Record, Source, YamlField};

            /// Each own field's position in the table.
            #[allow(non_camel_case_types)]
            enum Position {
                $($field,)*
            }

            impl Record for $name {
                const NAME: &'static str = stringify!($name);
                const OWN_KEYS: &'static [&'static str] = &[$($key),*];
                type Embedded = helm_record!(@embedded_type $($embedded)?);

                fn embedded(&self) -> &Self::Embedded {
                    helm_record!(@embedded self $($embed)?)
                }

                fn all_keys() -> &'static [&'static str] {
                    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
                    KEYS.get_or_init(|| {
                        $crate::index::schema::record::merged_keys(Self::OWN_KEYS, <Self::Embedded as Record>::all_keys())
                    })
                }

                fn read_node(&mut self, key: &str, node: Node) -> Option<()> {
                    match key {
                        $($key => self.$field = FromNode::from_node(node)?,)*
                        _ => return helm_record!(@read_node self, key, node $($embed)?),
                    }
                    Some(())
                }

                fn own_index(key: &str) -> Option<usize> {
                    match key {
                        $($key => Some(Position::$field as usize),)*
                        _ => None,
                    }
                }

                fn read_value<'de, A: serde::de::MapAccess<'de>>(
                    &mut self,
                    index: usize,
                    map: &mut A,
                    source: Source,
                ) -> Result<(), A::Error> {
                    $(
                        if index == Position::$field as usize {
                            self.$field = map.next_value_seed(<$kind as DeField>::seed(source, $key))?;
                            return Ok(());
                        }
                    )*
                    helm_record!(@read_value self, index - Self::OWN_KEYS.len(), map, source $($embed)?)
                }

                fn yaml_runs() -> &'static [(bool, usize)] {
                    static RUNS: std::sync::OnceLock<Vec<(bool, usize)>> = std::sync::OnceLock::new();
                    RUNS.get_or_init(|| {
                        $crate::index::schema::record::yaml_runs(Self::OWN_KEYS, <Self::Embedded as Record>::OWN_KEYS)
                    })
                }

                fn write_yaml_own(&self, e: &mut Emitter, indent: usize, next: &mut usize, end: usize) {
                    $(
                        if *next == Position::$field as usize {
                            if *next == end {
                                return;
                            }
                            self.$field.write_yaml(e, indent, $key, helm_record!(@always $($always)?));
                            *next += 1;
                        }
                    )*
                }

                fn write_json_own(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
                    $(
                        if let Some(value) = self.$field.to_json(helm_record!(@always $($always)?)) {
                            out.insert($key.into(), value);
                        }
                    )*
                }
            }
        };
    };
    (@embedded_type) => { () };
    (@embedded_type $embedded:ty) => { $embedded };
    (@embedded $self:ident) => { &() };
    (@embedded $self:ident $embed:ident) => { &$self.$embed };
    (@read_node $self:ident, $key:ident, $node:ident) => { None };
    (@read_node $self:ident, $key:ident, $node:ident $embed:ident) => { $self.$embed.read_node($key, $node) };
    (@read_value $self:ident, $index:expr, $map:ident, $source:ident) => { Ok(()) };
    (@read_value $self:ident, $index:expr, $map:ident, $source:ident $embed:ident) => {
        $self.$embed.read_value($index, $map, $source)
    };
    (@always) => { false };
    (@always always) => { true };
}

pub(crate) use helm_record;
