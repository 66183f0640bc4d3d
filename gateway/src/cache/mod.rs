//! Caches on the request path: whole query responses and single entities, kept in memory and
//! optionally in Redis shared by every replica, tagged with the entities they contain and
//! invalidated by them.
//!
//! This module stores and finds entries and records invalidations; it does not decide what is
//! cacheable (the pipeline does, from the response's policy) and knows nothing of HTTP.

pub mod invalidate;
pub mod key;
pub mod redis;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

pub use invalidate::{Invalidations, Tag, Target};
pub use store::{Entry, Scope, Store};

use self::redis::{SharedTier, SharedTierError};
use crate::config::CacheConfig;

/// The caches of one engine and what they share.
pub struct Caches {
    /// Whole query responses, when enabled.
    pub response: Option<Store>,
    /// Single entities as `_entities` fetches answered them, when enabled.
    pub entity: Option<Store>,
    invalidations: Arc<Invalidations>,
    shared: Option<Arc<SharedTier>>,
}

impl Caches {
    /// The caches `config` enables for the engine named `engine`; the shared tier is set up
    /// when a Redis URL is configured (in `[cache] redis_url`, or else `REDIS_URL`).
    pub fn new(config: &CacheConfig, engine: &str) -> Result<Caches, SharedTierError> {
        let invalidations = Arc::new(Invalidations::new(Duration::from_secs(u64::from(
            config.max_ttl,
        ))));
        if !config.response && !config.entities {
            return Ok(Caches {
                response: None,
                entity: None,
                invalidations,
                shared: None,
            });
        }
        let url = config
            .redis_url
            .clone()
            .or_else(|| std::env::var("REDIS_URL").ok())
            .filter(|url| !url.trim().is_empty());
        let shared = match url {
            Some(url) => Some(SharedTier::start(
                &url,
                &config.redis_prefix,
                Duration::from_millis(config.redis_timeout_ms.max(1)),
                engine,
                invalidations.clone(),
            )?),
            None => None,
        };
        let store = |kind| {
            Store::new(
                kind,
                config.max_bytes,
                invalidations.clone(),
                shared.clone(),
                engine,
            )
        };
        Ok(Caches {
            response: config.response.then(|| store("r")),
            entity: config.entities.then(|| store("e")),
            invalidations,
            shared,
        })
    }

    /// Makes every entry tagged with one of `targets`' tags, or with one of the `exact` tags,
    /// stale here and, through the shared tier, on every replica; returns the tags it bumped.
    pub async fn invalidate(&self, targets: &[Target], exact: &[Tag]) -> Vec<Tag> {
        let mut tags: Vec<Tag> = targets.iter().flat_map(Target::tags).collect();
        tags.extend(exact.iter().cloned());
        tags.sort_unstable();
        tags.dedup();
        if tags.is_empty() || (self.response.is_none() && self.entity.is_none()) {
            return tags;
        }
        let at = invalidate::now_ms();
        self.invalidations.record(&tags, at);
        if let Some(shared) = &self.shared {
            shared.invalidate(&tags, at).await;
        }
        tags
    }

    /// The shared tier's state: `None` without one, else whether Redis answered last.
    pub fn shared_up(&self) -> Option<bool> {
        self.shared.as_ref().map(|shared| shared.is_up())
    }
}
