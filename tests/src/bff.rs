//! A BFF started by a test next to the stack's own, in an environment of the test's choosing,
//! with a relay in front of every subgraph it calls that counts its requests and can be told to
//! fail (stall, drop the connection, trickle the answer, HTTP 500, garbage): tests assert how
//! many requests one client operation cost each subgraph, and what a client gets when one of
//! them misbehaves.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tributary::SUBGRAPHS;
use tributary_gateway::Environment;

use crate::TestStack;

/// Which BFF to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bff {
    /// `bff-web`.
    Web,
    /// `bff-mobile`.
    Mobile,
}

/// How a relay answers for its subgraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes requests on unchanged.
    None,
    /// Never answers (until the caller gives up and closes the connection).
    Stall,
    /// Closes the connection in the middle of the answer.
    Drop,
    /// Passes the answer on, a few bytes at a time with this pause between them.
    SlowBytes(std::time::Duration),
    /// HTTP 500 with a plain-text body.
    ServerError,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Passes the answer on after this long.
    Delay(std::time::Duration),
}

/// A BFF serving on a free loopback port until dropped.
pub struct CountedBff {
    url: String,
    tally: Arc<Mutex<BTreeMap<String, usize>>>,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
    shutdown: CancellationToken,
}

impl CountedBff {
    /// Its GraphQL URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// HTTP requests each subgraph received from it since the last call (subgraphs it did not
    /// call are absent), and starts counting again.
    pub fn take_subgraph_requests(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.tally.lock().expect("tally lock"))
    }

    /// The bodies of the requests the subgraphs received since the last call, as
    /// `(subgraph, body)` in arrival order.
    pub fn take_subgraph_bodies(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.bodies.lock().expect("bodies lock"))
    }

    /// Makes the relay of subgraph `name` answer every later request with `fault`.
    pub fn fault(&self, name: &str, fault: Fault) {
        self.faults
            .lock()
            .expect("faults lock")
            .insert(name.to_owned(), fault);
    }
}

impl Drop for CountedBff {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[derive(Clone)]
struct Relay {
    name: &'static str,
    target: String,
    http: reqwest::Client,
    tally: Arc<Mutex<BTreeMap<String, usize>>>,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
}

impl TestStack {
    /// Starts another `bff` in `environment` against this stack's subgraphs, each reached
    /// through a relay that counts its requests.
    pub async fn counted_bff(&self, bff: Bff, environment: Environment) -> CountedBff {
        self.counted_bff_with(bff, environment, |_| {}).await
    }

    /// Like [`Self::counted_bff`], with the BFF's configuration changed by `tweak` first
    /// (shorter timeouts in fault tests, say). The relays carry POSTs only: a test that
    /// subscribes through this BFF points `subgraphs.urls["orders"]` at an orders server in
    /// `tweak` (which also takes that subgraph out of the counts).
    pub async fn counted_bff_with(
        &self,
        bff: Bff,
        environment: Environment,
        tweak: impl FnOnce(&mut tributary_gateway::Config),
    ) -> CountedBff {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a BFF port");
        self.counted_bff_on(listener, bff, environment, tweak).await
    }

    /// Like [`Self::counted_bff_with`], serving on `listener`: a test that needs the sockets
    /// the BFF accepts to have particular options (a small send buffer, say) sets them on it.
    pub async fn counted_bff_on(
        &self,
        listener: tokio::net::TcpListener,
        bff: Bff,
        environment: Environment,
        tweak: impl FnOnce(&mut tributary_gateway::Config),
    ) -> CountedBff {
        let shutdown = CancellationToken::new();
        let tally = Arc::new(Mutex::new(BTreeMap::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Mutex::new(HashMap::new()));
        let mut subgraph_urls = HashMap::new();
        for name in SUBGRAPHS {
            let relay = Relay {
                name,
                target: self.url(name),
                http: self.http().clone(),
                tally: tally.clone(),
                bodies: bodies.clone(),
                faults: faults.clone(),
            };
            let app = axum::Router::new()
                .route("/graphql", axum::routing::post(forward))
                .with_state(relay);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a relay port");
            let addr = listener.local_addr().expect("the relay's address");
            let stop = shutdown.clone();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
            });
            subgraph_urls.insert(name.to_owned(), format!("http://{addr}/graphql"));
        }
        let url = format!(
            "http://{}/graphql",
            listener.local_addr().expect("the BFF's address")
        );
        let started = match bff {
            Bff::Web => {
                let mut config = bff_web::profile(environment);
                config.subgraphs.urls = subgraph_urls;
                config.auth = self.engine_auth();
                tweak(&mut config);
                bff_web::start(listener, config, shutdown.clone()).await
            }
            Bff::Mobile => {
                let mut config = bff_mobile::profile(environment);
                config.subgraphs.urls = subgraph_urls;
                config.auth = self.engine_auth();
                tweak(&mut config);
                bff_mobile::start(listener, config, shutdown.clone()).await
            }
        };
        started.expect("the BFF starts");
        CountedBff {
            url,
            tally,
            bodies,
            faults,
            shutdown,
        }
    }
}

/// Counts one request, then answers as the relay's fault says.
async fn forward(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    *relay
        .tally
        .lock()
        .expect("tally lock")
        .entry(relay.name.to_owned())
        .or_default() += 1;
    relay.bodies.lock().expect("bodies lock").push((
        relay.name.to_owned(),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let fault = relay
        .faults
        .lock()
        .expect("faults lock")
        .get(relay.name)
        .copied()
        .unwrap_or(Fault::None);
    match fault {
        Fault::None => pass_on(&relay, &headers, body).await,
        Fault::Delay(pause) => {
            tokio::time::sleep(pause).await;
            pass_on(&relay, &headers, body).await
        }
        Fault::Stall => {
            // Bounded, so a test that forgets to give up still ends.
            tokio::time::sleep(std::time::Duration::from_secs(120)).await;
            (StatusCode::GATEWAY_TIMEOUT, "stalled").into_response()
        }
        Fault::Drop => {
            let broken = futures::stream::iter([
                Ok(Bytes::from_static(b"{\"data\":")),
                Err(std::io::Error::other("connection dropped")),
            ]);
            (
                [(header::CONTENT_TYPE, "application/json")],
                axum::body::Body::from_stream(broken),
            )
                .into_response()
        }
        Fault::SlowBytes(pause) => {
            let answer = pass_on(&relay, &headers, body).await;
            let (parts, body) = answer.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let chunks: Vec<Bytes> = bytes.chunks(16).map(Bytes::copy_from_slice).collect();
            let trickle = futures::stream::iter(chunks).then(move |chunk| async move {
                tokio::time::sleep(pause).await;
                Ok::<_, std::io::Error>(chunk)
            });
            Response::from_parts(parts, axum::body::Body::from_stream(trickle))
        }
        Fault::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal failure").into_response()
        }
        Fault::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html>this is not JSON</html>",
        )
            .into_response(),
    }
}

/// Passes a request on to the subgraph unchanged.
async fn pass_on(relay: &Relay, headers: &HeaderMap, body: Bytes) -> Response {
    let mut request = relay.http.post(&relay.target).body(body);
    for name in [header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let passed: Vec<_> = [header::CONTENT_TYPE, header::CACHE_CONTROL]
                .into_iter()
                .filter_map(|name| Some((name.clone(), response.headers().get(&name)?.clone())))
                .collect();
            let body = response.bytes().await.unwrap_or_default();
            let mut out = (status, body).into_response();
            for (name, value) in passed {
                out.headers_mut().insert(name, value);
            }
            out
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}
