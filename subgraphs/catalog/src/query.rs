//! The catalog schema's read side: `Product`, `Category`, the queries and entity references.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query as Sql};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use subgraph_kit::{Code, ResultExt, error, input};

use crate::entity::{category, product};
use crate::loader::{
    CategoryLoader, CategoryPage, CategoryProductsLoader, ProductCountLoader, ProductLoader,
};

/// The largest page a client may ask for.
const MAX_PAGE: i32 = 100;
/// The longest search text accepted.
const MAX_SEARCH: usize = 100;
/// Where product images are served from; each image is named after its product's SKU.
const IMAGE_BASE: &str = "https://img.tributary.dev/products";

/// A page of products, as the `products` fields return it.
pub(crate) type ProductConnection = Connection<String, Product, EmptyFields, EmptyFields>;

/// Something for sale in the catalog.
pub(crate) struct Product(product::Model);

#[Object(name = "Product", cache_control(max_age = 60))]
impl Product {
    /// The product's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The stock-keeping unit, unique across the catalog.
    async fn sku(&self) -> &str {
        &self.0.sku
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// A sentence or two about the product.
    #[graphql(tag = "web")]
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The unit price in the smallest unit of `currency` (cents).
    async fn price_cents(&self) -> i32 {
        self.0.price_cents
    }

    /// The ISO 4217 code of the price's currency.
    async fn currency(&self) -> &str {
        &self.0.currency
    }

    /// The shipping weight of one unit, in grams.
    async fn weight_grams(&self) -> i32 {
        self.0.weight_grams
    }

    /// An HTTPS URL of the product's picture.
    async fn image_url(&self) -> String {
        format!("{IMAGE_BASE}/{}.jpg", self.0.sku)
    }

    /// The category the product is listed in.
    async fn category(&self, ctx: &Context<'_>) -> async_graphql::Result<Category> {
        let loader = ctx.data::<DataLoader<CategoryLoader>>()?;
        loader
            .load_one(self.0.category_id)
            .await
            .internal("loading a product's category")?
            .map(Category)
            .ok_or_else(|| error(Code::Internal, "a product's category is missing"))
    }
}

/// A shelf of the catalog, such as "Bakery".
pub(crate) struct Category(category::Model);

#[Object(name = "Category", cache_control(max_age = 300))]
impl Category {
    /// The category's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The URL-friendly unique name, used to filter `products`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// How many products the category lists.
    async fn product_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let loader = ctx.data::<DataLoader<ProductCountLoader>>()?;
        Ok(loader
            .load_one(self.0.id)
            .await
            .internal("counting a category's products")?
            .unwrap_or(0))
    }

    /// The category's products in id order, a page at a time.
    #[graphql(tag = "web")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many products to return, 1 to 100.")] first: i32,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        let limit = input::page_size(first, MAX_PAGE)?;
        let offset = input::cursor(after.as_deref())?;
        let loader = ctx.data::<DataLoader<CategoryProductsLoader>>()?;
        let key = CategoryPage {
            category_id: self.0.id,
            offset,
            limit,
        };
        let page = loader
            .load_one(key)
            .await
            .internal("listing a category's products")?
            .unwrap_or_default();
        Ok(connection(offset, page.rows, page.has_next))
    }
}

/// Queries of the catalog subgraph.
pub struct Query;

#[Object]
impl Query {
    /// One product by id, or null when there is none.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        load_product(ctx, &id).await
    }

    /// Products in id order, a page at a time, optionally narrowed to a category or a search.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many products to return, 1 to 100.")] first: i32,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only products of the category with this slug.")] category: Option<String>,
        #[graphql(
            desc = "Only products whose name or description contains this text, ignoring case (at most 100 characters)."
        )]
        search: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        let limit = input::page_size(first, MAX_PAGE)?;
        let offset = input::cursor(after.as_deref())?;
        let mut filter = Condition::all();
        if let Some(slug) = category {
            let category_ids = Sql::select()
                .column(category::Column::Id)
                .from(category::Entity)
                .and_where(category::Column::Slug.eq(slug))
                .to_owned();
            filter = filter.add(product::Column::CategoryId.in_subquery(category_ids));
        }
        if let Some(pattern) = search_pattern(search.as_deref())? {
            let matches = |column: product::Column| {
                Func::lower(Expr::col((product::Entity, column)))
                    .like(LikeExpr::new(pattern.clone()).escape('!'))
            };
            filter = filter.add(
                Condition::any()
                    .add(matches(product::Column::Name))
                    .add(matches(product::Column::Description)),
            );
        }
        let db = ctx.data::<DatabaseConnection>()?;
        let mut rows = product::Entity::find()
            .filter(filter)
            .order_by_asc(product::Column::Id)
            .offset(offset)
            .limit(limit + 1)
            .all(db)
            .await
            .internal("listing products")?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Ok(connection(offset, rows, has_next))
    }

    /// The best-selling products, most popular first.
    async fn top_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 5, desc = "How many products to return, 1 to 100.")] first: i32,
    ) -> async_graphql::Result<Vec<Product>> {
        let limit = input::page_size(first, MAX_PAGE)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let rows = product::Entity::find()
            .order_by_desc(product::Column::Popularity)
            .order_by_asc(product::Column::Id)
            .limit(limit)
            .all(db)
            .await
            .internal("listing top products")?;
        Ok(rows.into_iter().map(Product).collect())
    }

    /// Every category, in id order.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let rows = category::Entity::find()
            .order_by_asc(category::Column::Id)
            .all(db)
            .await
            .internal("listing categories")?;
        Ok(rows.into_iter().map(Category).collect())
    }

    /// One category by slug, or null when there is none.
    async fn category(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Category>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let row = category::Entity::find()
            .filter(category::Column::Slug.eq(slug))
            .one(db)
            .await
            .internal("looking up a category")?;
        Ok(row.map(Category))
    }

    /// Resolves `Product` entity references for the gateway.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Product>> {
        load_product(ctx, &id).await
    }

    /// Resolves `Category` entity references for the gateway.
    #[graphql(entity)]
    async fn find_category_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Category>> {
        let Some(id) = input::lookup_id(&id) else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<CategoryLoader>>()?;
        Ok(loader
            .load_one(id)
            .await
            .internal("loading a category")?
            .map(Category))
    }
}

async fn load_product(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Product>> {
    let Some(id) = input::lookup_id(id) else {
        return Ok(None);
    };
    let loader = ctx.data::<DataLoader<ProductLoader>>()?;
    Ok(loader
        .load_one(id)
        .await
        .internal("loading a product")?
        .map(Product))
}

/// The `LIKE` pattern of a search text (lower-cased, `!` escaping the wildcards), or `None`
/// when the text is blank.
fn search_pattern(search: Option<&str>) -> async_graphql::Result<Option<String>> {
    let Some(text) = search.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_SEARCH {
        return Err(error(
            Code::BadUserInput,
            format!("`search` must be at most {MAX_SEARCH} characters"),
        ));
    }
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Ok(Some(pattern))
}

fn connection(offset: u64, rows: Vec<product::Model>, has_next: bool) -> ProductConnection {
    let mut page = Connection::new(offset > 0, has_next);
    page.edges.extend(
        rows.into_iter()
            .enumerate()
            .map(|(i, row)| Edge::new(input::encode_cursor(offset + i as u64 + 1), Product(row))),
    );
    page
}
