//! JavaScript apps' clients against the engine, run by Node as a browser or a Node service
//! would, the test reading what they printed. `tests/node/subscribe.mjs` runs the `graphql-ws`
//! library (over `ws`) against the web BFF: a customer watching the order they just placed
//! hears each status staff give it once, in order, with its federated fields; a bad token is
//! refused with the close code `graphql-ws` reports. `tests/node/defer.mjs` runs Apollo Client
//! on the deferred product page: it reads the engine's `multipart/mixed` answer and shows the
//! product before its slow reviews.
//!
//! The Node packages are installed by `npm ci --prefix tests/node` (`.ci/run` does it); without
//! them these tests fail, they never skip.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tributary_tests::{Bff, Environment, Fault, TestStack};

use crate::order_events::{ADVANCE, admin, gql_at};

const CHECKOUT: &str = "mutation($key: String!) {
    checkout(lines: [{ productId: \"3\", quantity: 1 }, { productId: \"8\", quantity: 2 }], idempotencyKey: $key) {
        id status lines { quantity product { name } } } }";

/// The statuses staff move a placed order through, in order.
const STATUSES: [&str; 4] = ["PAID", "PREPARING", "OUT_FOR_DELIVERY", "DELIVERED"];

/// How long a test waits for the Node client to say or do something it should.
const WAIT: Duration = Duration::from_secs(20);

/// How long a test listens for a line that should not come.
const QUIET: Duration = Duration::from_millis(500);

/// The pause between the engine acknowledging the connection and changing the order: the
/// subscription reaches the orders subgraph's event bus after that, which no client can see.
const SETTLE: Duration = Duration::from_millis(500);

/// How long the reviews subgraph takes to answer in the deferred product page's test.
const SLOW_REVIEWS: Duration = Duration::from_millis(800);

/// The product's fields the deferred product page defers with the label `reviews`.
const REVIEWS: [&str; 3] = ["averageRating", "reviewCount", "reviews"];

/// The `data` of a result of the deferred product page without the product's `product_fields`
/// and the page's `page_fields`: what a result before those parts came should be.
fn page_without(result: &Value, product_fields: &[&str], page_fields: &[&str]) -> Value {
    let mut data = result["data"].clone();
    let page = &mut data["productPage"];
    for field in product_fields {
        page["product"].as_object_mut().map(|p| p.remove(*field));
    }
    for field in page_fields {
        page.as_object_mut().map(|p| p.remove(*field));
    }
    data
}

/// `tests/node`, its packages installed.
fn node_package() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    let modules = dir.join("node_modules");
    assert!(
        modules.join("graphql-ws").is_dir() && modules.join("@apollo").join("client").is_dir(),
        "the Node clients' packages are not installed ({} is missing): run \
         `npm ci --prefix tests/node` from the workspace root (Node 20 or later), then the tests",
        dir.join("node_modules").display()
    );
    dir
}

/// One run of a script in `tests/node`.
struct NodeClient {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: BufReader<ChildStderr>,
}

/// How a run ended: its exit status, the rest of stdout (one JSON value a line) and stderr.
struct Ended {
    status: ExitStatus,
    stdout: Vec<Value>,
    stderr: String,
}

impl NodeClient {
    /// Starts `node subscribe.mjs <url> <token> <order> [events]`.
    fn spawn(url: &str, token: &str, order: &str, events: Option<usize>) -> NodeClient {
        let events = events.map(|n| n.to_string());
        let args: Vec<&str> = [url, token, order]
            .into_iter()
            .chain(events.as_deref())
            .collect();
        NodeClient::run("subscribe.mjs", &args)
    }

