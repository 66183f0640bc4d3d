//! Tributary on subgraphs that are not this workspace's: two small subgraphs served on
//! loopback with their SDL in files, composed from a supergraph config by the schema tool,
//! served by the router (which follows the config without a restart) and by a BFF built with
//! the library, with a contract and a manifest.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The products subgraph: owns `Product`, with an `internal` cost clients must not see.
mod products {
    use super::*;

    #[derive(SimpleObject, Clone)]
    pub(super) struct Product {
        pub(super) id: ID,
        pub(super) name: String,
        #[graphql(tag = "internal")]
        pub(super) cost: i32,
    }

    fn all() -> Vec<Product> {
        [("1", "Kettle", 1200), ("2", "Teapot", 800)]
            .into_iter()
            .map(|(id, name, cost)| Product {
                id: ID::from(id),
                name: name.to_owned(),
                cost,
            })
            .collect()
    }

    pub(super) struct Query;

    #[Object]
    impl Query {
        async fn products(&self) -> Vec<Product> {
            all()
        }

        #[graphql(entity)]
        async fn find_product(&self, id: ID) -> Option<Product> {
            all().into_iter().find(|p| p.id == id)
        }
    }
}

/// The reviews subgraph: adds `reviews` to `Product`.
mod reviews {
    use super::*;

    #[derive(SimpleObject)]
    pub(super) struct Review {
        pub(super) body: String,
    }

    pub(super) struct Product {
        pub(super) id: ID,
    }

    #[Object]
    impl Product {
        async fn id(&self) -> &ID {
            &self.id
        }

        async fn reviews(&self) -> Vec<Review> {
            vec![Review {
                body: format!("review of {}", self.id.as_str()),
            }]
        }
    }

    pub(super) struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_product(&self, id: ID) -> Product {
            Product { id }
        }
    }
}

