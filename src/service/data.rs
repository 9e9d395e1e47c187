//! The service's typed door to the data dir's database: registry, topic lists, datapoints, device
//! statistics and export. Each call runs on the blocking pool (SQLite is synchronous), so the console's
//! runtime and the HTTP API's handlers never block an async thread; long reads use the store's
//! read-only pool.

use std::path::PathBuf;

use super::ServiceHandle;
use super::api::{
    DataError, DataStore, Device, DeviceStats, DpFilter, ExportError, ExportRequest, NewDevice,
    NewProduct, Product, RegistrySnapshot, StoreError, StoredDatapoint, StreamSummary,
};

impl ServiceHandle {
    /// Runs `f` on the data store off the async threads.
    async fn data<T: Send + 'static>(
        &self,
        f: impl FnOnce(&DataStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, DataError> {
        let store = self.inner.data.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| DataError::Stopped)?
            .map_err(DataError::from)
    }

    // ---- registry ----

    pub async fn products(&self) -> Result<Vec<Product>, DataError> {
        self.data(|d| d.products()).await
    }

    pub async fn product(&self, id: &str) -> Result<Option<Product>, DataError> {
        let id = id.to_string();
        self.data(move |d| d.product(&id)).await
    }

    /// The product whose master key (the HTTP API's `api-key`) is `key`.
    pub async fn product_by_key(&self, key: &str) -> Result<Option<Product>, DataError> {
        let key = key.to_string();
        self.data(move |d| d.product_by_key(&key)).await
    }

    pub async fn add_product(&self, new: NewProduct) -> Result<Product, DataError> {
        self.data(move |d| d.add_product(new)).await
    }

    pub async fn update_product(
        &self,
        id: &str,
        name: Option<String>,
        api_key: Option<String>,
    ) -> Result<Product, DataError> {
        let id = id.to_string();
        self.data(move |d| d.update_product(&id, name, api_key))
            .await
    }

    /// Deletes the product and its devices.
    pub async fn delete_product(&self, id: &str) -> Result<(), DataError> {
        let id = id.to_string();
        self.data(move |d| d.delete_product(&id)).await
    }

    /// The devices of `product`, or every device.
    pub async fn devices(&self, product: Option<&str>) -> Result<Vec<Device>, DataError> {
        let product = product.map(str::to_string);
        self.data(move |d| d.devices(product.as_deref())).await
    }

    pub async fn device(&self, id: &str) -> Result<Option<Device>, DataError> {
        let id = id.to_string();
        self.data(move |d| d.device(&id)).await
    }

    pub async fn add_device(&self, new: NewDevice) -> Result<Device, DataError> {
        self.data(move |d| d.add_device(new)).await
    }

    pub async fn update_device(
        &self,
        id: &str,
        name: Option<String>,
        auth_info: Option<String>,
    ) -> Result<Device, DataError> {
        let id = id.to_string();
        self.data(move |d| d.update_device(&id, name, auth_info))
            .await
    }

    pub async fn delete_device(&self, id: &str) -> Result<(), DataError> {
        let id = id.to_string();
        self.data(move |d| d.delete_device(&id)).await
    }

    /// See [`DataStore::register_virtual_devices`].
    pub async fn register_virtual_devices(
        &self,
        product: &str,
        n: usize,
        first: Option<u64>,
    ) -> Result<Vec<Device>, DataError> {
        let product = product.to_string();
        self.data(move |d| d.register_virtual_devices(&product, n, first))
            .await
    }

    /// Products, devices, the database's size and per-device totals, read together for the console.
    pub async fn registry_snapshot(&self) -> Result<RegistrySnapshot, DataError> {
        self.data(|d| {
            let products = d.products()?;
            let devices = d.devices(None)?;
            // Statistics are a nicety: a failed read leaves what the reader already knows.
            let device_stats = d.device_stats().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read device statistics");
                Vec::new()
            });
            Ok(RegistrySnapshot {
                products,
                devices,
                db_bytes: d.size_on_disk(),
                device_stats,
            })
        })
        .await
    }

    // ---- topic lists (§8.1) ----

    pub async fn topics(&self, product_id: &str) -> Result<Vec<String>, DataError> {
        let p = product_id.to_string();
        self.data(move |d| d.topics(&p)).await
    }

    pub async fn create_topic(&self, product_id: &str, name: &str) -> Result<(), DataError> {
        let (p, n) = (product_id.to_string(), name.to_string());
        self.data(move |d| d.create_topic(&p, &n)).await
    }

    pub async fn delete_topic(&self, product_id: &str, name: &str) -> Result<(), DataError> {
        let (p, n) = (product_id.to_string(), name.to_string());
        self.data(move |d| d.delete_topic(&p, &n)).await
    }

    // ---- datapoints ----

    /// Up to `limit` datapoints of each filter, oldest first within each (the newest `limit` when
    /// `newest`), concatenated in the filters' order; one blocking task for all.
    pub async fn datapoints(
        &self,
        filters: Vec<DpFilter>,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<StoredDatapoint>, DataError> {
        self.data(move |d| {
            let mut all = Vec::new();
            for f in &filters {
                all.extend(d.datapoints(f, limit, newest)?);
            }
            Ok(all)
        })
        .await
    }

    /// The newest `max` points of one stream, oldest first, read in pages (a plot's history).
    pub async fn stream_history(
        &self,
        device: &str,
        stream: &str,
        max: usize,
    ) -> Result<Vec<StoredDatapoint>, DataError> {
        let (dev, st) = (device.to_string(), stream.to_string());
        self.data(move |d| d.stream_history(&dev, &st, max)).await
    }

    /// Each stream of the device with its count and latest value.
    pub async fn datastreams(&self, device_id: &str) -> Result<Vec<StreamSummary>, DataError> {
        let id = device_id.to_string();
        self.data(move |d| d.datastreams(&id)).await
    }

    /// Per-device totals and last seen, as last written by the broker.
    pub async fn device_stats(&self) -> Result<Vec<DeviceStats>, DataError> {
        self.data(|d| d.device_stats()).await
    }

    /// Size of the database and its WAL on disk, in bytes.
    pub fn db_size(&self) -> u64 {
        self.inner.data.size_on_disk()
    }

    // ---- export ----

    /// Exports what `req` selects into `path` after everything queued so far is committed, on a pooled
    /// reader; `progress` gets the total first (`progress_total`), then the running count, and stops the
    /// export by returning false. Returns the number of datapoints written.
    pub async fn export_to_file(
        &self,
        req: ExportRequest,
        path: PathBuf,
        mut progress_total: impl FnMut(u64) + Send + 'static,
        mut progress: impl FnMut(u64) -> bool + Send + 'static,
    ) -> Result<u64, ExportError> {
        self.flush().await;
        let store = self.inner.data.clone();
        tokio::task::spawn_blocking(move || {
            progress_total(store.count_datapoints(&req.filter).unwrap_or(0));
            store.export_to_file(&req, &path, &mut progress)
        })
        .await
        .map_err(|e| ExportError::Io {
            path: None,
            source: std::io::Error::other(e),
        })?
    }
}
