//! Deterministic demo reviews of catalog products 1..=36 by accounts users 1..=6.
//!
//! Reviews are written a day apart in list order, so "newest first" is the reverse of this
//! list. Products 11, 23, 30, 33 and 35 have no reviews.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait};

use crate::entity::review;

/// The seeded users' handles, by user id 1..=6, as accounts seeds them.
const USERNAMES: [&str; 6] = ["ada", "grace", "alan", "edsger", "barbara", "ken"];

/// `(product id, author id, rating, body)`; review ids follow this order, starting at 1.
#[rustfmt::skip]
const REVIEWS: &[(i64, i64, i32, &str)] = &[
    (1, 1, 5, "Crisp and sweet, every apple in the bag was perfect."),
    (1, 4, 4, "Great flavour, a couple were slightly bruised."),
    (2, 2, 5, "Ripe exactly on the day they arrived. Guacamole night saved."),
    (2, 3, 4, "Good size, one was a little stringy."),
    (2, 5, 3, "Two of the four were still hard after three days."),
    (3, 1, 5, "Yellow with just a hint of green, as they should be."),
    (3, 2, 4, "Solid bananas at a fair price."),
    (3, 6, 5, "My kids go through a bag in two days. Always fresh."),
    (4, 4, 4, "Tender leaves, no sad wilted bits."),
    (5, 3, 5, "Tastes like summer. Worth every cent."),
    (5, 5, 4, "Beautiful colours, a bit soft on arrival."),
    (6, 2, 5, "Sweet and plump, none went mouldy."),
    (6, 6, 3, "Good berries but the punnet was only three-quarters full."),
    (7, 1, 5, "Proper crust, open crumb, keeps for days."),
    (7, 3, 5, "The best bread I have had delivered."),
    (7, 5, 4, "Lovely tang; I wish it came sliced."),
    (8, 2, 5, "Flaky, buttery and still warm on arrival."),
    (8, 4, 4, "Very good, slightly squashed in the bag."),
    (8, 6, 2, "Dry by the afternoon, not worth the price."),
    (9, 5, 4, "Chewy and dense, the way a bagel should be."),
    (10, 1, 4, "Sticky, sweet and soft. A weekend treat."),
    (10, 3, 5, "Ten seconds in the microwave and they are perfect."),
    (12, 6, 5, "Dangerously good. The dozen did not last the evening."),
    (12, 4, 3, "Tasty, but more sugar than chocolate."),
    (13, 1, 5, "Creamy and fresh with a long use-by date."),
    (13, 2, 4, "Good milk; a glass bottle would be nicer."),
    (13, 5, 5, "Tastes like milk used to."),
    (14, 3, 5, "Thick enough to stand a spoon in."),
    (14, 6, 4, "Great with honey, a little sour on its own."),
    (15, 4, 5, "Sharp, crumbly and full of crystals. Superb."),
    (15, 2, 4, "A good sharp cheddar for the price."),
    (16, 1, 4, "Deep orange yolks. One cracked in transit."),
    (16, 3, 5, "Fresh eggs, well packed."),
    (16, 5, 5, "The only eggs we buy now."),
    (17, 6, 4, "Salty in the best way."),
    (18, 2, 3, "Fine on pizza, bland in a salad."),
    (19, 4, 5, "Peppery finish, great for dressings."),
    (19, 1, 4, "Good oil, but the bottle drips."),
    (20, 3, 5, "Long fluffy grains, cooks perfectly every time."),
    (21, 5, 4, "Holds sauce well thanks to the rough surface."),
    (21, 6, 5, "Better than the supermarket brand by a mile."),
    (22, 2, 4, "Sweet tomatoes that make a fast sauce."),
    (24, 4, 4, "Good oats for porridge, not too fine."),
    (25, 1, 5, "Rich and chocolatey with no bitterness."),
    (25, 3, 4, "Strong roast; a little oily for my grinder."),
    (25, 6, 5, "Morning ritual upgraded."),
    (26, 5, 3, "Pleasant, but it fades after one steep."),
    (27, 2, 4, "Nice light fizz; heavy to carry, so glad it is delivered."),
    (27, 4, 2, "Two cans arrived dented and flat."),
    (28, 1, 5, "Tastes freshly squeezed."),
    (29, 3, 5, "Foams beautifully for flat whites."),
    (29, 5, 4, "Creamy and slightly sweet."),
    (31, 6, 5, "Razor sharp out of the box and well balanced."),
    (32, 2, 5, "Heavy, holds heat, sears like a restaurant pan."),
    (32, 4, 4, "Great pan; the seasoning needed a few rounds in the oven."),
    (34, 1, 4, "Makes a clean cup, and the filter is easy to rinse."),
    (36, 3, 1, "One bowl arrived chipped and the set is smaller than pictured."),
    (4, 1, 5, "Our go-to salad base; it stays fresh all week."),
    (20, 6, 4, "Fragrant rice, though the bag is hard to reseal."),
    (13, 3, 4, "Good everyday milk."),
];

/// When seeded review number `index` (0-based) was written.
fn written_at(index: usize) -> Result<DateTime<Utc>, DbErr> {
    let first = Utc
        .with_ymd_and_hms(2026, 2, 1, 9, 30, 0)
        .single()
        .ok_or_else(|| DbErr::Custom("invalid first seed review date".to_owned()))?;
    Ok(first + Duration::hours(24 * index as i64 + (index % 7) as i64))
}

/// Inserts the demo reviews when the table is empty.
pub(crate) async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    if review::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let mut models = Vec::with_capacity(REVIEWS.len());
    for (i, (product_id, author_id, rating, body)) in REVIEWS.iter().enumerate() {
        let username = usize::try_from(*author_id - 1)
            .ok()
            .and_then(|index| USERNAMES.get(index))
            .ok_or_else(|| DbErr::Custom(format!("seed review {i} has an unknown author")))?;
        models.push(review::ActiveModel {
            id: Set(i as i64 + 1),
            product_id: Set(*product_id),
            author_id: Set(*author_id),
            author_username: Set((*username).to_owned()),
            rating: Set(*rating),
            body: Set((*body).to_owned()),
            created_at: Set(written_at(i)?),
        });
    }
    review::Entity::insert_many(models).exec(db).await?;
    subgraph_kit::db::sync_sequence(db, "reviews").await
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn each_user_reviews_a_product_at_most_once() {
        let pairs: HashSet<(i64, i64)> = REVIEWS.iter().map(|(p, a, _, _)| (*p, *a)).collect();
        assert_eq!(pairs.len(), REVIEWS.len());
        assert!(REVIEWS.iter().all(|(p, a, r, b)| {
            (1..=36).contains(p) && (1..=6).contains(a) && (1..=5).contains(r) && b.len() <= 2000
        }));
    }
}
