//! Contracts: the elements of an excluded tag, and what they force, become `@inaccessible`;
//! the planner still loads the result and its API schema lacks them.

use crate::{definition, fed2, plan_outline, planner, supergraph};
use graphql_tools::parser::schema::{Definition, Document, Field, TypeDefinition};
use tributary_schema::{Contract, ContractError, render_api};

/// A shop whose web-only elements are tagged `web`, one of each kind the tag may be on.
fn shop() -> String {
    let shop = fed2(
        &["@key", "@tag"],
        r#"type Query {
  products: [Product!]!
  search(text: String!, mode: SearchMode = PLAIN): [Hit!]!
  categories: [Category!]!
  stats: Stats
}
type Mutation {
  review(input: ReviewInput!): Boolean
  label(id: ID!, text: String! @tag(name: "web")): Boolean
}
enum SearchMode { PLAIN FUZZY @tag(name: "web") }
union Hit = Product | Category
interface Node { id: ID! label: String }
type Product implements Node @key(fields: "id") {
  id: ID!
  name: String!
  label: String @tag(name: "web")
  description: String @tag(name: "web")
  category: Category
  price(currency: String @tag(name: "web")): Int!
}
type Category implements Node @tag(name: "web") { id: ID! label: String name: String! }
type Stats { visits: Int! @tag(name: "web") }
input ReviewInput { rating: Int! body: String @tag(name: "web") }"#,
    );
    supergraph(&[("shop", &shop)])
}

/// Whether a schema document has the element at a coordinate: `Type`, `Type.member` or
/// `Type.field(argument:)`.
fn has(document: &Document<'static, String>, coordinate: &str) -> bool {
    let (type_name, rest) = coordinate.split_once('.').unwrap_or((coordinate, ""));
    let (member, argument) = match rest.split_once('(') {
        Some((field, argument)) => (field, argument.trim_end_matches(":)")),
        None => (rest, ""),
    };
    document.definitions.iter().any(|d| {
        let Definition::TypeDefinition(t) = d else {
            return false;
        };
        let (name, members): (&str, Vec<(&str, Vec<&str>)>) = match t {
            TypeDefinition::Object(o) => (&o.name, fields(&o.fields)),
            TypeDefinition::Interface(i) => (&i.name, fields(&i.fields)),
            TypeDefinition::InputObject(i) => (
                &i.name,
                i.fields.iter().map(|f| (f.name.as_str(), vec![])).collect(),
            ),
            TypeDefinition::Enum(e) => (
                &e.name,
                e.values.iter().map(|v| (v.name.as_str(), vec![])).collect(),
            ),
            TypeDefinition::Union(u) => (&u.name, vec![]),
            TypeDefinition::Scalar(s) => (&s.name, vec![]),
        };
        name == type_name
            && (member.is_empty()
                || members.iter().any(|(m, arguments)| {
                    *m == member && (argument.is_empty() || arguments.contains(&argument))
                }))
    })
}

fn fields<'a>(fields: &'a [Field<'static, String>]) -> Vec<(&'a str, Vec<&'a str>)> {
    fields
        .iter()
        .map(|f| {
            let arguments = f.arguments.iter().map(|a| a.name.as_str()).collect();
            (f.name.as_str(), arguments)
        })
        .collect()
}

fn web_contract() -> String {
    Contract::excluding(&["web"])
        .apply(&shop())
        .unwrap_or_else(|error| panic!("the contract applies: {error}"))
}

#[test]
fn tagged_elements_and_what_they_force_become_inaccessible() {
    let contract = web_contract();
    for (header, expected) in [
        // Tagged: a field, an argument, an enum value, an input field.
        (
            "type Product",
            "  description: String @tag(name: \"web\") @inaccessible\n",
        ),
        (
            "type Product",
            "  price(currency: String @tag(name: \"web\") @inaccessible): Int!\n",
        ),
        (
            "enum SearchMode",
            "  FUZZY @tag(name: \"web\") @join__enumValue(graph: SHOP) @inaccessible\n",
        ),
        (
            "input ReviewInput",
            "  body: String @tag(name: \"web\") @inaccessible\n",
        ),
        // A tagged type, and the fields returning it.
        ("type Category", "  @tag(name: \"web\")\n  @inaccessible\n{"),
        ("type Product", "  category: Category @inaccessible\n"),
        ("type Query", "  categories: [Category!]! @inaccessible\n"),
        // A type left without visible fields, and the field returning it.
        (
            "type Stats",
            "  @join__type(graph: SHOP)\n  @inaccessible\n{",
        ),
        ("type Query", "  stats: Stats @inaccessible\n"),
        // A required argument that is hidden hides its field.
        (
            "type Mutation",
            "  label(id: ID!, text: String! @tag(name: \"web\")): Boolean @inaccessible\n",
        ),
        // An interface field an implementation hides.
        ("interface Node", "  label: String @inaccessible\n"),
    ] {
        let definition = definition(&contract, header);
        assert!(
            definition.contains(expected),
            "{header} lacks {expected:?}:\n{definition}"
        );
    }
    for visible in [
        "  name: String!\n",
        "  products: [Product!]!\n",
        "  review(input: ReviewInput!): Boolean\n",
    ] {
        assert!(contract.contains(visible), "{visible:?} was hidden");
    }
    assert!(
        contract.contains(
            "  @link(url: \"https://specs.apollo.dev/inaccessible/v0.2\", for: SECURITY)\n"
        )
    );
    assert!(contract.contains("\ndirective @inaccessible on FIELD_DEFINITION | OBJECT"));
}

