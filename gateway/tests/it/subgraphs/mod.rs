//! Small purpose-built subgraphs (async-graphql, federation enabled), each served over real
//! HTTP on a loopback port behind a recorder that logs every request it receives and can be
//! told to fail (HTTP 500, garbage, slowness).

pub(crate) mod authors;
pub(crate) mod books;
pub(crate) mod data;
pub(crate) mod search;
pub(crate) mod shipping;

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::{Executor, ObjectType, Schema, SubscriptionType};
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A number two subgraphs change in turn: mutations only give the right total when run in
/// order, one after the other.
#[derive(Default)]
pub(crate) struct Tally(AtomicI32);

impl Tally {
    /// Applies `change` atomically and returns the new total.
    pub(crate) fn update(&self, change: impl Fn(i32) -> i32) -> i32 {
        let previous = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |total| {
                Some(change(total))
            })
            .unwrap_or_else(|total| total);
        change(previous)
    }
}

/// How a subgraph answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Normally.
    None,
    /// HTTP 500 with a plain-text body.
    ServerError,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Normally, after this long.
    Slow(Duration),
}

/// What a served subgraph has received, and how it is told to answer.
pub(crate) struct Recorder {
    requests: Mutex<Vec<Value>>,
    fault: Mutex<Fault>,
    /// Requests being answered now; a request whose connection the caller closed is dropped
    /// mid-answer and leaves this count.
    in_progress: AtomicUsize,
}

/// Counts one request as in progress for as long as it lives.
struct InProgress(Arc<Recorder>);

impl InProgress {
    fn enter(recorder: &Arc<Recorder>) -> InProgress {
        recorder.in_progress.fetch_add(1, Ordering::SeqCst);
        InProgress(recorder.clone())
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            requests: Mutex::new(Vec::new()),
            fault: Mutex::new(Fault::None),
            in_progress: AtomicUsize::new(0),
        })
    }

    /// Every request body received so far (JSON; `null` for a body that was not JSON).
    pub(crate) fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }

    /// Forgets the requests received so far.
    pub(crate) fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// How many requests are being answered now.
    pub(crate) fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::SeqCst)
    }

    /// Makes every later request answer with `fault`.
    pub(crate) fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

/// A subgraph listening on loopback.
pub(crate) struct Served {
    /// Its name in the supergraph.
    pub(crate) name: &'static str,
    /// Its GraphQL endpoint.
    pub(crate) url: String,
    /// Its Federation v2 SDL.
    pub(crate) sdl: String,
    /// What it received.
    pub(crate) recorder: Arc<Recorder>,
}

/// Starts `schema` on an ephemeral loopback port under `name`.
pub(crate) async fn serve<Q, M, S>(name: &'static str, schema: Schema<Q, M, S>) -> Served
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let sdl = subgraph_core::federation_sdl(&schema);
    let recorder = Recorder::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let state = recorder.clone();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |body: Bytes| answer(schema.clone(), state.clone(), body)),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        name,
        url,
        sdl,
        recorder,
    }
}

async fn answer(executor: impl Executor, recorder: Arc<Recorder>, body: Bytes) -> Response {
    let _in_progress = InProgress::enter(&recorder);
    recorder
        .requests
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let fault = *recorder.fault.lock().unwrap();
    match fault {
        Fault::None => {}
        Fault::ServerError => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal failure").into_response();
        }
        Fault::Garbage => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "<html>this is not JSON</html>",
            )
                .into_response();
        }
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
    }
    let Ok(request) = serde_json::from_slice::<async_graphql::Request>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a GraphQL request").into_response();
    };
    axum::Json(executor.execute(request).await).into_response()
}
