//! The API schema as text: what a client of a supergraph sees, printed in the same stable
//! layout as the supergraph so that its changes read well in review and diff cleanly.
//!
//! The document comes from the engine (its API schema is the planner's: join and link
//! machinery removed, `@inaccessible` elements pruned, introspection added); this module takes
//! out what every GraphQL schema has implicitly (introspection types and root fields, built-in
//! scalars and directives) and references to types the pruning removed (interfaces an object
//! still names, union members).

use std::collections::BTreeSet;

use graphql_tools::parser::schema::{Definition, TypeDefinition};

use crate::patch::{self, Document};

/// Scalars every schema has.
const BUILT_IN_SCALARS: &[&str] = &["Boolean", "Float", "ID", "Int", "String"];
/// Directives every schema has.
const BUILT_IN_DIRECTIVES: &[&str] = &["deprecated", "include", "oneOf", "skip", "specifiedBy"];

/// Renders an API schema document as SDL ending in one newline: directive definitions, then
/// types by name; the `schema` definition only when a root type has an unusual name.
pub fn render_api(document: &Document) -> String {
    let mut document = document.clone();
    document.definitions.retain(|d| match d {
        Definition::TypeDefinition(t) => {
            let name = patch::type_name(t);
            !name.starts_with("__") && !BUILT_IN_SCALARS.contains(&name)
        }
        Definition::DirectiveDefinition(d) => !BUILT_IN_DIRECTIVES.contains(&d.name.as_str()),
        Definition::SchemaDefinition(_) => true,
        Definition::TypeExtension(_) => false,
    });
    let defined: BTreeSet<String> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::TypeDefinition(t) => Some(patch::type_name(t).to_owned()),
            _ => None,
        })
        .collect();
    let known = |name: &String| defined.contains(name);
    for definition in &mut document.definitions {
        match definition {
            Definition::TypeDefinition(TypeDefinition::Object(o)) => {
                o.fields.retain(|f| !f.name.starts_with("__"));
                o.implements_interfaces.retain(known);
            }
            Definition::TypeDefinition(TypeDefinition::Interface(i)) => {
                i.implements_interfaces.retain(known);
            }
            Definition::TypeDefinition(TypeDefinition::Union(u)) => u.types.retain(known),
            Definition::SchemaDefinition(s) => {
                for root in [&mut s.mutation, &mut s.subscription] {
                    if root.as_ref().is_some_and(|name| !known(name)) {
                        *root = None;
                    }
                }
            }
            _ => {}
        }
    }
    document.definitions.retain(|d| match d {
        Definition::SchemaDefinition(s) => {
            s.query.as_deref().is_some_and(|q| q != "Query")
                || s.mutation.as_deref().is_some_and(|m| m != "Mutation")
                || s.subscription
                    .as_deref()
                    .is_some_and(|s| s != "Subscription")
        }
        _ => true,
    });
    patch::sort_definitions(&mut document);
    crate::render::render(&document)
}
