//! Tokens and callers: accounts issues JWTs, every subgraph verifies the one the gateway
//! forwards in `Authorization: Bearer ...`.
//!
//! Two ways to sign, one per deployment: HS256 with one shared secret (the development
//! default), or ES256 with the P-256 keys of a folder ([`keys`]), whose public halves accounts
//! publishes at [`JWKS_PATH`] so engines verify without any secret. With keys, tokens carry
//! the signing key's `kid`, every key of the folder verifies, and the folder is read again
//! periodically ([`Auth::watch_keys`]) and when a token names a key not yet known.

pub mod keys;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Context;
use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{Code, error};
use keys::{KeyError, KeyRing};

/// The issuer written to and required in every token.
pub const ISSUER: &str = "tributary";

/// The secret used when none is configured; fine on a laptop, refused in production by
/// [`check_secret`], so set `TRIBUTARY_JWT_SECRET` (or use keys) anywhere real.
pub const DEV_SECRET: &str = "tributary-development-secret";

/// The shortest secret accepted in production: 256 bits, as HS256 wants.
pub const MIN_SECRET_BYTES: usize = 32;

/// How long a user's access token lives unless configured otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a service token lives, whatever the user token lifetime: it is signed right before
/// the one call it authorizes, so a leaked one is soon worthless.
pub const SERVICE_TTL: Duration = Duration::from_secs(60);

/// How often a key folder is read again: a key removed stops verifying within this, a key
/// added is published within this and signs one period later.
pub const KEYS_RELOAD: Duration = Duration::from_secs(30);

/// Where the subgraph that signs (accounts) publishes its public keys as a JWKS.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The scope that lets a service reserve and release stock in inventory; defined once so the
/// subgraph that grants it and the one that checks it cannot drift apart.
pub const RESERVE_SCOPE: &str = "inventory:reserve";

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    /// The token's signature, algorithm, expiry or issuer did not check out.
    #[error("the token is invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The token names no key id, or one that is not among the signing keys.
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    /// The signing key folder cannot be used.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The signing secret is not fit for production (the public development secret, or too
    /// short).
    #[error(
        "refusing to run in production with {0}: set TRIBUTARY_JWT_SECRET to a random secret of at least {MIN_SECRET_BYTES} bytes, or TRIBUTARY_JWT_KEYS to a folder of ES256 keys"
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

/// Issues and verifies tokens: with one shared HS256 secret, or with the ES256 keys of a
/// folder. Cloning shares it.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    signer: Signer,
    validation: Validation,
    ttl: Duration,
}

/// What signs and verifies.
enum Signer {
    /// One HS256 secret does both.
    Secret {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    /// The last key of the folder signs, every key verifies.
    Keys(KeyRing),
}

impl Auth {
    /// An authority signing with `secret` (HS256); issued user tokens live for `ttl`, service
    /// tokens for [`SERVICE_TTL`].
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Auth::with(
            Signer::Secret {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
            },
            Algorithm::HS256,
            ttl,
        )
    }

    /// An authority signing with the ES256 keys in `dir` (see [`keys`]), read again every
    /// `period` by [`Auth::watch_keys`] (a key added is published for one period before it
    /// signs); fails when the folder holds no key or a file that is not one.
    pub fn from_key_dir(dir: &Path, period: Duration, ttl: Duration) -> Result<Self, AuthError> {
        Ok(Auth::with(
            Signer::Keys(KeyRing::open(dir, period)?),
            Algorithm::ES256,
            ttl,
        ))
    }

    /// The keys in `keys` (read again every `period`) when a folder is named, else the HS256
    /// `secret`.
    pub fn configured(
        secret: &str,
        keys: Option<&Path>,
        period: Duration,
        ttl: Duration,
    ) -> Result<Self, AuthError> {
        match keys {
            Some(dir) => Auth::from_key_dir(dir, period, ttl),
            None => Ok(Auth::new(secret.as_bytes(), ttl)),
        }
    }

    fn with(signer: Signer, algorithm: Algorithm, ttl: Duration) -> Self {
        // Only the one algorithm is accepted: an HS256 token never meets a public key, nor an
        // ES256 one a secret.
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Auth {
            inner: Arc::new(Inner {
                signer,
                validation,
                ttl,
            }),
        }
    }

    /// Whether tokens are signed with a key folder (ES256) rather than a secret.
    pub fn uses_keys(&self) -> bool {
        matches!(self.inner.signer, Signer::Keys(_))
    }

    /// The kid new tokens are signed with; none with a secret.
    pub fn signing_key_id(&self) -> Option<String> {
        match &self.inner.signer {
            Signer::Secret { .. } => None,
            Signer::Keys(ring) => ring.current().signer().map(|(kid, _)| kid.to_owned()),
        }
    }

