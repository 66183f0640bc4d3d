//! Adversarial input: a seeded generator sends a few thousand malformed and hostile requests
//! (deep nesting, alias floods, exponential fragments, cycles, random bytes, invalid UTF-8,
//! huge strings, wrong JSON shapes, mutated queries) in concurrent batches; every answer must
//! be a well-formed GraphQL response with an expected status, and the router must stay up.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::Stack;

/// How many requests the generator sends.
const REQUESTS: usize = 3_000;
/// How many are in flight at once.
const CONCURRENCY: usize = 24;
/// The generator's seed: a failure names its case index, and the same seed regenerates it.
const SEED: u64 = 0x7269_6275_7461_7279;

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One hostile request.
enum Probe {
    /// A POST with this `Content-Type` and raw body.
    Post {
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// A GET with this raw (already encoded) query string.
    Get { query_string: String },
}

impl Probe {
    fn json(value: &Value) -> Probe {
        Probe::Post {
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    fn query(query: String) -> Probe {
        Probe::json(&json!({ "query": query }))
    }

    /// The request as a failure message shows it (cut short).
    fn describe(&self) -> String {
        let text = match self {
            Probe::Post { content_type, body } => {
                format!("POST ({content_type}) {}", String::from_utf8_lossy(body))
            }
            Probe::Get { query_string } => format!("GET ?{query_string}"),
        };
        if text.len() > 300 {
            let cut: String = text.chars().take(300).collect();
            format!("{cut}... ({} bytes)", text.len())
        } else {
            text
        }
    }
}

/// Valid operations the mutator starts from.
const VALID: &[&str] = &[
    "{ books { id title author { name } shippingCost } }",
    "query Q($id: ID!) { book(id: $id) { title signature label } }",
    "{ hits { __typename ... on Book { title } ... on Author { name born } } }",
    "{ publications { id title copiesSold ... on Novel { pages } ... on Comic { panels } } }",
    "fragment F on Author { name books { title } } { authors { ...F } }",
    "{ __schema { types { name fields { name } } } }",
    "mutation { add(amount: 2) double }",
    "query ($e: Boolean = true) { books { shippingEstimate(express: $e) customsCode } }",
];

/// Generates request number `index` of the run.
fn generate(rng: &mut Rng, index: usize) -> (&'static str, Probe) {
    match index % 18 {
        0 => {
            // 4 990 levels stay just under the 15 000-token limit; 5 000 go over it.
            let depth = *rng.pick(&[100, 1_000, 4_990, 5_000]);
            let field = *rng.pick(&["a", "books", "author"]);
            let open = format!("{field} {{ ").repeat(depth);
            (
                "deep selection",
                Probe::query(format!("{{ {open}id{} }}", " }".repeat(depth))),
            )
        }
        1 => {
            let depth = *rng.pick(&[100, 1_000, 7_400]);
            let (open, close) = *rng.pick(&[("[", "]"), ("{a: ", "}")]);
            let value = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            (
                "deep value",
                Probe::query(format!("{{ book(id: {value}) {{ title }} }}")),
            )
        }
        2 => {
            let depth = *rng.pick(&[200, 1_000, 10_000]);
            let body = format!(
                r#"{{"query": "query ($id: ID!) {{ book(id: $id) {{ title }} }}", "variables": {{"id": {}1{}}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            );
            (
                "deep variables",
                Probe::Post {
                    content_type: "application/json",
                    body: body.into_bytes(),
                },
            )
        }
        3 => {
            let count = rng.range(600, 6_000);
            let mut query = String::from("{ ");
            for i in 0..count {
                let _ = write!(query, "a{i}: ping ");
            }
            query.push('}');
            ("alias flood", Probe::query(query))
        }
        4 => {
            let levels = rng.range(8, 40);
            let mut query = String::from("fragment F0 on Query { ping books { id } }\n");
            for i in 1..=levels {
                let _ = writeln!(
                    query,
                    "fragment F{i} on Query {{ ...F{} ...F{} }}",
                    i - 1,
                    i - 1
                );
            }
            let _ = write!(query, "{{ ...F{levels} }}");
            ("fragment fan-out", Probe::query(query))
        }
        5 => {
            let length = rng.range(1, 6);
            let mut query = String::new();
            for i in 0..length {
                let _ = writeln!(
                    query,
                    "fragment C{i} on Query {{ ping ...C{} }}",
                    (i + 1) % length
                );
            }
            query.push_str("{ ...C0 }");
            ("fragment cycle", Probe::query(query))
        }
        6 => {
            let query = *rng.pick(&[
                "{ nope }",
                "{ books { nope } }",
                "{ ... on Nope { x } }",
                "query ($x: Nope) { ping }",
                "{ book(nope: 1) { title } }",
                "{ ping @nope }",
                "subscription { ping }",
                "{ ping(x: 1) }",
                "fragment F on Nope { x } { ...F }",
                "{ ...Missing }",
                "query A { ping } query A { ping }",
                "{ books }",
                "{ ping { x } }",
            ]);
            ("unknown names", Probe::query(query.to_owned()))
        }
        7 => {
            let len = rng.range(0, 2_000);
            let content_type =
                *rng.pick(&["application/json", "application/graphql-response+json"]);
            (
                "random bytes",
                Probe::Post {
                    content_type,
                    body: rng.bytes(len),
                },
            )
        }
        8 => {
            let mut body = br#"{"query": "{ ping }"#.to_vec();
            let len = rng.range(1, 16);
            body.extend(rng.bytes(len).iter().map(|b| b | 0x80));
            body.extend_from_slice(br#""}"#);
            (
                "invalid UTF-8",
                Probe::Post {
                    content_type: "application/json",
                    body,
                },
            )
        }
        9 => {
            let size = *rng.pick(&[10_000, 200_000, 1_500_000, 3_000_000]);
            let text = "x".repeat(size);
            let query = match rng.range(0, 3) {
                0 => format!(r#"{{ book(id: "{text}") {{ title }} }}"#),
                1 => format!("{{ {text} }}"),
                _ => format!("# {text}\n{{ ping }}"),
            };
            ("huge string", Probe::query(query))
        }
        10 => {
            let body = rng
                .pick(&[
                    json!({ "query": 1 }),
                    json!({ "query": ["{ ping }"] }),
                    json!({ "query": { "q": "{ ping }" } }),
                    json!({ "query": true }),
                    json!({ "query": "{ ping }", "variables": "x" }),
                    json!({ "query": "{ ping }", "variables": [1] }),
                    json!({ "query": "{ ping }", "variables": 3 }),
                    json!({ "query": "{ ping }", "operationName": 1 }),
                    json!({ "query": "{ ping }", "operationName": ["a"] }),
                    json!({ "query": "{ ping }", "extensions": "x" }),
                    json!({ "query": null }),
                    json!({}),
                    json!("{ ping }"),
                    json!(null),
                    json!([]),
                    json!([{ "query": "{ ping }" }]),
                    json!({ "query": "" }),
                    json!({ "query": "   " }),
                ])
                .clone();
            ("wrong JSON shape", Probe::json(&body))
        }
        11..=13 => {
            let mut query: Vec<char> = rng.pick(VALID).chars().collect();
            let noise = [
                '{',
                '}',
                '(',
                ')',
                '$',
                '@',
                '!',
                ':',
                '.',
                '"',
                '#',
                ' ',
                '[',
                ']',
                '=',
                'x',
                '0',
                '\u{1F980}',
                '\0',
                '\\',
            ];
            for _ in 0..rng.range(1, 6) {
                let at = rng.range(0, query.len());
                match rng.range(0, 3) {
                    0 => {
                        query.remove(at);
                    }
                    1 => query.insert(at, *rng.pick(&noise)),
                    _ => query[at] = *rng.pick(&noise),
                }
            }
            let query: String = query.into_iter().collect();
            let variables = json!({ "id": "b1", "e": rng.range(0, 2) == 0 });
            (
                "mutated query",
                Probe::json(&json!({ "query": query, "variables": variables })),
            )
        }
        14 => {
            let query_string = rng
                .pick(&[
                    "query=%7B%20ping%20%7D",
                    "query=mutation%20%7B%20double%20%7D",
                    "query=%FF%FE",
                    "query=%7B%20ping%20%7D&variables=%7Boops",
                    "query=%7B%20ping%20%7D&variables=%5B1%5D",
                    "query=%7B%20ping%20%7D&operationName=Nope",
                    "query=",
                    "",
                    "query=%7B&query=%7D",
                    "variables=%7B%7D",
                    "query=%7B%20ping%20%7D&extensions=%22x%22",
                    "query=subscription%20%7B%20ping%20%7D",
                    "%%%=%%%",
                ])
                .to_string();
            ("GET", Probe::Get { query_string })
        }
        15 => {
            let count = rng.range(100, 3_000);
            let query = match rng.range(0, 3) {
                0 => format!("{{ ping{} }}", " @skip(if: false)".repeat(count)),
                1 => {
                    let defs: Vec<String> = (0..count).map(|i| format!("$v{i}: Int")).collect();
                    format!("query ({}) {{ ping }}", defs.join(", "))
                }
                _ => {
                    let args: Vec<String> = (0..count).map(|i| format!("a{i}: {i}")).collect();
                    format!("{{ book(id: \"b1\", {}) {{ title }} }}", args.join(", "))
                }
            };
            (
                "many directives, variables or arguments",
                Probe::query(query),
            )
        }
        16 => {
            let query = *rng.pick(&[
                "{ book(id: 1e999999) { title } }",
                "{ book(id: 99999999999999999999999999999) { title } }",
                "query ($e: Boolean!) { books { shippingEstimate(express: $e) } }",
                "{ books { shippingEstimate(express: 99999999999999999999) } }",
                "{ book(id: \"\\u0000\\uD800\") { title } }",
                "{ add(amount: 1) }",
                "mutation { add(amount: 2147483648) }",
                "query { ping } mutation { double }",
            ]);
            let variables = json!({ "e": "yes", "id": { "deep": [1, 2, 3] } });
            (
                "odd literals",
                Probe::json(&json!({ "query": query, "variables": variables })),
            )
        }
        _ => {
            let name: String = (0..rng.range(1, 5_000))
                .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
                .collect();
            let query = format!("query {name} {{ ping }}");
            let operation = if rng.range(0, 2) == 0 {
                name.clone()
            } else {
                format!("{name}x")
            };
            (
                "long names",
                Probe::json(&json!({ "query": query, "operationName": operation })),
            )
        }
    }
}

/// An error with all its sources, for the failure message.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let _ = write!(text, ": {inner}");
        source = inner.source();
    }
    text
}

/// Checks one answer: an expected status and a well-formed GraphQL response.
fn check(status: StatusCode, body: &[u8]) -> Result<(), String> {
    let allowed = [200, 400, 405, 413, 415];
    if !allowed.contains(&status.as_u16()) {
        return Err(format!("status {status}"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        format!(
            "status {status}, body not JSON: {}",
            String::from_utf8_lossy(body)
        )
    })?;
    let Value::Object(object) = &value else {
        return Err(format!("not an object: {value}"));
    };
    if object
        .keys()
        .any(|k| !["data", "errors", "extensions"].contains(&k.as_str()))
    {
        return Err(format!("unexpected member: {value}"));
    }
    let errors = object.get("errors");
    if let Some(errors) = errors {
        let Some(errors) = errors.as_array().filter(|e| !e.is_empty()) else {
            return Err(format!("`errors` is not a non-empty list: {value}"));
        };
        for error in errors {
            if !error.get("message").is_some_and(Value::is_string) {
                return Err(format!("an error without a message: {value}"));
            }
        }
    }
    match object.get("data") {
        Some(Value::Object(_) | Value::Null) => {
            if status != StatusCode::OK {
                return Err(format!("status {status} with data: {value}"));
            }
            Ok(())
        }
        Some(other) => Err(format!("`data` is neither an object nor null: {other}")),
        None => {
            // A refused request: every error carries a code.
            let coded = errors.and_then(Value::as_array).is_some_and(|e| {
                e.iter()
                    .all(|e| e.pointer("/extensions/code").is_some_and(Value::is_string))
            });
            if coded {
                Ok(())
            } else {
                Err(format!("a refusal without codes: {value}"))
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_hostile_requests_get_well_formed_answers() {
    let stack = Stack::start().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let endpoint = stack.endpoint();
    let mut rng = Rng(SEED);
    let probes: Vec<(usize, &'static str, Probe)> = (0..REQUESTS)
        .map(|index| {
            let (kind, probe) = generate(&mut rng, index);
            (index, kind, probe)
        })
        .collect();
    let started = Instant::now();

    let answers: Vec<(Option<StatusCode>, Option<String>)> = futures::stream::iter(probes)
        .map(|(index, kind, probe)| {
            let client = client.clone();
            let endpoint = endpoint.clone();
            async move {
                let accept = if index % 2 == 0 {
                    "application/graphql-response+json"
                } else {
                    "application/json"
                };
                let request = match &probe {
                    Probe::Post { content_type, body } => client
                        .post(&endpoint)
                        .header(CONTENT_TYPE, *content_type)
                        .body(body.clone()),
                    Probe::Get { query_string } => client.get(format!("{endpoint}?{query_string}")),
                };
                let sent = Instant::now();
                let mut status = None;
                let outcome = match request.header(ACCEPT, accept).send().await {
                    Ok(response) => {
                        let code = response.status();
                        status = Some(code);
                        match response.bytes().await {
                            Ok(body) => check(code, &body),
                            Err(err) => Err(format!("reading the body failed: {err}")),
                        }
                    }
                    Err(err) => Err(format!("no answer: {}", chain(&err))),
                };
                let elapsed = sent.elapsed();
                // Queued behind 23 others on two cores, an answer takes ~100 ms.
                let slow = elapsed > Duration::from_secs(10);
                let failure = match outcome {
                    Ok(()) if !slow => None,
                    Ok(()) => Some(format!(
                        "#{index} {kind}: took {elapsed:?}\n  {}",
                        probe.describe()
                    )),
                    Err(problem) => Some(format!(
                        "#{index} {kind} ({accept}): {problem}\n  {}",
                        probe.describe()
                    )),
                };
                (status, failure)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let elapsed = started.elapsed();
    let mut statuses = std::collections::BTreeMap::new();
    for (status, _) in &answers {
        *statuses.entry(status.map(|s| s.as_u16())).or_insert(0) += 1;
    }
    println!("{REQUESTS} requests in {elapsed:?}; answers by status: {statuses:?}");
    let failures: Vec<String> = answers
        .into_iter()
        .filter_map(|(_, failure)| failure)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests were mishandled:\n{}",
        failures.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // About 25 s in a debug build on two cores; the bound only catches a hang or a collapse.
    assert!(
        elapsed < Duration::from_secs(90),
        "the run took {elapsed:?}"
    );

    // Still serving, and still right.
    let health = client
        .get(format!("{}/health", stack.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let body = stack
        .query(r#"{ book(id: "b2") { title label } }"#, json!({}))
        .await;
    assert_eq!(
        body,
        json!({ "data": { "book": { "title": "Kindred", "label": "b2 ships for 20 cents" } } })
    );
}
