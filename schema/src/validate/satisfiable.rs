//! Whether every field of the types `adapt` relaxes can be planned. `graphql-composition`
//! refuses a type that is an entity in one subgraph and a value type in another, and a
//! shareable type whose fields differ; Apollo accepts both when every query reaching the type
//! can fetch each of its fields (its satisfiability check). A field is out of reach when a query
//! gets to the type through subgraphs that neither resolve it nor can jump, by a key they can
//! provide, to a subgraph that does.
//!
//! The walk follows Apollo's: from each root field, the set of subgraphs that could have
//! returned the current object, closed under key jumps, then each field of the type from the
//! subgraphs resolving it. It reads `@provides` loosely (a provided field counts as resolved
//! wherever its subgraph reaches it) and ignores `@requires` and `@override`, so it errs
//! towards accepting; it reports only fields of relaxed types, which composition refused
//! before.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::enums::list;
use crate::adapt::{entity, shareable};
use crate::error::Diagnostic;
use crate::facts::{Kind, SubgraphFacts, named_type};
use crate::fieldset;

/// States visited before the walk gives up (and reports nothing more).
const MAX_STATES: usize = 20_000;

/// The subgraphs (by index) that could have returned an object at some point of a query.
type Set = BTreeSet<usize>;

/// Every field of a relaxed type that some query reaches but no subgraph can resolve.
pub(super) fn check(subgraphs: &[SubgraphFacts], diagnostics: &mut Vec<Diagnostic>) {
    let relaxed: BTreeSet<&str> = subgraphs
        .iter()
        .flat_map(|s| s.types.keys())
        .map(String::as_str)
        .filter(|t| entity::is_mixed(t, subgraphs) || shareable::spelled_out(t, subgraphs))
        .collect();
    if relaxed.is_empty() {
        return;
    }
    let walk = Walk::new(subgraphs);
    let mut reported = BTreeSet::new();
    for unreachable in walk.run() {
        if !relaxed.contains(unreachable.type_name.as_str())
            || !reported.insert((unreachable.type_name.clone(), unreachable.field.clone()))
        {
            continue;
        }
        diagnostics.push(walk.diagnose(&unreachable));
    }
}

/// A field no subgraph can resolve for objects coming from `from`.
struct Unreachable {
    type_name: String,
    field: String,
    from: Set,
    /// The fields a query follows to get there, from a root field.
    path: Vec<String>,
}

struct Walk<'a> {
    subgraphs: &'a [SubgraphFacts],
    /// The fields each subgraph is provided (by `@provides`) somewhere.
    provided: Vec<BTreeSet<(String, String)>>,
}

impl<'a> Walk<'a> {
    fn new(subgraphs: &'a [SubgraphFacts]) -> Self {
        let provided = subgraphs
            .iter()
            .map(|s| {
                let mut provided = BTreeSet::new();
                for ty in s.types.values() {
                    for field in &ty.fields {
                        let selections = field.provides.as_deref().and_then(fieldset::parse);
                        if let Some(selections) = selections {
                            s.collect_targets(named_type(&field.ty), &selections, &mut provided);
                        }
                    }
                }
                provided
            })
            .collect();
        Walk {
            subgraphs,
            provided,
        }
    }

    /// Walks every state reachable from the root fields; returns the dead ends.
    fn run(&self) -> Vec<Unreachable> {
        let mut queue: VecDeque<(String, Set, Vec<String>)> = VecDeque::new();
        let mut seen: BTreeSet<(String, Set)> = BTreeSet::new();
        let mut dead_ends = Vec::new();
        for root in ["Query", "Mutation", "Subscription"] {
            for field in self.field_names(root) {
                let resolving: Set = (0..self.subgraphs.len())
                    .filter(|&s| self.resolves(s, root, &field))
                    .collect();
                let path = vec![format!("{root}.{field}")];
                for (next, from) in self.next(root, &field, &resolving) {
                    queue.push_back((next, from, path.clone()));
                }
            }
        }
        while let Some((type_name, from, path)) = queue.pop_front() {
            let from = self.closure(&type_name, from);
            if seen.len() >= MAX_STATES || !seen.insert((type_name.clone(), from.clone())) {
                continue;
            }
            for field in self.field_names(&type_name) {
                let resolving: Set = from
                    .iter()
                    .copied()
                    .filter(|&s| self.resolves(s, &type_name, &field))
                    .collect();
                if resolving.is_empty() {
                    dead_ends.push(Unreachable {
                        type_name: type_name.clone(),
                        field,
                        from: from.clone(),
                        path: path.clone(),
                    });
                    continue;
                }
                let mut longer = path.clone();
                longer.push(format!("{type_name}.{field}"));
                for (next, next_from) in self.next(&type_name, &field, &resolving) {
                    queue.push_back((next, next_from, longer.clone()));
                }
            }
        }
        dead_ends
    }

    /// The fields any subgraph declares on a type, except `@inaccessible` ones (inaccessible
    /// anywhere, so in the supergraph), which no query selects.
    fn field_names(&self, type_name: &str) -> BTreeSet<String> {
        let declared = || {
            self.subgraphs
                .iter()
                .filter_map(|s| s.types.get(type_name))
                .flat_map(|ty| &ty.fields)
        };
        let inaccessible: BTreeSet<&str> = declared()
            .filter(|f| f.inaccessible)
            .map(|f| f.name.as_str())
            .collect();
        declared()
            .filter(|f| !inaccessible.contains(f.name.as_str()))
            .map(|f| f.name.clone())
            .collect()
    }

