//! The whole Tributary stack in one process: every domain subgraph on loopback, each with its
//! own database (SQLite files under `./data` by default, or one PostgreSQL schema each), the
//! web and mobile BFFs in front of them, and the plain federation router.
//!
//! This crate only wires things together: it binds listeners, hands each subgraph its
//! database and its peers, points each BFF at the subgraphs' addresses, and shuts everything
//! down on one token. It holds no domain logic and no federation logic; those live in the
//! subgraph crates, the BFF crates and the gateway.

pub mod stack;

pub use stack::{
    Backend, Environment, SERVICES, SUBGRAPHS, Service, Stack, StackConfig, engine_auth,
    engine_auth_for,
};
