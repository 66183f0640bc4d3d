//! Federation field sets (`@key(fields:)`, `@requires`, `@provides`): parsing and a canonical form.

/// One selection of a field set: a field with its sub-selections, or an inline fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// `name { ... }`
    Field {
        /// The field's name (field sets carry no aliases or arguments).
        name: String,
        /// Its sub-selections, empty for a leaf.
        children: Vec<Selection>,
    },
    /// `... on Type { ... }`
    Fragment {
        /// The type condition, when there is one.
        on: Option<String>,
        /// The fragment's selections.
        children: Vec<Selection>,
    },
}

/// Parses a field set; `None` when it is not one (composition reports those, not us).
pub(crate) fn parse(text: &str) -> Option<Vec<Selection>> {
    let tokens = tokenize(text)?;
    let mut at = 0;
    let selections = parse_selections(&tokens, &mut at)?;
    (at == tokens.len()).then_some(selections)
}

/// The field set written one way: tokens separated by single spaces (`a b { c }`), so that two
/// spellings of one key compare equal.
pub(crate) fn canonical(text: &str) -> String {
    match tokenize(text) {
        Some(tokens) => tokens.join(" "),
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

fn tokenize(text: &str) -> Option<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == ',' {
            chars.next();
        } else if c == '{' || c == '}' {
            tokens.push(c.to_string());
            chars.next();
        } else if c == '.' {
            for _ in 0..3 {
                (chars.next() == Some('.')).then_some(())?;
            }
            tokens.push("...".to_owned());
        } else if c == '_' || c.is_ascii_alphanumeric() {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c == '_' || c.is_ascii_alphanumeric() {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(name);
        } else {
            return None;
        }
    }
    Some(tokens)
}

fn parse_selections(tokens: &[String], at: &mut usize) -> Option<Vec<Selection>> {
    let mut selections = Vec::new();
    while let Some(token) = tokens.get(*at) {
        match token.as_str() {
            "}" => break,
            "{" => return None,
            "..." => {
                *at += 1;
                let on = if tokens.get(*at).map(String::as_str) == Some("on") {
                    *at += 2;
                    Some(tokens.get(*at - 1)?.clone())
                } else {
                    None
                };
                let children = parse_block(tokens, at)?;
                selections.push(Selection::Fragment { on, children });
            }
            name => {
                let name = name.to_owned();
                *at += 1;
                let children = if tokens.get(*at).map(String::as_str) == Some("{") {
                    parse_block(tokens, at)?
                } else {
                    Vec::new()
                };
                selections.push(Selection::Field { name, children });
            }
        }
    }
    Some(selections)
}

fn parse_block(tokens: &[String], at: &mut usize) -> Option<Vec<Selection>> {
    (tokens.get(*at).map(String::as_str) == Some("{")).then_some(())?;
    *at += 1;
    let children = parse_selections(tokens, at)?;
    (tokens.get(*at).map(String::as_str) == Some("}")).then_some(())?;
    *at += 1;
    Some(children)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_ignores_layout() {
        assert_eq!(
            canonical("id pid category{id tag}"),
            "id pid category { id tag }"
        );
        assert_eq!(canonical(" id\n  pid "), "id pid");
    }

    #[test]
    fn parses_nested_fields_and_fragments() {
        let parsed = parse("id owner { ... on User { id } }");
        let leaf = |name: &str| Selection::Field {
            name: name.to_owned(),
            children: Vec::new(),
        };
        let expected = vec![
            leaf("id"),
            Selection::Field {
                name: "owner".to_owned(),
                children: vec![Selection::Fragment {
                    on: Some("User".to_owned()),
                    children: vec![leaf("id")],
                }],
            },
        ];
        assert_eq!(parsed, Some(expected));
        assert_eq!(parse("id {"), None);
    }
}
