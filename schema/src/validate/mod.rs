//! Rules Apollo's composer enforces and `graphql-composition` does not, checked before
//! composing so that what composes here also composes there. Some guard what `adapt` lets
//! through `graphql-composition`: the sets it adapts are accepted by Apollo only when these
//! hold.
//!
//! - [`provides`]: a field another subgraph `@provides` is `@shareable` where it is resolved.
//! - [`enums`]: an enum used as input and output has the same accessible values everywhere.
//! - [`sharing`]: a field a key selects below its first level is shared by every subgraph
//!   resolving it.
//! - [`satisfiable`]: every field of a type `adapt` relaxed can be planned wherever a query
//!   can reach the type.

mod enums;
mod provides;
mod satisfiable;
mod sharing;

use crate::error::Diagnostic;
use crate::facts::SubgraphFacts;

/// Every violation found.
pub(crate) fn check(subgraphs: &[SubgraphFacts]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    provides::check(subgraphs, &mut diagnostics);
    enums::check(subgraphs, &mut diagnostics);
    sharing::check(subgraphs, &mut diagnostics);
    satisfiable::check(subgraphs, &mut diagnostics);
    diagnostics
}
