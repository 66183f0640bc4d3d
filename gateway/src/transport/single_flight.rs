//! Sharing identical in-flight subgraph requests: when a query's fetch is already on its way
//! to a subgraph with the same body and forwarded headers, later callers wait for that answer
//! instead of sending the request again. Only reads are shared; the executor marks them.
//!
//! A shared request runs on a task of its own, so it makes progress whether or not any caller
//! is polling it, and it leaves the registry the moment it ends. Each caller holds a waiter;
//! when the last waiter of a flight is dropped (every client gave up), the flight is aborted
//! and unregistered at once: its connection is released and no later request can inherit it
//! with an expired timer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::Shared;
use tokio::task::AbortHandle;

use super::{BoxFuture, SubgraphRequest, SubgraphResponse, Transport, TransportError};

type Outcome = Result<SubgraphResponse, TransportError>;
type Answer = Shared<BoxFuture<'static, Outcome>>;

/// How many distinct requests may be shared at once; beyond that a request is sent unshared,
/// so a burst of distinct queries never grows the registry without bound.
const MAX_FLIGHTS: usize = 4096;

/// A transport that shares identical in-flight read requests to the one it wraps.
pub struct SingleFlight {
    inner: Arc<dyn Transport>,
    registry: Arc<Registry>,
}

/// The flights in the air, by request identity.
#[derive(Default)]
struct Registry {
    /// A std mutex, not a tokio one: it is held only to look up, insert or remove a flight,
    /// never across an await.
    flights: Mutex<HashMap<u64, Flight>>,
    /// Numbers flights, so that an ending flight never removes a newer one with the same key.
    next_id: std::sync::atomic::AtomicU64,
}

struct Flight {
    id: u64,
    waiters: usize,
    answer: Answer,
    abort: AbortHandle,
}

impl SingleFlight {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Transport>) -> SingleFlight {
        SingleFlight {
            inner,
            registry: Arc::default(),
        }
    }

    /// How many shared requests are in flight now.
    pub fn in_flight(&self) -> usize {
        self.registry.lock().len()
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Flight>> {
        self.flights.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes flight `id` under `key` if it is still the registered one, and returns how many
    /// waiters it had then (no one can join it afterwards).
    fn remove(&self, key: u64, id: u64) -> usize {
        let mut flights = self.lock();
        if flights.get(&key).is_some_and(|flight| flight.id == id) {
            return flights.remove(&key).map_or(1, |flight| flight.waiters);
        }
        1
    }

    /// One waiter of flight `id` is gone; the last one aborts and unregisters the flight.
    fn leave(&self, key: u64, id: u64) {
        let mut flights = self.lock();
        let Some(flight) = flights.get_mut(&key).filter(|flight| flight.id == id) else {
            return;
        };
        flight.waiters -= 1;
        if flight.waiters == 0 {
            flight.abort.abort();
            flights.remove(&key);
        }
    }
}

/// The identity of a request: its body and the forwarded headers that can change its answer
/// (not the request id, which differs on every request; a shared request carries the first
/// caller's).
fn key(request: &SubgraphRequest) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&request.body);
    for (name, value) in request.headers.iter() {
        if !super::affects_answer(name.as_str()) {
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
    fn send(&self, request: SubgraphRequest) -> BoxFuture<'_, Outcome> {
        if !request.shareable {
            return self.inner.send(request);
        }
        let key = key(&request);
        let mut flights = self.registry.lock();
        if let Some(flight) = flights.get_mut(&key) {
            flight.waiters += 1;
            metrics::counter!("tributary_subgraph_shared_total", "role" => "joined").increment(1);
            let waiter = Waiter::new(&self.registry, key, flight.id, flight.answer.clone());
            return Box::pin(waiter);
        }
        if flights.len() >= MAX_FLIGHTS {
            drop(flights);
            return self.inner.send(request);
        }
        metrics::counter!("tributary_subgraph_shared_total", "role" => "led").increment(1);
        let id = self
            .registry
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inner = self.inner.clone();
        let registry = self.registry.clone();
        // The task takes its flight off the registry before its answer is published, so a
        // finished answer is never handed to a later request.
        // It also tells the answer how many requests share it, so the executor reads a shared
        // body once for all of them.
        //
        // Before sending, the task lets every task that is ready run once: under load those
        // are other requests at the same step of the same plan, and they join this request
        // instead of sending their own (on the gateways benchmark this halves the subgraphs'
        // work). An idle engine has nothing else to run and sends at once.
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            let outcome = inner.send(request).await;
            let sharers = registry.remove(key, id);
            outcome.map(|mut response| {
                response.sharers = sharers.max(1);
                response
            })
        });
        let abort = task.abort_handle();
        let answer: Answer = async move {
            match task.await {
                Ok(outcome) => outcome,
                // Aborted only once no waiter is left to see this; a panic in the transport
                // reaches the waiters as a failure to reach the subgraph.
                Err(err) => Err(TransportError::Unreachable(format!(
                    "the shared request ended early: {err}"
                ))),
            }
        }
        .boxed()
        .shared();
        flights.insert(
            key,
            Flight {
                id,
                waiters: 1,
                answer: answer.clone(),
                abort,
            },
        );
        drop(flights);
        Box::pin(Waiter::new(&self.registry, key, id, answer))
    }
}

/// One caller's share of a flight; dropping it before the answer arrives leaves the flight.
struct Waiter {
    registry: Arc<Registry>,
    key: u64,
    id: u64,
    answer: Answer,
}

impl Waiter {
    fn new(registry: &Arc<Registry>, key: u64, id: u64, answer: Answer) -> Waiter {
        Waiter {
            registry: registry.clone(),
            key,
            id,
            answer,
        }
    }
}

impl Future for Waiter {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.answer.poll_unpin(cx)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // After the answer the flight is already unregistered, and this does nothing.
        self.registry.leave(self.key, self.id);
    }
}
