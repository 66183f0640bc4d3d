//! What the post-processing adds to `graphql-composition`'s output, one fixture per patch, each
//! also loaded into the planner.

use crate::{definition, fed2, plan_outline, planner, sources, supergraph};
use tributary_schema::compose;

/// A user entity keyed by `id` in `users` and by `email` in `badges`, which marks `email`
/// `@external`: the smallest federation there is, written out in full.
fn users_and_badges() -> Vec<(&'static str, String)> {
    vec![
        (
            "users",
            fed2(
                &["@key"],
                "type Query { me: User }\ntype User @key(fields: \"id\") { id: ID! email: String! }",
            ),
        ),
        (
            "badges",
            fed2(
                &["@key", "@external"],
                "type User @key(fields: \"email\") { email: String! @external badge: String! }",
            ),
        ),
    ]
}

fn borrow<'a>(subgraphs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    subgraphs.iter().map(|(n, s)| (*n, s.as_str())).collect()
}

#[test]
fn the_supergraph_is_what_apollo_emits() {
    let subgraphs = users_and_badges();
    let expected = r#"schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{
  query: Query
}

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet

enum join__Graph {
  BADGES @join__graph(name: "badges", url: "http://badges.test/graphql")
  USERS @join__graph(name: "users", url: "http://users.test/graphql")
}

scalar link__Import

enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}

type Query
  @join__type(graph: BADGES)
  @join__type(graph: USERS)
{
  me: User @join__field(graph: USERS)
}

type User
  @join__type(graph: BADGES, key: "email")
  @join__type(graph: USERS, key: "id")
{
  email: String! @join__field(graph: BADGES, external: true) @join__field(graph: USERS)
  badge: String! @join__field(graph: BADGES)
  id: ID! @join__field(graph: USERS)
}
"#;
    assert_eq!(supergraph(&borrow(&subgraphs)), expected);
}

#[test]
fn an_external_key_field_stays_external_so_the_planner_fetches_it_from_its_owner() {
    let supergraph = supergraph(&borrow(&users_and_badges()));
    let outline = plan_outline(&planner(&supergraph), "{ me { badge } }");
    assert_eq!(
        outline,
        r#"  Sequence
    Fetch(service: "users")
    Flatten(path: "me")
      Fetch(service: "badges")"#
    );
}

#[test]
fn root_types_are_joined_to_their_subgraphs() {
    let mutations = fed2(
        &["@key"],
        "type Query { ping: Boolean }\ntype Mutation { award(badge: String!): Boolean }",
    );
    let supergraph = supergraph(&[("users", &users_and_badges()[0].1), ("badges", &mutations)]);
    // Every subgraph has a query root (`_entities`, `_service`), so `Query` joins them all;
    // `Mutation` joins the subgraphs that define it.
    assert!(
        definition(&supergraph, "type Query")
            .contains("type Query\n  @join__type(graph: BADGES)\n  @join__type(graph: USERS)\n{")
    );
    assert!(
        definition(&supergraph, "type Mutation")
            .starts_with("type Mutation\n  @join__type(graph: BADGES)\n{")
    );
    planner(&supergraph);
}

#[test]
fn a_non_resolvable_interface_object_is_joined_to_its_interface() {
    let media = fed2(
        &["@key"],
        "type Query { node(id: ID!): Node }\n\
         interface Node @key(fields: \"id\") { id: ID! }\n\
         type Article implements Node @key(fields: \"id\") { id: ID! title: String! }",
    );
    let stats = fed2(
        &["@key", "@interfaceObject"],
        "type Query { trending: [Node!]! }\n\
         type Node @key(fields: \"id\", resolvable: false) @interfaceObject { id: ID! }",
    );
    let supergraph = supergraph(&[("media", &media), ("stats", &stats)]);
    assert!(definition(&supergraph, "interface Node").starts_with(
        "interface Node\n  @join__type(graph: MEDIA, key: \"id\")\n  \
         @join__type(graph: STATS, key: \"id\", resolvable: false, isInterfaceObject: true)\n{"
    ));
    let outline = plan_outline(
        &planner(&supergraph),
        "{ trending { id ... on Article { title } } }",
    );
    assert_eq!(
        outline,
        r#"  Sequence
    Fetch(service: "stats")
    Flatten(path: "trending.@")
      Fetch(service: "media")"#
    );
}

#[test]
fn keys_declared_on_type_extensions_are_marked_as_such() {
    let reviews = fed2(
        &["@key"],
        "type Query { top: [User!]! }\nextend type User @key(fields: \"id\") { id: ID! rating: Int! }",
    );
    let supergraph = supergraph(&[("users", &users_and_badges()[0].1), ("reviews", &reviews)]);
    assert!(
        definition(&supergraph, "type User")
            .contains("@join__type(graph: REVIEWS, key: \"id\", extension: true)")
    );
    planner(&supergraph);
}

