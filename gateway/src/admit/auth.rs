//! Authentication at the engine: a request's bearer token is verified once, before its
//! document is parsed, and the caller's verified claims are set on the request. A request
//! without a token is anonymous; a request with a token that does not verify is refused with
//! one `UNAUTHENTICATED` error (HTTP 401) saying what is wrong with it, and nothing of the
//! verifying library's internals.
//!
//! Keys: an HS256 secret (local development), and RS256/ES256 (and the other RSA, EC and
//! EdDSA algorithms) public keys from a JWKS file or URL. The key set is cached; a token naming
//! a key id not in it refetches the set, at most once per `jwks_min_refresh_seconds`, so a
//! rotation is picked up without a restart and random key ids cannot make the engine fetch on
//! every request. A token's algorithm must belong to the family of the key that verifies it:
//! an HS256 token is only ever checked against the configured secret, never against a public
//! key, so a token signed with a public key as an HMAC secret (algorithm confusion) is refused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::AuthConfig;
use crate::error::{Code, GraphqlError};
use crate::request::{Caller, Claims};

/// Why a token was refused; each message tells a client developer what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    /// The token is not a JWT (three base64url parts, a JSON header and claims).
    #[error("the token is malformed")]
    Malformed,
    /// The token's `alg` is `none` or one no configured key verifies.
    #[error("the token's algorithm ({0}) is not accepted")]
    Algorithm(String),
    /// The token names a key the engine does not know, even after refreshing its keys.
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    /// The signature does not match the token.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// `exp` is past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still to come.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not an accepted issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` names no accepted audience.
    #[error("the token's audience is not accepted")]
    Audience,
    /// A claim the engine requires is absent or of the wrong type.
    #[error("the token's `{0}` claim is missing or invalid")]
    Claim(String),
    /// The signing keys could not be fetched: the engine's fault, not the client's.
    #[error("the token could not be checked: the signing keys are unavailable")]
    KeysUnavailable,
}

impl AuthError {
    /// The GraphQL error a client gets.
    pub fn to_graphql(&self) -> GraphqlError {
        let code = match self {
            AuthError::KeysUnavailable => Code::InternalServerError,
            _ => Code::Unauthenticated,
        };
        GraphqlError::new(code, self.to_string())
    }
}

/// Why the authentication settings cannot be used; the engine does not start.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// Enabled without any key.
    #[error("[auth] is enabled but names no key: set hs256_secret, jwks_url or jwks_file")]
    NoKeys,
    /// The JWKS file could not be read.
    #[error("the JWKS file {path} could not be read: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The JWKS is not a key set, or holds no usable key.
    #[error("the JWKS from {origin} is not usable: {reason}")]
    KeySet {
        /// Where it came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client for the JWKS URL could not be built.
    #[error("the HTTP client for the JWKS could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

/// Verifies bearer tokens for one engine.
pub struct Authenticator {
    secret: Option<DecodingKey>,
    jwks: Option<Jwks>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: u64,
}

/// A verification key with what it may verify.
struct Key {
    /// The algorithm the key set pins it to, if any.
    algorithm: Option<Algorithm>,
    /// The family its material belongs to.
    family: jsonwebtoken::AlgorithmFamily,
    key: DecodingKey,
}

/// The public keys of one fetch of the key set.
#[derive(Default)]
struct KeySet {
    by_id: HashMap<String, Key>,
    /// Keys without a `kid`, tried for tokens without one.
    unnamed: Vec<Key>,
    /// When they were loaded; `None` before the first load.
    loaded: Option<Instant>,
}

impl KeySet {
    fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.unnamed.is_empty()
    }
}

/// Where the key set comes from.
enum Source {
    Url(String),
    File(PathBuf),
}

/// The key set, cached, refreshed when a token names an unknown key or the set is old.
struct Jwks {
    source: Source,
    client: reqwest::Client,
    keys: ArcSwap<KeySet>,
    /// When the set was last fetched (or tried), if ever; refreshes wait behind this lock,
    /// verifications with fresh keys never take it.
    fetched: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
    max_age: Duration,
}

/// How long fetching the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

impl Authenticator {
    /// A verifier from `[auth]`; `None` when authentication at the engine is off. A JWKS file
    /// is read now, so a broken one stops the start; a JWKS URL is fetched on first use.
    pub fn new(config: &AuthConfig) -> Result<Option<Authenticator>, AuthSetupError> {
        if !config.enabled {
            return Ok(None);
        }
        let secret = config
            .hs256_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        let source = match (&config.jwks_url, &config.jwks_file) {
            (Some(url), _) => Some(Source::Url(url.clone())),
            (None, Some(path)) => Some(Source::File(path.clone())),
            (None, None) => None,
        };
        if secret.is_none() && source.is_none() {
            return Err(AuthSetupError::NoKeys);
        }
        let jwks = match source {
            None => None,
            Some(source) => {
                let initial = match &source {
                    Source::File(path) => Some(read_file(path)?),
                    Source::Url(_) => None,
                };
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(AuthSetupError::Client)?;
                Some(Jwks {
                    fetched: tokio::sync::Mutex::new(initial.as_ref().and_then(|keys| keys.loaded)),
                    keys: ArcSwap::from_pointee(initial.unwrap_or_default()),
                    source,
                    client,
                    min_refresh: Duration::from_secs(config.jwks_min_refresh_seconds),
                    max_age: Duration::from_secs(config.jwks_max_age_seconds.max(1)),
                })
            }
        };
        Ok(Some(Authenticator {
            secret,
            jwks,
            issuers: config.issuers.clone(),
            audiences: config.audiences.clone(),
            leeway: config.leeway_seconds,
        }))
    }

