//! The reviews schema's write side: `addReview`, which checks the product with catalog before
//! storing.

use async_graphql::{Context, ID, Object};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use serde_json::{Value, json};
use subgraph_kit::auth::require_user;
use subgraph_kit::{Caller, Code, Peers, ResultExt, error, input};

use crate::entity::review;
use crate::query::Review;

/// The longest review body accepted, in characters.
const MAX_BODY: usize = 2000;

/// Asks catalog whether a product exists: a null entity means it does not.
const PRODUCT_EXISTS: &str = "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { id } } }";

/// Mutations of the reviews subgraph.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Reviews a product as the signed-in user; each user reviews a product at most once.
    async fn add_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The catalog product reviewed.")] product_id: ID,
        #[graphql(desc = "Stars from 1 to 5.")] rating: i32,
        #[graphql(desc = "What the author has to say, 1 to 2000 characters.")] body: String,
    ) -> async_graphql::Result<Review> {
        let author_id = require_user(ctx)?;
        let caller = ctx.data::<Caller>()?;
        let product_id = input::id(&product_id, "productId")?;
        if !(1..=5).contains(&rating) {
            return Err(error(
                Code::BadUserInput,
                "`rating` must be between 1 and 5",
            ));
        }
        let body = input::text(&body, "body", MAX_BODY)?.to_owned();
        // Reviews show the author's handle without asking accounts, so it is taken from the
        // token now; every token accounts signs for a user carries it.
        let username = caller
            .claims
            .as_ref()
            .and_then(|claims| claims.username.clone())
            .ok_or_else(|| {
                error(
                    Code::Unauthenticated,
                    "the token carries no username; sign in again",
                )
            })?;
        let token = caller.token.as_deref().ok_or_else(|| {
            error(
                Code::Unauthenticated,
                "this operation needs a signed-in caller",
            )
        })?;
        ensure_product_exists(ctx.data::<Peers>()?, product_id, token).await?;

        let db = ctx.data::<DatabaseConnection>()?;
        let inserted = review::ActiveModel {
            product_id: Set(product_id),
            author_id: Set(author_id),
            author_username: Set(username),
            rating: Set(rating),
            body: Set(body),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await;
        match inserted {
            Ok(review) => {
                // The product's reviews, count and rating changed.
                subgraph_kit::server::changed_entity(ctx, "Product", product_id);
                Ok(Review(review))
            }
            Err(err) if subgraph_kit::db::is_unique_violation(&err) => Err(error(
                Code::Conflict,
                "you have already reviewed this product",
            )),
            Err(err) => Err(err).internal("storing a review"),
        }
    }
}

/// `NOT_FOUND` unless catalog knows the product; `UPSTREAM_FAILED` when catalog cannot tell.
async fn ensure_product_exists(
    peers: &Peers,
    product_id: i64,
    token: &str,
) -> async_graphql::Result<()> {
    let variables = json!({
        "representations": [{ "__typename": "Product", "id": product_id.to_string() }]
    });
    let data = peers
        .call("catalog", PRODUCT_EXISTS, variables, token)
        .await
        .map_err(subgraph_kit::peer::PeerError::into_graphql)?;
    match data.pointer("/_entities/0") {
        Some(Value::Object(_)) => Ok(()),
        Some(Value::Null) => Err(error(
            Code::NotFound,
            format!("there is no product {product_id}"),
        )),
        _ => {
            tracing::warn!(%data, "catalog answered a product check without an entity");
            Err(error(
                Code::UpstreamFailed,
                "the catalog subgraph sent a malformed response",
            ))
        }
    }
}
