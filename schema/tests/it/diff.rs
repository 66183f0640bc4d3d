//! Breaking and safe changes between two versions of an API schema, one line each.

use tributary_schema::diff::{diff, has_breaking};

/// The base version every case edits.
const OLD: &str = r#"
type Query {
  product(id: ID!): Product
  products(first: Int = 20, after: String): [Product!]!
  search(text: String!): [Hit!]!
}
type Mutation { review(input: ReviewInput!): Review }
interface Node { id: ID! }
type Product implements Node {
  id: ID!
  name: String!
  description: String
  price: Int!
  tags: [String!]!
  status: Status!
}
type Review { id: ID! rating: Int! }
union Hit = Product | Review
enum Status { DRAFT LIVE RETIRED }
input ReviewInput { productId: ID! rating: Int! body: String }
"#;

/// Applies `edits` (pairs of text to replace in [`OLD`]) and lists the changes as printed.
fn check(edits: &[(&str, &str)], expected: &[&str]) {
    let mut new = OLD.to_owned();
    for (from, to) in edits {
        assert!(new.contains(from), "{from:?} is not in the schema");
        new = new.replacen(from, to, 1);
    }
    let changes = diff(OLD, &new).expect("both parse");
    let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(lines, expected, "edits {edits:?}");
}

#[test]
fn removals_are_breaking() {
    check(
        &[("  description: String\n", "")],
        &["breaking Product.description: field removed, was `String`"],
    );
    check(
        &[
            ("type Review { id: ID! rating: Int! }", ""),
            ("Review }", "Boolean }"),
            (" | Review", ""),
        ],
        &[
            "breaking Hit: member `Review` removed",
            "breaking Mutation.review: type changed from `Review` to `Boolean`",
            "breaking Review: object type removed",
        ],
    );
    check(
        &[(" RETIRED", "")],
        &["breaking Status.RETIRED: enum value removed"],
    );
    check(
        &[(", after: String", "")],
        &["breaking Query.products(after:): argument removed"],
    );
    check(
        &[(" body: String", "")],
        &["breaking ReviewInput.body: input field removed"],
    );
    check(
        &[("Product implements Node", "Product")],
        &["breaking Product: no longer implements `Node`"],
    );
}

#[test]
fn type_changes_are_breaking_unless_outputs_tighten_or_inputs_loosen() {
    check(
        &[
            ("  price: Int!", "  price: Int"),
            ("  description: String", "  description: String!"),
        ],
        &[
            "breaking Product.price: type changed from `Int!` to `Int`",
            "safe     Product.description: type changed from `String` to `String!`",
        ],
    );
    check(
        &[
            ("tags: [String!]!", "tags: [String]!"),
            ("price: Int!", "price: Float!"),
        ],
        &[
            "breaking Product.price: type changed from `Int!` to `Float!`",
            "breaking Product.tags: type changed from `[String!]!` to `[String]!`",
        ],
    );
    check(
        &[
            ("search(text: String!)", "search(text: String)"),
            ("after: String", "after: String!"),
        ],
        &[
            "breaking Query.products(after:): argument type changed from `String` to `String!`",
            "safe     Query.search(text:): argument type changed from `String!` to `String`",
        ],
    );
    check(
        &[("body: String }", "body: [String] }")],
        &["breaking ReviewInput.body: input field type changed from `String` to `[String]`"],
    );
}

#[test]
fn new_required_inputs_are_breaking_and_optional_ones_safe() {
    check(
        &[
            (
                "search(text: String!)",
                "search(text: String!, locale: String!)",
            ),
            (
                "after: String)",
                "after: String, category: String, order: Int! = 1)",
            ),
            ("body: String }", "body: String title: String! }"),
        ],
        &[
            "breaking Query.search(locale:): required argument added: `String!`",
            "breaking ReviewInput.title: required input field added: `String!`",
            "safe     Query.products(category:): optional argument added: `String`",
            "safe     Query.products(order:): optional argument added: `Int!`",
        ],
    );
}

#[test]
fn additions_and_deprecations_are_safe() {
    check(
        &[
            (
                "  status: Status!\n",
                "  status: Status!\n  rating: Float\n",
            ),
            (" RETIRED", " RETIRED ARCHIVED"),
            (
                "  description: String\n",
                "  description: String @deprecated(reason: \"Use `summary`.\")\n",
            ),
            ("type Review {", "\"A review.\"\ntype Review {"),
            ("first: Int = 20", "first: Int = 10"),
            (
                "union Hit = Product | Review",
                "union Hit = Product | Review | Shop\ntype Shop { id: ID! }",
            ),
        ],
        &[
            "safe     Hit: member `Shop` added (clients must expect new members)",
            "safe     Product.description: deprecated: Use `summary`.",
            "safe     Product.rating: field added: `Float`",
            "safe     Query.products(first:): default changed from `20` to `10`",
            "safe     Review: description added",
            "safe     Shop: object type added",
            "safe     Status.ARCHIVED: enum value added (clients must expect values they do not know)",
        ],
    );
}

#[test]
fn the_same_schema_has_no_changes_and_breaking_is_told_apart() {
    assert_eq!(diff(OLD, OLD).expect("parses"), []);
    let removed = diff(OLD, &OLD.replace("  price: Int!\n", "")).expect("parses");
    assert!(has_breaking(&removed));
    let added = diff(
        OLD,
        &OLD.replace("  price: Int!\n", "  price: Int!\n  sku: String\n"),
    )
    .expect("parses");
    assert!(!has_breaking(&added));
}

#[test]
fn a_schema_that_does_not_parse_is_named() {
    let error = diff(OLD, "type {").expect_err("fails");
    assert!(
        error
            .to_string()
            .starts_with("the new schema is not valid SDL"),
        "{error}"
    );
}
