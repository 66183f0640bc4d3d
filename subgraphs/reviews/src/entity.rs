//! The `reviews` table.

// sea-orm's derives generate `pub` items, so the module is private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod review {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reviews")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// A catalog product id; catalog confirmed it existed when the review was written.
        pub product_id: i64,
        /// An accounts user id.
        pub author_id: i64,
        /// The author's handle when the review was written, so reviews can show it unaided.
        pub author_username: String,
        pub rating: i32,
        pub body: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
