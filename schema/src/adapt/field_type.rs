//! Output field types that differ between subgraphs in ways Apollo composes and
//! `graphql-composition` calls conflicting. Apollo gives the field the most general of the
//! types and records each subgraph's own in `@join__field(type:)`:
//!
//! - an object type in one subgraph and an abstract type containing it in another (`book:
//!   Book` and `book: Media`, `union Media = Book | Movie`): the object-typed declaration is
//!   retyped to the abstract type, declaring it in that subgraph when it does not
//!   (`patch::adapted` removes that declaration's joins): a union of the objects returned, or an
//!   interface with one of its fields (as another subgraph declares it) that the objects
//!   declare, the objects extended to implement it. Where the subgraph declares the abstract
//!   type itself, the object must already belong to it there.
//! - lists whose items are non-null in one subgraph and nullable in another (`[Book!]!` and
//!   `[Book]`; `graphql-composition` only merges the outermost level): every declaration is
//!   written with the merged type, nullable wherever one of them is.
//!
//! The `join_field` patch then writes each subgraph's own type back from the facts.

use std::collections::{BTreeMap, BTreeSet};

use super::{Edits, Source};
use crate::facts::{Kind, SubgraphFacts, named_type};

/// Rewrites the subgraph's declarations of such fields.
pub(super) fn adapt(source: &Source<'_>, all: &[SubgraphFacts], edits: &mut Edits) {
    let own = source.facts;
    // Abstract types to declare in this subgraph, with the objects its fields return.
    let mut declared: BTreeMap<String, (Kind, BTreeSet<String>)> = BTreeMap::new();
    // Each rewrite: the bytes of the type, the type to write, the abstract type it needs.
    let mut rewrites: Vec<(usize, usize, String, Option<String>)> = Vec::new();
    for (type_name, ty) in &own.types {
        if !matches!(ty.kind, Kind::Object | Kind::Interface) {
            continue;
        }
        for field in &ty.fields {
            let Some(declaration) = source.field(type_name, &field.name) else {
                continue;
            };
            let object = named_type(&field.ty);
            let mut name = object.to_owned();
            let mut needs = None;
            if let Some(wider) = widened(own, all, type_name, &field.name) {
                match own.types.get(&wider.name) {
                    Some(_) if !is_possible(own, object, &wider.name) => continue,
                    Some(_) => {}
                    None => {
                        declared
                            .entry(wider.name.clone())
                            .or_insert_with(|| (wider.kind, BTreeSet::new()))
                            .1
                            .insert(object.to_owned());
                        needs = Some(wider.name.clone());
                    }
                }
                name = wider.name;
            }
            let shape =
                merged_shape(all, type_name, &field.name).unwrap_or_else(|| Shape::of(&field.ty));
            let written = shape.render(&name);
            if written != field.ty {
                let span = declaration.ty().span();
                rewrites.push((span.start, span.end, written, needs));
            }
        }
    }
    let mut undeclarable = BTreeSet::new();
    for (name, (kind, objects)) in declared {
        let objects: Vec<String> = objects.into_iter().collect();
        if kind == Kind::Union {
            edits.append(&format!("union {name} = {}", objects.join(" | ")));
            continue;
        }
        match shared_interface_field(own, all, &name, &objects) {
            Some((field, ty)) => {
                edits.append(&format!("interface {name} {{ {field}: {ty} }}"));
                for object in objects {
                    edits.append(&format!("extend type {object} implements {name}"));
                }
            }
            // No field for all of them: the fields keep their types, for composition to report.
            None => {
                undeclarable.insert(name);
            }
        }
    }
    for (start, end, written, needs) in rewrites {
        if !needs.is_some_and(|name| undeclarable.contains(&name)) {
            edits.replace(start, end, written);
        }
    }
}

/// A field of the interface, as a subgraph declaring it writes it, that each object declares
/// in `own` without arguments and with that type (or its non-null form).
fn shared_interface_field(
    own: &SubgraphFacts,
    all: &[SubgraphFacts],
    interface: &str,
    objects: &[String],
) -> Option<(String, String)> {
    let declared = all
        .iter()
        .filter_map(|s| s.types.get(interface))
        .filter(|ty| ty.kind == Kind::Interface)
        .flat_map(|ty| &ty.fields);
    for field in declared.filter(|f| f.arguments.is_empty()) {
        let fits = objects.iter().all(|object| {
            own.types
                .get(object)
                .and_then(|o| o.field(&field.name))
                .is_some_and(|f| {
                    f.arguments.is_empty() && (f.ty == field.ty || f.ty == format!("{}!", field.ty))
                })
        });
        if fits {
            return Some((field.name.clone(), field.ty.clone()));
        }
    }
    None
}

