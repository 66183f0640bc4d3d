//! The stable error codes every subgraph answers with, in `extensions.code`, and the helpers
//! that attach them.

use std::fmt::Display;

use async_graphql::ErrorExtensions;

/// A stable, machine-readable reason a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The input was malformed or out of range; nothing changed.
    BadUserInput,
    /// The operation needs a caller and none (or an invalid token) was presented.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// A referenced object does not exist.
    NotFound,
    /// The request conflicts with existing data (a taken email, a reused idempotency key).
    Conflict,
    /// Not enough stock to reserve what was asked.
    InsufficientStock,
    /// The object is in a state that does not allow the operation.
    InvalidState,
    /// A subgraph this one depends on failed.
    UpstreamFailed,
    /// An unexpected failure inside the subgraph; details are only in the logs.
    Internal,
}

impl Code {
    /// The text written to `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::InsufficientStock => "INSUFFICIENT_STOCK",
            Code::InvalidState => "INVALID_STATE",
            Code::UpstreamFailed => "UPSTREAM_FAILED",
            Code::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// Reads a code back from its text, as a peer subgraph sent it.
    pub fn parse(text: &str) -> Option<Code> {
        [
            Code::BadUserInput,
            Code::Unauthenticated,
            Code::Forbidden,
            Code::NotFound,
            Code::Conflict,
            Code::InsufficientStock,
            Code::InvalidState,
            Code::UpstreamFailed,
            Code::Internal,
        ]
        .into_iter()
        .find(|code| code.as_str() == text)
    }
}

/// Builds a GraphQL error carrying `code` in its extensions.
pub fn error(code: Code, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}

/// Turns unexpected failures (database, I/O) into an `INTERNAL_SERVER_ERROR`, logging the cause.
pub trait ResultExt<T> {
    /// Logs the error with what was being done and hides its details from the client.
    fn internal(self, doing: &str) -> async_graphql::Result<T>;
}

impl<T, E: Display> ResultExt<T> for Result<T, E> {
    fn internal(self, doing: &str) -> async_graphql::Result<T> {
        self.map_err(|err| {
            tracing::error!(error = %err, doing, "internal error");
            error(Code::Internal, format!("internal error while {doing}"))
        })
    }
}
