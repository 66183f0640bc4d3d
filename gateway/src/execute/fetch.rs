//! Sending one subgraph request and reading its answer: body built once, response parsed once,
//! failures turned into errors that name the subgraph.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Map;

use super::Execution;
use super::merge::{apply_output_rewrites, deep_merge};
use super::value::Value;
use crate::cache::invalidate::{Tag, now_ms, target_of};
use crate::cache::{Entry, Scope};
use crate::error::{Code, GraphqlError, PathSegment};
use crate::supergraph::api::named_type;
use crate::supergraph::planner::{FetchNode, SelectionItem, SelectionSet};
use crate::transport::{SubgraphRequest, SubgraphResponse, TransportError};

/// A subgraph's GraphQL response.
#[derive(Deserialize)]
pub(super) struct SubgraphBody {
    #[serde(default)]
    pub(super) data: Option<Value>,
    #[serde(default)]
    pub(super) errors: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub(super) extensions: Option<SubgraphExtensions>,
}

/// A subgraph's parsed answer as one request sees it.
pub(super) struct Answer {
    body: Reading,
    /// This answer's caching hint (from its `Cache-Control`).
    pub(super) hint: super::CacheHint,
}

/// Whose parsed body an [`Answer`] holds.
enum Reading {
    /// This request's own: its values are moved into the result.
    Own(SubgraphBody),
    /// Parsed once for every request that shared one subgraph request; each copies what it
    /// merges, which costs less than reading the JSON again.
    Shared(Arc<SubgraphBody>),
}

impl Answer {
    /// The subgraph's errors (copied from a shared answer).
    pub(super) fn take_errors(&mut self) -> Vec<serde_json::Value> {
        match &mut self.body {
            Reading::Own(body) => body.errors.take().unwrap_or_default(),
            Reading::Shared(body) => body.errors.clone().unwrap_or_default(),
        }
    }

    /// The answer's `data`: moved out of this request's own answer, borrowed from a shared one.
    pub(super) fn take_data(&mut self) -> Option<Cow<'_, Value>> {
        match &mut self.body {
            Reading::Own(body) => body.data.take().map(Cow::Owned),
            Reading::Shared(body) => body.data.as_ref().map(Cow::Borrowed),
        }
    }

    /// The field `key` of the answer's `data`, moved out or borrowed like [`Answer::take_data`].
    pub(super) fn take_field(&mut self, key: &str) -> Option<Cow<'_, Value>> {
        match &mut self.body {
            Reading::Own(body) => body
                .data
                .as_mut()?
                .get_mut(key)
                .map(|value| Cow::Owned(value.take())),
            Reading::Shared(body) => body.data.as_ref()?.get(key).map(Cow::Borrowed),
        }
    }
}

/// Reads a subgraph's body; `None` when it is not a GraphQL response.
fn parse(body: &[u8]) -> Option<SubgraphBody> {
    // sonic-rs reads JSON with vector instructions.
    sonic_rs::from_slice::<SubgraphBody>(body)
        .ok()
        .filter(|body| body.data.is_some() || body.errors.is_some())
}

/// Reads an answer shared by several requests: the first to get here parses it, the others
/// take that reading.
fn parse_shared(response: &SubgraphResponse) -> Option<Arc<SubgraphBody>> {
    let reading = response
        .reading
        .get_or_init(|| match parse(&response.body) {
            Some(body) => Arc::new(body) as Arc<dyn Any + Send + Sync>,
            None => Arc::new(()),
        });
    reading.clone().downcast::<SubgraphBody>().ok()
}

/// The extensions of a subgraph response the engine reads.
#[derive(Deserialize)]
pub(super) struct SubgraphExtensions {
    /// Entities (representations) or types (names) whose cached data this response makes
    /// stale, named by a subgraph that changed them.
    #[serde(default)]
    invalidate: Vec<serde_json::Value>,
}

/// What one subgraph request sends, written straight into its JSON body: the operation, the
/// client variables it uses, and each batch's serialized representations.
pub(super) struct RequestBody<'r> {
    /// The subgraph operation's text.
    pub(super) operation: &'r str,
    /// The client's coerced variables.
    pub(super) variables: &'r Map<String, serde_json::Value>,
    /// The variables the operation uses.
    pub(super) usages: Option<&'r std::collections::BTreeSet<String>>,
    /// The representations variables of an entity fetch, by name.
    pub(super) representations: Vec<(&'r str, &'r [Box<[u8]>])>,
}

