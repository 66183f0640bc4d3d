//! Subgraphs in the same process: an async-graphql executor called directly, no socket.

use bytes::Bytes;

use super::{BoxFuture, SubgraphRequest, SubgraphResponse, Transport, TransportError};

/// A subgraph served by an async-graphql executor in this process.
pub struct InProcessTransport<E> {
    executor: E,
}

impl<E: async_graphql::Executor> InProcessTransport<E> {
    /// Wraps an executor (usually an `async_graphql::Schema`).
    pub fn new(executor: E) -> Self {
        InProcessTransport { executor }
    }
}

impl<E: async_graphql::Executor> Transport for InProcessTransport<E> {
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
        Box::pin(async move {
            let mut graphql: async_graphql::Request = serde_json::from_slice(&request.body)
                .map_err(|e| TransportError::InProcess(e.to_string()))?;
            let mut headers = axum::http::HeaderMap::new();
            for (name, value) in request.headers.iter() {
                headers.append(name.clone(), value.clone());
            }
            graphql = graphql.data(headers);
            let response = self.executor.execute(graphql).await;
            let cache_control = response.cache_control.value();
            let body = serde_json::to_vec(&response)
                .map_err(|e| TransportError::InProcess(e.to_string()))?;
            Ok(SubgraphResponse::new(200, Bytes::from(body), cache_control))
        })
    }
}
