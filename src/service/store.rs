//! The data dir's database behind typed calls: the registry, topic lists, datapoints, command history,
//! device statistics and export. Nothing outside the service names `store::Db`.
//!
//! A running service keeps one [`DataStore`] and its [`ServiceHandle`](super::ServiceHandle) methods run
//! these calls on the blocking pool. CLI subcommands that work without a broker (`product add`,
//! `export` …) open one on a data dir while `serve` may be running in another process: WAL lets both
//! see each other's commits. Long reads (history, stream summaries, command history, export) take a
//! connection from the store's small read-only pool, never the registry's connection that CONNECT needs.

use std::path::Path;

use crate::export::{ExportError, ExportRequest};
use crate::onenet::commands::Command;
use crate::onenet::registry::{Device, Product};
use crate::store::{
    Db, DeviceStats, DpFilter, NewDevice, NewProduct, StoreError, StoredDatapoint, StreamSummary,
};

/// Typed access to one data dir's database. Cheap to clone.
#[derive(Clone)]
pub struct DataStore {
    db: Db,
}

/// Rows per query while paging through a long history.
pub const HISTORY_PAGE: usize = 100_000;

impl DataStore {
    /// Opens (creating if needed) the database of `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<DataStore, StoreError> {
        Db::open(&data_dir.join(crate::config::DB_FILE)).map(DataStore::from_db)
    }

    pub(crate) fn from_db(db: Db) -> DataStore {
        DataStore { db }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Size of the database and its WAL on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk()
    }

    // ---- registry ----

    pub fn products(&self) -> Result<Vec<Product>, StoreError> {
        self.db.products()
    }

    pub fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.db.product(id)
    }

    /// The product whose master key (the HTTP API's `api-key`) is `key`.
    pub fn product_by_key(&self, key: &str) -> Result<Option<Product>, StoreError> {
        self.db.product_by_key(key)
    }

    pub fn add_product(&self, new: NewProduct) -> Result<Product, StoreError> {
        self.db.add_product(new)
    }

    pub fn update_product(
        &self,
        id: &str,
        name: Option<String>,
        api_key: Option<String>,
    ) -> Result<Product, StoreError> {
        self.db.update_product(id, name, api_key)
    }

    /// Deletes the product and its devices.
    pub fn delete_product(&self, id: &str) -> Result<(), StoreError> {
        self.db.delete_product(id)
    }

    /// The devices of `product`, or every device.
    pub fn devices(&self, product: Option<&str>) -> Result<Vec<Device>, StoreError> {
        self.db.devices(product)
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.db.device(id)
    }

    pub fn add_device(&self, new: NewDevice) -> Result<Device, StoreError> {
        self.db.add_device(new)
    }

    pub fn update_device(
        &self,
        id: &str,
        name: Option<String>,
        auth_info: Option<String>,
    ) -> Result<Device, StoreError> {
        self.db.update_device(id, name, auth_info)
    }

    pub fn delete_device(&self, id: &str) -> Result<(), StoreError> {
        self.db.delete_device(id)
    }

    /// Registers `n` devices of `product` with consecutive numeric ids from `first` (default: one past
    /// the largest numeric device id in the registry, at least 10000000), named "virtual {id}" so they
    /// are told apart from real devices wherever devices are listed.
    pub fn register_virtual_devices(
        &self,
        product: &str,
        n: usize,
        first: Option<u64>,
    ) -> Result<Vec<Device>, StoreError> {
        let first = match first {
            Some(f) => f,
            None => self
                .db
                .devices(None)?
                .iter()
                .filter_map(|d| d.id.parse::<u64>().ok())
                .max()
                .map_or(10_000_000, |m| (m + 1).max(10_000_000)),
        };
        (0..n as u64)
            .map(|k| {
                let id = (first + k).to_string();
                self.db.add_device(NewDevice {
                    product_id: product.to_string(),
                    id: Some(id.clone()),
                    name: Some(format!("virtual {id}")),
                    auth_info: None,
                    auto_registered: false,
                })
            })
            .collect()
    }

    // ---- topic lists (§8.1) ----

    pub fn topics(&self, product_id: &str) -> Result<Vec<String>, StoreError> {
        self.db.topics(product_id)
    }

    pub fn create_topic(&self, product_id: &str, name: &str) -> Result<(), StoreError> {
        self.db.create_topic(product_id, name)
    }

    pub fn delete_topic(&self, product_id: &str, name: &str) -> Result<(), StoreError> {
        self.db.delete_topic(product_id, name)
    }

    // ---- datapoints, statistics, commands ----

    /// Up to `limit` datapoints `filter` selects, oldest first; the newest `limit` when `newest`.
    pub fn datapoints(
        &self,
        filter: &DpFilter,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<StoredDatapoint>, StoreError> {
        self.db.datapoints(filter, limit, newest)
    }

    /// The newest `max` points of one stream, oldest first, read in pages of [`HISTORY_PAGE`] (newest
    /// page first) so no single query holds a reader for the whole history.
    pub fn stream_history(
        &self,
        device: &str,
        stream: &str,
        max: usize,
    ) -> Result<Vec<StoredDatapoint>, StoreError> {
        let mut pages = Vec::new();
        let mut loaded = 0;
        let mut until: Option<i64> = None;
        while loaded < max {
            let f = DpFilter {
                device_id: Some(device.to_string()),
                stream: Some(stream.to_string()),
                since: None,
                until,
            };
            let page = self.db.datapoints(&f, HISTORY_PAGE, true)?;
            let full = page.len() == HISTORY_PAGE;
            let Some(oldest) = page.first().map(|p| p.at) else {
                break;
            };
            // The next page ends just before this one's oldest time.
            until = Some(oldest - 1);
            loaded += page.len();
            pages.push(page);
            if !full {
                break;
            }
        }
        Ok(pages.into_iter().rev().flatten().collect())
    }

    /// Each stream of the device with its count and latest value.
    pub fn datastreams(&self, device_id: &str) -> Result<Vec<StreamSummary>, StoreError> {
        self.db.datastreams(device_id)
    }

    /// Datapoints stored in all.
    pub fn datapoint_count(&self) -> Result<u64, StoreError> {
        self.db.datapoint_count()
    }

    /// Per-device totals and last seen, as last written by the broker.
    pub fn device_stats(&self) -> Result<Vec<DeviceStats>, StoreError> {
        self.db.device_stats()
    }

    /// A finished (or stored) command by uuid.
    pub fn command(&self, uuid: &str) -> Result<Option<Command>, StoreError> {
        self.db.command(uuid)
    }

    /// A device's commands created in [since, until] (Unix ms), newest first, and the total for paging.
    pub fn commands(
        &self,
        device_id: &str,
        since: Option<i64>,
        until: Option<i64>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Command>, u64), StoreError> {
        self.db.commands(device_id, since, until, offset, limit)
    }

    // ---- export ----

    /// Number of datapoints `filter` selects (a progress bar's total), on a pooled reader.
    pub fn count_datapoints(&self, filter: &DpFilter) -> Result<u64, ExportError> {
        let conn = self.db.reader().map_err(ExportError::from)?;
        crate::export::count_on(&conn, filter)
    }

    /// Exports what `req` selects into `path` (written as `path.tmp`, then renamed) on a pooled reader;
    /// see [`crate::export::export_to_file`]. Returns the number of datapoints written.
    pub fn export_to_file(
        &self,
        req: &ExportRequest,
        path: &Path,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, ExportError> {
        let conn = self.db.reader().map_err(ExportError::from)?;
        crate::export::export_to_file_on(&conn, req, path, progress)
    }
}
