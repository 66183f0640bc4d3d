//! Entity fetches: gather the objects a Flatten path points at, build one de-duplicated list
//! of representations (one `_entities` request per subgraph per plan step), and merge each
//! answer back into every place it came from.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use super::Execution;
use super::fetch::{RequestBody, filled_keys, with_service};
use super::merge::{apply_input_rewrites, apply_output_rewrites, deep_merge, deep_merge_copy};
use super::value::{Object, Value};
use crate::cache::invalidate::{Tag, now_ms, target_of};
use crate::cache::{Entry, Scope};
use crate::error::PathSegment;
use crate::supergraph::api::ApiSchema;
use crate::supergraph::planner::{
    BatchFetchNode, FetchNode, FetchRewrite, FlattenNodePathSegment, SelectionItem, SelectionSet,
};

/// One step of a path into the result; keys borrow from the plan.
#[derive(Clone, Copy, Debug)]
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

/// Where one entity sits in the result and which representation it sent.
struct Slot {
    /// Its steps: `trails[start..end]`.
    start: usize,
    end: usize,
    representation: usize,
}

/// The representations of one entity batch and where each answer goes.
#[derive(Default)]
pub(super) struct Batch<'p> {
    /// Each distinct representation, serialized as JSON.
    representations: Vec<Box<[u8]>>,
    /// Representations by a hash of their bytes (a colliding different one is sent again).
    seen: FxHashMap<u64, usize>,
    /// For each entity found: its place in the result and its representation's index.
    slots: Vec<Slot>,
    /// The steps of every slot's path, one after the other.
    trails: Vec<Step<'p>>,
    /// For each representation, the first slot that used it (for error paths).
    first_slot: Vec<usize>,
}

impl<'p> Batch<'p> {
    /// Adds every entity found at `path` whose representation `requires` selects.
    fn collect(
        &mut self,
        data: &Value,
        path: &'p [FlattenNodePathSegment],
        requires: &SelectionSet,
        rewrites: Option<&Vec<FetchRewrite>>,
        api: &ApiSchema,
    ) {
        let mut trail = Vec::new();
        self.walk(data, path, &mut trail, requires, rewrites, api);
    }

    fn walk(
        &mut self,
        value: &Value,
        path: &'p [FlattenNodePathSegment],
        trail: &mut Vec<Step<'p>>,
        requires: &SelectionSet,
        rewrites: Option<&Vec<FetchRewrite>>,
        api: &ApiSchema,
    ) {
        if let Value::Array(items) = value {
            // Lists met where the path does not say `@` are walked too (nested lists).
            let rest = match path.first() {
                Some(FlattenNodePathSegment::List) => &path[1..],
                _ => path,
            };
            for (index, item) in items.iter().enumerate() {
                trail.push(Step::Index(index));
                self.walk(item, rest, trail, requires, rewrites, api);
                trail.pop();
            }
            return;
        }
        let Value::Object(object) = value else {
            return;
        };
        match path.split_first() {
            None => self.add(object, trail, requires, rewrites, api),
            Some((FlattenNodePathSegment::Field(key), rest)) => {
                if let Some(child) = object.get(key) {
                    trail.push(Step::Key(key));
                    self.walk(child, rest, trail, requires, rewrites, api);
                    trail.pop();
                }
            }
            Some((FlattenNodePathSegment::List, rest)) => {
                self.walk(value, rest, trail, requires, rewrites, api);
            }
            Some((FlattenNodePathSegment::TypeCondition(types), rest)) => {
                // An object without `__typename` passes the condition.
                let matches = object
                    .typename()
                    .is_none_or(|t| types.iter().any(|c| api.is_possible_type(c, t)));
                if matches {
                    self.walk(value, rest, trail, requires, rewrites, api);
                }
            }
        }
    }

