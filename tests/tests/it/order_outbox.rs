//! The orders outbox: every status change writes its event in the change's transaction, and an
//! event whose publish failed after the commit still reaches its subscribers, once, when a
//! relay publishes it; two replicas' relays publishing the same rows deliver each event once.
//!
//! A replica whose bus refuses order events (a NATS bus with the orders stream never opened)
//! stands in for one that died between commit and publish: its changes commit, their events
//! stay in the outbox. The NATS stories use the server at `TEST_NATS_URL`, under a subject
//! prefix of their own, whose streams they delete at the end.

use std::time::Duration;

use serde_json::{Value, json};
use subgraph_kit::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use subgraph_kit::{EventBus, Subgraph};
use subgraph_orders::Orders;
use tokio_util::sync::CancellationToken;
use tributary_tests::{TestStack, each_backend};

use crate::order_events::{
    ADVANCE, Replica, Socket, admin, fresh_prefix, gql_at, nats_bus, nats_url,
};

const WATCH: &str = "subscription($id: ID!) { orderStatusChanged(orderId: $id) {
    eventId status order { id } } }";

const MY_UPDATES: &str = "subscription { myOrderUpdates { eventId status order { id } } }";

const CHECKOUT: &str = "mutation($key: String!) {
    checkout(lines: [{ productId: \"3\", quantity: 1 }], idempotencyKey: $key) { id status } }";

const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id) { id status } }";

/// How long a test waits for the outbox to reach a state it should reach.
const WAIT: Duration = Duration::from_secs(10);

/// One outbox row as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    order: String,
    event_id: String,
    published: bool,
}

/// The outbox rows of the bus under `prefix`, oldest first.
async fn outbox(db: &DatabaseConnection, prefix: &str) -> Vec<Row> {
    let sql = format!(
        "SELECT order_id, event_id, CASE WHEN published_at IS NULL THEN 0 ELSE 1 END AS published
         FROM order_events_outbox WHERE subject LIKE '{prefix}.%' ORDER BY id"
    );
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("the outbox reads")
        .iter()
        .map(|row| Row {
            order: row
                .try_get::<i64>("", "order_id")
                .expect("an order")
                .to_string(),
            event_id: row.try_get("", "event_id").expect("an event id"),
            published: row.try_get::<i32>("", "published").expect("a flag") == 1,
        })
        .collect()
}

