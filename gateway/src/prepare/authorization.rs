//! Directive-based authorization: the supergraph's `@authenticated`, `@requiresScopes` and
//! `@policy`, checked against the verified caller before anything is planned or fetched.
//!
//! Once per prepared operation, [`guards`] lists the field selections a rule covers (a field's
//! own rule, its return type's rule, and the rule of a fragment's type it sits in). Per
//! request, [`Policies::denied`] checks the caller against them: usually nothing is denied and
//! the cached plan runs as it is. Otherwise [`prune`] removes the denied selections, the
//! pruned operation is planned (and cached per set of denials), and the response still has
//! the client's shape: a denied field answers null with an `UNAUTHORIZED_FIELD_OR_TYPE` error
//! at its path, and the rest of the operation answers.

use std::collections::HashMap;

use serde_json::Value;

use crate::config::{AuthorizationConfig, PolicyRule};
use crate::error::{Code, GraphqlError, PathSegment};
use crate::request::Claims;
use crate::supergraph::access::{Access, Rule};
use crate::supergraph::api::{ApiSchema, TypeKind, named_type};
use crate::supergraph::planner::{
    FieldSelection, InlineFragmentSelection, Operation, SelectionItem, SelectionSet,
};

/// One field selection a rule covers.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Item indices from the root selection set down to the field.
    at: Box<[u32]>,
    /// Response keys from the root to the field: the path of its error (list items are not
    /// numbered, the error stands for the field wherever it occurs).
    path: Box<[String]>,
    /// Every rule that applies to it.
    rule: Rule,
}

/// Lists the guarded field selections of a normalized operation rooted at `root`; empty when
/// the supergraph declares no rule.
pub fn guards(api: &ApiSchema, access: &Access, root: &str, set: &SelectionSet) -> Vec<Guard> {
    let mut out = Vec::new();
    if !access.is_empty() {
        let mut walk = Walk {
            api,
            access,
            at: Vec::new(),
            path: Vec::new(),
            out: &mut out,
        };
        walk.set(root, set, None);
    }
    out
}

struct Walk<'a> {
    api: &'a ApiSchema,
    access: &'a Access,
    at: Vec<u32>,
    path: Vec<String>,
    out: &'a mut Vec<Guard>,
}

impl Walk<'_> {
    fn set(&mut self, parent: &str, set: &SelectionSet, inherited: Option<&Rule>) {
        for (index, item) in set.items.iter().enumerate() {
            self.at.push(u32::try_from(index).unwrap_or(u32::MAX));
            match item {
                SelectionItem::Field(field) => self.field(parent, field, inherited),
                SelectionItem::InlineFragment(fragment) => {
                    // A fragment on a guarded type guards each field it selects.
                    let rule = (fragment.type_condition != parent)
                        .then(|| self.access.type_rule(&fragment.type_condition))
                        .flatten();
                    let combined = match (inherited, rule) {
                        (Some(a), Some(b)) => {
                            let mut both = a.clone();
                            both.and(b);
                            Some(both)
                        }
                        (a, b) => a.or(b).cloned(),
                    };
                    self.set(
                        &fragment.type_condition,
                        &fragment.selections,
                        combined.as_ref(),
                    );
                }
                SelectionItem::FragmentSpread(_) => {}
            }
            self.at.pop();
        }
    }

    fn field(&mut self, parent: &str, field: &FieldSelection, inherited: Option<&Rule>) {
        if field.name.starts_with("__") {
            return;
        }
        let Some(definition) = self.api.field(parent, &field.name) else {
            return;
        };
        let returns = named_type(&definition.field_type);
        let mut rule = inherited.cloned().unwrap_or_default();
        if let Some(own) = self.access.field_rule(parent, &field.name) {
            rule.and(own);
        }
        // A field read through an interface needs what every implementation's field needs:
        // the caller may get any of them.
        if self.api.type_kind(parent) == Some(TypeKind::Interface) {
            for object in self.api.possible_types(parent) {
                if let Some(implementation) = self.access.field_rule(object, &field.name) {
                    rule.and(implementation);
                }
            }
        }
        if let Some(of_type) = self.access.type_rule(returns) {
            rule.and(of_type);
        }
        self.path
            .push(field.alias.clone().unwrap_or_else(|| field.name.clone()));
        if !rule.is_open() {
            self.out.push(Guard {
                at: self.at.clone().into_boxed_slice(),
                path: self.path.clone().into_boxed_slice(),
                rule,
            });
        }
        if !field.selections.items.is_empty() {
            self.set(returns, &field.selections, None);
        }
        self.path.pop();
    }
}