    /// Verifies the caller's token, if it carries one, and sets its claims and subject.
    pub async fn authenticate(&self, caller: &mut Caller) -> Result<(), AuthError> {
        let Some(authorization) = caller.authorization.as_ref() else {
            return Ok(());
        };
        let token = bearer(authorization.expose())?;
        let claims = self.verify(token).await?;
        caller.identified = true;
        caller.subject = Some(format!(
            "s:{}:{}",
            claims.issuer.as_deref().unwrap_or_default(),
            claims.subject
        ));
        caller.claims = Some(Arc::new(claims));
        Ok(())
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let (algorithm, kid) = header_of(token)?;
        let validation = self.validation(algorithm);
        let decoded = match algorithm.family() {
            jsonwebtoken::AlgorithmFamily::Hmac => {
                let Some(secret) = &self.secret else {
                    return Err(AuthError::Algorithm(format!("{algorithm:?}")));
                };
                decode(token, secret, &validation)?
            }
            family => {
                let Some(jwks) = &self.jwks else {
                    return Err(AuthError::Algorithm(format!("{algorithm:?}")));
                };
                jwks.verify(token, kid.as_deref(), algorithm, family, &validation)
                    .await?
            }
        };
        claims_of(decoded)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if !self.issuers.is_empty() {
            validation.set_issuer(&self.issuers);
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
        }
        validation
    }
}

impl Jwks {
    /// Verifies `token` with the key its `kid` names (or, without one, any key of its family),
    /// refreshing the key set when the key is unknown or the set is old.
    async fn verify(
        &self,
        token: &str,
        kid: Option<&str>,
        algorithm: Algorithm,
        family: jsonwebtoken::AlgorithmFamily,
        validation: &Validation,
    ) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
        let stale = self
            .keys
            .load()
            .loaded
            .is_none_or(|at| at.elapsed() >= self.max_age);
        if stale {
            self.refresh().await;
        }
        let mut refreshed = stale;
        loop {
            let keys = self.keys.load_full();
            let candidates: Vec<&Key> = match kid {
                Some(kid) => keys.by_id.get(kid).into_iter().collect(),
                None => keys.unnamed.iter().collect(),
            };
            if !candidates.is_empty() {
                let mut last = AuthError::Algorithm(format!("{algorithm:?}"));
                for key in candidates {
                    if key.family != family || key.algorithm.is_some_and(|a| a != algorithm) {
                        continue;
                    }
                    match decode(token, &key.key, validation) {
                        Ok(claims) => return Ok(claims),
                        Err(err) => last = err,
                    }
                }
                return Err(last);
            }
            if refreshed || !self.refresh().await {
                return Err(if self.keys.load().is_empty() {
                    AuthError::KeysUnavailable
                } else {
                    AuthError::UnknownKey
                });
            }
            refreshed = true;
        }
    }

    /// Fetches the key set again unless it was fetched (or tried) less than `min_refresh` ago;
    /// returns whether a fetch happened. Concurrent callers wait for one fetch.
    async fn refresh(&self) -> bool {
        let mut fetched = self.fetched.lock().await;
        if fetched.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return false;
        }
        *fetched = Some(Instant::now());
        let loaded = match &self.source {
            Source::File(path) => read_file(path),
            Source::Url(url) => self.fetch(url).await,
        };
        match loaded {
            Ok(keys) => {
                tracing::info!(
                    keys = keys.by_id.len() + keys.unnamed.len(),
                    "token signing keys loaded"
                );
                self.keys.store(Arc::new(keys));
            }
            // The old keys stay: a passing failure of the key server does not refuse tokens
            // that verified a moment ago.
            Err(err) => tracing::warn!(error = %err, "token signing keys could not be refreshed"),
        }
        true
    }

    async fn fetch(&self, url: &str) -> Result<KeySet, AuthSetupError> {
        let failed = |reason: String| AuthSetupError::KeySet {
            origin: url.to_owned(),
            reason,
        };
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|err| failed(err.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP status {}", response.status())));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| failed(err.to_string()))?;
        key_set(&body, url)
    }
}

