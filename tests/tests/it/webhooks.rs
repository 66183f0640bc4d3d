//! Outbound order webhooks: a receiver on loopback gets each status change of an order once,
//! signed with its secret, even with two replicas hearing every event; a receiver that fails
//! gets the event again after a backoff; one that always fails ends with a dead delivery,
//! which the `webhooks replay` command's function sends again once the receiver is healthy.
//!
//! The webhooks run here as the orders subgraph runs them ([`webhooks::run`]) on the stack's
//! orders database and the bus of a replica the test holds, with a short retry policy (the
//! environment that configures them for a real subgraph is the process's, which tests share).
//!
//! Seeded orders: 1 (ada, placed), 2 (grace, placed), 6 (ada, placed).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use subgraph_kit::EventBus;
use subgraph_orders::webhooks::{self, DeadFilter, Endpoint, Retry, Settings, WebhookError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_tests::{TestStack, each_backend};

use crate::order_events::{ADVANCE, Replica, admin, gql_at};

/// How long a test waits for a request that should come.
const WAIT: Duration = Duration::from_secs(10);

/// How long a test listens for a request that should not come.
const QUIET: Duration = Duration::from_millis(600);

/// The pause that lets the webhooks subscribe to the bus before an order moves.
const SETTLE: Duration = Duration::from_millis(250);

/// The first retry's pause in these tests.
const BASE: Duration = Duration::from_millis(50);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    content_type: String,
    event_id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    /// The body, after checking the headers and the signature under `secret`.
    fn checked(&self, secret: &str) -> Value {
        assert_eq!(self.content_type, "application/json");
        assert_eq!(
            self.signature,
            expected_signature(secret, &self.timestamp, &self.body),
            "the signature is the HMAC-SHA256 of `<timestamp>.<body>`"
        );
        let sent_at: i64 = self.timestamp.parse().expect("Unix seconds");
        let now = chrono::Utc::now().timestamp();
        assert!((now - sent_at).abs() < 60, "a fresh timestamp: {sent_at}");
        let body: Value = serde_json::from_str(&self.body).expect("a JSON body");
        assert_eq!(body["id"], json!(self.event_id), "{body}");
        assert_eq!(body["type"], "order.status_changed", "{body}");
        assert!(body["createdAt"].as_str().is_some(), "{body}");
        body
    }
}

/// The signature a receiver computes for itself.
fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// What the receiver records and how it answers: the scripted statuses first, then `then`.
struct Inbox {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<u16>>,
    then: AtomicU16,
}

/// A webhook receiver on a loopback port.
struct Receiver {
    url: String,
    secret: String,
    inbox: Arc<Inbox>,
    shutdown: CancellationToken,
}

