//! Sending one subgraph request and reading its answer: body built once, response parsed once,
//! failures turned into errors that name the subgraph.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::merge::{apply_output_rewrites, deep_merge};
use super::{Execution, GraphqlError};
use crate::prepare::planner::FetchNode;
use crate::transport::{SubgraphRequest, TransportError};

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
        let Some(body) = self
            .call(
                &fetch.service_name,
                &fetch.operation.document_str,
                variables,
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

    /// Sends `operation` to `service`; on failure records an error and returns `None`.
    pub(super) async fn call(
        &self,
        service: &str,
        operation: &str,
        variables: Map<String, Value>,
    ) -> Option<SubgraphBody> {
        let Some(transport) = self.subgraphs.get(service) else {
            self.error(failure(
                service,
                "SUBREQUEST_HTTP_ERROR",
                "the subgraph has no configured transport",
            ));
            return None;
        };
        let body = match serde_json::to_vec(&json!({ "query": operation, "variables": variables }))
        {
            Ok(body) => Bytes::from(body),
            Err(err) => {
                self.error(failure(service, "INTERNAL_SERVER_ERROR", &err.to_string()));
                return None;
            }
        };
        self.count_fetch();
        let request = SubgraphRequest {
            body,
            headers: self.headers.clone(),
            shareable: self.shareable,
        };
        let response = match transport.send(request).await {
            Ok(response) => response,
            Err(TransportError::Timeout) => {
                tracing::warn!(subgraph = service, "subgraph request timed out");
                self.error(failure(
                    service,
                    "SUBREQUEST_TIMEOUT",
                    "the request timed out",
                ));
                return None;
            }
            Err(err) => {
                // The details (addresses included) go to the log, not to the client.
                tracing::warn!(subgraph = service, error = %err, "subgraph request failed");
                let reason = match err {
                    TransportError::TooLarge => "the subgraph's response is too large",
                    _ => "the subgraph could not be reached",
                };
                self.error(failure(service, "SUBREQUEST_HTTP_ERROR", reason));
                return None;
            }
        };
        if let Some(header) = &response.cache_control {
            super::lock(&self.cache).add(header);
        }
        match serde_json::from_slice::<SubgraphBody>(&response.body) {
            Ok(body) if body.data.is_some() || body.errors.is_some() => Some(body),
            _ if !(200..300).contains(&response.status) => {
                self.error(failure(
                    service,
                    "SUBREQUEST_HTTP_ERROR",
                    &format!("the subgraph answered with HTTP status {}", response.status),
                ));
                None
            }
            _ => {
                tracing::warn!(
                    subgraph = service,
                    "subgraph response is not a GraphQL response"
                );
                self.error(failure(
                    service,
                    "SUBREQUEST_MALFORMED_RESPONSE",
                    "the subgraph's response is not a valid GraphQL response",
                ));
                None
            }
        }
    }
}

/// An error about a subgraph request as a whole.
fn failure(service: &str, code: &str, reason: &str) -> GraphqlError {
    json!({
        "message": format!("HTTP fetch failed from '{service}': {reason}"),
        "extensions": { "code": code, "serviceName": service }
    })
}

/// A subgraph's error for the client: its location dropped (it points into the subgraph's
/// operation), `extensions.serviceName` added, its path replaced when one is given.
pub(super) fn with_service(
    error: Value,
    service: &str,
    path: Option<Option<Value>>,
) -> GraphqlError {
    let mut error = match error {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("message".into(), Value::String(other.to_string()));
            map
        }
    };
    if !error.get("message").is_some_and(Value::is_string) {
        error.insert("message".into(), Value::String("subgraph error".into()));
    }
    error.remove("locations");
    match path {
        Some(Some(path)) => {
            error.insert("path".into(), path);
        }
        Some(None) => {
            error.remove("path");
        }
        None => {}
    }
    let extensions = error
        .entry("extensions")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ext) = extensions {
        ext.insert("serviceName".into(), Value::String(service.to_owned()));
    }
    Value::Object(error)
}
