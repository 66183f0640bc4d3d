//! Rate limits at the engine: each request is counted against its client's budget and, for a
//! verified caller, its user's, after the token is checked and before the document is parsed.
//!
//! Budgets are token buckets (GCRA). In memory they are `governor`'s keyed limiters, one per
//! replica. With `redis_url` they live in Redis, one key per bucket updated by one script that
//! reads Redis's own clock, so every replica of an engine spends the same budget whatever its
//! clock says. Redis failing never refuses a request: the check is skipped (counted and
//! logged) and the request goes on.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use rustc_hash::FxHashSet;

use crate::config::{Bucket, Config};
use crate::error::{Code, GraphqlError};
use crate::request::Request;

/// Why rate limits could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitSetupError {
    /// A bucket that allows nothing.
    #[error("[rate_limit] {0}: `requests`, `per_seconds` and `burst` must be at least 1")]
    EmptyBucket(&'static str),
    /// The Redis URL is unusable.
    #[error("[rate_limit] redis_url: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A request over its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Which budget ran out: `client` or `user`.
    pub budget: &'static str,
    /// When the next request would be allowed.
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds to wait, at least 1: the `Retry-After` value.
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }

    /// The client's error: `RATE_LIMITED`, with the wait in `extensions.retryAfter`.
    pub fn to_graphql(&self) -> GraphqlError {
        let seconds = self.retry_after_seconds();
        GraphqlError::new(
            Code::RateLimited,
            format!(
                "too many requests for this {}; retry in {seconds} s",
                self.budget
            ),
        )
        .with_extension("retryAfter", serde_json::Value::from(seconds))
    }
}

/// One budget kind's buckets, per key.
struct Budget {
    name: &'static str,
    memory: DefaultKeyedRateLimiter<String>,
    /// The GCRA parameters for Redis, in microseconds.
    interval_us: u64,
    tolerance_us: u64,
}

impl Budget {
    fn new(name: &'static str, bucket: Bucket) -> Result<Budget, RateLimitSetupError> {
        let empty = || RateLimitSetupError::EmptyBucket(name);
        let requests = NonZeroU32::new(bucket.requests).ok_or_else(empty)?;
        let burst = NonZeroU32::new(bucket.burst.unwrap_or(bucket.requests)).ok_or_else(empty)?;
        if bucket.per_seconds == 0 {
            return Err(empty());
        }
        let interval_us = u64::from(bucket.per_seconds) * 1_000_000 / u64::from(requests.get());
        let interval = Duration::from_micros(interval_us.max(1));
        let quota = Quota::with_period(interval)
            .ok_or_else(empty)?
            .allow_burst(burst);
        Ok(Budget {
            name,
            memory: RateLimiter::keyed(quota),
            interval_us: interval_us.max(1),
            tolerance_us: interval_us.max(1) * u64::from(burst.get()),
        })
    }
}

/// The shared store of the buckets.
struct Shared {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
}

/// GCRA over one key: the key holds the bucket's theoretical arrival time in microseconds of
/// Redis's clock. Returns 0 when the request is allowed (and records it), else the
/// microseconds until it would be.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local over = next_tat - now - tolerance
if over > 0 then return over end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return 0
";

/// The rate limits of one engine.
pub struct RateLimits {
    client: Option<Budget>,
    user: Option<Budget>,
    shared: Option<Shared>,
    /// Client names that get their own budget; empty: every name does.
    known_clients: FxHashSet<String>,
    client_ip_header: Option<String>,
    checks: AtomicU64,
}

impl RateLimits {
    /// The limits `config` sets, or none when it sets no budget.
    pub fn new(config: &Config) -> Result<Option<Arc<RateLimits>>, RateLimitSetupError> {
        let settings = &config.rate_limit;
        if settings.per_client.is_none() && settings.per_user.is_none() {
            return Ok(None);
        }
        let url = settings
            .redis_url
            .clone()
            .or_else(|| std::env::var("REDIS_URL").ok());
        let shared = match url {
            Some(url) => {
                let timeout = Duration::from_millis(settings.redis_timeout_ms.max(1));
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1);
                let client = redis::Client::open(url.as_str())?;
                Some(Shared {
                    connection: ConnectionManager::new_lazy_with_config(client, manager)?,
                    script: redis::Script::new(GCRA),
                    prefix: format!("{}:{}", settings.redis_prefix, config.server.name),
                    timeout,
                })
            }
            None => None,
        };
        Ok(Some(Arc::new(RateLimits {
            client: settings
                .per_client
                .map(|bucket| Budget::new("client", bucket))
                .transpose()?,
            user: settings
                .per_user
                .map(|bucket| Budget::new("user", bucket))
                .transpose()?,
            shared,
            known_clients: config.telemetry.client_names.iter().cloned().collect(),
            client_ip_header: settings.client_ip_header.clone(),
            checks: AtomicU64::new(0),
        })))
    }

    /// Counts `request` against its client's budget and its user's; `Err` says which ran out
    /// and when to retry.
    pub async fn check(&self, request: &Request) -> Result<(), Limited> {
        self.tidy();
        if let Some(budget) = &self.client {
            let key = self.client_key(request);
            self.spend(budget, key).await?;
        }
        if let (Some(budget), Some(claims)) = (&self.user, &request.caller.claims) {
            let issuer = claims.issuer.as_deref().unwrap_or("");
            let key = format!("u:{issuer}:{}", claims.subject);
            self.spend(budget, key).await?;
        }
        Ok(())
    }

    /// The client's bucket key: its name when known, else its address.
    fn client_key(&self, request: &Request) -> String {
        let name = &request.client.name;
        let named = request.client.name != "unknown"
            && (self.known_clients.is_empty() || self.known_clients.contains(name));
        if named {
            return format!("c:{name}");
        }
        let from_header = request
            .forwarded_for
            .as_deref()
            .filter(|_| self.client_ip_header.is_some())
            .and_then(|value| value.rsplit(',').map(str::trim).find(|s| !s.is_empty()))
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        match from_header.or(request.peer) {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        }
    }

    async fn spend(&self, budget: &Budget, key: String) -> Result<(), Limited> {
        let wait = match &self.shared {
            Some(shared) => shared.spend(budget, &key).await,
            None => budget
                .memory
                .check_key(&key)
                .err()
                .map(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        };
        match wait {
            None => Ok(()),
            Some(retry_after) => Err(Limited {
                budget: budget.name,
                retry_after,
            }),
        }
    }

    /// The header whose value names the client's address, when one is configured.
    pub fn client_ip_header(&self) -> Option<&str> {
        self.client_ip_header.as_deref()
    }

    /// Forgets idle in-memory buckets now and then, so one-off clients do not pile up.
    fn tidy(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 != 4095 {
            return;
        }
        for budget in [&self.client, &self.user].into_iter().flatten() {
            budget.memory.retain_recent();
            budget.memory.shrink_to_fit();
        }
    }
}

