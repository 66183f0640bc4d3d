//! Entity tags and the record of their invalidations.
//!
//! A cached response is tagged with every entity it contains: the type (`Article`), the
//! entity (`Article:42`, from the type's key fields) or, when its key was not fetched, the
//! type's wildcard (`Article:*`). Invalidating an entity bumps its tag and its type's wildcard;
//! invalidating a type bumps the type's tag. An entry is fresh while none of its tags was
//! invalidated at or after the moment its execution started, so an invalidation that lands
//! while a response is being computed keeps that response out of the cache.

use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use compact_str::{CompactString, format_compact};
use rustc_hash::FxHashMap;

use crate::supergraph::Supergraph;

/// One tag of a cached entry: a type, an entity or a type's wildcard.
pub type Tag = CompactString;

/// What to invalidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One entity: its type and its key as text (`42`, or the key fields as JSON).
    Entity {
        /// The entity's type.
        type_name: CompactString,
        /// Its key, as [`entity_tag`] writes it.
        key: CompactString,
    },
    /// Every entity of a type.
    Type(CompactString),
}

impl Target {
    /// The tags this target bumps.
    pub fn tags(&self) -> Vec<Tag> {
        match self {
            Target::Entity { type_name, key } => {
                vec![entity_tag(type_name, key), wildcard_tag(type_name)]
            }
            Target::Type(type_name) => vec![type_name.clone()],
        }
    }
}

impl Target {
    /// The tags of a cached entry that holds this entity (its type and itself) or type.
    pub fn entry_tags(&self) -> Vec<Tag> {
        match self {
            Target::Entity { type_name, key } => {
                vec![type_name.clone(), entity_tag(type_name, key)]
            }
            Target::Type(type_name) => vec![type_name.clone()],
        }
    }
}

/// The tag of one entity: `Type:key`.
pub fn entity_tag(type_name: &str, key: &str) -> Tag {
    format_compact!("{type_name}:{key}")
}

/// The tag of an entity of `type_name` whose key is unknown: any invalidation of that type's
/// entities reaches it.
pub fn wildcard_tag(type_name: &str) -> Tag {
    format_compact!("{type_name}:*")
}

/// What a subgraph or an administrator names for invalidation: a type name (`"Article"`), or an
/// entity representation (`{"__typename": "Article", "id": "2"}`) whose key fields are those of
/// the type's first `@key`. `None` for anything else (an unknown type, a missing key field).
pub fn target_of(supergraph: &Supergraph, named: &serde_json::Value) -> Option<Target> {
    use serde_json::Value;
    match named {
        Value::String(type_name) if supergraph.api().type_def(type_name).is_some() => {
            Some(Target::Type(type_name.into()))
        }
        Value::Object(representation) => {
            let type_name = representation.get("__typename")?.as_str()?;
            let key = supergraph.entity_key(type_name)?;
            let text = match key {
                [field] => match representation.get(&**field)? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => return None,
                    other => compound(representation, key).or_else(|| Some(other.to_string()))?,
                },
                _ => compound(representation, key)?,
            };
            Some(Target::Entity {
                type_name: type_name.into(),
                key: text.into(),
            })
        }
        _ => None,
    }
}

/// Key fields as a JSON object in key order, as the response writer tags them.
fn compound(
    representation: &serde_json::Map<String, serde_json::Value>,
    key: &[Box<str>],
) -> Option<String> {
    let mut out = String::from("{");
    for (i, field) in key.iter().enumerate() {
        let value = representation.get(&**field).filter(|v| !v.is_null())?;
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&**field).ok()?);
        out.push(':');
        out.push_str(&serde_json::to_string(value).ok()?);
    }
    out.push('}');
    Some(out)
}

/// Milliseconds since the Unix epoch: invalidation times travel between replicas, so they are
/// wall-clock times.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Most tags remembered before old ones are forgotten.
const PRUNE_AT: usize = 100_000;

/// When each tag was last invalidated, kept as long as an entry it could concern may live.
pub struct Invalidations {
    state: RwLock<State>,
    /// The longest an entry lives: invalidations older than this concern no entry.
    horizon: Duration,
}

#[derive(Default)]
struct State {
    /// Last invalidation of each tag, in Unix milliseconds.
    at: FxHashMap<Tag, u64>,
    /// Everything started before this is stale (set when invalidations may have been missed).
    all_before: u64,
}

impl Invalidations {
    /// An empty record whose entries live at most `horizon`.
    pub fn new(horizon: Duration) -> Invalidations {
        Invalidations {
            state: RwLock::new(State::default()),
            horizon,
        }
    }

    /// Records that `tags` were invalidated at `at_ms`.
    pub fn record<'t>(&self, tags: impl IntoIterator<Item = &'t Tag>, at_ms: u64) {
        let mut state = self.write();
        for tag in tags {
            let slot = state.at.entry(tag.clone()).or_insert(0);
            *slot = (*slot).max(at_ms);
        }
        if state.at.len() > PRUNE_AT {
            let horizon = u64::try_from(self.horizon.as_millis()).unwrap_or(u64::MAX);
            let oldest = now_ms().saturating_sub(horizon);
            state.at.retain(|_, at| *at >= oldest);
        }
    }

    /// Marks every entry started before `at_ms` stale: used when invalidations from other
    /// replicas may have been missed.
    pub fn invalidate_all(&self, at_ms: u64) {
        let mut state = self.write();
        state.all_before = state.all_before.max(at_ms);
        state.at.clear();
    }

    /// Whether an entry with `tags`, whose execution started at `started_ms`, is still fresh.
    pub fn fresh(&self, tags: &[Tag], started_ms: u64) -> bool {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if started_ms <= state.all_before {
            return false;
        }
        if state.at.is_empty() {
            return true;
        }
        tags.iter()
            .all(|tag| state.at.get(tag).is_none_or(|at| *at < started_ms))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<Tag> {
        names.iter().map(|n| Tag::from(*n)).collect()
    }

    #[test]
    fn an_entity_invalidation_reaches_its_entity_and_unknown_keys_of_its_type_only() {
        let record = Invalidations::new(Duration::from_secs(60));
        let thing_2 = tags(&["Thing", "Thing:2"]);
        let thing_3 = tags(&["Thing", "Thing:3"]);
        let unknown = tags(&["Thing", "Thing:*"]);
        let target = Target::Entity {
            type_name: "Thing".into(),
            key: "2".into(),
        };
        record.record(&target.tags(), 1_000);
        assert!(!record.fresh(&thing_2, 900));
        assert!(!record.fresh(&thing_2, 1_000), "same millisecond is stale");
        assert!(record.fresh(&thing_2, 1_001), "started after it");
        assert!(record.fresh(&thing_3, 900));
        assert!(!record.fresh(&unknown, 900));
    }

    #[test]
    fn a_type_invalidation_reaches_every_entity_of_the_type() {
        let record = Invalidations::new(Duration::from_secs(60));
        record.record(&Target::Type("Thing".into()).tags(), 1_000);
        assert!(!record.fresh(&tags(&["Thing", "Thing:3"]), 900));
        assert!(record.fresh(&tags(&["Other", "Other:1"]), 900));
    }

    #[test]
    fn invalidating_all_stales_everything_started_before() {
        let record = Invalidations::new(Duration::from_secs(60));
        record.invalidate_all(1_000);
        assert!(!record.fresh(&[], 999));
        assert!(record.fresh(&[], 1_001));
    }
}