impl RequestBody<'_> {
    /// `{"query": ..., "variables": {...}}` as bytes.
    fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let representations: usize = self
            .representations
            .iter()
            .flat_map(|(_, representations)| representations.iter())
            .map(|r| r.len() + 1)
            .sum();
        let mut out = Vec::with_capacity(self.operation.len() + representations + 64);
        out.extend_from_slice(b"{\"query\":");
        serde_json::to_writer(&mut out, self.operation)?;
        out.extend_from_slice(b",\"variables\":{");
        let mut first = true;
        let mut separate = |out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
        };
        for name in self.usages.into_iter().flatten() {
            if let Some(value) = self.variables.get(name) {
                separate(&mut out);
                serde_json::to_writer(&mut out, name)?;
                out.push(b':');
                serde_json::to_writer(&mut out, value)?;
            }
        }
        for (name, representations) in &self.representations {
            separate(&mut out);
            serde_json::to_writer(&mut out, name)?;
            out.extend_from_slice(b":[");
            for (i, representation) in representations.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(representation);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
        Ok(out)
    }
}

impl<'a> Execution<'a> {
    /// Runs a fetch at the root of the response (no entities): its data merges into the root.
    /// With the entity cache, a query's root fetch is answered from it when the same fetch
    /// (operation, variables, headers) was answered before and may still be used.
    pub(super) async fn fetch_root(&self, fetch: &FetchNode) {
        let service = &fetch.service_name;
        let cached = self.entity_cache.map(|cache| {
            let keys = self.cache_keys(
                cache,
                service,
                &fetch.operation.document_str,
                fetch.variable_usages.as_ref(),
            );
            (cache, keys.key(ROOT))
        });
        if let Some((cache, key)) = cached
            && let Some(Some(entry)) = cache.store.get_many(&[key]).await.into_iter().next()
            && let Some(data) = self.cached_value(&entry, now_ms())
        {
            self.merge_root(fetch, data);
            return;
        }
        let body = RequestBody {
            operation: &fetch.operation.document_str,
            variables: self.variables,
            usages: fetch.variable_usages.as_ref(),
            representations: Vec::new(),
        };
        let left_null = || {
            filled_keys(&fetch.operation.document.operation.selection_set, None)
                .into_iter()
                .map(|key| vec![PathSegment::Key(key)])
                .collect()
        };
        let Some(mut answer) = self.call(service, body, left_null).await else {
            return;
        };
        let hint = answer.hint;
        let errors = answer.take_errors();
        let clean = errors.is_empty();
        self.errors(errors.into_iter().map(|e| with_service(e, service, None)));
        let Some(data) = answer.take_data().filter(|data| data.as_object().is_some()) else {
            return;
        };
        if let Some((cache, key)) = cached
            && clean
            && let Some(max_age) = hint.shareable_max_age()
        {
            let mut bytes = Vec::with_capacity(1024);
            data.write_json(&mut bytes);
            let mut tags = rustc_hash::FxHashSet::default();
            let api = self.supergraph.api();
            tag_selection(
                self.supergraph,
                &data,
                &fetch.operation.document.operation.selection_set,
                api.query_type(),
                &mut tags,
            );
            let entry = Entry {
                body: bytes.into(),
                scope: Scope::Public,
                max_age: max_age.min(cache.max_ttl),
                stored_ms: now_ms(),
                started_ms: self.started_ms,
                tags: tags.into_iter().collect(),
            };
            cache.store.put(key, entry);
        }
        self.merge_root(fetch, data.into_owned());
    }

    /// Merges a root fetch's data into the result, after its output rewrites.
    fn merge_root(&self, fetch: &FetchNode, mut data: Value) {
        let api = self.supergraph.api();
        if let Some(rewrites) = &fetch.output_rewrites {
            apply_output_rewrites(&mut data, rewrites, api);
        }
        deep_merge(&mut super::lock(&self.data), data, api);
    }

