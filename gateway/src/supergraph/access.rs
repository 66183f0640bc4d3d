//! Access rules the supergraph declares: `@authenticated`, `@requiresScopes` and `@policy` on
//! fields and types, read once when a supergraph loads. `prepare/authorization.rs` checks a
//! caller against them; this module only says what each coordinate requires.

use std::collections::HashMap;

use graphql_tools::static_graphql::schema::{
    Definition, Directive, Document, TypeDefinition, Value,
};

/// What one field or type requires of its caller; every part must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// `@authenticated`: a verified token.
    pub authenticated: bool,
    /// `@requiresScopes`: one of these sets of scopes, each set held in full (outer OR,
    /// inner AND). Several directives on one coordinate all apply.
    pub scopes: Vec<Vec<Vec<String>>>,
    /// `@policy`: one of these sets of policies, each set satisfied in full, same shape.
    pub policies: Vec<Vec<Vec<String>>>,
}

impl Rule {
    /// Whether the rule asks nothing.
    pub fn is_open(&self) -> bool {
        !self.authenticated && self.scopes.is_empty() && self.policies.is_empty()
    }

    /// This rule and `other`, both required.
    pub fn and(&mut self, other: &Rule) {
        self.authenticated |= other.authenticated;
        self.scopes.extend(other.scopes.iter().cloned());
        self.policies.extend(other.policies.iter().cloned());
    }
}

/// The directive names the supergraph uses for each rule (a `@link` may rename them).
struct Names {
    authenticated: String,
    requires_scopes: String,
    policy: String,
}

/// The access rules of one supergraph, by type and by field coordinate.
#[derive(Debug, Default)]
pub struct Access {
    types: HashMap<String, Rule>,
    fields: HashMap<String, HashMap<String, Rule>>,
}

impl Access {
    /// Reads the rules applied in a supergraph document.
    pub fn read(document: &Document) -> Access {
        let names = names(document);
        let mut access = Access::default();
        for definition in &document.definitions {
            let Definition::TypeDefinition(definition) = definition else {
                continue;
            };
            let (name, directives, fields) = match definition {
                TypeDefinition::Object(object) => {
                    (&object.name, &object.directives, Some(&object.fields))
                }
                TypeDefinition::Interface(interface) => (
                    &interface.name,
                    &interface.directives,
                    Some(&interface.fields),
                ),
                TypeDefinition::Scalar(scalar) => (&scalar.name, &scalar.directives, None),
                TypeDefinition::Enum(enumeration) => {
                    (&enumeration.name, &enumeration.directives, None)
                }
                TypeDefinition::Union(_) | TypeDefinition::InputObject(_) => continue,
            };
            let rule = rule_of(directives, &names);
            if !rule.is_open() {
                access.types.insert(name.clone(), rule);
            }
            for field in fields.into_iter().flatten() {
                let rule = rule_of(&field.directives, &names);
                if !rule.is_open() {
                    access
                        .fields
                        .entry(name.clone())
                        .or_default()
                        .insert(field.name.clone(), rule);
                }
            }
        }
        access
    }

    /// Whether the supergraph declares no rule at all (then nothing is checked per request).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty()
    }

    /// The rule on a type itself, if any.
    pub fn type_rule(&self, type_name: &str) -> Option<&Rule> {
        self.types.get(type_name)
    }

    /// The rule on the field `type_name.field`, if any.
    pub fn field_rule(&self, type_name: &str, field: &str) -> Option<&Rule> {
        self.fields
            .get(type_name)
            .and_then(|fields| fields.get(field))
    }
}

/// The local names of the three directives: from `@link(url: …/<spec>/vX, as: …)` when the
/// supergraph renames them, else their spec names.
fn names(document: &Document) -> Names {
    let mut names = Names {
        authenticated: "authenticated".to_owned(),
        requires_scopes: "requiresScopes".to_owned(),
        policy: "policy".to_owned(),
    };
    for definition in &document.definitions {
        let Definition::SchemaDefinition(schema) = definition else {
            continue;
        };
        let directives = &schema.directives;
        for link in directives.iter().filter(|d| d.name == "link") {
            let (mut url, mut alias) = (None, None);
            for (name, value) in &link.arguments {
                match (name.as_str(), value) {
                    ("url", Value::String(s)) => url = Some(s.as_str()),
                    ("as", Value::String(s)) => alias = Some(s.clone()),
                    _ => {}
                }
            }
            let (Some(url), Some(alias)) = (url, alias) else {
                continue;
            };
            if url.contains("/authenticated/") {
                names.authenticated = alias;
            } else if url.contains("/requiresScopes/") {
                names.requires_scopes = alias;
            } else if url.contains("/policy/") {
                names.policy = alias;
            }
        }
    }
    names
}

fn rule_of(directives: &[Directive], names: &Names) -> Rule {
    let mut rule = Rule::default();
    for directive in directives {
        if directive.name == names.authenticated {
            rule.authenticated = true;
        } else if directive.name == names.requires_scopes {
            rule.scopes.push(nested_strings(directive, "scopes"));
        } else if directive.name == names.policy {
            rule.policies.push(nested_strings(directive, "policies"));
        }
    }
    rule
}

/// A `[[String!]!]!` argument; an argument of another shape reads as no alternatives, which
/// nobody satisfies (a malformed rule denies rather than allows).
fn nested_strings(directive: &Directive, argument: &str) -> Vec<Vec<String>> {
    let Some((_, Value::List(outer))) = directive.arguments.iter().find(|(n, _)| n == argument)
    else {
        return Vec::new();
    };
    outer
        .iter()
        .filter_map(|inner| match inner {
            Value::List(items) => Some(
                items
                    .iter()
                    .filter_map(|item| match item {
                        Value::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            Value::String(single) => Some(vec![single.clone()]),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn read(sdl: &str) -> Access {
        let document = graphql_tools::parser::parse_schema::<String>(sdl)
            .expect("valid SDL")
            .into_static();
        Access::read(&document)
    }

    #[test]
    fn reads_field_and_type_rules_with_renamed_links() {
        let access = read(
            r#"
            schema @link(url: "https://specs.apollo.dev/authenticated/v0.1", as: "auth") { query: Query }
            type Query {
              me: User @auth
              admin: String @requiresScopes(scopes: [["admin"], ["staff", "read"]])
              open: String
              billing: String @policy(policies: [["finance"]]) @auth
            }
            type User @requiresScopes(scopes: [["user"]]) { id: ID! }
            "#,
        );
        assert!(
            access
                .field_rule("Query", "me")
                .expect("rule")
                .authenticated
        );
        assert_eq!(
            access.field_rule("Query", "admin").expect("rule").scopes,
            vec![vec![
                vec!["admin".to_owned()],
                vec!["staff".to_owned(), "read".to_owned()]
            ]]
        );
        assert!(access.field_rule("Query", "open").is_none());
        let billing = access.field_rule("Query", "billing").expect("rule");
        assert!(billing.authenticated);
        assert_eq!(billing.policies, vec![vec![vec!["finance".to_owned()]]]);
        assert_eq!(
            access.type_rule("User").expect("rule").scopes,
            vec![vec![vec!["user".to_owned()]]]
        );
    }

    #[test]
    fn a_supergraph_without_rules_is_empty() {
        assert!(read("type Query { a: String }").is_empty());
    }
}
