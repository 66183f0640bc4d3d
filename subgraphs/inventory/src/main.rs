//! Runs the inventory subgraph on its own.

fn main() -> std::process::ExitCode {
    subgraph_kit::main::<subgraph_inventory::Inventory>()
}