impl Shared {
    /// Spends one request of `key`'s bucket in Redis: the wait when over budget, none when
    /// allowed or when Redis did not answer in time (the request then goes on).
    async fn spend(&self, budget: &Budget, key: &str) -> Option<Duration> {
        let mut connection = self.connection.clone();
        let mut invocation = self
            .script
            .key(format!("{}:{}:{key}", self.prefix, budget.name));
        invocation.arg(budget.interval_us).arg(budget.tolerance_us);
        let called = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<u64>(&mut connection),
        )
        .await;
        match called {
            Ok(Ok(0)) => None,
            Ok(Ok(wait_us)) => Some(Duration::from_micros(wait_us)),
            Ok(Err(err)) => {
                metrics::counter!("tributary_rate_limit_store_errors_total").increment(1);
                tracing::warn!(error = %err, "rate limit store failed; request let through");
                None
            }
            Err(_) => {
                metrics::counter!("tributary_rate_limit_store_errors_total").increment(1);
                tracing::warn!("rate limit store timed out; request let through");
                None
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::request::ClientInfo;

    fn limits(bucket: Bucket, known: &[&str]) -> Arc<RateLimits> {
        let mut config = Config::default();
        config.rate_limit.per_client = Some(bucket);
        config.telemetry.client_names = known.iter().map(|s| (*s).to_owned()).collect();
        RateLimits::new(&config).unwrap().unwrap()
    }

    fn from(name: Option<&str>, ip: &str) -> Request {
        Request {
            client: ClientInfo::new(name, None),
            peer: ip.parse().ok(),
            ..Request::default()
        }
    }

    #[tokio::test]
    async fn a_burst_is_allowed_then_refused_with_the_wait() {
        let limits = limits(
            Bucket {
                requests: 1,
                per_seconds: 10,
                burst: Some(3),
            },
            &[],
        );
        let request = from(Some("web"), "10.0.0.1");
        for _ in 0..3 {
            assert_eq!(limits.check(&request).await, Ok(()));
        }
        let limited = limits.check(&request).await.unwrap_err();
        assert_eq!(limited.budget, "client");
        assert!(
            (9..=10).contains(&limited.retry_after_seconds()),
            "{limited:?}"
        );
        // Another client has its own bucket.
        assert_eq!(limits.check(&from(Some("ios"), "10.0.0.1")).await, Ok(()));
    }

    #[tokio::test]
    async fn unknown_client_names_share_their_address_bucket() {
        let limits = limits(
            Bucket {
                requests: 1,
                per_seconds: 60,
                burst: None,
            },
            &["web"],
        );
        assert_eq!(
            limits.check(&from(Some("made-up-1"), "10.0.0.2")).await,
            Ok(())
        );
        assert!(
            limits
                .check(&from(Some("made-up-2"), "10.0.0.2"))
                .await
                .is_err()
        );
        assert!(limits.check(&from(None, "10.0.0.2")).await.is_err());
        assert_eq!(limits.check(&from(Some("web"), "10.0.0.2")).await, Ok(()));
        assert_eq!(limits.check(&from(None, "10.0.0.3")).await, Ok(()));
    }

    #[tokio::test]
    async fn each_verified_user_has_a_budget_of_its_own() {
        let mut config = Config::default();
        config.rate_limit.per_user = Some(Bucket {
            requests: 1,
            per_seconds: 60,
            burst: None,
        });
        let limits = RateLimits::new(&config).unwrap().unwrap();
        let user = |subject: &str| {
            let mut request = from(None, "10.0.0.9");
            request.caller.claims = Some(Arc::new(crate::request::Claims {
                subject: subject.to_owned(),
                issuer: Some("accounts".to_owned()),
                scopes: Vec::new(),
                payload: serde_json::Map::new(),
            }));
            request
        };
        assert_eq!(limits.check(&user("1")).await, Ok(()));
        assert_eq!(limits.check(&user("1")).await.unwrap_err().budget, "user");
        assert_eq!(limits.check(&user("2")).await, Ok(()));
        // Anonymous callers have no user budget (and no client budget is set here).
        assert_eq!(limits.check(&from(None, "10.0.0.9")).await, Ok(()));
    }

    #[test]
    fn an_empty_bucket_is_a_setup_error() {
        let mut config = Config::default();
        config.rate_limit.per_user = Some(Bucket {
            requests: 0,
            per_seconds: 1,
            burst: None,
        });
        assert!(RateLimits::new(&config).is_err());
    }
}
