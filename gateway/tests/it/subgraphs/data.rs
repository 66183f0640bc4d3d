//! The fixed data every test subgraph serves: four authors and twelve books, each book's
//! author chosen round-robin so every author appears three times in the book list.

/// An author: the `authors` subgraph owns these rows; `books` keeps a copy of the names.
pub(crate) struct AuthorRow {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) born: i32,
}

pub(crate) const AUTHORS: [AuthorRow; 4] = [
    AuthorRow {
        id: "a1",
        name: "Ursula K. Le Guin",
        born: 1929,
    },
    AuthorRow {
        id: "a2",
        name: "Octavia E. Butler",
        born: 1947,
    },
    AuthorRow {
        id: "a3",
        name: "Stanisław Lem",
        born: 1921,
    },
    AuthorRow {
        id: "a4",
        name: "Italo Calvino",
        born: 1923,
    },
];

const TITLES: [&str; 12] = [
    "The Dispossessed",
    "Kindred",
    "Solaris",
    "Invisible Cities",
    "The Left Hand of Darkness",
    "Parable of the Sower",
    "The Cyberiad",
    "If on a winter's night a traveler",
    "A Wizard of Earthsea",
    "Dawn",
    "His Master's Voice",
    "The Baron in the Trees",
];

/// A book: `b<n>` weighs `n * 100` grams and is written by author `(n - 1) % 4`.
pub(crate) struct BookRow {
    pub(crate) id: String,
    pub(crate) title: &'static str,
    pub(crate) weight: i32,
    pub(crate) author: &'static AuthorRow,
}

/// Every book, in id order `b1`..`b12`.
pub(crate) fn books() -> Vec<BookRow> {
    (1..=TITLES.len()).filter_map(book_at).collect()
}

/// The book with this id.
pub(crate) fn book(id: &str) -> Option<BookRow> {
    let n: usize = id.strip_prefix('b')?.parse().ok()?;
    book_at(n)
}

fn book_at(n: usize) -> Option<BookRow> {
    let title = *TITLES.get(n.checked_sub(1)?)?;
    Some(BookRow {
        id: format!("b{n}"),
        title,
        weight: i32::try_from(n).ok()? * 100,
        author: &AUTHORS[(n - 1) % AUTHORS.len()],
    })
}

/// The author with this id.
pub(crate) fn author(id: &str) -> Option<&'static AuthorRow> {
    AUTHORS.iter().find(|a| a.id == id)
}
