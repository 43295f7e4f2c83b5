//! The metadata database: what the image store knows, in one redb file, changed only in
//! transactions.
//!
//! # Schema
//!
//! Every table maps a string key to a JSON value (serde; fields may be added, never renamed):
//!
//! | table       | key                                   | value            |
//! |-------------|---------------------------------------|------------------|
//! | `images`    | image ID (`sha256:` of the config)    | [`ImageRecord`]: config, manifest, layers (diff ID, chain ID, blob), created, size |
//! | `refs`      | normalised reference (`docker.io/library/busybox:latest`, `name@sha256:…`) | [`RefRecord`]: the image it names |
//! | `layers`    | chain ID                              | [`LayerRecord`]: diff ID, parent chain, snapshot key, size, reference count |
//! | `snapshots` | snapshot key (a chain ID when committed, the owner's key when active) | [`SnapshotRecord`]: numeric directory, kind, parent |
//! | `leases`    | lease ID                              | [`LeaseRecord`]: blobs and snapshots in-flight work holds |
//! | `meta`      | `schema`, `next_snapshot`             | numbers |
//!
//! # Consistency with the disk
//!
//! Files are created before the records that name them, and records deleted before their
//! files; so after a crash at any instant the database (whose commits are atomic and durable)
//! can only be missing records for files, never name files that are gone. The owner reconciles
//! at start: it drops leases (they belonged to processes that are gone) and removes blobs and
//! snapshot directories that no record reaches ([`reachable`]).

mod records;

pub use records::*;

use std::collections::HashSet;
use std::path::Path;

use berth_content::Digest;
use berth_kind::{Kind, Kinded};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Serialize};

