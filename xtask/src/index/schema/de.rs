//! The full parser's side of the schema: every record read through serde (serde_norway for
//! YAML, serde_json for JSON), with the typing rules of the [`Source`] it comes from.
//!
//! This is the authority the fast path is tested against; its errors are serde's (with the
//! YAML path and position), as a derived `Deserialize` would give: an unknown key in an
//! index names the key and every key Helm knows, a repeated key is refused.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::record::Record;

/// Where a record is read from; it decides the typing rules Helm applies there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Chart.yaml (and a v1 chart's `requirements.yaml`), read like Helm's chart loader
    /// (`yaml.Unmarshal`): unknown keys are ignored; each field reads as its type does.
    ChartYaml,
    /// An index, read like Helm's `loadIndex` (strict: an unknown key is an error); `null`
    /// reads as the empty value, as Go's decoder leaves a field at its zero value, and a
    /// `null` item of a list of maintainers or dependencies is dropped.
    Index,
}

/// How one field kind is read through serde.
pub trait DeField: Sized {
    /// Read the value of field `key` (named in errors serde cannot place itself).
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, key: &str) -> Result<Self, D::Error>;

    /// The seed that reads field `key` of this kind from `source` (for
    /// `MapAccess::next_value_seed`).
    fn seed(source: Source, key: &'static str) -> FieldSeed<Self> {
        FieldSeed { source, key, kind: PhantomData }
    }
}

pub struct FieldSeed<T> {
    source: Source,
    key: &'static str,
    kind: PhantomData<T>,
}

impl<'de, T: DeField> DeserializeSeed<'de> for FieldSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize(deserializer, self.source, self.key)
    }
}

/// A kind serde reads itself: as is from Chart.yaml; in an index `null` is the empty value.
fn plain<'de, T: de::Deserialize<'de> + Default, D: Deserializer<'de>>(
    deserializer: D,
    source: Source,
) -> Result<T, D::Error> {
    match source {
        Source::ChartYaml => T::deserialize(deserializer),
        Source::Index => nullable(PhantomData::<T>, deserializer),
    }
}

impl DeField for Option<String> {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, _: Source, _: &str) -> Result<Self, D::Error> {
        de::Deserialize::deserialize(deserializer)
    }
}

impl DeField for String {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, _: &str) -> Result<Self, D::Error> {
        plain(deserializer, source)
    }
}

impl DeField for bool {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, _: &str) -> Result<Self, D::Error> {
        plain(deserializer, source)
    }
}

impl DeField for Vec<String> {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, _: &str) -> Result<Self, D::Error> {
        plain(deserializer, source)
    }
}

impl DeField for BTreeMap<String, String> {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, _: &str) -> Result<Self, D::Error> {
        plain(deserializer, source)
    }
}

impl DeField for Vec<serde_yaml::Value> {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, _: &str) -> Result<Self, D::Error> {
        plain(deserializer, source)
    }
}

/// A timestamp (`created`): RFC 3339 text, any offset, kept in UTC; empty is none.
impl DeField for Option<DateTime<Utc>> {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, _: Source, key: &str) -> Result<Self, D::Error> {
        let text: Option<String> = de::Deserialize::deserialize(deserializer)?;
        match text.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => crate::index::parse_time(text)
                .map(Some)
                .map_err(|err| de::Error::custom(format_args!("`{key}`: {err:#}"))),
        }
    }
}

/// A list of records (`maintainers`, `dependencies`).
impl<R: Record> DeField for Vec<R> {
    fn deserialize<'de, D: Deserializer<'de>>(deserializer: D, source: Source, _: &str) -> Result<Self, D::Error> {
        let seed = RecordsSeed { source, record: PhantomData::<R> };
        match source {
            Source::ChartYaml => seed.deserialize(deserializer),
            Source::Index => nullable(seed, deserializer),
        }
    }
}

/// Reads a record with the rules of `source`.
pub struct RecordSeed<R> {
    source: Source,
    record: PhantomData<R>,
}

impl<R> RecordSeed<R> {
    pub fn new(source: Source) -> RecordSeed<R> {
        RecordSeed { source, record: PhantomData }
    }
}

impl<'de, R: Record> DeserializeSeed<'de> for RecordSeed<R> {
    type Value = R;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<R, D::Error> {
        deserializer.deserialize_struct(R::NAME, R::all_keys(), self)
    }
}

impl<'de, R: Record> Visitor<'de> for RecordSeed<R> {
    type Value = R;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", R::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<R, A::Error> {
        let mut record = R::default();
        let mut seen = 0u64;
        while let Some(key) = map.next_key_seed(KeySeed { source: self.source, record: PhantomData::<R> })? {
            let Some(index) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let bit = 1u64 << index;
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(R::key_name(index)));
            }
            seen |= bit;
            record.read_value(index, &mut map, self.source)?;
        }
        Ok(record)
    }
}

/// A key of record `R`: its position ([`Record::key_index`]), `None` for a key Chart.yaml
/// may carry and Helm ignores; in an index an unknown key is an error, as Helm's strict
/// decoder makes it.
struct KeySeed<R> {
    source: Source,
    record: PhantomData<R>,
}

impl<'de, R: Record> DeserializeSeed<'de> for KeySeed<R> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<R: Record> Visitor<'_> for KeySeed<R> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        match (R::key_index(key), self.source) {
            (Some(index), _) => Ok(Some(index)),
            (None, Source::ChartYaml) => Ok(None),
            (None, Source::Index) => Err(E::unknown_field(key, R::all_keys())),
        }
    }
}

/// A list of records; in an index, `null` items are dropped.
struct RecordsSeed<R> {
    source: Source,
    record: PhantomData<R>,
}

impl<'de, R: Record> DeserializeSeed<'de> for RecordsSeed<R> {
    type Value = Vec<R>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<R>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, R: Record> Visitor<'de> for RecordsSeed<R> {
    type Value = Vec<R>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a sequence of {}", R::NAME)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<R>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        match self.source {
            Source::ChartYaml => {
                while let Some(item) = seq.next_element_seed(RecordSeed::<R>::new(self.source))? {
                    items.push(item);
                }
            }
            Source::Index => {
                while let Some(item) = seq.next_element_seed(Nullable(RecordSeed::<R>::new(self.source)))? {
                    items.extend(item);
                }
            }
        }
        Ok(items)
    }
}

/// `null` as the empty value (Go's zero value), anything else through `seed`.
fn nullable<'de, S, D>(seed: S, deserializer: D) -> Result<S::Value, D::Error>
where
    S: DeserializeSeed<'de>,
    S::Value: Default,
    D: Deserializer<'de>,
{
    Ok(Nullable(seed).deserialize(deserializer)?.unwrap_or_default())
}

/// `Option` through a seed: `None` for `null`.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<S::Value>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// A record read from an index (strict, as Helm's `loadIndex`): what `RepoIndex::parse`
/// deserializes each version into.
pub struct InIndex<R>(pub R);

impl<'de, R: Record> de::Deserialize<'de> for InIndex<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RecordSeed::new(Source::Index).deserialize(deserializer).map(InIndex)
    }
}

/// The Chart.yaml types deserialize as Helm's chart loader reads them.
macro_rules! chart_yaml_deserialize {
    ($($name:ty),*) => {$(
        impl<'de> de::Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                RecordSeed::new(Source::ChartYaml).deserialize(deserializer)
            }
        }
    )*};
}

chart_yaml_deserialize!(super::ChartMetadata, super::Maintainer, super::Dependency);