    fn add(
        &mut self,
        entity: &Object,
        trail: &[Step<'p>],
        requires: &SelectionSet,
        rewrites: Option<&Vec<FetchRewrite>>,
        api: &ApiSchema,
    ) {
        let Some(typename) = entity.typename() else {
            return;
        };
        let mut representation = Object::with_capacity(4);
        let found = project(entity, typename, requires, &mut representation, api);
        if !found.matched || found.incomplete {
            return;
        }
        representation.insert("__typename", Value::String(typename.into()));
        let mut representation = Value::Object(representation);
        if let Some(rewrites) = rewrites {
            apply_input_rewrites(&mut representation, rewrites, api);
        }
        let mut bytes = Vec::with_capacity(64);
        representation.write_json(&mut bytes);
        let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
        let known = self
            .seen
            .get(&hash)
            .copied()
            .filter(|index| *self.representations[*index] == *bytes);
        let index = match known {
            Some(index) => index,
            None => {
                let index = self.representations.len();
                self.seen.entry(hash).or_insert(index);
                self.representations.push(bytes.into_boxed_slice());
                self.first_slot.push(self.slots.len());
                index
            }
        };
        let start = self.trails.len();
        self.trails.extend_from_slice(trail);
        self.slots.push(Slot {
            start,
            end: self.trails.len(),
            representation: index,
        });
    }

    /// The batch cut in two by representation, `first` taking those it says yes to; each part
    /// keeps every slot of its representations and knows their indices here.
    fn split(&self, first: impl Fn(usize) -> bool) -> (Part<'p>, Part<'p>) {
        let mut parts = (Part::default(), Part::default());
        // For each representation: which part, and its index there.
        let mut placed = Vec::with_capacity(self.representations.len());
        for (index, representation) in self.representations.iter().enumerate() {
            let part = if first(index) {
                &mut parts.0
            } else {
                &mut parts.1
            };
            placed.push((first(index), part.origin.len()));
            part.origin.push(index);
            part.batch.representations.push(representation.clone());
            part.batch.first_slot.push(usize::MAX);
        }
        for slot in &self.slots {
            let (in_first, index) = placed[slot.representation];
            let part = if in_first { &mut parts.0 } else { &mut parts.1 };
            let batch = &mut part.batch;
            if batch.first_slot[index] == usize::MAX {
                batch.first_slot[index] = batch.slots.len();
            }
            let start = batch.trails.len();
            batch.trails.extend_from_slice(self.trail(slot));
            batch.slots.push(Slot {
                start,
                end: batch.trails.len(),
                representation: index,
            });
        }
        parts
    }

    /// Whether no entity was found.
    pub(super) fn is_empty(&self) -> bool {
        self.representations.is_empty()
    }

    /// The serialized representations, in the order the subgraph answers them.
    pub(super) fn representations(&self) -> &[Box<[u8]>] {
        &self.representations
    }

    fn trail(&self, slot: &Slot) -> &[Step<'p>] {
        &self.trails[slot.start..slot.end]
    }

    /// The response paths a failed fetch leaves null: each key at each place it writes to.
    fn left_null(&self, keys: &[String]) -> Vec<Vec<PathSegment>> {
        let mut paths = Vec::with_capacity(self.slots.len() * keys.len());
        for slot in &self.slots {
            let base: Vec<PathSegment> = self
                .trail(slot)
                .iter()
                .map(|step| match step {
                    Step::Key(k) => PathSegment::Key((*k).to_owned()),
                    Step::Index(i) => PathSegment::Index(*i),
                })
                .collect();
            for key in keys {
                let mut path = base.clone();
                path.push(PathSegment::Key(key.clone()));
                paths.push(path);
            }
        }
        paths
    }

    /// The client path of the first entity that used representation `index`.
    fn client_path(&self, index: usize) -> Option<Vec<serde_json::Value>> {
        let slot = self.slots.get(*self.first_slot.get(index)?)?;
        Some(
            self.trail(slot)
                .iter()
                .map(|step| match step {
                    Step::Key(k) => serde_json::Value::String((*k).to_owned()),
                    Step::Index(i) => serde_json::Value::from(*i),
                })
                .collect(),
        )
    }
}

/// What the entity cache holds for one batch: each representation's key and entry.
struct Lookup {
    keys: Vec<u128>,
    found: Vec<Option<std::sync::Arc<Entry>>>,
}

/// The text of what the `_entities` field answering to `field` asks of each entity.
fn entities_selection(selection: &SelectionSet, field: &str) -> String {
    selection
        .items
        .iter()
        .find_map(|item| match item {
            SelectionItem::Field(f) if f.alias.as_deref().unwrap_or(&f.name) == field => {
                Some(f.selections.to_string())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// One part of a split batch: its own batch, and for each of its representations the index it
/// had in the whole.
#[derive(Default)]
struct Part<'p> {
    batch: Batch<'p>,
    origin: Vec<usize>,
}

/// What projecting an entity onto a `requires` selection found.
#[derive(Clone, Copy, Default)]
struct Projected {
    /// Some field other than `__typename` was copied.
    matched: bool,
    /// A field the selection asks for is absent (its fetch failed or found nothing): such a
    /// representation would only earn errors from the subgraph, so it is not sent.
    incomplete: bool,
}

/// Copies the fields `selection` asks for from `source` into `out`.
fn project(
    source: &Object,
    typename: &str,
    selection: &SelectionSet,
    out: &mut Object,
    api: &ApiSchema,
) -> Projected {
    let mut found = Projected::default();
    for item in &selection.items {
        match item {
            SelectionItem::Field(field) => {
                // Looked up by field name, then by response key; written under the response key.
                let key = field.alias.as_deref().unwrap_or(&field.name);
                let Some(value) = source.get(&field.name).or_else(|| source.get(key)) else {
                    found.incomplete |= field.name != "__typename";
                    continue;
                };
                let projected = if field.selections.items.is_empty() {
                    value.clone()
                } else {
                    project_value(value, &field.selections, api)
                };
                found.matched |= field.name != "__typename";
                match out.get_mut(key) {
                    Some(existing @ Value::Object(_)) => deep_merge(existing, projected, api),
                    _ => out.insert(key, projected),
                }
            }
            SelectionItem::InlineFragment(fragment) => {
                let condition = fragment.type_condition.as_str();
                let applies = api.is_possible_type(condition, typename)
                    || api.is_possible_type(typename, condition);
                if applies {
                    let inner = project(source, typename, &fragment.selections, out, api);
                    found.matched |= inner.matched;
                    found.incomplete |= inner.incomplete;
                }
            }
            SelectionItem::FragmentSpread(_) => {}
        }
    }
    found
}

fn project_value(value: &Value, selection: &SelectionSet, api: &ApiSchema) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| project_value(item, selection, api))
                .collect(),
        ),
        Value::Object(object) => {
            let typename = object.typename().unwrap_or_default();
            let mut out = Object::with_capacity(selection.items.len());
            project(object, typename, selection, &mut out, api);
            Value::Object(out)
        }
        other => other.clone(),
    }
}

