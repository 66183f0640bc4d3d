//! The executor's JSON value: what subgraph answers are parsed into, merged, and written out.
//!
//! Response objects are small (a handful of fields) and read by key many times, so an object
//! is a vector of entries searched in order rather than a hash map: no hashing, one allocation
//! per object. Keys and strings are [`CompactString`]s, which keep up to 24 bytes inline, so
//! most field names and short values cost no allocation at all.

use std::fmt;

use compact_str::CompactString;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
pub use serde_json::Number;

/// A JSON value held by the executor.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json reads it.
    Number(Number),
    /// A string.
    String(CompactString),
    /// A list.
    Array(Vec<Value>),
    /// An object, its fields in the order they arrived.
    Object(Object),
}

/// A JSON object: entries in order, looked up by a linear search over their keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object(Vec<(CompactString, Value)>);

impl Object {
    /// An empty object with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Object {
        Object(Vec::with_capacity(capacity))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value under `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing the value in place if the key is present.
    pub fn insert(&mut self, key: impl Into<CompactString> + AsRef<str>, value: Value) {
        match self.get_mut(key.as_ref()) {
            Some(slot) => *slot = value,
            None => self.0.push((key.into(), value)),
        }
    }

    /// Appends an entry the caller knows is not present yet.
    pub fn push(&mut self, key: impl Into<CompactString>, value: Value) {
        self.0.push((key.into(), value));
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    /// The `__typename` field, if it is a string.
    pub fn typename(&self) -> Option<&str> {
        self.get("__typename").and_then(Value::as_str)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many entries the object has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the object has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the last of entries that share a key, as a JSON parser that overwrites would.
    fn dedupe(&mut self) {
        let entries = &mut self.0;
        if entries.len() < 2 {
            return;
        }
        // Small objects (nearly all) are checked pairwise, without allocating.
        if entries.len() <= 16 {
            let repeated = (1..entries.len())
                .any(|i| entries[..i].iter().any(|(key, _)| *key == entries[i].0));
            if !repeated {
                return;
            }
        }
        let mut seen = rustc_hash::FxHashSet::default();
        let mut keep = vec![true; entries.len()];
        let mut duplicates = false;
        for (index, (key, _)) in entries.iter().enumerate().rev() {
            if !seen.insert(key.as_str()) {
                keep[index] = false;
                duplicates = true;
            }
        }
        if duplicates {
            let mut flags = keep.into_iter();
            entries.retain(|_| flags.next().unwrap_or(true));
        }
    }
}

impl IntoIterator for Object {
    type Item = (CompactString, Value);
    type IntoIter = std::vec::IntoIter<(CompactString, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Value {
    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The object, if the value is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The field `key` of an object value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// The field `key` of an object value, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Object(object) => object.get_mut(key),
            _ => None,
        }
    }

    /// Takes the value out, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

impl Value {
    /// Appends the value as compact JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => {
                let _ = serde_json::to_writer(&mut *out, n);
            }
            Value::String(text) => write_str(out, text),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_json(out);
                }
                out.push(b']');
            }
            Value::Object(object) => {
                out.push(b'{');
                for (i, (key, value)) in object.0.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, key);
                    out.push(b':');
                    value.write_json(out);
                }
                out.push(b'}');
            }
        }
    }
}

/// Appends `text` as a JSON string. Text with nothing to escape (nearly all of it: names, ids,
/// prose) is copied as is; the rest goes through serde_json's escaping.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    // A fold without an early exit, so the check runs over whole vectors of bytes.
    let escapes = text.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !escapes {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(Object(
                map.into_iter()
                    .map(|(k, v)| (CompactString::from(k), Value::from(v)))
                    .collect(),
            )),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key.as_str(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(CompactString::from(value)))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(CompactString::from(value)))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        let mut object = Object(entries);
        object.dedupe();
        Ok(Value::Object(object))
    }
}

/// Reads an object key straight into a [`CompactString`].
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = CompactString;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<CompactString, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = CompactString;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<CompactString, E> {
        Ok(CompactString::from(value))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<CompactString, E> {
        Ok(CompactString::from(value))
    }
}

impl fmt::Display for Value {
    /// The value as compact JSON.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        formatter.write_str(&text)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_and_writes_back_the_same_in_field_order() {
        let text = r#"{"b":1,"a":[true,null,"x",-2,1.5],"c":{"__typename":"T","id":"7"}}"#;
        let value: Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(serde_json::to_string(&value).expect("serializable"), text);
        assert_eq!(
            value
                .get("c")
                .and_then(|c| c.as_object())
                .and_then(Object::typename),
            Some("T")
        );
    }

    #[test]
    fn written_json_matches_serde_json_including_escapes() {
        let text = r#"{"plain":"abc","quote":"a\"b","slash":"a\\b","control":"a\u0001b","nl":"x\ny","n":[1,-2,2.5,null,true,false],"e":{}}"#;
        let value: Value = serde_json::from_str(text).expect("valid JSON");
        let mut out = Vec::new();
        value.write_json(&mut out);
        assert_eq!(out, serde_json::to_vec(&value).expect("serializable"));
        let again: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(text).expect("JSON")
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let value: Value = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).expect("valid JSON");
        assert_eq!(value.to_string(), r#"{"b":2,"a":3}"#);
    }

    #[test]
    fn escaped_strings_and_long_keys_survive() {
        let text = r#"{"a key longer than twenty-four bytes":"line\nbreak \"quoted\" \u00e9"}"#;
        let value: Value = serde_json::from_str(text).expect("valid JSON");
        let again: serde_json::Value = serde_json::from_str(&value.to_string()).expect("JSON");
        let original: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(again, original);
    }
}
