//! Entity references: what a subgraph answers when the router resolves an entity it extends
//! and a field it `@requires` or declares `@external` did not come with the representation.

use crate::error::{Code, error};

/// The error for an `@external` field the router did not pass in an entity representation:
/// `BAD_USER_INPUT`, naming the field and the subgraph that owns it.
pub fn not_provided(field: &str, owner: &str) -> async_graphql::Error {
    error(
        Code::BadUserInput,
        format!("`{field}` is owned by the {owner} subgraph and was not in the representation"),
    )
}
