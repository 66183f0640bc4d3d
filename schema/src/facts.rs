//! What each subgraph's SDL says that composition's output lost: read with `cynic-parser`, the
//! parser `graphql-composition` itself reads subgraphs with, so both see the same document.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cynic_parser::type_system::{Definition, Directive, TypeDefinition};

use crate::fieldset::{self, Selection};

/// The federation directives a subgraph may apply, by their canonical names.
const FEDERATION_DIRECTIVES: &[&str] = &[
    "key",
    "external",
    "requires",
    "provides",
    "extends",
    "shareable",
    "inaccessible",
    "override",
    "interfaceObject",
    "tag",
    "composeDirective",
    "authenticated",
    "requiresScopes",
    "policy",
    "context",
    "fromContext",
    "cost",
    "listSize",
];

/// The kind of a named type, as a subgraph declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
    Scalar,
}

/// One `@key` of an entity in one subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    /// The field set, in [`fieldset::canonical`] form.
    pub(crate) fields: String,
    /// `@key(resolvable: false)` makes it `false`.
    pub(crate) resolvable: bool,
    /// Declared on a type marked `@extends`, or on `extend type` in a federation 2 subgraph
    /// (Apollo turns a federation 1 subgraph's extensions into definitions).
    pub(crate) extension: bool,
    /// Declared on `extend type` or `@extends` in either federation version: its `@external`
    /// fields are resolvable all the same.
    on_extension: bool,
}

/// A field (or enum value, or input field) of a type in one subgraph.
#[derive(Debug, Clone)]
pub(crate) struct FieldFacts {
    pub(crate) name: String,
    /// The field's type as written (`[Int!]`); empty for enum values.
    pub(crate) ty: String,
    /// External in the sense of the join spec: `@external` on the field or its type, except
    /// the key fields of a type extension, which federation 1 had to mark `@external` and which
    /// Apollo's composer treats as resolvable.
    pub(crate) external: bool,
    /// `@shareable` on the field or on its type.
    pub(crate) shareable: bool,
    /// The `@provides(fields:)` selection, when there is one.
    pub(crate) provides: Option<String>,
    /// The `@requires(fields:)` selection, when there is one.
    requires: Option<String>,
    /// Argument names in declaration order.
    pub(crate) arguments: Vec<String>,
    /// Argument types as written, in the same order.
    pub(crate) argument_types: Vec<String>,
    /// `@inaccessible` on the field (or enum value).
    pub(crate) inaccessible: bool,
    /// The subgraph named by `@override(from:)`, which no longer resolves the field.
    pub(crate) overrides: Option<String>,
    /// The line of the SDL it is declared on, from 1.
    pub(crate) line: usize,
    /// `@external` written on the field itself, before the key-field exception above.
    marked_external: bool,
}

/// A named type as one subgraph declares it, its definition and extensions merged.
#[derive(Debug, Clone)]
pub(crate) struct TypeFacts {
    pub(crate) kind: Kind,
    pub(crate) keys: Vec<Key>,
    /// An object type marked `@interfaceObject`: an interface in the supergraph.
    pub(crate) interface_object: bool,
    /// Fields, enum values or input fields, in declaration order.
    pub(crate) fields: Vec<FieldFacts>,
    /// The interfaces an object or interface implements here.
    pub(crate) implements: Vec<String>,
    /// A union's members here.
    pub(crate) members: Vec<String>,
    /// The line of the SDL its first definition or extension starts on, from 1.
    pub(crate) line: usize,
    external_type: bool,
    /// `@shareable` on the type (any of its definitions here).
    pub(crate) shareable_type: bool,
    extends: bool,
}

