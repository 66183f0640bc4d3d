//! Changes between two versions of a client's API schema, each classified by what it does to
//! clients built against the old version: **breaking** when an operation that was valid may
//! now fail validation or receive data its code does not expect, **safe** otherwise.
//!
//! Written over `graphql-tools`' parser rather than with `graphql-schema-diff`: that crate
//! lists changes without classifying them, and the classification needs both documents
//! (old and new types, input or output position, defaults) anyway.
//!
//! Paths are schema coordinates: `Product`, `Product.description`,
//! `Query.products(first:)`, `OrderStatus.SHIPPED`, `@cached`, `@cached(ttl:)`; union
//! members and implemented interfaces are changes of the type's path.

use std::collections::BTreeMap;
use std::fmt;

use graphql_tools::parser::schema::{
    Definition, DirectiveDefinition, EnumValue, Field, InputValue, Type, TypeDefinition, Value,
};

use crate::patch::{self, Directive, Document};

/// What a change does to existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// An operation valid against the old schema may fail, or get data its code cannot read.
    Breaking,
    /// Existing operations keep working and keep getting what they expect.
    Safe,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Breaking => "breaking",
            Severity::Safe => "safe",
        })
    }
}

/// One change between two schema versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// Breaking or safe.
    pub severity: Severity,
    /// The schema coordinate it is about (`Product.description`).
    pub path: String,
    /// What changed, in a few words.
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<8} {}: {}", self.severity, self.path, self.message)
    }
}

/// A schema version that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the {which} schema is not valid SDL: {message}")]
pub struct DiffError {
    /// `old` or `new`.
    pub which: &'static str,
    /// The parser's message.
    pub message: String,
}

/// The changes from `old` to `new`, breaking ones first, then by path.
pub fn diff(old: &str, new: &str) -> Result<Vec<Change>, DiffError> {
    let parse = |which: &'static str, sdl: &str| {
        graphql_tools::parser::parse_schema::<String>(sdl)
            .map(|d| d.into_static())
            .map_err(|error| DiffError {
                which,
                message: error.to_string(),
            })
    };
    let (old, new) = (parse("old", old)?, parse("new", new)?);
    let mut changes = Changes::default();
    changes.schemas(&Schema::of(&old), &Schema::of(&new));
    let mut list = changes.0;
    list.sort();
    list.dedup();
    Ok(list)
}

/// Whether any change is breaking.
pub fn has_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.severity == Severity::Breaking)
}

