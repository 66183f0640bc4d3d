//! `@defer`: a query split into the part answered first and the fragments delivered after it.
//!
//! The whole operation is planned once, so every field is fetched once and from one snapshot.
//! What this module adds is which fetch of that plan each part waits for: the initial payload
//! goes out when the fetches that write its fields are done, and each deferred fragment when
//! its own are (never before the initial payload). A fetch is matched to a part by where it
//! writes (its merge path and top-level response keys) against that part's selection; a fetch
//! matched to no part is counted with the initial payload, so a doubt only ever delays it.
//!
//! Deferred fragments nested in a deferred fragment arrive with the outer one; `@defer(if:
//! false)` is not deferred, and a client that cannot read incremental delivery gets every
//! field in one response.

use std::collections::HashSet;

use graphql_tools::parser::Pos;
use graphql_tools::static_graphql::query::{
    self, Definition, Directive, FragmentDefinition, Selection, SelectionSet,
};
use rustc_hash::FxHashMap;

use crate::supergraph::Supergraph;
use crate::supergraph::planner::{
    DeferNode, DeferPrimary, DeferredNode, FlattenNodePathSegment, Operation, PlanError, PlanNode,
    QueryPlan, SelectionItem, SelectionSet as NormalizedSet,
};

/// The most deferred fragments one operation may have (each is a bit of a fetch's mask).
pub const MAX_DEFERRED: usize = 32;

/// How a deferred query is delivered: the initial part's selection, the deferred fragments,
/// and which parts each fetch of the plan feeds.
#[derive(Debug)]
pub struct DeferPlan {
    /// The operation without its deferred fragments: shapes the initial payload.
    pub primary: Operation,
    /// The deferred fragments, in document order.
    pub fragments: Vec<Deferred>,
    /// For each fetch node id of the plan, the parts it writes into: bit 0 the initial
    /// payload, bit `i + 1` fragment `i`.
    pub feeds: FxHashMap<i64, u64>,
    /// When every deferred fragment is conditioned on a variable (`@defer(if: $v)`), those
    /// variables: the query is delivered in parts only when one of them is true.
    pub only_if: Option<Vec<String>>,
}

/// One deferred fragment.
#[derive(Debug)]
pub struct Deferred {
    /// The client's `label`, if it gave one.
    pub label: Option<String>,
    /// The response keys leading to the object the fragment applies to (list items are
    /// expanded when delivering); more than one when a named fragment repeats it.
    pub paths: Vec<Vec<String>>,
    /// The response keys the fragment selects at that object.
    pub keys: Vec<String>,
    /// The initial selection plus this fragment: shapes the fragment's payload.
    pub operation: Operation,
}

impl DeferPlan {
    /// How many parts are delivered: the initial payload and one per fragment.
    pub fn parts(&self) -> usize {
        self.fragments.len() + 1
    }

    /// Whether the request's variables defer anything: `false` when every fragment's `if`
    /// variable is `false` (an absent one counts as `true`, the argument's default).
    pub fn defers_with(&self, variables: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.only_if.as_ref().is_none_or(|names| {
            names
                .iter()
                .any(|name| variables.get(name) != Some(&serde_json::Value::Bool(false)))
        })
    }
}

/// A deferred selection of the document, before normalization.
struct Site {
    position: Pos,
    label: Option<String>,
    /// The variable of `if: $variable`, when the fragment is deferred on one.
    condition: Option<String>,
    paths: Vec<Vec<String>>,
    keys: Vec<String>,
}

/// Whether the document's operation defers anything (a `@defer` not switched off by a literal
/// `if: false`).
pub fn defers(document: &query::Document, operation: &query::OperationDefinition) -> bool {
    !sites(document, operation).is_empty()
}

