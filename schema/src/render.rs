//! Writes a supergraph in the layout Apollo's composer uses: one directive per line on types,
//! inline on fields, block-string descriptions, a blank line between definitions. The output
//! depends only on the document, so equal documents are equal bytes.

use std::fmt::Write;

use graphql_tools::parser::schema::{
    Definition, Directive, DirectiveDefinition, InputValue, Type, TypeDefinition, Value,
};

use crate::patch::Document;

const INDENT: &str = "  ";

/// Renders the document as SDL text ending in one newline.
pub(crate) fn render(document: &Document) -> String {
    let blocks: Vec<String> = document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::SchemaDefinition(schema) => {
                let mut out = String::from("schema");
                type_directives(&mut out, &schema.directives);
                out.push_str(if schema.directives.is_empty() {
                    " {\n"
                } else {
                    "\n{\n"
                });
                let roots = [
                    ("query", &schema.query),
                    ("mutation", &schema.mutation),
                    ("subscription", &schema.subscription),
                ];
                for (operation, name) in roots {
                    if let Some(name) = name {
                        let _ = writeln!(out, "{INDENT}{operation}: {name}");
                    }
                }
                out.push('}');
                Some(out)
            }
            Definition::DirectiveDefinition(d) => Some(directive_definition(d)),
            Definition::TypeDefinition(t) => Some(type_definition(t)),
            Definition::TypeExtension(_) => None,
        })
        .collect();
    let mut out = blocks.join("\n\n");
    out.push('\n');
    out
}

fn directive_definition(d: &DirectiveDefinition<'static, String>) -> String {
    let mut out = String::new();
    description(&mut out, d.description.as_deref(), "");
    let _ = write!(out, "directive @{}", d.name);
    arguments(&mut out, &d.arguments, "");
    if d.repeatable {
        out.push_str(" repeatable");
    }
    let locations: Vec<&str> = d.locations.iter().map(|l| l.as_str()).collect();
    let _ = write!(out, " on {}", locations.join(" | "));
    out
}

fn type_definition(t: &TypeDefinition<'static, String>) -> String {
    let mut out = String::new();
    match t {
        TypeDefinition::Scalar(s) => {
            description(&mut out, s.description.as_deref(), "");
            let _ = write!(out, "scalar {}", s.name);
            type_directives(&mut out, &s.directives);
        }
        TypeDefinition::Object(o) => {
            description(&mut out, o.description.as_deref(), "");
            let _ = write!(out, "type {}", o.name);
            implements(&mut out, &o.implements_interfaces);
            type_directives(&mut out, &o.directives);
            fields(&mut out, o.directives.is_empty(), &o.fields);
        }
        TypeDefinition::Interface(i) => {
            description(&mut out, i.description.as_deref(), "");
            let _ = write!(out, "interface {}", i.name);
            implements(&mut out, &i.implements_interfaces);
            type_directives(&mut out, &i.directives);
            fields(&mut out, i.directives.is_empty(), &i.fields);
        }
        TypeDefinition::Union(u) => {
            description(&mut out, u.description.as_deref(), "");
            let _ = write!(out, "union {}", u.name);
            type_directives(&mut out, &u.directives);
            if !u.types.is_empty() {
                let separator = if u.directives.is_empty() { " " } else { "\n " };
                let _ = write!(out, "{separator}= {}", u.types.join(" | "));
            }
        }
        TypeDefinition::Enum(e) => {
            description(&mut out, e.description.as_deref(), "");
            let _ = write!(out, "enum {}", e.name);
            type_directives(&mut out, &e.directives);
            open_block(&mut out, e.directives.is_empty());
            for (i, value) in e.values.iter().enumerate() {
                separate(&mut out, i, value.description.is_some());
                description(&mut out, value.description.as_deref(), INDENT);
                let _ = write!(out, "{INDENT}{}", value.name);
                inline_directives(&mut out, &value.directives);
                out.push('\n');
            }
            out.push('}');
        }
        TypeDefinition::InputObject(i) => {
            description(&mut out, i.description.as_deref(), "");
            let _ = write!(out, "input {}", i.name);
            type_directives(&mut out, &i.directives);
            open_block(&mut out, i.directives.is_empty());
            for (n, field) in i.fields.iter().enumerate() {
                separate(&mut out, n, field.description.is_some());
                input_value(&mut out, field, INDENT);
                out.push('\n');
            }
            out.push('}');
        }
    }
    out
}

