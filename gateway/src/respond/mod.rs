//! Writing the client's response: the merged result projected onto the client's selection
//! (aliases, fragments, `@skip`/`@include`, `__typename`), leaf values checked against the API
//! schema, nulls propagated per the GraphQL specification, serialized once into one buffer.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use graphql_tools::static_graphql::schema::{Field, Type};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Map;

use crate::cache::invalidate::Tag;

use crate::error::{GraphqlError, PathSegment};
use crate::execute::Outcome;
use crate::execute::value::{Object, Value, write_str};
use crate::prepare::Prepared;
use crate::supergraph::Supergraph;
use crate::supergraph::api::{ApiSchema, TypeKind, named_type};
use crate::supergraph::planner::{FieldSelection, SelectionItem, SelectionSet};

/// Marks that a value could not be written and its nearest nullable parent must be null.
struct Null;

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The fields of one response key on an object: the selections merged under it and their
/// sub-selections, ready for the values below.
struct Group<'a> {
    key: &'a str,
    fields: Vec<&'a FieldSelection>,
    sets: Vec<&'a SelectionSet>,
    /// The field's definition on the object type (none for `__typename` or an unknown field).
    definition: Option<&'a Field>,
    /// The kind of the field's named type.
    kind: Option<TypeKind>,
}

/// The field groups of an object type under a list of selection sets.
type Groups<'a> = Rc<[Group<'a>]>;

/// Field groups collected for one object type under one list of selection sets.
struct Memo<'a> {
    type_name: Box<str>,
    sets: Vec<&'a SelectionSet>,
    groups: Groups<'a>,
}

/// Which field and parent type a value belongs to, named in a non-null error.
#[derive(Clone, Copy)]
struct Context<'c> {
    parent: &'c str,
    field: &'c str,
    /// The kind of the field's named type, looked up once for all its values.
    kind: Option<TypeKind>,
}

struct Writer<'a> {
    supergraph: &'a Supergraph,
    api: &'a ApiSchema,
    variables: &'a Map<String, serde_json::Value>,
    out: Vec<u8>,
    errors: Vec<GraphqlError>,
    prior: &'a [GraphqlError],
    path: Vec<Seg<'a>>,
    /// Field groups already collected in this response, by a hash of object type and
    /// selection sets: every item of a list shares one.
    groups: FxHashMap<u64, Vec<Memo<'a>>>,
    /// The entities written so far, when the caller asked for them.
    tags: Option<FxHashSet<Tag>>,
    /// The field selections the caller may not read (see `Denied`).
    denied: &'a FxHashSet<usize>,
    /// Set while a null from a denied non-null field propagates up: its authorization error
    /// explains it, so no "cannot return null" error is added on the way.
    denied_null: bool,
}

/// A written response.
pub struct Written {
    /// `{"data": ..., "errors": [...]}`.
    pub body: Vec<u8>,
    /// Whether it carries errors.
    pub has_errors: bool,
    /// The entities it contains, as cache tags (empty unless asked for).
    pub tags: Vec<Tag>,
}

/// The largest response buffer allocated up front from a previous response's size; a larger
/// response grows past it as it is written.
const MAX_PRESIZE: usize = 512 * 1024;

/// Writes `{"data": ..., "errors": [...]}` for an executed operation; also says whether the
/// response carries errors and, with `collect_tags`, which entities it contains.
pub fn write_response(
    supergraph: &Supergraph,
    prepared: &Prepared,
    variables: &Map<String, serde_json::Value>,
    outcome: &Outcome,
    collect_tags: bool,
) -> Written {
    write_selection(
        supergraph,
        prepared,
        &prepared.operation.selection_set,
        variables,
        &outcome.data,
        &outcome.errors,
        collect_tags,
    )
}

