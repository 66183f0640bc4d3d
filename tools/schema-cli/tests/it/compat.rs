//! The mobile compatibility gate: installed app versions keep working because the mobile API
//! never breaks its last release unless a breaking change is explicitly accepted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tributary_schema::compat::{Allowed, gate};
use tributary_schema_cli::workspace::{self, ALLOWED_FILE, GATED_CLIENT, RELEASED_FILE};

fn root() -> PathBuf {
    workspace::default_root()
}

fn released() -> String {
    let path = root().join(workspace::client_file(GATED_CLIENT, RELEASED_FILE));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The current mobile API, as the code derives it.
fn current() -> String {
    let artifacts = workspace::artifacts(&root()).unwrap_or_else(|e| panic!("{e}"));
    artifacts
        .get(workspace::client_file(GATED_CLIENT, "api.graphql"))
        .expect("the mobile API is an artifact")
        .to_owned()
}

/// The released API without `Product.name` (a field after the first, with a description).
fn without_product_name() -> String {
    let released = released();
    let line = "  name: String!\n";
    let start = released
        .find("\ntype Product {\n")
        .expect("the API has products");
    let at = start + released[start..].find(line).expect("products have names");
    // From the blank line before the field's description through the field.
    let begin = released[..at].rfind("\n\n").expect("a field precedes it") + 1;
    assert!(begin > start, "`name` is not the first field");
    format!("{}{}", &released[..begin], &released[at + line.len()..])
}

#[test]
fn the_mobile_api_keeps_the_promises_of_its_last_release() {
    let allowed =
        fs::read_to_string(root().join(workspace::client_file(GATED_CLIENT, ALLOWED_FILE)))
            .expect("the allowed list exists");
    let verdict = gate(&released(), &current(), &Allowed::parse(&allowed)).expect("both parse");
    let refused: Vec<String> = verdict.refused.iter().map(ToString::to_string).collect();
    assert!(
        verdict.passes(),
        "the mobile API breaks installed apps; keep (deprecate) what they use or list the path \
         in schema/mobile/{ALLOWED_FILE}:\n{}",
        refused.join("\n")
    );
}

#[test]
fn removing_a_released_field_fails_the_gate_until_its_path_is_allowed() {
    let broken = without_product_name();
    let verdict = gate(&released(), &broken, &Allowed::default()).expect("both parse");
    assert!(!verdict.passes());
    let refused: Vec<String> = verdict.refused.iter().map(ToString::to_string).collect();
    assert_eq!(
        refused,
        ["breaking Product.name: field removed, was `String!`"]
    );

    let allowed = Allowed::parse("# Header.\n\nProduct.name  # app 1.0 no longer supported\n");
    let verdict = gate(&released(), &broken, &allowed).expect("both parse");
    assert!(verdict.passes());
    assert!(verdict.unused.is_empty());

    let stale = Allowed::parse("Product.name\nProduct.gone\n");
    let verdict = gate(&released(), &released(), &stale).expect("both parse");
    assert_eq!(verdict.unused, ["Product.gone", "Product.name"]);
}

#[test]
fn an_additive_change_passes_the_gate() {
    let released = released();
    let added = released.replacen(
        "\ntype Product {\n",
        "\ntype Product {\n  \"\"\"\n  A new field.\n  \"\"\"\n  badge: String\n\n",
        1,
    );
    assert_ne!(added, released, "the API has `type Product {{`");
    let verdict = gate(&released, &added, &Allowed::default()).expect("both parse");
    assert!(verdict.passes());
    let changes: Vec<String> = verdict.changes.iter().map(ToString::to_string).collect();
    assert_eq!(changes, ["safe     Product.badge: field added: `String`"]);
}

/// Runs `tributary-schema diff` over two texts; its exit code and output.
fn diff_command(old: &str, new: &str) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("tributary-schema-diff-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("creates a scratch directory");
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    fs::write(&old_path, old).expect("writes");
    fs::write(&new_path, new).expect("writes");
    let output = Command::new(env!("CARGO_BIN_EXE_tributary-schema"))
        .args(["diff".as_ref(), old_path.as_os_str(), new_path.as_os_str()])
        .output()
        .expect("runs the command");
    let _ = fs::remove_dir_all(&dir);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_diff_command_exits_1_on_a_breaking_change_and_0_otherwise() {
    let (code, out) = diff_command(&released(), &without_product_name());
    assert_eq!(code, Some(1));
    assert_eq!(out, "breaking Product.name: field removed, was `String!`\n");

    let (code, out) = diff_command(&released(), &released());
    assert_eq!((code, out.as_str()), (Some(0), ""));

    let (code, _) = diff_command(&released(), "type {");
    assert_eq!(code, Some(2));
    assert!(Path::new(env!("CARGO_BIN_EXE_tributary-schema")).exists());
}
