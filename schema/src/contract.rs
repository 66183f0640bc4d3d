//! Contracts: a supergraph cut down for one kind of client by hiding every element tagged with
//! an excluded tag, as Apollo's contracts do. Hiding is `@inaccessible`: the planner still
//! sees the element (keys, `@requires` and `@provides` may select it) while the API schema
//! clients get leaves it out.
//!
//! What one hidden element forces, to keep the API schema valid, is hidden with it, repeated
//! until nothing changes:
//! - a field, argument or input field whose type is hidden; a required argument (non-null,
//!   without default) that is hidden hides its field, a required input field its input type;
//! - an object, interface or input type left without a visible field, an enum without a
//!   visible value, a union without a visible member;
//! - an interface field that a visible implementation hides (the object would no longer
//!   implement the interface otherwise);
//! - with [`Contract::hide_unreachable_types`], every type no visible field, argument, union
//!   or interface leads to from the root types.
//!
//! A contract that would hide every query field is refused; a mutation or subscription root
//! left empty is hidden and dropped from the schema definition.

use std::collections::{BTreeMap, BTreeSet};

use graphql_tools::parser::schema::{Definition, InputValue, Type, TypeDefinition};

use crate::patch::{self, Directive, Document, Value};

/// Which elements of a supergraph a client may not see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contract {
    /// Elements carrying `@tag(name:)` with one of these names are hidden.
    pub exclude_tags: Vec<String>,
    /// When not empty, only these tags are shown: an object or interface field is hidden
    /// unless it or its type carries one of them (then types left without fields, and types
    /// nothing visible reaches, are hidden too). Exclusion still wins.
    pub include_tags: Vec<String>,
    /// Also hide types that no visible field, argument, union or interface reaches from the
    /// root types (Apollo's "hide unreachable types" option).
    pub hide_unreachable_types: bool,
}

/// Why a contract could not be derived.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The supergraph is not valid SDL.
    #[error("the supergraph is not valid SDL: {0}")]
    Parse(String),
    /// Every field of the query root type would be hidden.
    #[error("the contract hides every field of the query type `{0}`")]
    EmptyQuery(String),
}

impl Contract {
    /// A contract hiding the elements tagged with any of `tags`.
    pub fn excluding<S: AsRef<str>>(tags: &[S]) -> Self {
        Contract {
            exclude_tags: tags.iter().map(|t| t.as_ref().to_owned()).collect(),
            include_tags: Vec::new(),
            hide_unreachable_types: false,
        }
    }

    /// Shows only the elements tagged with one of `tags` (see [`Contract::include_tags`]).
    pub fn including<S: AsRef<str>>(mut self, tags: &[S]) -> Self {
        self.include_tags = tags.iter().map(|t| t.as_ref().to_owned()).collect();
        self
    }

    /// Sets [`Contract::hide_unreachable_types`].
    pub fn hiding_unreachable_types(mut self, hide: bool) -> Self {
        self.hide_unreachable_types = hide;
        self
    }

    /// The contract supergraph: the same supergraph with `@inaccessible` on every element the
    /// contract hides, and the inaccessible spec linked and defined as Apollo's composer does.
    pub fn apply(&self, supergraph: &str) -> Result<String, ContractError> {
        let mut document = graphql_tools::parser::parse_schema::<String>(supergraph)
            .map_err(|error| ContractError::Parse(error.to_string()))?
            .into_static();
        let index = Index::read(&document, &self.exclude_tags, &self.include_tags);
        let mut hidden = index.initially_hidden(!self.include_tags.is_empty());
        index.propagate(&mut hidden);
        if self.hide_unreachable_types || !self.include_tags.is_empty() {
            for name in index.unreachable(&hidden) {
                hidden.insert(Element::Type(name));
            }
        }
        let query = index.roots.query.clone();
        if index.is_hidden_type(&hidden, &query) {
            return Err(ContractError::EmptyQuery(query));
        }
        mark(&mut document, &index, &hidden);
        patch::link_specs(&mut document);
        Ok(crate::render::render(&document))
    }
}

/// A schema element a contract can hide. Input fields are `Field`s of their input type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Element {
    Type(String),
    Field(String, String),
    Argument(String, String, String),
    Value(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
    Scalar,
}

