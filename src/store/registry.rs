//! Registry queries: products and devices. Synchronous, on the [`Db`] connection; used by CONNECT auth,
//! the CLI and the console. Validation happens here, once, so every caller gets the same errors.

use rusqlite::{OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{Db, StoreError, now_millis};
use crate::onenet::registry::{
    Device, Product, generate_id, generate_secret, validate_id, validate_name, validate_secret,
};

/// What a new product needs; absent fields are generated.
#[derive(Debug, Clone, Default)]
pub struct NewProduct {
    pub id: Option<String>,
    pub name: Option<String>,
    pub api_key: Option<String>,
}

/// What a new device needs; absent fields are generated.
#[derive(Debug, Clone, Default)]
pub struct NewDevice {
    pub product_id: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub auth_info: Option<String>,
    pub auto_registered: bool,
}

fn invalid(e: crate::onenet::registry::InvalidField) -> StoreError {
    StoreError::Invalid(e.0)
}

fn product_row(r: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: r.get(0)?,
        name: r.get(1)?,
        api_key: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn device_row(r: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: r.get(0)?,
        product_id: r.get(1)?,
        name: r.get(2)?,
        auth_info: r.get(3)?,
        created_at: r.get(4)?,
        auto_registered: r.get(5)?,
    })
}

const DEVICE_COLS: &str = "id, product_id, name, auth_info, created_at, auto_registered";