/// The `@policy` definitions, from `[authorization] policies`.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    rules: HashMap<String, PolicyRule>,
}

impl Policies {
    /// The policies configured for an engine.
    pub fn new(config: &AuthorizationConfig) -> Policies {
        Policies {
            rules: config.policies.clone(),
        }
    }

    /// The guards `claims` does not pass, by index, leaving out those under an already denied
    /// field (they are pruned with it). Sorted, so equal denials give equal cache keys.
    pub fn denied(&self, guards: &[Guard], claims: Option<&Claims>) -> Vec<usize> {
        let mut denied: Vec<usize> = Vec::new();
        for (index, guard) in guards.iter().enumerate() {
            let covered = denied.iter().any(|&d| guard.at.starts_with(&guards[d].at));
            if !covered && !self.allows(&guard.rule, claims) {
                denied.push(index);
            }
        }
        denied
    }

    /// Whether `claims` satisfies every part of `rule`.
    pub fn allows(&self, rule: &Rule, claims: Option<&Claims>) -> bool {
        let Some(claims) = claims else {
            return rule.is_open();
        };
        let scopes = rule.scopes.iter().all(|alternatives| {
            alternatives
                .iter()
                .any(|set| set.iter().all(|scope| claims.has_scope(scope)))
        });
        let policies = rule.policies.iter().all(|alternatives| {
            alternatives
                .iter()
                .any(|set| set.iter().all(|policy| self.holds(policy, claims)))
        });
        scopes && policies
    }

    fn holds(&self, policy: &str, claims: &Claims) -> bool {
        let Some(rule) = self.rules.get(policy) else {
            return false;
        };
        let accepted = |value: &Value| {
            value
                .as_str()
                .is_some_and(|v| rule.values.iter().any(|accepted| accepted == v))
        };
        match claims.payload.get(&rule.claim) {
            Some(Value::Array(items)) => items.iter().any(accepted),
            Some(value) => accepted(value),
            None => false,
        }
    }
}

/// The errors for the denied guards: one per field, at its path.
pub fn errors(guards: &[Guard], denied: &[usize]) -> Vec<GraphqlError> {
    denied
        .iter()
        .filter_map(|&index| guards.get(index))
        .map(|guard| {
            let path: Vec<PathSegment> = guard.path.iter().cloned().map(PathSegment::Key).collect();
            let field = guard.path.join(".");
            GraphqlError::new(
                Code::UnauthorizedFieldOrType,
                format!("not authorized to read `{field}`"),
            )
            .with_path(path)
        })
        .collect()
}

/// `operation` without the denied guards' selections. A selection left empty asks for
/// `__typename` instead, so the pruned operation stays valid; the caller checks whether the
/// root selection is left empty (then nothing is fetched at all).
pub fn prune(operation: &Operation, guards: &[Guard], denied: &[usize]) -> Operation {
    let paths: Vec<&[u32]> = denied
        .iter()
        .filter_map(|&index| guards.get(index))
        .map(|guard| &guard.at[..])
        .collect();
    let mut pruned = operation.clone();
    pruned.selection_set = prune_set(&operation.selection_set, &paths, 0);
    pruned
}

