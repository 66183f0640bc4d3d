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
use serde_json::{Map, Value as Json, json};

use super::Version;
use crate::cache::Caches;
use crate::error::GraphqlError;
use crate::execute::{self, Deadline, EntityCache, Value};
use crate::prepare::Prepared;
use crate::prepare::defer::{DeferPlan, Deferred};
use crate::respond::write_selection;
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
        let reported = Mutex::new(Vec::<String>::new());
        let on_part = |part: usize, data: &Value, errors: &[GraphqlError], last: bool| {
            let payload = if part == 0 {
                initial(&version, &prepared, defer, &variables, data, errors, last)
            } else {
                match defer.fragments.get(part - 1) {
                    Some(fragment) => subsequent(
                        &version, &prepared, fragment, &variables, data, errors, last, &reported,
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

/// The initial payload: the selection without its deferred fragments.
fn initial(
    version: &Version,
    prepared: &Prepared,
    defer: &DeferPlan,
    variables: &Map<String, Json>,
    data: &Value,
    errors: &[GraphqlError],
    last: bool,
) -> Bytes {
    let written = write_selection(
        &version.supergraph,
        prepared,
        &defer.primary.selection_set,
        variables,
        data,
        errors,
        false,
    );
    let mut body = written.body;
    if body.last() == Some(&b'}') {
        body.pop();
        body.extend_from_slice(if last {
            b",\"hasNext\":false}"
        } else {
            b",\"hasNext\":true}"
        });
    }
    Bytes::from(body)
}

/// A deferred fragment's payload: its fields at each object it applies to, with the errors
/// under that object (and those without a path not reported before).
#[allow(clippy::too_many_arguments)]
fn subsequent(
    version: &Version,
    prepared: &Prepared,
    fragment: &Deferred,
    variables: &Map<String, Json>,
    data: &Value,
    errors: &[GraphqlError],
    last: bool,
    reported: &Mutex<Vec<String>>,
) -> Bytes {
    let written = write_selection(
        &version.supergraph,
        prepared,
        &fragment.operation.selection_set,
        variables,
        data,
        errors,
        false,
    );
    let response: Json = serde_json::from_slice(&written.body).unwrap_or(Json::Null);
    let errors: Vec<&Json> = response
        .get("errors")
        .and_then(Json::as_array)
        .map(|errors| errors.iter().collect())
        .unwrap_or_default();
    let mut objects = Vec::new();
    if let Some(data) = response.get("data") {
        for path in &fragment.paths {
            objects_at(data, path, &mut Vec::new(), &mut objects);
        }
    }
    let mut pathless: Vec<Json> = Vec::new();
    {
        let mut reported = reported
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for error in &errors {
            if error.get("path").is_none() {
                let text = error.to_string();
                if !reported.contains(&text) {
                    reported.push(text);
                    pathless.push((*error).clone());
                }
            }
        }
    }
    let mut items = Vec::with_capacity(objects.len());
    for (index, (path, object)) in objects.into_iter().enumerate() {
        let fields: Map<String, Json> = fragment
            .keys
            .iter()
            .filter_map(|key| Some((key.clone(), object.get(key)?.clone())))
            .collect();
        let mut item = Map::new();
        item.insert("data".to_owned(), Json::Object(fields));
        let mut under: Vec<Json> = errors
            .iter()
            .filter(|error| starts_with(error, &path))
            .map(|error| (*error).clone())
            .collect();
        if index == 0 {
            under.append(&mut pathless);
        }
        item.insert("path".to_owned(), Json::Array(path));
        if let Some(label) = &fragment.label {
            item.insert("label".to_owned(), Json::from(label.as_str()));
        }
        if !under.is_empty() {
            item.insert("errors".to_owned(), Json::Array(under));
        }
        items.push(Json::Object(item));
    }
    let payload = if items.is_empty() {
        json!({ "hasNext": !last })
    } else {
        json!({ "incremental": items, "hasNext": !last })
    };
    Bytes::from(payload.to_string())
}

/// The objects at `path` (response keys; lists are expanded), each with its concrete path.
fn objects_at<'v>(
    value: &'v Json,
    path: &[String],
    at: &mut Vec<Json>,
    out: &mut Vec<(Vec<Json>, &'v Map<String, Json>)>,
) {
    match value {
        Json::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                at.push(Json::from(index));
                objects_at(item, path, at, out);
                at.pop();
            }
        }
        Json::Object(object) => match path.split_first() {
            None => out.push((at.clone(), object)),
            Some((key, rest)) => {
                if let Some(next) = object.get(key) {
                    at.push(Json::from(key.as_str()));
                    objects_at(next, rest, at, out);
                    at.pop();
                }
            }
        },
        _ => {}
    }
}

/// Whether an error's path runs through `prefix`.
fn starts_with(error: &Json, prefix: &[Json]) -> bool {
    error
        .get("path")
        .and_then(Json::as_array)
        .is_some_and(|path| path.len() >= prefix.len() && path[..prefix.len()] == *prefix)
}
