//! The accounts schema: `User`, its queries, sign-up and login.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use subgraph_kit::auth::{Auth, require_caller};
use subgraph_kit::{Code, ResultExt, error, input};

use crate::entity::user;

/// Loads users by id in one query per batch.
pub(crate) struct UserLoader {
    db: DatabaseConnection,
}

impl UserLoader {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        UserLoader { db }
    }
}

impl Loader<i64> for UserLoader {
    type Value = user::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, user::Model>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// A person with an account.
pub(crate) struct User(user::Model);

#[Object(name = "User")]
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

/// A signed-in session: the token to send as `Authorization: Bearer <token>`, and its user.
#[derive(SimpleObject)]
pub(crate) struct AuthPayload {
    /// The signed JWT.
    token: String,
    /// When the token stops being accepted.
    expires_at: DateTime<Utc>,
    /// The signed-in user.
    user: User,
}

/// What a new account needs.
#[derive(InputObject)]
pub(crate) struct SignUpInput {
    /// The sign-in email; must be unused.
    email: String,
    /// The display name.
    name: String,
    /// A unique handle of 3 to 32 lower-case letters, digits or underscores.
    username: String,
    /// At least 8 characters.
    password: String,
}

/// Queries of the accounts subgraph.
pub struct Query;

#[Object]
impl Query {
    /// The signed-in user, or null for an anonymous caller.
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

/// Mutations of the accounts subgraph.
pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account and signs it in.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<AuthPayload> {
        let email = checked_email(&input.email)?;
        let name = input::text(&input.name, "name", 100)?.to_owned();
        let username = checked_username(&input.username)?;
        if !(8..=128).contains(&input.password.chars().count()) {
            return Err(error(
                Code::BadUserInput,
                "`password` must be 8 to 128 characters",
            ));
        }
        let db = ctx.data::<DatabaseConnection>()?;
        let taken = user::Entity::find()
            .filter(
                Condition::any()
                    .add(user::Column::Email.eq(email.as_str()))
                    .add(user::Column::Username.eq(username.as_str())),
            )
            .one(db)
            .await
            .internal("checking for an existing account")?;
        if let Some(existing) = taken {
            return Err(conflict(existing.email == email));
        }
        let password_hash = hash_password(input.password)
            .await
            .internal("hashing a password")?;
        let inserted = user::ActiveModel {
            email: Set(email.clone()),
            name: Set(name),
            username: Set(username),
            password_hash: Set(password_hash),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await;
        let user = match inserted {
            Ok(user) => user,
            // A concurrent sign-up took the email or username between the check and the insert.
            Err(err) if subgraph_kit::db::is_unique_violation(&err) => {
                let existing = user::Entity::find()
                    .filter(user::Column::Email.eq(email.as_str()))
                    .one(db)
                    .await
                    .internal("checking for an existing account")?;
                return Err(conflict(existing.is_some()));
            }
            Err(err) => return Err(err).internal("creating an account"),
        };
        session(ctx, user)
    }

    /// Signs in with email and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let db = ctx.data::<DatabaseConnection>()?;
        let refused = || error(Code::Unauthenticated, "invalid email or password");
        if password.len() > 1024 {
            return Err(refused());
        }
        let found = user::Entity::find()
            .filter(user::Column::Email.eq(email.trim().to_lowercase()))
            .one(db)
            .await
            .internal("looking up an account")?;
        let Some(user) = found else {
            return Err(refused());
        };
        if !verify_password(password, user.password_hash.clone()).await {
            return Err(refused());
        }
        session(ctx, user)
    }
}

fn conflict(email_taken: bool) -> async_graphql::Error {
    if email_taken {
        error(Code::Conflict, "an account with this email already exists")
    } else {
        error(Code::Conflict, "this username is taken")
    }
}

fn session(ctx: &Context<'_>, user: user::Model) -> async_graphql::Result<AuthPayload> {
    let auth = ctx.data::<Auth>()?;
    let token = auth
        .issue_user(user.id, &user.username)
        .internal("signing a token")?;
    Ok(AuthPayload {
        token,
        expires_at: Utc::now() + auth.ttl(),
        user: User(user),
    })
}

fn checked_email(raw: &str) -> async_graphql::Result<String> {
    let email = input::text(raw, "email", 254)?.to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(error(
            Code::BadUserInput,
            "`email` is not a valid email address",
        ))
    }
}

fn checked_username(raw: &str) -> async_graphql::Result<String> {
    let username = raw.trim();
    let valid = (3..=32).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(username.to_owned())
    } else {
        Err(error(
            Code::BadUserInput,
            "`username` must be 3 to 32 lower-case letters, digits or underscores",
        ))
    }
}

/// Hashes a password with Argon2id on a blocking thread.
pub(crate) async fn hash_password(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}
