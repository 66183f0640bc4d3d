//! Sharing identical in-flight subgraph requests: when a query's fetch is already on its way
//! to a subgraph with the same body and forwarded headers, later callers wait for that answer
//! instead of sending the request again. Only reads are shared; the executor marks them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::Shared;

use super::{BoxFuture, SubgraphRequest, SubgraphResponse, Transport, TransportError};

type Flight = Shared<BoxFuture<'static, Result<SubgraphResponse, TransportError>>>;

/// A transport that shares identical in-flight read requests to the one it wraps.
pub struct SingleFlight {
    inner: Arc<dyn Transport>,
    /// A std mutex, not a tokio one: it is held only to look up or insert a flight, never
    /// across an await.
    flights: Arc<Mutex<HashMap<u64, Flight>>>,
}

impl SingleFlight {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Transport>) -> SingleFlight {
        SingleFlight {
            inner,
            flights: Arc::default(),
        }
    }
}

/// The identity of a request: its body and forwarded headers, except the request id, which
/// differs on every request (a shared request carries the first caller's id).
fn key(request: &SubgraphRequest) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&request.body);
    for (name, value) in request.headers.iter() {
        if name.as_str() == "x-request-id" {
            continue;
        }
        hasher.update(&[0xff]);
        hasher.update(name.as_str().as_bytes());
        hasher.update(&[0]);
        hasher.update(value.as_bytes());
    }
    hasher.digest()
}

impl Transport for SingleFlight {
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
        if !request.shareable {
            return self.inner.send(request);
        }
        let key = key(&request);
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let inner = self.inner.clone();
                    let registry = self.flights.clone();
                    // Whoever drives the flight to its end takes it off the registry, so a
                    // finished answer is never handed to a later request.
                    let flight = async move {
                        let result = inner.send(request).await;
                        registry
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&key);
                        result
                    }
                    .boxed()
                    .shared();
                    flights.insert(key, flight.clone());
                    flight
                }
            }
        };
        Box::pin(flight)
    }
}
