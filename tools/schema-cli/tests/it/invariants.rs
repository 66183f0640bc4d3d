//! Architecture invariants about which crate may link which, read from the manifests: a BFF
//! links no database and composes nothing at run time, and the schema library knows no
//! subgraph, BFF or engine.

use std::path::PathBuf;

/// The names of a crate's normal (not dev) dependencies, from its `Cargo.toml`.
fn dependencies(krate: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        if section == "[dependencies]"
            && let Some((name, _)) = line.split_once(['=', '.'])
            && !name.trim().is_empty()
            && !name.starts_with('#')
        {
            out.push(name.trim().to_owned());
        }
    }
    out
}

#[test]
fn a_bff_links_no_database_and_composes_nothing_at_run_time() {
    for bff in ["bff-web", "bff-mobile"] {
        let deps = dependencies(bff);
        assert!(
            deps.iter().any(|d| d == "tributary-gateway"),
            "{bff}: {deps:?}"
        );
        for forbidden in [
            "subgraph-kit",
            "sea-orm",
            "sea-orm-migration",
            "sqlx",
            "tributary-schema",
        ] {
            assert!(
                !deps.iter().any(|d| d == forbidden),
                "{bff} depends on {forbidden}"
            );
        }
    }
}

#[test]
fn the_schema_library_knows_no_subgraph_bff_or_engine() {
    let deps = dependencies("schema");
    assert!(deps.iter().any(|d| d == "graphql-composition"), "{deps:?}");
    for dep in &deps {
        assert!(
            !dep.starts_with("subgraph-") && !dep.starts_with("bff-") && dep != "tributary-gateway",
            "the schema library depends on {dep}"
        );
    }
}
