//! The accounts schema's read side: `User`, its queries and entity references.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder, QuerySelect};
use subgraph_kit::auth::require_caller;
use subgraph_kit::{Code, ResultExt, error, input};

use crate::entity::user;
use crate::loader::UserLoader;

/// A person with an account.
pub(crate) struct User(pub(crate) user::Model);

#[Object(name = "User", cache_control(max_age = 60))]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The sign-in email; only the user themselves may read it.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let caller = require_caller(ctx)?;
        if caller.sub == self.0.id.to_string() {
            Ok(&self.0.email)
        } else {
            Err(error(
                Code::Forbidden,
                "only the user themselves may read their email",
            ))
        }
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The unique handle.
    #[graphql(shareable)]
    async fn username(&self) -> &str {
        &self.0.username
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Queries of the accounts subgraph.
pub struct Query;

#[Object]
impl Query {
    /// The signed-in user. `@authenticated`: through the engine an anonymous caller gets null
    /// with `UNAUTHORIZED_FIELD_OR_TYPE`; called directly, null.
    #[graphql(cache_control(private), directive = subgraph_kit::access::authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(claims) = ctx
            .data_opt::<subgraph_kit::Caller>()
            .and_then(|c| c.claims.as_ref())
        else {
            return Ok(None);
        };
        match claims.sub.parse::<i64>() {
            Ok(id) => load_user(ctx, id).await,
            Err(_) => Ok(None),
        }
    }

    /// One user by id, or null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        match input::lookup_id(&id) {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }

    /// Users in sign-up order, a page at a time.
    #[graphql(tag = "web")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, User, EmptyFields, EmptyFields>> {
        let limit = input::page_size(first, 100)?;
        let offset = input::cursor(after.as_deref())?;
        let db = ctx.data::<DatabaseConnection>()?;
        let mut rows = user::Entity::find()
            .order_by_asc(user::Column::Id)
            .offset(offset)
            .limit(limit + 1)
            .all(db)
            .await
            .internal("listing users")?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut page = Connection::new(offset > 0, has_next);
        page.edges.extend(
            rows.into_iter()
                .enumerate()
                .map(|(i, row)| Edge::new(input::encode_cursor(offset + i as u64 + 1), User(row))),
        );
        Ok(page)
    }

    /// Resolves `User` entity references for the gateway.
    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<User>> {
        match input::lookup_id(&id) {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
}

async fn load_user(ctx: &Context<'_>, id: i64) -> async_graphql::Result<Option<User>> {
    let loader = ctx.data::<DataLoader<UserLoader>>()?;
    Ok(loader
        .load_one(id)
        .await
        .internal("loading a user")?
        .map(User))
}
