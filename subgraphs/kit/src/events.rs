//! The event bus: typed events one replica of a subgraph publishes, delivered to subscribers on
//! every replica, each event once per subscriber.
//!
//! By default the bus lives in the process: a tokio broadcast channel. With [`NATS_URL`] set it
//! is NATS JetStream: each [`Topic`] is a stream named `<PREFIX>_<TOPIC>` holding the subjects
//! `<prefix>.<topic>.>` (the prefix is [`NATS_SUBJECT_PREFIX`], `tributary` by default), a
//! publish waits for the stream's acknowledgement and is retried with the event id as
//! `Nats-Msg-Id` (so JetStream stores a retried event once), and each replica reads every topic
//! it opened through one ordered consumer that feeds the same local broadcast its subscribers
//! listen on. A replica whose consumer is recreated resumes after the last stream sequence it
//! saw, so delivery is at least once; every [`Subscription`] drops an event id it has already
//! seen, so a subscriber never sees one event twice.
//!
//! Opening the bus on NATS connects and creates the streams and consumers at once: a server that
//! cannot be reached is an error at start, never a bus that silently delivers nothing.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, message::PublishMessage, stream};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use rand_core::{OsRng, RngCore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The environment variable naming the NATS server (`nats://host:4222`); unset or empty, the
/// bus stays in the process.
pub const NATS_URL: &str = "NATS_URL";

/// The environment variable naming the first token of every subject and stream (default
/// [`DEFAULT_PREFIX`]): deployments sharing one NATS server, or tests, keep apart by it.
pub const NATS_SUBJECT_PREFIX: &str = "NATS_SUBJECT_PREFIX";

/// The subject prefix when [`NATS_SUBJECT_PREFIX`] is unset.
pub const DEFAULT_PREFIX: &str = "tributary";

/// How many events a replica holds for a subscriber that has not read them yet; one that falls
/// further behind skips the oldest (and the skip is logged).
const BUFFER: usize = 1024;

/// How many of the latest events a bus remembers for subscribers that resume.
pub const HISTORY: usize = 1024;

/// How many event ids a subscription remembers to drop repeats: far more than can be in flight.
const REMEMBERED: usize = 4096;

/// How many times a publish is sent before the bus gives up on it.
const PUBLISH_ATTEMPTS: u32 = 3;

/// How long one JetStream request (a publish's acknowledgement, a stream or consumer created)
/// may take: a status change waits for its event's acknowledgement, so an outage must cost it
/// seconds, not the client's default of five per attempt.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long JetStream keeps an event: long enough for a consumer recreated after an outage to
/// catch up, short enough that the stream stays small.
const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long JetStream remembers a `Nats-Msg-Id` to drop a retried publish.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The pause before a replica's consumer is created again after its stream of messages ended.
const RECONSUME_AFTER: Duration = Duration::from_millis(500);

/// A family of events: one JetStream stream on NATS, a subject token in process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// The topic's subject token (`orders`): lowercase letters, digits, `-` and `_`.
    pub name: &'static str,
}

/// A kind of event that can travel on the bus.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The topic the event belongs to.
    const TOPIC: Topic;

    /// Its subject below the topic, one or more `.`-separated tokens (`42.status` for order 42).
    fn subject(&self) -> String;
}

/// The unique id of one published event: 128 random bits, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventId(String);

