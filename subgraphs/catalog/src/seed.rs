//! Deterministic demo data: a small grocery-and-kitchen marketplace of six categories and 36
//! products with ids 1..=36. Other subgraphs' seeds refer to these product ids, so the list only
//! ever grows at the end.

use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait};

use crate::entity::{category, product};

/// `(slug, name)`, ids 1..=6 in this order.
const CATEGORIES: &[(&str, &str)] = &[
    ("produce", "Fresh Produce"),
    ("bakery", "Bakery"),
    ("dairy", "Dairy & Eggs"),
    ("pantry", "Pantry"),
    ("beverages", "Beverages"),
    ("kitchen", "Kitchen"),
];

/// One seeded product; ids follow the order of [`PRODUCTS`], starting at 1.
struct Seed {
    sku: &'static str,
    name: &'static str,
    description: &'static str,
    price_cents: i32,
    weight_grams: i32,
    category_id: i64,
    popularity: i32,
}

const fn p(
    sku: &'static str,
    name: &'static str,
    description: &'static str,
    price_cents: i32,
    weight_grams: i32,
    category_id: i64,
    popularity: i32,
) -> Seed {
    Seed {
        sku,
        name,
        description,
        price_cents,
        weight_grams,
        category_id,
        popularity,
    }
}

#[rustfmt::skip]
const PRODUCTS: &[Seed] = &[
    p("PRD-001", "Honeycrisp Apples", "Crisp, sweet apples from Washington orchards, 1 kg bag.", 499, 1000, 1, 820),
    p("PRD-002", "Hass Avocados", "Four ripe-when-delivered avocados, ready for guacamole.", 599, 800, 1, 940),
    p("PRD-003", "Bananas", "Fair-trade Cavendish bananas, about 1 kg.", 199, 1000, 1, 980),
    p("PRD-004", "Baby Spinach", "Triple-washed tender spinach leaves, 250 g clamshell.", 349, 250, 1, 610),
    p("PRD-005", "Heirloom Tomatoes", "Mixed heirloom tomatoes from local farms, 500 g.", 449, 500, 1, 530),
    p("PRD-006", "Blueberries", "Plump cultivated blueberries, 300 g punnet.", 549, 300, 1, 760),
    p("BAK-007", "Sourdough Loaf", "Naturally leavened country loaf with a crackling crust.", 649, 800, 2, 910),
    p("BAK-008", "Butter Croissants", "Four all-butter croissants, baked this morning.", 799, 280, 2, 850),
    p("BAK-009", "Whole Wheat Bagels", "Six hand-rolled, kettle-boiled whole wheat bagels.", 549, 540, 2, 470),
    p("BAK-010", "Cinnamon Rolls", "Four soft rolls swirled with cinnamon and brown sugar.", 899, 450, 2, 690),
    p("BAK-011", "Rye Bread", "Dense Nordic rye with sunflower seeds, sliced.", 599, 750, 2, 310),
    p("BAK-012", "Chocolate Chip Cookies", "A dozen chewy cookies with dark chocolate chunks.", 499, 360, 2, 720),
    p("DAI-013", "Whole Milk", "Organic grass-fed whole milk, 1 litre.", 299, 1030, 3, 880),
    p("DAI-014", "Greek Yogurt", "Thick strained plain yogurt, 500 g tub.", 449, 500, 3, 640),
    p("DAI-015", "Aged Cheddar", "Sharp cheddar aged for 18 months, 200 g block.", 699, 200, 3, 560),
    p("DAI-016", "Free-Range Eggs", "A dozen large brown eggs from free-range hens.", 549, 720, 3, 870),
    p("DAI-017", "Salted Butter", "Cultured cream butter with sea salt, 250 g.", 399, 250, 3, 590),
    p("DAI-018", "Fresh Mozzarella", "Soft mozzarella ball in whey, 125 g.", 429, 125, 3, 420),
    p("PAN-019", "Extra Virgin Olive Oil", "Cold-pressed Greek olive oil, 500 ml bottle.", 1299, 560, 4, 660),
    p("PAN-020", "Basmati Rice", "Aged long-grain basmati rice, 2 kg bag.", 899, 2000, 4, 580),
    p("PAN-021", "Spaghetti", "Bronze-cut durum wheat spaghetti, 500 g.", 249, 500, 4, 700),
    p("PAN-022", "San Marzano Tomatoes", "Whole peeled plum tomatoes, 400 g can.", 399, 400, 4, 480),
    p("PAN-023", "Wildflower Honey", "Raw, unfiltered wildflower honey, 340 g jar.", 849, 340, 4, 390),
    p("PAN-024", "Rolled Oats", "Whole grain rolled oats for porridge and baking, 1 kg.", 449, 1000, 4, 500),
    p("BEV-025", "Dark Roast Coffee Beans", "Whole bean coffee roasted dark and smooth, 1 kg.", 1899, 1000, 5, 900),
    p("BEV-026", "Green Tea", "Twenty bags of Japanese sencha green tea.", 599, 40, 5, 440),
    p("BEV-027", "Sparkling Water", "Twelve cans of lightly carbonated mineral water.", 699, 4200, 5, 740),
    p("BEV-028", "Cold-Pressed Orange Juice", "Never-from-concentrate orange juice, 1 litre.", 649, 1050, 5, 620),
    p("BEV-029", "Oat Milk", "Barista-style oat drink that foams for lattes, 1 litre.", 429, 1040, 5, 780),
    p("BEV-030", "Kombucha", "Ginger-lemon fermented tea, 473 ml bottle.", 399, 500, 5, 360),
    p("KIT-031", "Chef's Knife", "A 20 cm forged stainless steel chef's knife.", 5999, 220, 6, 450),
    p("KIT-032", "Cast Iron Skillet", "Pre-seasoned 26 cm cast iron skillet.", 3999, 2700, 6, 520),
    p("KIT-033", "Bamboo Cutting Board", "Large end-grain bamboo board with a juice groove.", 2499, 1100, 6, 340),
    p("KIT-034", "French Press", "A 1 litre glass and steel coffee press.", 3499, 900, 6, 410),
    p("KIT-035", "Reusable Produce Bags", "Five washable mesh bags for fruit and vegetables.", 1299, 150, 6, 290),
    p("KIT-036", "Ceramic Mixing Bowls", "A nesting set of three glazed stoneware bowls.", 4499, 2400, 6, 330),
];