/// Splits a query that defers fragments: the initial and per-fragment operations normalized,
/// and the fetches of `plan` (the whole operation's plan) matched to the parts they feed.
pub fn split(
    supergraph: &Supergraph,
    document: &query::Document,
    operation: &query::OperationDefinition,
    operation_name: Option<&str>,
    plan_root: Option<&PlanNode>,
) -> Result<Option<DeferPlan>, PlanError> {
    let sites = sites(document, operation);
    if sites.is_empty() {
        return Ok(None);
    }
    if sites.len() > MAX_DEFERRED {
        return Err(PlanError::Planning(format!(
            "an operation may defer at most {MAX_DEFERRED} fragments, this one defers {}",
            sites.len()
        )));
    }
    let all: HashSet<Pos> = sites.iter().map(|site| site.position).collect();
    let planner = supergraph.planner();
    let primary = planner.normalize(&without(document, &all, None), operation_name)?;
    let only_if = sites
        .iter()
        .map(|site| site.condition.clone())
        .collect::<Option<Vec<String>>>();
    let mut fragments = Vec::with_capacity(sites.len());
    for site in sites {
        let operation = planner.normalize(
            &without(document, &all, Some(site.position)),
            operation_name,
        )?;
        fragments.push(Deferred {
            label: site.label,
            paths: site.paths,
            keys: site.keys,
            operation,
        });
    }
    let mut feeds = FxHashMap::default();
    if let Some(root) = plan_root {
        let mut parts: Vec<&NormalizedSet> = vec![&primary.selection_set];
        parts.extend(fragments.iter().map(|f| &f.operation.selection_set));
        match_fetches(root, &parts, &mut feeds);
    }
    Ok(Some(DeferPlan {
        primary,
        fragments,
        feeds,
        only_if,
    }))
}

/// Wraps a query's plan in a `Defer` node naming its deferred fragments: the node's primary
/// runs the whole plan; the engine delivers the parts as the fetches feeding them finish.
pub fn defer_node(plan: QueryPlan, split: &DeferPlan) -> QueryPlan {
    let deferred = split
        .fragments
        .iter()
        .map(|fragment| DeferredNode {
            depends: Vec::new(),
            label: fragment.label.clone(),
            query_path: fragment.paths.first().cloned().unwrap_or_default(),
            subselection: Some(fragment.keys.join(" ")),
            node: None,
        })
        .collect();
    QueryPlan {
        kind: plan.kind,
        node: Some(PlanNode::Defer(DeferNode {
            primary: DeferPrimary {
                subselection: None,
                node: plan.node.map(Box::new),
            },
            deferred,
        })),
    }
}

/// A `@defer` that may defer: its label and the variable of its `if`, if any.
struct Marked {
    label: Option<String>,
    condition: Option<String>,
}

/// The `@defer` among `directives` unless it is absent or its `if` is literally `false`.
fn deferred(directives: &[Directive]) -> Option<Marked> {
    let defer = directives.iter().find(|d| d.name == "defer")?;
    let mut marked = Marked {
        label: None,
        condition: None,
    };
    for (name, value) in &defer.arguments {
        match (name.as_str(), value) {
            ("if", query::Value::Boolean(false)) => return None,
            ("if", query::Value::Variable(variable)) => marked.condition = Some(variable.clone()),
            ("label", query::Value::String(text)) => marked.label = Some(text.clone()),
            _ => {}
        }
    }
    Some(marked)
}

fn fragment_definitions(document: &query::Document) -> FxHashMap<&str, &FragmentDefinition> {
    document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name.as_str(), f)),
            Definition::Operation(_) => None,
        })
        .collect()
}

