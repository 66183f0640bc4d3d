//! Tributary's schemas before run time: composing subgraph SDL into the supergraphs the
//! engine plans against, cutting contracts out of them for each kind of client, printing the
//! API schemas clients see, telling breaking from safe changes between two versions of an API,
//! and keeping the checked-in copies of all of these in step with the code.
//!
//! Composition is `graphql-composition`'s, on subgraph SDL adapted where it refuses sets Apollo's
//! composer accepts, followed by patches that make its output what Apollo's composer emits for
//! the same subgraphs (root types joined to their subgraphs,
//! `external: true` on `@external` key fields, `@interfaceObject` joins, the join spec's
//! `repeatable` definitions and `@link`s): the gateway's planner, `hive-router-query-planner`,
//! reads supergraphs in that form. The library does no I/O except in [`files`], and it knows
//! nothing of the domains, the BFFs or the engine: the command line (`tools/schema-cli`, crate
//! `tributary-schema-cli`) names the subgraphs and clients whose files it writes, and calls the
//! engine.
//!
//! # Layout
//! - [`compose()`]: subgraph sources in, supergraph SDL out, or a [`ComposeError`] naming the
//!   subgraphs, type, field and lines at fault.
//! - `facts`, `fieldset`: what each subgraph SDL declares (keys, `@external`s, field order).
//! - `validate`: rules Apollo's composer enforces that `graphql-composition` does not.
//! - `adapt`: the edits of subgraph SDL that let `graphql-composition` compose what Apollo's
//!   composer accepts and it refuses (entity and value type, differing enums, object and union,
//!   nested key fields, shareable types with differing fields).
//! - `patch`: the post-processing steps, one module each; `render`: the stable SDL layout.
//! - [`Contract`]: a supergraph with the elements of excluded `@tag`s (or of no included one)
//!   made `@inaccessible`.
//! - [`render_api`]: an API schema document (the engine's) as stable SDL.
//! - [`diff()`]: breaking and safe changes between two API schemas; [`compat`]: the gate that
//!   refuses breaking changes nobody accepted.
//! - [`files`]: the files derived from the code, writing and drift checks.
//! - [`supergraph_config`]: rover's supergraph config, read (schema files read, URLs listed
//!   for the caller to fetch).

mod adapt;
mod api;
pub mod compat;
mod compose;
mod contract;
pub mod diff;
mod error;
mod facts;
mod fieldset;
pub mod files;
mod patch;
mod render;
pub mod supergraph_config;
mod validate;

pub use api::render_api;
pub use compose::{SubgraphSource, compose};
pub use contract::{Contract, ContractError};
pub use diff::{Change, Severity, diff};
pub use error::{ComposeError, Diagnostic, Location};
pub use supergraph_config::{ConfigError, SupergraphConfig};
