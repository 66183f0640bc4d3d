//! The `search` subgraph: a union and an interface over `Book` and `Author` (owned
//! elsewhere), a label computed from `shipping`'s cost (a chained `@requires`), and the
//! entity interface `Publication` with two implementations.

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, ID, Interface, Object, Schema, SimpleObject,
    Union,
};

/// A book reference.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct Book {
    /// The book's id.
    id: ID,
    /// Postage in cents, computed by `shipping`.
    #[graphql(external)]
    shipping_cost: i32,
}

#[ComplexObject]
impl Book {
    /// The shelf label: id and postage.
    #[graphql(requires = "shippingCost")]
    async fn label(&self) -> String {
        format!(
            "{} ships for {} cents",
            self.id.as_str(),
            self.shipping_cost
        )
    }
}

/// An author reference; search cannot resolve authors itself.
#[derive(SimpleObject)]
#[graphql(unresolvable)]
pub(crate) struct Author {
    /// The author's id.
    id: ID,
}

fn book(id: &str) -> Book {
    Book {
        id: ID::from(id),
        shipping_cost: 0,
    }
}

fn author(id: &str) -> Author {
    Author { id: ID::from(id) }
}

/// A search hit.
#[derive(Union)]
pub(crate) enum Hit {
    /// A book.
    Book(Book),
    /// An author.
    Author(Author),
}

/// Anything with an id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID"))]
pub(crate) enum Item {
    /// A book.
    Book(Book),
    /// An author.
    Author(Author),
}

/// A novel.
#[derive(SimpleObject)]
pub(crate) struct Novel {
    /// The publication's id.
    id: ID,
    /// The title.
    title: String,
    /// Page count.
    pages: i32,
}

/// A comic.
#[derive(SimpleObject)]
pub(crate) struct Comic {
    /// The publication's id.
    id: ID,
    /// The title.
    title: String,
    /// Panel count.
    panels: i32,
}

/// A publication of any kind.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "&ID"), field(name = "title", ty = "&String"))]
pub(crate) enum Publication {
    /// A novel.
    Novel(Novel),
    /// A comic.
    Comic(Comic),
}

fn publication(id: &str) -> Option<Publication> {
    match id {
        "p1" => Some(Publication::Novel(Novel {
            id: ID::from(id),
            title: "Solaris".to_owned(),
            pages: 204,
        })),
        "p2" => Some(Publication::Comic(Comic {
            id: ID::from(id),
            title: "Maus".to_owned(),
            panels: 1468,
        })),
        "p3" => Some(Publication::Novel(Novel {
            id: ID::from(id),
            title: "Kindred".to_owned(),
            pages: 264,
        })),
        _ => None,
    }
}

/// The query root.
pub(crate) struct Query;

#[Object]
impl Query {
    /// Hits of a fixed search, books and authors mixed.
    async fn hits(&self) -> Vec<Hit> {
        vec![
            Hit::Book(book("b2")),
            Hit::Author(author("a3")),
            Hit::Book(book("b9")),
            Hit::Author(author("a1")),
        ]
    }

    /// Recently viewed items, books and authors mixed.
    async fn items(&self) -> Vec<Item> {
        vec![Item::Author(author("a2")), Item::Book(book("b1"))]
    }

    /// Every publication.
    async fn publications(&self) -> Vec<Publication> {
        ["p1", "p2", "p3"]
            .into_iter()
            .filter_map(publication)
            .collect()
    }

    #[graphql(entity)]
    async fn find_book(&self, #[graphql(key)] id: ID, shipping_cost: Option<i32>) -> Book {
        Book {
            id,
            shipping_cost: shipping_cost.unwrap_or_default(),
        }
    }

    #[graphql(entity)]
    async fn find_publication(&self, id: ID) -> Option<Publication> {
        publication(&id)
    }

    #[graphql(entity)]
    async fn find_novel(&self, id: ID) -> Option<Novel> {
        match publication(&id) {
            Some(Publication::Novel(novel)) => Some(novel),
            _ => None,
        }
    }

    #[graphql(entity)]
    async fn find_comic(&self, id: ID) -> Option<Comic> {
        match publication(&id) {
            Some(Publication::Comic(comic)) => Some(comic),
            _ => None,
        }
    }
}

/// The executable schema.
pub(crate) fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
}
