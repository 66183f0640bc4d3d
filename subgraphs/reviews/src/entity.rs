//! The `reviews` table.

// sea-orm's derives generate `pub` items, so the module is private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod review {
    use sea_orm::entity::prelude::*;

    /// One user's review of one product; a user reviews a product at most once.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reviews")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// A catalog product id; catalog confirmed it existed when the review was written.
        pub product_id: i64,
        /// An accounts user id.
        pub author_id: i64,
        /// The author's handle when the review was written (from the token's `username`
        /// claim), so reviews can show it without asking accounts; not updated afterwards.
        pub author_username: String,
        /// Stars from 1 to 5.
        pub rating: i32,
        /// The review's text, already trimmed and length-checked.
        pub body: String,
        /// When the review was written; "newest first" orders by it.
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
