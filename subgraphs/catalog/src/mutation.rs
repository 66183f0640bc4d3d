//! The catalog schema's write side: none. Clients only read the catalog; products and
//! categories change through migrations and seeding, so the Mutation root is empty and the
//! SDL has no `type Mutation`.

use async_graphql::EmptyMutation;

/// Mutations of the catalog subgraph: none.
pub type Mutation = EmptyMutation;
