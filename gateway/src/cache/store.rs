//! One cache store: entries by 128-bit key in memory (bounded by bytes, each entry living as
//! long as its policy allows) and, when configured, in the shared tier behind it. The response
//! cache and the entity cache are each one store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::invalidate::{Invalidations, Tag, now_ms};
use super::key::hex;
use super::redis::SharedTier;

/// Who may be served a cached response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Anyone.
    Public,
    /// Only the caller it was stored for.
    Private,
}

/// One cached response or entity.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The response body as first written, or the entity's answer as JSON.
    pub body: Bytes,
    /// Who may be served it.
    pub scope: Scope,
    /// Seconds it stays fresh from `stored_ms`.
    pub max_age: u32,
    /// When it was stored (Unix ms).
    pub stored_ms: u64,
    /// When the execution that produced it started (Unix ms): invalidations at or after this
    /// make it stale.
    pub started_ms: u64,
    /// The entities it contains.
    pub tags: Box<[Tag]>,
}

impl Entry {
    /// Whole seconds since it was stored.
    pub fn age(&self, now_ms: u64) -> u32 {
        u32::try_from(now_ms.saturating_sub(self.stored_ms) / 1000).unwrap_or(u32::MAX)
    }

    /// Time it stays fresh from `now_ms`, if any is left.
    pub fn time_left(&self, now_ms: u64) -> Option<Duration> {
        let expires = self.stored_ms + u64::from(self.max_age) * 1000;
        (expires > now_ms).then(|| Duration::from_millis(expires - now_ms))
    }

    /// The entry as bytes for the shared tier.
    pub fn encode(&self) -> Vec<u8> {
        let tags: usize = self.tags.iter().map(|t| t.len() + 4).sum();
        let mut out = Vec::with_capacity(32 + tags + self.body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.max_age.to_le_bytes());
        out.push(match self.scope {
            Scope::Public => 0,
            Scope::Private => 1,
        });
        out.extend_from_slice(&self.stored_ms.to_le_bytes());
        out.extend_from_slice(&self.started_ms.to_le_bytes());
        out.extend_from_slice(&(self.tags.len() as u32).to_le_bytes());
        for tag in &self.tags {
            out.extend_from_slice(&(tag.len() as u32).to_le_bytes());
            out.extend_from_slice(tag.as_bytes());
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// Reads an entry written by [`Entry::encode`]; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let mut reader = Reader(bytes);
        if reader.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let max_age = u32::from_le_bytes(reader.array()?);
        let scope = match reader.take(1)?[0] {
            0 => Scope::Public,
            1 => Scope::Private,
            _ => return None,
        };
        let stored_ms = u64::from_le_bytes(reader.array()?);
        let started_ms = u64::from_le_bytes(reader.array()?);
        let count = u32::from_le_bytes(reader.array()?) as usize;
        let mut tags = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            let len = u32::from_le_bytes(reader.array()?) as usize;
            tags.push(Tag::from(std::str::from_utf8(reader.take(len)?).ok()?));
        }
        Some(Entry {
            body: Bytes::copy_from_slice(reader.0),
            scope,
            max_age,
            stored_ms,
            started_ms,
            tags: tags.into_boxed_slice(),
        })
    }
}

const MAGIC: &[u8] = b"TRB\x01";

struct Reader<'b>(&'b [u8]);

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// Entries in memory and, optionally, in the shared tier.
pub struct Store {
    /// What it holds, in Redis keys and metric labels: `r` (responses) or `e` (entities).
    kind: &'static str,
    engine: String,
    memory: moka::sync::Cache<u128, Arc<Entry>>,
    invalidations: Arc<Invalidations>,
    shared: Option<Arc<SharedTier>>,
}

/// Keeps each in-memory entry as long as its max age allows from when it was stored.
struct Expiry;

impl moka::Expiry<u128, Arc<Entry>> for Expiry {
    fn expire_after_create(
        &self,
        _key: &u128,
        entry: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(entry.time_left(now_ms()).unwrap_or(Duration::ZERO))
    }
}