impl EventId {
    /// A fresh, random id.
    pub fn new() -> Self {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        EventId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id as [`EventId::as_str`] wrote it (an outbox row keeps it so that every publish of
    /// the row carries it): 32 lowercase hex digits, else `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == 32
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        well_formed.then(|| EventId(text.to_owned()))
    }
}

impl Default for EventId {
    fn default() -> Self {
        EventId::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One event as a subscriber receives it.
#[derive(Debug, Clone)]
pub struct Envelope<E> {
    /// The event's unique id, the same on every replica.
    pub id: EventId,
    /// Its place on the bus: the JetStream stream sequence on NATS (the same on every
    /// replica), a counter in process. A subscriber resumes after it (see
    /// [`EventBus::subscribe_after`]).
    pub sequence: u64,
    /// The whole subject it was published on (`tributary.orders.42.status`).
    pub subject: String,
    /// The event.
    pub event: E,
}

/// A subscriber's events: every matching event published from the moment of subscribing on,
/// each event id once.
pub type Subscription<E> = BoxStream<'static, Envelope<E>>;

/// Why the bus could not open, publish or subscribe.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The NATS server could not be reached or refused the connection.
    #[error("connecting to NATS at {url}: {source}")]
    Connect {
        /// The server's URL.
        url: String,
        /// The client's error.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A JetStream stream or consumer could not be created.
    #[error("opening the JetStream stream {stream}: {detail}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// What JetStream answered.
        detail: String,
    },
    /// JetStream did not acknowledge an event after every attempt.
    #[error("publishing on {subject}: {detail}")]
    Publish {
        /// The event's subject.
        subject: String,
        /// The last attempt's error.
        detail: String,
    },
    /// An event could not be written as JSON.
    #[error("encoding an event: {0}")]
    Encode(#[from] serde_json::Error),
    /// A subject or prefix with an empty token or a character NATS reserves.
    #[error(
        "`{0}` is not a valid subject: tokens of letters, digits, `-` and `_` separated by `.`"
    )]
    Subject(String),
    /// A topic used on NATS that the bus was not opened with, so no stream holds it.
    #[error("the topic `{0}` was not opened on this bus")]
    Unopened(&'static str),
}

/// Publishes and subscribes to typed events, in process or over NATS JetStream. Cloning shares
/// it.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    /// What the local subscribers read: events published here (in process) or read from
    /// JetStream by this replica's consumers (on NATS), and the latest of them.
    local: Arc<Local>,
    /// The first token of every subject.
    prefix: String,
    /// The JetStream side, when the bus runs on NATS.
    nats: Option<Nats>,
}

struct Nats {
    jetstream: jetstream::Context,
    /// The topics opened at start, each with its stream.
    topics: Vec<Topic>,
}

/// One event on the local broadcast, still encoded: each subscriber decodes its own copy.
struct Delivered {
    subject: String,
    body: Vec<u8>,
    sequence: u64,
}

/// The local broadcast and the [`HISTORY`] events it carried last, which a resuming
/// subscriber is replayed from. One lock orders both, so an event is either in the history a
/// subscriber copies or reaches its receiver, never both or neither.
struct Local {
    sender: broadcast::Sender<Arc<Delivered>>,
    history: std::sync::Mutex<History>,
}

/// The remembered events, and the sequence of the last event published in process.
struct History {
    events: VecDeque<Arc<Delivered>>,
    published: u64,
}

impl Local {
    /// Delivers an event read from JetStream, under its stream sequence.
    fn deliver(&self, delivered: Delivered) {
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.push(&mut history, delivered);
    }

    /// Delivers an event published in process, numbered under the lock that orders the
    /// history, so sequences rise in the order subscribers see them.
    fn publish(&self, subject: String, body: Vec<u8>) {
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        history.published += 1;
        let sequence = history.published;
        self.push(
            &mut history,
            Delivered {
                subject,
                body,
                sequence,
            },
        );
    }

    fn push(&self, history: &mut History, delivered: Delivered) {
        let delivered = Arc::new(delivered);
        if history.events.len() == HISTORY {
            history.events.pop_front();
        }
        history.events.push_back(delivered.clone());
        // No subscriber is no error: nobody is listening yet.
        let _ = self.sender.send(delivered);
    }

    /// A receiver of what comes next, with the remembered events after `after`.
    fn subscribe(
        &self,
        after: Option<u64>,
    ) -> (
        broadcast::Receiver<Arc<Delivered>>,
        VecDeque<Arc<Delivered>>,
    ) {
        let history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let receiver = self.sender.subscribe();
        if let (Some(after), Some(oldest)) = (after, history.events.front())
            && oldest.sequence > after.saturating_add(1)
        {
            tracing::info!(
                after,
                oldest = oldest.sequence,
                "a subscriber resumes from before the remembered events; what it missed before them is not replayed"
            );
        }
        let backlog = match after {
            Some(after) => history
                .events
                .iter()
                .filter(|delivered| delivered.sequence > after)
                .cloned()
                .collect(),
            None => VecDeque::new(),
        };
        (receiver, backlog)
    }
}

/// A subscription's resume point: the sequence of the last event its client received
/// (`lastEventId` in `connection_init`, from SSE's `Last-Event-ID`).
#[derive(Debug, Clone, Copy)]
pub struct ResumeAfter(pub u64);

/// The sequence of the event a subscription's connection delivered last, where the server
/// adds it to each `next` (`extensions.eventCursor`) so the client can resume after it.
#[derive(Debug, Clone)]
pub struct EventCursor(Arc<std::sync::atomic::AtomicU64>);

impl Default for EventCursor {
    fn default() -> Self {
        EventCursor(Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)))
    }
}

