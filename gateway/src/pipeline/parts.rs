//! A query delivered in parts (`@defer`): the plan runs once, and as the fetches each part
//! waits for finish, the part is written and handed to the carrier. Payloads follow the
//! incremental delivery format Apollo Client and urql read (`deferSpec=20220824`): the
//! initial `{"data", "errors"?, "hasNext": true}`, then `{"incremental": [{"data", "path",
//! "label"?, "errors"?}], "hasNext"}` per deferred fragment.
//!
//! The stream owns everything it runs with, and executes as the carrier reads it: a client
//! that goes away drops the stream, and with it the fetches still in flight.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Value as Json, json};

use super::Version;
use crate::cache::Caches;
use crate::error::{GraphqlError, PathSegment};
use crate::execute::{self, Deadline, EntityCache, Value};
use crate::prepare::Prepared;
use crate::prepare::defer::DeferPlan;
use crate::respond::{Increment, selected, write_deferred, write_selection};
use crate::transport::Headers;

/// The entity cache as a deferred query may use it, owned.
pub(super) struct OwnedEntityCache {
    /// The engine's caches (the entity store among them).
    pub caches: Arc<Caches>,
    /// The headers sent to subgraphs (part of every entity key).
    pub forwarded: Vec<(String, String)>,
    /// The longest an entity is kept, in seconds.
    pub max_ttl: u32,
}

/// The parts of `prepared`'s response as a stream of JSON payloads, executing as it is read.
pub(super) fn stream(
    version: Arc<Version>,
    prepared: Arc<Prepared>,
    variables: Map<String, Json>,
    headers: Arc<Headers>,
    deadline: Option<Deadline>,
    entity_cache: Option<OwnedEntityCache>,
) -> BoxStream<'static, Bytes> {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let run = async move {
        let Some(defer) = prepared.defer.as_ref() else {
            return;
        };
        let delivery = Mutex::new(Delivery::default());
        let on_part = |part: usize, data: &Value, errors: &[GraphqlError], last: bool| {
            let mut delivery = delivery
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let payload = if part == 0 {
                delivery.initial(&version, &prepared, defer, &variables, data, errors, last)
            } else {
                match defer.fragments.get(part - 1) {
                    Some(_) => delivery.subsequent(
                        &version,
                        &prepared,
                        defer,
                        part - 1,
                        &variables,
                        data,
                        errors,
                        last,
                    ),
                    None => return,
                }
            };
            // A closed receiver is a client gone: the stream, and this run, are being dropped.
            let _ = sender.send(payload);
        };
        let entity_cache = entity_cache.as_ref().and_then(|owned| {
            Some(EntityCache {
                store: owned.caches.entity.as_ref()?,
                forwarded: &owned.forwarded,
                max_ttl: owned.max_ttl,
            })
        });
        execute::execute_deferred(
            &version.supergraph,
            &version.subgraphs,
            &prepared,
            &variables,
            headers,
            deadline,
            entity_cache,
            &on_part,
        )
        .await;
    };
    let run = futures::stream::once(run).filter_map(|()| async { None::<Bytes> });
    let parts = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    futures::stream::select(run, parts).boxed()
}

/// Which part of the response an execution error is delivered with.
#[derive(Debug, PartialEq)]
enum Owner {
    /// The initial payload selects the field it is at.
    Initial,
    /// Deferred fragment `i` is the first part to select it.
    Fragment(usize),
    /// No part selects it (it has no path, or is at a field fetched only for the plan): the
    /// first part written after it is seen carries it, without a path.
    First,
}

fn owner(defer: &DeferPlan, error: &GraphqlError) -> Owner {
    let Some(path) = error.path.as_deref() else {
        return Owner::First;
    };
    if selected(&defer.primary.selection_set, path) {
        return Owner::Initial;
    }
    defer
        .fragments
        .iter()
        .position(|fragment| selected(&fragment.operation.selection_set, path))
        .map_or(Owner::First, Owner::Fragment)
}

/// An error as delivered, to deliver it once.
type Delivered = (String, Option<Vec<PathSegment>>);

fn delivered(error: &GraphqlError) -> Delivered {
    (error.message.clone(), error.path.clone())
}

/// What a query delivered in parts has sent so far.
#[derive(Default)]
struct Delivery {
    /// The initial payload's data as the client holds it: a fragment is delivered only at the
    /// objects it has.
    initial: Json,
    /// The errors delivered, by message and path.
    reported: FxHashSet<Delivered>,
}