impl TypeFacts {
    /// The field of that name, if this subgraph declares it.
    pub(crate) fn field(&self, name: &str) -> Option<&FieldFacts> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// Everything the patches need to know about one subgraph.
#[derive(Debug, Clone)]
pub(crate) struct SubgraphFacts {
    /// The subgraph's name, as given to composition.
    pub(crate) name: String,
    /// Types by their supergraph name (renamed root types under `Query`, `Mutation`, ...).
    pub(crate) types: BTreeMap<String, TypeFacts>,
    /// Whether it links the federation 2 spec; in a federation 1 subgraph every field is
    /// shareable.
    pub(crate) fed2: bool,
    /// Fields this subgraph needs even when another subgraph overrides them: selected by a
    /// key, `@requires` or `@provides`, or implementing an interface field.
    used: BTreeSet<(String, String)>,
    /// How this subgraph spells the federation directives.
    names: DirectiveNames,
}

impl SubgraphFacts {
    /// Reads a subgraph's SDL; `None` when it does not parse (composition reports that).
    pub(crate) fn read(name: &str, sdl: &str) -> Option<Self> {
        let document = cynic_parser::parse_type_system_document(sdl).ok()?;
        let names = DirectiveNames::of(&document);
        let fed2 = names.linked;
        let roots = root_names(&document);
        let lines = Lines::of(sdl);
        let mut types: BTreeMap<String, TypeFacts> = BTreeMap::new();
        for definition in document.definitions() {
            let (ty, is_extension) = match definition {
                Definition::Type(ty) => (ty, false),
                Definition::TypeExtension(ty) => (ty, true),
                _ => continue,
            };
            let local = ty.name();
            let name = roots
                .get(local)
                .cloned()
                .unwrap_or_else(|| local.to_owned());
            let facts = types.entry(name).or_insert_with(|| TypeFacts {
                kind: kind_of(&ty),
                keys: Vec::new(),
                interface_object: false,
                fields: Vec::new(),
                implements: Vec::new(),
                members: Vec::new(),
                line: lines.at(ty.span().start),
                external_type: false,
                shareable_type: false,
                extends: false,
            });
            absorb(facts, &ty, is_extension, fed2, &names, &lines);
        }
        let mut facts = SubgraphFacts {
            name: name.to_owned(),
            types,
            fed2,
            used: BTreeSet::new(),
            names,
        };
        facts.settle_externals();
        facts.used = facts.used_fields();
        Some(facts)
    }

    /// How this subgraph writes the federation directive `canonical` (`key`): its imported
    /// name, or the namespaced one (`federation__key`) when it does not import it.
    pub(crate) fn directive(&self, canonical: &str) -> String {
        if !self.names.linked {
            return canonical.to_owned();
        }
        let imported = self
            .names
            .imports
            .iter()
            .find(|(_, original)| original.as_str() == canonical);
        match imported {
            Some((local, _)) => local.clone(),
            None => format!("{}__{canonical}", self.names.namespace),
        }
    }

    /// The canonical federation name of a directive as this subgraph applies it (`key` for
    /// `@federation__key`), or `None` for directives of other specs.
    pub(crate) fn canonical_directive<'n>(&'n self, local: &'n str) -> Option<&'n str> {
        self.names.canonical(local)
    }

    /// Whether the subgraph needs `type_name.field` itself (see [`SubgraphFacts::used`]).
    pub(crate) fn uses(&self, type_name: &str, field: &str) -> bool {
        self.used
            .contains(&(type_name.to_owned(), field.to_owned()))
    }

    fn used_fields(&self) -> BTreeSet<(String, String)> {
        let mut used = BTreeSet::new();
        let select = |type_name: &str, fields: &str, used: &mut BTreeSet<_>| {
            if let Some(selections) = fieldset::parse(fields) {
                self.collect_targets(type_name, &selections, used);
            }
        };
        for (name, ty) in &self.types {
            for key in &ty.keys {
                select(name, &key.fields, &mut used);
            }
            for field in &ty.fields {
                if let Some(requires) = &field.requires {
                    select(name, requires, &mut used);
                }
                if let Some(provides) = &field.provides {
                    select(named_type(&field.ty), provides, &mut used);
                }
            }
            for interface in ty.implements.iter().filter_map(|i| self.types.get(i)) {
                for field in &interface.fields {
                    if ty.field(&field.name).is_some() {
                        used.insert((name.clone(), field.name.clone()));
                    }
                }
            }
        }
        used
    }

    /// Applies type-level `@external`/`@shareable` to fields and the key-field exception.
    fn settle_externals(&mut self) {
        for ty in self.types.values_mut() {
            let extends = ty.extends;
            for key in &mut ty.keys {
                key.extension |= extends;
                key.on_extension |= extends;
            }
        }
        let mut fake = BTreeSet::new();
        for (name, ty) in &self.types {
            for key in &ty.keys {
                if key.on_extension
                    && let Some(selections) = fieldset::parse(&key.fields)
                {
                    self.collect_targets(name, &selections, &mut fake);
                }
            }
        }
        for (type_name, ty) in &mut self.types {
            let (external_type, shareable_type) = (ty.external_type, ty.shareable_type);
            for field in &mut ty.fields {
                let is_fake = fake.contains(&(type_name.clone(), field.name.clone()));
                field.external = (field.marked_external && !is_fake) || external_type;
                field.shareable |= shareable_type;
            }
        }
    }

