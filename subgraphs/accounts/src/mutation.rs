//! The accounts schema's write side: sign-up and login, refreshing and ending sessions, and the
//! password hashing they use.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait,
    QueryFilter,
};
use subgraph_kit::auth::Auth;
use subgraph_kit::{Code, ResultExt, error, input};

use crate::entity::user;
use crate::query::User;
use crate::session;

/// A signed-in session: the access token to send as `Authorization: Bearer <token>`, the
/// refresh token that renews it, and its user.
#[derive(SimpleObject)]
pub(crate) struct AuthPayload {
    /// The signed JWT.
    token: String,
    /// When the token stops being accepted.
    expires_at: DateTime<Utc>,
    /// An opaque token that `refreshSession` exchanges, once, for a new `token` and a new
    /// refresh token; keep it secret and send it nowhere else.
    refresh_token: String,
    /// When the refresh token stops being accepted (30 days after it was issued).
    refresh_expires_at: DateTime<Utc>,
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
        signed_in(ctx, user).await
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
        signed_in(ctx, user).await
    }

    /// Exchanges a refresh token for a new access token and a new refresh token; the one
    /// presented stops working. A refresh token presented a second time ends its session (every
    /// token of it is revoked) and answers `UNAUTHENTICATED`, as revoked, expired and unknown
    /// ones do: refresh with one token at a time.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        let db = ctx.data::<DatabaseConnection>()?;
        let (user_id, refresh) = session::rotate(db, &refresh_token)
            .await
            .map_err(|err| err.to_graphql())?;
        let user = user::Entity::find_by_id(user_id)
            .one(db)
            .await
            .internal("looking up an account")?
            .ok_or_else(|| session::SessionError::Unknown.to_graphql())?;
        payload(ctx, user, refresh)
    }

    /// Ends the session a refresh token belongs to: it and every refresh token rotated from the
    /// same sign-in stop working (access tokens already issued last until they expire). False
    /// when no such refresh token was issued.
    async fn sign_out(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        let db = ctx.data::<DatabaseConnection>()?;
        session::sign_out(db, &refresh_token)
            .await
            .map_err(|err| err.to_graphql())
    }
}

fn conflict(email_taken: bool) -> async_graphql::Error {
    if email_taken {
        error(Code::Conflict, "an account with this email already exists")
    } else {
        error(Code::Conflict, "this username is taken")
    }
}

/// A new session for `user`: its first refresh token and an access token.
async fn signed_in(ctx: &Context<'_>, user: user::Model) -> async_graphql::Result<AuthPayload> {
    let db = ctx.data::<DatabaseConnection>()?;
    let refresh = session::start(db, user.id)
        .await
        .internal("starting a session")?;
    payload(ctx, user, refresh)
}

/// The answer of every mutation that signs in: an access token for `user`, and `refresh`.
fn payload(
    ctx: &Context<'_>,
    user: user::Model,
    refresh: session::Refresh,
) -> async_graphql::Result<AuthPayload> {
    let auth = ctx.data::<Auth>()?;
    let token = auth
        .issue_user(user.id, &user.username)
        .internal("signing a token")?;
    Ok(AuthPayload {
        token,
        expires_at: Utc::now() + auth.ttl(),
        refresh_token: refresh.token,
        refresh_expires_at: refresh.expires_at,
        user: User(user),
    })
}

/// A sign-in email: an address RFC 5322 accepts (by the maintained `email_address` crate, no
/// display name, no domain literal), with a domain of at least two labels, lower-cased.
fn checked_email(raw: &str) -> async_graphql::Result<String> {
    let email = input::text(raw, "email", 254)?.to_lowercase();
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    match email_address::EmailAddress::parse_with_options(&email, options) {
        Ok(_) => Ok(email),
        Err(_) => Err(error(
            Code::BadUserInput,
            "`email` is not a valid email address",
        )),
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