    /// The public keys as a JWKS document (`{"keys": [...]}`); empty with a secret, which is
    /// never published.
    pub fn jwks(&self) -> serde_json::Value {
        match &self.inner.signer {
            Signer::Secret { .. } => serde_json::json!({ "keys": [] }),
            Signer::Keys(ring) => ring.current().jwks(),
        }
    }

    /// Reads the key folder again (nothing to do with a secret); returns whether the keys
    /// changed. A folder left with no usable key keeps the current keys and answers an error.
    pub fn reload_keys(&self) -> Result<bool, AuthError> {
        match &self.inner.signer {
            Signer::Secret { .. } => Ok(false),
            Signer::Keys(ring) => Ok(ring.reload()?),
        }
    }

    /// Reads the key folder again every period and on SIGHUP, until `shutdown`; a task for
    /// the one who made the authority to spawn once, however many servers share it. `None`
    /// with a secret, which has nothing to reload.
    pub fn watch_keys(&self, shutdown: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        let Signer::Keys(ring) = &self.inner.signer else {
            return None;
        };
        let every = ring.period();
        let auth = self.clone();
        Some(tokio::spawn(async move {
            let mut hangup = hangup();
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                    () = next_hangup(&mut hangup) => tracing::info!("SIGHUP: reading the token signing keys again"),
                }
                let reading = auth.clone();
                match tokio::task::spawn_blocking(move || reading.reload_keys()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "token signing keys could not be read again; the current ones stay")
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "reading the token signing keys failed")
                    }
                }
            }
        }))
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
        match &self.inner.signer {
            Signer::Secret { encoding, .. } => Ok(jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                encoding,
            )?),
            Signer::Keys(ring) => {
                let keys = ring.current();
                let (kid, key) = keys.signer().ok_or(AuthError::UnknownKey)?;
                let mut header = Header::new(Algorithm::ES256);
                header.kid = Some(kid.to_owned());
                Ok(jsonwebtoken::encode(&header, &claims, &key.encoding)?)
            }
        }
    }

    /// Verifies a token's signature (by the key its `kid` names, with keys), expiry and issuer.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let validation = &self.inner.validation;
        let claims = match &self.inner.signer {
            Signer::Secret { decoding, .. } => {
                jsonwebtoken::decode::<Claims>(token, decoding, validation)?
            }
            Signer::Keys(ring) => {
                let kid = jsonwebtoken::decode_header(token)?
                    .kid
                    .ok_or(AuthError::UnknownKey)?;
                let mut keys = ring.current();
                // A key this process has not read yet (another signed with it first) is looked
                // for once more in the folder, at most once per `keys::MIN_RELOAD`.
                if keys.get(&kid).is_none() && ring.reload_if_due() {
                    keys = ring.current();
                }
                let key = keys.get(&kid).ok_or(AuthError::UnknownKey)?;
                jsonwebtoken::decode::<Claims>(token, &key.decoding, validation)?
            }
        };
        Ok(claims.claims)
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

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

/// A listener for SIGHUP, when the platform has it and it can be installed.
fn hangup() -> Hangup {
    #[cfg(unix)]
    {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .inspect_err(|err| tracing::warn!(error = %err, "SIGHUP cannot be listened for; the key folder is read on its period only"))
            .ok()
    }
}

/// The next SIGHUP; never, without a listener.
async fn next_hangup(hangup: &mut Hangup) {
    #[cfg(unix)]
    if let Some(signal) = hangup
        && signal.recv().await.is_some()
    {
        return;
    }
    #[cfg(not(unix))]
    let _ = hangup;
    std::future::pending::<()>().await
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
    fn keys_sign_es256_with_a_kid_and_refuse_the_other_algorithm() {
        let dir = std::env::temp_dir().join(format!("tributary-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        keys::generate(&dir, "k1").expect("a key");
        let keyed = Auth::from_key_dir(&dir, KEYS_RELOAD, Duration::from_secs(60)).expect("keys");
        let secret = Auth::new(b"a-test-secret", Duration::from_secs(60));
        let token = keyed.issue_user(7, "ada").expect("signed");
        let header = jsonwebtoken::decode_header(&token).expect("a header");
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(keyed.verify(&token).expect("valid").sub, "7");
        let service = keyed
            .issue_service("orders", &[RESERVE_SCOPE])
            .expect("signed");
        assert!(
            keyed
                .verify(&service)
                .expect("valid")
                .has_scope(RESERVE_SCOPE)
        );
        assert!(
            secret.verify(&token).is_err(),
            "a secret never verifies ES256"
        );
        let hs = secret.issue_user(7, "ada").expect("signed");
        assert!(keyed.verify(&hs).is_err(), "keys never verify HS256");
        assert_eq!(secret.jwks(), serde_json::json!({ "keys": [] }));
        assert_eq!(keyed.jwks()["keys"][0]["kid"], "k1");
        std::fs::remove_dir_all(&dir).expect("clean up");
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