#[test]
fn unions_are_joined_to_the_subgraphs_defining_them() {
    let search = fed2(
        &["@key"],
        "type Query { search: [Hit!]! }\nunion Hit = Page | Post\n\
         type Page { url: String! }\ntype Post { title: String! }",
    );
    let supergraph = supergraph(&[("search", &search), ("users", &users_and_badges()[0].1)]);
    assert_eq!(
        definition(&supergraph, "union Hit"),
        "union Hit\n  @join__type(graph: SEARCH)\n  \
         @join__unionMember(graph: SEARCH, member: \"Page\")\n  \
         @join__unionMember(graph: SEARCH, member: \"Post\")\n = Page | Post"
    );
    planner(&supergraph);
}

#[test]
fn overrides_keep_what_the_overridden_subgraph_still_needs() {
    let old = fed2(
        &["@key"],
        "type Query { items: [Item!]! }\ninterface Priced { price: Int! }\n\
         type Item implements Priced @key(fields: \"id\") { id: ID! price: Int! }",
    );
    let new = fed2(
        &["@key", "@override"],
        "type Item @key(fields: \"id\") { id: ID! price: Int! @override(from: \"old\") \
         stock: Int! @override(from: \"warehouse\") }",
    );
    let supergraph = supergraph(&[("old", &old), ("new", &new)]);
    let item = definition(&supergraph, "type Item implements Priced");
    // `old` still implements `Priced.price` with it.
    assert!(item.contains(
        "price: Int! @join__field(graph: NEW, override: \"old\") \
         @join__field(graph: OLD, usedOverridden: true)"
    ));
    // `warehouse` is not composed: Apollo drops the override.
    assert!(item.contains("stock: Int! @join__field(graph: NEW)\n"));
    planner(&supergraph);
}

#[test]
fn field_types_are_spelled_out_for_every_subgraph_when_they_differ() {
    let users = fed2(
        &["@key", "@shareable"],
        "type Query { me: User }\ntype User @key(fields: \"id\") { id: ID! nick: String! @shareable }",
    );
    let nicks = fed2(
        &["@key", "@shareable"],
        "type User @key(fields: \"id\") { id: ID! nick: String @shareable }",
    );
    let supergraph = supergraph(&[("users", &users), ("nicks", &nicks)]);
    assert!(definition(&supergraph, "type User").contains(
        "nick: String @join__field(graph: NICKS, type: \"String\") \
         @join__field(graph: USERS, type: \"String!\")"
    ));
    planner(&supergraph);
}

#[test]
fn federation_1_extension_key_fields_are_not_external() {
    let products = "type Query { product: Product }\n\
                    type Product @key(fields: \"upc\") { upc: String! name: String! }";
    let prices = "extend type Product @key(fields: \"upc\") { upc: String! @external price: Int! }";
    let supergraph = supergraph(&[("products", products), ("prices", prices)]);
    let product = definition(&supergraph, "type Product");
    assert!(product.contains("@join__type(graph: PRICES, key: \"upc\")\n"));
    assert!(product.contains("  upc: String!\n"));
    planner(&supergraph);
}

#[test]
fn security_and_tag_specs_are_linked_and_defined_only_when_used() {
    let plain = supergraph(&borrow(&users_and_badges()));
    assert!(!plain.contains("inaccessible"));

    let guarded = fed2(
        &["@key", "@inaccessible", "@tag", "@requiresScopes"],
        "type Query { me: User @tag(name: \"web\") }\n\
         type User @key(fields: \"id\") { id: ID! \
         secret: String @inaccessible email: String! @requiresScopes(scopes: [[\"email\"]]) }",
    );
    let supergraph = supergraph(&[("users", &guarded)]);
    for expected in [
        "@link(url: \"https://specs.apollo.dev/inaccessible/v0.2\", for: SECURITY)",
        "@link(url: \"https://specs.apollo.dev/tag/v0.3\")",
        "@link(url: \"https://specs.apollo.dev/requiresScopes/v0.1\", for: SECURITY)",
        "\ndirective @inaccessible on FIELD_DEFINITION | OBJECT",
        "\ndirective @tag(name: String!) repeatable on FIELD_DEFINITION",
        "\ndirective @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION",
        "\nscalar requiresScopes__Scope\n",
    ] {
        assert!(
            supergraph.contains(expected),
            "missing {expected:?} in\n{supergraph}"
        );
    }
    let consumer = &planner(&supergraph).consumer_schema.document;
    assert!(!consumer.to_string().contains("secret"));
}

#[test]
fn the_output_depends_only_on_the_subgraphs() {
    let subgraphs = users_and_badges();
    let mut reversed = sources(&borrow(&subgraphs));
    let first = compose(&reversed).expect("composes");
    reversed.reverse();
    assert_eq!(compose(&reversed).expect("composes"), first);
    assert_eq!(compose(&reversed).expect("composes"), first);
}
