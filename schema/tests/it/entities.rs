//! Entities and sharing where Apollo's composer is more permissive than `graphql-composition`
//! 0.12, which refused each of these sets: a type that is an entity in one subgraph and a value
//! type in another, key fields selected below a key's first level, and a shareable type whose
//! fields differ between subgraphs. Each set is composed into what Apollo's composer writes for
//! it, planned by the engine's planner and run end to end; the near misses, which Apollo rejects
//! as well, fail with errors naming the subgraphs, type, field and lines.

use serde_json::json;
use tributary_schema::{ComposeError, Diagnostic, Location, compose};

use crate::stack::{Stack, plan};
use crate::{definition, fed2, pairs, sources, supergraph};

const IMPORTS: &[&str] = &["@key", "@shareable", "@external"];

/// The diagnostics of a composition that must fail.
fn rejected(subgraphs: &[(&str, &str)]) -> Vec<Diagnostic> {
    match compose(&sources(subgraphs)) {
        Err(ComposeError::Composition(diagnostics)) => diagnostics,
        other => panic!("expected composition errors, got {other:?}"),
    }
}

fn at(subgraph: &str, line: usize) -> Location {
    Location {
        subgraph: subgraph.to_owned(),
        line,
    }
}

/// `reviews` returns products as a value type (just their id); `catalog` owns them as entities.
fn reviews_and_catalog() -> [(&'static str, String); 2] {
    [
        (
            "reviews",
            fed2(
                IMPORTS,
                "type Query { reviews: [Review!]! }\n\
                 type Review { body: String! product: Product! }\n\
                 type Product { id: ID! @shareable }",
            ),
        ),
        (
            "catalog",
            fed2(
                IMPORTS,
                "type Query { product(id: ID!): Product }\n\
                 type Product @key(fields: \"id\") { id: ID! name: String! }",
            ),
        ),
    ]
}

#[test]
fn a_type_can_be_an_entity_in_one_subgraph_and_a_value_type_in_another() {
    let supergraph = supergraph(&pairs(&reviews_and_catalog()));
    // Apollo's joins: keyed where it is an entity, plain where it is a value type.
    assert_eq!(
        definition(&supergraph, "type Product"),
        "type Product\n  \
           @join__type(graph: CATALOG, key: \"id\")\n  \
           @join__type(graph: REVIEWS)\n\
         {\n  \
           id: ID!\n  \
           name: String! @join__field(graph: CATALOG)\n\
         }"
    );
    assert!(!supergraph.contains("tributary__"), "{supergraph}");
    assert_eq!(
        plan(&supergraph, "{ reviews { body product { id name } } }"),
        "  Sequence\n    \
             Fetch(service: \"reviews\")\n    \
             Flatten(path: \"reviews.@.product\")\n      \
               Fetch(service: \"catalog\")"
    );
}

#[tokio::test]
async fn a_value_type_is_completed_by_the_subgraph_owning_the_entity() {
    let [(reviews, reviews_sdl), (catalog, catalog_sdl)] = reviews_and_catalog();
    let stack = Stack::start(&[
        (
            reviews,
            &reviews_sdl,
            json!({"Query": {"reviews": [
                {"body": "Bright", "product": {"id": "p1"}},
                {"body": "Wobbly", "product": {"id": "p2"}}
            ]}}),
        ),
        (
            catalog,
            &catalog_sdl,
            json!({"Product": [{"id": "p1", "name": "Lamp"}, {"id": "p2", "name": "Desk"}]}),
        ),
    ])
    .await;
    let answer = stack
        .query("{ reviews { body product { id name } } }")
        .await;
    assert_eq!(
        answer,
        json!({"data": {"reviews": [
            {"body": "Bright", "product": {"id": "p1", "name": "Lamp"}},
            {"body": "Wobbly", "product": {"id": "p2", "name": "Desk"}}
        ]}})
    );
    assert_eq!(stack.requests(), json!({"catalog": 1, "reviews": 1}));
}

#[test]
fn a_value_type_that_cannot_reach_the_entity_is_rejected_as_apollo_does() {
    // `reviews` knows products by their sku, which is no key of `catalog`'s: nothing can fetch a
    // reviewed product's name.
    let reviews = fed2(
        IMPORTS,
        "type Query { reviews: [Review!]! }\n\
         type Review { body: String! product: Product! }\n\
         type Product { sku: String! }",
    );
    let catalog = &reviews_and_catalog()[1].1;
    let found = rejected(&[("reviews", &reviews), ("catalog", catalog)]);
    let name = found
        .iter()
        .find(|d| d.field.as_deref() == Some("name"))
        .unwrap_or_else(|| panic!("no diagnostic about `name` in {found:?}"));
    assert_eq!(name.subgraphs, ["catalog", "reviews"]);
    assert_eq!(name.type_name.as_deref(), Some("Product"));
    assert_eq!(name.locations, [at("catalog", 3), at("reviews", 4)]);
    assert!(
        name.message.contains("returned by subgraph `reviews`")
            && name.message.contains("`Query.reviews → Review.product`")
            && name.message.contains("no resolvable `@key` on `Product`"),
        "{name}"
    );
}

#[test]
fn value_type_fields_resolved_elsewhere_must_be_shareable_as_apollo_requires() {
    let reviews = fed2(
        IMPORTS,
        "type Query { reviews: [Review!]! }\n\
         type Review { body: String! product: Product! }\n\
         type Product { id: ID! }",
    );
    let catalog = &reviews_and_catalog()[1].1;
    let found = rejected(&[("reviews", &reviews), ("catalog", catalog)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "[catalog, reviews] Product.id: `Product.id` is resolved by subgraphs `catalog`, \
         `reviews` but is not shareable in subgraph `reviews`: mark it `@shareable` there \
         (catalog line 3, reviews line 4)"
    );
}

/// `orders` and `shipping` both key orders by their id and region code.
fn orders_and_shipping(shipping_key: &str) -> [(&'static str, String); 2] {
    [
        (
            "orders",
            fed2(
                IMPORTS,
                "type Query { orders: [Order!]! }\n\
                 type Order @key(fields: \"id region { code }\") { id: ID! region: Region! total: Int! }\n\
                 type Region { code: String! }",
            ),
        ),
        (
            "shipping",
            fed2(
                IMPORTS,
                &format!(
                    "type Order @key(fields: \"{shipping_key}\") {{ id: ID! region: Region! carrier: String! }}\n\
                     type Region {{ code: String! }}"
                ),
            ),
        ),
    ]
}

#[test]
fn fields_a_key_selects_at_any_depth_are_shareable() {
    let supergraph = supergraph(&pairs(&orders_and_shipping("id region { code }")));
    assert_eq!(
        definition(&supergraph, "type Region"),
        "type Region\n  @join__type(graph: ORDERS)\n  @join__type(graph: SHIPPING)\n{\n  code: String!\n}"
    );
    assert!(definition(&supergraph, "type Order").starts_with(
        "type Order\n  \
           @join__type(graph: ORDERS, key: \"id region { code }\")\n  \
           @join__type(graph: SHIPPING, key: \"id region { code }\")\n{"
    ));
    assert_eq!(
        plan(
            &supergraph,
            "{ orders { id region { code } total carrier } }"
        ),
        "  Sequence\n    \
             Fetch(service: \"orders\")\n    \
             Flatten(path: \"orders.@\")\n      \
               Fetch(service: \"shipping\")"
    );
}

#[tokio::test]
async fn an_entity_with_a_nested_key_is_fetched_by_it() {
    let [(orders, orders_sdl), (shipping, shipping_sdl)] =
        orders_and_shipping("id region { code }");
    let stack = Stack::start(&[
        (
            orders,
            &orders_sdl,
            json!({"Query": {"orders": [{"id": "o1", "region": {"code": "EU"}, "total": 42}]}}),
        ),
        (
            shipping,
            &shipping_sdl,
            json!({"Order": [
                {"id": "o1", "region": {"code": "US"}, "carrier": "Truck"},
                {"id": "o1", "region": {"code": "EU"}, "carrier": "Rail"}
            ]}),
        ),
    ])
    .await;
    let answer = stack
        .query("{ orders { id region { code } total carrier } }")
        .await;
    assert_eq!(
        answer,
        json!({"data": {"orders": [
            {"id": "o1", "region": {"code": "EU"}, "total": 42, "carrier": "Rail"}
        ]}})
    );
    assert_eq!(stack.requests(), json!({"orders": 1, "shipping": 1}));
}

#[test]
fn a_nested_key_field_another_subgraph_resolves_unshared_is_rejected_as_apollo_does() {
    let found = rejected(&pairs(&orders_and_shipping("id")));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "[orders, shipping] Region.code: `Region.code` is resolved by subgraphs `orders`, \
         `shipping` but is not shareable in subgraph `shipping` (a key selecting it makes it \
         shareable only in the key's own subgraph): mark it `@shareable` there \
         (orders line 4, shipping line 3)"
    );
}

/// `search` returns products with their names only; `products` has their prices too. Both mark
/// the type `@shareable`.
fn products_and_search() -> [(&'static str, String); 2] {
    [
        (
            "products",
            fed2(
                IMPORTS,
                "type Query { product(id: ID!): Product }\n\
                 type Product @key(fields: \"id\") @shareable { id: ID! name: String! price: Int! }",
            ),
        ),
        (
            "search",
            fed2(
                IMPORTS,
                "type Query { search(term: String!): [Product!]! }\n\
                 type Product @key(fields: \"id\") @shareable { id: ID! name: String! }",
            ),
        ),
    ]
}

#[test]
fn a_shareable_type_may_have_other_fields_in_each_subgraph() {
    let supergraph = supergraph(&pairs(&products_and_search()));
    assert_eq!(
        definition(&supergraph, "type Product"),
        "type Product\n  \
           @join__type(graph: PRODUCTS, key: \"id\")\n  \
           @join__type(graph: SEARCH, key: \"id\")\n\
         {\n  \
           id: ID!\n  \
           name: String!\n  \
           price: Int! @join__field(graph: PRODUCTS)\n\
         }"
    );
    assert_eq!(
        plan(&supergraph, "{ search(term: \"lamp\") { name price } }"),
        "  Sequence\n    \
             Fetch(service: \"search\")\n    \
             Flatten(path: \"search.@\")\n      \
               Fetch(service: \"products\")"
    );
}

#[tokio::test]
async fn a_shareable_type_gets_each_field_from_a_subgraph_that_has_it() {
    let [(products, products_sdl), (search, search_sdl)] = products_and_search();
    let stack = Stack::start(&[
        (
            products,
            &products_sdl,
            json!({"Product": [{"id": "p1", "name": "Lamp", "price": 30}]}),
        ),
        (
            search,
            &search_sdl,
            json!({"Query": {"search": [{"id": "p1", "name": "Lamp"}]}}),
        ),
    ])
    .await;
    let answer = stack
        .query("{ search(term: \"lamp\") { name price } }")
        .await;
    assert_eq!(
        answer,
        json!({"data": {"search": [{"name": "Lamp", "price": 30}]}})
    );
    assert_eq!(stack.requests(), json!({"products": 1, "search": 1}));
}

#[test]
fn a_shareable_value_type_composes_when_every_query_can_get_each_field() {
    let money = |fields: &str| {
        fed2(
            IMPORTS,
            &format!(
                "type Query {{ total: Money @shareable }}\ntype Money @shareable {{ {fields} }}"
            ),
        )
    };
    // `total` can always be fetched from `ledger`, which has both fields.
    let ledger = money("amount: Int! currency: String!");
    let cart = money("amount: Int!");
    let supergraph = supergraph(&[("ledger", &ledger), ("cart", &cart)]);
    assert!(
        definition(&supergraph, "type Money")
            .contains("currency: String! @join__field(graph: LEDGER)")
    );
    assert_eq!(
        plan(&supergraph, "{ total { amount currency } }"),
        "  Fetch(service: \"ledger\")"
    );

    // Here `cart` alone returns its totals, and cannot get their currency.
    let cart = fed2(
        IMPORTS,
        "type Query { cartTotal: Money }\ntype Money @shareable { amount: Int! }",
    );
    let found = rejected(&[("ledger", &ledger), ("cart", &cart)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "[cart, ledger] Money.currency: `Money.currency` cannot be planned for a `Money` \
         returned by subgraph `cart` (a query reaching it through `Query.cartTotal`): that \
         subgraph does not resolve it, and subgraph `ledger` resolves it but has no resolvable \
         `@key` on `Money` whose fields subgraph `cart` can provide (cart line 3, ledger line 3)"
    );
}