impl EventCursor {
    /// Records the sequence of the event being delivered.
    pub fn set(&self, sequence: u64) {
        self.0.store(sequence, std::sync::atomic::Ordering::Relaxed);
    }

    /// The sequence of the event delivered last, if any.
    pub fn get(&self) -> Option<u64> {
        let sequence = self.0.load(std::sync::atomic::Ordering::Relaxed);
        (sequence != u64::MAX).then_some(sequence)
    }
}

/// The JSON an event travels as: its id beside it, so the id survives any transport.
#[derive(Serialize)]
struct Outgoing<'a, E> {
    id: &'a EventId,
    event: &'a E,
}

#[derive(Deserialize)]
struct Incoming<E> {
    id: EventId,
    event: E,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("prefix", &self.inner.prefix)
            .field("nats", &self.inner.nats.is_some())
            .finish()
    }
}

impl EventBus {
    /// A bus in this process only: subscribers see what this process publishes.
    pub fn in_process() -> Self {
        EventBus::with(DEFAULT_PREFIX.to_owned(), None)
    }

    /// A bus on the NATS server at `url`, its subjects under `prefix`: connects, makes sure each
    /// topic's stream exists and starts this replica's consumer of it, which runs until
    /// `shutdown`. Fails when the server cannot be reached or JetStream refuses a stream.
    pub async fn nats(
        url: &str,
        prefix: &str,
        topics: &[Topic],
        shutdown: CancellationToken,
    ) -> Result<Self, EventError> {
        check_subject(prefix)?;
        for topic in topics {
            check_subject(topic.name)?;
        }
        let client = async_nats::ConnectOptions::new()
            .name("tributary")
            .connect(url)
            .await
            .map_err(|source| EventError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let jetstream = jetstream::context::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client);
        let bus = EventBus::with(
            prefix.to_owned(),
            Some(Nats {
                jetstream: jetstream.clone(),
                topics: topics.to_vec(),
            }),
        );
        for topic in topics {
            let stream = bus.open_stream(&jetstream, *topic).await?;
            let messages = consume(&stream, bus.filter_of(*topic), consumer::DeliverPolicy::New)
                .await
                .map_err(|detail| EventError::Stream {
                    stream: stream_name(prefix, *topic),
                    detail,
                })?;
            tokio::spawn(feed(
                stream,
                bus.filter_of(*topic),
                messages,
                bus.inner.local.clone(),
                shutdown.clone(),
            ));
        }
        tracing::info!(
            url,
            prefix,
            topics = topics.len(),
            "event bus on NATS JetStream"
        );
        Ok(bus)
    }