#[test]
fn the_planner_loads_the_contract_and_its_api_schema_lacks_the_hidden_elements() {
    let contract = web_contract();
    let planner = planner(&contract);
    let consumer = &planner.consumer_schema.document;
    for hidden in [
        "Product.description",
        "Product.price(currency:)",
        "SearchMode.FUZZY",
        "ReviewInput.body",
        "Category",
        "Product.category",
        "Query.categories",
        "Stats",
        "Query.stats",
        "Mutation.label",
        "Node.label",
    ] {
        assert!(!has(consumer, hidden), "the API schema has {hidden}");
    }
    for visible in [
        "Product.name",
        "Product.price",
        "SearchMode.PLAIN",
        "ReviewInput.rating",
    ] {
        assert!(has(consumer, visible), "the API schema lacks {visible}");
    }
    let outline = plan_outline(
        &planner,
        r#"{ products { name price } search(text: "tea") { ... on Product { id } } }"#,
    );
    assert_eq!(outline, "  Fetch(service: \"shop\")");
}

#[test]
fn the_api_schema_text_is_what_clients_see() {
    let planner = planner(&web_contract());
    assert_eq!(
        render_api(&planner.consumer_schema.document),
        r#"union Hit = Product

type Mutation {
  review(input: ReviewInput!): Boolean
}

interface Node {
  id: ID!
}

type Product implements Node {
  id: ID!
  name: String!
  price: Int!
}

type Query {
  products: [Product!]!
  search(text: String!, mode: SearchMode = PLAIN): [Hit!]!
}

input ReviewInput {
  rating: Int!
}

enum SearchMode {
  PLAIN
}
"#
    );
}

#[test]
fn without_excluded_tags_nothing_new_is_hidden() {
    let shop = shop();
    let contract = Contract::excluding(&["internal"])
        .apply(&shop)
        .expect("applies");
    assert_eq!(contract, shop);
}

#[test]
fn unreachable_types_are_hidden_when_asked() {
    let sdl = fed2(
        &["@key", "@tag"],
        "type Query { me: User, audit: AuditLog @tag(name: \"web\") }\n\
         type User @key(fields: \"id\") { id: ID! }\n\
         type AuditLog { entries: [String!]! }",
    );
    let supergraph = supergraph(&[("users", &sdl)]);
    let kept = Contract::excluding(&["web"])
        .apply(&supergraph)
        .expect("applies");
    assert!(!definition(&kept, "type AuditLog").contains("@inaccessible"));
    let pruned = Contract::excluding(&["web"])
        .hiding_unreachable_types(true)
        .apply(&supergraph)
        .expect("applies");
    assert!(definition(&pruned, "type AuditLog").contains("  @inaccessible\n{"));
    assert!(!definition(&pruned, "type User").contains("@inaccessible"));
    let api = render_api(&planner(&pruned).consumer_schema.document);
    assert!(!api.contains("AuditLog"), "{api}");
}

#[test]
fn an_empty_mutation_root_is_hidden_and_dropped_from_the_schema() {
    let sdl = fed2(
        &["@key", "@tag"],
        "type Query { me: String }\ntype Mutation { wipe: Boolean @tag(name: \"web\") }",
    );
    let contract = Contract::excluding(&["web"])
        .apply(&supergraph(&[("users", &sdl)]))
        .expect("applies");
    assert!(!contract.contains("mutation: Mutation"), "{contract}");
    let api = render_api(&planner(&contract).consumer_schema.document);
    assert_eq!(api, "type Query {\n  me: String\n}\n");
}

#[test]
fn a_contract_hiding_every_query_field_is_refused() {
    let sdl = fed2(
        &["@tag"],
        "type Query { secret: String @tag(name: \"web\") }",
    );
    let error = Contract::excluding(&["web"])
        .apply(&supergraph(&[("users", &sdl)]))
        .expect_err("refused");
    assert!(matches!(error, ContractError::EmptyQuery(ref name) if name == "Query"));
}

#[test]
fn an_include_list_shows_only_what_is_tagged_and_exclusion_still_wins() {
    let sdl = fed2(
        &["@key", "@tag"],
        "type Query {\n  products: [Product!]! @tag(name: \"public\")\n  orders: [Order!]!\n  me: User @tag(name: \"public\")\n}\n\
         type Product @key(fields: \"id\") @tag(name: \"public\") { id: ID! name: String! cost: Int @tag(name: \"internal\") }\n\
         type Order { id: ID! }\n\
         type User { id: ID! @tag(name: \"public\") email: String }",
    );
    let supergraph = supergraph(&[("shop", &sdl)]);
    let contract = Contract::excluding(&["internal"])
        .including(&["public"])
        .apply(&supergraph)
        .expect("applies");
    let api = render_api(&planner(&contract).consumer_schema.document);
    let document = graphql_tools::parser::parse_schema::<String>(&api)
        .expect("the API schema parses")
        .into_static();
    for shown in [
        "Query.products",
        "Query.me",
        "Product.id",
        "Product.name",
        "User.id",
    ] {
        assert!(has(&document, shown), "{shown} should be shown:\n{api}");
    }
    for hidden in ["Query.orders", "Order", "Product.cost", "User.email"] {
        assert!(!has(&document, hidden), "{hidden} should be hidden:\n{api}");
    }
}