/// A schema's definitions by name.
struct Schema<'d> {
    types: BTreeMap<&'d str, &'d TypeDefinition<'static, String>>,
    directives: BTreeMap<&'d str, &'d DirectiveDefinition<'static, String>>,
    roots: [(&'static str, Option<String>); 3],
}

impl<'d> Schema<'d> {
    fn of(document: &'d Document) -> Self {
        let mut types = BTreeMap::new();
        let mut directives = BTreeMap::new();
        let mut declared = None;
        for definition in &document.definitions {
            match definition {
                Definition::TypeDefinition(t) => {
                    types.insert(patch::type_name(t), t);
                }
                Definition::DirectiveDefinition(d) => {
                    directives.insert(d.name.as_str(), d);
                }
                Definition::SchemaDefinition(s) => declared = Some(s),
                Definition::TypeExtension(_) => {}
            }
        }
        let root = |declared: Option<&String>, default: &str| {
            declared
                .cloned()
                .or_else(|| types.contains_key(default).then(|| default.to_owned()))
        };
        let roots = [
            (
                "query",
                root(declared.and_then(|s| s.query.as_ref()), "Query"),
            ),
            (
                "mutation",
                root(declared.and_then(|s| s.mutation.as_ref()), "Mutation"),
            ),
            (
                "subscription",
                root(
                    declared.and_then(|s| s.subscription.as_ref()),
                    "Subscription",
                ),
            ),
        ];
        Schema {
            types,
            directives,
            roots,
        }
    }
}

#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn breaking(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Breaking, path, message);
    }

    fn safe(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Safe, path, message);
    }

    fn push(&mut self, severity: Severity, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Change {
            severity,
            path: path.into(),
            message: message.into(),
        });
    }

    fn schemas(&mut self, old: &Schema<'_>, new: &Schema<'_>) {
        for ((operation, before), (_, after)) in old.roots.iter().zip(&new.roots) {
            let path = format!("schema.{operation}");
            match (before, after) {
                (Some(b), Some(a)) if b != a => {
                    self.breaking(path, format!("root type changed from `{b}` to `{a}`"));
                }
                (Some(b), None) => self.breaking(path, format!("root type `{b}` removed")),
                (None, Some(a)) => self.safe(path, format!("root type `{a}` added")),
                _ => {}
            }
        }
        for (name, before) in &old.types {
            match new.types.get(name) {
                None => self.breaking(*name, format!("{} removed", kind(before))),
                Some(after) => self.types(name, before, after),
            }
        }
        for (name, after) in &new.types {
            if !old.types.contains_key(name) {
                self.safe(*name, format!("{} added", kind(after)));
            }
        }
        for (name, before) in &old.directives {
            let path = format!("@{name}");
            match new.directives.get(name) {
                None => self.breaking(path, "directive removed"),
                Some(after) => self.directive(&path, before, after),
            }
        }
        for name in new.directives.keys() {
            if !old.directives.contains_key(name) {
                self.safe(format!("@{name}"), "directive added");
            }
        }
    }

    fn types(
        &mut self,
        name: &str,
        before: &TypeDefinition<'static, String>,
        after: &TypeDefinition<'static, String>,
    ) {
        if kind(before) != kind(after) {
            self.breaking(
                name,
                format!("changed from {} to {}", kind(before), kind(after)),
            );
            return;
        }
        self.description(name, description(before), description(after));
        match (before, after) {
            (TypeDefinition::Object(b), TypeDefinition::Object(a)) => {
                self.implements(name, &b.implements_interfaces, &a.implements_interfaces);
                self.fields(name, &b.fields, &a.fields);
            }
            (TypeDefinition::Interface(b), TypeDefinition::Interface(a)) => {
                self.implements(name, &b.implements_interfaces, &a.implements_interfaces);
                self.fields(name, &b.fields, &a.fields);
            }
            (TypeDefinition::Union(b), TypeDefinition::Union(a)) => {
                for member in b.types.iter().filter(|m| !a.types.contains(m)) {
                    self.breaking(name, format!("member `{member}` removed"));
                }
                for member in a.types.iter().filter(|m| !b.types.contains(m)) {
                    self.safe(
                        name,
                        format!("member `{member}` added (clients must expect new members)"),
                    );
                }
            }
            (TypeDefinition::Enum(b), TypeDefinition::Enum(a)) => {
                self.enum_values(name, &b.values, &a.values);
            }
            (TypeDefinition::InputObject(b), TypeDefinition::InputObject(a)) => {
                self.input_fields(name, &b.fields, &a.fields);
            }
            _ => {}
        }
    }

    fn implements(&mut self, name: &str, before: &[String], after: &[String]) {
        for interface in before.iter().filter(|i| !after.contains(i)) {
            self.breaking(name, format!("no longer implements `{interface}`"));
        }
        for interface in after.iter().filter(|i| !before.contains(i)) {
            self.safe(name, format!("implements `{interface}`"));
        }
    }

    fn fields(
        &mut self,
        type_name: &str,
        before: &[Field<'static, String>],
        after: &[Field<'static, String>],
    ) {
        for b in before {
            let path = format!("{type_name}.{}", b.name);
            let Some(a) = after.iter().find(|a| a.name == b.name) else {
                let was = if deprecation(&b.directives).is_some() {
                    " (it was deprecated)"
                } else {
                    ""
                };
                self.breaking(path, format!("field removed, was `{}`{was}", b.field_type));
                continue;
            };
            if b.field_type != a.field_type {
                let message = format!("type changed from `{}` to `{}`", b.field_type, a.field_type);
                if output_compatible(&b.field_type, &a.field_type) {
                    self.safe(path.clone(), message);
                } else {
                    self.breaking(path.clone(), message);
                }
            }
            self.description(&path, b.description.as_deref(), a.description.as_deref());
            self.deprecation(&path, &b.directives, &a.directives);
            self.arguments(&path, &b.arguments, &a.arguments);
        }
        for a in after
            .iter()
            .filter(|a| !before.iter().any(|b| b.name == a.name))
        {
            self.safe(
                format!("{type_name}.{}", a.name),
                format!("field added: `{}`", a.field_type),
            );
        }
    }

    /// Arguments of a field or directive at `owner` (`Query.products`, `@cached`).
    fn arguments(
        &mut self,
        owner: &str,
        before: &[InputValue<'static, String>],
        after: &[InputValue<'static, String>],
    ) {
        for b in before {
            let path = format!("{owner}({}:)", b.name);
            match after.iter().find(|a| a.name == b.name) {
                None => self.breaking(path, "argument removed"),
                Some(a) => self.input_value(&path, "argument", b, a),
            }
        }
        for a in after
            .iter()
            .filter(|a| !before.iter().any(|b| b.name == a.name))
        {
            let path = format!("{owner}({}:)", a.name);
            self.added_input(path, "argument", a);
        }
    }

    fn input_fields(
        &mut self,
        type_name: &str,
        before: &[InputValue<'static, String>],
        after: &[InputValue<'static, String>],
    ) {
        for b in before {
            let path = format!("{type_name}.{}", b.name);
            match after.iter().find(|a| a.name == b.name) {
                None => self.breaking(path, "input field removed"),
                Some(a) => self.input_value(&path, "input field", b, a),
            }
        }
        for a in after
            .iter()
            .filter(|a| !before.iter().any(|b| b.name == a.name))
        {
            self.added_input(format!("{type_name}.{}", a.name), "input field", a);
        }
    }

    fn added_input(&mut self, path: String, what: &str, added: &InputValue<'static, String>) {
        let ty = &added.value_type;
        if matches!(ty, Type::NonNullType(_)) && added.default_value.is_none() {
            self.breaking(path, format!("required {what} added: `{ty}`"));
        } else {
            self.safe(path, format!("optional {what} added: `{ty}`"));
        }
    }

    /// An argument or input field present in both versions.
    fn input_value(
        &mut self,
        path: &str,
        what: &str,
        before: &InputValue<'static, String>,
        after: &InputValue<'static, String>,
    ) {
        let (b, a) = (&before.value_type, &after.value_type);
        if b != a {
            let message = format!("{what} type changed from `{b}` to `{a}`");
            // Strict even when a default is added: a client may send an explicit null.
            if input_compatible(b, a) {
                self.safe(path, message);
            } else {
                self.breaking(path, message);
            }
        }
        match (&before.default_value, &after.default_value) {
            (Some(b), Some(a)) if b != a => {
                self.safe(path, format!("default changed from `{b}` to `{a}`"));
            }
            (Some(b), None) => {
                if matches!(a, Type::NonNullType(_)) {
                    self.breaking(
                        path,
                        format!("default `{b}` removed from a required {what}"),
                    );
                } else {
                    self.safe(path, format!("default `{b}` removed"));
                }
            }
            (None, Some(a)) => self.safe(path, format!("default `{a}` added")),
            _ => {}
        }
        self.description(
            path,
            before.description.as_deref(),
            after.description.as_deref(),
        );
        self.deprecation(path, &before.directives, &after.directives);
    }

    fn enum_values(
        &mut self,
        type_name: &str,
        before: &[EnumValue<'static, String>],
        after: &[EnumValue<'static, String>],
    ) {
        for b in before {
            let path = format!("{type_name}.{}", b.name);
            match after.iter().find(|a| a.name == b.name) {
                None => self.breaking(path, "enum value removed"),
                Some(a) => {
                    self.description(&path, b.description.as_deref(), a.description.as_deref());
                    self.deprecation(&path, &b.directives, &a.directives);
                }
            }
        }
        for a in after
            .iter()
            .filter(|a| !before.iter().any(|b| b.name == a.name))
        {
            self.safe(
                format!("{type_name}.{}", a.name),
                "enum value added (clients must expect values they do not know)",
            );
        }
    }

    fn directive(
        &mut self,
        path: &str,
        before: &DirectiveDefinition<'static, String>,
        after: &DirectiveDefinition<'static, String>,
    ) {
        for location in &before.locations {
            if !after.locations.contains(location) {
                self.breaking(path, format!("location {} removed", location.as_str()));
            }
        }
        for location in &after.locations {
            if !before.locations.contains(location) {
                self.safe(path, format!("location {} added", location.as_str()));
            }
        }
        if before.repeatable && !after.repeatable {
            self.breaking(path, "no longer repeatable");
        }
        self.arguments(path, &before.arguments, &after.arguments);
    }

    fn description(&mut self, path: &str, before: Option<&str>, after: Option<&str>) {
        if before != after {
            let message = match (before, after) {
                (None, _) => "description added",
                (_, None) => "description removed",
                _ => "description changed",
            };
            self.safe(path, message);
        }
    }

    fn deprecation(&mut self, path: &str, before: &[Directive], after: &[Directive]) {
        match (deprecation(before), deprecation(after)) {
            (None, Some(reason)) => self.safe(path, format!("deprecated: {reason}")),
            (Some(_), None) => self.safe(path, "no longer deprecated"),
            (Some(b), Some(a)) if b != a => {
                self.safe(path, format!("deprecation reason changed: {a}"));
            }
            _ => {}
        }
    }
}

/// Whether a field's new type still gives old clients what they expect: the same named type
/// and list shape, non-null where it was non-null (a nullable field may become non-null).
fn output_compatible(before: &Type<'static, String>, after: &Type<'static, String>) -> bool {
    match (before, after) {
        (Type::NonNullType(b), Type::NonNullType(a)) => output_compatible(b, a),
        (Type::NonNullType(_), _) => false,
        (_, Type::NonNullType(a)) => output_compatible(before, a),
        (Type::ListType(b), Type::ListType(a)) => output_compatible(b, a),
        (Type::NamedType(b), Type::NamedType(a)) => b == a,
        _ => false,
    }
}

/// Whether every value old clients send for an argument or input field is still accepted: the
/// same named type and list shape, nullable where it was nullable (a non-null input may become
/// nullable).
fn input_compatible(before: &Type<'static, String>, after: &Type<'static, String>) -> bool {
    match (before, after) {
        (Type::NonNullType(b), Type::NonNullType(a)) => input_compatible(b, a),
        (Type::NonNullType(b), _) => input_compatible(b, after),
        (_, Type::NonNullType(_)) => false,
        (Type::ListType(b), Type::ListType(a)) => input_compatible(b, a),
        (Type::NamedType(b), Type::NamedType(a)) => b == a,
        _ => false,
    }
}

/// `@deprecated`'s reason, when the directive is there.
fn deprecation(directives: &[Directive]) -> Option<String> {
    let d = directives.iter().find(|d| d.name == "deprecated")?;
    Some(match patch::arg(d, "reason") {
        Some(Value::String(reason)) => reason.clone(),
        _ => "No longer supported".to_owned(),
    })
}

fn kind(t: &TypeDefinition<'static, String>) -> &'static str {
    match t {
        TypeDefinition::Scalar(_) => "scalar",
        TypeDefinition::Object(_) => "object type",
        TypeDefinition::Interface(_) => "interface",
        TypeDefinition::Union(_) => "union",
        TypeDefinition::Enum(_) => "enum",
        TypeDefinition::InputObject(_) => "input type",
    }
}

fn description<'t>(t: &'t TypeDefinition<'static, String>) -> Option<&'t str> {
    match t {
        TypeDefinition::Scalar(t) => t.description.as_deref(),
        TypeDefinition::Object(t) => t.description.as_deref(),
        TypeDefinition::Interface(t) => t.description.as_deref(),
        TypeDefinition::Union(t) => t.description.as_deref(),
        TypeDefinition::Enum(t) => t.description.as_deref(),
        TypeDefinition::InputObject(t) => t.description.as_deref(),
    }
}
