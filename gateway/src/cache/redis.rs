//! The shared tier: response and entity entries in Redis behind each replica's memory, and
//! invalidations carried to every replica.
//!
//! Entries are plain keys with a TTL; every tag of an entry is a Redis set of the keys it
//! tags, so an invalidation deletes the tagged entries in one script and publishes the tags on
//! a channel every replica listens to (their in-memory entries go stale by the record in
//! [`Invalidations`]). A replica that loses the channel marks all its in-memory entries stale
//! when it is back, since it may have missed invalidations.
//!
//! Redis being down never fails a request: every call has a timeout, failures count in a
//! metric and make the tier step aside for a second before it tries again, and the state is
//! logged once per change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use futures::StreamExt;

use super::invalidate::{Invalidations, Tag, now_ms};

/// Why the shared tier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SharedTierError {
    /// The Redis URL is not usable.
    #[error("redis url {url}: {source}")]
    Url {
        /// The URL, without credentials.
        url: String,
        /// What is wrong with it.
        source: ::redis::RedisError,
    },
}

/// How long the tier steps aside after a failure before it tries Redis again.
const BACKOFF_MS: u64 = 1_000;

/// Redis as the cache tier every replica shares.
pub struct SharedTier {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    engine: String,
    /// Whether the last call succeeded.
    up: AtomicBool,
    /// Unix ms before which calls are skipped after a failure.
    retry_at: AtomicU64,
    /// This replica's id, so it skips its own published invalidations.
    origin: String,
    /// Dropped with the tier: ends the listener task.
    _stop: tokio::sync::watch::Sender<()>,
}

impl SharedTier {
    /// A tier on the Redis at `url`, keys under `prefix`; connects lazily and starts listening
    /// for other replicas' invalidations (recorded into `invalidations`). Needs a Tokio runtime.
    pub fn start(
        url: &str,
        prefix: &str,
        timeout: Duration,
        engine: &str,
        invalidations: Arc<Invalidations>,
    ) -> Result<Arc<SharedTier>, SharedTierError> {
        let client = ::redis::Client::open(url).map_err(|source| SharedTierError::Url {
            url: without_credentials(url),
            source,
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|source| {
                SharedTierError::Url {
                    url: without_credentials(url),
                    source,
                }
            })?;
        let (stop, stopped) = tokio::sync::watch::channel(());
        let origin = format!("{:032x}", rand_id());
        let tier = Arc::new(SharedTier {
            connection,
            prefix: prefix.to_owned(),
            timeout,
            engine: engine.to_owned(),
            up: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            origin: origin.clone(),
            _stop: stop,
        });
        let channel = tier.channel();
        let engine = engine.to_owned();
        tokio::spawn(listen(
            client,
            channel,
            origin,
            engine,
            invalidations,
            stopped,
        ));
        Ok(tier)
    }

    /// Whether Redis answered the last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The Redis key of an entry: `<prefix>:<kind>:<hex key>`.
    pub fn key(&self, kind: &str, hex: &str) -> String {
        format!("{}:{kind}:{hex}", self.prefix)
    }

    fn tag_key(&self, tag: &Tag) -> String {
        format!("{}:t:{tag}", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}:invalidations", self.prefix)
    }

    /// The entry at `key`, if Redis has it and answers in time.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let command = ::redis::cmd("GET").arg(key).clone();
        self.call::<Option<Vec<u8>>>(command).await.flatten()
    }

