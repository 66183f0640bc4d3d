//! The `authors` subgraph: owns `Author` (with an `@inaccessible` field), answers the
//! shareable root field `ping`, and adds to the shared tally (`Mutation.add`).

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, ID, Object, Schema, SimpleObject};

use super::Tally;
use super::data::{self, AuthorRow};

/// A writer.
#[derive(SimpleObject)]
pub(crate) struct Author {
    /// The author's id.
    id: ID,
    /// The author's full name (`books` may provide it too).
    #[graphql(shareable)]
    name: String,
    /// The year of birth.
    born: i32,
    /// An internal note, never part of the client-facing schema.
    #[graphql(inaccessible)]
    secret: String,
    /// How to reach the author: for callers with the `staff` scope.
    #[graphql(requires_scopes = "staff")]
    email: Option<String>,
    /// Royalties owed in cents: for callers the `finance` policy admits.
    #[graphql(directive = subgraph_core::access::policy::apply(vec![vec!["finance".to_owned()]]))]
    royalties: i32,
}

impl From<&AuthorRow> for Author {
    fn from(row: &AuthorRow) -> Self {
        Author {
            id: ID::from(row.id),
            name: row.name.to_owned(),
            born: row.born,
            secret: format!("secret of {}", row.id),
            email: Some(format!("{}@authors.example", row.id)),
            royalties: row.born,
        }
    }
}

/// The query root.
pub(crate) struct Query;

#[Object]
impl Query {
    /// One author by id.
    async fn author(&self, id: ID) -> Option<Author> {
        data::author(&id).map(Author::from)
    }

    /// Every author.
    async fn authors(&self) -> Vec<Author> {
        data::AUTHORS.iter().map(Author::from).collect()
    }

    /// A liveness probe that every subgraph can answer.
    #[graphql(shareable)]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[graphql(entity)]
    async fn find_author(&self, id: ID) -> Option<Author> {
        data::author(&id).map(Author::from)
    }
}

/// The mutation root.
pub(crate) struct Mutation;

#[Object]
impl Mutation {
    /// Adds `amount` to the tally; returns the new total.
    async fn add(&self, ctx: &Context<'_>, amount: i32) -> i32 {
        ctx.data_unchecked::<Arc<Tally>>()
            .update(|total| total + amount)
    }
}

/// The executable schema.
pub(crate) fn schema(tally: Arc<Tally>) -> Schema<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .data(tally)
        .finish()
}
