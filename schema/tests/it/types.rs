//! Types that differ between subgraphs where Apollo's composer merges them and
//! `graphql-composition` 0.12 refused the sets: an enum used as input and output whose values
//! differ, a field returning an object type in one subgraph and a union containing it in
//! another, and `@provides` on an interface-typed field. Each set is composed into what
//! Apollo's composer writes for it, planned by the engine's planner and run end to end; the
//! near misses, which Apollo rejects as well, fail with errors naming the subgraphs, type, field
//! and lines.

use serde_json::json;
use tributary_schema::{ComposeError, Diagnostic, compose};

use crate::stack::{Stack, plan};
use crate::{definition, fed2, pairs, sources, supergraph};

const IMPORTS: &[&str] = &[
    "@key",
    "@shareable",
    "@external",
    "@provides",
    "@inaccessible",
];

/// The diagnostics of a composition that must fail.
fn rejected(subgraphs: &[(&str, &str)]) -> Vec<Diagnostic> {
    match compose(&sources(subgraphs)) {
        Err(ComposeError::Composition(diagnostics)) => diagnostics,
        other => panic!("expected composition errors, got {other:?}"),
    }
}

/// `Role` is an argument and a field type in both subgraphs; each has a value of its own,
/// `@inaccessible`.
fn users_and_billing(billing_extra: &str) -> [(&'static str, String); 2] {
    [
        (
            "users",
            fed2(
                IMPORTS,
                "type Query { users(role: Role): [User!]! }\n\
                 type User @key(fields: \"id\") { id: ID! name: String! role: Role! }\n\
                 enum Role { ADMIN MEMBER SUSPENDED @inaccessible }",
            ),
        ),
        (
            "billing",
            fed2(
                IMPORTS,
                &format!(
                    "type Query {{ plans(role: Role!): [Plan!]! }}\n\
                     type Plan {{ name: String! role: Role! }}\n\
                     type User @key(fields: \"id\") {{ id: ID! plan: Plan }}\n\
                     enum Role {{ ADMIN MEMBER {billing_extra} }}"
                ),
            ),
        ),
    ]
}

#[test]
fn an_enum_used_both_ways_may_differ_by_inaccessible_values() {
    let supergraph = supergraph(&pairs(&users_and_billing("TRIAL @inaccessible")));
    assert_eq!(
        definition(&supergraph, "enum Role"),
        "enum Role\n  @join__type(graph: BILLING)\n  @join__type(graph: USERS)\n{\n  \
           ADMIN @join__enumValue(graph: BILLING) @join__enumValue(graph: USERS)\n  \
           MEMBER @join__enumValue(graph: BILLING) @join__enumValue(graph: USERS)\n  \
           TRIAL @inaccessible @join__enumValue(graph: BILLING)\n  \
           SUSPENDED @inaccessible @join__enumValue(graph: USERS)\n}"
    );
    assert_eq!(
        plan(
            &supergraph,
            "{ users(role: ADMIN) { name role plan { name role } } }"
        ),
        "  Sequence\n    \
             Fetch(service: \"users\")\n    \
             Flatten(path: \"users.@\")\n      \
               Fetch(service: \"billing\")"
    );
}

#[tokio::test]
async fn an_enum_merged_across_subgraphs_is_sent_and_returned() {
    let [(users, users_sdl), (billing, billing_sdl)] = users_and_billing("TRIAL @inaccessible");
    let stack = Stack::start(&[
        (
            users,
            &users_sdl,
            json!({"Query": {"users": [
                {"id": "u1", "name": "Ada", "role": "ADMIN"},
                {"id": "u2", "name": "Bob", "role": "MEMBER"}
            ]}}),
        ),
        (
            billing,
            &billing_sdl,
            json!({"User": [{"id": "u1", "plan": {"name": "Team", "role": "ADMIN"}}]}),
        ),
    ])
    .await;
    let answer = stack
        .query("{ users(role: ADMIN) { name role plan { name role } } }")
        .await;
    assert_eq!(
        answer,
        json!({"data": {"users": [
            {"name": "Ada", "role": "ADMIN", "plan": {"name": "Team", "role": "ADMIN"}}
        ]}})
    );
    assert_eq!(stack.requests(), json!({"billing": 1, "users": 1}));

    // An inaccessible value is no value of the API: refused before any subgraph is asked.
    let refused = stack.query("{ users(role: SUSPENDED) { name } }").await;
    assert!(refused["data"].is_null(), "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("SUSPENDED")),
        "{refused}"
    );
    assert_eq!(stack.requests(), json!({"billing": 0, "users": 0}));
}

#[test]
fn an_enum_used_both_ways_with_an_accessible_value_missing_somewhere_is_rejected() {
    let found = rejected(&pairs(&users_and_billing("TRIAL")));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "[billing, users] Role.TRIAL: `Role` is used as an input type (`Query.plans(role:)` in \
         subgraph `billing`) and as an output type (`Plan.role` in subgraph `billing`), so its \
         values must be the same in every subgraph defining it, but `TRIAL` is defined in \
         subgraph `billing` and not in subgraph `users`: define it there too, or mark it \
         `@inaccessible` (billing line 5, users line 4)"
    );
}

