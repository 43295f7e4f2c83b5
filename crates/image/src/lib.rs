//! The image store: images as content-addressed configs and layers, references to them, and the
//! snapshots their layers are extracted into.
//!
//! ```text
//! <root>/lock                 held (flock) by the one process that owns the store
//! <root>/metadata.db          redb: images, refs, layers, snapshots, leases (berth-metadata)
//! <root>/content/blobs/…      configs, manifests, layer tars as they arrived (berth-content)
//! <root>/snapshots/<driver>/<n>/fs   extracted layers and containers' writable layers
//! ```
//!
//! Invariants:
//! * An image ID is the digest of its config blob, kept byte for byte.
//! * A layer is extracted once per chain ID; images share it, and its record counts them.
//! * Everything is written through a [`WriteSession`] (load, import and commit; pull and build
//!   next): new blobs and snapshots belong to its lease until the transaction that records the
//!   image that uses them, and a session dropped unfinished is rolled back; a collection keeps what leases, images and containers reach, and
//!   [`ImageStore::open`] drops leases (their owners are gone) and collects, so a crash at any
//!   point leaves no partial image and no garbage.

mod build;
mod commit;
mod config;
mod error;
mod glob;
mod import;
mod inspect;
mod load;
mod pull;
mod push;
mod save;
mod session;
mod store;
mod verify;

pub use berth_oci::{reference, Reference, ReferenceError};
pub use build::BuildCacheRecord;
pub use commit::CommitOptions;
pub use config::{apply_changes, chain_ids, CacheLink, ContainerConfig, History, ImageConfig, RootFs};
pub use error::{ImageError, Result};
pub use import::ImportOptions;
pub use inspect::{DiskUsage, HistoryItem, ImageDiskUsage, ImageInspect, ImageSummary};
pub use load::{LayerProgress, LoadReport, LoadedImage};
pub use pull::{PullPlan, PulledLayer};
pub use push::{PushBlob, PushPlan};
pub use save::SaveFormat;
pub use session::{Extracted, WriteSession};
pub use store::{DeleteItem, GcStats, ImageStore, ImageUser, ListFilters, PruneReport};

pub use berth_content::{BlobInfo, Digest};
pub use berth_metadata::{ImageLayer, ImageRecord, LayerRecord};
pub use berth_snapshot::Mount;
