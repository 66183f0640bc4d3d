//! Property-based tests on the demo supergraphs: whatever document, variables, manifest or
//! token a client sends, preparing, coercing, hashing and verifying never panic and always end
//! in a result or a coded refusal. Documents are generated from the API schema (random walks
//! over its fields, with arguments) and by mutating the mobile app's own operations. A case
//! that once broke an invariant is kept below as a regression test.

use std::sync::{Arc, OnceLock};

use graphql_tools::static_graphql::schema::TypeDefinition;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tributary_gateway::prepare::{Preparer, variables};
use tributary_gateway::supergraph::api::{ApiSchema, TypeKind, named_type};
use tributary_gateway::{Code, Config, Manifest, Supergraph, sha256_hex};

fn web() -> Arc<Supergraph> {
    static WEB: OnceLock<Arc<Supergraph>> = OnceLock::new();
    WEB.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schema/web/supergraph.graphql"
        );
        Supergraph::from_sdl(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
    .clone()
}

fn mobile_operations() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bff-mobile/operations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Builds a selection of `type_name` by a random walk driven by `choices`.
fn selection(
    api: &ApiSchema,
    type_name: &str,
    choices: &mut impl Iterator<Item = u32>,
    depth: u32,
) -> String {
    let Some(TypeDefinition::Object(object)) = api.type_def(type_name) else {
        return "{ __typename }".to_owned();
    };
    let count = 1 + choices.next().unwrap_or(0) % 3;
    let mut out = String::from("{ ");
    for _ in 0..count {
        let pick = choices.next().unwrap_or(0) as usize;
        let Some(field) = object.fields.get(pick % object.fields.len().max(1)) else {
            break;
        };
        out.push_str(&field.name);
        if !field.arguments.is_empty() && choices.next().unwrap_or(0).is_multiple_of(2) {
            let argument =
                &field.arguments[choices.next().unwrap_or(0) as usize % field.arguments.len()];
            let value = match choices.next().unwrap_or(0) % 5 {
                0 => "1".to_owned(),
                1 => "-2147483649".to_owned(),
                2 => "\"25\"".to_owned(),
                3 => "null".to_owned(),
                _ => "\"\\u0000x\"".to_owned(),
            };
            out.push_str(&format!("({}: {value})", argument.name));
        }
        let inner = named_type(&field.field_type);
        match api.type_kind(inner) {
            Some(TypeKind::Object) if depth < 4 => {
                out.push(' ');
                out.push_str(&selection(api, inner, choices, depth + 1));
            }
            Some(TypeKind::Object | TypeKind::Interface | TypeKind::Union) => {
                out.push_str(" { __typename }")
            }
            _ => {}
        }
        out.push(' ');
    }
    out.push('}');
    out
}