/// Serves `schema` on loopback; returns its URL and writes its SDL to `dir/<name>.graphql`.
async fn serve<Q, M, S>(dir: &Path, name: &str, schema: Schema<Q, M, S>) -> String
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    let sdl = schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation());
    std::fs::write(dir.join(format!("{name}.graphql")), sdl).unwrap();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(
            move |axum::Json(request): axum::Json<async_graphql::Request>| {
                let schema = schema.clone();
                async move { axum::Json(schema.execute(request).await) }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Both subgraphs served, their SDL in `dir`; their URLs.
async fn start_both(dir: &Path) -> (String, String) {
    let products = Schema::build(products::Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    let reviews = Schema::build(reviews::Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    (
        serve(dir, "products", products).await,
        serve(dir, "reviews", reviews).await,
    )
}

fn config(products: &str, reviews: Option<&str>) -> String {
    let mut yaml = format!(
        "federation_version: =2.3.2\nsubgraphs:\n  products:\n    routing_url: {products}\n    schema:\n      file: ./products.graphql\n"
    );
    if let Some(reviews) = reviews {
        yaml.push_str(&format!(
            "  reviews:\n    routing_url: {reviews}\n    schema:\n      subgraph_url: {reviews}\n"
        ));
    }
    yaml
}

async fn post(url: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const QUERY: &str = "{ products { name reviews { body } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_subgraphs_compose_from_a_config_and_serve_through_the_router_and_a_library_bff() {
    let dir = tempfile::tempdir().unwrap();
    let (products_url, reviews_url) = start_both(dir.path()).await;
    let config_path = dir.path().join("supergraph.yaml");
    std::fs::write(&config_path, config(&products_url, Some(&reviews_url))).unwrap();

    // The schema tool composes it: a file and a running subgraph's `_service { sdl }`.
    let supergraph_path = dir.path().join("supergraph.graphql");
    let api_path = dir.path().join("api.graphql");
    // The command line runs its own runtime: run it off this test's.
    let (config, output, api) = (
        config_path.clone(),
        supergraph_path.clone(),
        api_path.clone(),
    );
    let (composed, checked) = tokio::task::spawn_blocking(move || {
        let composed = tributary_schema_cli::any::compose(
            &config,
            &tributary_schema_cli::any::Outputs {
                supergraph: Some(output.clone()),
                exclude_tags: vec!["internal".to_owned()],
                api: Some(api),
                ..Default::default()
            },
        );
        (composed, tributary_schema_cli::any::check(&config, &output))
    })
    .await
    .unwrap();
    assert_eq!(composed, std::process::ExitCode::SUCCESS);
    assert_eq!(checked, std::process::ExitCode::SUCCESS);
    let supergraph = std::fs::read_to_string(&supergraph_path).unwrap();
    assert!(supergraph.contains("join__Graph"), "{supergraph}");
    let api = std::fs::read_to_string(&api_path).unwrap();
    assert!(api.contains("reviews") && !api.contains("cost"), "{api}");

    // The router serves the config.
    let (router, _stop_router) = router(&config_path).await;
    let answer = post(&router, json!({ "query": QUERY })).await;
    assert_eq!(
        answer,
        json!({ "data": { "products": [
            { "name": "Kettle", "reviews": [{ "body": "review of 1" }] },
            { "name": "Teapot", "reviews": [{ "body": "review of 2" }] },
        ] } })
    );
    // The full supergraph shows the cost; the contract below does not.
    let cost = post(&router, json!({ "query": "{ products { cost } }" })).await;
    assert_eq!(cost["data"]["products"][0]["cost"], 1200, "{cost}");

    // A BFF built with the library: the same config, a contract, a manifest.
    let operation = "query Shelf { products { name reviews { body } } }";
    let id = tributary_gateway::sha256_hex(operation);
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": id, "name": "Shelf", "type": "query", "body": operation }],
        })
        .to_string(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bff = format!("http://{}/graphql", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tributary_bff::Bff::new("shop")
        .supergraph_config(&config_path)
        .contract(&[] as &[&str], &["internal"])
        .manifest(&manifest)
        .serve(listener, stop.clone())
        .await
        .unwrap();
    let refused = post(&bff, json!({ "query": "{ products { cost } }" })).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{refused}"
    );
    let persisted = post(&bff, json!({ "documentId": id })).await;
    assert_eq!(persisted["data"], answer["data"], "{persisted}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_follows_its_supergraph_config_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (products_url, reviews_url) = start_both(dir.path()).await;
    let config_path = dir.path().join("supergraph.yaml");
    std::fs::write(&config_path, config(&products_url, None)).unwrap();
    let (router, _stop) = router(&config_path).await;
    let before = post(&router, json!({ "query": QUERY })).await;
    assert_eq!(
        before["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{before}"
    );

    // A config that does not compose keeps the current supergraph.
    std::fs::write(&config_path, "subgraphs: {}").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let kept = post(&router, json!({ "query": "{ products { name } }" })).await;
    assert_eq!(kept["data"]["products"][0]["name"], "Kettle", "{kept}");

    std::fs::write(&config_path, config(&products_url, Some(&reviews_url))).unwrap();
    let mut after = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = post(&router, json!({ "query": QUERY })).await;
        if after.get("errors").is_none() {
            break;
        }
    }
    assert_eq!(
        after["data"]["products"][1],
        json!({ "name": "Teapot", "reviews": [{ "body": "review of 2" }] }),
        "{after}"
    );
}

/// The router as its binary runs it: the config composed, then followed for changes.
async fn router(config: &Path) -> (String, CancellationToken) {
    use tributary_gateway::supergraph::source::SupergraphSource;
    let source = SupergraphSource::Config(config.to_owned());
    let (supergraph, watched) = source.load(&reqwest::Client::new()).await.unwrap();
    let engine = Arc::new(
        tributary_gateway::Engine::new(
            supergraph,
            tributary_gateway::Config::default(),
            Default::default(),
        )
        .unwrap(),
    );
    let stop = CancellationToken::new();
    tokio::spawn(tributary_gateway::engine::follow(
        engine.clone(),
        source,
        watched,
        true,
        stop.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let _serving = tributary_gateway::http::serve(listener, engine, stop.clone());
    (url, stop)
}