fn prune_set(set: &SelectionSet, denied: &[&[u32]], depth: usize) -> SelectionSet {
    let mut items = Vec::with_capacity(set.items.len());
    for (index, item) in set.items.iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let below: Vec<&[u32]> = denied
            .iter()
            .copied()
            .filter(|path| path.get(depth) == Some(&index))
            .collect();
        if below.is_empty() {
            items.push(item.clone());
            continue;
        }
        if below.iter().any(|path| path.len() == depth + 1) {
            continue;
        }
        match item {
            SelectionItem::Field(field) => {
                let mut kept = field.clone();
                kept.selections = prune_set(&field.selections, &below, depth + 1);
                if kept.selections.items.is_empty() {
                    kept.selections.items.push(typename());
                }
                items.push(SelectionItem::Field(kept));
            }
            SelectionItem::InlineFragment(fragment) => {
                let selections = prune_set(&fragment.selections, &below, depth + 1);
                if !selections.items.is_empty() {
                    items.push(SelectionItem::InlineFragment(InlineFragmentSelection {
                        type_condition: fragment.type_condition.clone(),
                        selections,
                        skip_if: fragment.skip_if.clone(),
                        include_if: fragment.include_if.clone(),
                    }));
                }
            }
            SelectionItem::FragmentSpread(_) => items.push(item.clone()),
        }
    }
    SelectionSet { items }
}

fn typename() -> SelectionItem {
    SelectionItem::Field(FieldSelection {
        name: "__typename".to_owned(),
        selections: SelectionSet::default(),
        alias: None,
        arguments: None,
        skip_if: None,
        include_if: None,
        omit_from_response: false,
    })
}

/// The addresses of the denied field selections in `operation` (the client's, unpruned
/// operation held by a prepared operation): the response writer answers null for them.
pub fn denied_fields(operation: &Operation, guards: &[Guard], denied: &[usize]) -> Vec<usize> {
    denied
        .iter()
        .filter_map(|&index| guards.get(index))
        .filter_map(|guard| field_at(&operation.selection_set, &guard.at))
        .map(|field| std::ptr::from_ref(field) as usize)
        .collect()
}

