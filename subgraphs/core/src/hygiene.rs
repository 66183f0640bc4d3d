//! Input hygiene for every subgraph: a request whose variables or argument literals carry a
//! control character (other than tab, line feed and carriage return) or a bidirectional
//! embedding, override or isolate is refused with `BAD_USER_INPUT` before any resolver runs.
//! Such characters are never meant in names, reviews or searches; stored, they break logs and
//! terminals (escape sequences), disguise text (bidi overrides), or fail on PostgreSQL (NUL).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Value, Variables};

use crate::error::Code;

/// The characters refused in text input, with a name for the error message.
pub fn forbidden(c: char) -> Option<&'static str> {
    match c {
        '\t' | '\n' | '\r' => None,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Some("a bidirectional control"),
        c if c.is_control() => Some("a control character"),
        _ => None,
    }
}

/// The first forbidden character of `text`, described for a client.
pub fn first_forbidden(text: &str) -> Option<String> {
    text.chars()
        .find_map(|c| forbidden(c).map(|kind| format!("{kind} (U+{:04X})", u32::from(c))))
}

/// The extension that applies the guard; added to every schema by [`crate::harden`].
pub struct InputHygiene;

impl ExtensionFactory for InputHygiene {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InputHygiene)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for InputHygiene {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        for (name, value) in variables.iter() {
            if let Some(found) = in_value(value) {
                return Err(refusal(&format!("variable `${name}`"), &found));
            }
        }
        if let Some((argument, found)) = in_document(&document) {
            return Err(refusal(&format!("argument `{argument}`"), &found));
        }
        Ok(document)
    }
}

fn refusal(place: &str, found: &str) -> ServerError {
    let mut error = ServerError::new(
        format!("{place} contains {found}, which is not accepted"),
        None,
    );
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", Code::BadUserInput.as_str());
    error.extensions = Some(extensions);
    error
}

/// The first forbidden character in a value's strings (and object keys).
fn in_value(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => first_forbidden(text),
        Value::List(items) => items.iter().find_map(in_value),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(key, value)| first_forbidden(key.as_str()).or_else(|| in_value(value))),
        _ => None,
    }
}

/// The first argument literal of the document holding a forbidden character.
fn in_document(document: &ExecutableDocument) -> Option<(String, String)> {
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node);
    let fragments = document
        .fragments
        .values()
        .map(|fragment| &fragment.node.selection_set.node);
    operations.chain(fragments).find_map(in_selection_set)
}

fn in_selection_set(set: &SelectionSet) -> Option<(String, String)> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            let arguments = field.arguments.iter().chain(
                field
                    .directives
                    .iter()
                    .flat_map(|d| d.node.arguments.iter()),
            );
            for (name, value) in arguments {
                let literal = value.node.clone().into_const();
                if let Some(found) = literal.as_ref().and_then(in_value) {
                    return Some((name.node.to_string(), found));
                }
            }
            in_selection_set(&field.selection_set.node)
        }
        Selection::InlineFragment(fragment) => in_selection_set(&fragment.node.selection_set.node),
        Selection::FragmentSpread(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_refused_and_ordinary_text_is_not() {
        for text in [
            "Zoë",
            "line one\nline two",
            "tab\there",
            "עברית",
            "emoji 🍌",
            "a\r\nb",
        ] {
            assert_eq!(first_forbidden(text), None, "{text:?}");
        }
        for (text, kind) in [
            ("nul\0", "a control character (U+0000)"),
            ("bell\u{7}", "a control character (U+0007)"),
            ("\u{1b}[31mred", "a control character (U+001B)"),
            ("c1\u{85}", "a control character (U+0085)"),
            ("\u{202E}gnp.exe", "a bidirectional control (U+202E)"),
            ("iso\u{2066}late", "a bidirectional control (U+2066)"),
        ] {
            assert_eq!(first_forbidden(text).as_deref(), Some(kind), "{text:?}");
        }
    }
}