/// Prepares `document` on the web supergraph: a prepared operation or a coded refusal.
fn prepare(
    runtime: &tokio::runtime::Runtime,
    preparer: &Preparer,
    document: &str,
) -> Result<(), Code> {
    runtime
        .block_on(preparer.prepare(web(), document, None))
        .map(|_| ())
        .map_err(|err| err.code())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn documents_walked_from_the_schema_prepare_or_are_refused_with_a_code(
        choices in prop::collection::vec(any::<u32>(), 1..80)
    ) {
        let supergraph = web();
        let mut choices = choices.into_iter();
        let document = format!("query {}", selection(supergraph.api(), "Query", &mut choices, 0));
        let preparer = Preparer::new(&Config::default());
        let outcome = prepare(&runtime(), &preparer, &document);
        if let Err(code) = outcome {
            prop_assert!(
                matches!(code, Code::GraphqlValidationFailed | Code::QueryPlanningFailed | Code::GraphqlParseFailed),
                "{document}: {code}"
            );
        }
    }

    #[test]
    fn mutated_app_operations_never_break_preparation(
        which in any::<usize>(),
        edits in prop::collection::vec((any::<usize>(), prop::sample::select(vec!["", "{", "}", "(", ")", "$", "...", "@", "\"", "\\u0000", "#", " on ", ":", "!", "[", "]", "__schema", "é"])), 1..6)
    ) {
        let operations = mobile_operations();
        let mut document = operations[which % operations.len()].clone();
        for (at, text) in edits {
            let mut at = at % (document.len() + 1);
            while !document.is_char_boundary(at) {
                at -= 1;
            }
            if text.is_empty() && at < document.len() {
                let end = document[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                document.replace_range(at..end, "");
            } else {
                document.insert_str(at, text);
            }
        }
        let preparer = Preparer::new(&Config::default());
        // Any outcome is fine; reaching here without a panic is the property.
        let _ = prepare(&runtime(), &preparer, &document);
    }

    #[test]
    fn any_variables_coerce_or_are_refused(
        which in any::<usize>(),
        values in prop::collection::vec(json_value(), 0..6)
    ) {
        let operations = mobile_operations();
        let document = &operations[which % operations.len()];
        let preparer = Preparer::new(&Config::default());
        let runtime = runtime();
        let prepared = runtime.block_on(preparer.prepare(web(), document, None));
        if let Ok(prepared) = prepared {
            let mut provided = Map::new();
            for (definition, value) in prepared.variables.iter().zip(values) {
                provided.insert(definition.name.clone(), value);
            }
            let _ = variables::coerce(web().api(), &prepared.variables, &provided);
        }
    }

    #[test]
    fn manifest_ids_are_the_hashes_of_the_documents(
        documents in prop::collection::vec(("[A-Za-z]{1,12}", "\\PC{0,200}"), 0..8)
    ) {
        let pairs: Vec<(&str, &str)> = documents.iter().map(|(n, b)| (n.as_str(), b.as_str())).collect();
        let manifest = Manifest::from_documents(pairs);
        for operation in &manifest.operations {
            prop_assert_eq!(&operation.id, &sha256_hex(&operation.body));
            prop_assert!(["query", "mutation", "subscription"].contains(&operation.kind.as_str()));
        }
        let text = serde_json::to_string(&manifest).unwrap();
        prop_assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), manifest);
    }

    #[test]
    fn any_authorization_header_is_a_caller_or_a_refusal(header in "\\PC{0,300}", flip in any::<usize>()) {
        let auth = subgraph_kit::Auth::new(b"property-test-secret-property-test", std::time::Duration::from_secs(60));
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(value) = axum::http::HeaderValue::from_str(&header) {
            headers.insert(axum::http::header::AUTHORIZATION, value);
            prop_assert!(auth.caller(&headers).is_err(), "{header:?}");
        }
        // A real token with one character changed (not the last, whose low bits base64 may
        // ignore) is refused.
        let token = auth.issue_user(7, "ada").unwrap();
        let mut bytes = token.into_bytes();
        let at = flip % (bytes.len() - 1);
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let value = axum::http::HeaderValue::from_str(&format!("Bearer {tampered}")).unwrap();
        headers.insert(axum::http::header::AUTHORIZATION, value);
        prop_assert!(auth.caller(&headers).is_err(), "{tampered}");
    }
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn the_schema_walk_mostly_makes_documents_that_prepare() {
    // The walk is only a good generator if most of what it makes is valid: check it on a fixed
    // set of seeds.
    let supergraph = web();
    let preparer = Preparer::new(&Config::default());
    let runtime = runtime();
    let mut prepared = 0;
    for seed in 0..60u32 {
        let mut choices = (0..80u32).map(|i| {
            seed.wrapping_mul(2_654_435_761)
                .wrapping_add(i.wrapping_mul(40_503))
        });
        let document = format!(
            "query {}",
            selection(supergraph.api(), "Query", &mut choices, 0)
        );
        if prepare(&runtime, &preparer, &document).is_ok() {
            prepared += 1;
        }
    }
    assert!(
        prepared >= 20,
        "only {prepared} of 60 walked documents prepared"
    );
}