    /// The bus the environment asks for: on NATS when [`NATS_URL`] is set (see
    /// [`EventBus::nats`]), else in process. No topics need no NATS: the bus stays in process.
    pub async fn from_env(
        topics: &[Topic],
        shutdown: CancellationToken,
    ) -> Result<Self, EventError> {
        let url = std::env::var(NATS_URL).unwrap_or_default();
        if url.trim().is_empty() || topics.is_empty() {
            return Ok(EventBus::in_process());
        }
        let prefix = std::env::var(NATS_SUBJECT_PREFIX)
            .ok()
            .filter(|prefix| !prefix.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        EventBus::nats(url.trim(), &prefix, topics, shutdown).await
    }

    fn with(prefix: String, nats: Option<Nats>) -> Self {
        let (sender, _) = broadcast::channel(BUFFER);
        EventBus {
            inner: Arc::new(Inner {
                local: Arc::new(Local {
                    sender,
                    history: std::sync::Mutex::new(History {
                        events: VecDeque::with_capacity(HISTORY),
                        published: 0,
                    }),
                }),
                prefix,
                nats,
            }),
        }
    }

    /// Whether events travel over NATS (and so reach the other replicas).
    pub fn is_shared(&self) -> bool {
        self.inner.nats.is_some()
    }

    /// The whole subject of `event`: prefix, topic and the event's own subject.
    pub fn subject_of<E: Event>(&self, event: &E) -> Result<String, EventError> {
        let subject = format!(
            "{}.{}.{}",
            self.inner.prefix,
            E::TOPIC.name,
            event.subject()
        );
        check_subject(&subject)?;
        Ok(subject)
    }

    /// The first token of every subject on this bus (see [`NATS_SUBJECT_PREFIX`]).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Publishes `event` under a fresh id and returns the id. On NATS it returns once JetStream
    /// stored the event (the stream's own subscribers, this replica's included, get it from
    /// there); in process once the local subscribers have it.
    pub async fn publish<E: Event>(&self, event: &E) -> Result<EventId, EventError> {
        let id = EventId::new();
        self.publish_with_id(event, &id).await?;
        Ok(id)
    }

    /// Publishes `event` under `id`, chosen beforehand (a transactional outbox stores it with
    /// the change): publishing one id again is harmless, since JetStream stores it once within
    /// its duplicate window (two minutes) and every subscription drops an id it has delivered.
    /// Returns as [`EventBus::publish`] does.
    pub async fn publish_with_id<E: Event>(
        &self,
        event: &E,
        id: &EventId,
    ) -> Result<(), EventError> {
        let subject = self.subject_of(event)?;
        let body = serde_json::to_vec(&Outgoing { id, event })?;
        match &self.inner.nats {
            None => self.inner.local.publish(subject.clone(), body),
            Some(nats) => {
                if !nats.topics.contains(&E::TOPIC) {
                    return Err(EventError::Unopened(E::TOPIC.name));
                }
                publish_acknowledged(&nats.jetstream, &subject, id, body).await?;
            }
        }
        tracing::debug!(%subject, event_id = %id, "event published");
        Ok(())
    }

    /// Subscribes to the events of `E` whose subject below the topic matches `filter` (NATS
    /// wildcards: `*` one token, `>` the rest): `42.status`, `*.status`. Events published from
    /// now on arrive in order, each id once.
    pub fn subscribe<E: Event>(&self, filter: &str) -> Result<Subscription<E>, EventError> {
        self.subscribe_after(filter, None)
    }

    /// Like [`EventBus::subscribe`], first replaying the remembered events (the last
    /// [`HISTORY`] this replica heard) whose sequence is after `after`: what a client that lost
    /// its connection missed, when it gives the sequence of the last event it received.
    pub fn subscribe_after<E: Event>(
        &self,
        filter: &str,
        after: Option<u64>,
    ) -> Result<Subscription<E>, EventError> {
        if let Some(nats) = &self.inner.nats
            && !nats.topics.contains(&E::TOPIC)
        {
            return Err(EventError::Unopened(E::TOPIC.name));
        }
        let pattern = format!("{}.{}.{}", self.inner.prefix, E::TOPIC.name, filter);
        check_filter(&pattern)?;
        let (receiver, backlog) = self.inner.local.subscribe(after);
        // On NATS, sequences are the stream's, the same on every replica: a live event at or
        // before `after` is one the client had from a replica ahead of this one.
        let skip_through = after.filter(|_| self.inner.nats.is_some());
        Ok(deduplicated(receiver, backlog, pattern, skip_through).boxed())
    }

    fn filter_of(&self, topic: Topic) -> String {
        format!("{}.{}.>", self.inner.prefix, topic.name)
    }

    async fn open_stream(
        &self,
        jetstream: &jetstream::Context,
        topic: Topic,
    ) -> Result<stream::Stream, EventError> {
        let name = stream_name(&self.inner.prefix, topic);
        jetstream
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![self.filter_of(topic)],
                max_age: RETENTION,
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|err| EventError::Stream {
                stream: name,
                detail: err.to_string(),
            })
    }

