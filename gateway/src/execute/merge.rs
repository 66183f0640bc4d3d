//! Merging subgraph answers into the result, and the planner's rewrites of representations
//! (before sending) and of entity results (after receiving).

use super::value::{Object, Value};

use crate::supergraph::api::{ApiSchema, TypeKind};
use crate::supergraph::planner::{FetchNodePathSegment, FetchRewrite};

/// Merges `source` into `target`: objects field by field, lists item by item, otherwise the
/// new value wins unless it is null. A `__typename` naming an abstract type (as an
/// `@interfaceObject` subgraph answers) never replaces a concrete one already known.
pub(super) fn deep_merge(target: &mut Value, source: Value, api: &ApiSchema) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) => {
                        if key == "__typename" && keeps_typename(existing, &value, api) {
                            continue;
                        }
                        deep_merge(existing, value, api);
                    }
                    None => target.push(key, value),
                }
            }
        }
        (Value::Array(target), Value::Array(source)) if target.len() == source.len() => {
            for (t, s) in target.iter_mut().zip(source) {
                deep_merge(t, s, api);
            }
        }
        (_, Value::Null) => {}
        (target, source) => *target = source,
    }
}

/// Merges a copy of `source` into `target`, as [`deep_merge`] merges a value it owns: only the
/// parts `target` lacks are copied.
pub(super) fn deep_merge_copy(target: &mut Value, source: &Value, api: &ApiSchema) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source.iter() {
                match target.get_mut(key) {
                    Some(existing) => {
                        if key == "__typename" && keeps_typename(existing, value, api) {
                            continue;
                        }
                        deep_merge_copy(existing, value, api);
                    }
                    None => target.push(key, value.clone()),
                }
            }
        }
        (Value::Array(target), Value::Array(source)) if target.len() == source.len() => {
            for (t, s) in target.iter_mut().zip(source) {
                deep_merge_copy(t, s, api);
            }
        }
        (_, Value::Null) => {}
        (target, source) => *target = source.clone(),
    }
}

fn keeps_typename(existing: &Value, new: &Value, api: &ApiSchema) -> bool {
    match (existing.as_str(), new.as_str()) {
        (Some(_), Some(new)) => matches!(
            api.type_kind(new),
            Some(TypeKind::Interface) | Some(TypeKind::Union) | None
        ),
        _ => false,
    }
}

/// Applies the planner's input rewrites (value setters) to one representation.
pub(super) fn apply_input_rewrites(
    representation: &mut Value,
    rewrites: &[FetchRewrite],
    api: &ApiSchema,
) {
    for rewrite in rewrites {
        if let FetchRewrite::ValueSetter(setter) = rewrite {
            walk(representation, &setter.path, api, &mut |object, key| {
                object.insert(key, Value::String(setter.set_value_to.as_str().into()));
            });
        }
    }
}

/// Applies the planner's output rewrites (key renames) to a fetched value.
pub(super) fn apply_output_rewrites(value: &mut Value, rewrites: &[FetchRewrite], api: &ApiSchema) {
    for rewrite in rewrites {
        if let FetchRewrite::KeyRenamer(renamer) = rewrite {
            walk(value, &renamer.path, api, &mut |object, key| {
                if key == renamer.rename_key_to {
                    return;
                }
                if let Some(found) = object.remove(key) {
                    object.insert(renamer.rename_key_to.as_str(), found);
                }
            });
        }
    }
}

/// Walks `path` over `value` (lists are walked item by item) and calls `at_last` with the
/// object holding the last key.
fn walk(
    value: &mut Value,
    path: &[FetchNodePathSegment],
    api: &ApiSchema,
    at_last: &mut dyn FnMut(&mut Object, &str),
) {
    if let Value::Array(items) = value {
        for item in items {
            walk(item, path, api, at_last);
        }
        return;
    }
    let Some((segment, rest)) = path.split_first() else {
        return;
    };
    let Value::Object(object) = value else {
        return;
    };
    match segment {
        FetchNodePathSegment::TypenameEquals(types) => {
            // An object without `__typename` passes, as does one of a type the set covers.
            let matches = match object.typename() {
                None => true,
                Some(t) => types.iter().any(|c| api.is_possible_type(c, t)),
            };
            if matches {
                walk(value, rest, api, at_last);
            }
        }
        FetchNodePathSegment::Key(key) => {
            if rest.is_empty() {
                at_last(object, key);
            } else if let Some(child) = object.get_mut(key) {
                walk(child, rest, api, at_last);
            }
        }
    }
}