#[test]
fn an_enum_used_one_way_merges_by_union_for_outputs_and_intersection_for_inputs() {
    let shop = fed2(
        IMPORTS,
        "type Query { colour: Colour size(s: Size): Int }\n\
         enum Colour { RED GREEN }\nenum Size { S M }",
    );
    let stock = fed2(
        IMPORTS,
        "type Query { shade: Colour fits(s: Size): Int }\n\
         enum Colour { RED BLUE }\nenum Size { S L }",
    );
    let supergraph = supergraph(&[("shop", &shop), ("stock", &stock)]);
    assert_eq!(
        definition(&supergraph, "enum Colour"),
        "enum Colour\n  @join__type(graph: SHOP)\n  @join__type(graph: STOCK)\n{\n  \
           RED @join__enumValue(graph: SHOP) @join__enumValue(graph: STOCK)\n  \
           GREEN @join__enumValue(graph: SHOP)\n  \
           BLUE @join__enumValue(graph: STOCK)\n}"
    );
    assert_eq!(
        definition(&supergraph, "enum Size"),
        "enum Size\n  @join__type(graph: SHOP)\n  @join__type(graph: STOCK)\n{\n  \
           S @join__enumValue(graph: SHOP) @join__enumValue(graph: STOCK)\n}"
    );
}

