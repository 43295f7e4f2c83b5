//! The registry's records in its metadata database (berth-metadata: string keys, JSON values).
//!
//! | table                | key              | value |
//! |----------------------|------------------|-------|
//! | `registry_links`     | `repo@digest`    | [`LinkRecord`]: a blob pushed or mounted into a repository |
//! | `registry_manifests` | `repo@digest`    | [`ManifestRecord`]: a manifest of the repository and its edges |
//! | `registry_tags`      | `repo:tag`       | [`TagRecord`]: the manifest a tag names |
//! | `registry_uploads`   | upload ID        | [`UploadRecord`]: an upload in progress |
//!
//! Repository names hold neither `@` nor `:`, so `repo@` and `repo:` prefixes select exactly one
//! repository's records, in key order (tags sorted as the spec lists them).

use berth_content::Digest;
use berth_metadata::Record;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkRecord {
    /// When the blob was linked, in seconds since the epoch: young links are spared by the
    /// collector, so that a push's manifest finds the blobs it uploaded.
    pub linked: u64,
}

impl Record for LinkRecord {
    const TABLE: &'static str = "registry_links";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub media_type: String,
    pub size: u64,
    pub created: u64,
    /// The config and layers it needs in the repository.
    pub blobs: Vec<Digest>,
    /// The manifests an index lists.
    pub manifests: Vec<Digest>,
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    pub annotations: Option<Map<String, Value>>,
}

impl Record for ManifestRecord {
    const TABLE: &'static str = "registry_manifests";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TagRecord {
    pub digest: Digest,
}

impl Record for TagRecord {
    const TABLE: &'static str = "registry_tags";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    pub repo: String,
    pub started: u64,
}

impl Record for UploadRecord {
    const TABLE: &'static str = "registry_uploads";
}

pub fn object_key(repo: &str, digest: &Digest) -> String {
    format!("{repo}@{digest}")
}

pub fn tag_key(repo: &str, tag: &str) -> String {
    format!("{repo}:{tag}")
}

/// The repository and digest of an `object_key`.
pub fn split_object_key(key: &str) -> Option<(&str, Digest)> {
    let (repo, digest) = key.split_once('@')?;
    Some((repo, Digest::parse(digest).ok()?))
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
