//! A product's topic list (spec §8.4): at most 100 per product, names of `[A-Za-z0-9_/]` up to 1024
//! bytes. Created through the HTTP API, or automatically when a device subscribes (§8.1).

use rusqlite::{Transaction, params};

use super::{Db, StoreError, now_millis};
use crate::onenet::topic::check_filter;

/// "每个产品最多100个topic" (§8.1).
pub const MAX_TOPICS_PER_PRODUCT: usize = 100;

/// A device subscribed to `name`: add it to the product's list, as the platform does (§8.1, `qa.md` Q5),
/// when there is room — unless it is a datapoint subscription `/{device_id}/{stream}` naming a device of
/// the product (§10). Those address a device's datastream, not a topic of the product: the platform's
/// topic list is what `POST /mqtt/topic` creates and devices publish to (§8.4), and counting every
/// datapoint subscription against its 100 would make one SUBSCRIBE of many streams fill it.
pub(crate) fn ensure_topic(
    tx: &Transaction<'_>,
    product_id: &str,
    name: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO topics (product_id, name, created_at)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM products WHERE id = ?1)
         AND (SELECT count(*) FROM topics WHERE product_id = ?1) < ?4
         AND NOT EXISTS (SELECT 1 FROM devices WHERE product_id = ?1
             AND length(?2) > length(id) + 2 AND substr(?2, 1, length(id) + 2) = '/' || id || '/')",
    )?
    .execute(params![
        product_id,
        name,
        now_millis(),
        MAX_TOPICS_PER_PRODUCT as i64
    ])?;
    Ok(())
}

impl Db {
    /// Creates a topic; errors name the rule broken (charset, length, limit, duplicate).
    pub fn create_topic(&self, product_id: &str, name: &str) -> Result<(), StoreError> {
        check_filter(name).map_err(|e| StoreError::Invalid(format!("topic '{name}': {e}")))?;
        let conn = self.lock();
        let tx = conn.unchecked_transaction()?;
        let n: i64 = tx.query_row(
            "SELECT count(*) FROM topics WHERE product_id = ?1",
            [product_id],
            |r| r.get(0),
        )?;
        if n as usize >= MAX_TOPICS_PER_PRODUCT {
            return Err(StoreError::Limit(format!(
                "product {product_id} already has {MAX_TOPICS_PER_PRODUCT} topics, the most allowed"
            )));
        }
        let added = tx.execute(
            "INSERT OR IGNORE INTO topics (product_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![product_id, name, now_millis()],
        )?;
        if added == 0 {
            return Err(StoreError::Conflict(format!(
                "topic '{name}' already exists"
            )));
        }
        tx.commit()?;
        Ok(())
    }

    pub fn topics(&self, product_id: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT name FROM topics WHERE product_id = ?1 ORDER BY name")?;
        let v = st
            .query_map([product_id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(v)
    }

    pub fn delete_topic(&self, product_id: &str, name: &str) -> Result<(), StoreError> {
        let n = self.lock().execute(
            "DELETE FROM topics WHERE product_id = ?1 AND name = ?2",
            params![product_id, name],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "no topic '{name}' in product {product_id}"
            )));
        }
        Ok(())
    }

    /// The product whose master API key this is. Every product's key is compared, each in constant time,
    /// so the answer's timing tells a caller nothing about how much of a guessed key was right.
    pub fn product_by_key(
        &self,
        api_key: &str,
    ) -> Result<Option<crate::onenet::registry::Product>, StoreError> {
        let keys: Vec<(String, String)> = {
            let conn = self.lock();
            let mut st = conn.prepare("SELECT id, api_key FROM products ORDER BY id")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut found: Option<String> = None;
        for (id, key) in keys {
            // No early exit: every key is compared whatever matched before.
            if constant_time_eq(key.as_bytes(), api_key.as_bytes()) && found.is_none() {
                found = Some(id);
            }
        }
        match found {
            Some(id) => self.product(&id),
            None => Ok(None),
        }
    }
}

pub use crate::onenet::auth::constant_time_eq;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewProduct;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abc\0", b"abc"));
    }

    #[test]
    fn topic_rules() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        db.add_product(NewProduct {
            id: Some("1".into()),
            api_key: Some("K".into()),
            ..Default::default()
        })
        .unwrap();
        db.create_topic("1", "topic/test/01").unwrap();
        assert!(matches!(
            db.create_topic("1", "topic/test/01"),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            db.create_topic("1", "bad topic"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            db.create_topic("1", "a/+"),
            Err(StoreError::Invalid(_))
        ));
        for i in 1..100 {
            db.create_topic("1", &format!("t{i}")).unwrap();
        }
        assert!(matches!(
            db.create_topic("1", "one_too_many"),
            Err(StoreError::Limit(_))
        ));
        assert_eq!(db.topics("1").unwrap().len(), 100);
        db.delete_topic("1", "t1").unwrap();
        assert!(matches!(
            db.delete_topic("1", "t1"),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(db.product_by_key("K").unwrap().unwrap().id, "1");
        assert!(db.product_by_key("nope").unwrap().is_none());
    }
}