fn implements(out: &mut String, interfaces: &[String]) {
    if !interfaces.is_empty() {
        let _ = write!(out, " implements {}", interfaces.join(" & "));
    }
}

/// A blank line before a described member that is not the first, as Apollo writes them.
fn separate(out: &mut String, index: usize, described: bool) {
    if index > 0 && described {
        out.push('\n');
    }
}

fn open_block(out: &mut String, inline: bool) {
    out.push_str(if inline { " {\n" } else { "\n{\n" });
}

fn fields(
    out: &mut String,
    inline: bool,
    fields: &[graphql_tools::parser::schema::Field<'static, String>],
) {
    open_block(out, inline);
    for (i, field) in fields.iter().enumerate() {
        separate(out, i, field.description.is_some());
        description(out, field.description.as_deref(), INDENT);
        let _ = write!(out, "{INDENT}{}", field.name);
        arguments(out, &field.arguments, INDENT);
        let _ = write!(out, ": {}", type_ref(&field.field_type));
        inline_directives(out, &field.directives);
        out.push('\n');
    }
    out.push('}');
}

/// `(a: Int, b: String)`, or one argument per line when any has a description.
fn arguments(out: &mut String, arguments: &[InputValue<'static, String>], indent: &str) {
    if arguments.is_empty() {
        return;
    }
    if arguments.iter().any(|a| a.description.is_some()) {
        out.push_str("(\n");
        let inner = format!("{indent}{INDENT}");
        for argument in arguments {
            input_value(out, argument, &inner);
            out.push('\n');
        }
        let _ = write!(out, "{indent})");
    } else {
        out.push('(');
        for (i, argument) in arguments.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            input_value(out, argument, "");
        }
        out.push(')');
    }
}

fn input_value(out: &mut String, value: &InputValue<'static, String>, indent: &str) {
    description(out, value.description.as_deref(), indent);
    let _ = write!(
        out,
        "{indent}{}: {}",
        value.name,
        type_ref(&value.value_type)
    );
    if let Some(default) = &value.default_value {
        out.push_str(" = ");
        write_value(out, default);
    }
    inline_directives(out, &value.directives);
}

fn type_ref(ty: &Type<'static, String>) -> String {
    match ty {
        Type::NamedType(name) => name.clone(),
        Type::ListType(inner) => format!("[{}]", type_ref(inner)),
        Type::NonNullType(inner) => format!("{}!", type_ref(inner)),
    }
}

/// Directives of a type or of the schema, one per line.
fn type_directives(out: &mut String, directives: &[Directive<'static, String>]) {
    for d in directives {
        let _ = write!(out, "\n{INDENT}");
        directive(out, d);
    }
}

fn inline_directives(out: &mut String, directives: &[Directive<'static, String>]) {
    for d in directives {
        out.push(' ');
        directive(out, d);
    }
}

fn directive(out: &mut String, d: &Directive<'static, String>) {
    let _ = write!(out, "@{}", d.name);
    if !d.arguments.is_empty() {
        out.push('(');
        for (i, (name, value)) in d.arguments.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{name}: ");
            write_value(out, value);
        }
        out.push(')');
    }
}

fn write_value(out: &mut String, value: &Value<'static, String>) {
    match value {
        Value::Variable(name) => {
            let _ = write!(out, "${name}");
        }
        Value::Int(n) => {
            let _ = write!(out, "{}", n.as_i64().unwrap_or_default());
        }
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Value::String(s) => quoted(out, s),
        Value::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Null => out.push_str("null"),
        Value::Enum(e) => out.push_str(e),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{name}: ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A GraphQL string literal.
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A description as a block string on its own lines.
fn description(out: &mut String, description: Option<&str>, indent: &str) {
    let Some(text) = description else {
        return;
    };
    let _ = writeln!(out, "{indent}\"\"\"");
    for line in text.replace("\"\"\"", "\\\"\"\"").lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    let _ = writeln!(out, "{indent}\"\"\"");
}