/// The token of an `Authorization: Bearer <token>` value.
fn bearer(authorization: &str) -> Result<&str, AuthError> {
    let (scheme, token) = authorization
        .trim()
        .split_once(' ')
        .ok_or(AuthError::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

/// The algorithm and key id a token's header names, read before anything else so `none` and
/// unknown algorithms get a message that says so.
fn header_of(token: &str) -> Result<(Algorithm, Option<String>), AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| AuthError::Malformed)?;
    let Some(name) = header.get("alg").and_then(serde_json::Value::as_str) else {
        return Err(AuthError::Malformed);
    };
    let algorithm = name
        .parse::<Algorithm>()
        .map_err(|_| AuthError::Algorithm(name.chars().take(16).collect()))?;
    let kid = match header.get("kid") {
        None => None,
        Some(serde_json::Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(AuthError::Malformed),
    };
    Ok((algorithm, kid))
}

fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
    jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|err| match err.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidIssuer => AuthError::Issuer,
            ErrorKind::InvalidAudience => AuthError::Audience,
            ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
                AuthError::Claim(claim.clone())
            }
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => AuthError::Algorithm(
                validation
                    .algorithms
                    .first()
                    .map_or_else(String::new, |a| format!("{a:?}")),
            ),
            _ => AuthError::Malformed,
        })
}

/// The claims the engine reads from a verified token's payload.
fn claims_of(payload: serde_json::Map<String, serde_json::Value>) -> Result<Claims, AuthError> {
    let Some(subject) = payload.get("sub").and_then(serde_json::Value::as_str) else {
        return Err(AuthError::Claim("sub".to_owned()));
    };
    // Scopes as OAuth writes them (`scope`, space-separated) or as a list (`scp`, `scopes`).
    let mut scopes: Vec<String> = Vec::new();
    for name in ["scope", "scp", "scopes"] {
        match payload.get(name) {
            Some(serde_json::Value::String(list)) => {
                scopes.extend(list.split_whitespace().map(str::to_owned));
            }
            Some(serde_json::Value::Array(items)) => scopes.extend(
                items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    Ok(Claims {
        subject: subject.to_owned(),
        issuer: payload
            .get("iss")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        scopes,
        payload,
    })
}

fn read_file(path: &PathBuf) -> Result<KeySet, AuthSetupError> {
    let bytes = std::fs::read(path).map_err(|source| AuthSetupError::File {
        path: path.clone(),
        source,
    })?;
    key_set(&bytes, &path.display().to_string())
}

/// The usable signing keys of a JWKS document: public keys meant for signatures.
fn key_set(bytes: &[u8], origin: &str) -> Result<KeySet, AuthSetupError> {
    let failed = |reason: String| AuthSetupError::KeySet {
        origin: origin.to_owned(),
        reason,
    };
    let set: JwkSet = serde_json::from_slice(bytes).map_err(|err| failed(err.to_string()))?;
    let mut keys = KeySet::default();
    for jwk in &set.keys {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => jsonwebtoken::AlgorithmFamily::Rsa,
            AlgorithmParameters::EllipticCurve(_) => jsonwebtoken::AlgorithmFamily::Ec,
            AlgorithmParameters::OctetKeyPair(_) => jsonwebtoken::AlgorithmFamily::Ed,
            // Shared secrets are configured as `hs256_secret`, never published; key types
            // this engine does not know are skipped.
            _ => continue,
        };
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            tracing::warn!(kid = ?jwk.common.key_id, "a JWKS key could not be read; skipped");
            continue;
        };
        let key = Key {
            algorithm: jwk.common.key_algorithm.and_then(signing_algorithm),
            family,
            key,
        };
        match &jwk.common.key_id {
            Some(kid) => {
                keys.by_id.insert(kid.clone(), key);
            }
            None => keys.unnamed.push(key),
        }
    }
    if keys.is_empty() {
        return Err(failed("it holds no public signing key".to_owned()));
    }
    keys.loaded = Some(Instant::now());
    Ok(keys)
}

/// The signing algorithm a JWK's `alg` names (none for encryption algorithms).
fn signing_algorithm(algorithm: KeyAlgorithm) -> Option<Algorithm> {
    Some(match algorithm {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_authorization_carries_a_token() {
        assert_eq!(bearer("Bearer abc"), Ok("abc"));
        assert_eq!(bearer("bearer  abc "), Ok("abc"));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), Err(AuthError::NotBearer));
        assert_eq!(bearer("Bearer"), Err(AuthError::NotBearer));
        assert_eq!(bearer("Bearer "), Err(AuthError::NotBearer));
    }

    #[test]
    fn the_algorithm_is_read_first_and_none_is_refused_by_name() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"sub":"1"}"#));
        assert_eq!(
            header_of(&none),
            Err(AuthError::Algorithm("none".to_owned()))
        );
        let hs = format!("{}.{}.sig", b64(r#"{"alg":"HS256","kid":"k"}"#), b64("{}"));
        assert_eq!(header_of(&hs), Ok((Algorithm::HS256, Some("k".to_owned()))));
        assert_eq!(header_of("a.b"), Err(AuthError::Malformed));
        assert_eq!(header_of("!!.b.c"), Err(AuthError::Malformed));
    }

    #[test]
    fn scopes_are_read_from_scope_scp_or_scopes() {
        let payload = serde_json::json!({ "sub": "7", "scope": "a b", "scp": ["c"] });
        let serde_json::Value::Object(payload) = payload else {
            unreachable!()
        };
        let claims = claims_of(payload).expect("claims");
        assert_eq!(claims.subject, "7");
        assert_eq!(claims.scopes, ["a", "b", "c"]);
    }
}