impl Db {
    pub fn add_product(&self, new: NewProduct) -> Result<Product, StoreError> {
        let id = new.id.unwrap_or_else(|| generate_id(6));
        validate_id("product", &id).map_err(invalid)?;
        let name = new.name.unwrap_or_else(|| format!("product {id}"));
        validate_name("product", &name).map_err(invalid)?;
        let api_key = new.api_key.unwrap_or_else(|| generate_secret(28));
        validate_secret("API key", &api_key).map_err(invalid)?;
        let p = Product {
            id,
            name,
            api_key,
            created_at: now_millis(),
        };
        let conn = self.lock();
        let n = conn.execute(
            "INSERT OR IGNORE INTO products (id, name, api_key, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![p.id, p.name, p.api_key, p.created_at],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "product {} already exists",
                p.id
            )));
        }
        Ok(p)
    }

    pub fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, name, api_key, created_at FROM products WHERE id = ?1",
                [id],
                product_row,
            )
            .optional()?)
    }

    /// Every product. A list read (console, API, CLI), on the read pool: it never holds the registry
    /// connection that CONNECT admission needs.
    pub fn products(&self) -> Result<Vec<Product>, StoreError> {
        let conn = self.reader()?;
        let mut st =
            conn.prepare("SELECT id, name, api_key, created_at FROM products ORDER BY id")?;
        let rows = st
            .query_map([], product_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Deletes a product and (by cascade) its devices.
    pub fn delete_product(&self, id: &str) -> Result<(), StoreError> {
        let n = self
            .lock()
            .execute("DELETE FROM products WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no product {id}")));
        }
        Ok(())
    }

    pub fn add_device(&self, new: NewDevice) -> Result<Device, StoreError> {
        let id = new.id.unwrap_or_else(|| generate_id(8));
        validate_id("device", &id).map_err(invalid)?;
        let name = new.name.unwrap_or_else(|| format!("device {id}"));
        validate_name("device", &name).map_err(invalid)?;
        let auth_info = new.auth_info.unwrap_or_else(|| generate_secret(16));
        validate_secret("auth_info", &auth_info).map_err(invalid)?;
        let d = Device {
            id,
            product_id: new.product_id,
            name,
            auth_info,
            created_at: now_millis(),
            auto_registered: new.auto_registered,
        };
        let conn = self.lock();
        // IMMEDIATE: take the write lock up front, so a busy database is waited for (busy timeout)
        // instead of failing at once when this read transaction tries to become a write one while the
        // writer thread commits (SQLITE_BUSY_SNAPSHOT cannot be retried inside a transaction).
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let product_exists: bool = tx
            .query_row(
                "SELECT 1 FROM products WHERE id = ?1",
                [&d.product_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !product_exists {
            return Err(StoreError::NotFound(format!("no product {}", d.product_id)));
        }
        let existing: Option<Device> = tx
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
                [&d.id],
                device_row,
            )
            .optional()?;
        if let Some(e) = existing {
            // Auto-registration is idempotent: the same device connecting twice at once registers once.
            if new.auto_registered
                && e.product_id == d.product_id
                && crate::onenet::auth::constant_time_eq(
                    e.auth_info.as_bytes(),
                    d.auth_info.as_bytes(),
                )
            {
                return Ok(e);
            }
            let p = e.product_id;
            return Err(StoreError::Conflict(format!(
                "device {} already exists (in product {p})",
                d.id
            )));
        }
        let clash: Option<String> = tx
            .query_row(
                "SELECT id FROM devices WHERE product_id = ?1 AND auth_info = ?2",
                params![d.product_id, d.auth_info],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = clash {
            return Err(StoreError::Conflict(format!(
                "auth_info is already used by device {other} of product {}: it must be unique within the product",
                d.product_id
            )));
        }
        tx.execute(
            &format!("INSERT INTO devices ({DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                d.id,
                d.product_id,
                d.name,
                d.auth_info,
                d.created_at,
                d.auto_registered
            ],
        )?;
        tx.commit()?;
        Ok(d)
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
                [id],
                device_row,
            )
            .optional()?)
    }

    /// The devices of `product`, or all (10k rows for a big registry): on the read pool, like
    /// [`Db::products`].
    pub fn devices(&self, product: Option<&str>) -> Result<Vec<Device>, StoreError> {
        let conn = self.reader()?;
        let mut st = conn.prepare(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE ?1 IS NULL OR product_id = ?1 ORDER BY product_id, id"
        ))?;
        let rows = st
            .query_map([product], device_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Changes a product's name and/or API key.
    pub fn update_product(
        &self,
        id: &str,
        name: Option<String>,
        api_key: Option<String>,
    ) -> Result<Product, StoreError> {
        if let Some(n) = &name {
            validate_name("product", n).map_err(invalid)?;
        }
        if let Some(k) = &api_key {
            validate_secret("API key", k).map_err(invalid)?;
        }
        let n = self.lock().execute(
            "UPDATE products SET name = coalesce(?2, name), api_key = coalesce(?3, api_key) WHERE id = ?1",
            params![id, name, api_key],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no product {id}")));
        }
        self.product(id)?
            .ok_or_else(|| StoreError::NotFound(format!("no product {id}")))
    }

    /// Changes a device's name and/or auth_info (still unique within its product).
    pub fn update_device(
        &self,
        id: &str,
        name: Option<String>,
        auth_info: Option<String>,
    ) -> Result<Device, StoreError> {
        if let Some(n) = &name {
            validate_name("device", n).map_err(invalid)?;
        }
        if let Some(a) = &auth_info {
            validate_secret("auth_info", a).map_err(invalid)?;
        }
        let current = self
            .device(id)?
            .ok_or_else(|| StoreError::NotFound(format!("no device {id}")))?;
        if let Some(a) = &auth_info {
            let clash: Option<String> = self
                .lock()
                .query_row(
                    "SELECT id FROM devices WHERE product_id = ?1 AND auth_info = ?2 AND id <> ?3",
                    params![current.product_id, a, id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = clash {
                return Err(StoreError::Conflict(format!(
                    "auth_info is already used by device {other} of product {}: it must be unique within the product",
                    current.product_id
                )));
            }
        }
        self.lock().execute(
            "UPDATE devices SET name = coalesce(?2, name), auth_info = coalesce(?3, auth_info), auto_registered = 0
             WHERE id = ?1",
            params![id, name, auth_info],
        )?;
        self.device(id)?
            .ok_or_else(|| StoreError::NotFound(format!("no device {id}")))
    }

    pub fn delete_device(&self, id: &str) -> Result<(), StoreError> {
        let n = self
            .lock()
            .execute("DELETE FROM devices WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no device {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        (dir, db)
    }

    #[test]
    fn products_and_devices_round_trip() {
        let (_d, db) = db();
        let p = db
            .add_product(NewProduct {
                id: Some("339".into()),
                name: None,
                api_key: Some("key339".into()),
            })
            .unwrap();
        assert_eq!(p.api_key, "key339");
        let d = db
            .add_device(NewDevice {
                product_id: "339".into(),
                id: Some("9277".into()),
                auth_info: Some("abc123".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(db.device("9277").unwrap(), Some(d.clone()));
        assert_eq!(db.devices(Some("339")).unwrap(), vec![d.clone()]);
        assert_eq!(db.devices(None).unwrap(), vec![d]);
        assert!(db.devices(Some("1")).unwrap().is_empty());
        assert_eq!(db.products().unwrap(), vec![p]);
    }

    #[test]
    fn conflicts_and_missing_product_are_named() {
        let (_d, db) = db();
        db.add_product(NewProduct {
            id: Some("1".into()),
            ..Default::default()
        })
        .unwrap();
        let dup = db
            .add_product(NewProduct {
                id: Some("1".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(dup.to_string().contains("already exists"), "{dup}");
        let nd = |id: &str, auth: &str, product: &str| NewDevice {
            product_id: product.into(),
            id: Some(id.into()),
            auth_info: Some(auth.into()),
            ..Default::default()
        };
        db.add_device(nd("10", "same", "1")).unwrap();
        let e = db.add_device(nd("11", "same", "1")).unwrap_err();
        assert!(e.to_string().contains("unique within the product"), "{e}");
        let e = db.add_device(nd("10", "other", "1")).unwrap_err();
        assert!(e.to_string().contains("device 10 already exists"), "{e}");
        let e = db.add_device(nd("12", "x", "2")).unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        let e = db.add_device(nd("1x", "x", "1")).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
    }

    #[test]
    fn updates_keep_auth_info_unique() {
        let (_d, db) = db();
        db.add_product(NewProduct {
            id: Some("1".into()),
            ..Default::default()
        })
        .unwrap();
        for (id, a) in [("10", "a"), ("11", "b")] {
            db.add_device(NewDevice {
                product_id: "1".into(),
                id: Some(id.into()),
                auth_info: Some(a.into()),
                ..Default::default()
            })
            .unwrap();
        }
        let e = db.update_device("11", None, Some("a".into())).unwrap_err();
        assert!(e.to_string().contains("unique"), "{e}");
        let d = db
            .update_device("11", Some("new name".into()), Some("c".into()))
            .unwrap();
        assert_eq!((d.name.as_str(), d.auth_info.as_str()), ("new name", "c"));
        let p = db.update_product("1", None, Some("K2".into())).unwrap();
        assert_eq!(p.api_key, "K2");
        assert!(matches!(
            db.update_device("99", None, None),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn deleting_a_product_removes_its_devices() {
        let (_d, db) = db();
        db.add_product(NewProduct {
            id: Some("1".into()),
            ..Default::default()
        })
        .unwrap();
        db.add_device(NewDevice {
            product_id: "1".into(),
            ..Default::default()
        })
        .unwrap();
        db.delete_product("1").unwrap();
        assert!(db.devices(None).unwrap().is_empty());
        assert!(matches!(
            db.delete_product("1"),
            Err(StoreError::NotFound(_))
        ));
    }
}
