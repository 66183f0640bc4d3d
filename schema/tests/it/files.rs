//! The checked-in schema files: `compose` writes them, `check` reports every file that differs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{fed2, sources};
use tributary_schema::files::{self, Drift};

/// A fresh, empty directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tributary-schema-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("creates the scratch directory");
    dir
}

fn artifacts() -> files::Artifacts {
    let users = fed2(
        &["@key"],
        "type Query { me: User }\ntype User @key(fields: \"id\") { id: ID! }",
    );
    let posts = fed2(&["@key"], "type Query { posts: [String!]! }");
    files::artifacts(&sources(&[("users", &users), ("posts", &posts)])).expect("composes")
}

#[test]
fn the_artifacts_are_one_sdl_file_per_subgraph_and_the_supergraph() {
    let paths: Vec<PathBuf> = artifacts().files.into_iter().map(|a| a.path).collect();
    assert_eq!(
        paths,
        [
            Path::new("subgraphs/posts.graphql"),
            Path::new("subgraphs/users.graphql"),
            Path::new("supergraph.graphql"),
        ]
    );
}

#[test]
fn check_lists_missing_changed_and_unexpected_files_until_compose_writes_them() {
    let dir = scratch("check");
    let artifacts = artifacts();
    let missing = files::check(&dir, &artifacts).expect("reads");
    assert_eq!(
        missing,
        [
            Drift::Missing("subgraphs/posts.graphql".into()),
            Drift::Missing("subgraphs/users.graphql".into()),
            Drift::Missing("supergraph.graphql".into()),
        ]
    );

    let written = files::write(&dir, &artifacts).expect("writes");
    assert_eq!(written.len(), 3);
    assert_eq!(files::check(&dir, &artifacts).expect("reads"), []);
    assert_eq!(files::write(&dir, &artifacts).expect("writes"), []);

    fs::write(dir.join("supergraph.graphql"), "schema { query: Query }\n").expect("edits");
    fs::write(
        dir.join("subgraphs/retired.graphql"),
        "type Query { a: Int }\n",
    )
    .expect("adds");
    fs::write(dir.join("subgraphs/notes.txt"), "not a schema\n").expect("adds");
    let drift = files::check(&dir, &artifacts).expect("reads");
    assert_eq!(
        drift,
        [
            Drift::Differs("supergraph.graphql".into()),
            Drift::Unexpected("subgraphs/retired.graphql".into()),
        ]
    );
    assert_eq!(
        drift[0].to_string(),
        "supergraph.graphql differs from the code"
    );

    files::write(&dir, &artifacts).expect("writes");
    assert_eq!(files::check(&dir, &artifacts).expect("reads"), []);
    assert!(!dir.join("subgraphs/retired.graphql").exists());
    assert!(dir.join("subgraphs/notes.txt").exists());
    let _ = fs::remove_dir_all(&dir);
}