    /// The entries at `keys`, in order, in one call; all `None` when Redis does not answer.
    pub async fn get_many(&self, keys: &[String]) -> Vec<Option<Vec<u8>>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let command = ::redis::cmd("MGET").arg(keys).clone();
        self.call::<Vec<Option<Vec<u8>>>>(command)
            .await
            .filter(|values| values.len() == keys.len())
            .unwrap_or_else(|| vec![None; keys.len()])
    }

    /// Stores `value` at `key` for `ttl`, and adds the key to the set of each of its `tags`.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Duration, tags: &[Tag]) {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = ::redis::pipe();
        pipe.cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        for tag in tags {
            let set = self.tag_key(tag);
            pipe.cmd("SADD").arg(&set).arg(key).ignore();
            // A new set gets the entry's TTL; an older one is extended, never shortened.
            pipe.cmd("PEXPIRE").arg(&set).arg(ttl_ms).arg("NX").ignore();
            pipe.cmd("PEXPIRE").arg(&set).arg(ttl_ms).arg("GT").ignore();
        }
        self.call_pipe(pipe).await;
    }

    /// Deletes every entry tagged with one of `tags` and tells the other replicas.
    pub async fn invalidate(&self, tags: &[Tag], at_ms: u64) {
        if tags.is_empty() {
            return;
        }
        let message = serde_json::json!({ "at": at_ms, "tags": tags, "origin": self.origin });
        let mut invocation = INVALIDATE.prepare_invoke();
        for tag in tags {
            invocation.key(self.tag_key(tag));
        }
        invocation.arg(self.channel()).arg(message.to_string());
        if self.skipping() {
            return;
        }
        let mut connection = self.connection.clone();
        let result = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await;
        self.settle(
            result
                .map_err(|_| timeout_error())
                .and_then(|r| r)
                .map(|_| ()),
        );
    }

    async fn call<T: ::redis::FromRedisValue>(&self, command: ::redis::Cmd) -> Option<T> {
        if self.skipping() {
            return None;
        }
        let mut connection = self.connection.clone();
        let result = tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection))
            .await
            .map_err(|_| timeout_error())
            .and_then(|r| r);
        match result {
            Ok(value) => {
                self.settle(Ok(()));
                Some(value)
            }
            Err(err) => {
                self.settle(Err(err));
                None
            }
        }
    }

    async fn call_pipe(&self, pipe: ::redis::Pipeline) {
        if self.skipping() {
            return;
        }
        let mut connection = self.connection.clone();
        let result = tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut connection))
            .await
            .map_err(|_| timeout_error())
            .and_then(|r| r);
        self.settle(result);
    }

    /// Whether calls are skipped for now, after a recent failure.
    fn skipping(&self) -> bool {
        let retry_at = self.retry_at.load(Ordering::Relaxed);
        retry_at != 0 && now_ms() < retry_at
    }

    /// Records how a call went: logs and counts changes of state and failures.
    fn settle(&self, result: Result<(), ::redis::RedisError>) {
        match result {
            Ok(()) => {
                self.retry_at.store(0, Ordering::Relaxed);
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(engine = %self.engine, "redis cache tier reachable again");
                }
                metrics::gauge!("tributary_cache_redis_up", "engine" => self.engine.clone())
                    .set(1.0);
            }
            Err(err) => {
                self.retry_at
                    .store(now_ms() + BACKOFF_MS, Ordering::Relaxed);
                if self.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        engine = %self.engine,
                        error = %err,
                        "redis cache tier unreachable; serving from memory until it is back"
                    );
                }
                metrics::counter!("tributary_cache_redis_errors_total", "engine" => self.engine.clone())
                    .increment(1);
                metrics::gauge!("tributary_cache_redis_up", "engine" => self.engine.clone())
                    .set(0.0);
            }
        }
    }
}

/// Deletes the entries in the tag sets named by KEYS and the sets themselves, then publishes
/// ARGV[2] on channel ARGV[1]; returns how many entries were deleted.
static INVALIDATE: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"
local deleted = 0
for _, set in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', set)
  for _, key in ipairs(members) do
    deleted = deleted + redis.call('DEL', key)
  end
  redis.call('DEL', set)
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return deleted
",
    )
});

/// Listens for invalidations published by other replicas until the tier is dropped; after a
/// lost subscription, everything cached in memory before it is back is marked stale.
async fn listen(
    client: ::redis::Client,
    channel: String,
    origin: String,
    engine: String,
    invalidations: Arc<Invalidations>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, ::redis::RedisError>(pubsub)
        };
        let connected = tokio::select! {
            _ = stopped.changed() => return,
            connected = tokio::time::timeout(Duration::from_secs(5), session) => connected,
        };
        match connected {
            Ok(Ok(mut pubsub)) => {
                backoff = Duration::from_millis(100);
                // Invalidations published while this replica was not listening are lost.
                invalidations.invalidate_all(now_ms());
                tracing::debug!(engine = %engine, channel = %channel, "listening for cache invalidations");
                let mut messages = pubsub.on_message();
                loop {
                    let message = tokio::select! {
                        _ = stopped.changed() => return,
                        message = messages.next() => message,
                    };
                    let Some(message) = message else { break };
                    let Ok(payload) = message.get_payload::<String>() else {
                        continue;
                    };
                    apply(&payload, &origin, &invalidations);
                }
                tracing::warn!(engine = %engine, "lost the cache invalidation channel; reconnecting");
            }
            Ok(Err(err)) => {
                tracing::debug!(engine = %engine, error = %err, "cache invalidation channel unavailable");
            }
            Err(_) => {
                tracing::debug!(engine = %engine, "cache invalidation channel timed out");
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Records one published invalidation, unless this replica published it.
fn apply(payload: &str, origin: &str, invalidations: &Invalidations) {
    #[derive(serde::Deserialize)]
    struct Message {
        at: u64,
        tags: Vec<Tag>,
        origin: String,
    }
    match serde_json::from_str::<Message>(payload) {
        Ok(message) if message.origin != origin => {
            invalidations.record(&message.tags, message.at);
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "unreadable cache invalidation message"),
    }
}

fn timeout_error() -> ::redis::RedisError {
    ::redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "redis call timed out",
    ))
}

/// A random id for this replica.
fn rand_id() -> u128 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&now_ms().to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    let local = 0u8;
    hasher.update(&(std::ptr::addr_of!(local) as usize).to_le_bytes());
    hasher.digest128()
}

/// `url` with any password replaced, for errors and logs.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
