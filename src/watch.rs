//! `tributary watch-order`: a customer's orders followed live from a terminal, one line per
//! status change, over the engine's Server-Sent Events (GraphQL over SSE, distinct
//! connections).
//!
//! It signs in with `login` unless given a token, POSTs the subscription with
//! `Accept: text/event-stream` and reads the stream by hand: `event:`, `data:` and `id:` lines,
//! a blank line ending each event, `:` lines being keep-alives. The engine sends each event as
//! `next` with a GraphQL response, then `complete`; it refuses with an ordinary JSON answer and
//! a 4xx status, or, once subscribing reached the subgraph (an order not the customer's), with
//! one `next` carrying only errors before `complete`. A stream that drops after an event that
//! carried an `id:` is resumed once, with `Last-Event-ID`.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

/// Every status change of any of the signed-in customer's orders.
const MY_ORDERS: &str =
    "subscription { myOrderUpdates { status order { id lines { quantity product { name } } } } }";

/// Every status change of one of the signed-in customer's orders.
const ONE_ORDER: &str = "subscription($id: ID!) { orderStatusChanged(orderId: $id) { status order { id lines { quantity product { name } } } } }";

/// Signing in: a token for an email and a password.
const LOGIN: &str = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { token } }";

/// How long reaching the engine may take; once connected, the stream may stay quiet for ever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of `tributary watch-order`.
#[derive(clap::Args, Debug)]
pub(crate) struct WatchArgs {
    /// GraphQL URL of the engine: the plain router (or a BFF that serves the subscription).
    #[arg(long, default_value = "http://127.0.0.1:4002/graphql")]
    url: String,
    /// Whom to sign in as.
    #[arg(long, default_value = "ada@example.com")]
    email: String,
    /// Their password (every demo user's is `tributary-demo`).
    #[arg(long, default_value = "tributary-demo")]
    password: String,
    /// An access token to watch with instead of signing in; it cannot be combined with --email
    /// or --password, also when it comes from the environment.
    #[arg(long, env = "TRIBUTARY_TOKEN", hide_env_values = true, conflicts_with_all = ["email", "password"])]
    token: Option<String>,
    /// Watch this one order (`orderStatusChanged`) instead of all of the customer's
    /// (`myOrderUpdates`).
    #[arg(long, value_name = "ID")]
    order: Option<String>,
}

/// Watches until the engine completes the subscription or Ctrl-C (`Ok`); `Err` when the engine
/// refuses, the subscription ends in an error or the stream drops for good.
pub(crate) async fn run(args: WatchArgs) -> anyhow::Result<()> {
    tokio::select! {
        watched = watch(&args) => watched,
        () = tributary_process::signal() => Ok(()),
    }
}

/// How one connection's stream ended, when the engine did not refuse it.
enum Ended {
    /// The engine sent `complete`.
    Complete,
    /// The connection closed or failed before `complete`.
    Dropped(anyhow::Error),
}

/// Signs in, subscribes and prints each event; reconnects once after a drop, when the stream
/// named its events.
async fn watch(args: &WatchArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let token = match &args.token {
        Some(token) => token.clone(),
        None => login(&client, &args.url, &args.email, &args.password).await?,
    };
    let body = match &args.order {
        Some(id) => json!({ "query": ONE_ORDER, "variables": { "id": id } }),
        None => json!({ "query": MY_ORDERS }),
    };
    let mut last_id = None;
    let mut reconnected = false;
    loop {
        let dropped = match follow(&client, &args.url, &token, &body, &mut last_id).await? {
            Ended::Complete => return Ok(()),
            Ended::Dropped(dropped) => dropped,
        };
        match &last_id {
            Some(id) if !reconnected => {
                eprintln!("{dropped:#}; reconnecting after event {id}");
                reconnected = true;
            }
            _ => return Err(dropped),
        }
    }
}

