//! The `stock` and `reservations` tables.

// sea-orm's derives generate `pub` items, so the modules are private and the lint is quiet here.
#[allow(unreachable_pub)]
pub(crate) mod stock {
    use sea_orm::entity::prelude::*;

    /// The units of one product on hand, after every open reservation was taken out.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock")]
    pub struct Model {
        /// A catalog product id; a product without a row has no stock kept.
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: i64,
        /// Units free to reserve. Never negative: a check constraint backs the conditional decrement.
        pub quantity: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
pub(crate) mod reservation {
    use sea_orm::entity::prelude::*;

    /// One product line of a reservation; a reservation is all the rows sharing its id.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reservations")]
    pub struct Model {
        /// The caller's id for the reservation (orders derives it from the order).
        #[sea_orm(primary_key, auto_increment = false)]
        pub reservation_id: String,
        /// A catalog product id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: i64,
        /// Units taken out of stock for this product, the request's lines merged.
        pub quantity: i32,
        /// The reservation's status: false while the units are held; set once the units went back to stock; the row stays so the id is never reused.
        pub released: bool,
        /// When the reservation was made.
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
