//! Limits on an operation's shape, checked on the parsed document before validation so a
//! hostile document is refused before any costly work. Fragment spreads are expanded with
//! memoisation, so the check is linear in the document even when expansion would not be.

use std::collections::HashMap;

use crate::config::Limits;
use crate::error::Code;
use graphql_tools::static_graphql::query::{Definition, Document, Selection, SelectionSet};

/// Which limit an operation broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Nested too deep.
    #[error("the operation is nested {found} levels deep; at most {max} are allowed")]
    Depth {
        /// Depth found.
        found: u64,
        /// Configured maximum.
        max: u32,
    },
    /// Brackets nested too deep in the document text.
    #[error("the document nests brackets more than {max} levels deep")]
    Nesting {
        /// Configured maximum.
        max: usize,
    },
    /// Too many fields.
    #[error("the operation selects {found} fields; at most {max} are allowed")]
    Fields {
        /// Fields found (saturating).
        found: u64,
        /// Configured maximum.
        max: u64,
    },
    /// Too many aliases.
    #[error("the operation uses {found} aliases; at most {max} are allowed")]
    Aliases {
        /// Aliases found (saturating).
        found: u64,
        /// Configured maximum.
        max: u64,
    },
    /// Too many root fields.
    #[error("the operation selects {found} root fields; at most {max} are allowed")]
    RootFields {
        /// Root fields found (saturating).
        found: u64,
        /// Configured maximum.
        max: u64,
    },
}

impl LimitError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> Code {
        match self {
            LimitError::Depth { .. } | LimitError::Nesting { .. } => Code::MaxDepthExceeded,
            LimitError::Fields { .. } => Code::MaxFieldsExceeded,
            LimitError::Aliases { .. } => Code::MaxAliasesExceeded,
            LimitError::RootFields { .. } => Code::MaxRootFieldsExceeded,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Shape {
    depth: u64,
    fields: u64,
    aliases: u64,
    root_fields: u64,
}

struct Walker<'a> {
    fragments: HashMap<&'a str, &'a SelectionSet>,
    memo: HashMap<&'a str, Shape>,
    visiting: Vec<&'a str>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Shape {
        let mut shape = Shape::default();
        for selection in &set.items {
            let inner = match selection {
                Selection::Field(field) => {
                    let child = self.selection_set(&field.selection_set);
                    Shape {
                        depth: child.depth.saturating_add(1),
                        fields: child.fields.saturating_add(1),
                        aliases: child
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                        root_fields: 1,
                    }
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.selection_set),
                Selection::FragmentSpread(spread) => self.fragment(&spread.fragment_name),
            };
            shape.depth = shape.depth.max(inner.depth);
            shape.fields = shape.fields.saturating_add(inner.fields);
            shape.aliases = shape.aliases.saturating_add(inner.aliases);
            shape.root_fields = shape.root_fields.saturating_add(inner.root_fields);
        }
        shape
    }

    fn fragment(&mut self, name: &'a str) -> Shape {
        if let Some(shape) = self.memo.get(name) {
            return *shape;
        }
        // A cycle is a validation error reported later; here it only must not recurse forever.
        if self.visiting.contains(&name) {
            return Shape::default();
        }
        let Some(set) = self.fragments.get(name).copied() else {
            return Shape::default();
        };
        self.visiting.push(name);
        let shape = self.selection_set(set);
        self.visiting.pop();
        self.memo.insert(name, shape);
        shape
    }
}

/// Checks the operation `operation_name` (or every operation) of `document` against `limits`.
pub fn check(
    document: &Document,
    operation_name: Option<&str>,
    limits: &Limits,
) -> Result<(), LimitError> {
    let mut walker = Walker {
        fragments: HashMap::new(),
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    for definition in &document.definitions {
        if let Definition::Fragment(fragment) = definition {
            walker
                .fragments
                .insert(&fragment.name, &fragment.selection_set);
        }
    }
    for definition in &document.definitions {
        let Definition::Operation(operation) = definition else {
            continue;
        };
        let (name, set) = super::operation_parts(operation);
        if operation_name.is_some() && name != operation_name {
            continue;
        }
        let shape = walker.selection_set(set);
        if shape.depth > u64::from(limits.max_depth) {
            return Err(LimitError::Depth {
                found: shape.depth,
                max: limits.max_depth,
            });
        }
        if shape.fields > limits.max_fields {
            return Err(LimitError::Fields {
                found: shape.fields,
                max: limits.max_fields,
            });
        }
        if shape.aliases > limits.max_aliases {
            return Err(LimitError::Aliases {
                found: shape.aliases,
                max: limits.max_aliases,
            });
        }
        if shape.root_fields > limits.max_root_fields {
            return Err(LimitError::RootFields {
                found: shape.root_fields,
                max: limits.max_root_fields,
            });
        }
    }
    Ok(())
}

/// Checks that brackets in `text` (outside strings and comments) nest at most `max` deep.
pub fn check_nesting(text: &str, max: usize) -> Result<(), LimitError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return Err(LimitError::Nesting { max });
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_nesting;

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        let deep = format!("{}{}", "{ a ".repeat(5), "}".repeat(5));
        assert!(check_nesting(&deep, 5).is_ok());
        assert!(check_nesting(&deep, 4).is_err());
        let quoted = r#"{ f(s: "{{{{{{", b: """ [[[[[[ \""" ((((( """) # {{{{{{
        }"#;
        assert!(check_nesting(quoted, 2).is_ok());
        assert!(check_nesting("{ f(a: [[[[1]]]]) }", 5).is_err());
        assert!(check_nesting("", 0).is_ok());
    }
}