/// Signs in through the engine's `login` mutation and returns the access token.
async fn login(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let body = json!({ "query": LOGIN, "variables": { "email": email, "password": password } });
    let response = client
        .post(url)
        .header(ACCEPT, "application/json")
        .json(&body)
        .send()
        .await
        .with_context(|| format!("signing in at {url}"))?;
    let (status, answer) = read_answer(response).await?;
    match answer["data"]["login"]["token"].as_str() {
        Some(token) => Ok(token.to_owned()),
        None => anyhow::bail!(
            "signing in as {email} failed (HTTP {status}){}",
            errors_of(&answer)
        ),
    }
}

/// Opens one event stream (resuming after `last_id` when set) and prints its events until it
/// ends; `Err` when the engine cannot be reached or refuses. Keeps `last_id` up to date.
async fn follow(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
    last_id: &mut Option<String>,
) -> anyhow::Result<Ended> {
    let mut request = client
        .post(url)
        .header(ACCEPT, "text/event-stream")
        .bearer_auth(token)
        .json(body);
    if let Some(id) = last_id.as_deref() {
        request = request.header("last-event-id", id);
    }
    let mut response = request
        .send()
        .await
        .with_context(|| format!("subscribing at {url}"))?;
    let is_stream = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !response.status().is_success() || !is_stream {
        let (status, answer) = read_answer(response).await?;
        anyhow::bail!(
            "the engine refused the subscription (HTTP {status}){}",
            errors_of(&answer)
        );
    }
    eprintln!("Watching at {url}; Ctrl-C to stop.");
    // The last id carries over from the dropped stream, as an EventSource keeps it.
    let mut parser = SseParser {
        last_id: last_id.clone(),
        ..SseParser::default()
    };
    let mut failed = false;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                return Ok(Ended::Dropped(anyhow::anyhow!(
                    "the engine closed the event stream before `complete`"
                )));
            }
            Err(err) => {
                return Ok(Ended::Dropped(
                    anyhow::Error::new(err).context("the event stream dropped"),
                ));
            }
        };
        for event in parser.feed(&chunk) {
            last_id.clone_from(&event.id);
            match event.kind.as_str() {
                "next" => {
                    let described = describe_event(&event.data);
                    show(&described.text)?;
                    failed = described.failed;
                }
                // Errors without data, then `complete`: the subscription failed (an order
                // that is not the customer's, say), which the engine reports in the stream.
                "complete" if failed => anyhow::bail!("the subscription ended in an error"),
                "complete" => return Ok(Ended::Complete),
                _ => {}
            }
        }
    }
}

/// Reads a plain (non-stream) answer as JSON, with its status.
async fn read_answer(response: reqwest::Response) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("reading the engine's answer (HTTP {status})"))?;
    let answer = serde_json::from_str(&text).with_context(|| {
        let start: String = text.chars().take(200).collect();
        format!("the engine's answer (HTTP {status}) is not JSON: {start}")
    })?;
    Ok((status, answer))
}

/// Prints one line on standard output; `Err` once nobody reads it (a closed pipe).
fn show(line: &str) -> anyhow::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}").context("writing to standard output")
}

/// What one `next` event says, to print.
#[derive(Debug, PartialEq, Eq)]
struct Described {
    /// A line per error, then one for the update, if any.
    text: String,
    /// Whether it carried no update: only errors, or nothing readable.
    failed: bool,
}