    /// Deletes the JetStream streams of `topics` under this bus's prefix (for tests that made a
    /// prefix of their own); a bus in process has nothing to delete.
    pub async fn delete_streams(&self, topics: &[Topic]) -> Result<(), EventError> {
        let Some(nats) = &self.inner.nats else {
            return Ok(());
        };
        for topic in topics {
            let name = stream_name(&self.inner.prefix, *topic);
            nats.jetstream
                .delete_stream(&name)
                .await
                .map_err(|err| EventError::Stream {
                    stream: name,
                    detail: err.to_string(),
                })?;
        }
        Ok(())
    }
}

/// The stream of a topic: `TRIBUTARY_ORDERS` for topic `orders` under prefix `tributary`.
fn stream_name(prefix: &str, topic: Topic) -> String {
    format!("{prefix}_{}", topic.name)
        .chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            'A'..='Z' | '0'..='9' | '_' => c,
            _ => '_',
        })
        .collect()
}

/// Sends one event to JetStream and waits for its acknowledgement, up to [`PUBLISH_ATTEMPTS`]
/// times; the event id as `Nats-Msg-Id` makes a retry of a stored event a no-op.
async fn publish_acknowledged(
    jetstream: &jetstream::Context,
    subject: &str,
    id: &EventId,
    body: Vec<u8>,
) -> Result<(), EventError> {
    let mut pause = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let publish = PublishMessage::build()
            .payload(body.clone().into())
            .message_id(id.as_str());
        let outcome = match jetstream.send_publish(subject.to_owned(), publish).await {
            Ok(ack) => ack.await.map(|_| ()).map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(detail) if attempt >= PUBLISH_ATTEMPTS => {
                return Err(EventError::Publish {
                    subject: subject.to_owned(),
                    detail,
                });
            }
            Err(detail) => {
                tracing::warn!(subject, event_id = %id, attempt, error = %detail, "publishing an event failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
        }
    }
}

/// An ordered consumer of `filter` on `stream`, starting where `from` says.
async fn consume(
    stream: &stream::Stream,
    filter: String,
    from: consumer::DeliverPolicy,
) -> Result<consumer::pull::Ordered, String> {
    stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: filter,
            deliver_policy: from,
            ..Default::default()
        })
        .await
        .map_err(|err| err.to_string())?
        .messages()
        .await
        .map_err(|err| err.to_string())
}

/// This replica's reader of one topic: every event JetStream holds goes to the local
/// subscribers. When the consumer's messages end it is created again after the last stream
/// sequence seen, so nothing is skipped; it stops at `shutdown`.
async fn feed(
    stream: stream::Stream,
    filter: String,
    mut messages: consumer::pull::Ordered,
    local: Arc<Local>,
    shutdown: CancellationToken,
) {
    let mut last_sequence = None;
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return,
            next = messages.next() => next,
        };
        match next {
            Some(Ok(message)) => {
                let sequence = message.info().map(|info| info.stream_sequence).ok();
                if sequence.is_some() {
                    last_sequence = sequence;
                }
                local.deliver(Delivered {
                    subject: message.subject.to_string(),
                    body: message.payload.to_vec(),
                    sequence: sequence.unwrap_or_default(),
                });
            }
            Some(Err(err)) => {
                tracing::warn!(%filter, error = %err, "reading events from JetStream failed; the consumer recovers")
            }
            None => {
                tracing::warn!(%filter, "the JetStream consumer ended; creating it again");
                let from = match last_sequence {
                    Some(sequence) => consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: sequence + 1,
                    },
                    None => consumer::DeliverPolicy::New,
                };
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(RECONSUME_AFTER) => {}
                    }
                    match consume(&stream, filter.clone(), from).await {
                        Ok(again) => {
                            messages = again;
                            break;
                        }
                        Err(err) => {
                            tracing::warn!(%filter, error = %err, "creating the JetStream consumer failed; retrying")
                        }
                    }
                }
            }
        }
    }
}