const SCHEMA_VERSION: u64 = 1;
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata database: {0}")]
    Db(#[from] redb::Error),
    #[error("metadata database record {table}/{key} is unreadable: {source}")]
    Decode { table: &'static str, key: String, source: serde_json::Error },
    #[error("metadata database schema {found} is newer than this berth understands ({SCHEMA_VERSION}); upgrade berth")]
    Schema { found: u64 },
    #[error("metadata database table {table} was written in format {found}, newer than this berth understands ({known}); upgrade berth")]
    Format { table: &'static str, found: u64, known: u64 },
    #[error("metadata database record {table}/{key} could not be migrated from format {from}: {reason}")]
    Migrate { table: &'static str, key: String, from: u64, reason: String },
}

impl Kinded for MetadataError {
    /// A database that fails or that this berth cannot read is the host's trouble (or a newer
    /// berth's), never the request's.
    fn kind(&self) -> Kind {
        Kind::Internal
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for MetadataError {
            fn from(e: $t) -> Self {
                MetadataError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

/// A kind of record and the table it lives in.
pub trait Record: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    /// The format its values are written in. A table remembers the format its values were
    /// written in (`meta`, `format:<table>`; a table from before formats were kept is format 1),
    /// and [`Db::ensure`] brings older values up with [`Record::migrate`].
    const FORMAT: u64 = 1;

    /// Brings one value written in format `from` (older than [`Record::FORMAT`]) to the current
    /// format. Pure: it sees only the value.
    fn migrate(from: u64, value: serde_json::Value) -> Result<serde_json::Value, String> {
        let _ = from;
        Ok(value)
    }
}

fn format_key(table: &str) -> String {
    format!("format:{table}")
}

fn table<R: Record>() -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(R::TABLE)
}

fn decode<R: Record>(key: &str, bytes: &[u8]) -> Result<R> {
    serde_json::from_slice(bytes).map_err(|source| MetadataError::Decode {
        table: R::TABLE,
        key: key.to_string(),
        source,
    })
}

pub struct Db {
    /// Transactions share the lock; compaction takes it alone.
    db: std::sync::RwLock<redb::Database>,
}

impl Db {
    /// Opens (creating) the database; every table exists afterwards.
    pub fn open(path: &Path) -> Result<Db> {
        let db = redb::Database::create(path)?;
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            let found = meta.get("schema")?.map(|v| v.value());
            match found {
                Some(v) if v > SCHEMA_VERSION => return Err(MetadataError::Schema { found: v }),
                Some(_) => {}
                None => {
                    meta.insert("schema", SCHEMA_VERSION)?;
                }
            }
            for name in [
                ImageRecord::TABLE,
                RefRecord::TABLE,
                LayerRecord::TABLE,
                SnapshotRecord::TABLE,
                LeaseRecord::TABLE,
            ] {
                tx.open_table(TableDefinition::<&str, &[u8]>::new(name))?;
            }
        }
        tx.commit()?;
        let db = Db { db: std::sync::RwLock::new(db) };
        db.compact()?;
        Ok(db)
    }

    fn shared(&self) -> std::sync::RwLockReadGuard<'_, redb::Database> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns the space of deleted records to the filesystem, so removing what was added
    /// gives the data root back its size.
    pub fn compact(&self) -> Result<()> {
        let mut db = self.db.write().unwrap_or_else(|e| e.into_inner());
        db.compact().map_err(|e| MetadataError::Db(e.into()))?;
        Ok(())
    }

    /// Creates the table of a record type defined outside this crate, so reads find it, and
    /// brings its values to the record's current format: every value written in an older one
    /// is migrated and written back, all in one transaction (after a crash in between, the old
    /// values and their old format are still there, and the next open migrates again). A table
    /// written by a newer berth is refused. Says from which format it migrated, if it did.
    pub fn ensure<R: Record>(&self) -> Result<Option<u64>> {
        let db = self.shared();
        let tx = db.begin_write()?;
        let migrated = {
            let mut t = tx.open_table(table::<R>())?;
            let mut meta = tx.open_table(META)?;
            let key = format_key(R::TABLE);
            let found = meta.get(key.as_str())?.map(|v| v.value());
            let found = match found {
                Some(f) => f,
                None if t.iter()?.next().is_none() => R::FORMAT,
                // Written before formats were kept.
                None => 1,
            };
            if found > R::FORMAT {
                return Err(MetadataError::Format { table: R::TABLE, found, known: R::FORMAT });
            }
            if found < R::FORMAT {
                let mut rewritten = Vec::new();
                for item in t.iter()? {
                    let (k, v) = item?;
                    let key = k.value().to_string();
                    let old: serde_json::Value = serde_json::from_slice(v.value()).map_err(|source| {
                        MetadataError::Decode { table: R::TABLE, key: key.clone(), source }
                    })?;
                    let new = R::migrate(found, old).map_err(|reason| MetadataError::Migrate {
                        table: R::TABLE,
                        key: key.clone(),
                        from: found,
                        reason,
                    })?;
                    // What the migration gives must read as the current record.
                    let rec: R = serde_json::from_value(new).map_err(|source| MetadataError::Decode {
                        table: R::TABLE,
                        key: key.clone(),
                        source,
                    })?;
                    rewritten.push((key, serde_json::to_vec(&rec).expect("records serialise")));
                }
                for (k, bytes) in rewritten {
                    t.insert(k.as_str(), bytes.as_slice())?;
                }
            }
            meta.insert(key.as_str(), R::FORMAT)?;
            (found < R::FORMAT).then_some(found)
        };
        tx.commit()?;
        Ok(migrated)
    }

    pub fn read<T, E: From<MetadataError>>(&self, f: impl FnOnce(&ReadTx) -> Result<T, E>) -> Result<T, E> {
        // The shared guard lives as long as the transaction: compaction needs none open.
        let db = self.shared();
        let tx = ReadTx { tx: db.begin_read().map_err(MetadataError::from)? };
        f(&tx)
    }

    /// Runs `f` in a write transaction, committed (durably) when `f` succeeds and rolled back
    /// otherwise.
    pub fn write<T, E: From<MetadataError>>(
        &self,
        f: impl FnOnce(&mut WriteTx) -> Result<T, E>,
    ) -> Result<T, E> {
        let db = self.shared();
        let mut tx = WriteTx { tx: db.begin_write().map_err(MetadataError::from)? };
        let out = f(&mut tx)?;
        tx.tx.commit().map_err(MetadataError::from)?;
        Ok(out)
    }
}

/// Reading, shared by both kinds of transaction.
pub trait Reader {
    fn get<R: Record>(&self, key: &str) -> Result<Option<R>>;
    fn all<R: Record>(&self) -> Result<Vec<(String, R)>>;
    /// The records whose keys start with `prefix`, in key order.
    fn prefixed<R: Record>(&self, prefix: &str) -> Result<Vec<(String, R)>>;
}

fn get_in<R: Record>(t: &impl ReadableTable<&'static str, &'static [u8]>, key: &str) -> Result<Option<R>> {
    match t.get(key)? {
        Some(v) => Ok(Some(decode(key, v.value())?)),
        None => Ok(None),
    }
}

fn all_in<R: Record>(t: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Vec<(String, R)>> {
    let mut out = Vec::new();
    for item in t.iter()? {
        let (k, v) = item?;
        let key = k.value().to_string();
        let rec = decode(&key, v.value())?;
        out.push((key, rec));
    }
    Ok(out)
}

fn prefixed_in<R: Record>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    prefix: &str,
) -> Result<Vec<(String, R)>> {
    let mut out = Vec::new();
    for item in t.range(prefix..)? {
        let (k, v) = item?;
        let key = k.value();
        if !key.starts_with(prefix) {
            break;
        }
        let rec = decode(key, v.value())?;
        out.push((key.to_string(), rec));
    }
    Ok(out)
}

pub struct ReadTx {
    tx: redb::ReadTransaction,
}

impl Reader for ReadTx {
    fn get<R: Record>(&self, key: &str) -> Result<Option<R>> {
        get_in(&self.tx.open_table(table::<R>())?, key)
    }
    fn all<R: Record>(&self) -> Result<Vec<(String, R)>> {
        all_in(&self.tx.open_table(table::<R>())?)
    }
    fn prefixed<R: Record>(&self, prefix: &str) -> Result<Vec<(String, R)>> {
        prefixed_in(&self.tx.open_table(table::<R>())?, prefix)
    }
}

pub struct WriteTx {
    tx: redb::WriteTransaction,
}

impl Reader for WriteTx {
    fn get<R: Record>(&self, key: &str) -> Result<Option<R>> {
        get_in(&self.tx.open_table(table::<R>())?, key)
    }
    fn all<R: Record>(&self) -> Result<Vec<(String, R)>> {
        all_in(&self.tx.open_table(table::<R>())?)
    }
    fn prefixed<R: Record>(&self, prefix: &str) -> Result<Vec<(String, R)>> {
        prefixed_in(&self.tx.open_table(table::<R>())?, prefix)
    }
}

impl WriteTx {
    pub fn put<R: Record>(&mut self, key: &str, record: &R) -> Result<()> {
        let bytes = serde_json::to_vec(record).expect("records serialise");
        self.tx.open_table(table::<R>())?.insert(key, bytes.as_slice())?;
        Ok(())
    }

    /// Overwrites the record under `key` if there is one (nothing is written otherwise): an update
    /// that lost a race with a deletion does not bring the record back. Says whether it wrote.
    pub fn replace<R: Record>(&mut self, key: &str, record: &R) -> Result<bool> {
        let mut t = self.tx.open_table(table::<R>())?;
        if t.get(key)?.is_none() {
            return Ok(false);
        }
        let bytes = serde_json::to_vec(record).expect("records serialise");
        t.insert(key, bytes.as_slice())?;
        Ok(true)
    }

    /// Removes a record; says whether it existed.
    pub fn delete<R: Record>(&mut self, key: &str) -> Result<bool> {
        Ok(self.tx.open_table(table::<R>())?.remove(key)?.is_some())
    }

    /// A number never handed out before (snapshot directories).
    pub fn next_id(&mut self) -> Result<u64> {
        let mut meta = self.tx.open_table(META)?;
        let next = meta.get("next_snapshot")?.map(|v| v.value()).unwrap_or(1);
        meta.insert("next_snapshot", next + 1)?;
        Ok(next)
    }
}

/// What the records reach; everything else on disk is garbage.
#[derive(Debug, Default, Clone)]
pub struct Reachable {
    pub blobs: HashSet<Digest>,
    pub snapshots: HashSet<String>,
    pub layers: HashSet<String>,
}

/// Marks from the roots: images (config, manifest and layer blobs, layer chains), leases, and
/// active snapshots (containers' writable layers) with their parents.
pub fn reachable(tx: &impl Reader) -> Result<Reachable> {
    let mut r = Reachable::default();
    let layers: std::collections::HashMap<String, LayerRecord> =
        tx.all::<LayerRecord>()?.into_iter().collect();
    let snapshots: std::collections::HashMap<String, SnapshotRecord> =
        tx.all::<SnapshotRecord>()?.into_iter().collect();
    let mut snapshot_roots: Vec<String> = Vec::new();
    for (_, image) in tx.all::<ImageRecord>()? {
        r.blobs.insert(image.id.clone());
        if let Some(m) = &image.manifest {
            r.blobs.insert(m.digest.clone());
        }
        for layer in &image.layers {
            if let Some(blob) = &layer.blob {
                r.blobs.insert(blob.clone());
            }
            if let Some(p) = &layer.pushed {
                r.blobs.insert(p.digest.clone());
            }
            let chain = layer.chain_id.to_string();
            if let Some(l) = layers.get(&chain) {
                snapshot_roots.push(l.snapshot.clone());
            }
            r.layers.insert(chain);
        }
    }
    for (_, lease) in tx.all::<LeaseRecord>()? {
        r.blobs.extend(lease.blobs.iter().cloned());
        snapshot_roots.extend(lease.snapshots.iter().cloned());
        for chain in &lease.layers {
            if let Some(l) = layers.get(chain) {
                snapshot_roots.push(l.snapshot.clone());
            }
            r.layers.insert(chain.clone());
        }
    }
    for (key, s) in &snapshots {
        if s.kind == SnapshotKind::Active {
            snapshot_roots.push(key.clone());
        }
    }
    for root in snapshot_roots {
        let mut next = Some(root);
        while let Some(key) = next {
            if !r.snapshots.insert(key.clone()) {
                break;
            }
            next = snapshots.get(&key).and_then(|s| s.parent.clone());
        }
    }
    // A layer whose snapshot is kept (as some parent) keeps its record too.
    for (chain, l) in &layers {
        if r.snapshots.contains(&l.snapshot) {
            r.layers.insert(chain.clone());
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests;
