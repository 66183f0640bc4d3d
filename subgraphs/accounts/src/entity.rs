//! The `users` and `refresh_tokens` tables.

// sea-orm's derives generate `pub` items, so the module is private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod user {
    use sea_orm::entity::prelude::*;

    /// A person who can sign in.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The login; unique, stored trimmed and lower-cased.
        #[sea_orm(unique)]
        pub email: String,
        /// The display name.
        pub name: String,
        /// The public handle, unique; tokens carry it as the `username` claim.
        #[sea_orm(unique)]
        pub username: String,
        /// The Argon2 hash in PHC string form; the password itself is never stored.
        pub password_hash: String,
        /// When the account was created.
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// sea-orm's derives generate `pub` items, so the module is private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod refresh_token {
    use sea_orm::entity::prelude::*;

    /// One refresh token of a session. Each refresh marks the presented token used and adds
    /// its successor to the same family; the token itself is never stored, only its digest.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The SHA-256 of the token, lower-case hex; unique.
        #[sea_orm(unique)]
        pub token_hash: String,
        /// The session: every token rotated from one sign-in shares it, so reuse or sign-out
        /// revokes them together.
        pub family_id: String,
        /// Whose session it is.
        pub user_id: i64,
        /// When the token was issued.
        pub created_at: DateTimeUtc,
        /// When it stops being accepted.
        pub expires_at: DateTimeUtc,
        /// When it was exchanged for its successor; presented again after that, it is reuse.
        pub used_at: Option<DateTimeUtc>,
        /// When its family was revoked (sign-out or reuse).
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