/// The events of the local broadcast matching `pattern`, decoded, each id once.
fn deduplicated<E: Event>(
    receiver: broadcast::Receiver<Arc<Delivered>>,
    backlog: VecDeque<Arc<Delivered>>,
    pattern: String,
    skip_through: Option<u64>,
) -> impl Stream<Item = Envelope<E>> + Send + 'static {
    futures::stream::unfold(
        (receiver, backlog, Seen::default(), pattern),
        move |(mut receiver, mut backlog, mut seen, pattern)| async move {
            loop {
                let next = match backlog.pop_front() {
                    Some(delivered) => Ok(delivered),
                    None => receiver.recv().await,
                };
                let delivered = match next {
                    Ok(delivered) => delivered,
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(%pattern, skipped, "a subscriber fell behind; events skipped");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                if !matches(&pattern, &delivered.subject)
                    || skip_through.is_some_and(|after| delivered.sequence <= after)
                {
                    continue;
                }
                let incoming: Incoming<E> = match serde_json::from_slice(&delivered.body) {
                    Ok(incoming) => incoming,
                    Err(err) => {
                        tracing::warn!(subject = %delivered.subject, error = %err, "an event that does not decode was skipped");
                        continue;
                    }
                };
                if !seen.first_time(&incoming.id) {
                    tracing::debug!(subject = %delivered.subject, event_id = %incoming.id, "a repeated event was dropped");
                    continue;
                }
                let envelope = Envelope {
                    id: incoming.id,
                    sequence: delivered.sequence,
                    subject: delivered.subject.clone(),
                    event: incoming.event,
                };
                return Some((envelope, (receiver, backlog, seen, pattern)));
            }
        },
    )
}

/// The event ids a subscription has delivered, the newest [`REMEMBERED`] of them.
#[derive(Default)]
struct Seen {
    order: VecDeque<EventId>,
    ids: HashSet<EventId>,
}

impl Seen {
    /// Records `id`; false when it was already recorded.
    fn first_time(&mut self, id: &EventId) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.ids.insert(id.clone());
        true
    }
}

/// Whether `subject` matches the NATS `pattern` (`*` matches one token, a final `>` one or
/// more).
fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in pattern.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (expected, Some(actual)) if expected == actual => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_subject(subject: &str) -> Result<(), EventError> {
    if subject.split('.').all(is_token) {
        Ok(())
    } else {
        Err(EventError::Subject(subject.to_owned()))
    }
}