impl Receiver {
    /// Answers `script` in order, then `then` to every request.
    async fn start(secret: &str, script: &[u16], then: u16) -> Receiver {
        let inbox = Arc::new(Inbox {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(script.iter().copied().collect()),
            then: AtomicU16::new(then),
        });
        let app = axum::Router::new()
            .route("/hooks/orders", axum::routing::post(receive))
            .with_state(inbox.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!(
            "http://{}/hooks/orders",
            listener.local_addr().expect("an address")
        );
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
        Receiver {
            url,
            secret: secret.to_owned(),
            inbox,
            shutdown,
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            secret: self.secret.clone(),
        }
    }

    /// Answers `status` from now on.
    fn answer(&self, status: u16) {
        self.inbox.then.store(status, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().expect("the inbox").clone()
    }

    /// Waits until `count` requests arrived, then makes sure no more follow.
    async fn exactly(&self, count: usize) -> Vec<Received> {
        let started = Instant::now();
        while self.received().len() < count {
            assert!(
                started.elapsed() < WAIT,
                "{} of {count} requests arrived",
                self.received().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(QUIET).await;
        let received = self.received();
        assert_eq!(received.len(), count, "{received:#?}");
        received
    }

    fn stop(self) {
        self.shutdown.cancel();
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    inbox.received.lock().expect("the inbox").push(Received {
        at: Instant::now(),
        content_type: header("content-type"),
        event_id: header("x-tributary-event-id"),
        timestamp: header("x-tributary-timestamp"),
        signature: header("x-tributary-signature"),
        body,
    });
    let scripted = inbox.script.lock().expect("the script").pop_front();
    let status = scripted.unwrap_or_else(|| inbox.then.load(Ordering::SeqCst));
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The webhooks of one replica, running until stopped.
struct Hooks {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), WebhookError>>,
}

impl Hooks {
    /// Runs the webhooks on the stack's orders database (a pool of their own, as a replica
    /// has) for the events of `events`.
    async fn start(stack: &TestStack, events: &EventBus, settings: Settings) -> Hooks {
        let db = stack.deps("orders").await.db;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(webhooks::run(
            db,
            events.clone(),
            settings,
            shutdown.clone(),
        ));
        Hooks { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the webhooks ran")
            .expect("the webhooks started");
    }
}

/// Settings for `receivers` with a short retry policy of `max_attempts`.
fn settings(receivers: &[&Receiver], max_attempts: u32) -> Settings {
    Settings {
        retry: Retry {
            base: BASE,
            cap: Duration::from_secs(1),
            max_attempts,
        },
        ..Settings::new(receivers.iter().map(|r| r.endpoint()).collect())
    }
}

/// Moves `order` one step on through `replica` as staff, expecting `status`.
async fn advance(stack: &TestStack, replica: &Replica, order: &str, status: &str) {
    let moved = gql_at(
        stack,
        &replica.url,
        &admin(),
        ADVANCE,
        json!({ "id": order }),
    )
    .await;
    assert_eq!(
        moved,
        json!({ "data": { "advanceOrder": { "id": order, "status": status } } })
    );
}

#[tokio::test]
async fn each_status_change_reaches_each_endpoint_once_signed() {
    each_backend(|stack| async move {
        let events = EventBus::in_process();
        let replica = Replica::start(&stack, events.clone()).await;
        let shop = Receiver::start("shop-secret-0123456789", &[], 200).await;
        let crm = Receiver::start("crm-secret-9876543210", &[], 204).await;
        // Two replicas' webhooks hear every event: each is still queued and sent once.
        let one = Hooks::start(&stack, &events, settings(&[&shop, &crm], 8)).await;
        let two = Hooks::start(&stack, &events, settings(&[&shop, &crm], 8)).await;
        tokio::time::sleep(SETTLE).await;

        let path = ["PAID", "PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"];
        for status in path {
            advance(&stack, &replica, "1", status).await;
        }
        let mut ids = Vec::new();
        for receiver in [&shop, &crm] {
            let mut changes = BTreeSet::new();
            let mut heard = BTreeSet::new();
            for request in receiver.exactly(path.len()).await {
                let body = request.checked(&receiver.secret);
                let data = &body["data"];
                assert_eq!(
                    (&data["orderId"], &data["customerId"]),
                    (&json!("1"), &json!("1"))
                );
                changes.insert(format!(
                    "{}->{}",
                    data["previousStatus"].as_str().unwrap_or("null"),
                    data["status"].as_str().unwrap_or("null")
                ));
                heard.insert(request.event_id);
            }
            assert_eq!(
                changes,
                BTreeSet::from(
                    [
                        "PLACED->PAID",
                        "PAID->PREPARING",
                        "PREPARING->OUT_FOR_DELIVERY",
                        "OUT_FOR_DELIVERY->DELIVERED"
                    ]
                    .map(String::from)
                )
            );
            assert_eq!(heard.len(), path.len(), "one event id per change");
            ids.push(heard);
        }
        assert_eq!(ids[0], ids[1], "both endpoints get the same events");
        assert!(
            webhooks::dead(&stack.deps("orders").await.db, &DeadFilter::default())
                .await
                .expect("the dead deliveries")
                .is_empty()
        );

        one.stop().await;
        two.stop().await;
        replica.stop().await;
        shop.stop();
        crm.stop();
        stack
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt() {
    each_backend(|stack| async move {
        let events = EventBus::in_process();
        let replica = Replica::start(&stack, events.clone()).await;
        let flaky = Receiver::start("flaky-secret-0123456789", &[500, 500], 200).await;
        let hooks = Hooks::start(&stack, &events, settings(&[&flaky], 8)).await;
        tokio::time::sleep(SETTLE).await;

        advance(&stack, &replica, "2", "PAID").await;
        let attempts = flaky.exactly(3).await;
        for attempt in &attempts {
            let body = attempt.checked(&flaky.secret);
            assert_eq!(body["data"]["status"], "PAID");
            assert_eq!(body["data"]["customerId"], "2");
            assert_eq!(
                attempt.body, attempts[0].body,
                "every attempt sends one body"
            );
            assert_eq!(attempt.event_id, attempts[0].event_id);
        }
        // The pauses double from the base (a millisecond of rounding aside).
        let slack = Duration::from_millis(5);
        assert!(attempts[1].at - attempts[0].at >= BASE - slack);
        assert!(attempts[2].at - attempts[1].at >= 2 * BASE - slack);

        hooks.stop().await;
        replica.stop().await;
        flaky.stop();
        stack
    })
    .await;
}

#[tokio::test]
async fn a_dead_delivery_is_replayed_to_a_receiver_healthy_again() {
    each_backend(|stack| async move {
        let db = stack.deps("orders").await.db;
        let events = EventBus::in_process();
        let replica = Replica::start(&stack, events.clone()).await;
        let down = Receiver::start("down-secret-0123456789", &[], 503).await;
        let hooks = Hooks::start(&stack, &events, settings(&[&down], 3)).await;
        tokio::time::sleep(SETTLE).await;

        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        advance(&stack, &replica, "6", "PAID").await;
        let failed = down.exactly(3).await;
        let event_id = failed[0].event_id.clone();
        let started = Instant::now();
        let dead = loop {
            let dead = webhooks::dead(&db, &DeadFilter::default())
                .await
                .expect("the dead deliveries");
            if !dead.is_empty() || started.elapsed() > WAIT {
                break dead;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(dead.len(), 1, "{dead:?}");
        let letter = &dead[0];
        assert_eq!(
            (
                letter.url.as_str(),
                letter.event_id.as_str(),
                letter.attempts
            ),
            (down.url.as_str(), event_id.as_str(), 3)
        );
        assert_eq!(
            letter.last_error.as_deref(),
            Some("HTTP 503 Service Unavailable")
        );

        // Filters that select nothing replay nothing.
        let later = DeadFilter {
            since: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            ..DeadFilter::default()
        };
        let elsewhere = DeadFilter {
            endpoint: Some(letter.endpoint_id + 1),
            ..DeadFilter::default()
        };
        for filter in [later, elsewhere] {
            assert_eq!(webhooks::replay(&db, &filter).await.expect("a replay"), 0);
        }
        down.answer(200);
        let this = DeadFilter {
            endpoint: Some(letter.endpoint_id),
            since: Some(before),
        };
        assert_eq!(webhooks::replay(&db, &this).await.expect("a replay"), 1);
        assert_eq!(webhooks::replay(&db, &this).await.expect("a replay"), 0);
        let all = down.exactly(4).await;
        let body = all[3].checked(&down.secret);
        assert_eq!(all[3].event_id, event_id);
        assert_eq!(body["data"]["status"], "PAID");
        assert_eq!(body["data"]["orderId"], "6");
        assert!(
            webhooks::dead(&db, &DeadFilter::default())
                .await
                .expect("the dead deliveries")
                .is_empty()
        );

        hooks.stop().await;
        replica.stop().await;
        down.stop();
        stack
    })
    .await;
}
