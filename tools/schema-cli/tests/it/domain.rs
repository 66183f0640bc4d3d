//! The five domain subgraphs compose into a supergraph the gateway's planner plans across.

use crate::{definition, plan_outline};
use tributary_schema::{compose, files};
use tributary_schema_cli::{domain_sources, workspace};

fn domain_supergraph() -> String {
    compose(&domain_sources()).unwrap_or_else(|error| panic!("the domains compose: {error}"))
}

#[test]
fn a_product_page_is_planned_across_catalog_inventory_reviews_and_accounts() {
    let supergraph = domain_supergraph();
    let outline = plan_outline(
        &supergraph,
        r#"{
          product(id: "1") {
            name
            inStock
            shippingEstimateCents
            reviews { rating author { username name } }
          }
        }"#,
    );
    // Inventory gets `priceCents weightGrams` from catalog for its `@requires`; `username` comes
    // with the review (`@provides`), so accounts is asked for `name` only.
    assert_eq!(
        outline,
        r#"  Sequence
    Fetch(service: "catalog")
    Parallel
      Flatten(path: "product")
        Fetch(service: "inventory")
      Flatten(path: "product")
        Fetch(service: "reviews")
    Flatten(path: "product.reviews.@.author")
      Fetch(service: "accounts")"#
    );
}

#[test]
fn root_types_are_joined_to_every_subgraph_defining_them() {
    let supergraph = domain_supergraph();
    let sources = domain_sources();
    let query = definition(&supergraph, "type Query");
    for source in &sources {
        let join = format!("@join__type(graph: {})", source.name.to_uppercase());
        assert!(query.contains(&join), "Query lacks {join}");
        let mutation = definition(&supergraph, "type Mutation");
        assert_eq!(
            mutation.contains(&join),
            source.sdl.contains("type Mutation"),
            "Mutation and {join}"
        );
    }
}

#[test]
fn composing_twice_gives_the_same_bytes() {
    assert_eq!(domain_supergraph(), domain_supergraph());
}

#[test]
fn the_checked_in_schema_files_match_the_code() {
    let root = workspace::default_root();
    let artifacts = workspace::artifacts(&root).unwrap_or_else(|error| panic!("{error}"));
    let drift = files::check(&root, &artifacts).expect("reads");
    assert!(
        drift.is_empty(),
        "run `cargo run -p tributary-schema-cli -- compose`:\n{}",
        drift
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
