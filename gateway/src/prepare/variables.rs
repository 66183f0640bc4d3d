//! Coercing the client's variables against the operation's variable definitions and the API
//! schema, as the GraphQL specification's `CoerceVariableValues` does: defaults applied,
//! nulls checked, scalars and enums checked, input objects checked field by field.

use graphql_tools::static_graphql::query::{Type, Value as AstValue, VariableDefinition};
use serde_json::{Map, Value};

use crate::supergraph::api::{ApiSchema, TypeKind};

/// A variable that could not be coerced; the message names the variable and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct VariableError(pub String);

/// Coerces `provided` against `definitions`, returning every variable's value (defaults
/// included) or the first problem found.
pub fn coerce(
    schema: &ApiSchema,
    definitions: &[VariableDefinition],
    provided: &Map<String, Value>,
) -> Result<Map<String, Value>, VariableError> {
    let mut coerced = Map::with_capacity(definitions.len());
    for definition in definitions {
        let name = &definition.name;
        match provided.get(name) {
            None => {
                if let Some(default) = &definition.default_value {
                    coerced.insert(name.clone(), ast_to_json(default));
                } else if matches!(definition.var_type, Type::NonNullType(_)) {
                    return Err(VariableError(format!(
                        "Variable \"${name}\" of required type \"{}\" was not provided.",
                        definition.var_type
                    )));
                }
            }
            Some(value) => {
                let value =
                    coerce_value(schema, &definition.var_type, value).map_err(|problem| {
                        VariableError(format!(
                            "Variable \"${name}\" got invalid value {}; {problem}",
                            short(value)
                        ))
                    })?;
                coerced.insert(name.clone(), value);
            }
        }
    }
    Ok(coerced)
}

fn coerce_value(schema: &ApiSchema, ty: &Type, value: &Value) -> Result<Value, String> {
    match ty {
        Type::NonNullType(inner) => {
            if value.is_null() {
                Err(format!(
                    "Expected non-nullable type \"{ty}\" not to be null."
                ))
            } else {
                coerce_value(schema, inner, value)
            }
        }
        _ if value.is_null() => Ok(Value::Null),
        Type::ListType(inner) => match value {
            Value::Array(items) => items
                .iter()
                .map(|item| coerce_value(schema, inner, item))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            single => Ok(Value::Array(vec![coerce_value(schema, inner, single)?])),
        },
        Type::NamedType(name) => coerce_named(schema, name, value),
    }
}

fn coerce_named(schema: &ApiSchema, name: &str, value: &Value) -> Result<Value, String> {
    match name {
        "Int" => match value.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(value.clone()),
            _ => Err(format!(
                "Int cannot represent non 32-bit signed integer value: {}",
                short(value)
            )),
        },
        "Float" => match value {
            Value::Number(_) => Ok(value.clone()),
            _ => Err(format!(
                "Float cannot represent non numeric value: {}",
                short(value)
            )),
        },
        "String" => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(format!(
                "String cannot represent a non string value: {}",
                short(value)
            )),
        },
        "Boolean" => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(format!(
                "Boolean cannot represent a non boolean value: {}",
                short(value)
            )),
        },
        "ID" => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Value::String(n.to_string())),
            _ => Err(format!("ID cannot represent value: {}", short(value))),
        },
        _ => match schema.type_kind(name) {
            Some(TypeKind::Scalar) => Ok(value.clone()),
            Some(TypeKind::Enum) => match value {
                Value::String(s) if schema.enum_has_value(name, s) => Ok(value.clone()),
                _ => Err(format!(
                    "Value {} does not exist in \"{name}\" enum.",
                    short(value)
                )),
            },
            Some(TypeKind::InputObject) => coerce_input_object(schema, name, value),
            _ => Err(format!("\"{name}\" is not an input type.")),
        },
    }
}

fn coerce_input_object(schema: &ApiSchema, name: &str, value: &Value) -> Result<Value, String> {
    let Value::Object(given) = value else {
        return Err(format!("Expected type \"{name}\" to be an object."));
    };
    let fields = schema.input_fields(name).unwrap_or(&[]);
    if let Some(unknown) = given.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        return Err(format!(
            "Field \"{unknown}\" is not defined by type \"{name}\"."
        ));
    }
    let mut out = Map::with_capacity(fields.len());
    for field in fields {
        match given.get(&field.name) {
            Some(v) => {
                out.insert(
                    field.name.clone(),
                    coerce_value(schema, &field.value_type, v)?,
                );
            }
            None => {
                if let Some(default) = &field.default_value {
                    out.insert(field.name.clone(), ast_to_json(default));
                } else if matches!(field.value_type, Type::NonNullType(_)) {
                    return Err(format!(
                        "Field \"{}\" of required type \"{}\" was not provided.",
                        field.name, field.value_type
                    ));
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Converts a constant GraphQL value from an operation to JSON.
pub fn ast_to_json(value: &AstValue) -> Value {
    match value {
        AstValue::Variable(_) | AstValue::Null => Value::Null,
        AstValue::Int(n) => n.as_i64().map(Value::from).unwrap_or(Value::Null),
        AstValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AstValue::String(s) => Value::String(s.clone()),
        AstValue::Boolean(b) => Value::Bool(*b),
        AstValue::Enum(e) => Value::String(e.clone()),
        AstValue::List(items) => Value::Array(items.iter().map(ast_to_json).collect()),
        AstValue::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), ast_to_json(v)))
                .collect(),
        ),
    }
}

/// A value shown in an error message, cut short when long.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}