/// The lines of one `next` event: one per error, then the update it carries, if any.
fn describe_event(data: &str) -> Described {
    let response: Value = match serde_json::from_str(data) {
        Ok(response) => response,
        Err(err) => {
            return Described {
                text: format!("error  unreadable event ({err}): {data}"),
                failed: true,
            };
        }
    };
    let mut lines: Vec<String> = response["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(describe_error)
        .collect();
    let update = response["data"]
        .as_object()
        .and_then(|data| data.values().find(|update| !update.is_null()));
    if let Some(update) = update {
        lines.push(describe_update(update));
    }
    if lines.is_empty() {
        lines.push(format!("error  an event without data or errors: {data}"));
    }
    Described {
        text: lines.join("\n"),
        failed: update.is_none(),
    }
}

/// One order's status change as a line: `order 12  PAID  2× Dark Roast Coffee Beans, 1× Hass Avocados`.
fn describe_update(update: &Value) -> String {
    let status = update["status"].as_str().unwrap_or("?");
    let order = &update["order"];
    let id = match &order["id"] {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => "?".to_owned(),
    };
    let lines: Vec<String> = order["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let quantity = line["quantity"]
                .as_i64()
                .map_or_else(|| "?".to_owned(), |q| q.to_string());
            let name = line["product"]["name"]
                .as_str()
                .unwrap_or("(unknown product)");
            format!("{quantity}× {name}")
        })
        .collect();
    if lines.is_empty() {
        format!("order {id}  {status}")
    } else {
        format!("order {id}  {status}  {}", lines.join(", "))
    }
}

/// One GraphQL error as a line: `error  NOT_FOUND  no such order`.
fn describe_error(error: &Value) -> String {
    let message = error["message"].as_str().unwrap_or("(no message)");
    match error["extensions"]["code"].as_str() {
        Some(code) => format!("error  {code}  {message}"),
        None => format!("error  {message}"),
    }
}

/// A refusal's errors, one indented line each, to follow its summary.
fn errors_of(answer: &Value) -> String {
    answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| format!("\n  {}", describe_error(error)))
        .collect()
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SseEvent {
    /// Its `event:` type; `message` when it named none.
    kind: String,
    /// Its `data:` lines, joined by line breaks.
    data: String,
    /// The last `id:` the stream sent, in this event or an earlier one (what `Last-Event-ID`
    /// resumes after).
    id: Option<String>,
}

/// Server-Sent Events read from a byte stream chunk by chunk. A line, or a character, split
/// across chunks is kept until its end arrives; lines end in LF or CRLF; an event still open
/// when the stream ends is never dispatched.
#[derive(Debug, Default)]
struct SseParser {
    /// Bytes after the last line break.
    pending: Vec<u8>,
    /// The open event's `event:` field.
    kind: Option<String>,
    /// The open event's `data:` lines so far.
    data: Option<String>,
    /// The last `id:`, which carries over to later events.
    last_id: Option<String>,
}

