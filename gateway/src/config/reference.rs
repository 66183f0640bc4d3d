//! The configuration reference, generated from the types: a JSON schema for editors and
//! `docs/config.md` for people. A test keeps the checked-in copies equal to these.

use std::fmt::Write as _;

use serde_json::Value;

use super::Config;

/// The configuration's JSON schema, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Config);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The configuration reference in Markdown: one table per section, each key with its type,
/// default and description.
pub fn markdown() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(Value::Null);
    let definitions = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut out = String::from(
        "# Engine configuration reference\n\n\
         Generated from the engine's configuration types (`gateway/src/config/`); a test fails \
         when this file differs from them (`UPDATE_REFERENCE=1 cargo nextest run -p \
         tributary-gateway config` rewrites it).\n\n\
         The engine reads one TOML file in these sections; every key is optional. Any key can \
         be overridden from the environment as `TRIBUTARY_<SECTION>__<KEY>` (for example \
         `TRIBUTARY_SUBGRAPHS__TIMEOUT_MS=5000`). Unknown keys are refused, naming the key and \
         where it came from.\n",
    );
    let sections = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (section, property) in &sections {
        let definition = resolve(property, &definitions);
        let about = description(property).or_else(|| description(&definition));
        let _ = write!(out, "\n## `[{section}]`\n\n");
        if let Some(about) = about {
            let _ = writeln!(out, "{about}\n");
        }
        out.push_str("| key | type | default | meaning |\n|---|---|---|---|\n");
        let keys = definition
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, field) in &keys {
            let field_type = type_name(field, &definitions);
            let default = field
                .get("default")
                .map(|d| format!("`{d}`"))
                .unwrap_or_else(|| "".to_owned());
            let meaning = description(field).unwrap_or_default().replace('\n', " ");
            let _ = writeln!(out, "| `{key}` | {field_type} | {default} | {meaning} |");
        }
    }
    out
}

fn description(value: &Value) -> Option<String> {
    value
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Follows a `$ref` into the definitions.
fn resolve(value: &Value, definitions: &Value) -> Value {
    let reference = value.get("$ref").and_then(Value::as_str).or_else(|| {
        value
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|all| all.first())
            .and_then(|first| first.get("$ref"))
            .and_then(Value::as_str)
    });
    match reference.and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => definitions.get(name).cloned().unwrap_or(Value::Null),
        None => value.clone(),
    }
}

/// A short type name for the reference table.
fn type_name(field: &Value, definitions: &Value) -> String {
    if let Some(name) = field
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return format!("`{name}`");
    }
    let _ = definitions;
    match field.get("type") {
        Some(Value::String(t)) if t == "array" => {
            let items = field.get("items").map(|i| type_name(i, definitions));
            format!("list of {}", items.unwrap_or_else(|| "values".to_owned()))
        }
        Some(Value::String(t)) if t == "object" => "table".to_owned(),
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => {
            types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect::<Vec<_>>()
                .join(" or ")
                + " (optional)"
        }
        _ => "value".to_owned(),
    }
}