/// The outermost deferred selections of the operation, with where they apply.
fn sites(document: &query::Document, operation: &query::OperationDefinition) -> Vec<Site> {
    struct Walk<'d> {
        fragments: FxHashMap<&'d str, &'d FragmentDefinition>,
        sites: Vec<Site>,
        visiting: Vec<&'d str>,
    }
    impl<'d> Walk<'d> {
        fn set(&mut self, set: &'d SelectionSet, path: &mut Vec<String>) {
            for item in &set.items {
                match item {
                    Selection::Field(field) => {
                        path.push(field.alias.clone().unwrap_or_else(|| field.name.clone()));
                        self.set(&field.selection_set, path);
                        path.pop();
                    }
                    Selection::InlineFragment(fragment) => match deferred(&fragment.directives) {
                        Some(marked) => {
                            self.site(fragment.position, marked, path, &fragment.selection_set)
                        }
                        None => self.set(&fragment.selection_set, path),
                    },
                    Selection::FragmentSpread(spread) => {
                        let name = spread.fragment_name.as_str();
                        let Some(definition) = self.fragments.get(name).copied() else {
                            continue;
                        };
                        if self.visiting.contains(&name) {
                            continue;
                        }
                        match deferred(&spread.directives) {
                            Some(marked) => {
                                self.site(spread.position, marked, path, &definition.selection_set)
                            }
                            None => {
                                self.visiting.push(name);
                                self.set(&definition.selection_set, path);
                                self.visiting.pop();
                            }
                        }
                    }
                }
            }
        }

        fn site(&mut self, position: Pos, marked: Marked, path: &[String], set: &'d SelectionSet) {
            if let Some(site) = self.sites.iter_mut().find(|s| s.position == position) {
                if !site.paths.iter().any(|p| p == path) {
                    site.paths.push(path.to_vec());
                }
                return;
            }
            let mut keys = Vec::new();
            self.keys(set, &mut keys);
            self.sites.push(Site {
                position,
                label: marked.label,
                condition: marked.condition,
                paths: vec![path.to_vec()],
                keys,
            });
        }

        fn keys(&mut self, set: &'d SelectionSet, keys: &mut Vec<String>) {
            for item in &set.items {
                match item {
                    Selection::Field(field) => {
                        let key = field.alias.as_ref().unwrap_or(&field.name);
                        if !keys.contains(key) {
                            keys.push(key.clone());
                        }
                    }
                    Selection::InlineFragment(fragment) => self.keys(&fragment.selection_set, keys),
                    Selection::FragmentSpread(spread) => {
                        let name = spread.fragment_name.as_str();
                        if self.visiting.contains(&name) {
                            continue;
                        }
                        if let Some(definition) = self.fragments.get(name).copied() {
                            self.visiting.push(name);
                            self.keys(&definition.selection_set, keys);
                            self.visiting.pop();
                        }
                    }
                }
            }
        }
    }
    let mut walk = Walk {
        fragments: fragment_definitions(document),
        sites: Vec::new(),
        visiting: Vec::new(),
    };
    walk.set(super::operation_parts(operation).1, &mut Vec::new());
    walk.sites
}

