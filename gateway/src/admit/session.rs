//! Cookie sessions: the tokens of a browser's sign-in kept by the engine under a random id
//! that only an `HttpOnly` cookie carries, so no token ever reaches the page's JavaScript.
//!
//! A request with the session cookie and no `Authorization` header is admitted with the
//! session's access token as `Bearer` credentials, before the token is verified: verification,
//! claims, forwarding to subgraphs and private cache entries then work as for any bearer. An
//! unknown or expired session leaves the request as it was (anonymous, unless other cookies
//! name it). A mutation over the cookie needs the CSRF header, from an allowed origin or none.
//!
//! Sessions live in Redis when a URL is configured, so every replica sees a sign-in and a
//! sign-out at once, else in this replica's memory. Keys are the SHA-256 of the session id,
//! so the store's contents name no usable cookie. A store that fails or does not answer in
//! time refuses the request (500): the caller's session may be fine, and running it as
//! signed out would show a signed-in user a signed-out page.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::Digest as _;

use crate::config::Config;
use crate::error::{Code, GraphqlError};
use crate::request::{Caller, OperationType, Request, Secret};

/// The most sessions one replica keeps in memory; past it the least recently used end.
const MEMORY_CAPACITY: u64 = 100_000;

/// Why cookie sessions could not be set up; the engine does not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionSetupError {
    /// A session that lasts no time.
    #[error("[session] ttl_seconds must be at least 1")]
    NoLifetime,
    /// The cookie or header name is not an HTTP token.
    #[error("[session] {field} `{value}` is not a valid name (letters, digits, `-`, `_`, `.`)")]
    Name {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// The Redis URL is unusable.
    #[error("[session] redis_url: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Why the session store could not be used for one request.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Redis did not answer within the configured time.
    #[error("the session store did not answer in time")]
    Timeout,
    /// Redis answered with an error or could not be reached.
    #[error("the session store failed: {0}")]
    Store(#[from] redis::RedisError),
    /// A stored session is not what this engine writes.
    #[error("a stored session is unreadable: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The system's random source failed while drawing a session id.
    #[error("no session id could be drawn: {0}")]
    Random(String),
}

impl SessionError {
    /// The client's error: the engine's fault, not the client's credentials.
    pub fn to_graphql(&self) -> GraphqlError {
        GraphqlError::new(
            Code::InternalServerError,
            "the session could not be read or written: the session store is unavailable",
        )
    }
}

/// One signed-in browser's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The access token requests over the cookie run with.
    pub token: Secret,
    /// The refresh token, which sign-out revokes.
    pub refresh_token: Secret,
    /// When the session ends, in Unix seconds.
    pub expires_at: u64,
}

/// A session as Redis holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    token: String,
    refresh_token: String,
    expires_at: u64,
}

/// A session just started: the cookie's value and how long it lasts.
#[derive(Debug)]
pub struct Started {
    /// The session id, 256 random bits in base64url: the cookie's value.
    pub id: Secret,
    /// Seconds the session lasts (the cookie's `Max-Age`).
    pub max_age: u64,
    /// When it ends, in Unix seconds.
    pub expires_at: u64,
}

/// Where sessions are kept.
enum Store {
    /// This replica's memory; each session expires on its own.
    Memory(moka::sync::Cache<String, Arc<Session>>),
    /// Redis, shared by every replica.
    Redis(Shared),
}

/// The Redis store: one key per session, with the session's lifetime as its TTL.
struct Shared {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

/// Ends each in-memory session at its own `expires_at`.
struct UntilExpiry;

impl moka::Expiry<String, Arc<Session>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        session: &Arc<Session>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(
            session.expires_at.saturating_sub(unix_now()),
        ))
    }
}

/// The cookie sessions of one engine.
pub struct Sessions {
    store: Store,
    ttl: u64,
    csrf_header: String,
    /// Whether `Authorization` is forwarded to subgraphs, so a session's token must be too.
    forward_authorization: bool,
    engine: String,
}

