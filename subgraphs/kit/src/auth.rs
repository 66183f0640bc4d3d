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
pub const ISSUER: &str = "tributary";

/// The secret used when none is configured; fine on a laptop, refused in production by
/// [`check_secret`], so set `TRIBUTARY_JWT_SECRET` anywhere real.
pub const DEV_SECRET: &str = "tributary-development-secret";

/// The shortest secret accepted in production: 256 bits, as HS256 wants.
pub const MIN_SECRET_BYTES: usize = 32;

/// How long a service token lives, whatever the user token lifetime: it is signed right before
/// the one call it authorizes, so a leaked one is soon worthless.
pub const SERVICE_TTL: Duration = Duration::from_secs(60);

/// The scope that lets a service reserve and release stock in inventory; defined once so the
/// subgraph that grants it and the one that checks it cannot drift apart.
pub const RESERVE_SCOPE: &str = "inventory:reserve";

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    /// The token's signature, expiry or issuer did not check out.
    #[error("the token is invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The signing secret is not fit for production (the public development secret, or too
    /// short).
    #[error(
        "refusing to run in production with {0}: set TRIBUTARY_JWT_SECRET to a random secret of at least {MIN_SECRET_BYTES} bytes"
    )]
    WeakSecret(&'static str),
}

/// Checks a signing secret may be used: in production it must be neither [`DEV_SECRET`] nor
/// shorter than [`MIN_SECRET_BYTES`]; in development anything goes.
pub fn check_secret(secret: &str, production: bool) -> Result<(), AuthError> {
    if !production {
        return Ok(());
    }
    if secret == DEV_SECRET {
        return Err(AuthError::WeakSecret("the public development secret"));
    }
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::WeakSecret("a secret shorter than 32 bytes"));
    }
    Ok(())
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
    /// An authority signing with `secret`; issued user tokens live for `ttl`, service tokens
    /// for [`SERVICE_TTL`].
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

    /// How long issued user tokens stay valid.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Signs a user's token: `sub` is the user id, the scope is `user`.
    pub fn issue_user(&self, user_id: i64, username: &str) -> Result<String, AuthError> {
        self.issue(
            &user_id.to_string(),
            &["user"],
            Some(username),
            self.inner.ttl,
        )
    }

    /// Signs a token for subgraph `service` calling a peer with the given scopes; it lives
    /// for [`SERVICE_TTL`].
    pub fn issue_service(&self, service: &str, scopes: &[&str]) -> Result<String, AuthError> {
        self.issue(&format!("service:{service}"), scopes, None, SERVICE_TTL)
    }

    fn issue(
        &self,
        subject: &str,
        scopes: &[&str],
        username: Option<&str>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            scope: scopes.join(" "),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_tokens_expire_within_a_minute_whatever_the_user_ttl() {
        let auth = Auth::new(b"a-test-secret", Duration::from_secs(24 * 3600));
        let service = auth
            .verify(
                &auth
                    .issue_service("orders", &[RESERVE_SCOPE])
                    .expect("signed"),
            )
            .expect("valid");
        assert_eq!(service.exp - service.iat, 60);
        assert!(service.has_scope(RESERVE_SCOPE));
        let user = auth
            .verify(&auth.issue_user(1, "ada").expect("signed"))
            .expect("valid");
        assert_eq!(user.exp - user.iat, 24 * 3600);
    }

    #[test]
    fn production_refuses_the_development_secret_and_short_ones() {
        let strong = "0123456789abcdef0123456789abcdef";
        assert!(check_secret(DEV_SECRET, false).is_ok());
        assert!(check_secret("short", false).is_ok());
        assert!(check_secret(strong, true).is_ok());
        for weak in [DEV_SECRET, "short", &strong[1..]] {
            let err = check_secret(weak, true).expect_err(weak);
            assert!(matches!(err, AuthError::WeakSecret(_)), "{err}");
            assert!(err.to_string().contains("TRIBUTARY_JWT_SECRET"), "{err}");
        }
    }
}