/// A deferred fragment written at one object it applies to.
#[derive(Debug)]
pub struct Increment {
    /// Where the object is in the response.
    pub path: Vec<PathSegment>,
    /// The fragment's fields at the object as a JSON object, or `null` when a non-null field
    /// among them has no value: the null stops at the fragment, as the specification asks.
    pub data: Vec<u8>,
    /// The errors raised writing it ("cannot return null", an unknown enum value).
    pub errors: Vec<GraphqlError>,
}

/// Writes a deferred fragment at every object it applies to: the objects at `paths` (response
/// keys from the root; list items expanded), each with the fields `keys` names as `selection`
/// (the operation with the fragment) selects them. An object none of whose fields applies (a
/// fragment on a type the object is not) gives nothing.
#[allow(clippy::too_many_arguments)]
pub fn write_deferred<'a>(
    supergraph: &'a Supergraph,
    prepared: &'a Prepared,
    selection: &'a SelectionSet,
    paths: &'a [Vec<String>],
    keys: &'a [String],
    variables: &'a Map<String, serde_json::Value>,
    data: &'a Value,
    prior: &'a [GraphqlError],
) -> Vec<Increment> {
    let root = supergraph.api().root_type(prepared.operation_type);
    let mut writer = Writer::new(supergraph, prepared, variables, prior, Vec::new(), false);
    let mut increments = Vec::new();
    if let Some(object) = data.as_object() {
        for path in paths {
            writer.descend(object, root, &[selection], path, keys, &mut increments);
        }
    }
    increments
}

/// Writes `{"data": ..., "errors": [...]}` for `selection` (the whole operation, or one part
/// of a query delivered in parts) from `data` and `errors` as merged so far.
pub fn write_selection(
    supergraph: &Supergraph,
    prepared: &Prepared,
    selection: &SelectionSet,
    variables: &Map<String, serde_json::Value>,
    data: &Value,
    prior: &[GraphqlError],
    collect_tags: bool,
) -> Written {
    let whole = std::ptr::eq(selection, &prepared.operation.selection_set);
    let root = supergraph.api().root_type(prepared.operation_type);
    // The last response's size and a little more: one allocation, no copying as it grows.
    let out = Vec::with_capacity(
        (prepared.response_size.load(Ordering::Relaxed) * 9 / 8).clamp(4096, MAX_PRESIZE),
    );
    let mut writer = Writer::new(supergraph, prepared, variables, prior, out, collect_tags);
    writer.out.extend_from_slice(b"{\"data\":");
    let empty = Object::default();
    let data = data.as_object().unwrap_or(&empty);
    let mark = writer.out.len();
    if writer.write_object(data, root, &[selection]).is_err() {
        writer.out.truncate(mark);
        writer.out.extend_from_slice(b"null");
    }
    let Writer {
        mut out,
        errors,
        tags,
        ..
    } = writer;
    let denied = &prepared.denied.errors;
    let has_errors = !prior.is_empty() || !errors.is_empty() || !denied.is_empty();
    if has_errors {
        out.extend_from_slice(b",\"errors\":");
        let prior = for_the_client(prior, selection);
        let all: Vec<&GraphqlError> = denied
            .iter()
            .chain(prior.iter())
            .chain(errors.iter())
            .collect();
        let _ = serde_json::to_writer(&mut out, &all);
    }
    out.push(b'}');
    if whole {
        prepared.response_size.store(out.len(), Ordering::Relaxed);
    }
    let mut tags: Vec<Tag> = tags.map(|t| t.into_iter().collect()).unwrap_or_default();
    tags.sort_unstable();
    Written {
        body: out,
        has_errors,
        tags,
    }
}