/// A field's or an argument's facts.
struct Member {
    name: String,
    /// The named type it refers to (`Product` for `[Product!]!`); empty for enum values.
    ty: String,
    /// Non-null without a default: an argument or input field a caller must give.
    required: bool,
    /// Already `@inaccessible`, or tagged with an excluded tag.
    hidden: bool,
    /// Tagged with an included tag.
    included: bool,
    arguments: Vec<Member>,
}

struct TypeInfo {
    kind: Kind,
    hidden: bool,
    /// Tagged with an included tag.
    included: bool,
    /// Fields, input fields or enum values.
    members: Vec<Member>,
    /// Implemented interfaces, or union members.
    refs: Vec<String>,
}

struct Roots {
    query: String,
    others: Vec<String>,
}

/// What the contract needs to know of the supergraph, by type name.
struct Index {
    types: BTreeMap<String, TypeInfo>,
    roots: Roots,
}

impl Index {
    fn read(document: &Document, exclude: &[String], include: &[String]) -> Self {
        let includes = |directives: &[Directive]| {
            directives.iter().any(|d| {
                d.name == "tag"
                    && matches!(patch::arg(d, "name"), Some(Value::String(tag)) if include.contains(tag))
            })
        };
        let hides = |directives: &[Directive]| {
            directives.iter().any(|d| {
                d.name == "inaccessible"
                    || (d.name == "tag"
                        && matches!(patch::arg(d, "name"), Some(Value::String(tag)) if exclude.contains(tag)))
            })
        };
        let input = |value: &InputValue<'static, String>| Member {
            name: value.name.clone(),
            ty: named(&value.value_type).to_owned(),
            required: matches!(value.value_type, Type::NonNullType(_))
                && value.default_value.is_none(),
            hidden: hides(&value.directives),
            included: includes(&value.directives),
            arguments: Vec::new(),
        };
        let field = |f: &graphql_tools::parser::schema::Field<'static, String>| Member {
            name: f.name.clone(),
            ty: named(&f.field_type).to_owned(),
            required: false,
            hidden: hides(&f.directives),
            included: includes(&f.directives),
            arguments: f.arguments.iter().map(input).collect(),
        };
        let mut types = BTreeMap::new();
        let mut roots = Roots {
            query: "Query".to_owned(),
            others: Vec::new(),
        };
        let mut declared_roots = false;
        for definition in &document.definitions {
            let t = match definition {
                Definition::TypeDefinition(t) => t,
                Definition::SchemaDefinition(s) => {
                    declared_roots = true;
                    if let Some(query) = &s.query {
                        roots.query.clone_from(query);
                    }
                    roots.others = [&s.mutation, &s.subscription]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect();
                    continue;
                }
                _ => continue,
            };
            let name = patch::type_name(t);
            if patch::is_spec_type(name) {
                continue;
            }
            let (kind, members, refs) = match t {
                TypeDefinition::Object(o) => (
                    Kind::Object,
                    o.fields.iter().map(field).collect(),
                    o.implements_interfaces.clone(),
                ),
                TypeDefinition::Interface(i) => (
                    Kind::Interface,
                    i.fields.iter().map(field).collect(),
                    i.implements_interfaces.clone(),
                ),
                TypeDefinition::InputObject(i) => (
                    Kind::InputObject,
                    i.fields.iter().map(input).collect(),
                    Vec::new(),
                ),
                TypeDefinition::Enum(e) => (
                    Kind::Enum,
                    e.values
                        .iter()
                        .map(|v| Member {
                            name: v.name.clone(),
                            ty: String::new(),
                            required: false,
                            hidden: hides(&v.directives),
                            included: includes(&v.directives),
                            arguments: Vec::new(),
                        })
                        .collect(),
                    Vec::new(),
                ),
                TypeDefinition::Union(u) => (Kind::Union, Vec::new(), u.types.clone()),
                TypeDefinition::Scalar(_) => (Kind::Scalar, Vec::new(), Vec::new()),
            };
            let info = TypeInfo {
                kind,
                hidden: hides(patch::type_directives(t)),
                included: includes(patch::type_directives(t)),
                members,
                refs,
            };
            types.insert(name.to_owned(), info);
        }
        if !declared_roots {
            roots.others = ["Mutation", "Subscription"]
                .into_iter()
                .filter(|name| types.contains_key(*name))
                .map(str::to_owned)
                .collect();
        }
        Index { types, roots }
    }

    /// The elements hidden before anything is propagated: `@inaccessible` or excluded by tag,
    /// and, with `only_included`, every object and interface field neither it nor its type
    /// is tagged to include.
    fn initially_hidden(&self, only_included: bool) -> BTreeSet<Element> {
        let mut hidden = BTreeSet::new();
        for (name, t) in &self.types {
            if t.hidden {
                hidden.insert(Element::Type(name.clone()));
            }
            let composite = matches!(t.kind, Kind::Object | Kind::Interface);
            for m in &t.members {
                let left_out = only_included && composite && !t.included && !m.included;
                if m.hidden || left_out {
                    hidden.insert(member(t.kind, name, &m.name));
                }
                for a in m.arguments.iter().filter(|a| a.hidden) {
                    hidden.insert(Element::Argument(
                        name.clone(),
                        m.name.clone(),
                        a.name.clone(),
                    ));
                }
            }
        }
        hidden
    }

    /// Whether a named type is hidden; built-in scalars and unknown names are not.
    fn is_hidden_type(&self, hidden: &BTreeSet<Element>, name: &str) -> bool {
        hidden.contains(&Element::Type(name.to_owned()))
    }

    /// Hides what the hidden elements force, until nothing changes.
    fn propagate(&self, hidden: &mut BTreeSet<Element>) {
        loop {
            let mut more = Vec::new();
            for (name, t) in &self.types {
                if self.is_hidden_type(hidden, name) {
                    continue;
                }
                let visible = |m: &Member| !hidden.contains(&member(t.kind, name, &m.name));
                match t.kind {
                    Kind::Object | Kind::Interface => {
                        for f in t.members.iter().filter(|f| visible(f)) {
                            let field = Element::Field(name.clone(), f.name.clone());
                            if self.is_hidden_type(hidden, &f.ty) {
                                more.push(field.clone());
                            }
                            for a in &f.arguments {
                                let argument =
                                    Element::Argument(name.clone(), f.name.clone(), a.name.clone());
                                let gone = hidden.contains(&argument);
                                if a.required && (gone || self.is_hidden_type(hidden, &a.ty)) {
                                    more.push(field.clone());
                                } else if !gone && self.is_hidden_type(hidden, &a.ty) {
                                    more.push(argument);
                                }
                            }
                        }
                        // An interface field that a visible implementation hides.
                        for interface in &t.refs {
                            let Some(i) = self.types.get(interface) else {
                                continue;
                            };
                            if self.is_hidden_type(hidden, interface) {
                                continue;
                            }
                            for f in &i.members {
                                let own = Element::Field(name.clone(), f.name.clone());
                                let theirs = Element::Field(interface.clone(), f.name.clone());
                                if hidden.contains(&own) && !hidden.contains(&theirs) {
                                    more.push(theirs);
                                }
                            }
                        }
                        if !t.members.iter().any(visible) {
                            more.push(Element::Type(name.clone()));
                        }
                    }
                    Kind::InputObject => {
                        for f in &t.members {
                            let field = Element::Field(name.clone(), f.name.clone());
                            let gone = hidden.contains(&field);
                            let type_gone = self.is_hidden_type(hidden, &f.ty);
                            if f.required && (gone || type_gone) {
                                more.push(Element::Type(name.clone()));
                            } else if !gone && type_gone {
                                more.push(field);
                            }
                        }
                        if !t.members.iter().any(visible) {
                            more.push(Element::Type(name.clone()));
                        }
                    }
                    Kind::Enum => {
                        if !t.members.iter().any(visible) {
                            more.push(Element::Type(name.clone()));
                        }
                    }
                    Kind::Union => {
                        if t.refs.iter().all(|m| self.is_hidden_type(hidden, m)) {
                            more.push(Element::Type(name.clone()));
                        }
                    }
                    Kind::Scalar => {}
                }
            }
            let before = hidden.len();
            hidden.extend(more);
            if hidden.len() == before {
                return;
            }
        }
    }

    /// The visible types no visible element leads to from the root types.
    fn unreachable(&self, hidden: &BTreeSet<Element>) -> Vec<String> {
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut queue: Vec<&str> = std::iter::once(&self.roots.query)
            .chain(&self.roots.others)
            .map(String::as_str)
            .collect();
        while let Some(name) = queue.pop() {
            if self.is_hidden_type(hidden, name) || !reached.insert(name) {
                continue;
            }
            let Some(t) = self.types.get(name) else {
                continue;
            };
            for m in &t.members {
                if hidden.contains(&member(t.kind, name, &m.name)) {
                    continue;
                }
                queue.push(&m.ty);
                for a in &m.arguments {
                    let argument =
                        Element::Argument(name.to_owned(), m.name.clone(), a.name.clone());
                    if !hidden.contains(&argument) {
                        queue.push(&a.ty);
                    }
                }
            }
            queue.extend(t.refs.iter().map(String::as_str));
            if t.kind == Kind::Interface {
                // The implementations of a reachable interface are reachable through it.
                queue.extend(
                    self.types
                        .iter()
                        .filter(|(_, o)| o.refs.iter().any(|r| r == name) && o.kind != Kind::Union)
                        .map(|(n, _)| n.as_str()),
                );
            }
        }
        self.types
            .keys()
            .filter(|name| !reached.contains(name.as_str()) && !self.is_hidden_type(hidden, name))
            .cloned()
            .collect()
    }
}

