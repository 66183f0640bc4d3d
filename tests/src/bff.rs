//! A BFF started by a test next to the stack's own, in an environment of the test's choosing,
//! with a counting relay in front of every subgraph it calls: tests assert how many requests
//! one client operation cost each subgraph.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

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

/// A BFF serving on a free loopback port until dropped.
pub struct CountedBff {
    url: String,
    tally: Arc<Mutex<BTreeMap<String, usize>>>,
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
}

impl TestStack {
    /// Starts another `bff` in `environment` against this stack's subgraphs, each reached
    /// through a relay that counts its requests.
    pub async fn counted_bff(&self, bff: Bff, environment: Environment) -> CountedBff {
        let shutdown = CancellationToken::new();
        let tally = Arc::new(Mutex::new(BTreeMap::new()));
        let mut subgraph_urls = HashMap::new();
        for name in SUBGRAPHS {
            let relay = Relay {
                name,
                target: self.url(name),
                http: self.http().clone(),
                tally: tally.clone(),
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a BFF port");
        let url = format!(
            "http://{}/graphql",
            listener.local_addr().expect("the BFF's address")
        );
        let started = match bff {
            Bff::Web => {
                let mut config = bff_web::profile(environment);
                config.subgraphs.urls = subgraph_urls;
                bff_web::start(listener, config, shutdown.clone()).await
            }
            Bff::Mobile => {
                let mut config = bff_mobile::profile(environment);
                config.subgraphs.urls = subgraph_urls;
                bff_mobile::start(listener, config, shutdown.clone()).await
            }
        };
        started.expect("the BFF starts");
        CountedBff {
            url,
            tally,
            shutdown,
        }
    }
}

/// Counts one request and passes it on unchanged.
async fn forward(State(relay): State<Relay>, headers: HeaderMap, body: Bytes) -> Response {
    *relay
        .tally
        .lock()
        .expect("tally lock")
        .entry(relay.name.to_owned())
        .or_default() += 1;
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
            let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
            let body = response.bytes().await.unwrap_or_default();
            let mut out = (status, body).into_response();
            if let Some(content_type) = content_type {
                out.headers_mut().insert(header::CONTENT_TYPE, content_type);
            }
            out
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}
