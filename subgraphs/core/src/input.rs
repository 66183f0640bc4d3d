//! Checks on client input, each failing with `BAD_USER_INPUT` and a message naming the field.

use std::collections::BTreeMap;

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

/// The largest offset a cursor may carry: far past any real listing, and small enough that
/// `offset + limit` neither overflows nor exceeds the `i64` a database binds.
const MAX_CURSOR_OFFSET: u64 = i32::MAX as u64;

/// Decodes an opaque pagination cursor (the base-10 offset of the next item); offsets beyond
/// any real listing are refused like garbage, so the arithmetic on them cannot overflow.
pub fn cursor(after: Option<&str>) -> async_graphql::Result<u64> {
    match after {
        None => Ok(0),
        Some(text) => text
            .strip_prefix("c")
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|offset| *offset <= MAX_CURSOR_OFFSET)
            .ok_or_else(|| error(Code::BadUserInput, "`after` is not a valid cursor")),
    }
}

/// Encodes the cursor of the item at `offset`, the inverse of [`cursor`].
pub fn encode_cursor(offset: u64) -> String {
    format!("c{offset}")
}

/// Validates order-like lines of `(product id, quantity)` and merges those naming the same
/// product, keyed (and so ordered) by product id: 1 to `max_lines` lines, each quantity at
/// least 1 and each product's total at most `max_quantity`.
pub fn merged_lines<'a, I>(
    lines: I,
    max_lines: usize,
    max_quantity: i32,
) -> async_graphql::Result<BTreeMap<i64, i32>>
where
    I: IntoIterator<Item = (&'a ID, i32)>,
    I::IntoIter: ExactSizeIterator,
{
    let lines = lines.into_iter();
    if lines.len() == 0 || lines.len() > max_lines {
        return Err(error(
            Code::BadUserInput,
            format!("`lines` must hold 1 to {max_lines} lines"),
        ));
    }
    let mut merged = BTreeMap::new();
    for (product_id, quantity) in lines {
        let product_id = id(product_id, "productId")?;
        let total: &mut i32 = merged.entry(product_id).or_default();
        *total = total.saturating_add(quantity);
        if quantity < 1 || *total > max_quantity {
            return Err(error(
                Code::BadUserInput,
                format!("`quantity` must be between 1 and {max_quantity} per product"),
            ));
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(err: &async_graphql::Error) -> Option<String> {
        err.extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .map(ToString::to_string)
    }

    #[test]
    fn cursors_beyond_any_listing_are_bad_input() {
        assert_eq!(cursor(None).ok(), Some(0));
        assert_eq!(cursor(Some("c2147483647")).ok(), Some(2_147_483_647));
        for text in [
            "c2147483648",
            "c9223372036854775808",
            "c18446744073709551615",
            "x1",
        ] {
            let err = cursor(Some(text)).expect_err(text);
            assert_eq!(code(&err).as_deref(), Some("\"BAD_USER_INPUT\""), "{text}");
        }
    }

    #[test]
    fn lines_merge_by_product_within_limits() {
        let (one, two) = (ID::from("1"), ID::from("2"));
        let merged = merged_lines([(&two, 1), (&one, 2), (&two, 3)], 3, 4).expect("valid lines");
        assert_eq!(merged.into_iter().collect::<Vec<_>>(), [(1, 2), (2, 4)]);
        let refused: [&[(&ID, i32)]; 5] = [
            &[],
            &[(&one, 1), (&one, 1), (&one, 1), (&one, 1)],
            &[(&one, 0)],
            &[(&one, 3), (&one, 2)],
            &[(&one, 1), (&two, -1)],
        ];
        for lines in refused {
            let err = merged_lines(lines.iter().copied(), 3, 4).expect_err("refused");
            assert_eq!(code(&err).as_deref(), Some("\"BAD_USER_INPUT\""));
        }
    }
}