impl Sessions {
    /// The sessions `config` enables, or none when `[session]` is off. The Redis URL is
    /// `[session] redis_url`, or else `REDIS_URL`; neither keeps sessions in memory.
    pub fn new(config: &Config) -> Result<Option<Arc<Sessions>>, SessionSetupError> {
        let settings = &config.session;
        if !settings.enabled {
            return Ok(None);
        }
        if settings.ttl_seconds == 0 {
            return Err(SessionSetupError::NoLifetime);
        }
        for (field, value) in [
            ("cookie_name", &settings.cookie_name),
            ("csrf_header", &settings.csrf_header),
        ] {
            if !is_token(value) {
                return Err(SessionSetupError::Name {
                    field,
                    value: value.clone(),
                });
            }
        }
        let url = settings
            .redis_url
            .clone()
            .or_else(|| std::env::var("REDIS_URL").ok());
        Sessions::build(config, url).map(Some)
    }

    /// The sessions of `config` (enabled and checked), kept in Redis at `url` when given,
    /// else in memory.
    fn build(config: &Config, url: Option<String>) -> Result<Arc<Sessions>, SessionSetupError> {
        let settings = &config.session;
        let store = match url.filter(|url| !url.trim().is_empty()) {
            Some(url) => {
                let timeout = Duration::from_millis(settings.redis_timeout_ms.max(1));
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1);
                let client = redis::Client::open(url.as_str())?;
                Store::Redis(Shared {
                    connection: ConnectionManager::new_lazy_with_config(client, manager)?,
                    prefix: format!("{}:{}", settings.redis_prefix, config.server.name),
                    timeout,
                })
            }
            None => Store::Memory(
                moka::sync::Cache::builder()
                    .max_capacity(MEMORY_CAPACITY)
                    .expire_after(UntilExpiry)
                    .build(),
            ),
        };
        Ok(Arc::new(Sessions {
            store,
            ttl: settings.ttl_seconds,
            csrf_header: settings.csrf_header.to_ascii_lowercase(),
            forward_authorization: config
                .subgraphs
                .forward_headers
                .iter()
                .any(|name| name.eq_ignore_ascii_case("authorization")),
            engine: config.server.name.clone(),
        }))
    }

    /// Whether sessions are kept in Redis (shared by every replica) rather than in memory.
    pub fn shared(&self) -> bool {
        matches!(self.store, Store::Redis(_))
    }

    /// Starts a session holding `token` and `refresh_token` under a new random id. It lasts
    /// `[session] ttl_seconds`, or less when the token expires sooner.
    pub async fn start(
        &self,
        token: Secret,
        refresh_token: Secret,
    ) -> Result<Started, SessionError> {
        let now = unix_now();
        let max_age = match token_expiry(token.expose()) {
            Some(exp) => self.ttl.min(exp.saturating_sub(now)),
            None => self.ttl,
        }
        .max(1);
        let id = new_id()?;
        let session = Session {
            token,
            refresh_token,
            expires_at: now + max_age,
        };
        let key = key_of(id.expose());
        match &self.store {
            Store::Memory(cache) => cache.insert(key, Arc::new(session)),
            Store::Redis(shared) => {
                let value = serde_json::to_string(&Stored {
                    token: session.token.expose().to_owned(),
                    refresh_token: session.refresh_token.expose().to_owned(),
                    expires_at: session.expires_at,
                })?;
                let command = redis::cmd("SET")
                    .arg(shared.key(&key))
                    .arg(value)
                    .arg("EX")
                    .arg(max_age)
                    .clone();
                self.counted(shared.call::<()>(command).await)?;
            }
        }
        Ok(Started {
            id,
            max_age,
            expires_at: now + max_age,
        })
    }

    /// The live session `id` names, if any.
    pub async fn find(&self, id: &str) -> Result<Option<Session>, SessionError> {
        let key = key_of(id);
        let found = match &self.store {
            Store::Memory(cache) => cache.get(&key).map(Arc::unwrap_or_clone),
            Store::Redis(shared) => {
                let command = redis::cmd("GET").arg(shared.key(&key)).clone();
                let stored = self.counted(shared.call::<Option<String>>(command).await)?;
                stored.map(|text| read(&text)).transpose()?
            }
        };
        Ok(found.filter(|session| session.expires_at > unix_now()))
    }

    /// Ends the session `id` names, on every replica sharing the store; returns it, if it
    /// was there.
    pub async fn end(&self, id: &str) -> Result<Option<Session>, SessionError> {
        let key = key_of(id);
        match &self.store {
            Store::Memory(cache) => Ok(cache.remove(&key).map(Arc::unwrap_or_clone)),
            Store::Redis(shared) => {
                let key = shared.key(&key);
                let mut pipe = redis::pipe();
                pipe.atomic()
                    .cmd("GET")
                    .arg(&key)
                    .cmd("DEL")
                    .arg(&key)
                    .ignore();
                let (stored,): (Option<String>,) = self.counted(shared.call_pipe(pipe).await)?;
                stored.map(|text| read(&text)).transpose()
            }
        }
    }

    /// Trades the request's session cookie, if it has one, for the session's token: the
    /// caller gets `Bearer` credentials (forwarded to subgraphs when `Authorization` is) and
    /// is marked as signed in by cookie. An unknown or expired session changes nothing.
    pub async fn resume(&self, request: &mut Request) -> Result<(), GraphqlError> {
        let Some(id) = request.caller.session.take() else {
            return Ok(());
        };
        if request.caller.authorization.is_some() {
            return Ok(());
        }
        let session = match self.find(id.expose()).await {
            Ok(Some(session)) => session,
            Ok(None) => {
                tracing::debug!(engine = %self.engine, "unknown or expired session; the request runs without it");
                return Ok(());
            }
            Err(err) => {
                tracing::warn!(engine = %self.engine, error = %err, "session lookup failed; request refused");
                return Err(err.to_graphql());
            }
        };
        let authorization = format!("Bearer {}", session.token.expose());
        let caller = &mut request.caller;
        *caller = Caller {
            authorization: Some(Secret::new(authorization.clone())),
            from_session: true,
            csrf_header: caller.csrf_header,
            foreign_origin: caller.foreign_origin,
            ..Caller::with_credentials(&authorization)
        };
        if self.forward_authorization {
            request
                .forward
                .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
            request
                .forward
                .push(("authorization".to_owned(), authorization));
        }
        Ok(())
    }

    /// Refuses a mutation over a session cookie without the CSRF header, or from an origin
    /// that is not allowed: a page of another site can make a browser send the cookie, but
    /// not the header.
    pub fn check_csrf(
        &self,
        caller: &Caller,
        operation: OperationType,
    ) -> Result<(), GraphqlError> {
        if !caller.from_session || operation != OperationType::Mutation {
            return Ok(());
        }
        if caller.foreign_origin {
            return Err(GraphqlError::new(
                Code::BadRequest,
                "mutations over a session cookie must come from an allowed origin",
            ));
        }
        if !caller.csrf_header {
            return Err(GraphqlError::new(
                Code::BadRequest,
                format!(
                    "mutations over a session cookie need the `{}` header",
                    self.csrf_header
                ),
            ));
        }
        Ok(())
    }

    /// Counts and logs a store failure.
    fn counted<T>(&self, result: Result<T, SessionError>) -> Result<T, SessionError> {
        if let Err(err) = &result {
            metrics::counter!("tributary_session_store_errors_total", "engine" => self.engine.clone())
                .increment(1);
            tracing::warn!(engine = %self.engine, error = %err, "session store failed");
        }
        result
    }
}