/// `books` returns a pick that is a book; `media` one that may be a book or a movie.
fn books_and_media(media_union: &str) -> [(&'static str, String); 2] {
    [
        (
            "books",
            fed2(
                IMPORTS,
                "type Query { pick: Book @shareable picks: [Book!]! @shareable }\n\
                 type Book @key(fields: \"id\") { id: ID! title: String! }",
            ),
        ),
        (
            "media",
            fed2(
                IMPORTS,
                &format!(
                    "type Query {{ pick: Media @shareable picks: [Media] @shareable }}\n\
                     union Media = {media_union}\n\
                     type Book @key(fields: \"id\") {{ id: ID! year: Int! }}\n\
                     type Movie {{ id: ID! title: String! }}"
                ),
            ),
        ),
    ]
}

#[test]
fn a_field_may_return_an_object_in_one_subgraph_and_a_union_containing_it_in_another() {
    let supergraph = supergraph(&pairs(&books_and_media("Book | Movie")));
    let query = definition(&supergraph, "type Query");
    assert!(
        query.contains(
            "pick: Media @join__field(graph: BOOKS, type: \"Book\") \
             @join__field(graph: MEDIA, type: \"Media\")\n"
        ),
        "{query}"
    );
    assert!(
        query.contains(
            "picks: [Media] @join__field(graph: BOOKS, type: \"[Book!]!\") \
             @join__field(graph: MEDIA, type: \"[Media]\")\n"
        ),
        "{query}"
    );
    // `books` declares no union: it is not joined to it.
    assert_eq!(
        definition(&supergraph, "union Media"),
        "union Media\n  @join__type(graph: MEDIA)\n  \
         @join__unionMember(graph: MEDIA, member: \"Book\")\n  \
         @join__unionMember(graph: MEDIA, member: \"Movie\")\n = Book | Movie"
    );
    assert_eq!(
        plan(
            &supergraph,
            "{ pick { __typename ... on Book { title year } ... on Movie { title } } }"
        ),
        "  Parallel\n    \
             Fetch(service: \"media\")\n    \
             Fetch(service: \"books\")"
    );
}

#[tokio::test]
async fn a_field_typed_differently_by_two_subgraphs_is_answered_through_either() {
    let [(books, books_sdl), (media, media_sdl)] = books_and_media("Book | Movie");
    let stack = Stack::start(&[
        (
            books,
            &books_sdl,
            json!({
                "Query": {"pick": {"id": "b1", "title": "Dune"}, "picks": [{"id": "b1", "title": "Dune"}]},
                "Book": [{"id": "b1", "title": "Dune"}]
            }),
        ),
        (
            media,
            &media_sdl,
            json!({
                "Query": {
                    "pick": {"__typename": "Book", "id": "b1", "year": 1965},
                    "picks": [{"__typename": "Book", "id": "b1", "year": 1965}]
                },
                "Book": [{"id": "b1", "year": 1965}]
            }),
        ),
    ])
    .await;
    // One root field per query: for two, the planner sends `media` a named fragment on the
    // union, which async-graphql's dynamic schemas (these test subgraphs) answer with null.
    let answer = stack
        .query("{ pick { __typename ... on Book { title year } ... on Movie { title } } }")
        .await;
    assert_eq!(
        answer,
        json!({"data": {"pick": {"__typename": "Book", "title": "Dune", "year": 1965}}})
    );
    assert_eq!(stack.requests(), json!({"books": 1, "media": 1}));
    let answer = stack
        .query("{ picks { ... on Book { title year } } }")
        .await;
    assert_eq!(
        answer,
        json!({"data": {"picks": [{"title": "Dune", "year": 1965}]}})
    );
    assert_eq!(stack.requests(), json!({"books": 1, "media": 1}));
}

#[test]
fn a_field_returning_an_object_outside_the_other_subgraphs_union_is_rejected() {
    let found = rejected(&pairs(&books_and_media("Movie")));
    let pick = found
        .iter()
        .find(|d| d.field.as_deref() == Some("pick"))
        .unwrap_or_else(|| panic!("no diagnostic about `pick` in {found:?}"));
    assert_eq!(
        pick.to_string(),
        "[books, media] Query.pick: The Query.pick field has conflicting types in different \
         subgraphs: Book in books but Media in media (books line 2, media line 2)"
    );
}

/// `shelves` lists items and knows the titles of its books, which `catalog` owns; it returns
/// books as a value type and films as entities.
fn shelves_and_catalog(provides: &str) -> [(&'static str, String); 2] {
    [
        (
            "shelves",
            fed2(
                IMPORTS,
                &format!(
                    "type Query {{ shelves: [Shelf!]! }}\n\
                     type Shelf @key(fields: \"id\") {{ id: ID! label: String! items: [Item!]! @provides(fields: \"{provides}\") }}\n\
                     interface Item {{ id: ID! title: String! }}\n\
                     type Book implements Item {{ id: ID! @shareable title: String! @external }}\n\
                     type Film implements Item @key(fields: \"id\") {{ id: ID! title: String! @external }}"
                ),
            ),
        ),
        (
            "catalog",
            fed2(
                IMPORTS,
                "type Query { item(id: ID!): Item }\n\
                 interface Item { id: ID! title: String! }\n\
                 type Book implements Item @key(fields: \"id\") { id: ID! title: String! @shareable pages: Int! }\n\
                 type Film implements Item @key(fields: \"id\") { id: ID! title: String! minutes: Int! }",
            ),
        ),
    ]
}

const SHELF_QUERY: &str =
    "{ shelves { label items { id ... on Book { title pages } ... on Film { title } } } }";

#[test]
fn provides_on_an_interface_typed_field_names_implementations_through_fragments() {
    let supergraph = supergraph(&pairs(&shelves_and_catalog("... on Book { title }")));
    assert!(definition(&supergraph, "type Shelf").contains(
        "items: [Item!]! @join__field(graph: SHELVES, provides: \"... on Book { title }\")"
    ));
    assert!(definition(&supergraph, "type Book implements Item").contains(
        "title: String! @join__field(graph: CATALOG) @join__field(graph: SHELVES, external: true)"
    ));
    // Film titles come from `catalog`; book titles are provided, and their pages fetched.
    assert_eq!(
        plan(&supergraph, SHELF_QUERY),
        "  Sequence\n    \
             Fetch(service: \"shelves\")\n    \
             Flatten(path: \"shelves.@.items.@\")\n      \
               Fetch(service: \"catalog\")"
    );
    assert_eq!(
        plan(
            &supergraph,
            "{ shelves { items { ... on Book { title } } } }"
        ),
        "  Fetch(service: \"shelves\")"
    );
}

#[tokio::test]
async fn provided_fields_of_an_interface_typed_field_are_not_fetched_again() {
    let [(shelves, shelves_sdl), (catalog, catalog_sdl)] =
        shelves_and_catalog("... on Book { title }");
    let stack = Stack::start(&[
        (
            shelves,
            &shelves_sdl,
            json!({"Query": {"shelves": [{"id": "s1", "label": "Classics", "items": [
                {"__typename": "Book", "id": "b1", "title": "Dune"},
                {"__typename": "Film", "id": "f1"}
            ]}]}}),
        ),
        (
            catalog,
            &catalog_sdl,
            json!({
                "Book": [{"id": "b1", "title": "Dune (catalog)", "pages": 412}],
                "Film": [{"id": "f1", "title": "Alien", "minutes": 117}]
            }),
        ),
    ])
    .await;
    let answer = stack.query(SHELF_QUERY).await;
    assert_eq!(
        answer,
        json!({"data": {"shelves": [{"label": "Classics", "items": [
            {"id": "b1", "title": "Dune", "pages": 412},
            {"id": "f1", "title": "Alien"}
        ]}]}})
    );
    assert_eq!(stack.requests(), json!({"catalog": 1, "shelves": 1}));
}

#[test]
fn provides_naming_an_interface_field_directly_is_rejected_as_apollo_does() {
    let found = rejected(&pairs(&shelves_and_catalog("title")));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "[shelves] Shelf.items: `@provides(fields: \"title\")` on `Shelf.items` selects \
         `Item.title`, which subgraph `shelves` resolves itself (it is not `@external`): provide \
         the implementations' fields through fragments (`... on Type { field }`) (shelves line 3)"
    );
}