impl<'a> Execution<'a> {
    /// Runs an entity fetch for the objects at `path`.
    pub(super) async fn fetch_entities(&self, path: &[FlattenNodePathSegment], fetch: &FetchNode) {
        let api = self.supergraph.api();
        let mut batch = Batch::default();
        {
            let data = super::lock(&self.data);
            if let Some(requires) = &fetch.requires {
                batch.collect(&data, path, requires, fetch.input_rewrites.as_ref(), api);
            }
        }
        if batch.is_empty() {
            return;
        }
        let service = &fetch.service_name;
        let selection = &fetch.operation.document.operation.selection_set;
        // With the entity cache, the cached entities are merged now and only the others are
        // asked for; what the subgraph answers is cached when its `Cache-Control` allows a
        // shared cache and the answer carries no error.
        let (part, cached) = match self.entity_cache {
            None => (
                Part {
                    batch,
                    origin: Vec::new(),
                },
                None,
            ),
            Some(cache) => {
                let lookup = self
                    .look_up(
                        cache,
                        service,
                        selection,
                        "_entities",
                        fetch.variable_usages.as_ref(),
                        &batch,
                    )
                    .await;
                let misses = self.merge_hits(
                    service,
                    "_entities",
                    &batch,
                    &lookup,
                    fetch.output_rewrites.as_ref(),
                );
                (misses, Some((cache, lookup)))
            }
        };
        if part.batch.is_empty() {
            return;
        }
        let body = RequestBody {
            operation: &fetch.operation.document_str,
            variables: self.variables,
            usages: fetch.variable_usages.as_ref(),
            representations: vec![("representations", part.batch.representations())],
        };
        let Some(mut answer) = self
            .call(service, body, || {
                part.batch
                    .left_null(&filled_keys(selection, Some("_entities")))
            })
            .await
        else {
            return;
        };
        let hint = answer.hint;
        let errors = answer.take_errors();
        let results = answer.take_field("_entities");
        if let Some((cache, lookup)) = &cached
            && errors.is_empty()
        {
            self.store_answers(*cache, &part, lookup, results.as_deref(), hint);
        }
        self.merge_entities(
            service,
            "_entities",
            &part.batch,
            results,
            errors,
            fetch.output_rewrites.as_ref(),
        );
    }

