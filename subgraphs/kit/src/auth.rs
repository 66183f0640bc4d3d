//! Tokens and callers: accounts issues HS256 JWTs, every subgraph verifies the one the gateway
//! forwards in `Authorization: Bearer ...`.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Context;
use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Code, error};

/// The issuer written to and required in every token.
const ISSUER: &str = "tributary";

/// The secret used when none is configured; fine on a laptop, refused by nothing, so set
/// `TRIBUTARY_JWT_SECRET` anywhere real.
pub const DEV_SECRET: &str = "tributary-development-secret";

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    /// The token's signature, expiry or issuer did not check out.
    #[error("the token is invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// The claims of a Tributary token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The subject: a user id, or `service:<name>` for a subgraph calling another.
    pub sub: String,
    /// Space-separated scopes (`user`, `inventory:reserve`, ...).
    pub scope: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Always [`ISSUER`].
    pub iss: String,
    /// The user's handle, for subgraphs that show who did something without asking accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl Claims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }

    /// The numeric user id of the subject, when the subject is a user.
    pub fn user_id(&self) -> async_graphql::Result<i64> {
        self.sub
            .parse()
            .map_err(|_| error(Code::Forbidden, "the caller is not a user"))
    }
}

/// The verified caller of one request, or none; put in the request data by the server.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The verified claims, when a valid token was presented.
    pub claims: Option<Claims>,
    /// The raw bearer token, so a subgraph can forward it when it calls a peer.
    pub token: Option<String>,
}

/// Issues and verifies tokens with one shared HS256 secret.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl Auth {
    /// An authority signing with `secret`; issued tokens live for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Auth {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                validation,
                ttl,
            }),
        }
    }

    /// How long issued tokens stay valid.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Signs a user's token: `sub` is the user id, the scope is `user`.
    pub fn issue_user(&self, user_id: i64, username: &str) -> Result<String, AuthError> {
        self.issue(&user_id.to_string(), &["user"], Some(username))
    }

    /// Signs a short token for subgraph `service` calling a peer with the given scopes.
    pub fn issue_service(&self, service: &str, scopes: &[&str]) -> Result<String, AuthError> {
        self.issue(&format!("service:{service}"), scopes, None)
    }

    fn issue(
        &self,
        subject: &str,
        scopes: &[&str],
        username: Option<&str>,
    ) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            scope: scopes.join(" "),
            iat: now,
            exp: now + self.inner.ttl.as_secs() as i64,
            iss: ISSUER.to_owned(),
            username: username.map(str::to_owned),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )?)
    }

    /// Verifies a token's signature, expiry and issuer.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        Ok(
            jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)?
                .claims,
        )
    }

    /// Reads the caller from request headers: no header is an anonymous caller, a bad one an error.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Caller {
                claims: None,
                token: None,
            });
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Malformed)?;
        let claims = self.verify(token)?;
        Ok(Caller {
            claims: Some(claims),
            token: Some(token.to_owned()),
        })
    }
}

/// The caller's claims, or `UNAUTHENTICATED` when the request carried no valid token.
pub fn require_caller<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Claims> {
    ctx.data_opt::<Caller>()
        .and_then(|caller| caller.claims.as_ref())
        .ok_or_else(|| {
            error(
                Code::Unauthenticated,
                "this operation needs a signed-in caller",
            )
        })
}

/// The calling user's id, or `UNAUTHENTICATED` / `FORBIDDEN`.
pub fn require_user(ctx: &Context<'_>) -> async_graphql::Result<i64> {
    let claims = require_caller(ctx)?;
    if !claims.has_scope("user") {
        return Err(error(Code::Forbidden, "this operation is for users"));
    }
    claims.user_id()
}

/// The caller's claims when they grant `scope`, else `UNAUTHENTICATED` / `FORBIDDEN`.
pub fn require_scope<'a>(ctx: &Context<'a>, scope: &str) -> async_graphql::Result<&'a Claims> {
    let claims = require_caller(ctx)?;
    if claims.has_scope(scope) {
        Ok(claims)
    } else {
        Err(error(
            Code::Forbidden,
            format!("this operation needs the `{scope}` scope"),
        ))
    }
}
