//! The compatibility gate of a client whose old versions stay installed (the mobile app): the
//! API schema of the last release, the current one, and the breaking changes between them that
//! a person has explicitly accepted. Any other breaking change fails the gate.

use std::collections::BTreeSet;

use crate::diff::{Change, DiffError, Severity, diff};

/// The header of an empty allowed-breaking list, as `release` writes it.
pub const ALLOWED_HEADER: &str = "\
# Breaking changes accepted since the last release (`released.graphql`), one path per line as
# `cargo run -p tributary-schema-cli -- diff` prints it: `Product.description`,
# `Query.products(first:)`. Old app versions stay installed for months: list a change only once
# no supported app version uses what it breaks, with a comment saying why.
# `cargo run -p tributary-schema-cli -- release` empties this list when a new version ships.
";

/// The paths of breaking changes a release accepts: one per line, `#` starts a comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed(BTreeSet<String>);

impl Allowed {
    /// Reads the list; blank lines and comments are ignored.
    pub fn parse(text: &str) -> Self {
        Allowed(
            text.lines()
                .map(|line| line.split_once('#').map_or(line, |(path, _)| path).trim())
                .filter(|path| !path.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether a change is accepted: safe, or breaking at a listed path.
    pub fn allows(&self, change: &Change) -> bool {
        change.severity == Severity::Safe || self.0.contains(&change.path)
    }

    /// The listed paths.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// What the gate found between the released and the current API schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Every change, breaking ones first.
    pub changes: Vec<Change>,
    /// The breaking changes no allowed path accepts: the gate fails when there is any.
    pub refused: Vec<Change>,
    /// Listed paths no breaking change needs (left over from an earlier change).
    pub unused: Vec<String>,
}

impl Verdict {
    /// Whether the current schema may ship.
    pub fn passes(&self) -> bool {
        self.refused.is_empty()
    }
}

/// Compares the released API schema with the current one under the allowed list.
pub fn gate(released: &str, current: &str, allowed: &Allowed) -> Result<Verdict, DiffError> {
    let changes = diff(released, current)?;
    let refused = changes
        .iter()
        .filter(|c| !allowed.allows(c))
        .cloned()
        .collect();
    let unused = allowed
        .paths()
        .filter(|path| {
            !changes
                .iter()
                .any(|c| c.severity == Severity::Breaking && c.path == *path)
        })
        .map(str::to_owned)
        .collect();
    Ok(Verdict {
        changes,
        refused,
        unused,
    })
}
