//! Federation behaviour end to end: every test asserts the exact response and the exact number
//! of requests each subgraph received (batching is part of correctness).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::subgraphs::{Fault, data};
use crate::support::{self, ALL, Stack};

/// `{"authors": a, "books": b, "search": s, "shipping": h}`.
fn requests(authors: usize, books: usize, search: usize, shipping: usize) -> Value {
    json!({ "authors": authors, "books": books, "search": search, "shipping": shipping })
}

/// Every book as `{ books { id title author { name } shippingCost } }` answers it.
fn books_with_author_and_shipping() -> Vec<Value> {
    data::books()
        .iter()
        .map(|b| {
            json!({
                "id": b.id,
                "title": b.title,
                "author": { "name": b.author.name },
                "shippingCost": b.weight / 10,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_from_three_subgraphs_are_fetched_once_per_subgraph() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            "{ books { id title author { name } shippingCost } }",
            json!({}),
        )
        .await;

    let books = books_with_author_and_shipping();
    assert_eq!(body, json!({ "data": { "books": books } }));
    assert_eq!(stack.requests(), requests(1, 1, 0, 1));
    // Twelve books by four authors: the authors are asked for once each, in one request.
    let authors: Vec<Value> = ["a1", "a2", "a3", "a4"]
        .iter()
        .map(|id| json!({ "__typename": "Author", "id": id }))
        .collect();
    assert_eq!(stack.representations("authors"), vec![authors]);
    let weights: Vec<Value> = data::books()
        .iter()
        .map(|b| json!({ "__typename": "Book", "id": b.id, "weight": b.weight }))
        .collect();
    assert_eq!(stack.representations("shipping"), vec![weights]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subgraphs_answer_the_same_over_h2c_as_over_http1() {
    let mut config = support::config();
    config.subgraphs.h2c = true;
    let stack = Stack::start_with(config, support::ALL).await;
    let body = stack
        .query("{ books { id author { name } shippingCost } }", json!({}))
        .await;
    let books: Vec<Value> = data::books()
        .iter()
        .map(|b| json!({ "id": b.id, "author": { "name": b.author.name }, "shippingCost": b.weight / 10 }))
        .collect();
    assert_eq!(body, json!({ "data": { "books": books } }));
    assert_eq!(stack.requests(), requests(1, 1, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_sends_the_required_field_to_the_subgraph_that_needs_it() {
    let stack = Stack::start().await;

    let body = stack
        .query(r#"{ book(id: "b4") { title shippingCost } }"#, json!({}))
        .await;

    assert_eq!(
        body,
        json!({ "data": { "book": { "title": "Invisible Cities", "shippingCost": 40 } } })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
    assert_eq!(
        stack.representations("shipping"),
        vec![vec![
            json!({ "__typename": "Book", "id": "b4", "weight": 400 })
        ]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_on_a_field_with_arguments_keeps_each_alias_and_variable() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            "query ($id: ID!, $express: Boolean!) {
                book(id: $id) {
                    fast: shippingEstimate(express: $express)
                    slow: shippingEstimate(express: false)
                }
                books { id shippingEstimate(express: false) }
            }",
            json!({ "id": "b2", "express": true }),
        )
        .await;

    let books: Vec<Value> = data::books()
        .iter()
        .map(|b| json!({ "id": b.id, "shippingEstimate": 2 + b.weight / 400 }))
        .collect();
    assert_eq!(
        body,
        json!({ "data": { "book": { "fast": 1, "slow": 2 }, "books": books } })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
    let shipping = stack.received("shipping");
    assert_eq!(
        shipping[0]["variables"]["express"],
        json!(true),
        "the variable reaches the subgraph"
    );
    // One request: the list's books and the root book select different fields, so they go
    // as two aliased `_entities` lists (12 books, then b2 again) in the same request.
    let query = shipping[0]["query"].as_str().unwrap();
    assert_eq!(query.matches("_entities(").count(), 2, "{query}");
    assert_eq!(stack.representations("shipping")[0].len(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_requires_fetches_the_nested_selection_first() {
    let stack = Stack::start().await;

    let body = stack
        .query(r#"{ book(id: "b2") { title signature } }"#, json!({}))
        .await;

    assert_eq!(
        body,
        json!({ "data": { "book": { "title": "Kindred", "signature": "signed by Octavia E. Butler" } } })
    );
    // books (the author's key), then authors (the name), then shipping (the signature).
    assert_eq!(stack.requests(), requests(1, 1, 0, 1));
    assert_eq!(
        stack.representations("shipping"),
        vec![vec![json!({
            "__typename": "Book",
            "id": "b2",
            "author": { "name": "Octavia E. Butler" },
        })]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chained_requires_runs_each_subgraph_in_turn() {
    let stack = Stack::start().await;

    // `label` (search) requires `shippingCost` (shipping), which requires `weight` (books).
    let body = stack
        .query(r#"{ book(id: "b2") { label } }"#, json!({}))
        .await;

    assert_eq!(
        body,
        json!({ "data": { "book": { "label": "b2 ships for 20 cents" } } })
    );
    assert_eq!(stack.requests(), requests(0, 1, 1, 1));
    assert_eq!(
        stack.representations("search"),
        vec![vec![
            json!({ "__typename": "Book", "id": "b2", "shippingCost": 20 })
        ]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provided_fields_are_not_fetched_from_their_owner() {
    let stack = Stack::start().await;

    let body = stack
        .query("{ featured { title author { name } } }", json!({}))
        .await;

    assert_eq!(
        body,
        json!({ "data": { "featured": [
            { "title": "The Dispossessed", "author": { "name": "Ursula K. Le Guin" } },
            { "title": "Kindred", "author": { "name": "Octavia E. Butler" } },
            { "title": "Solaris", "author": { "name": "Stanisław Lem" } },
        ] } })
    );
    // `books` provides `author { name }` on `featured`: `authors` is never asked.
    assert_eq!(stack.requests(), requests(0, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shareable_root_fields_join_the_fetch_already_planned() {
    let stack = Stack::start().await;

    let body = stack.query("{ authors { name } ping }", json!({})).await;
    assert_eq!(
        body,
        json!({ "data": {
            "authors": [
                { "name": "Ursula K. Le Guin" },
                { "name": "Octavia E. Butler" },
                { "name": "Stanisław Lem" },
                { "name": "Italo Calvino" },
            ],
            "ping": "pong",
        } })
    );
    assert_eq!(stack.requests(), requests(1, 0, 0, 0));

    stack.clear();
    let body = stack
        .query(r#"{ book(id: "b1") { title } ping }"#, json!({}))
        .await;
    assert_eq!(
        body,
        json!({ "data": { "book": { "title": "The Dispossessed" }, "ping": "pong" } })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overridden_fields_come_from_the_overriding_subgraph() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            r#"{ gone: book(id: "b5") { title inStock } there: book(id: "b6") { inStock } }"#,
            json!({}),
        )
        .await;

    // `books` still declares `inStock` and would say `true` for every book.
    assert_eq!(
        body,
        json!({ "data": {
            "gone": { "title": "The Left Hand of Darkness", "inStock": false },
            "there": { "inStock": true },
        } })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
    let books_query = stack.received("books")[0]["query"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!books_query.contains("inStock"), "{books_query}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn union_members_are_completed_by_their_own_subgraphs() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            "{ hits {
                kind: __typename
                ... on Book { id heading: title }
                ... on Author { heading: name }
            } }",
            json!({}),
        )
        .await;

    assert_eq!(
        body,
        json!({ "data": { "hits": [
            { "kind": "Book", "id": "b2", "heading": "Kindred" },
            { "kind": "Author", "heading": "Stanisław Lem" },
            { "kind": "Book", "id": "b9", "heading": "A Wizard of Earthsea" },
            { "kind": "Author", "heading": "Ursula K. Le Guin" },
        ] } })
    );
    assert_eq!(stack.requests(), requests(1, 1, 1, 0));
    assert_eq!(stack.representations("books")[0].len(), 2);
    assert_eq!(stack.representations("authors")[0].len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_implementations_are_completed_by_their_own_subgraphs() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            "fragment BookParts on Book { bookTitle: title shippingCost }
            { items {
                __typename
                id
                ...BookParts
                ... on Author { authorName: name born }
            } }",
            json!({}),
        )
        .await;

    assert_eq!(
        body,
        json!({ "data": { "items": [
            { "__typename": "Author", "id": "a2", "authorName": "Octavia E. Butler", "born": 1947 },
            { "__typename": "Book", "id": "b1", "bookTitle": "The Dispossessed", "shippingCost": 10 },
        ] } })
    );
    // search, then authors and books in parallel, then shipping (which needs the weight).
    assert_eq!(stack.requests(), requests(1, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interface_objects_extend_every_implementation() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            "{ publications { __typename id title copiesSold ... on Novel { pages } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body,
        json!({ "data": { "publications": [
            { "__typename": "Novel", "id": "p1", "title": "Solaris", "copiesSold": 1000, "pages": 204 },
            { "__typename": "Comic", "id": "p2", "title": "Maus", "copiesSold": 2000 },
            { "__typename": "Novel", "id": "p3", "title": "Kindred", "copiesSold": 3000, "pages": 264 },
        ] } })
    );
    assert_eq!(stack.requests(), requests(0, 0, 1, 1));
    // The interface object subgraph is sent the interface's name, not the concrete type.
    assert_eq!(
        stack.representations("shipping")[0][0],
        json!({ "__typename": "Publication", "id": "p1" })
    );

    // From the interface object's side, the concrete type comes from the interface's owner.
    stack.clear();
    let body = stack
        .query(
            "{ bestsellers { __typename id copiesSold ... on Comic { title panels } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body,
        json!({ "data": { "bestsellers": [
            { "__typename": "Comic", "id": "p2", "copiesSold": 2000, "title": "Maus", "panels": 1468 },
            { "__typename": "Novel", "id": "p3", "copiesSold": 3000 },
        ] } })
    );
    assert_eq!(stack.requests(), requests(0, 0, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inaccessible_fields_are_hidden_and_refused() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            r#"{ __type(name: "Author") { fields { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body,
        json!({ "data": { "__type": { "fields": [
            { "name": "id" }, { "name": "name" }, { "name": "born" }, { "name": "email" },
            { "name": "royalties" }, { "name": "books" },
        ] } } })
    );

    let (status, body) = stack
        .post(&json!({ "query": "{ authors { name secret } }" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "errors": [{
            "message": "Cannot query field \"secret\" on type \"Author\".",
            "locations": [{ "line": 1, "column": 18 }],
            "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
        }] })
    );
    assert_eq!(stack.requests(), requests(0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_run_one_after_the_other_in_document_order() {
    let stack = Stack::start().await;

    // `add` lives in authors, `double` in books; both change one shared tally, so only a
    // strictly ordered execution gives ((0 + 1) * 2 + 3) * 2 = 10.
    let body = stack
        .query(
            "mutation ($three: Int!) { a: add(amount: 1) b: double c: add(amount: $three) d: double }",
            json!({ "three": 3 }),
        )
        .await;

    assert_eq!(body, json!({ "data": { "a": 1, "b": 2, "c": 5, "d": 10 } }));
    assert_eq!(stack.requests(), requests(2, 2, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_queries_in_flight_share_one_subgraph_request_and_mutations_never_do() {
    let stack = Stack::start().await;
    // A slow authors subgraph keeps the first request in flight while the others arrive.
    stack.fault("authors", Fault::Slow(Duration::from_millis(400)));
    let query = r#"{ author(id: "a1") { name } }"#;
    let answers = futures::future::join_all((0..8).map(|_| stack.query(query, json!({})))).await;
    for answer in &answers {
        assert_eq!(
            answer,
            &json!({ "data": { "author": { "name": "Ursula K. Le Guin" } } })
        );
    }
    assert_eq!(stack.requests(), requests(1, 0, 0, 0));

    // Eight identical mutations are eight writes.
    let adds = futures::future::join_all(
        (0..8).map(|_| stack.query("mutation { add(amount: 1) }", json!({}))),
    )
    .await;
    let mut totals: Vec<i64> = adds
        .iter()
        .map(|a| a["data"]["add"].as_i64().unwrap_or_default())
        .collect();
    totals.sort_unstable();
    assert_eq!(totals, (1..=8).collect::<Vec<i64>>());
    assert_eq!(stack.requests(), requests(9, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sharing_entity_fetches_each_get_every_entity_in_every_place() {
    let stack = Stack::start().await;
    // Slow subgraphs keep each fetch in flight while the other clients' identical ones join
    // it: the shared answers are read once and copied into each client's result, where one
    // author fills several books.
    stack.fault("authors", Fault::Slow(Duration::from_millis(300)));
    stack.fault("shipping", Fault::Slow(Duration::from_millis(300)));
    let query = "{ books { id title author { name } shippingCost } }";
    let books = books_with_author_and_shipping();
    let answers = futures::future::join_all((0..8).map(|_| stack.query(query, json!({})))).await;
    for answer in &answers {
        assert_eq!(answer, &json!({ "data": { "books": books } }));
    }
    let sent = stack.requests();
    assert!(
        sent["authors"].as_u64().is_some_and(|n| n < 8)
            && sent["shipping"].as_u64().is_some_and(|n| n < 8),
        "the entity fetches were not shared: {sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_fetch_every_client_abandoned_is_cancelled_and_never_inherited() {
    let mut config = support::config();
    config.subgraphs.timeout_ms = 1_000;
    let stack = Stack::start_with(config, ALL).await;
    // The authors subgraph stalls; twelve clients give up on the same query after 500 ms
    // (long enough for all twelve to reach the engine on a busy machine, and join one fetch).
    stack.fault("authors", Fault::Slow(Duration::from_secs(60)));
    let query = json!({ "query": r#"{ author(id: "a1") { name } }"# });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let abandoned = futures::future::join_all((0..12).map(|_| {
        impatient
            .post(stack.endpoint())
            .header("accept", "application/graphql-response+json")
            .json(&query)
            .send()
    }))
    .await;
    assert!(
        abandoned
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| e.is_timeout()))
    );
    assert_eq!(stack.requests(), requests(1, 0, 0, 0));

    // With its last waiter gone the shared fetch is cancelled: its connection closes.
    let released = Instant::now();
    while stack.in_progress("authors") > 0 {
        assert!(
            released.elapsed() < Duration::from_secs(2),
            "the fetch still holds its connection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The subgraph recovers; the abandoned fetch's timer would have run out by now.
    stack.fault("authors", Fault::None);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let answers = futures::future::join_all((0..12).map(|_| stack.post(&query))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(
            answer,
            &json!({ "data": { "author": { "name": "Ursula K. Le Guin" } } })
        );
    }
    let fresh = stack.requests()["authors"].as_u64().unwrap();
    assert!((2..=13).contains(&fresh), "{fresh}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_queries_in_flight_share_one_execution_unless_their_headers_differ() {
    let mut config = support::config();
    // Subgraph-level sharing off: what is shared here is the whole client request.
    config.subgraphs.dedupe = false;
    config.subgraphs.forward_headers = vec!["authorization".to_owned()];
    let stack = Stack::start_with(config, ALL).await;
    stack.fault("authors", Fault::Slow(Duration::from_millis(1_000)));
    let query = json!({ "query": r#"{ author(id: "a1") { name } }"# });
    let client = reqwest::Client::new();
    let send = |token: Option<String>| {
        let mut request = client
            .post(stack.endpoint())
            .header("accept", "application/graphql-response+json")
            .json(&query);
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let expected = json!({ "data": { "author": { "name": "Ursula K. Le Guin" } } });

    let answers = futures::future::join_all((0..10).map(|_| send(None))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(answer, &expected);
    }
    // One execution, or two on a machine so loaded that a client arrived after the answer.
    let shared = stack.requests()["authors"].as_u64().unwrap();
    assert!(
        (1..=2).contains(&shared),
        "{shared} executions for 10 identical queries"
    );

    // Once answered, the same query runs again: an answer is shared, never kept.
    stack.clear();
    assert_eq!(send(None).await.1, expected);
    assert_eq!(stack.requests(), requests(1, 0, 0, 0));

    // Callers whose subgraphs would see different headers never share.
    stack.clear();
    let answers =
        futures::future::join_all((0..6).map(|i| send(Some(format!("Bearer token-{i}"))))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(answer, &expected);
    }
    assert_eq!(stack.requests(), requests(6, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_and_include_follow_variables_and_their_defaults() {
    let stack = Stack::start().await;
    let query = "query ($withBooks: Boolean = false, $noBorn: Boolean!) {
        authors { name born @skip(if: $noBorn) books @include(if: $withBooks) { title } }
    }";

    let body = stack.query(query, json!({ "noBorn": true })).await;
    assert_eq!(
        body,
        json!({ "data": { "authors": [
            { "name": "Ursula K. Le Guin" },
            { "name": "Octavia E. Butler" },
            { "name": "Stanisław Lem" },
            { "name": "Italo Calvino" },
        ] } })
    );
    // `books` is excluded by the default: its subgraph is not asked at all.
    assert_eq!(stack.requests(), requests(1, 0, 0, 0));

    stack.clear();
    let body = stack
        .query(query, json!({ "noBorn": false, "withBooks": true }))
        .await;
    let titles = |author: &str| -> Vec<Value> {
        data::books()
            .iter()
            .filter(|b| b.author.id == author)
            .map(|b| json!({ "title": b.title }))
            .collect()
    };
    assert_eq!(
        body,
        json!({ "data": { "authors": [
            { "name": "Ursula K. Le Guin", "born": 1929, "books": titles("a1") },
            { "name": "Octavia E. Butler", "born": 1947, "books": titles("a2") },
            { "name": "Stanisław Lem", "born": 1921, "books": titles("a3") },
            { "name": "Italo Calvino", "born": 1923, "books": titles("a4") },
        ] } })
    );
    assert_eq!(stack.requests(), requests(1, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_non_null_field_nulls_the_nearest_nullable_parent() {
    let stack = Stack::start().await;
    stack.fault("shipping", Fault::ServerError);
    // The failure is reported at each field it left null.
    let failure = |path: Value| {
        json!({
            "message": "HTTP fetch failed from 'shipping': the subgraph answered with HTTP status 500",
            "path": path,
            "extensions": { "code": "SUBREQUEST_HTTP_ERROR", "serviceName": "shipping" },
        })
    };

    // `Book.shippingCost: Int!` is missing: `book` (nullable) becomes null, `ping` survives.
    let body = stack
        .query(
            r#"{ book(id: "b1") { title shippingCost } ping }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body,
        json!({
            "data": { "book": null, "ping": "pong" },
            "errors": [failure(json!(["book", "shippingCost"]))],
        })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));

    // In `books: [Book!]!` nothing is nullable up to the root: `data` itself is null.
    stack.clear();
    let body = stack
        .query("{ books { id shippingCost } }", json!({}))
        .await;
    let errors: Vec<Value> = (0..data::books().len())
        .map(|i| failure(json!(["books", i, "shippingCost"])))
        .collect();
    assert_eq!(body, json!({ "data": null, "errors": errors }));
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
}

/// Asks for a book and its author's name while `authors` answers with `fault`.
async fn author_fetch_with(fault: Fault, config: tributary_gateway::Config) -> Value {
    let stack = Stack::start_with(config, ALL).await;
    stack.fault("authors", fault);
    let body = stack
        .query(r#"{ book(id: "b1") { title author { name } } }"#, json!({}))
        .await;
    assert_eq!(stack.requests(), requests(1, 1, 0, 0));
    body
}

fn partial_book(message: &str, code: &str) -> Value {
    json!({
        "data": { "book": { "title": "The Dispossessed", "author": null } },
        "errors": [{
            "message": message,
            "path": ["book", "author", "name"],
            "extensions": { "code": code, "serviceName": "authors" },
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_request_deadline_the_client_gets_what_arrived_and_a_coded_error() {
    let mut config = support::config();
    config.server.deadline_ms = 400;
    let started = Instant::now();
    let body = author_fetch_with(Fault::Slow(Duration::from_secs(5)), config).await;
    let elapsed = started.elapsed();
    assert_eq!(
        body,
        json!({
            "data": { "book": { "title": "The Dispossessed", "author": null } },
            "errors": [{
                "message": "the request's deadline of 400 ms passed; fields not fetched by then are null",
                "extensions": { "code": "REQUEST_DEADLINE_EXCEEDED" },
            }],
        })
    );
    // Bounded by the deadline, not by the subgraph's 10 s timeout (generous for a debug build).
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_answering_500_leaves_partial_data_and_a_named_error() {
    let body = author_fetch_with(Fault::ServerError, support::config()).await;
    assert_eq!(
        body,
        partial_book(
            "HTTP fetch failed from 'authors': the subgraph answered with HTTP status 500",
            "SUBREQUEST_HTTP_ERROR",
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_answering_garbage_leaves_partial_data_and_a_named_error() {
    let body = author_fetch_with(Fault::Garbage, support::config()).await;
    assert_eq!(
        body,
        partial_book(
            "HTTP fetch failed from 'authors': the subgraph's response is not a valid GraphQL response",
            "SUBREQUEST_MALFORMED_RESPONSE",
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_slower_than_its_timeout_leaves_partial_data_and_a_timeout_error() {
    let mut config = support::config();
    config.subgraphs.timeout_ms = 300;
    let started = Instant::now();
    let body = author_fetch_with(Fault::Slow(Duration::from_secs(5)), config).await;
    let elapsed = started.elapsed();
    assert_eq!(
        body,
        partial_book(
            "HTTP fetch failed from 'authors': the request timed out",
            "SUBREQUEST_TIMEOUT",
        )
    );
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_errors_in_a_list_are_repathed_to_the_client_path() {
    let stack = Stack::start().await;

    // `customsCode` (nullable) fails for b3 and b7 inside one `_entities` request.
    let body = stack.query("{ books { id customsCode } }", json!({})).await;
    let books: Vec<Value> = data::books()
        .iter()
        .map(|b| {
            let code = match b.id.as_str() {
                "b3" | "b7" => Value::Null,
                id => json!(format!("HS-{id}")),
            };
            json!({ "id": b.id, "customsCode": code })
        })
        .collect();
    assert_eq!(
        body,
        json!({
            "data": { "books": books },
            "errors": [
                {
                    "message": "no customs code for b3",
                    "path": ["books", 2, "customsCode"],
                    "extensions": { "serviceName": "shipping" },
                },
                {
                    "message": "no customs code for b7",
                    "path": ["books", 6, "customsCode"],
                    "extensions": { "serviceName": "shipping" },
                },
            ],
        })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_error_on_a_non_null_field_names_the_client_path() {
    let stack = Stack::start().await;

    // The null reaches the nearest nullable parent, and the error says where it came from.
    let body = stack
        .query(
            r#"{ book(id: "b12") { title shippingEstimate(express: true) } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body,
        json!({
            "data": { "book": null },
            "errors": [{
                "message": "b12 is too heavy for express delivery",
                "path": ["book", "shippingEstimate"],
                "extensions": { "serviceName": "shipping" },
            }],
        })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_is_answered_by_the_gateway() {
    let stack = Stack::start().await;

    let body = stack
        .query(
            "{ __typename __schema { queryType { name } mutationType { name } subscriptionType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body,
        json!({ "data": {
            "__typename": "Query",
            "__schema": {
                "queryType": { "name": "Query" },
                "mutationType": { "name": "Mutation" },
                "subscriptionType": null,
            },
        } })
    );

    let body = stack
        .query(
            "query ($name: String!) {
                book: __type(name: $name) { name kind fields { name } }
                publication: __type(name: \"Publication\") { kind possibleTypes { name } }
                missing: __type(name: \"_Entity\") { name }
            }",
            json!({ "name": "Book" }),
        )
        .await;
    let fields: Vec<Value> = [
        "id",
        "title",
        "weight",
        "author",
        "inStock",
        "shippingCost",
        "label",
        "shippingEstimate",
        "signature",
        "customsCode",
    ]
    .iter()
    .map(|name| json!({ "name": name }))
    .collect();
    assert_eq!(
        body,
        json!({ "data": {
            "book": { "name": "Book", "kind": "OBJECT", "fields": fields },
            "publication": {
                "kind": "INTERFACE",
                "possibleTypes": [{ "name": "Comic" }, { "name": "Novel" }],
            },
            "missing": null,
        } })
    );
    assert_eq!(stack.requests(), requests(0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_operations_are_reused() {
    let stack = Stack::start().await;
    let query = "query ($id: ID!) { book(id: $id) { title } }";
    assert_eq!(stack.engine.cached_plans(), 0);

    let first = stack.query(query, json!({ "id": "b1" })).await;
    assert_eq!(
        first,
        json!({ "data": { "book": { "title": "The Dispossessed" } } })
    );
    assert_eq!(stack.engine.cached_plans(), 1);

    // The same document with other variables is the same prepared operation.
    let second = stack.query(query, json!({ "id": "b2" })).await;
    assert_eq!(
        second,
        json!({ "data": { "book": { "title": "Kindred" } } })
    );
    assert_eq!(stack.engine.cached_plans(), 1);

    stack.query("{ ping }", json!({})).await;
    assert_eq!(stack.engine.cached_plans(), 2);
    assert_eq!(stack.requests(), requests(1, 2, 0, 0));
}

async fn health(stack: &Stack) -> Value {
    let response = stack
        .client
        .get(format!("{}/health", stack.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_the_supergraph_for_new_requests() {
    let stack = Stack::start_with(support::config(), &["authors", "books"]).await;
    let query = r#"{ book(id: "b3") { title shippingCost } }"#;
    let before = health(&stack).await;

    let (status, body) = stack.post(&json!({ "query": query })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"][0]["message"],
        json!("Cannot query field \"shippingCost\" on type \"Book\".")
    );

    stack.engine.reload(stack.supergraph(ALL)).unwrap();

    let body = stack.query(query, json!({})).await;
    assert_eq!(
        body,
        json!({ "data": { "book": { "title": "Solaris", "shippingCost": 30 } } })
    );
    assert_eq!(stack.requests(), requests(0, 1, 0, 1));
    let after = health(&stack).await;
    assert_eq!(before["status"], json!("ok"));
    assert_eq!(after["status"], json!("ok"));
    assert_ne!(before["supergraph"], after["supergraph"]);

    // And back: the old version again refuses the field.
    stack
        .engine
        .reload(stack.supergraph(&["authors", "books"]))
        .unwrap();
    let (status, _) = stack.post(&json!({ "query": query })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(health(&stack).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_subgraph_rests_behind_an_open_circuit_and_recovers() {
    let mut config = support::config();
    config.subgraphs.breaker_failures = 2;
    config.subgraphs.breaker_cooldown_ms = 300;
    let stack = Stack::start_with(config, ALL).await;
    stack.fault("authors", Fault::ServerError);
    let query = "{ books { id author { name } } }";
    let code = |answer: &Value| answer["errors"][0]["extensions"]["code"].clone();
    for _ in 0..2 {
        let answer = stack.query(query, json!({})).await;
        assert_eq!(code(&answer), json!("SUBREQUEST_HTTP_ERROR"), "{answer}");
    }
    let asked = stack.requests()["authors"].clone();

    // Open: the books answer, the authors' fields fail at once, and authors is not called.
    let answer = stack.query(query, json!({})).await;
    assert_eq!(code(&answer), json!("SUBREQUEST_CIRCUIT_OPEN"), "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["serviceName"], "authors");
    assert_eq!(answer["data"]["books"][0]["id"], "b1", "{answer}");
    assert_eq!(stack.requests()["authors"], asked);

    // After the cooldown one probe finds it healthy and the circuit closes.
    stack.fault("authors", Fault::None);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let answer = stack.query(query, json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let answer = stack.query(query, json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer}");
}
