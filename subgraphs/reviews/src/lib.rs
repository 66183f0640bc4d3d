//! The reviews subgraph: what users think of products.
//!
//! It owns the `reviews` table and the `Review` entity, and extends two entities it does not
//! own: `Product` (catalog) with its reviews and rating, and `User` (accounts) with the
//! reviews they wrote. It stores only ids of products and users, plus the author's handle as
//! it was at writing time, which `Review.author` provides so the gateway need not ask
//! accounts for it. Writing a review asks catalog, through `_entities`, whether the product
//! exists; nothing else here talks to another subgraph.
//!
//! # Layout
//! - `entity`, `migration`, `seed`: the table, how it is created, the demo data.
//! - `loader`: DataLoaders answering each batch of parent ids with one query.
//! - `query`: the GraphQL types, the queries and entity references; `mutation`: `addReview`.

mod entity;
mod loader;
mod migration;
mod mutation;
mod query;
mod seed;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{Deps, Subgraph, loader};

use crate::loader::{AuthorReviews, NewestReviewsLoader, Parent, ProductReviews};
pub use mutation::Mutation;
pub use query::Query;

/// The reviews subgraph's schema type.
pub type ReviewsSchema = Schema<Query, Mutation, EmptySubscription>;

/// The reviews subgraph, for the kit to run.
pub struct Reviews;

impl Subgraph for Reviews {
    const NAME: &'static str = "reviews";
    const DEFAULT_PORT: u16 = 4103;
    type Migrator = migration::Migrator;

    fn sdl() -> String {
        subgraph_kit::federation_sdl(&builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        seed::seed(db).await
    }

    fn executor(deps: Deps) -> impl async_graphql::Executor {
        let db = &deps.db;
        builder()
            .data(loader(loader::ReviewLoader::new(db.clone())))
            .data(ProductReviews(loader(NewestReviewsLoader::new(
                db.clone(),
                Parent::Product,
            ))))
            .data(AuthorReviews(loader(NewestReviewsLoader::new(
                db.clone(),
                Parent::Author,
            ))))
            .data(loader(loader::RatingStatsLoader::new(db.clone())))
            .data(deps.peers)
            .data(deps.db)
            .finish()
    }
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    subgraph_kit::harden(Schema::build(Query, Mutation, EmptySubscription))
}
