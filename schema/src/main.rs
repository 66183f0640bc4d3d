//! `cargo run -p tributary-schema -- compose|check`: see [`tributary_schema::cli`].

fn main() -> std::process::ExitCode {
    tributary_schema::cli::main()
}