/// Inserts the demo categories and products when the catalog is empty.
pub(crate) async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    if category::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let categories = CATEGORIES
        .iter()
        .enumerate()
        .map(|(i, (slug, name))| category::ActiveModel {
            id: Set(i as i64 + 1),
            slug: Set((*slug).to_owned()),
            name: Set((*name).to_owned()),
        });
    category::Entity::insert_many(categories).exec(db).await?;
    let products = PRODUCTS
        .iter()
        .enumerate()
        .map(|(i, seed)| product::ActiveModel {
            id: Set(i as i64 + 1),
            sku: Set(seed.sku.to_owned()),
            name: Set(seed.name.to_owned()),
            description: Set(seed.description.to_owned()),
            price_cents: Set(seed.price_cents),
            currency: Set("USD".to_owned()),
            weight_grams: Set(seed.weight_grams),
            category_id: Set(seed.category_id),
            popularity: Set(seed.popularity),
        });
    product::Entity::insert_many(products).exec(db).await?;
    subgraph_kit::db::sync_sequence(db, "categories").await?;
    subgraph_kit::db::sync_sequence(db, "products").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_unique_and_match_their_category() {
        assert_eq!(PRODUCTS.len(), 36);
        let prefixes = ["PRD", "BAK", "DAI", "PAN", "BEV", "KIT"];
        for (i, seed) in PRODUCTS.iter().enumerate() {
            assert_eq!(
                seed.sku,
                format!("{}-{:03}", prefixes[seed.category_id as usize - 1], i + 1)
            );
        }
    }
}
