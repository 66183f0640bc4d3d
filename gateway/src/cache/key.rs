//! Cache keys: a 128-bit hash of everything that decides a response, written as hex where a
//! key leaves the process (Redis).

use serde_json::{Map, Value};
use xxhash_rust::xxh3::Xxh3;

/// Whose entry a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope<'a> {
    /// Anyone's: a public response.
    Public,
    /// One caller's: a private response, under the caller's subject.
    Private(&'a str),
}

/// What identifies one cached response.
pub struct ResponseKeyParts<'a> {
    /// The engine serving it (its contract: web, mobile, router).
    pub engine: &'a str,
    /// The supergraph version.
    pub supergraph: u64,
    /// The prepared operation (document and operation name).
    pub operation: u64,
    /// The coerced variables, in any key order.
    pub variables: &'a Map<String, Value>,
    /// Public, or private to one subject.
    pub scope: KeyScope<'a>,
}

/// The key of a cached response.
pub fn response_key(parts: &ResponseKeyParts<'_>) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(b"response\x01");
    write_str(&mut hasher, parts.engine);
    hasher.update(&parts.supergraph.to_le_bytes());
    hasher.update(&parts.operation.to_le_bytes());
    write_object(&mut hasher, parts.variables);
    match parts.scope {
        KeyScope::Public => hasher.update(b"P"),
        KeyScope::Private(subject) => {
            hasher.update(b"S");
            write_str(&mut hasher, subject);
        }
    }
    hasher.digest128()
}

/// What every entity key of one entity fetch shares: the subgraph, its operation (which holds
/// the selection asked of each entity), the values of the variables it uses and the headers
/// it is sent with. [`EntityKeys::key`] adds one representation.
#[derive(Clone)]
pub struct EntityKeys(Xxh3);

impl EntityKeys {
    /// The shared part of the keys of one fetch.
    pub fn new<'v>(
        subgraph: &str,
        operation: &str,
        variables: impl IntoIterator<Item = (&'v str, &'v Value)>,
        headers: &[(String, String)],
    ) -> EntityKeys {
        let mut hasher = Xxh3::new();
        hasher.update(b"entity\x01");
        write_str(&mut hasher, subgraph);
        write_str(&mut hasher, operation);
        for (name, value) in variables {
            write_str(&mut hasher, name);
            write_value(&mut hasher, value);
        }
        hasher.update(b"H");
        for (name, value) in headers {
            if !crate::transport::affects_answer(name) {
                continue;
            }
            write_str(&mut hasher, name);
            write_str(&mut hasher, value);
        }
        EntityKeys(hasher)
    }

    /// The key of the entity sent as `representation` (its JSON bytes).
    pub fn key(&self, representation: &[u8]) -> u128 {
        let mut hasher = self.0.clone();
        hasher.update(b"R");
        hasher.update(&(representation.len() as u64).to_le_bytes());
        hasher.update(representation);
        hasher.digest128()
    }
}

/// A key as 32 hex digits.
pub fn hex(key: u128) -> String {
    format!("{key:032x}")
}

fn write_str(hasher: &mut Xxh3, s: &str) {
    hasher.update(&(s.len() as u64).to_le_bytes());
    hasher.update(s.as_bytes());
}

/// Hashes a JSON value with object members in key order, so `{"a":1,"b":2}` and
/// `{"b":2,"a":1}` hash alike; every value is tagged and every string length-prefixed, so no
/// two different values hash alike by concatenation.
fn write_value(hasher: &mut Xxh3, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(b) => hasher.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            hasher.update(b"#");
            write_str(hasher, &n.to_string());
        }
        Value::String(s) => {
            hasher.update(b"s");
            write_str(hasher, s);
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                write_value(hasher, item);
            }
        }
        Value::Object(members) => write_object(hasher, members),
    }
}

