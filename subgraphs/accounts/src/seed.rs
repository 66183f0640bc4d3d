//! Deterministic demo users. Every demo user's password is `tributary-demo`.

use chrono::{TimeZone, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait};

use crate::entity::user;
use crate::mutation::hash_password;

/// The password of every seeded user.
pub(crate) const DEMO_PASSWORD: &str = "tributary-demo";

const USERS: &[(&str, &str, &str)] = &[
    ("ada@example.com", "Ada Lovelace", "ada"),
    ("grace@example.com", "Grace Hopper", "grace"),
    ("alan@example.com", "Alan Turing", "alan"),
    ("edsger@example.com", "Edsger Dijkstra", "edsger"),
    ("barbara@example.com", "Barbara Liskov", "barbara"),
    ("ken@example.com", "Ken Thompson", "ken"),
];

/// Inserts the demo users when the table is empty.
pub(crate) async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    if user::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    // One hash serves every demo user: hashing is deliberately slow.
    let hash = hash_password(DEMO_PASSWORD.to_owned())
        .await
        .map_err(|e| DbErr::Custom(format!("hashing the demo password: {e}")))?;
    let mut models = Vec::with_capacity(USERS.len());
    for (i, (email, name, username)) in USERS.iter().enumerate() {
        let id = i as i64 + 1;
        let created_at = Utc
            .with_ymd_and_hms(2026, 1, 1 + i as u32, 9, 0, 0)
            .single()
            .ok_or_else(|| DbErr::Custom(format!("invalid seed date for user {id}")))?;
        models.push(user::ActiveModel {
            id: Set(id),
            email: Set((*email).to_owned()),
            name: Set((*name).to_owned()),
            username: Set((*username).to_owned()),
            password_hash: Set(hash.clone()),
            created_at: Set(created_at),
        });
    }
    user::Entity::insert_many(models).exec(db).await?;
    subgraph_kit::db::sync_sequence(db, "users").await
}
