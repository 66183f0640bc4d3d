//! Sending one subgraph request and reading its answer: body built once, response parsed once,
//! failures turned into errors that name the subgraph.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Execution;
use super::merge::{apply_output_rewrites, deep_merge};
use crate::error::{Code, GraphqlError, PathSegment};
use crate::supergraph::planner::{FetchNode, SelectionItem, SelectionSet};
use crate::transport::{SubgraphRequest, SubgraphResponse, TransportError};

/// A subgraph's GraphQL response.
#[derive(Deserialize)]
pub(super) struct SubgraphBody {
    #[serde(default)]
    pub(super) data: Option<Value>,
    #[serde(default)]
    pub(super) errors: Option<Vec<Value>>,
}

impl<'a> Execution<'a> {
    /// Runs a fetch at the root of the response (no entities): its data merges into the root.
    pub(super) async fn fetch_root(&self, fetch: &FetchNode) {
        let variables = self.fetch_variables(fetch.variable_usages.iter().flatten(), None);
        let left_null = filled_keys(&fetch.operation.document.operation.selection_set, None)
            .into_iter()
            .map(|key| vec![PathSegment::Key(key)])
            .collect();
        let Some(body) = self
            .call(
                &fetch.service_name,
                &fetch.operation.document_str,
                variables,
                left_null,
            )
            .await
        else {
            return;
        };
        if let Some(errors) = body.errors {
            let service = &fetch.service_name;
            self.errors(errors.into_iter().map(|e| with_service(e, service, None)));
        }
        if let Some(mut data) = body.data.filter(Value::is_object) {
            let api = self.supergraph.api();
            if let Some(rewrites) = &fetch.output_rewrites {
                apply_output_rewrites(&mut data, rewrites, api);
            }
            deep_merge(&mut super::lock(&self.data), data, api);
        }
    }

    /// The variables a fetch sends: the ones it uses, plus its representations if any.
    pub(super) fn fetch_variables<'v>(
        &self,
        usages: impl Iterator<Item = &'v String>,
        representations: Option<Vec<(String, Vec<Value>)>>,
    ) -> Map<String, Value> {
        let mut variables = Map::new();
        for name in usages {
            if let Some(value) = self.variables.get(name) {
                variables.insert(name.clone(), value.clone());
            }
        }
        for (name, reps) in representations.into_iter().flatten() {
            variables.insert(name, Value::Array(reps));
        }
        variables
    }

    /// Sends `operation` to `service`; on failure records an error and returns `None`. The
    /// failure is reported once for each path in `left_null` (the response fields this fetch
    /// would have filled), so the client sees which fields it lost; without paths, or past
    /// [`MAX_PATHED_ERRORS`], one error without a path stands for the rest.
    pub(super) async fn call(
        &self,
        service: &str,
        operation: &str,
        variables: Map<String, Value>,
        left_null: Vec<Vec<PathSegment>>,
    ) -> Option<SubgraphBody> {
        let outcome = self.send(service, operation, variables).await;
        match outcome.and_then(|response| self.read(service, &response)) {
            Ok(body) => Some(body),
            Err(error) => {
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
        operation: &str,
        variables: Map<String, Value>,
    ) -> Result<SubgraphResponse, GraphqlError> {
        let Some(transport) = self.subgraphs.get(service) else {
            let reason = "the subgraph has no configured transport";
            return Err(failure(service, Code::SubrequestHttpError, reason));
        };
        let body = serde_json::to_vec(&json!({ "query": operation, "variables": variables }))
            .map_err(|err| failure(service, Code::InternalServerError, &err.to_string()))?;
        self.count_fetch();
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

    /// Reads a subgraph's answer: its caching hint, then its GraphQL body.
    fn read(
        &self,
        service: &str,
        response: &SubgraphResponse,
    ) -> Result<SubgraphBody, GraphqlError> {
        if let Some(header) = &response.cache_control {
            super::lock(&self.cache).add(header);
        }
        match serde_json::from_slice::<SubgraphBody>(&response.body) {
            Ok(body) if body.data.is_some() || body.errors.is_some() => Ok(body),
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
    .with_extension("serviceName", Value::String(service.to_owned()))
}

/// A subgraph's error for the client: its location dropped (it points into the subgraph's
/// operation), `extensions.serviceName` added, its path replaced when one is given.
pub(super) fn with_service(
    error: Value,
    service: &str,
    path: Option<Option<Value>>,
) -> GraphqlError {
    let mut error = GraphqlError::from_subgraph(error);
    match path {
        Some(Some(Value::Array(path))) => {
            error.path = path.iter().map(PathSegment::from_json).collect();
        }
        Some(_) => error.path = None,
        None => {}
    }
    error
        .extensions
        .insert("serviceName".into(), Value::String(service.to_owned()));
    error
}