/// The element naming a member of a type of this kind.
fn member(kind: Kind, type_name: &str, name: &str) -> Element {
    if kind == Kind::Enum {
        Element::Value(type_name.to_owned(), name.to_owned())
    } else {
        Element::Field(type_name.to_owned(), name.to_owned())
    }
}

fn named<'t>(ty: &'t Type<'static, String>) -> &'t str {
    match ty {
        Type::NamedType(name) => name,
        Type::ListType(inner) | Type::NonNullType(inner) => named(inner),
    }
}

/// Puts `@inaccessible` on every hidden element whose parent is visible, and drops the
/// mutation and subscription roots that are hidden from the schema definition.
fn mark(document: &mut Document, index: &Index, hidden: &BTreeSet<Element>) {
    let hide = |directives: &mut Vec<Directive>, element: Element| {
        if hidden.contains(&element) && !directives.iter().any(|d| d.name == "inaccessible") {
            directives.push(patch::directive("inaccessible", Vec::new()));
        }
    };
    for definition in &mut document.definitions {
        match definition {
            Definition::SchemaDefinition(schema) => {
                for root in [&mut schema.mutation, &mut schema.subscription] {
                    if root
                        .as_deref()
                        .is_some_and(|name| index.is_hidden_type(hidden, name))
                    {
                        *root = None;
                    }
                }
            }
            Definition::TypeDefinition(t) => {
                let name = patch::type_name(t).to_owned();
                if index.is_hidden_type(hidden, &name) {
                    hide(patch::type_directives_mut(t), Element::Type(name));
                    continue;
                }
                let field = |f: &str| Element::Field(name.clone(), f.to_owned());
                match t {
                    TypeDefinition::Object(o) => {
                        for f in &mut o.fields {
                            mark_field(f, &name, hidden, &hide);
                        }
                    }
                    TypeDefinition::Interface(i) => {
                        for f in &mut i.fields {
                            mark_field(f, &name, hidden, &hide);
                        }
                    }
                    TypeDefinition::InputObject(i) => {
                        for f in &mut i.fields {
                            hide(&mut f.directives, field(&f.name));
                        }
                    }
                    TypeDefinition::Enum(e) => {
                        for v in &mut e.values {
                            hide(
                                &mut v.directives,
                                Element::Value(name.clone(), v.name.clone()),
                            );
                        }
                    }
                    TypeDefinition::Union(_) | TypeDefinition::Scalar(_) => {}
                }
            }
            _ => {}
        }
    }
}

fn mark_field(
    f: &mut graphql_tools::parser::schema::Field<'static, String>,
    type_name: &str,
    hidden: &BTreeSet<Element>,
    hide: &impl Fn(&mut Vec<Directive>, Element),
) {
    let element = Element::Field(type_name.to_owned(), f.name.clone());
    if hidden.contains(&element) {
        hide(&mut f.directives, element);
        return;
    }
    for a in &mut f.arguments {
        let argument = Element::Argument(type_name.to_owned(), f.name.clone(), a.name.clone());
        hide(&mut a.directives, argument);
    }
}