fn field_at<'o>(set: &'o SelectionSet, at: &[u32]) -> Option<&'o FieldSelection> {
    let (&first, rest) = at.split_first()?;
    let item = set.items.get(usize::try_from(first).ok()?)?;
    match (item, rest.is_empty()) {
        (SelectionItem::Field(field), true) => Some(field),
        (SelectionItem::Field(field), false) => field_at(&field.selections, rest),
        (SelectionItem::InlineFragment(fragment), false) => field_at(&fragment.selections, rest),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn rule(authenticated: bool, scopes: &[&[&str]]) -> Rule {
        Rule {
            authenticated,
            scopes: if scopes.is_empty() {
                Vec::new()
            } else {
                vec![
                    scopes
                        .iter()
                        .map(|set| set.iter().map(|s| (*s).to_owned()).collect())
                        .collect(),
                ]
            },
            policies: Vec::new(),
        }
    }

    fn claims(scopes: &[&str], payload: Value) -> Claims {
        Claims {
            subject: "7".to_owned(),
            issuer: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            payload: payload.as_object().cloned().unwrap_or_else(Map::new),
        }
    }

    #[test]
    fn a_field_read_through_an_interface_needs_what_each_implementation_needs() {
        let document = graphql_tools::parser::parse_schema::<String>(
            r#"
            type Query { publication: Publication }
            interface Publication { title: String }
            type Novel implements Publication { title: String }
            type Draft implements Publication { title: String @requiresScopes(scopes: [["editor"]]) }
            "#,
        )
        .unwrap()
        .into_static();
        let access = Access::read(&document);
        let api = ApiSchema::new(std::sync::Arc::new(document));
        let field = |name: &str, items: Vec<SelectionItem>| {
            SelectionItem::Field(FieldSelection {
                name: name.to_owned(),
                selections: SelectionSet { items },
                alias: None,
                arguments: None,
                skip_if: None,
                include_if: None,
                omit_from_response: false,
            })
        };
        let set = SelectionSet {
            items: vec![field("publication", vec![field("title", vec![])])],
        };
        let guards = guards(&api, &access, "Query", &set);
        assert_eq!(guards.len(), 1);
        assert_eq!(&guards[0].path[..], ["publication", "title"]);
        assert_eq!(guards[0].rule.scopes, vec![vec![vec!["editor".to_owned()]]]);
    }

    #[test]
    fn scopes_are_any_of_all_of() {
        let policies = Policies::default();
        let admin_or_staff_reader = rule(false, &[&["admin"], &["staff", "read"]]);
        let check = |scopes: &[&str]| {
            policies.allows(&admin_or_staff_reader, Some(&claims(scopes, json!({}))))
        };
        assert!(check(&["admin"]));
        assert!(check(&["read", "staff"]));
        assert!(!check(&["staff"]));
        assert!(!check(&[]));
        assert!(!policies.allows(&admin_or_staff_reader, None));
    }

    #[test]
    fn authenticated_needs_claims_only() {
        let policies = Policies::default();
        assert!(policies.allows(&rule(true, &[]), Some(&claims(&[], json!({})))));
        assert!(!policies.allows(&rule(true, &[]), None));
        assert!(policies.allows(&Rule::default(), None));
    }

    #[test]
    fn policies_match_a_claim_value_or_list_and_unknown_ones_deny() {
        let mut config = AuthorizationConfig::default();
        config.policies.insert(
            "staff".to_owned(),
            PolicyRule {
                claim: "role".to_owned(),
                values: vec!["staff".to_owned(), "admin".to_owned()],
            },
        );
        let policies = Policies::new(&config);
        let staff = Rule {
            policies: vec![vec![vec!["staff".to_owned()]]],
            ..Rule::default()
        };
        let undefined = Rule {
            policies: vec![vec![vec!["finance".to_owned()]]],
            ..Rule::default()
        };
        let allows =
            |rule: &Rule, payload: Value| policies.allows(rule, Some(&claims(&[], payload)));
        assert!(allows(&staff, json!({"role": "admin"})));
        assert!(allows(&staff, json!({"role": ["user", "staff"]})));
        assert!(!allows(&staff, json!({"role": "user"})));
        assert!(!allows(&staff, json!({})));
        assert!(!allows(&undefined, json!({"role": "admin"})));
    }

    #[test]
    fn a_denied_field_hides_the_guards_below_it_and_pruning_keeps_a_valid_selection() {
        let guards = vec![
            Guard {
                at: vec![0].into_boxed_slice(),
                path: vec!["me".to_owned()].into_boxed_slice(),
                rule: rule(true, &[]),
            },
            Guard {
                at: vec![0, 1].into_boxed_slice(),
                path: vec!["me".to_owned(), "email".to_owned()].into_boxed_slice(),
                rule: rule(false, &[&["email"]]),
            },
            Guard {
                at: vec![1, 0].into_boxed_slice(),
                path: vec!["book".to_owned(), "cost".to_owned()].into_boxed_slice(),
                rule: rule(false, &[&["admin"]]),
            },
        ];
        let policies = Policies::default();
        assert_eq!(policies.denied(&guards, None), vec![0, 2]);
        let signed_in = claims(&["user"], json!({}));
        assert_eq!(policies.denied(&guards, Some(&signed_in)), vec![1, 2]);

        let field = |name: &str, items: Vec<SelectionItem>| {
            SelectionItem::Field(FieldSelection {
                name: name.to_owned(),
                selections: SelectionSet { items },
                alias: None,
                arguments: None,
                skip_if: None,
                include_if: None,
                omit_from_response: false,
            })
        };
        let operation = Operation {
            name: None,
            operation_kind: None,
            selection_set: SelectionSet {
                items: vec![
                    field("me", vec![field("name", vec![]), field("email", vec![])]),
                    field("book", vec![field("cost", vec![])]),
                ],
            },
            variable_definitions: None,
        };
        let pruned = prune(&operation, &guards, &[1, 2]);
        let names = |set: &SelectionSet| -> Vec<String> {
            set.items
                .iter()
                .map(|item| match item {
                    SelectionItem::Field(f) => f.name.clone(),
                    _ => String::new(),
                })
                .collect()
        };
        assert_eq!(names(&pruned.selection_set), vec!["me", "book"]);
        let SelectionItem::Field(me) = &pruned.selection_set.items[0] else {
            panic!("a field");
        };
        assert_eq!(names(&me.selections), vec!["name"]);
        let SelectionItem::Field(book) = &pruned.selection_set.items[1] else {
            panic!("a field");
        };
        assert_eq!(names(&book.selections), vec!["__typename"]);
        assert_eq!(denied_fields(&operation, &guards, &[1, 2]).len(), 2);
        let errors = errors(&guards, &[1]);
        assert_eq!(errors[0].code(), Some(Code::UnauthorizedFieldOrType));
    }
}
