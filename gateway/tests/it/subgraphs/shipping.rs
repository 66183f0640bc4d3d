//! The `shipping` subgraph: extends `Book` with fields computed from other subgraphs' data
//! (`@requires` on a plain field, on a field with an argument, and on a nested selection),
//! takes `Book.inStock` over from `books` (`@override`), fails on some books on purpose, and
//! adds `copiesSold` to every `Publication` (`@interfaceObject`).

use async_graphql::{
    Any, ComplexObject, EmptyMutation, EmptySubscription, Error, ID, Object, Schema, SimpleObject,
};

/// A book, as shipping sees one.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct Book {
    /// The book's id.
    id: ID,
    /// Weight in grams, owned by `books`.
    #[graphql(external)]
    weight: i32,
    /// Who wrote it, owned by `books`.
    #[graphql(external)]
    author: Option<Author>,
    /// Whether the warehouse has it.
    #[graphql(override_from = "books")]
    in_stock: bool,
    #[graphql(skip)]
    author_name: Option<String>,
}

/// A writer, as shipping sees one; shipping cannot resolve authors itself.
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub(crate) struct Author {
    /// The author's id.
    id: ID,
    /// The author's name, owned by `authors`.
    #[graphql(external)]
    name: String,
}

#[ComplexObject]
impl Book {
    /// Postage in cents: a tenth of the weight.
    #[graphql(requires = "weight")]
    async fn shipping_cost(&self) -> i32 {
        self.weight / 10
    }

    /// Days until delivery; express delivery refuses books over a kilogram.
    #[graphql(requires = "weight")]
    async fn shipping_estimate(&self, express: bool) -> async_graphql::Result<i32> {
        match (express, self.weight) {
            (true, w) if w > 1000 => Err(Error::new(format!(
                "{} is too heavy for express delivery",
                self.id.as_str()
            ))),
            (true, _) => Ok(1),
            (false, w) => Ok(2 + w / 400),
        }
    }

    /// The dedication on the parcel, signed with the author's name.
    #[graphql(requires = "author { name }")]
    async fn signature(&self) -> String {
        format!(
            "signed by {}",
            self.author_name.as_deref().unwrap_or("nobody")
        )
    }

    /// The customs tariff code; unknown for two books, which fail.
    async fn customs_code(&self) -> async_graphql::Result<Option<String>> {
        match self.id.as_str() {
            "b3" | "b7" => Err(Error::new(format!(
                "no customs code for {}",
                self.id.as_str()
            ))),
            id => Ok(Some(format!("HS-{id}"))),
        }
    }
}

/// Any publication, whichever its kind: shipping adds sales figures.
#[derive(SimpleObject)]
#[graphql(interface_object)]
pub(crate) struct Publication {
    /// The publication's id.
    id: ID,
    /// Copies sold so far.
    copies_sold: i32,
}

impl Publication {
    fn new(id: ID) -> Option<Publication> {
        let n: i32 = id.strip_prefix('p')?.parse().ok()?;
        Some(Publication {
            id,
            copies_sold: n * 1000,
        })
    }
}

/// The query root.
pub(crate) struct Query;

#[Object]
impl Query {
    /// The best-selling publications.
    async fn bestsellers(&self) -> Vec<Publication> {
        ["p2", "p3"]
            .into_iter()
            .filter_map(|id| Publication::new(ID::from(id)))
            .collect()
    }

    #[graphql(entity)]
    async fn find_book(
        &self,
        #[graphql(key)] id: ID,
        weight: Option<i32>,
        author: Option<Any>,
    ) -> Book {
        let author_name = author.and_then(|Any(value)| match value {
            async_graphql::Value::Object(fields) => match fields.get("name") {
                Some(async_graphql::Value::String(name)) => Some(name.clone()),
                _ => None,
            },
            _ => None,
        });
        Book {
            in_stock: id.as_str() != "b5",
            id,
            weight: weight.unwrap_or_default(),
            author: None,
            author_name,
        }
    }

    #[graphql(entity)]
    async fn find_publication(&self, id: ID) -> Option<Publication> {
        Publication::new(id)
    }
}

/// The executable schema.
pub(crate) fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
}