    /// Looks up every representation of `batch`, sent under the `_entities` field answering to
    /// `field` in `selection`, in the entity cache.
    async fn look_up(
        &self,
        cache: super::EntityCache<'_>,
        service: &str,
        selection: &SelectionSet,
        field: &str,
        usages: Option<&std::collections::BTreeSet<String>>,
        batch: &Batch<'_>,
    ) -> Lookup {
        // The key names what is asked of each entity (the `_entities` field's selection),
        // not the whole operation, so a batched and a single fetch share entries.
        let asked = entities_selection(selection, field);
        let shared = self.cache_keys(cache, service, &asked, usages);
        let keys: Vec<u128> = batch
            .representations()
            .iter()
            .map(|representation| shared.key(representation))
            .collect();
        let found = cache.store.get_many(&keys).await;
        Lookup { keys, found }
    }

    /// Merges the cached entities of `batch` and returns the part still to fetch.
    fn merge_hits<'p>(
        &self,
        service: &str,
        field: &str,
        batch: &Batch<'p>,
        lookup: &Lookup,
        rewrites: Option<&Vec<FetchRewrite>>,
    ) -> Part<'p> {
        let (hits, misses) = batch.split(|index| lookup.found[index].is_some());
        if hits.batch.is_empty() {
            return misses;
        }
        let now = now_ms();
        let mut results = Vec::with_capacity(hits.origin.len());
        for original in &hits.origin {
            let value = lookup.found[*original]
                .as_ref()
                .and_then(|entry| self.cached_value(entry, now));
            results.push(value.unwrap_or(Value::Null));
        }
        self.merge_entities(
            service,
            field,
            &hits.batch,
            Some(Cow::Owned(Value::Array(results))),
            Vec::new(),
            rewrites,
        );
        misses
    }

    /// Caches each non-null answer to the representations of `misses`, when the subgraph's
    /// hint allows a shared cache.
    fn store_answers(
        &self,
        cache: super::EntityCache<'_>,
        misses: &Part<'_>,
        lookup: &Lookup,
        results: Option<&Value>,
        hint: super::CacheHint,
    ) {
        let (Some(max_age), Some(Value::Array(answers))) = (hint.shareable_max_age(), results)
        else {
            return;
        };
        let max_age = max_age.min(cache.max_ttl);
        let stored_ms = now_ms();
        for (index, answer) in answers.iter().enumerate() {
            let (Some(original), false) = (misses.origin.get(index), answer.is_null()) else {
                continue;
            };
            let Some(representation) = misses.batch.representations().get(index) else {
                continue;
            };
            let mut bytes = Vec::with_capacity(128);
            answer.write_json(&mut bytes);
            let entry = Entry {
                body: bytes.into(),
                scope: Scope::Public,
                max_age,
                stored_ms,
                started_ms: self.started_ms,
                tags: self.entity_tags(representation).into_boxed_slice(),
            };
            cache.store.put(lookup.keys[*original], entry);
        }
    }

    /// The tags of a cached entity: its type and itself, from its representation.
    fn entity_tags(&self, representation: &[u8]) -> Vec<Tag> {
        serde_json::from_slice::<serde_json::Value>(representation)
            .ok()
            .and_then(|json| target_of(self.supergraph, &json))
            .map(|target| target.entry_tags())
            .unwrap_or_default()
    }

    /// Runs several entity fetches to one subgraph as one request (one alias each); with the
    /// entity cache, each alias asks only for the entities not cached.
    pub(super) async fn fetch_batch(&self, node: &BatchFetchNode) {
        let collected = self.collect_batches(node);
        if collected.iter().all(Batch::is_empty) {
            return;
        }
        let service = &node.service_name;
        let selection = &node.operation.document.operation.selection_set;
        let aliases = &node.entity_batch.aliases;
        // With the cache: the hits merged now, and for each alias what is left to fetch.
        let mut lookups = Vec::new();
        let batches: Vec<Part<'_>> = match self.entity_cache {
            None => collected
                .into_iter()
                // Origins are only read when storing into the cache.
                .map(|batch| Part {
                    origin: Vec::new(),
                    batch,
                })
                .collect(),
            Some(cache) => {
                let mut parts = Vec::with_capacity(collected.len());
                for (alias, batch) in aliases.iter().zip(&collected) {
                    let lookup = self
                        .look_up(
                            cache,
                            service,
                            selection,
                            &alias.alias,
                            node.variable_usages.as_ref(),
                            batch,
                        )
                        .await;
                    parts.push(self.merge_hits(
                        service,
                        &alias.alias,
                        batch,
                        &lookup,
                        alias.output_rewrites.as_ref(),
                    ));
                    lookups.push(lookup);
                }
                parts
            }
        };
        if batches.iter().all(|part| part.batch.is_empty()) {
            return;
        }
        let representations = aliases
            .iter()
            .zip(batches.iter())
            .map(|(alias, part)| {
                (
                    alias.representations_variable_name.as_str(),
                    part.batch.representations(),
                )
            })
            .collect();
        let body = RequestBody {
            operation: &node.operation.document_str,
            variables: self.variables,
            usages: node.variable_usages.as_ref(),
            representations,
        };
        let left_null = || {
            aliases
                .iter()
                .zip(&batches)
                .flat_map(|(alias, part)| {
                    part.batch
                        .left_null(&filled_keys(selection, Some(&alias.alias)))
                })
                .collect()
        };
        let Some(mut answer) = self.call(service, body, left_null).await else {
            return;
        };
        let hint = answer.hint;
        let mut errors = answer.take_errors();
        let clean = errors.is_empty();
        for (index, (alias, part)) in aliases.iter().zip(&batches).enumerate() {
            let results = answer.take_field(&alias.alias);
            if let (Some(cache), Some(lookup), true) =
                (self.entity_cache, lookups.get(index), clean)
            {
                self.store_answers(cache, part, lookup, results.as_deref(), hint);
            }
            // Each alias takes the errors whose path starts with it.
            let (mine, rest): (Vec<serde_json::Value>, Vec<serde_json::Value>) =
                errors.into_iter().partition(|e| {
                    e.pointer("/path/0").and_then(serde_json::Value::as_str)
                        == Some(alias.alias.as_str())
                });
            errors = rest;
            self.merge_entities(
                service,
                &alias.alias,
                &part.batch,
                results,
                mine,
                alias.output_rewrites.as_ref(),
            );
        }
        self.errors(
            errors
                .into_iter()
                .map(|e| with_service(e, service, Some(None))),
        );
    }

    /// The representations of each alias of a batch fetch, gathered from the data so far.
    fn collect_batches<'p>(&self, node: &'p BatchFetchNode) -> Vec<Batch<'p>> {
        let api = self.supergraph.api();
        let data = super::lock(&self.data);
        node.entity_batch
            .aliases
            .iter()
            .map(|alias| {
                let mut batch = Batch::default();
                for path in &alias.merge_paths {
                    batch.collect(
                        &data,
                        path.as_slice(),
                        &alias.requires,
                        alias.input_rewrites.as_ref(),
                        api,
                    );
                }
                batch
            })
            .collect()
    }

    /// Merges an entity answer into every place its representation came from. An entity of
    /// this request's own answer used at one place is moved there, one used at several is
    /// copied for all but the last; entities of a shared answer are copied.
    fn merge_entities(
        &self,
        service: &str,
        field: &str,
        batch: &Batch<'_>,
        results: Option<Cow<'_, Value>>,
        errors: Vec<serde_json::Value>,
        rewrites: Option<&Vec<FetchRewrite>>,
    ) {
        let api = self.supergraph.api();
        let repathed = repath_errors(service, field, batch, results.as_deref(), errors);
        self.errors(repathed);
        let Some(results) = results else {
            return;
        };
        let results = match (results, rewrites) {
            (results, None) => results,
            (results, Some(rewrites)) => {
                let mut results = results.into_owned();
                if let Value::Array(items) = &mut results {
                    for result in items {
                        apply_output_rewrites(result, rewrites, api);
                    }
                }
                Cow::Owned(results)
            }
        };
        // This request's own results are moved into their last place; a shared answer's are
        // only ever copied.
        let (mut own, shared) = match results {
            Cow::Owned(Value::Array(items)) => (items, None),
            Cow::Borrowed(Value::Array(items)) => (Vec::new(), Some(items)),
            _ => return,
        };
        let count = shared.map_or(own.len(), Vec::len);
        let mut uses_left = vec![0u32; count];
        for slot in &batch.slots {
            if let Some(uses) = uses_left.get_mut(slot.representation) {
                *uses += 1;
            }
        }
        let mut data = super::lock(&self.data);
        for slot in &batch.slots {
            let index = slot.representation;
            let Some(uses) = uses_left.get_mut(index) else {
                continue;
            };
            *uses -= 1;
            let last = *uses == 0;
            let Some(target) = navigate(&mut data, batch.trail(slot)) else {
                continue;
            };
            match (shared, own.get_mut(index)) {
                (Some(items), _) => deep_merge_copy(target, &items[index], api),
                (None, Some(result)) if last => deep_merge(target, result.take(), api),
                (None, Some(result)) => deep_merge_copy(target, result, api),
                (None, None) => {}
            }
        }
    }
}