    /// Sends `body` to `service`; on failure records an error and returns `None`. The
    /// failure is reported once for each path `left_null` gives (the response fields this fetch
    /// would have filled), so the client sees which fields it lost; without paths, or past
    /// [`MAX_PATHED_ERRORS`], one error without a path stands for the rest.
    pub(super) async fn call(
        &self,
        service: &str,
        body: RequestBody<'_>,
        left_null: impl FnOnce() -> Vec<Vec<PathSegment>>,
    ) -> Option<Answer> {
        let outcome = self.send(service, &body).await;
        match outcome.and_then(|response| self.read(service, &response)) {
            Ok(body) => Some(body),
            Err(error) => {
                let left_null = left_null();
                let truncated = left_null.len() > MAX_PATHED_ERRORS;
                let pathed = left_null.into_iter().take(MAX_PATHED_ERRORS).map(|path| {
                    let mut error = error.clone();
                    error.path = Some(path);
                    error
                });
                let pathed: Vec<GraphqlError> = pathed.collect();
                if pathed.is_empty() || truncated {
                    self.error(error);
                }
                self.errors(pathed);
                None
            }
        }
    }

    /// Sends one request; the transport's failures become errors that name the subgraph.
    async fn send(
        &self,
        service: &str,
        body: &RequestBody<'_>,
    ) -> Result<SubgraphResponse, GraphqlError> {
        let Some(transport) = self.subgraphs.get(service) else {
            let reason = "the subgraph has no configured transport";
            return Err(failure(service, Code::SubrequestHttpError, reason));
        };
        let body = body
            .to_bytes()
            .map_err(|err| failure(service, Code::InternalServerError, &err.to_string()))?;
        self.count_fetch();
        metrics::counter!("tributary_subgraph_requests_total", "subgraph" => service.to_owned())
            .increment(1);
        let request = SubgraphRequest {
            body: Bytes::from(body),
            headers: self.headers.clone(),
            shareable: self.shareable,
        };
        transport.send(request).await.map_err(|err| match err {
            TransportError::Timeout => {
                tracing::warn!(subgraph = service, "subgraph request timed out");
                failure(service, Code::SubrequestTimeout, "the request timed out")
            }
            TransportError::CircuitOpen => failure(
                service,
                Code::SubrequestCircuitOpen,
                "the subgraph is unavailable: it failed repeatedly and is rested for a moment",
            ),
            err => {
                // The details (addresses included) go to the log, not to the client.
                tracing::warn!(subgraph = service, error = %err, "subgraph request failed");
                let reason = match err {
                    TransportError::TooLarge => "the subgraph's response is too large",
                    _ => "the subgraph could not be reached",
                };
                failure(service, Code::SubrequestHttpError, reason)
            }
        })
    }

    /// Reads a subgraph's answer: its caching hint, then its GraphQL body (once for all the
    /// requests that shared it).
    fn read(&self, service: &str, response: &SubgraphResponse) -> Result<Answer, GraphqlError> {
        let mut hint = super::CacheHint::default();
        if let Some(header) = &response.cache_control {
            hint.add(header);
            super::lock(&self.cache).add(header);
        }
        let reading = if response.sharers > 1 {
            parse_shared(response).map(Reading::Shared)
        } else {
            parse(&response.body).map(Reading::Own)
        };
        match reading {
            Some(mut reading) => {
                let named = match &mut reading {
                    Reading::Own(body) => body.extensions.take().map(|e| e.invalidate),
                    Reading::Shared(body) => body.extensions.as_ref().map(|e| e.invalidate.clone()),
                };
                if let Some(named) = named {
                    self.named_for_invalidation(service, named);
                }
                Ok(Answer {
                    body: reading,
                    hint,
                })
            }
            _ if !(200..300).contains(&response.status) => Err(failure(
                service,
                Code::SubrequestHttpError,
                &format!("the subgraph answered with HTTP status {}", response.status),
            )),
            _ => {
                tracing::warn!(
                    subgraph = service,
                    "subgraph response is not a GraphQL response"
                );
                Err(failure(
                    service,
                    Code::SubrequestMalformedResponse,
                    "the subgraph's response is not a valid GraphQL response",
                ))
            }
        }
    }
}

