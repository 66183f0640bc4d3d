//! The API schema: what clients see of the supergraph, indexed for the lookups the request
//! path makes (field types, possible types, enum values, input fields).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use graphql_tools::static_graphql::schema::{
    Definition, Document, Field, InputValue, Type, TypeDefinition,
};

/// The kind of a named type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// A leaf other than an enum.
    Scalar,
    /// An object type.
    Object,
    /// An interface.
    Interface,
    /// A union.
    Union,
    /// An enum.
    Enum,
    /// An input object.
    InputObject,
}

/// The client-facing schema, indexed.
pub struct ApiSchema {
    document: Arc<Document>,
    types: HashMap<String, usize>,
    possible: HashMap<String, HashSet<String>>,
    query: String,
    mutation: Option<String>,
    subscription: Option<String>,
}

impl ApiSchema {
    /// Indexes an API schema document (no federation machinery left in it).
    pub fn new(document: Arc<Document>) -> ApiSchema {
        let mut types = HashMap::new();
        for (index, definition) in document.definitions.iter().enumerate() {
            if let Definition::TypeDefinition(def) = definition {
                types.insert(type_name(def).to_owned(), index);
            }
        }
        // A contract can hide a type that a union or an object's `implements` still names;
        // possible types only ever list types clients can see.
        let mut possible: HashMap<String, HashSet<String>> = HashMap::new();
        let mut roots = (None, None, None);
        for definition in &document.definitions {
            match definition {
                Definition::TypeDefinition(def) => match def {
                    TypeDefinition::Object(object) => {
                        possible
                            .entry(object.name.clone())
                            .or_default()
                            .insert(object.name.clone());
                        for interface in &object.implements_interfaces {
                            if !types.contains_key(interface) {
                                continue;
                            }
                            possible
                                .entry(interface.clone())
                                .or_default()
                                .insert(object.name.clone());
                        }
                    }
                    TypeDefinition::Union(union) => {
                        let members = possible.entry(union.name.clone()).or_default();
                        members.extend(
                            union
                                .types
                                .iter()
                                .filter(|t| types.contains_key(*t))
                                .cloned(),
                        );
                    }
                    _ => {}
                },
                Definition::SchemaDefinition(schema) => {
                    roots = (
                        schema.query.clone(),
                        schema.mutation.clone(),
                        schema.subscription.clone(),
                    );
                }
                _ => {}
            }
        }
        let has = |name: &str| types.contains_key(name).then(|| name.to_owned());
        let query = roots
            .0
            .or_else(|| has("Query"))
            .unwrap_or_else(|| "Query".to_owned());
        let mutation = roots.1.or_else(|| has("Mutation"));
        let subscription = roots.2.or_else(|| has("Subscription"));
        ApiSchema {
            document,
            types,
            possible,
            query,
            mutation,
            subscription,
        }
    }

    /// The schema document, for validation and introspection.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The query root type's name.
    pub fn query_type(&self) -> &str {
        &self.query
    }

    /// The mutation root type's name, if the schema has one.
    pub fn mutation_type(&self) -> Option<&str> {
        self.mutation.as_deref()
    }

    /// The subscription root type's name, if the schema has one.
    pub fn subscription_type(&self) -> Option<&str> {
        self.subscription.as_deref()
    }

    /// The root type an operation of `operation_type` starts at.
    pub fn root_type(&self, operation_type: crate::request::OperationType) -> &str {
        use crate::request::OperationType;
        match operation_type {
            OperationType::Query => self.query_type(),
            OperationType::Mutation => self.mutation_type().unwrap_or("Mutation"),
            OperationType::Subscription => self.subscription_type().unwrap_or("Subscription"),
        }
    }

    /// The definition of a named type.
    pub fn type_def(&self, name: &str) -> Option<&TypeDefinition> {
        let index = *self.types.get(name)?;
        match self.document.definitions.get(index)? {
            Definition::TypeDefinition(def) => Some(def),
            _ => None,
        }
    }

    /// Every named type, in document order.
    pub fn type_defs(&self) -> impl Iterator<Item = &TypeDefinition> {
        self.document.definitions.iter().filter_map(|d| match d {
            Definition::TypeDefinition(def) => Some(def),
            _ => None,
        })
    }

    /// The kind of a named type, or `None` when the API schema has no such type.
    pub fn type_kind(&self, name: &str) -> Option<TypeKind> {
        if is_builtin_scalar(name) {
            return Some(TypeKind::Scalar);
        }
        Some(match self.type_def(name)? {
            TypeDefinition::Scalar(_) => TypeKind::Scalar,
            TypeDefinition::Object(_) => TypeKind::Object,
            TypeDefinition::Interface(_) => TypeKind::Interface,
            TypeDefinition::Union(_) => TypeKind::Union,
            TypeDefinition::Enum(_) => TypeKind::Enum,
            TypeDefinition::InputObject(_) => TypeKind::InputObject,
        })
    }

    /// A field of an object or interface type.
    pub fn field(&self, parent: &str, field: &str) -> Option<&Field> {
        let fields = match self.type_def(parent)? {
            TypeDefinition::Object(object) => &object.fields,
            TypeDefinition::Interface(interface) => &interface.fields,
            _ => return None,
        };
        fields.iter().find(|f| f.name == field)
    }

    /// Whether an object of type `object` may appear where `abstract_or_object` is expected.
    pub fn is_possible_type(&self, abstract_or_object: &str, object: &str) -> bool {
        abstract_or_object == object
            || self
                .possible
                .get(abstract_or_object)
                .is_some_and(|set| set.contains(object))
    }

    /// The object types that may appear where `name` is expected, sorted.
    pub fn possible_types(&self, name: &str) -> Vec<&str> {
        let mut types: Vec<&str> = self
            .possible
            .get(name)
            .map(|set| set.iter().map(String::as_str).collect())
            .unwrap_or_default();
        types.sort_unstable();
        types
    }

    /// Whether enum `name` has the (client-visible) value `value`.
    pub fn enum_has_value(&self, name: &str, value: &str) -> bool {
        match self.type_def(name) {
            Some(TypeDefinition::Enum(e)) => e.values.iter().any(|v| v.name == value),
            _ => false,
        }
    }

    /// The fields of input object `name`.
    pub fn input_fields(&self, name: &str) -> Option<&[InputValue]> {
        match self.type_def(name)? {
            TypeDefinition::InputObject(input) => Some(&input.fields),
            _ => None,
        }
    }
}

/// The name of a type definition.
pub fn type_name(def: &TypeDefinition) -> &str {
    match def {
        TypeDefinition::Scalar(t) => &t.name,
        TypeDefinition::Object(t) => &t.name,
        TypeDefinition::Interface(t) => &t.name,
        TypeDefinition::Union(t) => &t.name,
        TypeDefinition::Enum(t) => &t.name,
        TypeDefinition::InputObject(t) => &t.name,
    }
}

/// The named type at the bottom of a wrapped type (`[Foo!]!` → `Foo`).
pub fn named_type(ty: &Type) -> &str {
    match ty {
        Type::NamedType(name) => name,
        Type::ListType(inner) | Type::NonNullType(inner) => named_type(inner),
    }
}

/// Whether `name` is one of GraphQL's built-in scalars.
pub fn is_builtin_scalar(name: &str) -> bool {
    matches!(name, "String" | "Int" | "Float" | "Boolean" | "ID")
}