fn write_object(hasher: &mut Xxh3, members: &Map<String, Value>) {
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    hasher.update(b"{");
    hasher.update(&(sorted.len() as u64).to_le_bytes());
    for (name, value) in sorted {
        write_str(hasher, name);
        write_value(hasher, value);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(variables: Value, scope: KeyScope<'_>) -> u128 {
        let Value::Object(variables) = variables else {
            panic!("variables are an object")
        };
        response_key(&ResponseKeyParts {
            engine: "web",
            supergraph: 1,
            operation: 2,
            variables: &variables,
            scope,
        })
    }

    #[test]
    fn variables_in_any_key_order_give_one_key() {
        let a = key(
            json!({"id": "2", "filter": {"x": 1, "y": [1, 2]}}),
            KeyScope::Public,
        );
        let b = key(
            json!({"filter": {"y": [1, 2], "x": 1}, "id": "2"}),
            KeyScope::Public,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn different_values_scopes_and_shapes_give_different_keys() {
        let base = key(json!({"id": "2"}), KeyScope::Public);
        assert_ne!(base, key(json!({"id": "3"}), KeyScope::Public));
        assert_ne!(base, key(json!({"id": 2}), KeyScope::Public));
        assert_ne!(base, key(json!({"id": "2"}), KeyScope::Private("ada")));
        assert_ne!(
            key(json!({}), KeyScope::Private("ada")),
            key(json!({}), KeyScope::Private("alan"))
        );
        // Concatenation cannot collide: ["ab"] vs ["a", "b"].
        assert_ne!(
            key(json!({"l": ["ab"]}), KeyScope::Public),
            key(json!({"l": ["a", "b"]}), KeyScope::Public)
        );
    }

    #[test]
    fn the_engine_supergraph_and_operation_are_part_of_the_key() {
        let variables = Map::new();
        let parts = |engine, supergraph, operation| ResponseKeyParts {
            engine,
            supergraph,
            operation,
            variables: &variables,
            scope: KeyScope::Public,
        };
        let base = response_key(&parts("web", 1, 2));
        assert_ne!(base, response_key(&parts("mobile", 1, 2)));
        assert_ne!(base, response_key(&parts("web", 9, 2)));
        assert_ne!(base, response_key(&parts("web", 1, 9)));
    }

    #[test]
    fn entity_keys_depend_on_the_fetch_and_the_representation() {
        let id = json!("2");
        let base = EntityKeys::new("svc", "query A", [("first", &id)], &[]);
        let key = base.key(br#"{"__typename":"Thing","id":"1"}"#);
        assert_eq!(key, base.clone().key(br#"{"__typename":"Thing","id":"1"}"#));
        assert_ne!(key, base.key(br#"{"__typename":"Thing","id":"2"}"#));
        let other_op = EntityKeys::new("svc", "query B", [("first", &id)], &[]);
        assert_ne!(key, other_op.key(br#"{"__typename":"Thing","id":"1"}"#));
        let three = json!("3");
        let other_vars = EntityKeys::new("svc", "query A", [("first", &three)], &[]);
        assert_ne!(key, other_vars.key(br#"{"__typename":"Thing","id":"1"}"#));
        let header = [("accept-language".to_owned(), "fr".to_owned())];
        let other_headers = EntityKeys::new("svc", "query A", [("first", &id)], &header);
        assert_ne!(
            key,
            other_headers.key(br#"{"__typename":"Thing","id":"1"}"#)
        );
        let other_subgraph = EntityKeys::new("other", "query A", [("first", &id)], &[]);
        assert_ne!(
            key,
            other_subgraph.key(br#"{"__typename":"Thing","id":"1"}"#)
        );
        let request_id = [("x-request-id".to_owned(), "r-1".to_owned())];
        let with_id = EntityKeys::new("svc", "query A", [("first", &id)], &request_id);
        assert_eq!(key, with_id.key(br#"{"__typename":"Thing","id":"1"}"#));
    }
}