impl Shared {
    /// The Redis key of a session key.
    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    async fn call<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, SessionError> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection))
            .await
            .map_err(|_| SessionError::Timeout)?
            .map_err(SessionError::from)
    }

    async fn call_pipe<T: redis::FromRedisValue>(
        &self,
        pipe: redis::Pipeline,
    ) -> Result<T, SessionError> {
        let mut connection = self.connection.clone();
        tokio::time::timeout(self.timeout, pipe.query_async::<T>(&mut connection))
            .await
            .map_err(|_| SessionError::Timeout)?
            .map_err(SessionError::from)
    }
}

/// A stored session read back.
fn read(text: &str) -> Result<Session, SessionError> {
    let stored: Stored = serde_json::from_str(text)?;
    Ok(Session {
        token: Secret::new(stored.token),
        refresh_token: Secret::new(stored.refresh_token),
        expires_at: stored.expires_at,
    })
}

/// The store's key for a session id: its SHA-256, in hex.
fn key_of(id: &str) -> String {
    let digest = sha2::Sha256::digest(id.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A new session id: 256 bits from the operating system's random source, base64url.
fn new_id() -> Result<Secret, SessionError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| SessionError::Random(err.to_string()))?;
    Ok(Secret::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}

/// A JWT's `exp`, read without verifying it (the engine verifies the token on every use).
fn token_expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

/// Whether `name` is usable as a cookie or header name.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Now, in Unix seconds.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Sessions in memory, whatever `REDIS_URL` says.
    fn sessions(ttl: u64) -> Arc<Sessions> {
        let mut config = Config::default();
        config.session.enabled = true;
        config.session.ttl_seconds = ttl;
        Sessions::build(&config, None).unwrap()
    }

    /// An unsigned token with `exp` (the store never verifies; the engine does, on use).
    fn token_expiring_at(exp: u64) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.sig",
            b64(r#"{"alg":"HS256"}"#),
            b64(&format!(r#"{{"sub":"1","exp":{exp}}}"#))
        )
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_id_until_it_ends() {
        let sessions = sessions(3600);
        assert!(!sessions.shared());
        let token = token_expiring_at(unix_now() + 7200);
        let started = sessions
            .start(Secret::new(token.clone()), Secret::new("refresh"))
            .await
            .unwrap();
        assert_eq!(started.max_age, 3600);
        assert_eq!(started.id.expose().len(), 43, "256 bits in base64url");
        let found = sessions.find(started.id.expose()).await.unwrap().unwrap();
        assert_eq!(found.token.expose(), token);
        assert_eq!(sessions.find("someone-else").await.unwrap(), None);
        let ended = sessions.end(started.id.expose()).await.unwrap().unwrap();
        assert_eq!(ended.refresh_token.expose(), "refresh");
        assert_eq!(sessions.find(started.id.expose()).await.unwrap(), None);
        assert_eq!(sessions.end(started.id.expose()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_session_never_outlives_its_token() {
        let sessions = sessions(8 * 3600);
        let token = token_expiring_at(unix_now() + 600);
        let started = sessions
            .start(Secret::new(token), Secret::new("r"))
            .await
            .unwrap();
        assert!((599..=600).contains(&started.max_age), "{started:?}");
        let opaque = sessions
            .start(Secret::new("not-a-jwt"), Secret::new("r"))
            .await
            .unwrap();
        assert_eq!(opaque.max_age, 8 * 3600);
    }

    #[tokio::test]
    async fn a_found_session_becomes_bearer_credentials_and_forwarded() {
        let sessions = sessions(3600);
        let started = sessions
            .start(Secret::new("tok"), Secret::new("r"))
            .await
            .unwrap();
        let mut request = Request::default();
        request.caller.session = Some(started.id.clone());
        request.caller.csrf_header = true;
        sessions.resume(&mut request).await.unwrap();
        let caller = &request.caller;
        assert_eq!(
            caller.authorization.as_ref().map(Secret::expose),
            Some("Bearer tok")
        );
        assert!(caller.identified && caller.from_session && caller.csrf_header);
        assert_eq!(caller.session, None);
        assert_eq!(
            request.forward,
            vec![("authorization".to_owned(), "Bearer tok".to_owned())]
        );
        assert_eq!(sessions.check_csrf(caller, OperationType::Mutation), Ok(()));

        // Unknown: nothing changes, and no credentials appear.
        let mut unknown = Request::default();
        unknown.caller.session = Some(Secret::new("nope"));
        sessions.resume(&mut unknown).await.unwrap();
        assert_eq!(unknown.caller, Caller::anonymous());
        assert!(unknown.forward.is_empty());
    }

    #[test]
    fn mutations_over_the_cookie_need_the_header_from_an_allowed_origin() {
        let sessions = sessions(60);
        let cookie = Caller {
            from_session: true,
            ..Caller::default()
        };
        let refused = |caller: &Caller, operation| {
            sessions
                .check_csrf(caller, operation)
                .err()
                .map(|error| (error.code(), error.message))
        };
        assert_eq!(
            refused(&cookie, OperationType::Mutation),
            Some((
                Some(Code::BadRequest),
                "mutations over a session cookie need the `x-tributary-csrf` header".to_owned()
            ))
        );
        assert_eq!(refused(&cookie, OperationType::Query), None);
        let with_header = Caller {
            csrf_header: true,
            ..cookie.clone()
        };
        assert_eq!(refused(&with_header, OperationType::Mutation), None);
        let foreign = Caller {
            foreign_origin: true,
            ..with_header
        };
        assert!(refused(&foreign, OperationType::Mutation).is_some());
        // A bearer caller is not this check's business.
        assert_eq!(refused(&Caller::default(), OperationType::Mutation), None);
    }

    #[test]
    fn names_must_be_tokens() {
        let mut config = Config::default();
        config.session.enabled = true;
        config.session.cookie_name = "a session".to_owned();
        assert!(matches!(
            Sessions::new(&config),
            Err(SessionSetupError::Name { .. })
        ));
    }
}