    /// Collects the coordinates a field set selects on `type_name`, following field types.
    pub(crate) fn collect_targets(
        &self,
        type_name: &str,
        selections: &[Selection],
        out: &mut BTreeSet<(String, String)>,
    ) {
        for selection in selections {
            match selection {
                Selection::Field { name, children } => {
                    out.insert((type_name.to_owned(), name.clone()));
                    let field_type = self
                        .types
                        .get(type_name)
                        .and_then(|ty| ty.field(name))
                        .map(|field| named_type(&field.ty).to_owned());
                    if let (Some(field_type), false) = (field_type, children.is_empty()) {
                        self.collect_targets(&field_type, children, out);
                    }
                }
                Selection::Fragment { on, children } => {
                    let on = on.as_deref().unwrap_or(type_name);
                    self.collect_targets(on, children, out);
                }
            }
        }
    }
}

/// The named type inside a type reference: `Int` for `[Int!]!`.
pub(crate) fn named_type(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

fn kind_of(ty: &TypeDefinition<'_>) -> Kind {
    match ty {
        TypeDefinition::Scalar(_) => Kind::Scalar,
        TypeDefinition::Object(_) => Kind::Object,
        TypeDefinition::Interface(_) => Kind::Interface,
        TypeDefinition::Union(_) => Kind::Union,
        TypeDefinition::Enum(_) => Kind::Enum,
        TypeDefinition::InputObject(_) => Kind::InputObject,
    }
}

/// Merges one definition or extension of a type into what is known about it.
fn absorb(
    facts: &mut TypeFacts,
    ty: &TypeDefinition<'_>,
    is_extension: bool,
    fed2: bool,
    names: &DirectiveNames,
    lines: &Lines,
) {
    let directives: Vec<(&str, Directive<'_>)> = ty
        .directives()
        .filter_map(|d| names.canonical(d.name()).map(|name| (name, d)))
        .collect();
    let marked = directives.iter().any(|(name, _)| *name == "extends");
    facts.extends |= marked;
    for (name, directive) in &directives {
        match *name {
            "key" => {
                let fields = string_argument(directive, "fields").unwrap_or_default();
                let resolvable = directive
                    .arguments()
                    .find(|a| a.name() == "resolvable")
                    .and_then(|a| a.value().as_bool())
                    .unwrap_or(true);
                facts.keys.push(Key {
                    fields: fieldset::canonical(&fields),
                    resolvable,
                    extension: marked || (is_extension && fed2),
                    on_extension: marked || is_extension,
                });
            }
            "interfaceObject" => facts.interface_object = true,
            "external" => facts.external_type = true,
            "shareable" => facts.shareable_type = true,
            _ => {}
        }
    }
    let mut push = |name: &str,
                    ty: String,
                    arguments: Vec<(String, String)>,
                    directives: Vec<Directive<'_>>,
                    at: usize| {
        let has = |wanted: &str| {
            directives
                .iter()
                .any(|d| names.canonical(d.name()) == Some(wanted))
        };
        let selection = |wanted: &str| {
            directives
                .iter()
                .find(|d| names.canonical(d.name()) == Some(wanted))
                .and_then(|d| string_argument(d, "fields"))
        };
        let (provides, requires) = (selection("provides"), selection("requires"));
        let overrides = directives
            .iter()
            .find(|d| names.canonical(d.name()) == Some("override"))
            .and_then(|d| string_argument(d, "from"));
        let (arguments, argument_types) = arguments.into_iter().unzip();
        facts.fields.push(FieldFacts {
            name: name.to_owned(),
            ty,
            external: false,
            shareable: has("shareable"),
            provides,
            requires,
            arguments,
            argument_types,
            inaccessible: has("inaccessible"),
            overrides,
            line: lines.at(at),
            marked_external: has("external"),
        });
    };
    match ty {
        TypeDefinition::Object(object) => {
            facts
                .implements
                .extend(object.implements_interfaces().map(str::to_owned));
            for field in object.fields() {
                push(
                    field.name(),
                    field.ty().to_string(),
                    arguments_of(field.arguments()),
                    field.directives().collect(),
                    field.name_span().start,
                );
            }
        }
        TypeDefinition::Interface(interface) => {
            facts
                .implements
                .extend(interface.implements_interfaces().map(str::to_owned));
            for field in interface.fields() {
                push(
                    field.name(),
                    field.ty().to_string(),
                    arguments_of(field.arguments()),
                    field.directives().collect(),
                    field.name_span().start,
                );
            }
        }
        TypeDefinition::InputObject(input) => {
            for field in input.fields() {
                push(
                    field.name(),
                    field.ty().to_string(),
                    Vec::new(),
                    field.directives().collect(),
                    field.name_span().start,
                );
            }
        }
        TypeDefinition::Enum(enumeration) => {
            for value in enumeration.values() {
                push(
                    value.value(),
                    String::new(),
                    Vec::new(),
                    value.directives().collect(),
                    value.value_span().start,
                );
            }
        }
        TypeDefinition::Union(union) => {
            facts
                .members
                .extend(union.members().map(|m| m.name().to_owned()));
        }
        TypeDefinition::Scalar(_) => {}
    }
}

fn arguments_of<'a>(
    arguments: impl Iterator<Item = cynic_parser::type_system::InputValueDefinition<'a>>,
) -> Vec<(String, String)> {
    arguments
        .map(|a| (a.name().to_owned(), a.ty().to_string()))
        .collect()
}

/// Byte offsets to line numbers.
pub(crate) struct Lines(Vec<usize>);

impl Lines {
    /// The offsets at which the lines of `text` end.
    pub(crate) fn of(text: &str) -> Self {
        Lines(text.match_indices('\n').map(|(at, _)| at).collect())
    }

    /// The line (from 1) of a byte offset.
    pub(crate) fn at(&self, offset: usize) -> usize {
        self.0.partition_point(|&end| end < offset) + 1
    }
}

fn string_argument(directive: &Directive<'_>, name: &str) -> Option<String> {
    directive
        .arguments()
        .find(|a| a.name() == name)
        .and_then(|a| a.value().as_str().map(str::to_owned))
}

/// Maps a subgraph's root type names (`schema { query: RootQuery }`) to `Query`, `Mutation`
/// and `Subscription`, the names they take in the supergraph.
pub(crate) fn root_names(document: &cynic_parser::TypeSystemDocument) -> HashMap<String, String> {
    let mut roots = HashMap::new();
    for definition in document.definitions() {
        let schema = match definition {
            Definition::Schema(schema) | Definition::SchemaExtension(schema) => schema,
            _ => continue,
        };
        for root in schema.root_operations() {
            let supergraph_name = match root.operation_type() {
                cynic_parser::common::OperationType::Query => "Query",
                cynic_parser::common::OperationType::Mutation => "Mutation",
                cynic_parser::common::OperationType::Subscription => "Subscription",
            };
            roots.insert(root.named_type().to_owned(), supergraph_name.to_owned());
        }
    }
    roots
}

/// How a subgraph spells the federation directives: imported (maybe renamed) through
/// `@link(url: ".../federation/v2.x", import: [...])`, namespaced (`@federation__key`), or bare
/// in a federation 1 subgraph without `@link`.
#[derive(Debug, Clone)]
struct DirectiveNames {
    imports: HashMap<String, String>,
    namespace: String,
    /// Whether the subgraph links the federation 2 spec.
    linked: bool,
}

impl DirectiveNames {
    fn of(document: &cynic_parser::TypeSystemDocument) -> Self {
        let mut names = DirectiveNames {
            imports: HashMap::new(),
            namespace: "federation".to_owned(),
            linked: false,
        };
        let schemas = document.definitions().filter_map(|d| match d {
            Definition::Schema(s) | Definition::SchemaExtension(s) => Some(s),
            _ => None,
        });
        for link in schemas
            .flat_map(|s| s.directives())
            .filter(|d| d.name() == "link")
        {
            let url = string_argument(&link, "url").unwrap_or_default();
            if !url.contains("specs.apollo.dev/federation/") {
                continue;
            }
            names.linked = true;
            if let Some(namespace) = string_argument(&link, "as") {
                names.namespace = namespace;
            }
            let imports = link.arguments().find(|a| a.name() == "import");
            for item in imports
                .iter()
                .filter_map(|a| a.value().as_items())
                .flatten()
            {
                let (original, local) = match (item.as_str(), item.as_object()) {
                    (Some(name), _) => (name.to_owned(), name.to_owned()),
                    (None, Some(object)) => {
                        let Some(original) = object.get("name").and_then(|v| v.as_str()) else {
                            continue;
                        };
                        let local = object
                            .get("as")
                            .and_then(|v| v.as_str())
                            .unwrap_or(original);
                        (original.to_owned(), local.to_owned())
                    }
                    (None, None) => continue,
                };
                if let (Some(original), Some(local)) =
                    (original.strip_prefix('@'), local.strip_prefix('@'))
                {
                    names.imports.insert(local.to_owned(), original.to_owned());
                }
            }
        }
        names
    }

    /// The canonical federation name of an applied directive, or `None` for other directives.
    fn canonical<'n>(&'n self, local: &'n str) -> Option<&'n str> {
        if let Some(original) = self.imports.get(local) {
            return Some(original);
        }
        let name = local
            .strip_prefix(self.namespace.as_str())
            .and_then(|rest| rest.strip_prefix("__"))
            .unwrap_or(local);
        FEDERATION_DIRECTIVES.contains(&name).then_some(name)
    }
}
