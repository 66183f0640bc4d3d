//! The specs a supergraph links, declared as Apollo's composer declares them: `@link` v1.0,
//! join v0.3 (v0.4 when progressive override labels are used), and inaccessible, tag,
//! authenticated, requiresScopes and policy when the supergraph applies them.

use graphql_tools::parser::schema::{Definition, TypeDefinition};

use super::{Directive, Document, Value, directive, string_arg, type_directives, type_name};

/// The link and join definitions; `{join_field_extra}` is where v0.4 adds `overrideLabel`.
const CORE: &str = r#"
directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean{join_field_extra}) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY
  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}
"#;

/// What join v0.4 adds to v0.3.
const JOIN_V04: &str = r#"
directive @join__directive(graphs: [join__Graph!], name: String!, args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION
scalar join__DirectiveArguments
"#;

/// A spec linked when its directive is applied somewhere in the supergraph.
struct Feature {
    directive: &'static str,
    url: &'static str,
    purpose: Option<&'static str>,
    definitions: &'static str,
}

const FEATURES: &[Feature] = &[
    Feature {
        directive: "inaccessible",
        url: "https://specs.apollo.dev/inaccessible/v0.2",
        purpose: Some("SECURITY"),
        definitions: "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION",
    },
    Feature {
        directive: "tag",
        url: "https://specs.apollo.dev/tag/v0.3",
        purpose: None,
        definitions: "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA",
    },
    Feature {
        directive: "authenticated",
        url: "https://specs.apollo.dev/authenticated/v0.1",
        purpose: Some("SECURITY"),
        definitions: "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    },
    Feature {
        directive: "requiresScopes",
        url: "https://specs.apollo.dev/requiresScopes/v0.1",
        purpose: Some("SECURITY"),
        definitions: "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\nscalar requiresScopes__Scope",
    },
    Feature {
        directive: "policy",
        url: "https://specs.apollo.dev/policy/v0.1",
        purpose: Some("SECURITY"),
        definitions: "directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\nscalar policy__Policy",
    },
];

/// Replaces the spec part of the document (links, definitions) with Apollo's.
pub(super) fn apply(document: &mut Document) {
    let applied = applied_directives(document);
    let labelled = uses_override_labels(document);
    let features: Vec<&Feature> = FEATURES
        .iter()
        .filter(|f| applied.iter().any(|name| name == f.directive))
        .collect();

    // Definitions: drop every spec definition composition wrote, then add Apollo's.
    let replaced: Vec<String> = spec_definition_names(&features, labelled);
    document.definitions.retain(|d| match d {
        Definition::DirectiveDefinition(d) => {
            !d.name.starts_with("join__") && d.name != "link" && !replaced.contains(&d.name)
        }
        Definition::TypeDefinition(t) => {
            let name = type_name(t);
            name == "join__Graph" || !replaced.iter().any(|r| r == name)
        }
        _ => true,
    });
    let join_field_extra = if labelled {
        ", overrideLabel: String"
    } else {
        ""
    };
    let mut sdl = CORE.replace("{join_field_extra}", join_field_extra);
    if labelled {
        sdl.push_str(JOIN_V04);
    }
    for feature in &features {
        sdl.push('\n');
        sdl.push_str(feature.definitions);
    }
    if let Ok(parsed) = graphql_tools::parser::parse_schema::<String>(&sdl) {
        document
            .definitions
            .extend(parsed.into_static().definitions);
    }

    // Links on the schema definition: link, join, then the features in use; links composition
    // adds for composed directives are kept after those.
    let join_url = if labelled {
        "https://specs.apollo.dev/join/v0.4"
    } else {
        "https://specs.apollo.dev/join/v0.3"
    };
    let mut links = vec![
        link("https://specs.apollo.dev/link/v1.0", None),
        link(join_url, Some("EXECUTION")),
    ];
    links.extend(features.iter().map(|f| link(f.url, f.purpose)));
    for definition in &mut document.definitions {
        if let Definition::SchemaDefinition(schema) = definition {
            let others: Vec<Directive> = schema
                .directives
                .drain(..)
                .filter(|d| d.name != "link" || !is_spec_link(d))
                .collect();
            schema.directives = links.clone();
            schema.directives.extend(others);
        }
    }
}

fn link(url: &str, purpose: Option<&str>) -> Directive {
    let mut args = vec![("url", Value::String(url.to_owned()))];
    if let Some(purpose) = purpose {
        args.push(("for", Value::Enum(purpose.to_owned())));
    }
    directive("link", args)
}

/// Whether a `@link` is one this module writes itself.
fn is_spec_link(d: &Directive) -> bool {
    string_arg(d, "url").is_some_and(|url| {
        url.starts_with("https://specs.apollo.dev/link/")
            || url.starts_with("https://specs.apollo.dev/join/")
            || FEATURES.iter().any(|f| {
                let spec = f.url.rsplit_once('/').map_or(f.url, |(spec, _)| spec);
                url.starts_with(spec)
            })
    })
}

/// The names of directives and types this module defines, for the features in use.
fn spec_definition_names(features: &[&Feature], labelled: bool) -> Vec<String> {
    let mut names: Vec<String> = vec![
        "join__FieldSet".to_owned(),
        "link__Import".to_owned(),
        "link__Purpose".to_owned(),
    ];
    if labelled {
        names.push("join__DirectiveArguments".to_owned());
    }
    for feature in FEATURES {
        names.push(feature.directive.to_owned());
        if features.iter().any(|f| f.directive == feature.directive) {
            for line in feature.definitions.lines() {
                if let Some(scalar) = line.strip_prefix("scalar ") {
                    names.push(scalar.trim().to_owned());
                }
            }
        }
    }
    names
}

/// Every directive name applied anywhere in the document (types, fields, arguments, values).
fn applied_directives(document: &Document) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut note = |directives: &[Directive]| {
        for d in directives {
            if !names.contains(&d.name) {
                names.push(d.name.clone());
            }
        }
    };
    for definition in &document.definitions {
        match definition {
            Definition::SchemaDefinition(s) => note(&s.directives),
            Definition::TypeDefinition(t) => {
                note(type_directives(t));
                match t {
                    TypeDefinition::Object(o) => o.fields.iter().for_each(|f| {
                        note(&f.directives);
                        f.arguments.iter().for_each(|a| note(&a.directives));
                    }),
                    TypeDefinition::Interface(i) => i.fields.iter().for_each(|f| {
                        note(&f.directives);
                        f.arguments.iter().for_each(|a| note(&a.directives));
                    }),
                    TypeDefinition::InputObject(i) => {
                        i.fields.iter().for_each(|f| note(&f.directives))
                    }
                    TypeDefinition::Enum(e) => e.values.iter().for_each(|v| note(&v.directives)),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    names
}

/// Whether any `@join__field` carries a progressive override label (join v0.4).
fn uses_override_labels(document: &Document) -> bool {
    document.definitions.iter().any(|d| {
        let fields = match d {
            Definition::TypeDefinition(TypeDefinition::Object(o)) => &o.fields,
            Definition::TypeDefinition(TypeDefinition::Interface(i)) => &i.fields,
            _ => return false,
        };
        fields.iter().any(|f| {
            f.directives.iter().any(|d| {
                d.name == "join__field" && d.arguments.iter().any(|(n, _)| n == "overrideLabel")
            })
        })
    })
}
