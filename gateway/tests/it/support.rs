//! The test stack: the four test subgraphs on loopback, a supergraph composed from their SDL
//! by `tributary-schema`, the engine and its router on an ephemeral port, and a client.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tributary_gateway::{Config, Engine, Supergraph};
use tributary_schema::{SubgraphSource, compose};

use crate::subgraphs::{self, Fault, Served, Tally};

/// Every test subgraph, by name.
pub(crate) const ALL: &[&str] = &["authors", "books", "search", "shipping"];

/// A running stack.
pub(crate) struct Stack {
    /// The engine behind the router, for cache and reload checks.
    pub(crate) engine: Arc<Engine>,
    /// The router's base URL (`http://127.0.0.1:PORT`).
    pub(crate) base: String,
    /// A plain HTTP client.
    pub(crate) client: reqwest::Client,
    subgraphs: Vec<Served>,
}

/// The configuration tests run with unless they need another.
pub(crate) fn config() -> Config {
    let mut config = Config::default();
    config.subgraphs.timeout_ms = 10_000;
    config
}

impl Stack {
    /// Every subgraph, all composed, the default test configuration.
    pub(crate) async fn start() -> Stack {
        Stack::start_with(config(), ALL).await
    }

    /// Every subgraph served, the supergraph composed from `composed` only.
    pub(crate) async fn start_with(config: Config, composed: &[&str]) -> Stack {
        let tally = Arc::new(Tally::default());
        let subgraphs = vec![
            subgraphs::serve("authors", subgraphs::authors::schema(tally.clone())).await,
            subgraphs::serve("books", subgraphs::books::schema(tally)).await,
            subgraphs::serve("search", subgraphs::search::schema()).await,
            subgraphs::serve("shipping", subgraphs::shipping::schema()).await,
        ];
        let supergraph = Supergraph::from_sdl(&supergraph_sdl(&subgraphs, composed)).unwrap();
        let engine = Arc::new(Engine::new(supergraph, config, HashMap::new()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // As the binaries serve it: the router, and the metrics address when one is set.
        let _serving = tributary_gateway::http::serve(
            listener,
            engine.clone(),
            tokio_util::sync::CancellationToken::new(),
        );
        Stack {
            engine,
            base,
            client: reqwest::Client::new(),
            subgraphs,
        }
    }

    /// The SDL of a supergraph composed from the named subgraphs of this stack.
    pub(crate) fn supergraph_sdl(&self, names: &[&str]) -> String {
        supergraph_sdl(&self.subgraphs, names)
    }

    /// A supergraph composed from the named subgraphs of this stack.
    pub(crate) fn supergraph(&self, names: &[&str]) -> Arc<Supergraph> {
        Supergraph::from_sdl(&supergraph_sdl(&self.subgraphs, names)).unwrap()
    }

    /// GETs `url` (a path under the router, or a whole URL).
    pub(crate) async fn get(&self, url: &str) -> reqwest::Response {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        self.client.get(url).send().await.unwrap()
    }

    /// The router's GraphQL endpoint.
    pub(crate) fn endpoint(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// POSTs `body` as JSON; returns the status and the JSON answer.
    pub(crate) async fn post(&self, body: &Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.endpoint())
            .header("accept", "application/graphql-response+json")
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Runs `query` with `variables`; the answer must be a 200.
    pub(crate) async fn query(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post(&json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    fn served(&self, name: &str) -> &Served {
        self.subgraphs.iter().find(|s| s.name == name).unwrap()
    }

    /// How many requests each subgraph has received: `{"authors": n, ...}`.
    pub(crate) fn requests(&self) -> Value {
        let counts: Map<String, Value> = self
            .subgraphs
            .iter()
            .map(|s| (s.name.to_owned(), Value::from(s.recorder.requests().len())))
            .collect();
        Value::Object(counts)
    }

    /// The request bodies `name` has received.
    pub(crate) fn received(&self, name: &str) -> Vec<Value> {
        self.served(name).recorder.requests()
    }

    /// The entity representations of each request `name` has received, one list per request
    /// (empty for a request without entities).
    pub(crate) fn representations(&self, name: &str) -> Vec<Vec<Value>> {
        self.received(name)
            .iter()
            .map(|body| {
                let variables = body["variables"].as_object().cloned().unwrap_or_default();
                variables
                    .values()
                    .filter_map(Value::as_array)
                    .flatten()
                    .filter(|item| item.get("__typename").is_some())
                    .cloned()
                    .collect()
            })
            .collect()
    }

    /// Forgets what every subgraph has received.
    pub(crate) fn clear(&self) {
        for served in &self.subgraphs {
            served.recorder.clear();
        }
    }

    /// How many requests subgraph `name` is answering now.
    pub(crate) fn in_progress(&self, name: &str) -> usize {
        self.served(name).recorder.in_progress()
    }

    /// Makes subgraph `name` answer every later request with `fault`.
    pub(crate) fn fault(&self, name: &str, fault: Fault) {
        self.served(name).recorder.set_fault(fault);
    }
}

fn supergraph_sdl(subgraphs: &[Served], names: &[&str]) -> String {
    let sources: Vec<SubgraphSource> = subgraphs
        .iter()
        .filter(|s| names.contains(&s.name))
        .map(|s| SubgraphSource::new(s.name, &s.url, &s.sdl))
        .collect();
    match compose(&sources) {
        Ok(sdl) => sdl,
        Err(err) => panic!("the test subgraphs do not compose: {err}"),
    }
}