    /// Starts `node <script> <args>…` for a script in `tests/node`.
    fn run(script: &str, args: &[&str]) -> NodeClient {
        let dir = node_package();
        let mut command = Command::new("node");
        command
            .arg(dir.join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("`node` could not be started ({e}): install Node 20 or later")
        });
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        NodeClient {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for `{"connected":true}` on stderr: the engine acknowledged the connection.
    async fn connected(&mut self) {
        let mut line = String::new();
        let read = tokio::time::timeout(WAIT, self.stderr.read_line(&mut line)).await;
        let said: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
        assert!(
            matches!(read, Ok(Ok(n)) if n > 0) && said == json!({ "connected": true }),
            "the Node client did not connect: {line:?}"
        );
    }

    /// The next line of stdout as JSON, or `None` if nothing comes within `wait`.
    async fn line_within(&mut self, wait: Duration) -> Option<Value> {
        let line = tokio::time::timeout(wait, self.stdout.next_line())
            .await
            .ok()?
            .expect("stdout reads")?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
    }

    /// Waits for the process to end on its own, within [`WAIT`].
    async fn ended(mut self) -> Ended {
        tokio::time::timeout(WAIT, async move {
            let mut stdout = Vec::new();
            while let Some(line) = self.stdout.next_line().await.expect("stdout reads") {
                stdout.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
            }
            let mut stderr = String::new();
            self.stderr
                .read_to_string(&mut stderr)
                .await
                .expect("stderr reads");
            let status = self.child.wait().await.expect("the process ends");
            Ended {
                status,
                stdout,
                stderr,
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the Node client did not end within {WAIT:?}"))
    }
}

/// Checks the events a Node client printed: each of [`STATUSES`] once, in order, for `order`
/// with `lines` (product names from catalog), each with an event id of its own. The order's own
/// `status` is read when the event is delivered, so it may already be a later one.
fn check_events(printed: &[Value], order: &str, lines: &Value) {
    let statuses: Vec<&str> = printed
        .iter()
        .map(|p| {
            p["data"]["orderStatusChanged"]["status"]
                .as_str()
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(statuses, STATUSES, "{printed:?}");
    let mut ids = HashSet::new();
    for payload in printed {
        let event = &payload["data"]["orderStatusChanged"];
        assert!(payload.get("errors").is_none(), "{payload}");
        assert_eq!(event["order"]["id"], order, "{payload}");
        assert_eq!(&event["order"]["lines"], lines, "{payload}");
        assert!(
            ids.insert(event["eventId"].as_str().unwrap_or_default().to_owned()),
            "a new event id: {payload}"
        );
    }
}

#[tokio::test]
async fn a_graphql_ws_client_hears_each_status_of_its_new_order_once_with_federated_fields() {
    node_package();
    let stack = TestStack::sqlite().await;
    let web = stack.url("web");
    let ada = stack.login("ada@example.com").await;
    let placed = gql_at(
        &stack,
        &web,
        &ada,
        CHECKOUT,
        json!({ "key": "node-watch-01" }),
    )
    .await;
    let order = placed["data"]["checkout"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order: {placed}"))
        .to_owned();
    let lines = placed["data"]["checkout"]["lines"].clone();
    assert_eq!(placed["data"]["checkout"]["status"], "PLACED", "{placed}");
    assert!(
        lines[0]["product"]["name"].is_string() && lines[1]["product"]["name"].is_string(),
        "{placed}"
    );

    // One client leaves after four events, the other stays to show nothing more comes.
    let mut counted = NodeClient::spawn(&web, &ada, &order, Some(STATUSES.len()));
    let mut open = NodeClient::spawn(&web, &ada, &order, None);
    counted.connected().await;
    open.connected().await;
    tokio::time::sleep(SETTLE).await;

    // Staff move the order one step at a time, each once the staying client heard the last.
    let staff = admin();
    let mut heard = Vec::new();
    for status in STATUSES {
        let moved = gql_at(&stack, &web, &staff, ADVANCE, json!({ "id": order })).await;
        assert_eq!(
            moved,
            json!({ "data": { "advanceOrder": { "id": order, "status": status } } })
        );
        let payload = open
            .line_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no {status} event within {WAIT:?}; before: {heard:?}"));
        assert_eq!(
            payload["data"]["orderStatusChanged"]["order"],
            json!({ "id": order, "status": status, "lines": lines }),
            "{payload}"
        );
        heard.push(payload);
    }
    check_events(&heard, &order, &lines);
    if let Some(extra) = open.line_within(QUIET).await {
        panic!("an event heard twice, or one too many: {extra}");
    }

    let ended = counted.ended().await;
    assert!(
        ended.status.success(),
        "{:?}: {}",
        ended.status,
        ended.stderr
    );
    assert_eq!(ended.stderr, "", "nothing but the events");
    check_events(&ended.stdout, &order, &lines);
    stack.stop().await;
}

#[tokio::test]
async fn a_graphql_ws_client_with_a_bad_token_is_closed_with_4403() {
    node_package();
    let stack = TestStack::sqlite().await;
    let ended = NodeClient::spawn(&stack.url("web"), "not-a-token", "1", None)
        .ended()
        .await;
    assert_eq!(ended.status.code(), Some(1), "{}", ended.stderr);
    assert!(ended.stdout.is_empty(), "{:?}", ended.stdout);
    let said: Value = serde_json::from_str(ended.stderr.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", ended.stderr));
    assert_eq!(said["error"]["code"], 4403, "{said}");
    let reason = said["error"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("UNAUTHENTICATED: "), "{said}");
    stack.stop().await;
}

#[tokio::test]
async fn apollo_client_shows_the_product_page_first_and_its_slow_reviews_after() {
    node_package();
    let stack = TestStack::sqlite().await;
    let web = stack.counted_bff(Bff::Web, Environment::Development).await;
    web.fault("reviews", Fault::Delay(SLOW_REVIEWS));
    let ended = NodeClient::run(
        "defer.mjs",
        &[
            web.url(),
            bff_web::PRODUCT_PAGE_DEFERRED,
            &json!({ "id": "25" }).to_string(),
        ],
    )
    .ended()
    .await;
    assert!(
        ended.status.success(),
        "{:?}: {}",
        ended.status,
        ended.stderr
    );

    // Apollo Client asked for incremental delivery itself, seeing @defer in the query.
    let told: Value = serde_json::from_str(ended.stderr.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", ended.stderr));
    assert_eq!(
        told,
        json!({
            "request": { "accept": "multipart/mixed;deferSpec=20220824,application/json" },
            "response": {
                "status": 200,
                "contentType": "multipart/mixed; boundary=\"graphql\"; deferSpec=20220824",
            },
        })
    );

    // The app shows the product while the reviews are still on their way.
    let results = &ended.stdout;
    let (Some(first), Some(last)) = (results.first(), results.last()) else {
        panic!("no results: {}", ended.stderr);
    };
    let at = |result: &Value| Duration::from_millis(result["ms"].as_u64().unwrap_or(u64::MAX));
    assert!(
        at(first) < SLOW_REVIEWS - Duration::from_millis(100),
        "the page waited for its reviews: {results:?}"
    );
    assert_eq!(
        first["data"]["productPage"]["product"]["name"], "Dark Roast Coffee Beans",
        "{first}"
    );
    assert_eq!(first["loading"], false, "{first}");

    // Then the recommendations and the reviews, each merged into the page as it came. Apollo
    // Client takes a part as whole once the delimiter after it arrives; the engine sends each
    // part with the delimiter after it, so the recommendations, ready with the product, show
    // before the slow reviews.
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        at(&results[1]) < SLOW_REVIEWS - Duration::from_millis(100),
        "the recommendations waited for the reviews: {results:?}"
    );
    assert!(at(last) >= SLOW_REVIEWS, "{results:?}");
    // The first result is the whole page but for its deferred parts.
    assert_eq!(
        first["data"],
        page_without(last, &REVIEWS, &["recommended"]),
        "{results:?}"
    );
    assert_eq!(
        results[1]["data"],
        page_without(last, &REVIEWS, &[]),
        "{results:?}"
    );
    let product = &last["data"]["productPage"]["product"];
    assert!(product["averageRating"].is_number(), "{last}");
    assert_eq!(product["reviewCount"], 3, "{last}");
    assert_eq!(product["reviews"][0]["author"]["username"], "ken", "{last}");
    let recommended = last["data"]["productPage"]["recommended"].as_array();
    assert_eq!(recommended.map(Vec::len), Some(4), "{last}");
    stack.stop().await;
}
