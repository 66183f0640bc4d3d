//! Facts about a prepared operation that the later stages need, computed once per cached plan:
//! its static cache hint, the page-size arguments it passes, the deprecated fields it uses.

use crate::config::CacheConfig;
use crate::supergraph::api::{ApiSchema, named_type};
use crate::supergraph::planner::{AstValue, FieldSelection, SelectionItem, SelectionSet};

/// What the operation selects, as far as caching, limits and deprecation care.
#[derive(Debug, Default, Clone)]
pub struct Analysis {
    /// The strictest max-age hint among the selected types and fields, if any has one.
    pub max_age: Option<u32>,
    /// Page-size arguments passed: `(Type.field, argument name, value)`.
    pub page_arguments: Vec<(String, String, AstValue)>,
    /// Deprecated fields selected, as `Type.field`.
    pub deprecated: Vec<String>,
}

/// Walks the normalized operation rooted at `root` against the API schema.
pub fn analyse(
    api: &ApiSchema,
    root: &str,
    selection: &SelectionSet,
    hints: &CacheConfig,
    page_arguments: &[String],
) -> Analysis {
    let mut analysis = Analysis::default();
    walk(api, root, selection, hints, page_arguments, &mut analysis);
    analysis.deprecated.sort();
    analysis.deprecated.dedup();
    analysis
}

fn walk(
    api: &ApiSchema,
    parent: &str,
    selection: &SelectionSet,
    hints: &CacheConfig,
    page_arguments: &[String],
    out: &mut Analysis,
) {
    for item in &selection.items {
        match item {
            SelectionItem::Field(field) => {
                visit_field(api, parent, field, hints, page_arguments, out)
            }
            SelectionItem::InlineFragment(fragment) => walk(
                api,
                &fragment.type_condition,
                &fragment.selections,
                hints,
                page_arguments,
                out,
            ),
            SelectionItem::FragmentSpread(_) => {}
        }
    }
}

fn visit_field(
    api: &ApiSchema,
    parent: &str,
    field: &FieldSelection,
    hints: &CacheConfig,
    page_arguments: &[String],
    out: &mut Analysis,
) {
    if field.name.starts_with("__") {
        return;
    }
    let Some(definition) = api.field(parent, &field.name) else {
        return;
    };
    let coordinate = format!("{parent}.{}", field.name);
    let returns = named_type(&definition.field_type);
    let hint = hints
        .fields
        .get(&coordinate)
        .or_else(|| hints.types.get(returns))
        .copied();
    if let Some(hint) = hint {
        out.max_age = Some(out.max_age.map_or(hint, |current| current.min(hint)));
    }
    if definition.directives.iter().any(|d| d.name == "deprecated") {
        out.deprecated.push(coordinate.clone());
    }
    if let Some(arguments) = &field.arguments {
        for name in page_arguments {
            if let Some(value) = arguments.get_argument(name) {
                out.page_arguments
                    .push((coordinate.clone(), name.clone(), value.clone()));
            }
        }
    }
    if !field.selections.items.is_empty() {
        walk(api, returns, &field.selections, hints, page_arguments, out);
    }
}
