//! Entity fetches: gather the objects a Flatten path points at, build one de-duplicated list
//! of representations (one `_entities` request per subgraph per plan step), and merge each
//! answer back into every place it came from.

use rustc_hash::FxHashMap;

use super::Execution;
use super::fetch::{RequestBody, filled_keys, with_service};
use super::merge::{apply_input_rewrites, apply_output_rewrites, deep_merge};
use super::value::{Object, Value};
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
        let body = RequestBody {
            operation: &fetch.operation.document_str,
            variables: self.variables,
            usages: fetch.variable_usages.as_ref(),
            representations: vec![("representations", batch.representations())],
        };
        let Some(body) = self
            .call(&fetch.service_name, body, || {
                let selection = &fetch.operation.document.operation.selection_set;
                batch.left_null(&filled_keys(selection, Some("_entities")))
            })
            .await
        else {
            return;
        };
        let results = body
            .data
            .and_then(|mut data| data.get_mut("_entities").map(Value::take));
        self.merge_entities(
            &fetch.service_name,
            "_entities",
            &batch,
            results,
            body.errors.unwrap_or_default(),
            fetch.output_rewrites.as_ref(),
        );
    }

    /// Runs several entity fetches to one subgraph as one request (one alias each).
    pub(super) async fn fetch_batch(&self, node: &BatchFetchNode) {
        let batches = self.collect_batches(node);
        if batches.iter().all(Batch::is_empty) {
            return;
        }
        let representations = node
            .entity_batch
            .aliases
            .iter()
            .zip(batches.iter())
            .map(|(alias, batch)| {
                (
                    alias.representations_variable_name.as_str(),
                    batch.representations(),
                )
            })
            .collect();
        let body = RequestBody {
            operation: &node.operation.document_str,
            variables: self.variables,
            usages: node.variable_usages.as_ref(),
            representations,
        };
        let selection = &node.operation.document.operation.selection_set;
        let left_null = || {
            node.entity_batch
                .aliases
                .iter()
                .zip(&batches)
                .flat_map(|(alias, batch)| {
                    batch.left_null(&filled_keys(selection, Some(&alias.alias)))
                })
                .collect()
        };
        let Some(body) = self.call(&node.service_name, body, left_null).await else {
            return;
        };
        let mut data = body.data.unwrap_or(Value::Null);
        let mut errors = body.errors.unwrap_or_default();
        for (alias, batch) in node.entity_batch.aliases.iter().zip(&batches) {
            let results = data.get_mut(&alias.alias).map(Value::take);
            // Each alias takes the errors whose path starts with it.
            let (mine, rest): (Vec<serde_json::Value>, Vec<serde_json::Value>) =
                errors.into_iter().partition(|e| {
                    e.pointer("/path/0").and_then(serde_json::Value::as_str)
                        == Some(alias.alias.as_str())
                });
            errors = rest;
            self.merge_entities(
                &node.service_name,
                &alias.alias,
                batch,
                results,
                mine,
                alias.output_rewrites.as_ref(),
            );
        }
        let service = &node.service_name;
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

    /// Merges an entity answer into every place its representation came from. An entity used
    /// at one place is moved there; one used at several is copied for all but the last.
    fn merge_entities(
        &self,
        service: &str,
        field: &str,
        batch: &Batch<'_>,
        results: Option<Value>,
        errors: Vec<serde_json::Value>,
        rewrites: Option<&Vec<FetchRewrite>>,
    ) {
        let api = self.supergraph.api();
        let repathed = repath_errors(service, field, batch, results.as_ref(), errors);
        self.errors(repathed);
        let Some(Value::Array(mut results)) = results else {
            return;
        };
        if let Some(rewrites) = rewrites {
            for result in &mut results {
                apply_output_rewrites(result, rewrites, api);
            }
        }
        let mut uses_left = vec![0u32; results.len()];
        for slot in &batch.slots {
            if let Some(uses) = uses_left.get_mut(slot.representation) {
                *uses += 1;
            }
        }
        let mut data = super::lock(&self.data);
        for slot in &batch.slots {
            let index = slot.representation;
            let Some(result) = results.get_mut(index) else {
                continue;
            };
            if result.is_null() {
                continue;
            }
            uses_left[index] -= 1;
            let result = if uses_left[index] == 0 {
                result.take()
            } else {
                result.clone()
            };
            if let Some(target) = navigate(&mut data, batch.trail(slot)) {
                deep_merge(target, result, api);
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
