//! Sessions and their refresh tokens: the rules behind `signUp`/`login` (a session starts),
//! `refreshSession` (its token rotates) and `signOut` (it ends).
//!
//! A refresh token is 256 random bits, base64url; only its SHA-256 is stored. Every token
//! rotated from one sign-in belongs to one family. A token is exchanged at most once: the
//! exchange claims it with a conditional `UPDATE ... WHERE used_at IS NULL`, so of two
//! concurrent refreshes with one token exactly one wins on SQLite and PostgreSQL alike. A token
//! presented after it was exchanged (reuse: a stolen copy, or a client replaying) revokes its
//! whole family, the newer tokens with it, so the thief and the victim both sign in again.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use rand_core::{OsRng, RngCore as _};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, TransactionTrait,
};
use sha2::{Digest as _, Sha256};
use subgraph_kit::{Code, error};

use crate::entity::refresh_token;

/// How long a refresh token is accepted; each refresh issues a new one for as long again.
pub(crate) const REFRESH_TTL: TimeDelta = TimeDelta::days(30);

/// The longest string taken for a refresh token (one is 43 characters); longer is refused
/// unhashed.
const MAX_TOKEN_CHARS: usize = 128;

/// A refresh token as handed to the client, and when it stops being accepted.
pub(crate) struct Refresh {
    /// The opaque token, base64url.
    pub(crate) token: String,
    /// When it expires.
    pub(crate) expires_at: DateTime<Utc>,
}

/// Why a refresh token was not exchanged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// No such token was ever issued.
    #[error("the refresh token is not valid; sign in again")]
    Unknown,
    /// The token outlived [`REFRESH_TTL`].
    #[error("the refresh token has expired; sign in again")]
    Expired,
    /// Its session was signed out or ended by reuse.
    #[error("the refresh token was revoked; sign in again")]
    Revoked,
    /// The token had been exchanged already; its session is now ended.
    #[error("refresh token reuse detected; sign in again")]
    Reused,
    /// The system's random source failed.
    #[error("no random bytes for a token: {0}")]
    Random(#[from] rand_core::Error),
    /// The database failed.
    #[error("the database failed: {0}")]
    Database(#[from] DbErr),
}

impl SessionError {
    /// The GraphQL error a client gets: `UNAUTHENTICATED` for the token's own faults, the
    /// internal ones logged and hidden.
    pub(crate) fn to_graphql(&self) -> async_graphql::Error {
        match self {
            SessionError::Random(_) | SessionError::Database(_) => {
                tracing::error!(error = %self, "internal error while refreshing a session");
                error(Code::Internal, "internal error while refreshing a session")
            }
            _ => error(Code::Unauthenticated, self.to_string()),
        }
    }
}

/// Starts a session for `user_id`: a new family and its first refresh token.
pub(crate) async fn start(db: &DatabaseConnection, user_id: i64) -> Result<Refresh, SessionError> {
    let family = random_text(16)?;
    insert(db, &family, user_id, Utc::now()).await
}

/// Exchanges `presented` for its successor in the same family; returns the session's user
/// and the new refresh token.
pub(crate) async fn rotate(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<(i64, Refresh), SessionError> {
    let row = find(db, presented).await?.ok_or(SessionError::Unknown)?;
    if row.revoked_at.is_some() {
        return Err(SessionError::Revoked);
    }
    if row.used_at.is_some() {
        revoke_family(db, &row.family_id).await?;
        return Err(SessionError::Reused);
    }
    let now = Utc::now();
    if row.expires_at <= now {
        return Err(SessionError::Expired);
    }
    let txn = db.begin().await?;
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        // Another request exchanged (or revoked) this token since it was read: a second use
        // all the same, however close in time.
        revoke_family(db, &row.family_id).await?;
        return Err(SessionError::Reused);
    }
    let next = insert(&txn, &row.family_id, row.user_id, now).await?;
    txn.commit().await?;
    Ok((row.user_id, next))
}

/// Ends the session `presented` belongs to, whatever the state of that token; false when no
/// such token was issued.
pub(crate) async fn sign_out(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<bool, SessionError> {
    let Some(row) = find(db, presented).await? else {
        return Ok(false);
    };
    revoke_family(db, &row.family_id).await?;
    Ok(true)
}

async fn find(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<Option<refresh_token::Model>, SessionError> {
    if presented.len() > MAX_TOKEN_CHARS {
        return Ok(None);
    }
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(digest(presented)))
        .one(db)
        .await?)
}

async fn insert(
    db: &impl ConnectionTrait,
    family: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Refresh, SessionError> {
    let token = random_text(32)?;
    let expires_at = now + REFRESH_TTL;
    refresh_token::ActiveModel {
        token_hash: Set(digest(&token)),
        family_id: Set(family.to_owned()),
        user_id: Set(user_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Refresh { token, expires_at })
}

async fn revoke_family(db: &DatabaseConnection, family: &str) -> Result<(), SessionError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// `bytes` random bytes from the system, base64url without padding.
fn random_text(bytes: usize) -> Result<String, rand_core::Error> {
    let mut buffer = vec![0u8; bytes];
    OsRng.try_fill_bytes(&mut buffer)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer))
}

/// The SHA-256 of a token, lower-case hex: what the table stores and looks up.
fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_of_base64url_and_stored_as_their_sha_256() {
        let token = random_text(32).expect("random bytes");
        assert_eq!(token.len(), 43);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(token, random_text(32).expect("random bytes"));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