impl Delivery {
    /// The initial payload: the selection without its deferred fragments, with the errors at
    /// its fields and those no part selects.
    #[allow(clippy::too_many_arguments)]
    fn initial(
        &mut self,
        version: &Version,
        prepared: &Prepared,
        defer: &DeferPlan,
        variables: &Map<String, Json>,
        data: &Value,
        errors: &[GraphqlError],
        last: bool,
    ) -> Bytes {
        let own: Vec<GraphqlError> = errors
            .iter()
            .filter(|error| matches!(owner(defer, error), Owner::Initial | Owner::First))
            .cloned()
            .collect();
        let written = write_selection(
            &version.supergraph,
            prepared,
            &defer.primary.selection_set,
            variables,
            data,
            &own,
            false,
        );
        let mut response: Json = serde_json::from_slice(&written.body).unwrap_or(Json::Null);
        for error in errors {
            let owner = owner(defer, error);
            if owner == Owner::Initial {
                self.reported.insert(delivered(error));
            } else if owner == Owner::First {
                // Delivered without its path when the client did not select it.
                self.reported.insert(delivered(error));
                let mut bare = error.clone();
                bare.path = None;
                self.reported.insert(delivered(&bare));
            }
        }
        for error in response
            .get("errors")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            self.reported.insert(delivered_json(error));
        }
        let mut body = written.body;
        if body.last() == Some(&b'}') {
            body.pop();
            body.extend_from_slice(if last {
                b",\"hasNext\":false}"
            } else {
                b",\"hasNext\":true}"
            });
        }
        if let Some(object) = response.as_object_mut() {
            self.initial = object.remove("data").unwrap_or(Json::Null);
        }
        Bytes::from(body)
    }

    /// Deferred fragment `index`'s payload: its fields at each object it applies to that the
    /// client holds (a non-null field without a value nulls the fragment there, not above it),
    /// each with the errors under it; the errors no part selects, not delivered before, go
    /// with the last.
    #[allow(clippy::too_many_arguments)]
    fn subsequent(
        &mut self,
        version: &Version,
        prepared: &Prepared,
        defer: &DeferPlan,
        index: usize,
        variables: &Map<String, Json>,
        data: &Value,
        errors: &[GraphqlError],
        last: bool,
    ) -> Bytes {
        let Some(fragment) = defer.fragments.get(index) else {
            return Bytes::new();
        };
        let increments = write_deferred(
            &version.supergraph,
            prepared,
            &fragment.operation.selection_set,
            &fragment.paths,
            &fragment.keys,
            variables,
            data,
            errors,
        );
        let mut items: Vec<(Increment, Vec<GraphqlError>)> = increments
            .into_iter()
            .filter(|increment| holds_object(&self.initial, &increment.path))
            .map(|increment| (increment, Vec::new()))
            .collect();
        // Where each item's object is, to find the item an error is under.
        let objects: FxHashMap<Vec<PathSegment>, usize> = items
            .iter()
            .enumerate()
            .map(|(at, (increment, _))| (increment.path.clone(), at))
            .collect();
        let mut loose = Vec::new();
        for error in errors {
            if self.reported.contains(&delivered(error)) {
                continue;
            }
            match owner(defer, error) {
                Owner::Fragment(i) if i == index => {
                    let path = error.path.as_deref().unwrap_or_default();
                    let at = (0..=path.len())
                        .rev()
                        .find_map(|len| objects.get(&path[..len]).copied());
                    // An error under an object the client does not hold (it is null there, and
                    // an error says why) is not delivered twice.
                    if let Some((_, under)) = at.and_then(|at| items.get_mut(at)) {
                        under.push(error.clone());
                    }
                    self.reported.insert(delivered(error));
                }
                Owner::First => {
                    let mut bare = error.clone();
                    bare.path = None;
                    let seen = self.reported.contains(&delivered(&bare))
                        || loose.iter().any(|(_, other)| *other == bare);
                    if !seen {
                        loose.push((delivered(error), bare));
                    }
                }
                Owner::Initial | Owner::Fragment(_) => {}
            }
        }
        for (increment, under) in &mut items {
            for error in std::mem::take(&mut increment.errors) {
                if self.reported.insert(delivered(&error)) {
                    under.push(error);
                }
            }
        }
        // Errors no part selects go with the last object, or on their own with the last part;
        // otherwise they wait for a later part.
        let carried = !items.is_empty() || last;
        let mut loose: Vec<GraphqlError> = if carried {
            loose
                .into_iter()
                .map(|(original, bare)| {
                    self.reported.insert(original);
                    self.reported.insert(delivered(&bare));
                    bare
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut payload = Map::new();
        if !items.is_empty() {
            let last_item = items.len() - 1;
            let mut list = Vec::with_capacity(items.len());
            for (i, (increment, mut under)) in items.into_iter().enumerate() {
                if i == last_item {
                    under.append(&mut loose);
                }
                let mut item = Map::new();
                item.insert(
                    "data".to_owned(),
                    serde_json::from_slice(&increment.data).unwrap_or(Json::Null),
                );
                item.insert("path".to_owned(), json!(increment.path));
                if let Some(label) = &fragment.label {
                    item.insert("label".to_owned(), Json::from(label.as_str()));
                }
                if !under.is_empty() {
                    item.insert("errors".to_owned(), json!(under));
                }
                list.push(Json::Object(item));
            }
            payload.insert("incremental".to_owned(), Json::Array(list));
        }
        if !loose.is_empty() {
            payload.insert("errors".to_owned(), json!(loose));
        }
        payload.insert("hasNext".to_owned(), Json::Bool(!last));
        Bytes::from(Json::Object(payload).to_string())
    }
}

/// An error as the initial payload delivered it.
fn delivered_json(error: &Json) -> Delivered {
    let message = error
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    let path = error.get("path").and_then(Json::as_array).map(|path| {
        path.iter()
            .filter_map(PathSegment::from_json)
            .collect::<Vec<_>>()
    });
    (message, path)
}

/// Whether the client's data has an object at `path`.
fn holds_object(data: &Json, path: &[PathSegment]) -> bool {
    let mut at = data;
    for segment in path {
        let next = match segment {
            PathSegment::Key(key) => at.get(key.as_str()),
            PathSegment::Index(index) => at.get(*index),
        };
        match next {
            Some(value) => at = value,
            None => return false,
        }
    }
    at.is_object()
}