impl Store {
    /// A store of `kind` (`r` or `e`) holding at most `max_bytes` in memory, consulting
    /// `invalidations` and, when given, the shared tier.
    pub fn new(
        kind: &'static str,
        max_bytes: u64,
        invalidations: Arc<Invalidations>,
        shared: Option<Arc<SharedTier>>,
        engine: &str,
    ) -> Store {
        let label = if kind == "r" { "response" } else { "entity" };
        let evictions = metrics::counter!(
            "tributary_cache_evictions_total",
            "engine" => engine.to_owned(),
            "cache" => label
        );
        let memory = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_key: &u128, entry: &Arc<Entry>| {
                let tags: usize = entry.tags.iter().map(|t| t.len() + 24).sum();
                u32::try_from(entry.body.len() + tags + 96).unwrap_or(u32::MAX)
            })
            .expire_after(Expiry)
            .eviction_listener(move |_key, _entry, cause| {
                if cause == moka::notification::RemovalCause::Size {
                    evictions.increment(1);
                }
            })
            .build();
        Store {
            kind,
            engine: engine.to_owned(),
            memory,
            invalidations,
            shared,
        }
    }

    /// The fresh entries at `keys`, in order: from memory, then the misses from the shared
    /// tier in one call. Counts hits and misses.
    pub async fn get_many(&self, keys: &[u128]) -> Vec<Option<Arc<Entry>>> {
        let now = now_ms();
        let mut found: Vec<Option<Arc<Entry>>> = keys
            .iter()
            .map(|key| self.fresh_in_memory(*key, now))
            .collect();
        if let Some(shared) = &self.shared {
            let missing: Vec<usize> = (0..keys.len()).filter(|i| found[*i].is_none()).collect();
            if !missing.is_empty() {
                let redis_keys: Vec<String> = missing
                    .iter()
                    .map(|i| shared.key(self.kind, &hex(keys[*i])))
                    .collect();
                let values = shared.get_many(&redis_keys).await;
                for (slot, bytes) in missing.into_iter().zip(values) {
                    let Some(entry) = bytes.as_deref().and_then(Entry::decode) else {
                        continue;
                    };
                    if entry.time_left(now).is_none()
                        || !self.invalidations.fresh(&entry.tags, entry.started_ms)
                    {
                        continue;
                    }
                    let entry = Arc::new(entry);
                    self.memory.insert(keys[slot], entry.clone());
                    found[slot] = Some(entry);
                }
            }
        }
        let hits = found.iter().filter(|f| f.is_some()).count() as u64;
        self.count("hit", hits);
        self.count("miss", keys.len() as u64 - hits);
        found
    }

    fn fresh_in_memory(&self, key: u128, now: u64) -> Option<Arc<Entry>> {
        let entry = self.memory.get(&key)?;
        if entry.time_left(now).is_some() && self.invalidations.fresh(&entry.tags, entry.started_ms)
        {
            return Some(entry);
        }
        self.memory.invalidate(&key);
        None
    }

    fn count(&self, result: &'static str, n: u64) {
        if n > 0 && self.kind == "e" {
            metrics::counter!(
                "tributary_cache_total",
                "engine" => self.engine.clone(),
                "cache" => "entity",
                "result" => result
            )
            .increment(n);
        }
    }

    /// The fresh entry at `key`, from memory or else from the shared tier.
    pub async fn get(&self, key: u128) -> Option<Arc<Entry>> {
        let now = now_ms();
        if let Some(entry) = self.fresh_in_memory(key, now) {
            return Some(entry);
        }
        let shared = self.shared.as_ref()?;
        let bytes = shared.get(&shared.key(self.kind, &hex(key))).await?;
        let entry = Entry::decode(&bytes)?;
        if entry.time_left(now).is_none()
            || !self.invalidations.fresh(&entry.tags, entry.started_ms)
        {
            return None;
        }
        let entry = Arc::new(entry);
        self.memory.insert(key, entry.clone());
        Some(entry)
    }

    /// Stores `entry` at `key` unless an invalidation of one of its tags arrived while it was
    /// computed; the shared tier is written in the background.
    pub fn put(&self, key: u128, entry: Entry) -> bool {
        if !self.invalidations.fresh(&entry.tags, entry.started_ms) {
            return false;
        }
        let Some(ttl) = entry.time_left(now_ms()) else {
            return false;
        };
        let entry = Arc::new(entry);
        self.memory.insert(key, entry.clone());
        if let Some(shared) = &self.shared {
            let shared = shared.clone();
            let kind = self.kind;
            tokio::spawn(async move {
                let redis_key = shared.key(kind, &hex(key));
                shared
                    .put(&redis_key, &entry.encode(), ttl, &entry.tags)
                    .await;
            });
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            body: Bytes::from_static(br#"{"data":{"a":1}}"#),
            scope: Scope::Private,
            max_age: 30,
            stored_ms: 1_000_000,
            started_ms: 999_990,
            tags: vec![Tag::from("Thing"), Tag::from("Thing:2")].into_boxed_slice(),
        }
    }

    #[test]
    fn an_entry_survives_encoding() {
        let original = entry();
        let decoded = Entry::decode(&original.encode()).expect("decodes");
        assert_eq!(decoded.body, original.body);
        assert_eq!(decoded.scope, original.scope);
        assert_eq!(decoded.max_age, original.max_age);
        assert_eq!(decoded.stored_ms, original.stored_ms);
        assert_eq!(decoded.started_ms, original.started_ms);
        assert_eq!(decoded.tags, original.tags);
    }

    #[test]
    fn foreign_or_cut_bytes_are_no_entry() {
        let bytes = entry().encode();
        assert!(Entry::decode(b"{}").is_none());
        assert!(Entry::decode(&bytes[..20]).is_none());
        assert!(Entry::decode(&[]).is_none());
    }

    #[test]
    fn age_and_time_left_follow_the_clock() {
        let entry = entry();
        assert_eq!(entry.age(1_000_000), 0);
        assert_eq!(entry.age(1_012_500), 12);
        assert_eq!(entry.time_left(1_020_000), Some(Duration::from_secs(10)));
        assert_eq!(entry.time_left(1_030_000), None);
    }
}
