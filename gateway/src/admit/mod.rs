//! Admission: everything that decides whether a request may go on before its document is
//! parsed: body and batch sizes, the persisted document or APQ hash it names, the safelist,
//! the caller's token (`auth.rs`), the session cookie it may carry instead (`session.rs`), the
//! client's and user's request budgets (`rate_limit.rs`).

pub mod auth;
pub mod persisted;
pub mod rate_limit;
pub mod session;

use std::sync::Arc;

use crate::config::Config;
use crate::error::{Code, GraphqlError};
use crate::request::{Caller, OperationType, Request};
use auth::Authenticator;
use persisted::{Manifest, Persisted, Registration};
use rate_limit::{Limited, RateLimits};
use session::Sessions;

/// A request that may go on: the document it runs and what to remember once it prepares.
pub struct Admitted {
    /// The document text.
    pub document: Arc<str>,
    /// An APQ document to register once it has prepared without error.
    pub registration: Option<Registration>,
}

/// The admission rules of one engine.
pub struct Admission {
    persisted: Persisted,
    auth: Option<Arc<Authenticator>>,
    limits: Option<Arc<RateLimits>>,
    sessions: Option<Arc<Sessions>>,
    max_batch: usize,
    max_body_bytes: usize,
}

impl Admission {
    /// Rules from the configuration, with the persisted operations of `manifest` and the
    /// token verifier `auth` (none when tokens are not verified at the engine), the rate
    /// `limits` (none when no budget is set) and the cookie `sessions` (none when off).
    pub fn new(
        config: &Config,
        manifest: Option<Manifest>,
        auth: Option<Arc<Authenticator>>,
        limits: Option<Arc<RateLimits>>,
        sessions: Option<Arc<Sessions>>,
    ) -> Admission {
        Admission {
            persisted: Persisted::new(&config.persisted, manifest),
            auth,
            limits,
            sessions,
            max_batch: config.server.max_batch,
            max_body_bytes: config.server.max_body_bytes,
        }
    }

    /// Trades a session cookie for its session's token (when cookie sessions are on), then
    /// verifies the caller's token, when tokens are verified at the engine, and sets its
    /// claims; a token that does not verify, or a session store that fails, refuses the
    /// request.
    pub async fn authenticate(&self, request: &mut Request) -> Result<(), GraphqlError> {
        if let Some(sessions) = &self.sessions {
            sessions.resume(request).await?;
        }
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        auth.authenticate(&mut request.caller).await.map_err(|err| {
            tracing::debug!(error = %err, "token refused");
            err.to_graphql()
        })
    }

    /// Refuses a mutation over a session cookie without the CSRF header or from an origin
    /// that is not allowed.
    pub fn check_csrf(
        &self,
        caller: &Caller,
        operation: OperationType,
    ) -> Result<(), GraphqlError> {
        match &self.sessions {
            Some(sessions) => sessions.check_csrf(caller, operation),
            None => Ok(()),
        }
    }

    /// Counts the request against its client's and user's budgets.
    pub async fn limit(&self, request: &Request) -> Result<(), Limited> {
        match &self.limits {
            Some(limits) => limits.check(request).await,
            None => Ok(()),
        }
    }

    /// Admits one request: finds its document and enforces the safelist.
    pub fn admit(&self, request: &Request) -> Result<Admitted, GraphqlError> {
        let resolved = self.persisted.resolve(request)?;
        let Some(document) = resolved.document else {
            return Err(GraphqlError::new(
                Code::BadRequest,
                "the request has no `query`",
            ));
        };
        Ok(Admitted {
            document,
            registration: resolved.registration,
        })
    }

    /// Remembers an APQ document that prepared without error.
    pub fn register(&self, registration: Registration) {
        self.persisted.register(registration);
    }

    /// Whether a batch of `len` operations may run.
    pub fn batch(&self, len: usize) -> Result<(), GraphqlError> {
        let max = self.max_batch;
        if max == 0 {
            return Err(GraphqlError::new(
                Code::BatchingNotEnabled,
                "batched requests are not accepted here",
            ));
        }
        if len == 0 || len > max {
            return Err(GraphqlError::new(
                Code::BatchLimitExceeded,
                format!("a batch must hold 1 to {max} operations"),
            ));
        }
        Ok(())
    }

    /// The largest body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The refusal of a body over [`Self::max_body_bytes`].
    pub fn body_too_large(&self) -> GraphqlError {
        let limit = self.max_body_bytes;
        GraphqlError::new(
            Code::PayloadTooLarge,
            format!("the request body is larger than the {limit} bytes accepted"),
        )
    }

    /// The refusal of a request that names no operation (no document, persisted id or hash).
    pub fn no_operation() -> GraphqlError {
        GraphqlError::new(Code::BadRequest, "the request has no `query`")
    }
}