fn check_filter(pattern: &str) -> Result<(), EventError> {
    let tokens: Vec<&str> = pattern.split('.').collect();
    let last = tokens.len() - 1;
    let valid = tokens
        .iter()
        .enumerate()
        .all(|(i, token)| is_token(token) || *token == "*" || (*token == ">" && i == last));
    if valid {
        Ok(())
    } else {
        Err(EventError::Subject(pattern.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Ping {
        id: u32,
    }

    impl Event for Ping {
        const TOPIC: Topic = Topic { name: "pings" };

        fn subject(&self) -> String {
            format!("{}.ping", self.id)
        }
    }

    #[test]
    fn subjects_match_like_nats() {
        for (pattern, subject, expected) in [
            ("a.b.c", "a.b.c", true),
            ("a.*.c", "a.b.c", true),
            ("a.*", "a.b.c", false),
            ("a.>", "a.b.c", true),
            ("a.>", "a", false),
            ("a.b.c", "a.b", false),
            ("a.*.c", "a.b.d", false),
        ] {
            assert_eq!(matches(pattern, subject), expected, "{pattern} ~ {subject}");
        }
        assert!(check_filter("tributary.orders.*.status").is_ok());
        assert!(check_filter("tributary.orders.>").is_ok());
        assert!(check_filter("tributary.>.status").is_err());
        assert!(check_subject("tributary.orders.4 2").is_err());
        assert!(check_subject("tributary..x").is_err());
        assert_eq!(stream_name("t-1", Topic { name: "orders" }), "T_1_ORDERS");
    }

    #[tokio::test]
    async fn a_nats_server_that_cannot_be_reached_fails_the_bus_at_once() {
        let started = std::time::Instant::now();
        let err = EventBus::nats(
            "nats://127.0.0.1:1",
            DEFAULT_PREFIX,
            &[Ping::TOPIC],
            CancellationToken::new(),
        )
        .await
        .expect_err("nothing listens on port 1");
        assert!(matches!(err, EventError::Connect { .. }), "{err}");
        assert!(err.to_string().contains("nats://127.0.0.1:1"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no retries forever"
        );
    }

    #[tokio::test]
    async fn in_process_subscribers_see_matching_events_once_each() {
        let bus = EventBus::in_process();
        let mut one = bus.subscribe::<Ping>("1.ping").expect("a subscription");
        let mut all = bus.subscribe::<Ping>("*.ping").expect("a subscription");
        let first = bus.publish(&Ping { id: 1 }).await.expect("published");
        bus.publish(&Ping { id: 2 }).await.expect("published");
        // The same event delivered again (as a JetStream redelivery would) is dropped.
        let again = serde_json::to_vec(&Outgoing {
            id: &first,
            event: &Ping { id: 1 },
        })
        .expect("JSON");
        bus.inner.local.deliver(Delivered {
            subject: "tributary.pings.1.ping".to_owned(),
            body: again,
            sequence: 99,
        });
        bus.publish(&Ping { id: 1 }).await.expect("published");

        let got = one.next().await.expect("an event");
        assert_eq!((got.id.clone(), got.event), (first, Ping { id: 1 }));
        assert_eq!(got.subject, "tributary.pings.1.ping");
        let second = one.next().await.expect("an event");
        assert_ne!(second.id, got.id, "the repeat was dropped");
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(all.next().await.expect("an event").event.id);
        }
        assert_eq!(ids, [1, 2, 1]);
    }

    #[tokio::test]
    async fn an_event_published_again_under_its_id_is_delivered_once() {
        let bus = EventBus::in_process();
        let mut all = bus.subscribe::<Ping>("*.ping").expect("a subscription");
        let id = EventId::new();
        let stored = EventId::parse(id.as_str()).expect("an id reads back");
        assert_eq!(stored, id);
        for bad in ["", "xyz", &id.as_str().to_uppercase(), &format!("{id}0")] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
        bus.publish_with_id(&Ping { id: 1 }, &id)
            .await
            .expect("published");
        bus.publish_with_id(&Ping { id: 1 }, &stored)
            .await
            .expect("published again");
        let fresh = bus.publish(&Ping { id: 2 }).await.expect("published");
        let first = all.next().await.expect("an event");
        assert_eq!((first.id, first.event), (id, Ping { id: 1 }));
        let next = all.next().await.expect("an event");
        assert_eq!(next.id, fresh, "the repeat was dropped");
    }

    #[tokio::test]
    async fn a_resuming_subscriber_gets_the_events_after_its_last_then_the_live_ones() {
        let bus = EventBus::in_process();
        let mut live = bus.subscribe::<Ping>("*.ping").expect("a subscription");
        for id in 1..=3 {
            bus.publish(&Ping { id }).await.expect("published");
        }
        let first = live.next().await.expect("an event");
        let mut resumed = bus
            .subscribe_after::<Ping>("*.ping", Some(first.sequence))
            .expect("a subscription");
        bus.publish(&Ping { id: 4 }).await.expect("published");
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(resumed.next().await.expect("an event").event.id);
        }
        assert_eq!(ids, [2, 3, 4], "each missed event once, then the live one");
    }
    #[tokio::test]
    async fn a_subscriber_resuming_on_a_replica_behind_skips_the_live_events_it_had() {
        // On NATS every replica numbers events by the stream: a replica that has not yet read
        // events 2 and 3 hears them live after the client, which had them, resumed at 3.
        let (sender, receiver) = broadcast::channel(8);
        let resumed =
            deduplicated::<Ping>(receiver, VecDeque::new(), "t.pings.*.ping".into(), Some(3));
        for (sequence, id) in [(2, 2), (3, 3), (4, 4)] {
            let body = serde_json::to_vec(&Outgoing {
                id: &EventId::new(),
                event: &Ping { id },
            })
            .expect("JSON");
            let delivered = Delivered {
                subject: format!("t.pings.{id}.ping"),
                body,
                sequence,
            };
            assert!(sender.send(Arc::new(delivered)).is_ok(), "a receiver");
        }
        drop(sender);
        let ids: Vec<u32> = resumed.map(|envelope| envelope.event.id).collect().await;
        assert_eq!(
            ids,
            [4],
            "events 2 and 3 were delivered before the reconnect"
        );
    }
}