impl SseParser {
    /// Reads `chunk` and returns the events it completes.
    fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(length) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let raw = &self.pending[start..start + length];
            let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
            start += length + 1;
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        self.pending.drain(..start);
        events
    }

    /// Applies one line; a blank one dispatches the open event.
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.kind = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // An id with a NUL is ignored, as the SSE standard says; an empty one forgets it.
            "id" if !value.contains('\0') => {
                self.last_id = (!value.is_empty()).then(|| value.to_owned());
            }
            // A comment (the field name before `:` is empty): a keep-alive. `retry:` and
            // unknown fields mean nothing here.
            _ => {}
        }
        None
    }

    /// The open event, if it has a type or data; the next event starts empty either way.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let kind = self.kind.take().filter(|kind| !kind.is_empty());
        let data = self.data.take();
        if kind.is_none() && data.is_none() {
            return None;
        }
        Some(SseEvent {
            kind: kind.unwrap_or_else(|| "message".to_owned()),
            data: data.unwrap_or_default(),
            id: self.last_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` whole, then split in two at every byte, and expects the same events
    /// (type, data, last id) each time.
    fn check(stream: &str, expected: &[(&str, &str, Option<&str>)]) {
        let expected: Vec<SseEvent> = expected
            .iter()
            .map(|(kind, data, id)| SseEvent {
                kind: (*kind).to_owned(),
                data: (*data).to_owned(),
                id: id.map(str::to_owned),
            })
            .collect();
        let bytes = stream.as_bytes();
        for split in 0..=bytes.len() {
            let mut parser = SseParser::default();
            let mut events = parser.feed(&bytes[..split]);
            events.extend(parser.feed(&bytes[split..]));
            assert_eq!(events, expected, "{stream:?} split at byte {split}");
        }
    }

    #[test]
    fn the_engines_events_are_read_whole() {
        check(
            "event: next\ndata: {\"data\":{}}\n\nevent: complete\ndata: \n\n",
            &[("next", "{\"data\":{}}", None), ("complete", "", None)],
        );
    }

    #[test]
    fn keep_alives_and_unknown_fields_are_skipped() {
        check(
            ":\n\n: ping\nretry: 100\nevent: next\nfoo: bar\ndata: x\n\n",
            &[("next", "x", None)],
        );
    }

    #[test]
    fn data_lines_join_and_crlf_ends_a_line() {
        check(
            "data: a\r\ndata:b\r\ndata\r\n\r\nevent: complete\r\n\r\n",
            &[("message", "a\nb\n", None), ("complete", "", None)],
        );
    }

    #[test]
    fn the_last_id_carries_over_until_reset() {
        check(
            "id: 7\nevent: next\ndata: a\n\nevent: next\ndata: b\n\nid\nevent: next\ndata: c\n\n",
            &[
                ("next", "a", Some("7")),
                ("next", "b", Some("7")),
                ("next", "c", None),
            ],
        );
    }

    #[test]
    fn characters_split_across_chunks_survive() {
        check("data: 2× Café\n\n", &[("message", "2× Café", None)]);
    }

    #[test]
    fn an_event_the_stream_cuts_off_is_not_dispatched() {
        check(
            "event: next\ndata: a\n\nevent: next\ndata: b\n",
            &[("next", "a", None)],
        );
    }

    /// What `describe_event` makes of the `next` event `data`: its text and whether it failed.
    fn check_event(data: &str, text: &str, failed: bool) {
        let expected = Described {
            text: text.to_owned(),
            failed,
        };
        assert_eq!(describe_event(data), expected, "{data}");
    }

    #[test]
    fn updates_read_as_one_line_each() {
        check_event(
            r#"{"data":{"myOrderUpdates":{"status":"PAID","order":{"id":"12","lines":[
                {"quantity":2,"product":{"name":"Dark Roast Coffee Beans"}},
                {"quantity":1,"product":{"name":"Hass Avocados"}}]}}}}"#,
            "order 12  PAID  2× Dark Roast Coffee Beans, 1× Hass Avocados",
            false,
        );
        check_event(
            r#"{"data":{"orderStatusChanged":{"status":"CANCELLED","order":null}}}"#,
            "order ?  CANCELLED",
            false,
        );
    }

    #[test]
    fn errors_in_events_show_their_codes() {
        check_event(
            r#"{"data":{"orderStatusChanged":{"status":"DELIVERED","order":{"id":"3",
                "lines":[{"quantity":1,"product":null}]}}},"errors":[{"message":"catalog is down",
                "path":["orderStatusChanged","order","lines",0,"product"],
                "extensions":{"code":"UPSTREAM_FAILED"}}]}"#,
            "error  UPSTREAM_FAILED  catalog is down\norder 3  DELIVERED  1× (unknown product)",
            false,
        );
        check_event(
            r#"{"data":null,"errors":[{"message":"no such order","extensions":{"code":"NOT_FOUND"}},
                {"message":"bare"}]}"#,
            "error  NOT_FOUND  no such order\nerror  bare",
            true,
        );
        check_event(
            "not json",
            "error  unreadable event (expected ident at line 1 column 2): not json",
            true,
        );
    }

    #[test]
    fn a_refusal_lists_its_errors() {
        let answer = json!({ "errors": [
            { "message": "invalid token", "extensions": { "code": "UNAUTHENTICATED" } },
        ] });
        assert_eq!(
            errors_of(&answer),
            "\n  error  UNAUTHENTICATED  invalid token"
        );
        assert_eq!(errors_of(&json!({})), "");
    }
}
