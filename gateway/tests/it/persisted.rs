//! Persisted-operation manifests: each operation's type comes from its parsed document.

use tributary_gateway::Manifest;

#[test]
fn the_manifest_reads_each_operation_type_from_the_document() {
    let manifest = Manifest::from_documents([
        (
            "Commented",
            "# Cancels an order.\nmutation Commented { cancel }",
        ),
        (
            "Fragmented",
            "fragment F on Query { a }\nquery Fragmented { ...F }",
        ),
        ("Shorthand", "{ a }"),
        ("Live", "\n  subscription Live { ticks }"),
    ]);
    let kinds: Vec<(&str, &str)> = manifest
        .operations
        .iter()
        .map(|op| (op.name.as_str(), op.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("Commented", "mutation"),
            ("Fragmented", "query"),
            ("Live", "subscription"),
            ("Shorthand", "query"),
        ]
    );
}
