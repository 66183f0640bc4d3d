//! The `books` subgraph: owns `Book`, contributes `Author.books`, provides `author { name }`
//! on `featured`, still declares `Book.inStock` (overridden by `shipping`), answers the
//! shareable `ping`, and doubles the shared tally (`Mutation.double`).

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, EmptySubscription, ID, Object, Schema, SimpleObject};

use super::Tally;
use super::data::{self, AuthorRow, BookRow};

/// A book.
#[derive(SimpleObject)]
pub(crate) struct Book {
    /// The book's id.
    id: ID,
    /// The title.
    title: String,
    /// Weight in grams.
    weight: i32,
    /// Who wrote it.
    author: Option<Author>,
    /// Stale availability: `shipping` took this field over.
    in_stock: bool,
}

impl From<BookRow> for Book {
    fn from(row: BookRow) -> Self {
        Book {
            id: ID::from(row.id),
            title: row.title.to_owned(),
            weight: row.weight,
            author: Some(Author::from(row.author)),
            in_stock: true,
        }
    }
}

/// A writer, as far as books knows one.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct Author {
    /// The author's id.
    id: ID,
    /// The name printed on the cover; owned by `authors`, provided here by `featured`.
    #[graphql(external)]
    name: String,
}

impl From<&AuthorRow> for Author {
    fn from(row: &AuthorRow) -> Self {
        Author {
            id: ID::from(row.id),
            name: row.name.to_owned(),
        }
    }
}

#[ComplexObject]
impl Author {
    /// The author's books, in id order.
    async fn books(&self) -> Vec<Book> {
        data::books()
            .into_iter()
            .filter(|b| b.author.id == self.id.as_str())
            .map(Book::from)
            .collect()
    }
}

/// The query root.
pub(crate) struct Query;

#[Object]
impl Query {
    /// Every book, in id order.
    async fn books(&self) -> Vec<Book> {
        data::books().into_iter().map(Book::from).collect()
    }

    /// One book by id.
    async fn book(&self, id: ID) -> Option<Book> {
        data::book(&id).map(Book::from)
    }

    /// Books not yet announced: for signed-in callers.
    #[graphql(directive = subgraph_core::access::authenticated::apply())]
    async fn drafts(&self) -> Option<Vec<Book>> {
        Some(data::books().into_iter().skip(3).map(Book::from).collect())
    }

    /// The first three books, with their authors' names.
    #[graphql(provides = "author { name }")]
    async fn featured(&self) -> Vec<Book> {
        data::books().into_iter().take(3).map(Book::from).collect()
    }

    /// A liveness probe that every subgraph can answer.
    #[graphql(shareable)]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[graphql(entity)]
    async fn find_book(&self, id: ID) -> Option<Book> {
        data::book(&id).map(Book::from)
    }

    #[graphql(entity)]
    async fn find_author(&self, id: ID) -> Option<Author> {
        data::author(&id).map(Author::from)
    }
}

/// The mutation root.
pub(crate) struct Mutation;

#[Object]
impl Mutation {
    /// Doubles the tally; returns the new total.
    async fn double(&self, ctx: &Context<'_>) -> i32 {
        ctx.data_unchecked::<Arc<Tally>>().update(|total| total * 2)
    }
}

/// The executable schema.
pub(crate) fn schema(tally: Arc<Tally>) -> Schema<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .data(tally)
        .finish()
}
