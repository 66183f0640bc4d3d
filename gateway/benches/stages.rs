//! Micro-benchmarks of the engine's hot stages on the gateways benchmark's deep query:
//! prepare (cold and cached), execute (plan walk, representations, parsing and merging the
//! subgraphs' answers) and respond (the client's bytes).
//!
//! `cargo bench -p tributary-gateway --bench stages` after `bench/gateways.sh` has set up the
//! bench home (`TRIBUTARY_BENCH_HOME`, default `~/.cache/tributary-bench`): its supergraph, its
//! `TestQuery`; the subgraphs binary is `SUBGRAPHS_BIN`. The subgraphs are started if they are not already
//! listening on `SUBGRAPHS_PORT` (6200); every subgraph answer is recorded once over HTTP and
//! then replayed from memory, so the figures are the engine's own work without the network.

// `criterion_group!` defines an undocumented function.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value};
use tributary_gateway::Supergraph;
use tributary_gateway::config::Config;
use tributary_gateway::execute::{self, Subgraphs};
use tributary_gateway::prepare::Preparer;
use tributary_gateway::respond::write_response;
use tributary_gateway::transport::{
    BoxFuture, Headers, HttpTransport, SubgraphRequest, SubgraphResponse, Transport, TransportError,
};

/// The allocator the engine's binaries run on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Answers each request body with the answer recorded for it.
struct Replay {
    answers: Arc<Mutex<HashMap<Vec<u8>, SubgraphResponse>>>,
    /// Where unknown bodies are sent (and their answers recorded); `None` once recording ends.
    live: Option<HttpTransport>,
}

impl Transport for Replay {
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
        Box::pin(async move {
            let known = self
                .answers
                .lock()
                .map_err(|_| TransportError::InProcess("poisoned".into()))?
                .get(request.body.as_ref())
                .cloned();
            if let Some(answer) = known {
                return Ok(answer);
            }
            let Some(live) = &self.live else {
                return Err(TransportError::InProcess("no recorded answer".into()));
            };
            let body = request.body.to_vec();
            let answer = live.send(request).await?;
            if let Ok(mut answers) = self.answers.lock() {
                answers.insert(body, answer.clone());
            }
            Ok(answer)
        })
    }
}

fn bench_home() -> PathBuf {
    std::env::var_os("TRIBUTARY_BENCH_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/tributary-bench")
        })
}

/// Starts the benchmark's subgraphs unless something already listens on their port.
fn subgraphs_running(home: &std::path::Path, port: u16) -> Option<Child> {
    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        return None;
    }
    let binary = std::env::var_os("SUBGRAPHS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join("target/subgraphs/release/subgraphs"));
    let child = Command::new(&binary)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "{} could not start ({err}); run bench/gateways.sh first",
                binary.display()
            )
        });
    let mut child = child;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the subgraphs did not listen on port {port}");
}

fn stages(c: &mut Criterion) {
    let home = bench_home();
    let port: u16 = std::env::var("SUBGRAPHS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(6200);
    let supergraph = Supergraph::from_file(&home.join("supergraph.graphql"))
        .unwrap_or_else(|err| panic!("{err}; run bench/gateways.sh first"));
    let body: Value = std::fs::read(home.join("test-query.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| panic!("no test-query.json in {}", home.display()));
    let query = body["query"].as_str().unwrap_or_default().to_owned();
    let mut child = subgraphs_running(&home, port);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config::default();
    let answers = Arc::new(Mutex::new(HashMap::new()));
    let transports = |live: bool| -> Subgraphs {
        supergraph
            .endpoints()
            .iter()
            .map(|(name, url)| {
                let live = live.then(|| {
                    HttpTransport::new(url, Duration::from_secs(10), false, 64 << 20, None)
                        .expect("an HTTP client")
                });
                let transport: Arc<dyn Transport> = Arc::new(Replay {
                    answers: answers.clone(),
                    live,
                });
                (name.clone(), transport)
            })
            .collect()
    };
    let variables = Map::new();
    let headers = Arc::new(Headers::default());
    let preparer = Preparer::new(&config);
    let prepared = runtime
        .block_on(preparer.prepare(supergraph.clone(), &query, None))
        .expect("the test query prepares");

    let run = |subgraphs: &Subgraphs| {
        runtime.block_on(execute::execute(
            &supergraph,
            subgraphs,
            &prepared,
            &variables,
            headers.clone(),
            None,
            None,
        ))
    };

    // Record every subgraph answer once, then replay only.
    let recorded = run(&transports(true));
    assert!(recorded.errors.is_empty(), "{:?}", recorded.errors);
    if let Some(child) = child.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let replay = transports(false);

    let mut group = c.benchmark_group("deep query");
    group.bench_function("prepare, cold", |b| {
        b.iter(|| {
            let preparer = Preparer::new(&config);
            runtime
                .block_on(preparer.prepare(supergraph.clone(), &query, None))
                .expect("prepares")
        })
    });
    group.bench_function("prepare, cached", |b| {
        b.iter(|| {
            runtime
                .block_on(preparer.prepare(supergraph.clone(), &query, None))
                .expect("prepares")
        })
    });
    group.bench_function("execute (answers replayed)", |b| b.iter(|| run(&replay)));
    let outcome = run(&replay);
    let written = write_response(&supergraph, &prepared, &variables, &outcome, false);
    assert!(
        !written.has_errors,
        "{}",
        String::from_utf8_lossy(&written.body)
    );
    println!("response: {} bytes", written.body.len());
    group.bench_function("respond", |b| {
        b.iter(|| write_response(&supergraph, &prepared, &variables, &outcome, false))
    });
    group.bench_function("respond, entity tags collected", |b| {
        b.iter(|| write_response(&supergraph, &prepared, &variables, &outcome, true))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = stages
}
criterion_main!(benches);
