//! Composition failures, each naming the subgraphs, type and field it is about where known.

use std::fmt;

use crate::facts::SubgraphFacts;

/// Why a set of subgraphs did not compose into a supergraph.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// No subgraph was given.
    #[error("there is no subgraph to compose")]
    NoSubgraphs,
    /// Two subgraphs were given the same name.
    #[error("subgraph `{0}` is given twice")]
    DuplicateSubgraph(String),
    /// A subgraph's SDL is not valid GraphQL.
    #[error("subgraph `{subgraph}` does not parse: {message}")]
    Parse {
        /// The subgraph's name.
        subgraph: String,
        /// The parser's message, with the offending line.
        message: String,
    },
    /// The subgraphs parse but contradict each other or the federation rules.
    #[error("the subgraphs do not compose:\n{}", list(.0))]
    Composition(Vec<Diagnostic>),
    /// The composed supergraph could not be read back for post-processing: a defect of this
    /// crate or of `graphql-composition`, not of the subgraphs.
    #[error("the composed supergraph is not valid SDL: {0}")]
    Supergraph(String),
}

fn list(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("  - {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One composition error and where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The subgraphs involved, by name; empty when the message names none we know.
    pub subgraphs: Vec<String>,
    /// The type it is about, when known.
    pub type_name: Option<String>,
    /// The field of that type it is about, when known.
    pub field: Option<String>,
    /// The composer's message.
    pub message: String,
    /// Where the type or field is declared in the subgraphs involved, when known.
    pub locations: Vec<Location>,
}

/// A line of one subgraph's SDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The subgraph's name.
    pub subgraph: String,
    /// The line, from 1, of the SDL the subgraph was composed from.
    pub line: usize,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.subgraphs.is_empty() {
            write!(f, "[{}] ", self.subgraphs.join(", "))?;
        }
        match (&self.type_name, &self.field) {
            (Some(t), Some(field)) => write!(f, "{t}.{field}: ")?,
            (Some(t), None) => write!(f, "{t}: ")?,
            _ => {}
        }
        f.write_str(&self.message)?;
        if !self.locations.is_empty() {
            let at: Vec<String> = self
                .locations
                .iter()
                .map(|l| format!("{} line {}", l.subgraph, l.line))
                .collect();
            write!(f, " ({})", at.join(", "))?;
        }
        Ok(())
    }
}

impl Diagnostic {
    /// A diagnostic about `type_name` (and `field`) in `subgraphs`, located in their SDL.
    pub(crate) fn new(
        subgraphs: Vec<String>,
        type_name: &str,
        field: Option<&str>,
        message: String,
        facts: &[SubgraphFacts],
    ) -> Self {
        let mut subgraphs = subgraphs;
        subgraphs.sort();
        subgraphs.dedup();
        let locations = locate(&subgraphs, Some(type_name), field, facts);
        Diagnostic {
            subgraphs,
            type_name: Some(type_name.to_owned()),
            field: field.map(str::to_owned),
            message,
            locations,
        }
    }

    /// Attributes a composer message to subgraphs, a type and a field, reading the names it
    /// mentions against what the subgraphs declare.
    pub(crate) fn attribute(message: &str, facts: &[SubgraphFacts]) -> Self {
        let subgraphs = facts;
        let words: Vec<&str> = message
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| "`\"'[],:;()".contains(c)))
            .map(|w| w.trim_end_matches('.'))
            .filter(|w| !w.is_empty())
            .collect();
        let declares_type = |t: &str| subgraphs.iter().any(|s| s.types.contains_key(t));
        let declares_field = |t: &str, f: &str| {
            subgraphs
                .iter()
                .any(|s| s.types.get(t).is_some_and(|ty| ty.field(f).is_some()))
        };

        // `Type.field`, `Type.field(arg:)` or `Type.field.arg`.
        let coordinate = words.iter().find_map(|w| {
            let mut parts = w.split(['.', '(']);
            let (t, f) = (parts.next()?, parts.next()?);
            declares_field(t, f).then(|| (t.to_owned(), f.to_owned()))
        });
        // Otherwise a type name, and a field of it named elsewhere in the message.
        let (type_name, field) = match coordinate {
            Some((t, f)) => (Some(t), Some(f)),
            None => match words.iter().find(|w| declares_type(w)) {
                Some(t) => {
                    let field = words.iter().find(|f| declares_field(t, f));
                    (Some((*t).to_owned()), field.map(|f| (*f).to_owned()))
                }
                None => (None, None),
            },
        };

        // The subgraphs the message names, or else those declaring what it is about.
        let named: Vec<String> = named_subgraphs(message, subgraphs);
        let subgraphs = if !named.is_empty() {
            named
        } else {
            subgraphs
                .iter()
                .filter(|s| match (&type_name, &field) {
                    (Some(t), Some(f)) => s.types.get(t).is_some_and(|ty| ty.field(f).is_some()),
                    (Some(t), None) => s.types.contains_key(t),
                    _ => false,
                })
                .map(|s| s.name.clone())
                .collect()
        };
        // The composer starts some messages with `[subgraph]`; the list above says it already.
        let message = match message.strip_prefix('[').and_then(|m| m.split_once(']')) {
            Some((name, rest)) if subgraphs.iter().any(|s| s == name) => {
                rest.trim_start_matches(':').trim_start()
            }
            _ => message,
        };
        let locations = locate(&subgraphs, type_name.as_deref(), field.as_deref(), facts);
        Diagnostic {
            subgraphs,
            type_name,
            field,
            message: message.to_owned(),
            locations,
        }
    }
}

/// The lines declaring the field (or, without one, the type) in each named subgraph.
fn locate(
    subgraphs: &[String],
    type_name: Option<&str>,
    field: Option<&str>,
    facts: &[SubgraphFacts],
) -> Vec<Location> {
    let Some(type_name) = type_name else {
        return Vec::new();
    };
    subgraphs
        .iter()
        .filter_map(|name| {
            let ty = facts
                .iter()
                .find(|s| &s.name == name)?
                .types
                .get(type_name)?;
            let line = match field {
                Some(field) => ty.field(field).map_or(ty.line, |f| f.line),
                None => ty.line,
            };
            Some(Location {
                subgraph: name.clone(),
                line,
            })
        })
        .collect()
}

/// The subgraphs a message names, in the ways the composer names them: `[name]`, `"name"`,
/// `` `name` ``, after "subgraph(s)" (with the comma-separated names that follow), or as a
/// plain word when the name is too long to be a word of the message's English (the audit's
/// subgraphs are called `a`, `b`, ...).
fn named_subgraphs(message: &str, subgraphs: &[SubgraphFacts]) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    let mut listing = false;
    for raw in message.split_whitespace() {
        let word = raw.trim_matches(|c: char| "`\"'[]():;.,".contains(c));
        let known = subgraphs.iter().find(|s| s.name == word);
        let marked = raw.starts_with(['[', '"', '`']);
        if let Some(subgraph) = known
            && (listing || marked || word.len() > 3)
            && !named.contains(&subgraph.name)
        {
            named.push(subgraph.name.clone());
        }
        listing = if word == "subgraph" || word == "subgraphs" {
            true
        } else {
            listing && known.is_some() && raw.ends_with(',')
        };
    }
    named.sort();
    named
}
