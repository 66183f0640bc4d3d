//! Checks on client input, each failing with `BAD_USER_INPUT` and a message naming the field.

use async_graphql::ID;

use crate::error::{Code, error};

/// Reads a numeric id; anything else is a bad input naming `field`.
pub fn id(value: &ID, field: &str) -> async_graphql::Result<i64> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| error(Code::BadUserInput, format!("`{field}` is not a valid id")))
}

/// Reads a numeric id, treating a malformed one as "no such object" (for lookups by id).
pub fn lookup_id(value: &ID) -> Option<i64> {
    value.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Trims `value` and checks it is neither empty nor longer than `max` characters.
pub fn text<'a>(value: &'a str, field: &str, max: usize) -> async_graphql::Result<&'a str> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(error(
            Code::BadUserInput,
            format!("`{field}` must not be empty"),
        ));
    }
    if trimmed.chars().count() > max {
        return Err(error(
            Code::BadUserInput,
            format!("`{field}` must be at most {max} characters"),
        ));
    }
    Ok(trimmed)
}

/// Checks a page size is between 1 and `max`.
pub fn page_size(first: i32, max: i32) -> async_graphql::Result<u64> {
    if (1..=max).contains(&first) {
        Ok(first as u64)
    } else {
        Err(error(
            Code::BadUserInput,
            format!("`first` must be between 1 and {max}"),
        ))
    }
}

/// Decodes an opaque pagination cursor (the base-10 offset of the next item).
pub fn cursor(after: Option<&str>) -> async_graphql::Result<u64> {
    match after {
        None => Ok(0),
        Some(text) => text
            .strip_prefix("c")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| error(Code::BadUserInput, "`after` is not a valid cursor")),
    }
}

/// Encodes the cursor of the item at `offset`, the inverse of [`cursor`].
pub fn encode_cursor(offset: u64) -> String {
    format!("c{offset}")
}
