//! The web's own fields, an in-process subgraph named `web`: the storefront aggregate, the
//! product page, and the breadcrumbs a page header shows. Every resolver returns entity
//! references (ids) or formats fields the planner fetched for it through `@requires`; product,
//! category, review, stock and shipping data stay with the domain subgraphs.

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, ID, Json, Object, Schema, SimpleObject,
};
use serde::Deserialize;
use subgraph_core::input;
use subgraph_core::reference::not_provided;

use crate::profile::Merchandising;

/// The schema type of the web subgraph.
pub type WebSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The most featured products one request may ask for.
const MAX_FEATURED: i32 = 24;

/// Builds the web subgraph's executor with the given merchandising.
pub(crate) fn schema_with(merchandising: Merchandising) -> WebSchema {
    subgraph_core::harden(Schema::build(Query, EmptyMutation, EmptySubscription))
        .data(merchandising)
        .finish()
}

/// Query root of the web subgraph.
pub struct Query;

#[Object]
impl Query {
    /// The shop's front page: featured products and the categories to browse.
    async fn storefront(&self) -> Storefront {
        Storefront
    }

    /// Everything a product page shows, in one request: the product (with its reviews, stock
    /// and shipping estimate from their subgraphs) and what to recommend next to it. Null when
    /// there is no product with this id.
    async fn product_page(&self, id: ID) -> Option<ProductPage> {
        input::lookup_id(&id).map(|id| ProductPage { id })
    }

    /// Resolves `Product` references, with the catalog fields the breadcrumbs `@requires`.
    #[graphql(entity)]
    async fn find_product_by_id(
        &self,
        #[graphql(key)] id: ID,
        name: Option<String>,
        category: Option<Json<CategoryNames>>,
    ) -> Product {
        Product {
            id,
            name,
            category: category.map(|c| c.0),
        }
    }
}

/// The shop's front page.
pub(crate) struct Storefront;

#[Object]
impl Storefront {
    /// The products the shop features, in merchandising order.
    async fn featured(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 8, desc = "How many featured products to return, 1 to 24.")] first: i32,
    ) -> async_graphql::Result<Vec<Product>> {
        let first = input::page_size(first, MAX_FEATURED)? as usize;
        let merchandising = ctx.data::<Merchandising>()?;
        Ok(merchandising
            .featured
            .iter()
            .take(first)
            .map(|&id| Product::reference(id))
            .collect())
    }

    /// The categories to browse, in shelf order; ask each for its `productCount`.
    async fn categories(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let merchandising = ctx.data::<Merchandising>()?;
        Ok(merchandising
            .categories
            .iter()
            .map(|&id| Category {
                id: ID(id.to_string()),
            })
            .collect())
    }
}

/// A product page.
pub(crate) struct ProductPage {
    id: i64,
}

#[Object]
impl ProductPage {
    /// The product shown.
    async fn product(&self) -> Product {
        Product::reference(self.id)
    }

    /// Featured products other than this one, for the page's "you may also like" rail.
    async fn recommended(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 4, desc = "How many products to return, 1 to 24.")] first: i32,
    ) -> async_graphql::Result<Vec<Product>> {
        let first = input::page_size(first, MAX_FEATURED)? as usize;
        let merchandising = ctx.data::<Merchandising>()?;
        Ok(merchandising
            .featured
            .iter()
            .filter(|&&id| id != self.id)
            .take(first)
            .map(|&id| Product::reference(id))
            .collect())
    }
}

/// A catalog product, seen from the web subgraph: its key and what `@requires` passed along.
pub(crate) struct Product {
    id: ID,
    name: Option<String>,
    category: Option<CategoryNames>,
}

impl Product {
    fn reference(id: i64) -> Product {
        Product {
            id: ID(id.to_string()),
            name: None,
            category: None,
        }
    }
}

/// The category fields the breadcrumbs need, as the planner passes them in a representation.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub(crate) struct CategoryNames {
    name: String,
    slug: String,
}

#[Object(name = "Product")]
impl Product {
    /// The product's id.
    async fn id(&self) -> &ID {
        &self.id
    }

    /// The display name.
    #[graphql(external)]
    async fn name(&self) -> async_graphql::Result<&str> {
        self.name
            .as_deref()
            .ok_or_else(|| not_provided("name", "catalog"))
    }

    /// The category the product is listed in.
    #[graphql(external)]
    async fn category(&self) -> async_graphql::Result<Category> {
        Err(not_provided("category", "catalog"))
    }

    /// Where the product sits in the shop, from the home page down: Home, its category, the
    /// product itself.
    #[graphql(requires = "name category { name slug }")]
    async fn breadcrumbs(&self) -> async_graphql::Result<Vec<Breadcrumb>> {
        let name = self
            .name
            .as_deref()
            .ok_or_else(|| not_provided("name", "catalog"))?;
        let category = self
            .category
            .as_ref()
            .ok_or_else(|| not_provided("category", "catalog"))?;
        Ok(vec![
            Breadcrumb {
                label: "Home".to_owned(),
                path: "/".to_owned(),
            },
            Breadcrumb {
                label: category.name.clone(),
                path: format!("/c/{}", category.slug),
            },
            Breadcrumb {
                label: name.to_owned(),
                path: format!("/p/{}", self.id.as_str()),
            },
        ])
    }
}

/// A catalog category, seen from the web subgraph: a reference the catalog resolves.
pub(crate) struct Category {
    id: ID,
}

#[Object(name = "Category", unresolvable = "id")]
impl Category {
    /// The category's id.
    async fn id(&self) -> &ID {
        &self.id
    }

    /// The display name.
    #[graphql(external)]
    async fn name(&self) -> async_graphql::Result<&str> {
        Err(not_provided("name", "catalog"))
    }

    /// The URL-friendly unique name, used to filter `products`.
    #[graphql(external)]
    async fn slug(&self) -> async_graphql::Result<&str> {
        Err(not_provided("slug", "catalog"))
    }
}

/// One step of a breadcrumb trail.
#[derive(SimpleObject)]
pub(crate) struct Breadcrumb {
    /// What the link says.
    label: String,
    /// The web app's path it leads to.
    path: String,
}
