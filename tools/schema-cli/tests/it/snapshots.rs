//! Snapshots of what a planner or composition upgrade would change: the query plan of every
//! demo operation (the mobile app's persisted operations, the web's example operations, the
//! router's benchmark query) and the API schema the engine derives from each supergraph. A
//! change shows as a reviewable diff in `tests/it/snapshots/`; accept it with
//! `INSTA_UPDATE=always cargo nextest run -p tributary-schema-cli snapshots`.

use std::path::PathBuf;
use std::sync::Arc;

use tributary_gateway::Supergraph;
use tributary_gateway::supergraph::planner::parse_operation;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(path: &str) -> Arc<Supergraph> {
    let sdl = std::fs::read_to_string(root().join(path)).unwrap();
    Supergraph::from_sdl(&sdl).unwrap()
}

/// The plan of `document`'s operation, as the engine prepares it.
fn plan(supergraph: &Supergraph, document: &str) -> String {
    let parsed = parse_operation(document, 15_000).unwrap();
    let operation = supergraph.planner().normalize(&parsed, None).unwrap();
    let plan = supergraph
        .planner()
        .plan_without_introspection(&operation)
        .unwrap();
    plan.to_string()
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

#[test]
fn plans_of_the_mobile_operations() {
    let supergraph = load("schema/mobile/supergraph.graphql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("bff-mobile/operations"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    settings().bind(|| {
        for file in files {
            let name = file.file_stem().unwrap().to_string_lossy().into_owned();
            let document = std::fs::read_to_string(&file).unwrap();
            insta::assert_snapshot!(format!("plan_mobile_{name}"), plan(&supergraph, &document));
        }
    });
}

#[test]
fn plans_of_the_web_example_operations() {
    let supergraph = load("schema/web/supergraph.graphql");
    let config = bff_web::profile(tributary_gateway::Environment::Development);
    assert!(!config.graphiql.examples.is_empty());
    settings().bind(|| {
        for example in &config.graphiql.examples {
            let name: String = example
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            insta::assert_snapshot!(
                format!("plan_web_{name}"),
                plan(&supergraph, &example.query)
            );
        }
    });
}

#[test]
fn plan_of_the_router_benchmark_query() {
    let supergraph = load("schema/supergraph.graphql");
    let query = "{ topProducts(first: 5) { id name priceCents inStock shippingEstimateCents reviews(first: 3) { rating author { name } } } }";
    settings().bind(|| {
        insta::assert_snapshot!("plan_router_benchmark", plan(&supergraph, query));
    });
}

#[test]
fn api_schemas_the_engine_derives() {
    settings().bind(|| {
        for (name, path) in [
            ("router", "schema/supergraph.graphql"),
            ("web", "schema/web/supergraph.graphql"),
            ("mobile", "schema/mobile/supergraph.graphql"),
        ] {
            let supergraph = load(path);
            let api = supergraph.api().document().to_string();
            insta::assert_snapshot!(format!("api_{name}"), api);
        }
    });
}
