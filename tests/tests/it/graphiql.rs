//! GraphiQL as the engine serves it, in a real browser: `tests/node/graphiql.mjs` opens the web
//! BFF's GraphQL URL in headless Chromium (through `playwright-core`), types a subscription, its
//! variables and an `Authorization` header into GraphiQL's editors and presses run; the test
//! has staff move the order and reads what GraphiQL's result pane showed. So the page's own
//! fetcher (graphql-ws inside the vendored bundle, the header in `connection_init`) is what runs
//! the subscription, as it does for a developer.
//!
//! It needs `npm ci --prefix tests/node` and Debian's `chromium` (`.ci/run` installs both);
//! without them it fails, it never skips.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;
use tributary_tests::TestStack;

use crate::order_events::{ADVANCE, admin, gql_at};

/// The browser the script drives: Debian's `chromium` package, or `CHROMIUM` if set.
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long the browser may take to start, load GraphiQL and start the subscription.
const START: Duration = Duration::from_secs(30);

/// How long the result pane may take to show a status staff just gave the order.
const WAIT: Duration = Duration::from_secs(10);

/// The pause between the browser sending the subscription and the order changing: the engine
/// subscribes to the orders subgraph's event bus after that, which no client can see.
const SETTLE: Duration = Duration::from_millis(500);

/// `tests/node/graphiql.mjs`, its packages and its browser installed.
fn graphiql_script() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    let playwright = dir.join("node_modules").join("playwright-core");
    assert!(
        playwright.is_dir(),
        "playwright-core is not installed ({} is missing): run `npm ci --prefix tests/node` \
         from the workspace root (Node 20 or later), then the tests",
        playwright.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "Chromium is not installed ({chromium} is missing): run \
         `apt-get install -y --no-install-recommends chromium` (Debian), then the tests"
    );
    dir.join("graphiql.mjs")
}

/// One run of `graphiql.mjs`: its stdout read line by line, its stderr (the page's console
/// errors, a failure's screenshot path) gathered whole for the messages of failed assertions.
struct Graphiql {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
}

impl Graphiql {
    /// Starts `node graphiql.mjs <url> <token> <order> <statuses>`.
    fn open(url: &str, token: &str, order: &str, statuses: usize) -> Graphiql {
        let script = graphiql_script();
        let mut child = Command::new("node")
            .arg(script)
            .args([url, token, order, &statuses.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("`node` could not be started ({e}): install Node 20 or later")
            });
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Graphiql {
            child,
            stdout,
            stderr,
        }
    }

    /// The next line of stdout as JSON within `wait`; on silence or an early end, a panic that
    /// shows what the script said on stderr.
    async fn next(&mut self, wait: Duration, expecting: &str) -> Value {
        let line = match tokio::time::timeout(wait, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                let (status, stderr) = self.end().await;
                panic!("GraphiQL's run ended ({status}) before {expecting}: {stderr}");
            }
            Ok(Err(e)) => panic!("stdout reads: {e}"),
            Err(_) => {
                self.stop().await;
                let (_, stderr) = self.end().await;
                panic!("no {expecting} within {wait:?}: {stderr}");
            }
        };
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Asks the script to stop with SIGTERM, on which it reports the page (screenshot, result
    /// pane, sockets) before it exits; kills it if the signal cannot be sent.
    async fn stop(&mut self) {
        let sent = match self.child.id() {
            Some(pid) => Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await
                .is_ok_and(|s| s.success()),
            None => false,
        };
        if !sent {
            let _ = self.child.start_kill();
        }
    }

    /// Waits for the process to end and returns its exit status and stderr.
    async fn end(&mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the browser script did not end within {WAIT:?}"))
            .expect("the process ends");
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        (status, stderr)
    }
}

#[tokio::test]
async fn graphiql_runs_a_subscription_and_shows_each_status_staff_give_the_order() {
    graphiql_script();
    let stack = TestStack::sqlite().await;
    let web = stack.url("web");
    let ada = stack.login("ada@example.com").await;

    let mut graphiql = Graphiql::open(&web, &ada, "1", 2);
    let running = graphiql.next(START, "the running subscription").await;
    assert_eq!(running, json!({ "running": true }));
    tokio::time::sleep(SETTLE).await;

    // Staff move Ada's order one step at a time, each once GraphiQL showed the last.
    let staff = admin();
    for status in ["PAID", "PREPARING"] {
        let moved = gql_at(&stack, &web, &staff, ADVANCE, json!({ "id": "1" })).await;
        assert_eq!(
            moved,
            json!({ "data": { "advanceOrder": { "id": "1", "status": status } } })
        );
        let shown = graphiql.next(WAIT, status).await;
        assert_eq!(
            shown,
            json!({ "shown": { "data": { "orderStatusChanged": {
                "status": status, "order": { "id": "1" } } } } })
        );
    }

    let (status, stderr) = graphiql.end().await;
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(stderr, "", "no console errors on the page");
    stack.stop().await;
}