fn navigate<'v>(mut value: &'v mut Value, trail: &[Step<'_>]) -> Option<&'v mut Value> {
    for step in trail {
        value = match (value, step) {
            (Value::Object(object), Step::Key(key)) => object.get_mut(key)?,
            (Value::Array(items), Step::Index(index)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Whether `entity` is missing or null, or holds null (or nothing) at `path`.
fn null_at(entity: Option<&Value>, path: &[serde_json::Value]) -> bool {
    let mut value = match entity {
        Some(value) => value,
        None => return true,
    };
    for step in path {
        let next = match (value, step) {
            (Value::Null, _) => return true,
            (Value::Object(object), serde_json::Value::String(key)) => object.get(key),
            (Value::Array(items), serde_json::Value::Number(n)) => {
                n.as_u64().and_then(|i| items.get(usize::try_from(i).ok()?))
            }
            _ => None,
        };
        match next {
            Some(next) => value = next,
            None => return true,
        }
    }
    value.is_null()
}

/// A batch's errors re-pathed to where the client sees them. async-graphql 7 writes `_entities`
/// error paths without the representation index (`["_entities", "field"]`): the index is
/// recovered from the answer, as the first entity not yet blamed for this path whose value
/// there is null.
fn repath_errors(
    service: &str,
    field: &str,
    batch: &Batch<'_>,
    results: Option<&Value>,
    errors: Vec<serde_json::Value>,
) -> Vec<crate::error::GraphqlError> {
    use serde_json::Value as Json;
    let answered = match results {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    // Which (entity, rest of path) pairs an error was already placed on.
    let mut blamed: std::collections::HashSet<(usize, String)> = Default::default();
    errors
        .into_iter()
        .map(|error| {
            let path = error.get("path").and_then(Json::as_array).and_then(|path| {
                if path.first().and_then(Json::as_str) != Some(field) {
                    return None;
                }
                let (index, rest) = match path.get(1) {
                    Some(Json::Number(n)) => (usize::try_from(n.as_u64()?).ok()?, &path[2..]),
                    _ => {
                        let rest = &path[1..];
                        let key = Json::Array(rest.to_vec()).to_string();
                        let index = (0..batch.representations.len()).find(|i| {
                            !blamed.contains(&(*i, key.clone())) && null_at(answered.get(*i), rest)
                        })?;
                        (index, rest)
                    }
                };
                blamed.insert((index, Json::Array(rest.to_vec()).to_string()));
                let mut client = batch.client_path(index)?;
                client.extend(rest.iter().cloned());
                Some(Json::Array(client))
            });
            with_service(error, service, Some(path))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A batch of three representations: `a` used at two places, `b` and `c` at one each.
    fn batch() -> Batch<'static> {
        let mut batch = Batch::default();
        for (name, index) in [("a", 0usize), ("b", 1), ("a", 2), ("c", 3)] {
            let known = batch
                .representations
                .iter()
                .position(|r| **r == *name.as_bytes());
            let representation = known.unwrap_or_else(|| {
                batch
                    .representations
                    .push(name.as_bytes().to_vec().into_boxed_slice());
                batch.first_slot.push(batch.slots.len());
                batch.representations.len() - 1
            });
            let start = batch.trails.len();
            batch.trails.push(Step::Key("list"));
            batch.trails.push(Step::Index(index));
            batch.slots.push(Slot {
                start,
                end: batch.trails.len(),
                representation,
            });
        }
        batch
    }

    fn indices(batch: &Batch<'_>) -> Vec<usize> {
        batch
            .slots
            .iter()
            .map(|slot| match batch.trail(slot)[1] {
                Step::Index(i) => i,
                Step::Key(_) => usize::MAX,
            })
            .collect()
    }

    #[test]
    fn a_split_keeps_every_place_of_each_representation_on_its_side() {
        let whole = batch();
        // `a` and `c` are cached, `b` is not.
        let (hits, misses) = whole.split(|index| index != 1);
        assert_eq!(hits.origin, vec![0, 2]);
        assert_eq!(misses.origin, vec![1]);
        assert_eq!(
            hits.batch.representations(),
            &[
                b"a".to_vec().into_boxed_slice(),
                b"c".to_vec().into_boxed_slice()
            ]
        );
        assert_eq!(
            misses.batch.representations(),
            &[b"b".to_vec().into_boxed_slice()]
        );
        assert_eq!(
            indices(&hits.batch),
            vec![0, 2, 3],
            "both places of `a`, and `c`"
        );
        assert_eq!(indices(&misses.batch), vec![1]);
        // Error paths still name the first place each representation was found.
        assert_eq!(
            hits.batch.client_path(1),
            Some(vec![serde_json::json!("list"), serde_json::json!(3)])
        );
        assert_eq!(
            misses.batch.client_path(0),
            Some(vec![serde_json::json!("list"), serde_json::json!(1)])
        );
    }

    #[test]
    fn a_split_with_nothing_cached_or_everything_cached_leaves_one_side_empty() {
        let whole = batch();
        let (hits, misses) = whole.split(|_| false);
        assert!(hits.batch.is_empty());
        assert_eq!(misses.origin, vec![0, 1, 2]);
        assert_eq!(indices(&misses.batch), vec![0, 1, 2, 3]);
        let (hits, misses) = whole.split(|_| true);
        assert!(misses.batch.is_empty());
        assert_eq!(hits.batch.slots.len(), 4);
    }
}