    /// Whether subgraph `s` resolves `type_name.field`: declares it, not `@external` unless
    /// it is provided somewhere.
    fn resolves(&self, s: usize, type_name: &str, field: &str) -> bool {
        let declared = self.subgraphs[s]
            .types
            .get(type_name)
            .and_then(|ty| ty.field(field));
        match declared {
            Some(f) if f.external => {
                self.provided[s].contains(&(type_name.to_owned(), field.to_owned()))
            }
            Some(_) => true,
            None => false,
        }
    }

    /// The object types a field leads to, each with the subgraphs that can return it there.
    fn next(&self, type_name: &str, field: &str, resolving: &Set) -> BTreeMap<String, Set> {
        let mut next: BTreeMap<String, Set> = BTreeMap::new();
        for &s in resolving {
            let subgraph = &self.subgraphs[s];
            let Some(declared) = subgraph.types.get(type_name).and_then(|t| t.field(field)) else {
                continue;
            };
            let returned = named_type(&declared.ty);
            let Some(ty) = subgraph.types.get(returned) else {
                continue;
            };
            let objects: Vec<&str> = match ty.kind {
                Kind::Object if ty.interface_object => Vec::new(),
                Kind::Object => vec![returned],
                Kind::Union => ty.members.iter().map(String::as_str).collect(),
                Kind::Interface => subgraph
                    .types
                    .iter()
                    .filter(|(_, t)| {
                        t.kind == Kind::Object && t.implements.iter().any(|i| i == returned)
                    })
                    .map(|(name, _)| name.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            for object in objects {
                next.entry(object.to_owned()).or_default().insert(s);
            }
        }
        next
    }

    /// Adds the subgraphs reachable by key jumps: one with a resolvable key on the type whose
    /// fields a subgraph of the set can provide.
    fn closure(&self, type_name: &str, mut from: Set) -> Set {
        loop {
            let reachable: Vec<usize> = (0..self.subgraphs.len())
                .filter(|r| !from.contains(r))
                .filter(|&r| {
                    let Some(ty) = self.subgraphs[r].types.get(type_name) else {
                        return false;
                    };
                    ty.keys.iter().filter(|key| key.resolvable).any(|key| {
                        from.iter()
                            .any(|&s| self.provides_key(s, type_name, &key.fields))
                    })
                })
                .collect();
            if reachable.is_empty() {
                return from;
            }
            from.extend(reachable);
        }
    }

    /// Whether subgraph `s` can give the fields of a key: it declares each field the key
    /// selects, and resolves it or has it as a key field of its own.
    fn provides_key(&self, s: usize, type_name: &str, fields: &str) -> bool {
        let Some(selections) = fieldset::parse(fields) else {
            return false;
        };
        let subgraph = &self.subgraphs[s];
        let mut targets = BTreeSet::new();
        subgraph.collect_targets(type_name, &selections, &mut targets);
        let mut own_keys = BTreeSet::new();
        for (name, ty) in &subgraph.types {
            for key in &ty.keys {
                if let Some(selections) = fieldset::parse(&key.fields) {
                    subgraph.collect_targets(name, &selections, &mut own_keys);
                }
            }
        }
        targets.iter().all(|(ty, field)| {
            let declared = subgraph
                .types
                .get(ty)
                .and_then(|t| t.field(field))
                .is_some();
            declared
                && (self.resolves(s, ty, field) || own_keys.contains(&(ty.clone(), field.clone())))
        })
    }

    /// The error for a dead end, in the terms of Apollo's.
    fn diagnose(&self, dead_end: &Unreachable) -> Diagnostic {
        let Unreachable {
            type_name,
            field,
            from,
            path,
        } = dead_end;
        let from: Vec<String> = from
            .iter()
            .map(|&s| self.subgraphs[s].name.clone())
            .collect();
        let resolving: Vec<String> = (0..self.subgraphs.len())
            .filter(|&s| self.resolves(s, type_name, field))
            .map(|s| self.subgraphs[s].name.clone())
            .collect();
        let elsewhere = if resolving.is_empty() {
            "no subgraph resolves it".to_owned()
        } else {
            format!(
                "{} resolve{} it but {} no resolvable `@key` on `{type_name}` whose fields {} can \
                 provide",
                list(&resolving),
                if resolving.len() == 1 { "s" } else { "" },
                if resolving.len() == 1 { "has" } else { "have" },
                list(&from),
            )
        };
        let message = format!(
            "`{type_name}.{field}` cannot be planned for a `{type_name}` returned by {} (a query \
             reaching it through `{}`): {} does not resolve it, and {elsewhere}",
            list(&from),
            path.join(" → "),
            if from.len() == 1 {
                "that subgraph"
            } else {
                "none of them"
            },
        );
        let involved = from.iter().chain(&resolving).cloned().collect();
        Diagnostic::new(involved, type_name, Some(field), message, self.subgraphs)
    }
}
