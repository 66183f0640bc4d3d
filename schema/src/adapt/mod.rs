//! Subgraph sets that Apollo's composer accepts and `graphql-composition` 0.12 refuses, made
//! acceptable to it: each subgraph's SDL is edited, before ingestion, into one that
//! `graphql-composition` composes into the same supergraph, and `patch::adapted` removes
//! what the edits leave in its output. The facts read from the original SDL stay the truth for
//! validation and for every patch, and the edits keep each original line where it was (new
//! definitions go after the last one), so the lines errors cite are those of the SDL as
//! written.
//!
//! - [`entity`]: a type that is an entity in one subgraph and a value type in another gets, in
//!   the value-type subgraph, a non-resolvable key on a field of its own
//!   ([`VALUE_TYPE_KEY`]), both removed from the supergraph.
//! - [`shareable`]: fields selected by a key below its first level are `@shareable`, as Apollo
//!   holds; a type-level `@shareable` on a type whose fields differ between subgraphs is spelled
//!   out on each of its fields, since Apollo does not require shareable types to match.
//! - [`enums`]: an enum used as input and output lists in every subgraph the values that are
//!   `@inaccessible` elsewhere, since Apollo only requires the accessible values to match.
//! - [`field_type`]: a field returning an object type in one subgraph and a union containing
//!   it in another returns the union in both, and list items nullable in one subgraph are
//!   nullable in all; the supergraph keeps each subgraph's own `type:`.
//!
//! Which sets are adapted is decided here; whether the result is still a set Apollo accepts
//! (enum values, field sharing, fields that can be planned) is `validate`'s.

pub(crate) mod entity;
pub(crate) mod enums;
pub(crate) mod field_type;
pub(crate) mod shareable;

use std::collections::HashMap;

use cynic_parser::TypeSystemDocument;
use cynic_parser::type_system::{Definition, Directive, FieldDefinition, TypeDefinition};

use crate::facts::{SubgraphFacts, root_names};

/// The field the value-type side of an entity gets a key on, removed from the supergraph. No
/// subgraph may declare a field of this name.
pub(crate) const VALUE_TYPE_KEY: &str = "tributary__valueTypeKey";

/// The SDL `graphql-composition` ingests for one subgraph: `sdl` itself when nothing needs
/// adapting or when it does not parse (ingestion then reports the original error).
pub(crate) fn sdl(sdl: &str, own: &SubgraphFacts, all: &[SubgraphFacts]) -> String {
    let Ok(document) = cynic_parser::parse_type_system_document(sdl) else {
        return sdl.to_owned();
    };
    let source = Source::new(sdl, &document, own);
    let mut edits = Edits::default();
    entity::adapt(own, all, &mut edits);
    shareable::adapt(&source, all, &mut edits);
    enums::adapt(&source, all, &mut edits);
    field_type::adapt(&source, all, &mut edits);
    edits.apply(sdl)
}

/// Text replacements on one SDL, and definitions to append to it.
#[derive(Default)]
pub(crate) struct Edits {
    replacements: Vec<(usize, usize, String)>,
    appended: String,
}

impl Edits {
    /// Replaces the bytes `start..end` with `text`.
    pub(crate) fn replace(&mut self, start: usize, end: usize, text: impl Into<String>) {
        self.replacements.push((start, end, text.into()));
    }

    /// Inserts `text` at `at`.
    pub(crate) fn insert(&mut self, at: usize, text: impl Into<String>) {
        self.replace(at, at, text);
    }

    /// Appends a definition after the subgraph's own, on lines of its own.
    pub(crate) fn append(&mut self, definition: &str) {
        self.appended.push('\n');
        self.appended.push_str(definition);
        self.appended.push('\n');
    }

    fn apply(mut self, sdl: &str) -> String {
        if self.replacements.is_empty() && self.appended.is_empty() {
            return sdl.to_owned();
        }
        // Later edits first, so earlier offsets stay valid; edits at one offset keep their
        // order. Overlapping replacements cannot arise: each replaces a distinct directive or
        // type name, and insertions fall between tokens.
        let mut order: Vec<usize> = (0..self.replacements.len()).collect();
        order.sort_by_key(|&i| {
            let (start, _, _) = self.replacements[i];
            (std::cmp::Reverse(start), std::cmp::Reverse(i))
        });
        let mut text = sdl.to_owned();
        for i in order {
            let (start, end, replacement) = std::mem::take(&mut self.replacements[i]);
            if start <= end && end <= text.len() {
                text.replace_range(start..end, &replacement);
            }
        }
        text.push_str(&self.appended);
        text
    }
}

/// One subgraph's parsed SDL with its facts: where each type's definitions are.
pub(crate) struct Source<'a> {
    /// The SDL as written.
    pub(crate) text: &'a str,
    pub(crate) facts: &'a SubgraphFacts,
    /// Definitions and extensions by supergraph type name, in document order.
    definitions: HashMap<String, Vec<TypeDefinition<'a>>>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str, document: &'a TypeSystemDocument, facts: &'a SubgraphFacts) -> Self {
        let roots = root_names(document);
        let mut definitions: HashMap<String, Vec<TypeDefinition<'a>>> = HashMap::new();
        for definition in document.definitions() {
            let ty = match definition {
                Definition::Type(ty) | Definition::TypeExtension(ty) => ty,
                _ => continue,
            };
            let name = roots
                .get(ty.name())
                .cloned()
                .unwrap_or_else(|| ty.name().to_owned());
            definitions.entry(name).or_default().push(ty);
        }
        Source {
            text,
            facts,
            definitions,
        }
    }

    /// The definition and extensions of a type, by its supergraph name.
    pub(crate) fn definitions(&self, type_name: &str) -> &[TypeDefinition<'a>] {
        self.definitions.get(type_name).map_or(&[], Vec::as_slice)
    }

    /// The declaration of an object or interface field.
    pub(crate) fn field(&self, type_name: &str, field: &str) -> Option<FieldDefinition<'a>> {
        self.definitions(type_name)
            .iter()
            .flat_map(|definition| fields(definition))
            .find(|f| f.name() == field)
    }

    /// Whether a directive applied here is the federation directive `canonical`.
    pub(crate) fn is(&self, directive: &Directive<'_>, canonical: &str) -> bool {
        self.facts.canonical_directive(directive.name()) == Some(canonical)
    }
}

/// The fields of an object or interface definition.
pub(crate) fn fields<'a>(definition: &TypeDefinition<'a>) -> Vec<FieldDefinition<'a>> {
    match definition {
        TypeDefinition::Object(object) => object.fields().collect(),
        TypeDefinition::Interface(interface) => interface.fields().collect(),
        _ => Vec::new(),
    }
}

/// The bytes an applied directive occupies, `@` to its closing parenthesis.
pub(crate) fn directive_span(directive: &Directive<'_>) -> (usize, usize) {
    let name = directive.name_span();
    let arguments = directive.arguments_span();
    (name.start, name.end.max(arguments.end))
}

/// Whether the type is a root operation type, which is never an entity.
pub(crate) fn is_root(type_name: &str) -> bool {
    matches!(type_name, "Query" | "Mutation" | "Subscription")
}
