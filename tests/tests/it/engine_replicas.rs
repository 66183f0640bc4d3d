//! Order events across engines and orders replicas: two orders replicas share one NATS
//! JetStream (under a subject prefix of the test's own, whose streams it deletes at the end) and
//! two web BFF engines each send their orders fetches and subscriptions to a different replica.
//! A customer watching through engine A hears, once each and with the fields other subgraphs
//! add, the changes staff make through engine B.

use std::time::Duration;

use serde_json::json;
use subgraph_kit::Subgraph;
use subgraph_orders::Orders;
use tokio_util::sync::CancellationToken;
use tributary_tests::{Bff, Environment, TcpRelay, TestStack};

use crate::order_events::{ADVANCE, Replica, Socket, admin, fresh_prefix, gql_at, nats_bus};

const WATCH: &str = "subscription($id: ID!) { orderStatusChanged(orderId: $id) {
    eventId status order { id lines { quantity product { name } } customer { name } } } }";

const MY_UPDATES: &str = "subscription { myOrderUpdates { eventId status order { id } } }";

const ORDER: &str = "query($id: ID!) { order(id: $id) { id status lines { quantity product { name } } customer { name } } }";

/// The pause between subscribing and changing what is watched: the subscription reaches the
/// replica's bus after the engine subscribed upstream, which no client can see.
const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn changes_made_through_one_engine_reach_a_watcher_on_another_once() {
    let stack = TestStack::sqlite().await;
    let prefix = fresh_prefix();
    let shutdown = CancellationToken::new();
    let one = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
    let two = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
    // Each replica behind a relay that counts connections, so the test sees which engine
    // reached which replica.
    let to_one = TcpRelay::before(&one.url).await;
    let to_two = TcpRelay::before(&two.url).await;
    let engine = |orders: String| {
        stack.counted_bff_with(Bff::Web, Environment::Development, move |config| {
            config.subgraphs.urls.insert("orders".to_owned(), orders);
        })
    };
    let a = engine(to_one.url()).await;
    let b = engine(to_two.url()).await;
    let ada = stack.login("ada@example.com").await;
    let staff = admin();

    // The order as engine A shows it now: its lines' names come from catalog, its customer's
    // name from accounts.
    let before = gql_at(&stack, a.url(), &ada, ORDER, json!({ "id": "1" })).await;
    let order = &before["data"]["order"];
    assert_eq!(order["status"], "PLACED", "{before}");
    assert!(order["lines"][0]["product"]["name"].is_string(), "{before}");
    assert!(order["customer"]["name"].is_string(), "{before}");

    let mut on_a = Socket::ready(a.url(), Some(&ada)).await;
    on_a.subscribe("a", WATCH, json!({ "id": "1" })).await;
    let mut on_b = Socket::ready(b.url(), Some(&ada)).await;
    on_b.subscribe("b", MY_UPDATES, json!({})).await;
    tokio::time::sleep(SETTLE).await;
    let (a_opened, b_opened) = (to_one.opened(), to_two.opened());
    assert!(
        a_opened >= 2 && to_one.open() >= 1,
        "engine A's query and subscription reached replica one ({a_opened} opened, {} open)",
        to_one.open()
    );
    assert!(
        to_two.open() >= 1,
        "engine B's subscription reached replica two"
    );

    let mut ids = Vec::new();
    for status in ["PAID", "PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"] {
        let moved = gql_at(&stack, b.url(), &staff, ADVANCE, json!({ "id": "1" })).await;
        assert_eq!(
            moved,
            json!({ "data": { "advanceOrder": { "id": "1", "status": status } } })
        );
        let heard = on_a.event("a").await;
        let change = &heard["data"]["orderStatusChanged"];
        let id = change["eventId"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            heard,
            json!({ "data": { "orderStatusChanged": {
                "eventId": id,
                "status": status,
                "order": { "id": "1", "lines": order["lines"], "customer": order["customer"] },
            } } }),
        );
        let also = on_b.event("b").await;
        assert_eq!(
            also,
            json!({ "data": { "myOrderUpdates": { "eventId": id, "status": status, "order": { "id": "1" } } } }),
            "the replica that made the change hears the same event"
        );
        assert!(
            !ids.contains(&id),
            "a new event id for each change: {ids:?} {id}"
        );
        ids.push(id);
    }
    // Each change was heard once on each engine, and nothing else was.
    on_a.quiet().await;
    on_b.quiet().await;
    assert!(
        to_two.opened() > b_opened,
        "engine B's mutations went to replica two"
    );
    let after = gql_at(&stack, a.url(), &ada, ORDER, json!({ "id": "1" })).await;
    assert_eq!(after["data"]["order"]["status"], "DELIVERED", "{after}");

    drop((on_a, on_b, a, b));
    one.stop().await;
    two.stop().await;
    let cleaner = nats_bus(&prefix, &shutdown).await;
    shutdown.cancel();
    cleaner
        .delete_streams(Orders::TOPICS)
        .await
        .expect("the test's streams are deleted");
    stack.stop().await;
}

#[tokio::test]
async fn a_watcher_resumes_on_another_engine_and_replica_after_the_last_event_it_had() {
    let stack = TestStack::sqlite().await;
    let prefix = fresh_prefix();
    let shutdown = CancellationToken::new();
    let one = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
    let two = Replica::start(&stack, nats_bus(&prefix, &shutdown).await).await;
    let engine = |orders: String| {
        stack.counted_bff_with(Bff::Web, Environment::Development, move |config| {
            config.subgraphs.urls.insert("orders".to_owned(), orders);
        })
    };
    let a = engine(one.url.clone()).await;
    let b = engine(two.url.clone()).await;
    let ada = stack.login("ada@example.com").await;
    let staff = admin();
    let watch = |url: String, last: Option<String>| {
        let mut request = stack
            .http()
            .post(url)
            .header("accept", "text/event-stream")
            .bearer_auth(&ada)
            .json(&json!({ "query": WATCH, "variables": { "id": "1" } }));
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        request.send()
    };
    let status = |event: &(String, serde_json::Value)| {
        event.1["data"]["orderStatusChanged"]["status"].clone()
    };

    let mut first = watch(a.url().to_owned(), None)
        .await
        .expect("engine A answers");
    tokio::time::sleep(SETTLE).await;
    gql_at(&stack, b.url(), &staff, ADVANCE, json!({ "id": "1" })).await;
    let heard = crate::live_orders::identified_events(&mut first, 1).await;
    assert_eq!(status(&heard[0]), "PAID");
    let last = heard[0].0.clone();
    drop(first);
    for _ in 0..2 {
        gql_at(&stack, b.url(), &staff, ADVANCE, json!({ "id": "1" })).await;
    }
    // The same id means the same place on JetStream to every replica: engine B, on replica
    // two, replays what engine A's client missed.
    let mut resumed = watch(b.url().to_owned(), Some(last))
        .await
        .expect("engine B answers");
    let missed = crate::live_orders::identified_events(&mut resumed, 2).await;
    assert_eq!(
        missed.iter().map(status).collect::<Vec<_>>(),
        ["PREPARING", "OUT_FOR_DELIVERY"]
    );

    drop((resumed, a, b));
    one.stop().await;
    two.stop().await;
    let cleaner = nats_bus(&prefix, &shutdown).await;
    shutdown.cancel();
    cleaner
        .delete_streams(Orders::TOPICS)
        .await
        .expect("the test's streams are deleted");
    stack.stop().await;
}
