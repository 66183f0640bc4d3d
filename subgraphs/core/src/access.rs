//! The federation access directives a subgraph applies to its fields and types: `@authenticated`
//! and `@policy` (async-graphql renders `@requiresScopes` itself, from `requires_scopes`). The
//! engine enforces them before planning; a subgraph still checks the caller in its resolvers,
//! so a request that reaches it another way is refused too.
//!
//! Apply one with `#[graphql(directive = authenticated::apply())]`.

// The directive macros generate public items named after the functions.
#![allow(missing_docs)]

/// `@authenticated`: only a caller with a verified token may read this field or type.
#[async_graphql::TypeDirective(location = "FieldDefinition", location = "Object")]
pub fn authenticated() {}

/// `@policy(policies: ...)`: the caller must satisfy every policy of one of the lists; the
/// engine's `[authorization] policies` define each name.
#[async_graphql::TypeDirective(location = "FieldDefinition", location = "Object")]
pub fn policy(policies: Vec<Vec<String>>) {}

/// The federation version the rendered SDL links: the first with `@policy`.
pub(crate) const FEDERATION: &str = "https://specs.apollo.dev/federation/v2.6";

/// Makes async-graphql's federation SDL import `@authenticated` and `@policy` from the
/// federation spec instead of defining them locally, so composition treats them as the
/// federation's own directives.
pub(crate) fn link_access_directives(sdl: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in sdl.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("directive @authenticated")
            || trimmed.starts_with("directive @policy")
        {
            drop_description(&mut lines);
            continue;
        }
        if trimmed.starts_with("url: \"https://specs.apollo.dev/federation/v2.5\"") {
            lines.push(line.replace("https://specs.apollo.dev/federation/v2.5", FEDERATION));
        } else if trimmed.starts_with("import: [\"@key\"")
            && trimmed.contains("\"@requiresScopes\"")
        {
            lines.push(line.replace(
                "\"@requiresScopes\"",
                "\"@requiresScopes\", \"@authenticated\", \"@policy\"",
            ));
        } else {
            lines.push(line.to_owned());
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Removes the description block (`"""…"""`) that ends `lines`, if one does.
fn drop_description(lines: &mut Vec<String>) {
    if !lines
        .last()
        .is_some_and(|l| l.trim_end().ends_with("\"\"\""))
    {
        return;
    }
    let Some(last) = lines.pop() else {
        return;
    };
    // A one-line description: `"""text"""`.
    let trimmed = last.trim();
    if trimmed.len() > 6 && trimmed.starts_with("\"\"\"") {
        return;
    }
    while let Some(line) = lines.pop() {
        if line.trim_start().starts_with("\"\"\"") {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_directives_are_imported_not_defined() {
        let sdl = "type Query {\n\tme: String @authenticated\n}\n\"\"\"\nOnly signed-in callers.\n\"\"\"\ndirective @authenticated on FIELD_DEFINITION | OBJECT\ndirective @policy(policies: [[String!]!]!) on FIELD_DEFINITION | OBJECT\nextend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.5\",\n\timport: [\"@key\", \"@requiresScopes\"]\n)\n";
        assert_eq!(
            link_access_directives(sdl),
            "type Query {\n\tme: String @authenticated\n}\nextend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.6\",\n\timport: [\"@key\", \"@requiresScopes\", \"@authenticated\", \"@policy\"]\n)\n"
        );
    }
}
