//! The `users` table.

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
