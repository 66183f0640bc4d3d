//! Runs the orders subgraph on its own, or an operator's `webhooks` command on its database.

fn main() -> std::process::ExitCode {
    subgraph_orders::command::main()
}
