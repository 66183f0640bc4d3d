//! `cargo run -p tributary-schema-cli -- compose|check|diff|release`: see
//! [`tributary_schema_cli`].

fn main() -> std::process::ExitCode {
    tributary_schema_cli::main()
}