/// Waits until every outbox row under `prefix` is published, and returns them.
async fn all_published(db: &DatabaseConnection, prefix: &str) -> Vec<Row> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rows = outbox(db, prefix).await;
        if rows.iter().all(|row| row.published) {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rows left unpublished: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The order id, status and event id of a `myOrderUpdates` or `orderStatusChanged` event.
fn change(payload: &Value) -> (String, String, String) {
    let data = payload["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .unwrap_or_else(|| panic!("an event: {payload}"));
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    (
        text(&data["order"]["id"]),
        text(&data["status"]),
        text(&data["eventId"]),
    )
}

/// A replica whose bus refuses every order event: it connects to NATS under `prefix` but never
/// opens the orders stream, so its changes commit and their publish fails.
async fn refusing_replica(
    stack: &TestStack,
    prefix: &str,
    shutdown: &CancellationToken,
) -> Replica {
    let refusing = EventBus::nats(&nats_url(), prefix, &[], shutdown.clone())
        .await
        .expect("NATS at TEST_NATS_URL or nats://127.0.0.1:4222");
    Replica::start(stack, refusing).await
}

/// Deletes the streams the test made under `prefix`.
async fn clean(prefix: &str, shutdown: CancellationToken) {
    let cleaner = nats_bus(prefix, &shutdown).await;
    shutdown.cancel();
    cleaner
        .delete_streams(Orders::TOPICS)
        .await
        .expect("the test's streams are deleted");
}

#[tokio::test]
async fn checkout_advance_and_cancel_each_publish_their_outbox_row_once() {
    each_backend(|stack| async move {
        let db = stack.deps("orders").await.db;
        let ada = stack.login("ada@example.com").await;
        let mut updates = Socket::ready(&stack.url("orders"), Some(&ada)).await;
        updates.subscribe("all", MY_UPDATES, json!({})).await;

        let placed = stack
            .gql_as(
                "orders",
                &ada,
                CHECKOUT,
                json!({ "key": "outbox-story-01" }),
            )
            .await;
        let id = placed["data"]["checkout"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no order: {placed}"))
            .to_owned();
        let moved = stack
            .gql_as("orders", &admin(), ADVANCE, json!({ "id": id }))
            .await;
        assert_eq!(moved["data"]["advanceOrder"]["status"], "PAID", "{moved}");
        let cancelled = stack
            .gql_as("orders", &ada, CANCEL, json!({ "id": id }))
            .await;
        assert_eq!(
            cancelled["data"]["cancelOrder"]["status"], "CANCELLED",
            "{cancelled}"
        );

        let mut heard = Vec::new();
        for status in ["PLACED", "PAID", "CANCELLED"] {
            let (order, got, event_id) = change(&updates.event("all").await);
            assert_eq!((order.as_str(), got.as_str()), (id.as_str(), status));
            heard.push(Row {
                order,
                event_id,
                published: true,
            });
        }
        updates.quiet().await;
        // One row per change, with the id its subscribers heard, each marked published.
        assert_eq!(all_published(&db, "tributary").await, heard);
        stack
    })
    .await;
}

#[tokio::test]
async fn an_event_whose_publish_failed_is_relayed_and_heard_once() {
    each_backend(|stack| async move {
        let db = stack.deps("orders").await.db;
        let prefix = fresh_prefix();
        let shutdown = CancellationToken::new();
        let healthy = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
        let refusing = refusing_replica(&stack, &prefix, &shutdown).await;
        let ada = stack.login("ada@example.com").await;
        let mut watching = Socket::ready(&healthy.url, Some(&ada)).await;
        watching.subscribe("1", WATCH, json!({ "id": "1" })).await;

        // The change stands although its publish failed; its event waits in the outbox.
        let moved = gql_at(
            &stack,
            &refusing.url,
            &admin(),
            ADVANCE,
            json!({ "id": "1" }),
        )
        .await;
        assert_eq!(
            moved,
            json!({ "data": { "advanceOrder": { "id": "1", "status": "PAID" } } })
        );
        let left = outbox(&db, &prefix).await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(!left[0].published, "{left:?}");

        // The healthy replica's relay publishes it under the row's id: heard once.
        let (order, status, event_id) = change(&watching.event("1").await);
        assert_eq!((order.as_str(), status.as_str()), ("1", "PAID"));
        assert_eq!(event_id, left[0].event_id);
        watching.quiet().await;
        assert_eq!(
            all_published(&db, &prefix).await,
            [Row {
                order: "1".to_owned(),
                event_id,
                published: true
            }]
        );

        drop(watching);
        healthy.stop().await;
        refusing.stop().await;
        clean(&prefix, shutdown).await;
        stack
    })
    .await;
}

#[tokio::test]
async fn two_relays_publishing_the_same_rows_deliver_each_event_once() {
    each_backend(|stack| async move {
        let db = stack.deps("orders").await.db;
        let prefix = fresh_prefix();
        let shutdown = CancellationToken::new();
        let one = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
        let two = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
        let refusing = refusing_replica(&stack, &prefix, &shutdown).await;
        let ada = stack.login("ada@example.com").await;
        let staff = admin();
        let mut on_one = Socket::ready(&one.url, Some(&ada)).await;
        on_one.subscribe("all", MY_UPDATES, json!({})).await;
        let mut on_two = Socket::ready(&two.url, Some(&ada)).await;
        on_two.subscribe("1", WATCH, json!({ "id": "1" })).await;

        // Three changes whose events wait in the outbox, for both relays at once.
        for (order, status) in [("1", "PAID"), ("1", "PREPARING"), ("6", "PAID")] {
            let moved = gql_at(
                &stack,
                &refusing.url,
                &staff,
                ADVANCE,
                json!({ "id": order }),
            )
            .await;
            assert_eq!(moved["data"]["advanceOrder"]["status"], status, "{moved}");
        }
        let mut heard = Vec::new();
        for (order, status) in [("1", "PAID"), ("1", "PREPARING"), ("6", "PAID")] {
            let (got_order, got, event_id) = change(&on_one.event("all").await);
            assert_eq!((got_order.as_str(), got.as_str()), (order, status));
            heard.push(Row {
                order: got_order,
                event_id,
                published: true,
            });
        }
        for expected in &heard[..2] {
            let (order, _, event_id) = change(&on_two.event("1").await);
            assert_eq!((&order, &event_id), (&expected.order, &expected.event_id));
        }
        on_one.quiet().await;
        on_two.quiet().await;
        assert_eq!(all_published(&db, &prefix).await, heard);

        // As if each had been published but not marked (a relay died in between): both relays
        // publish them again, under the same ids, and nobody hears them twice.
        db.execute_unprepared(&format!(
            "UPDATE order_events_outbox SET published_at = NULL WHERE subject LIKE '{prefix}.%'"
        ))
        .await
        .expect("the rows are unmarked");
        assert_eq!(all_published(&db, &prefix).await, heard);
        on_one.quiet().await;
        on_two.quiet().await;

        drop((on_one, on_two));
        one.stop().await;
        two.stop().await;
        refusing.stop().await;
        clean(&prefix, shutdown).await;
        stack
    })
    .await;
}
