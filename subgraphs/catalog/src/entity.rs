//! The `categories` and `products` tables.

// sea-orm's derives generate `pub` items, so the modules are private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod category {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "categories")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub slug: String,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
pub(crate) mod product {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub sku: String,
        pub name: String,
        pub description: String,
        /// The unit price in the smallest unit of `currency` (cents).
        pub price_cents: i32,
        /// The ISO 4217 code of the price's currency.
        pub currency: String,
        /// The shipping weight of one unit, in grams.
        pub weight_grams: i32,
        /// The category the product is listed in.
        pub category_id: i64,
        /// A seeded sales rank: the higher, the more often the product is bought.
        pub popularity: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
