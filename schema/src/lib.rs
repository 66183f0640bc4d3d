//! Tributary's schemas before run time: composing the domain subgraphs' SDL into the
//! supergraph the gateway plans against, and keeping the checked-in copies of both in step with
//! the code.
//!
//! Composition is `graphql-composition`'s, followed by patches that make its output what
//! Apollo's composer emits for the same subgraphs (root types joined to their subgraphs,
//! `external: true` on `@external` key fields, `@interfaceObject` joins, the join spec's
//! `repeatable` definitions and `@link`s): the gateway's planner, `hive-router-query-planner`,
//! reads supergraphs in that form. The crate does no I/O except in [`files`] and the command
//! line, and it knows nothing of the domains: only [`cli`] (feature `cli`, on by default) names
//! the five subgraphs whose SDL it writes.
//!
//! # Layout
//! - [`compose()`]: subgraph sources in, supergraph SDL out, or a [`ComposeError`] naming the
//!   subgraphs, type and field at fault.
//! - `facts`, `fieldset`: what each subgraph SDL declares (keys, `@external`s, field order).
//! - `validate`: rules Apollo's composer enforces that `graphql-composition` does not.
//! - `patch`: the post-processing steps, one module each; `render`: the stable SDL layout.
//! - [`files`]: the files under `schema/` derived from the sources, writing and drift checks.
//! - [`cli`]: `compose` and `check` over the domain subgraphs.

#[cfg(feature = "cli")]
pub mod cli;
mod compose;
mod error;
mod facts;
mod fieldset;
pub mod files;
mod patch;
mod render;
mod validate;

pub use compose::{SubgraphSource, compose};
pub use error::{ComposeError, Diagnostic};