impl<'a> Writer<'a> {
    fn new(
        supergraph: &'a Supergraph,
        prepared: &'a Prepared,
        variables: &'a Map<String, serde_json::Value>,
        prior: &'a [GraphqlError],
        out: Vec<u8>,
        collect_tags: bool,
    ) -> Writer<'a> {
        Writer {
            supergraph,
            api: supergraph.api(),
            variables,
            out,
            errors: Vec::new(),
            prior,
            path: Vec::with_capacity(16),
            groups: FxHashMap::default(),
            tags: collect_tags.then(FxHashSet::default),
            denied: &prepared.denied.fields,
            denied_null: false,
        }
    }

    fn write_object(
        &mut self,
        object: &'a Object,
        type_name: &'a str,
        sets: &[&'a SelectionSet],
    ) -> Result<(), Null> {
        if self.tags.is_some() {
            self.tag(object, type_name);
        }
        let groups = self.groups_of(type_name, sets);
        self.write_fields(object, type_name, groups.iter())
    }

    /// Writes `{"key": value, ...}` for the field groups given.
    fn write_fields<'g>(
        &mut self,
        object: &'a Object,
        type_name: &'a str,
        groups: impl Iterator<Item = &'g Group<'a>>,
    ) -> Result<(), Null>
    where
        'a: 'g,
    {
        self.out.push(b'{');
        for (i, group) in groups.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(&mut self.out, group.key);
            self.out.push(b':');
            self.path.push(Seg::Key(group.key));
            let result = self.write_field(object, type_name, group);
            self.path.pop();
            result?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// Follows `rest` (response keys) from `object` to the objects a deferred fragment
    /// applies to and writes the fragment's `keys` at each.
    fn descend(
        &mut self,
        object: &'a Object,
        type_name: &'a str,
        sets: &[&'a SelectionSet],
        rest: &'a [String],
        keys: &'a [String],
        out: &mut Vec<Increment>,
    ) {
        let groups = self.groups_of(type_name, sets);
        let Some((key, rest)) = rest.split_first() else {
            self.write_increment(object, type_name, &groups, keys, out);
            return;
        };
        let Some(group) = groups.iter().find(|group| group.key == key.as_str()) else {
            return;
        };
        let Some(definition) = group.definition else {
            return;
        };
        self.path.push(Seg::Key(group.key));
        self.descend_value(
            object.get(group.key),
            &definition.field_type,
            group.kind,
            &group.sets,
            rest,
            keys,
            out,
        );
        self.path.pop();
    }

    #[allow(clippy::too_many_arguments)]
    fn descend_value(
        &mut self,
        value: Option<&'a Value>,
        ty: &'a Type,
        kind: Option<TypeKind>,
        sets: &[&'a SelectionSet],
        rest: &'a [String],
        keys: &'a [String],
        out: &mut Vec<Increment>,
    ) {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return;
        };
        match (ty, value) {
            (Type::NonNullType(inner), _) => {
                self.descend_value(Some(value), inner, kind, sets, rest, keys, out);
            }
            (Type::ListType(inner), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    self.descend_value(Some(item), inner, kind, sets, rest, keys, out);
                    self.path.pop();
                }
            }
            (Type::NamedType(name), Value::Object(object)) => {
                let concrete = match object.typename() {
                    Some(typename) if self.api.is_possible_type(name, typename) => typename,
                    Some(_) if kind == Some(TypeKind::Object) => name.as_str(),
                    Some(_) => return,
                    None => name.as_str(),
                };
                self.descend(object, concrete, sets, rest, keys, out);
            }
            _ => {}
        }
    }

    /// Writes the fields of `groups` that `keys` names as one increment at the current path.
    fn write_increment(
        &mut self,
        object: &'a Object,
        type_name: &'a str,
        groups: &Groups<'a>,
        keys: &[String],
        out: &mut Vec<Increment>,
    ) {
        let mut fields = groups
            .iter()
            .filter(|group| keys.iter().any(|key| key == group.key))
            .peekable();
        if fields.peek().is_none() {
            return;
        }
        self.out.clear();
        if self.write_fields(object, type_name, fields).is_err() {
            self.out.clear();
            self.out.extend_from_slice(b"null");
        }
        self.denied_null = false;
        out.push(Increment {
            path: self.current_path(),
            data: std::mem::take(&mut self.out),
            errors: std::mem::take(&mut self.errors),
        });
    }

    /// Tags the object when its type is an entity.
    fn tag(&mut self, object: &Object, type_name: &str) {
        if let Some(tags) = self.tags.as_mut() {
            crate::execute::tag_object(self.supergraph, object, type_name, tags);
        }
    }

    fn write_field(
        &mut self,
        object: &'a Object,
        type_name: &'a str,
        group: &Group<'a>,
    ) -> Result<(), Null> {
        let name = group.fields[0].name.as_str();
        if name == "__typename" {
            write_str(&mut self.out, type_name);
            return Ok(());
        }
        if (name == "__schema" || name == "__type") && type_name == self.api.query_type() {
            return self.write_introspection(&group.fields);
        }
        let Some(definition) = group.definition else {
            self.out.extend_from_slice(b"null");
            return Ok(());
        };
        if !self.denied.is_empty()
            && group
                .fields
                .iter()
                .all(|field| self.denied.contains(&(std::ptr::from_ref(*field) as usize)))
        {
            if matches!(definition.field_type, Type::NonNullType(_)) {
                self.denied_null = true;
                return Err(Null);
            }
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        let value = object.get(group.key);
        let context = Context {
            parent: type_name,
            field: name,
            kind: group.kind,
        };
        self.write_typed(value, &definition.field_type, &group.sets, context)
    }

    /// Answers `__schema` / `__type` from the API schema: the introspection module resolves
    /// the selection into a value, written like any other.
    fn write_introspection(&mut self, fields: &[&'a FieldSelection]) -> Result<(), Null> {
        let field = fields[0];
        let value = match self.supergraph.introspect(field, self.variables) {
            Ok(value) => Value::from(value),
            Err(message) => {
                self.field_error(message);
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
        };
        let type_name = if field.name == "__schema" {
            "__Schema"
        } else {
            "__Type"
        };
        let ty = Type::NamedType(type_name.to_owned());
        let sets: Vec<&SelectionSet> = fields.iter().map(|f| &f.selections).collect();
        let context = Context {
            parent: self.api.query_type(),
            field: &field.name,
            kind: self.api.type_kind(type_name),
        };
        let mut sub = Writer {
            supergraph: self.supergraph,
            api: self.api,
            variables: self.variables,
            out: std::mem::take(&mut self.out),
            errors: Vec::new(),
            prior: self.prior,
            path: self.path.clone(),
            groups: FxHashMap::default(),
            tags: None,
            denied: self.denied,
            denied_null: false,
        };
        let result = sub.write_typed(Some(&value), &ty, &sets, context);
        self.out = sub.out;
        self.errors.append(&mut sub.errors);
        result
    }

    fn write_typed<'v>(
        &mut self,
        value: Option<&'v Value>,
        ty: &'v Type,
        sets: &[&'a SelectionSet],
        context: Context<'_>,
    ) -> Result<(), Null>
    where
        'v: 'a,
    {
        match ty {
            Type::NonNullType(inner) => {
                if value.is_none_or(Value::is_null) {
                    self.null_error(context);
                    return Err(Null);
                }
                let mark = self.out.len();
                let result = self.write_unwrapped(value, inner, sets, context);
                if result.is_err() {
                    self.out.truncate(mark);
                    self.null_error(context);
                }
                result
            }
            other => {
                let mark = self.out.len();
                if self.write_unwrapped(value, other, sets, context).is_err() {
                    self.out.truncate(mark);
                    self.out.extend_from_slice(b"null");
                    self.denied_null = false;
                }
                Ok(())
            }
        }
    }

    fn write_unwrapped<'v>(
        &mut self,
        value: Option<&'v Value>,
        ty: &'v Type,
        sets: &[&'a SelectionSet],
        context: Context<'_>,
    ) -> Result<(), Null>
    where
        'v: 'a,
    {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            self.out.extend_from_slice(b"null");
            return Ok(());
        };
        match ty {
            Type::NonNullType(inner) => self.write_typed(Some(value), inner, sets, context),
            Type::ListType(inner) => {
                let Value::Array(items) = value else {
                    return Err(Null);
                };
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.path.push(Seg::Index(i));
                    let result = self.write_typed(Some(item), inner, sets, context);
                    self.path.pop();
                    result?;
                }
                self.out.push(b']');
                Ok(())
            }
            Type::NamedType(name) => self.write_named(value, name, sets, context.kind),
        }
    }

    fn write_named(
        &mut self,
        value: &'a Value,
        name: &'a str,
        sets: &[&'a SelectionSet],
        kind: Option<TypeKind>,
    ) -> Result<(), Null> {
        match kind {
            Some(TypeKind::Scalar) | None => {
                value.write_json(&mut self.out);
                Ok(())
            }
            Some(TypeKind::Enum) => match value.as_str() {
                Some(text) if self.api.enum_has_value(name, text) => {
                    write_str(&mut self.out, text);
                    Ok(())
                }
                _ => {
                    let message = format!("Enum \"{name}\" cannot represent value: {value}");
                    self.field_error(message);
                    Err(Null)
                }
            },
            Some(TypeKind::InputObject) => Err(Null),
            Some(kind) => {
                let Value::Object(object) = value else {
                    return Err(Null);
                };
                // Without a `__typename` the object is taken as the field's own type, even an
                // abstract one; with a foreign one it cannot be shown here.
                let concrete = match object.typename() {
                    Some(typename) if self.api.is_possible_type(name, typename) => typename,
                    Some(_) if kind == TypeKind::Object => name,
                    Some(_) => return Err(Null),
                    None => name,
                };
                self.write_object(object, concrete, sets)
            }
        }
    }

    /// The field groups of `type_name` under `sets`, collected once per response.
    fn groups_of(&mut self, type_name: &str, sets: &[&'a SelectionSet]) -> Groups<'a> {
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        type_name.hash(&mut hasher);
        for set in sets {
            std::ptr::from_ref(*set).hash(&mut hasher);
        }
        let same = |memo: &Memo<'a>| {
            *memo.type_name == *type_name
                && memo.sets.len() == sets.len()
                && memo
                    .sets
                    .iter()
                    .zip(sets)
                    .all(|(a, b)| std::ptr::eq(*a, *b))
        };
        let bucket = self.groups.entry(hasher.finish()).or_default();
        if let Some(memo) = bucket.iter().find(|memo| same(memo)) {
            return memo.groups.clone();
        }
        let groups: Groups<'a> = self.collect_fields(type_name, sets).into();
        self.groups.entry(hasher.finish()).or_default().push(Memo {
            type_name: type_name.into(),
            sets: sets.to_vec(),
            groups: groups.clone(),
        });
        groups
    }

    /// Groups the fields selected on an object of type `type_name` by response key, in the
    /// order they first appear, honouring `@skip`/`@include` and type conditions.
    fn collect_fields(&self, type_name: &str, sets: &[&'a SelectionSet]) -> Vec<Group<'a>> {
        let mut groups: Vec<Group<'a>> = Vec::new();
        for set in sets {
            self.collect_into(type_name, set, &mut groups);
        }
        groups
    }

    fn collect_into(&self, type_name: &str, set: &'a SelectionSet, groups: &mut Vec<Group<'a>>) {
        for item in &set.items {
            match item {
                SelectionItem::Field(field) => {
                    if field.omit_from_response
                        || !self.included(field.skip_if.as_deref(), field.include_if.as_deref())
                    {
                        continue;
                    }
                    let key = field.alias.as_deref().unwrap_or(&field.name);
                    match groups.iter_mut().find(|group| group.key == key) {
                        Some(group) => {
                            group.fields.push(field);
                            group.sets.push(&field.selections);
                        }
                        None => {
                            let definition = self.api.field(type_name, &field.name);
                            let kind = definition
                                .and_then(|d| self.api.type_kind(named_type(&d.field_type)));
                            groups.push(Group {
                                key,
                                fields: vec![field],
                                sets: vec![&field.selections],
                                definition,
                                kind,
                            })
                        }
                    }
                }
                SelectionItem::InlineFragment(fragment) => {
                    let applies = fragment.type_condition == type_name
                        || self
                            .api
                            .is_possible_type(&fragment.type_condition, type_name);
                    if applies
                        && self
                            .included(fragment.skip_if.as_deref(), fragment.include_if.as_deref())
                    {
                        self.collect_into(type_name, &fragment.selections, groups);
                    }
                }
                SelectionItem::FragmentSpread(_) => {}
            }
        }
    }

    fn included(&self, skip_if: Option<&str>, include_if: Option<&str>) -> bool {
        let var = |name: &str| {
            self.variables
                .get(name)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        !skip_if.is_some_and(var) && include_if.is_none_or(var)
    }

    fn current_path(&self) -> Vec<PathSegment> {
        self.path
            .iter()
            .map(|seg| match seg {
                Seg::Key(k) => PathSegment::Key((*k).to_owned()),
                Seg::Index(i) => PathSegment::Index(*i),
            })
            .collect()
    }

    fn field_error(&mut self, message: String) {
        let path = self.current_path();
        self.errors.push(GraphqlError::at_path(message, path));
    }

    /// Records "cannot return null" unless an error already explains this null.
    fn null_error(&mut self, context: Context<'_>) {
        if self.denied_null {
            return;
        }
        let path = self.current_path();
        let explained =
            self.prior
                .iter()
                .chain(self.errors.iter())
                .any(|error| match &error.path {
                    None => true,
                    Some(error_path) => {
                        let n = error_path.len().min(path.len());
                        error_path[..n] == path[..n]
                    }
                });
        if !explained {
            self.errors.push(GraphqlError::at_path(
                format!(
                    "Cannot return null for non-nullable field {}.{}.",
                    context.parent, context.field
                ),
                path,
            ));
        }
    }
}

/// The execution's errors as the client should see them: an error pathed at a field the client
/// did not select (one the planner fetched only to feed `@requires`) loses its path, and the
/// copies that then say the same thing are kept once.
fn for_the_client(errors: &[GraphqlError], selection: &SelectionSet) -> Vec<GraphqlError> {
    let mut out: Vec<GraphqlError> = Vec::with_capacity(errors.len());
    for error in errors {
        let mut error = error.clone();
        if error
            .path
            .as_deref()
            .is_some_and(|path| !selected(selection, path))
        {
            error.path = None;
            if out.contains(&error) {
                continue;
            }
        }
        out.push(error);
    }
    out
}

/// Whether the client's selection reaches `path` (indices skipped, fragments looked through).
pub fn selected(selection: &SelectionSet, path: &[PathSegment]) -> bool {
    fn fields<'s>(set: &'s SelectionSet, key: &str, out: &mut Vec<&'s SelectionSet>) {
        for item in &set.items {
            match item {
                SelectionItem::Field(field)
                    if field.alias.as_deref().unwrap_or(&field.name) == key =>
                {
                    out.push(&field.selections)
                }
                SelectionItem::InlineFragment(fragment) => fields(&fragment.selections, key, out),
                _ => {}
            }
        }
    }
    let mut sets = vec![selection];
    for segment in path {
        let PathSegment::Key(key) = segment else {
            continue;
        };
        let mut next = Vec::new();
        for set in &sets {
            fields(set, key, &mut next);
        }
        if next.is_empty() {
            return false;
        }
        sets = next;
    }
    true
}