/// The document with the deferred selections at `removed` taken out, except `kept`; a
/// selection set left empty asks for `__typename` so it stays valid.
fn without(
    document: &query::Document,
    removed: &HashSet<Pos>,
    kept: Option<Pos>,
) -> query::Document {
    fn prune(set: &mut SelectionSet, removed: &HashSet<Pos>, kept: Option<Pos>) {
        let had = !set.items.is_empty();
        set.items.retain(|item| {
            let position = match item {
                Selection::InlineFragment(f) => f.position,
                Selection::FragmentSpread(s) => s.position,
                Selection::Field(_) => return true,
            };
            !removed.contains(&position) || Some(position) == kept
        });
        for item in &mut set.items {
            match item {
                Selection::Field(field) => prune(&mut field.selection_set, removed, kept),
                Selection::InlineFragment(fragment) => {
                    prune(&mut fragment.selection_set, removed, kept);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        if had && set.items.is_empty() {
            set.items.push(Selection::Field(query::Field {
                position: set.span.0,
                alias: None,
                name: "__typename".to_owned(),
                arguments: Vec::new(),
                directives: Vec::new(),
                selection_set: SelectionSet {
                    span: set.span,
                    items: Vec::new(),
                },
            }));
        }
    }
    let mut copy = document.clone();
    for definition in &mut copy.definitions {
        let set = match definition {
            Definition::Fragment(fragment) => &mut fragment.selection_set,
            Definition::Operation(operation) => match operation {
                query::OperationDefinition::SelectionSet(set) => set,
                query::OperationDefinition::Query(q) => &mut q.selection_set,
                query::OperationDefinition::Mutation(m) => &mut m.selection_set,
                query::OperationDefinition::Subscription(s) => &mut s.selection_set,
            },
        };
        prune(set, removed, kept);
    }
    copy
}

/// One place a fetch writes: its merge path, the keys it writes there and the keys it
/// requires there.
struct Write<'p> {
    id: i64,
    path: Vec<&'p str>,
    keys: Vec<&'p str>,
    requires: Vec<&'p str>,
}

/// Where every fetch under `node` writes, in plan order.
fn writes<'p>(node: &'p PlanNode, out: &mut Vec<Write<'p>>) {
    match node {
        PlanNode::Fetch(fetch) => out.push(Write {
            id: fetch.id,
            path: Vec::new(),
            keys: top_keys(&fetch.operation.document.operation.selection_set),
            requires: Vec::new(),
        }),
        PlanNode::Flatten(flatten) => match flatten.node.as_ref() {
            PlanNode::Fetch(fetch) => out.push(Write {
                id: fetch.id,
                path: flatten_path(flatten.path.as_slice()),
                keys: entity_keys(&fetch.operation.document.operation.selection_set, None),
                requires: fetch.requires.as_ref().map(top_keys).unwrap_or_default(),
            }),
            other => writes(other, out),
        },
        PlanNode::BatchFetch(batch) => {
            for alias in &batch.entity_batch.aliases {
                let keys = entity_keys(
                    &batch.operation.document.operation.selection_set,
                    Some(&alias.alias),
                );
                for path in &alias.merge_paths {
                    out.push(Write {
                        id: batch.id,
                        path: flatten_path(path.as_slice()),
                        keys: keys.clone(),
                        requires: top_keys(&alias.requires),
                    });
                }
            }
        }
        PlanNode::Sequence(sequence) => sequence.nodes.iter().for_each(|n| writes(n, out)),
        PlanNode::Parallel(parallel) => parallel.nodes.iter().for_each(|n| writes(n, out)),
        PlanNode::Condition(condition) => {
            for branch in [&condition.if_clause, &condition.else_clause]
                .into_iter()
                .flatten()
            {
                writes(branch, out);
            }
        }
        PlanNode::Defer(defer) => {
            if let Some(node) = &defer.primary.node {
                writes(node, out);
            }
        }
        PlanNode::Subscription(_) => {}
    }
}

/// Matches every fetch under `node` to the parts (selection sets) it writes into. A fetch of
/// the initial payload runs before any other (see `execute`), so whatever it depends on, an
/// earlier fetch writing what it requires or the objects it writes into, is one too.
fn match_fetches(node: &PlanNode, parts: &[&NormalizedSet], feeds: &mut FxHashMap<i64, u64>) {
    let mut all = Vec::new();
    writes(node, &mut all);
    for write in &all {
        // `__typename` is written by every fetch of an object and says nothing of which part
        // the fetch is for.
        let keys: Vec<&str> = write
            .keys
            .iter()
            .copied()
            .filter(|k| *k != "__typename")
            .collect();
        let mut mask = 0u64;
        for (bit, part) in parts.iter().enumerate() {
            if writes_into(part, &write.path, &keys) {
                mask |= 1 << bit;
            }
        }
        // Matched to nothing (a fetch of keys or requirements only): it goes with the initial
        // payload, which is never wrong, at worst later than it could be.
        *feeds.entry(write.id).or_default() |= if mask == 0 { 1 } else { mask };
    }
    loop {
        let mut changed = false;
        for (later, write) in all.iter().enumerate() {
            if feeds.get(&write.id).is_none_or(|mask| mask & 1 == 0) {
                continue;
            }
            for earlier in &all[..later] {
                let mask = feeds.entry(earlier.id).or_default();
                if *mask & 1 == 0 && feeds_into(earlier, write) {
                    *mask |= 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// Whether `later` may read what `earlier` writes: a key it requires at the same path, or an
/// object on its path.
fn feeds_into(earlier: &Write<'_>, later: &Write<'_>) -> bool {
    let same_path = earlier.path == later.path;
    if same_path && earlier.keys.iter().any(|k| later.requires.contains(k)) {
        return true;
    }
    later.path.len() > earlier.path.len()
        && later.path.starts_with(&earlier.path)
        && earlier.keys.contains(&later.path[earlier.path.len()])
}

fn flatten_path(path: &[FlattenNodePathSegment]) -> Vec<&str> {
    path.iter()
        .filter_map(|segment| match segment {
            FlattenNodePathSegment::Field(name) => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

fn response_key(item: &SelectionItem) -> Option<&str> {
    match item {
        SelectionItem::Field(field) => Some(field.alias.as_deref().unwrap_or(&field.name)),
        _ => None,
    }
}

/// The response keys a root fetch writes.
fn top_keys(set: &NormalizedSet) -> Vec<&str> {
    let mut keys = Vec::new();
    collect_keys(set, &mut keys);
    keys
}

fn collect_keys<'s>(set: &'s NormalizedSet, keys: &mut Vec<&'s str>) {
    for item in &set.items {
        match item {
            SelectionItem::InlineFragment(fragment) => collect_keys(&fragment.selections, keys),
            other => keys.extend(response_key(other)),
        }
    }
}

/// The response keys an entity fetch writes: those under its `_entities` field (the one
/// aliased `alias` in a batch).
fn entity_keys<'s>(set: &'s NormalizedSet, alias: Option<&str>) -> Vec<&'s str> {
    let mut keys = Vec::new();
    for item in &set.items {
        if let SelectionItem::Field(field) = item {
            let key = field.alias.as_deref().unwrap_or(&field.name);
            if alias.is_none_or(|alias| alias == key) {
                collect_keys(&field.selections, &mut keys);
            }
        }
    }
    keys
}

/// Whether a fetch writing `keys` at `path` writes a field `part` selects.
fn writes_into(part: &NormalizedSet, path: &[&str], keys: &[&str]) -> bool {
    fn below<'s>(sets: &[&'s NormalizedSet], key: &str, out: &mut Vec<&'s NormalizedSet>) {
        for set in sets {
            for item in &set.items {
                match item {
                    SelectionItem::Field(field)
                        if field.alias.as_deref().unwrap_or(&field.name) == key =>
                    {
                        out.push(&field.selections);
                    }
                    SelectionItem::InlineFragment(fragment) => {
                        below(&[&fragment.selections], key, out);
                    }
                    _ => {}
                }
            }
        }
    }
    let mut sets = vec![part];
    for segment in path {
        let mut next = Vec::new();
        below(&sets, segment, &mut next);
        if next.is_empty() {
            return false;
        }
        sets = next;
    }
    keys.iter().any(|key| {
        let mut found = Vec::new();
        below(&sets, key, &mut found);
        !found.is_empty()
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::type_complexity)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> query::Document {
        graphql_tools::parser::parse_query::<String>(text)
            .expect("a valid document")
            .into_static()
    }

    fn operation(document: &query::Document) -> &query::OperationDefinition {
        document
            .definitions
            .iter()
            .find_map(|d| match d {
                Definition::Operation(op) => Some(op),
                Definition::Fragment(_) => None,
            })
            .expect("an operation")
    }

    #[test]
    fn deferred_selections_are_found_with_their_paths_labels_and_keys() {
        let document = parsed(
            r#"{
                top: page(id: 1) {
                    item {
                        id
                        ... @defer(label: "slow") { count notes { body ... @defer { by } } }
                        ... @defer(if: false) { name }
                    }
                    ...Related @defer
                }
            }
            fragment Related on Page { related { id } also: related { name } }"#,
        );
        let sites = sites(&document, operation(&document));
        let found: Vec<(Option<&str>, &[Vec<String>], &[String])> = sites
            .iter()
            .map(|s| (s.label.as_deref(), s.paths.as_slice(), s.keys.as_slice()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some("slow"),
                    &[vec!["top".to_owned(), "item".to_owned()]][..],
                    &["count".to_owned(), "notes".to_owned()][..],
                ),
                (
                    None,
                    &[vec!["top".to_owned()]][..],
                    &["related".to_owned(), "also".to_owned()][..],
                ),
            ]
        );
    }

    #[test]
    fn the_initial_document_drops_deferred_selections_and_a_part_keeps_its_own() {
        let document = parsed("{ a { b ... @defer { c } } d { ... @defer { e } } }");
        let sites = sites(&document, operation(&document));
        let all: HashSet<Pos> = sites.iter().map(|s| s.position).collect();
        let print = |d: &query::Document| {
            d.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            print(&without(&document, &all, None)),
            "{ a { b } d { __typename } }"
        );
        assert_eq!(
            print(&without(&document, &all, Some(sites[1].position))),
            "{ a { b } d { ... @defer { e } } }"
        );
    }

    #[test]
    fn a_fetch_feeds_the_fetches_that_require_or_stand_on_what_it_writes() {
        let write =
            |path: &[&'static str], keys: &[&'static str], requires: &[&'static str]| Write {
                id: 0,
                path: path.to_vec(),
                keys: keys.to_vec(),
                requires: requires.to_vec(),
            };
        let notes = write(&["page", "item"], &["notes", "weight"], &[]);
        let postage = write(&["page", "item"], &["postage"], &["weight"]);
        let writers = write(&["page", "item", "notes", "by"], &["name"], &[]);
        let stock = write(&["page", "item"], &["stock"], &["id"]);
        assert!(feeds_into(&notes, &postage));
        assert!(feeds_into(&notes, &writers));
        assert!(!feeds_into(&notes, &stock));
        assert!(!feeds_into(&postage, &notes));
    }
}
