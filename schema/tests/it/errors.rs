//! Subgraphs that do not compose: each error names the subgraphs, type, field and lines at fault.

use crate::{fed2, sources};
use tributary_schema::{ComposeError, Diagnostic, Location, compose};

/// The diagnostics of a composition that must fail.
fn diagnostics(subgraphs: &[(&str, &str)]) -> Vec<Diagnostic> {
    match compose(&sources(subgraphs)) {
        Err(ComposeError::Composition(diagnostics)) => diagnostics,
        other => panic!("expected composition errors, got {other:?}"),
    }
}

#[test]
fn conflicting_field_types_name_the_subgraphs_type_and_field() {
    let catalog = fed2(
        &["@key", "@shareable"],
        "type Query { product: Product }\n\
         type Product @key(fields: \"id\") { id: ID! weight: Int! @shareable }",
    );
    let shipping = fed2(
        &["@key", "@shareable"],
        "type Product @key(fields: \"id\") { id: ID! weight: Boolean! @shareable }",
    );
    let found = diagnostics(&[("catalog", &catalog), ("shipping", &shipping)]);
    let conflict = found
        .iter()
        .find(|d| d.field.as_deref() == Some("weight"))
        .unwrap_or_else(|| panic!("no diagnostic about `weight` in {found:?}"));
    assert_eq!(conflict.subgraphs, ["catalog", "shipping"]);
    assert_eq!(conflict.type_name.as_deref(), Some("Product"));
    let line = |subgraph: &str, line| Location {
        subgraph: subgraph.to_owned(),
        line,
    };
    assert_eq!(
        conflict.locations,
        [line("catalog", 3), line("shipping", 2)]
    );
    let shown = conflict.to_string();
    assert!(
        shown.starts_with("[catalog, shipping] Product.weight: "),
        "{shown}"
    );
}

#[test]
fn a_provided_field_its_owner_does_not_share_is_rejected_as_apollo_does() {
    let accounts = fed2(
        &["@key"],
        "type Query { me: User }\ntype User @key(fields: \"id\") { id: ID! username: String! }",
    );
    let reviews = fed2(
        &["@key", "@external", "@provides"],
        "type Query { latest: [Review!]! }\n\
         type Review { author: User! @provides(fields: \"username\") }\n\
         type User @key(fields: \"id\") { id: ID! username: String! @external }",
    );
    let found = diagnostics(&[("accounts", &accounts), ("reviews", &reviews)]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].subgraphs, ["accounts", "reviews"]);
    assert_eq!(found[0].type_name.as_deref(), Some("User"));
    assert_eq!(found[0].field.as_deref(), Some("username"));
    assert!(
        found[0].message.contains("mark it `@shareable`"),
        "{}",
        found[0]
    );
}

#[test]
fn a_subgraph_that_does_not_parse_is_named() {
    let error = compose(&sources(&[("broken", "type Query { a: }")])).expect_err("fails");
    match &error {
        ComposeError::Parse { subgraph, .. } => assert_eq!(subgraph, "broken"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(
        error
            .to_string()
            .starts_with("subgraph `broken` does not parse")
    );
}

#[test]
fn names_must_be_unique_and_there_must_be_a_subgraph() {
    let sdl = fed2(&[], "type Query { a: Int }");
    let twice = compose(&sources(&[("a", &sdl), ("a", &sdl)]));
    assert!(matches!(twice, Err(ComposeError::DuplicateSubgraph(name)) if name == "a"));
    assert!(matches!(compose(&[]), Err(ComposeError::NoSubgraphs)));
}

#[test]
fn a_supergraph_without_query_fields_is_rejected() {
    let sdl = fed2(&[], "type Mutation { a: Int }");
    let found = diagnostics(&[("writer", &sdl)]);
    assert_eq!(found[0].type_name.as_deref(), Some("Query"));
}
