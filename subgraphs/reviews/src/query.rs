//! The reviews schema's read side: `Review`, the `Product` and `User` entities it extends, and
//! the queries.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use subgraph_kit::{Code, ResultExt, error, input};

use crate::entity::review;
use crate::loader::{
    AuthorReviews, MAX_LIST, NewestReviewsLoader, ProductReviews, RatingStatsLoader, ReviewLoader,
};

/// A user's rating and opinion of a product.
pub(crate) struct Review(pub(crate) review::Model);

#[Object(name = "Review", cache_control(max_age = 60))]
impl Review {
    /// The review's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stars from 1 to 5.
    async fn rating(&self) -> i32 {
        self.0.rating
    }

    /// What the author wrote.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When the review was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Who wrote the review; their `username` comes with it, as it was when they wrote it.
    #[graphql(provides = "username")]
    async fn author(&self) -> User {
        User {
            id: self.0.author_id,
            username: Some(self.0.author_username.clone()),
        }
    }

    /// The product reviewed.
    async fn product(&self) -> Product {
        Product {
            id: self.0.product_id,
        }
    }
}

/// A catalog product, extended with its reviews.
pub(crate) struct Product {
    id: i64,
}

#[Object(name = "Product", cache_control(max_age = 30))]
impl Product {
    /// The product's id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The product's reviews, newest first.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, desc = "How many reviews to return, 1 to 50.")] first: i32,
    ) -> async_graphql::Result<Option<Vec<Review>>> {
        let first = input::page_size(first, MAX_LIST)?;
        let loader = &ctx.data::<ProductReviews>()?.0;
        newest(loader, self.id, first).await.map(Some)
    }

    /// The mean rating, or null when nobody has reviewed the product.
    async fn average_rating(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<f64>> {
        let stats = rating_stats(ctx, self.id).await?;
        Ok((stats.count > 0).then(|| stats.sum as f64 / stats.count as f64))
    }

    /// How many reviews the product has.
    async fn review_count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        Ok(Some(rating_stats(ctx, self.id).await?.count))
    }
}

/// An accounts user, extended with the reviews they wrote.
pub(crate) struct User {
    id: i64,
    /// Known when the user was reached through `Review.author`, which provides it.
    username: Option<String>,
}

#[Object(name = "User", cache_control(max_age = 60))]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's handle; owned by accounts, given here only through `Review.author`.
    #[graphql(external)]
    async fn username(&self) -> async_graphql::Result<&str> {
        self.username.as_deref().ok_or_else(|| {
            error(
                Code::BadUserInput,
                "`username` is resolved by the accounts subgraph",
            )
        })
    }

    /// The reviews the user wrote, newest first.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, desc = "How many reviews to return, 1 to 50.")] first: i32,
    ) -> async_graphql::Result<Option<Vec<Review>>> {
        let first = input::page_size(first, MAX_LIST)?;
        let loader = &ctx.data::<AuthorReviews>()?.0;
        newest(loader, self.id, first).await.map(Some)
    }
}

/// Queries of the reviews subgraph.
pub struct Query;

#[Object]
impl Query {
    /// One review by id, or null when there is none.
    async fn review(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Review>> {
        load_review(ctx, &id).await
    }

    /// Resolves `Review` entity references for the gateway.
    #[graphql(entity)]
    async fn find_review_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Review>> {
        load_review(ctx, &id).await
    }

    /// Resolves `Product` references to their reviews; a product nobody reviewed has none.
    #[graphql(entity)]
    async fn find_product_by_id(&self, id: ID) -> Option<Product> {
        input::lookup_id(&id).map(|id| Product { id })
    }

    /// Resolves `User` references to the reviews they wrote.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        input::lookup_id(&id).map(|id| User { id, username: None })
    }
}

async fn load_review(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Review>> {
    let Some(id) = input::lookup_id(id) else {
        return Ok(None);
    };
    let loader = ctx.data::<DataLoader<ReviewLoader>>()?;
    Ok(loader
        .load_one(id)
        .await
        .internal("loading a review")?
        .map(Review))
}

async fn newest(
    loader: &DataLoader<NewestReviewsLoader>,
    parent: i64,
    first: u64,
) -> async_graphql::Result<Vec<Review>> {
    let reviews = loader
        .load_one(parent)
        .await
        .internal("listing reviews")?
        .unwrap_or_default();
    Ok(reviews
        .into_iter()
        .take(first as usize)
        .map(Review)
        .collect())
}

async fn rating_stats(
    ctx: &Context<'_>,
    product_id: i64,
) -> async_graphql::Result<crate::loader::RatingStats> {
    let loader = ctx.data::<DataLoader<RatingStatsLoader>>()?;
    Ok(loader
        .load_one(product_id)
        .await
        .internal("summing a product's ratings")?
        .unwrap_or_default())
}