impl Execution<'_> {
    /// Records what a subgraph named for invalidation; names the engine cannot read are logged
    /// and skipped.
    fn named_for_invalidation(&self, service: &str, named: Vec<serde_json::Value>) {
        if named.is_empty() {
            return;
        }
        let mut targets = super::lock(&self.invalidate);
        for item in named.iter().take(MAX_NAMED_FOR_INVALIDATION) {
            match target_of(self.supergraph, item) {
                Some(target) => targets.push(target),
                None => tracing::warn!(
                    subgraph = service,
                    named = %item,
                    "a subgraph named something to invalidate that is not a type or an entity"
                ),
            }
        }
    }
}

/// The representation part of a root fetch's cache key (a root fetch has no entity).
const ROOT: &[u8] = b"root";

/// Tags every entity object in `value`, a subgraph's answer to `selection` on `type_name`.
fn tag_selection(
    supergraph: &crate::supergraph::Supergraph,
    value: &Value,
    selection: &SelectionSet,
    type_name: &str,
    tags: &mut rustc_hash::FxHashSet<Tag>,
) {
    match value {
        Value::Array(items) => {
            for item in items {
                tag_selection(supergraph, item, selection, type_name, tags);
            }
        }
        Value::Object(object) => {
            let concrete = object.typename().unwrap_or(type_name);
            super::tag_object(supergraph, object, concrete, tags);
            let api = supergraph.api();
            for item in &selection.items {
                match item {
                    SelectionItem::Field(field) if !field.selections.items.is_empty() => {
                        let key = field.alias.as_deref().unwrap_or(&field.name);
                        let Some(child) = object.get(key) else {
                            continue;
                        };
                        let definition = api
                            .field(concrete, &field.name)
                            .or_else(|| api.field(type_name, &field.name));
                        if let Some(definition) = definition {
                            let child_type = named_type(&definition.field_type);
                            tag_selection(supergraph, child, &field.selections, child_type, tags);
                        }
                    }
                    SelectionItem::InlineFragment(fragment) => {
                        let condition = fragment.type_condition.as_str();
                        if api.is_possible_type(condition, concrete) {
                            tag_selection(supergraph, value, &fragment.selections, concrete, tags);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Most invalidations one subgraph response may name.
const MAX_NAMED_FOR_INVALIDATION: usize = 1_000;

/// Most errors one failed fetch reports with a path each; a list of thousands of entities gets
/// the first ones and one error without a path for the rest.
const MAX_PATHED_ERRORS: usize = 100;

/// The response keys a fetch fills at each place it writes to: the top-level fields of its
/// selection, or for an entity fetch the fields under `_entities` (or under `field`, an alias
/// of a batched entity fetch).
pub(super) fn filled_keys(selection: &SelectionSet, field: Option<&str>) -> Vec<String> {
    fn keys(set: &SelectionSet, out: &mut Vec<String>) {
        for item in &set.items {
            match item {
                SelectionItem::Field(field) if field.name != "__typename" => {
                    let key = field.alias.as_deref().unwrap_or(&field.name);
                    if !out.iter().any(|k| k == key) {
                        out.push(key.to_owned());
                    }
                }
                SelectionItem::InlineFragment(fragment) => keys(&fragment.selections, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    match field {
        None => keys(selection, &mut out),
        Some(entities) => {
            for item in &selection.items {
                if let SelectionItem::Field(f) = item
                    && f.alias.as_deref().unwrap_or(&f.name) == entities
                {
                    keys(&f.selections, &mut out);
                }
            }
        }
    }
    out
}

/// An error about a subgraph request as a whole.
fn failure(service: &str, code: Code, reason: &str) -> GraphqlError {
    GraphqlError::new(
        code,
        format!("HTTP fetch failed from '{service}': {reason}"),
    )
    .with_extension("serviceName", serde_json::Value::String(service.to_owned()))
}

/// A subgraph's error for the client: its location dropped (it points into the subgraph's
/// operation), `extensions.serviceName` added, its path replaced when one is given.
pub(super) fn with_service(
    error: serde_json::Value,
    service: &str,
    path: Option<Option<serde_json::Value>>,
) -> GraphqlError {
    let mut error = GraphqlError::from_subgraph(error);
    match path {
        Some(Some(serde_json::Value::Array(path))) => {
            error.path = path.iter().map(PathSegment::from_json).collect();
        }
        Some(_) => error.path = None,
        None => {}
    }
    error.extensions.insert(
        "serviceName".into(),
        serde_json::Value::String(service.to_owned()),
    );
    error
}