/// The abstract type another subgraph gives a field.
pub(crate) struct Wider {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

/// The abstract type to retype `own`'s declaration of `type_name.field` to: `own` returns an
/// object type, which is a possible type of the one abstract type other subgraphs return, and
/// every other subgraph returns that abstract type or one of its possible object types. `None`
/// when the field is fine as it is, or when composition is to report the conflict.
pub(crate) fn widened(
    own: &SubgraphFacts,
    all: &[SubgraphFacts],
    type_name: &str,
    field: &str,
) -> Option<Wider> {
    let declared = own.types.get(type_name)?.field(field)?;
    if declared.provides.is_some() {
        return None;
    }
    let object = named_type(&declared.ty);
    if own.types.get(object)?.kind != Kind::Object {
        return None;
    }
    let mut wider: Option<Wider> = None;
    let mut returned = Vec::new();
    for other in all.iter().filter(|s| s.name != own.name) {
        let Some(theirs) = other.types.get(type_name).and_then(|t| t.field(field)) else {
            continue;
        };
        // Lists of other depths are a conflict composition reports, in the types as written.
        if Shape::of(&theirs.ty).0.len() != Shape::of(&declared.ty).0.len() {
            return None;
        }
        let name = named_type(&theirs.ty);
        match other.types.get(name).map(|t| t.kind) {
            Some(kind @ (Kind::Union | Kind::Interface)) => match &wider {
                Some(known) if known.name != name => return None,
                Some(_) => {}
                None => {
                    wider = Some(Wider {
                        name: name.to_owned(),
                        kind,
                    });
                }
            },
            Some(Kind::Object) => returned.push(name.to_owned()),
            _ => return None,
        }
    }
    let wider = wider?;
    let possible = |object: &str| all.iter().any(|s| is_possible(s, object, &wider.name));
    let declarable = wider.kind == Kind::Union
        || own.types.contains_key(&wider.name)
        || shared_interface_field(own, all, &wider.name, &[object.to_owned()]).is_some();
    (declarable && possible(object) && returned.iter().all(|o| possible(o))).then_some(wider)
}

/// Whether `object` is a member of the union, or implements the interface, `abstract_type` in
/// this subgraph.
fn is_possible(subgraph: &SubgraphFacts, object: &str, abstract_type: &str) -> bool {
    match subgraph.types.get(abstract_type) {
        Some(ty) if ty.kind == Kind::Union => ty.members.iter().any(|m| m == object),
        Some(ty) if ty.kind == Kind::Interface => subgraph
            .types
            .get(object)
            .is_some_and(|o| o.implements.iter().any(|i| i == abstract_type)),
        _ => false,
    }
}

/// A type's wrappers: whether each level is non-null, outermost first; one level per list,
/// then the named type's.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape(Vec<bool>);

impl Shape {
    /// Reads `[[Int!]]!` as non-null list of nullable lists of non-null `Int`.
    fn of(ty: &str) -> Self {
        let mut levels = Vec::new();
        let mut rest = ty.trim();
        loop {
            let non_null = rest.ends_with('!');
            rest = rest.trim_end_matches('!');
            levels.push(non_null);
            match rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                Some(inner) => rest = inner,
                None => return Shape(levels),
            }
        }
    }

    fn render(&self, name: &str) -> String {
        let mut out = name.to_owned();
        for (depth, non_null) in self.0.iter().enumerate().rev() {
            if depth + 1 < self.0.len() {
                out = format!("[{out}]");
            }
            if *non_null {
                out.push('!');
            }
        }
        out
    }
}

/// The wrappers every subgraph's declaration of the field is to be written with, when they
/// differ below the outermost level (which `graphql-composition` merges itself): nullable
/// wherever one is. `None` when there is nothing to merge, or the list depths differ.
fn merged_shape(all: &[SubgraphFacts], type_name: &str, field: &str) -> Option<Shape> {
    let shapes: Vec<Shape> = all
        .iter()
        .filter_map(|s| s.types.get(type_name)?.field(field))
        .map(|f| Shape::of(&f.ty))
        .collect();
    let first = shapes.first()?;
    if shapes.iter().any(|s| s.0.len() != first.0.len()) {
        return None;
    }
    let inner_differs =
        (1..first.0.len()).any(|level| shapes.iter().any(|s| s.0[level] != first.0[level]));
    if !inner_differs {
        return None;
    }
    let merged = (0..first.0.len())
        .map(|level| shapes.iter().all(|s| s.0[level]))
        .collect();
    Some(Shape(merged))
}
