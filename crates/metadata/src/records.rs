//! The records, one struct per table.

use berth_content::Digest;
use serde::{Deserialize, Serialize};

use crate::Record;

/// A blob an image names, with how to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayer {
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// Identity of the layer stack up to and including this layer.
    pub chain_id: Digest,
    /// The layer tar as it arrived (compressed or not), kept for `save` and `push`.
    pub blob: Option<Digest>,
    pub media_type: String,
    pub blob_size: u64,
    /// The layer gzip-compressed for registries, when its blob is an uncompressed tar: made at
    /// the image's first push (as Docker compresses on push) and kept for the next ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image ID: the digest of the config blob.
    pub id: Digest,
    pub config_media_type: String,
    /// The manifest the image came with (or was given when saved as OCI), if any.
    pub manifest: Option<Descriptor>,
    pub layers: Vec<ImageLayer>,
    /// The config's `created`, RFC 3339.
    pub created: Option<String>,
    /// Sum of the layers' sizes, as `docker images` shows.
    pub size: u64,
    /// The image this one was built or committed from, for `docker images` parent chains.
    #[serde(default)]
    pub parent: Option<Digest>,
    /// When the image arrived in this store (Unix nanoseconds).
    pub added: i64,
    /// Digests of manifests in repositories (`name@sha256:…`) that name this image.
    #[serde(default)]
    pub repo_digests: Vec<String>,
}

impl Record for ImageRecord {
    const TABLE: &'static str = "images";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefRecord {
    pub image: Digest,
    /// When the reference was last pointed (Unix nanoseconds).
    pub updated: i64,
}

impl Record for RefRecord {
    const TABLE: &'static str = "refs";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Key of the committed snapshot holding the extracted layer.
    pub snapshot: String,
    /// Bytes this layer adds (regular files and symlinks, as Docker counts).
    pub size: u64,
    /// How many images use this layer (directly or beneath their own layers).
    pub references: u64,
}

impl Record for LayerRecord {
    const TABLE: &'static str = "layers";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotKind {
    /// Read-only, a layer.
    Committed,
    /// Writable, a container's (or a build step's) layer.
    Active,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// The directory number under the snapshotter's root (short, so long stacks mount).
    pub id: u64,
    pub kind: SnapshotKind,
    pub parent: Option<String>,
}

impl Record for SnapshotRecord {
    const TABLE: &'static str = "snapshots";
}

/// Resources in-flight work holds, so a collection running meanwhile keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub blobs: Vec<Digest>,
    pub snapshots: Vec<String>,
    #[serde(default)]
    pub layers: Vec<String>,
    pub created: i64,
}

impl Record for LeaseRecord {
    const TABLE: &'static str = "leases";
}
