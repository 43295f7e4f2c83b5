//! What users see of images: `docker images` rows, `docker image inspect`, `docker history`,
//! `docker system df`, in the Engine API's field names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_metadata::ImageRecord;
use serde::Serialize;

use crate::config::{ContainerConfig, ImageConfig};
use berth_oci::Reference;

/// A row of `GET /images/json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub labels: BTreeMap<String, String>,
    pub containers: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RootFsInfo {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageMetadata {
    pub last_tag_time: String,
}

/// `GET /images/{name}/json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: Option<ContainerConfig>,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    pub size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFsInfo,
    pub metadata: ImageMetadata,
}

/// A row of `GET /images/{name}/history`, newest first.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Vec<String>,
    pub size: i64,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageDiskUsage {
    pub summary: ImageSummary,
    pub size: u64,
    pub shared_size: u64,
    pub unique_size: u64,
    pub containers: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskUsage {
    /// Bytes of all layers, each counted once.
    pub layers_size: u64,
    /// Bytes freed by removing every image no container uses.
    pub reclaimable: u64,
    pub images: Vec<ImageDiskUsage>,
}

pub(crate) fn created_unix(img: &ImageRecord) -> i64 {
    img.created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

pub(crate) fn labels_match(cfg: &ImageConfig, filters: &[String]) -> bool {
    let labels = cfg.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
    filters.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f.as_str()),
    })
}

fn tags_and_digests(refs: &[Reference]) -> (Vec<String>, Vec<String>) {
    let tags = refs.iter().filter(|r| r.digest().is_none()).map(|r| r.familiar()).collect();
    let digests = refs
        .iter()
        .filter(|r| r.digest().is_some())
        .map(|r| r.with_digest(r.digest().unwrap()).familiar())
        .collect();
    (tags, digests)
}

fn repo_digests(img: &ImageRecord, refs: &[Reference]) -> Vec<String> {
    let (_, mut digests) = tags_and_digests(refs);
    // Stored by full name (`docker.io/library/busybox@…`), shown as Docker shows them.
    for d in &img.repo_digests {
        let d = Reference::parse(d).map(|r| r.familiar()).unwrap_or_else(|_| d.clone());
        if !digests.contains(&d) {
            digests.push(d);
        }
    }
    digests.sort();
    digests
}

pub(crate) fn summary(img: &ImageRecord, cfg: &ImageConfig, refs: &[Reference]) -> ImageSummary {
    let (tags, _) = tags_and_digests(refs);
    ImageSummary {
        id: img.id.to_string(),
        parent_id: img.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        repo_tags: tags,
        repo_digests: repo_digests(img, refs),
        created: created_unix(img),
        size: img.size as i64,
        shared_size: -1,
        labels: cfg.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default(),
        containers: -1,
    }
}

pub(crate) fn inspect(
    img: &ImageRecord,
    cfg: &ImageConfig,
    refs: &[Reference],
    driver: &str,
    dirs: &[PathBuf],
) -> ImageInspect {
    let (tags, _) = tags_and_digests(refs);
    let mut data = BTreeMap::new();
    if let Some((top, lower)) = dirs.split_first() {
        data.insert("UpperDir".to_string(), top.display().to_string());
        if !lower.is_empty() {
            data.insert(
                "LowerDir".to_string(),
                lower.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":"),
            );
        }
    }
    ImageInspect {
        id: img.id.to_string(),
        repo_tags: tags,
        repo_digests: repo_digests(img, refs),
        parent: img.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        comment: cfg.comment.clone().unwrap_or_default(),
        created: cfg.created.clone().unwrap_or_default(),
        docker_version: cfg.docker_version.clone().unwrap_or_default(),
        author: cfg.author.clone().unwrap_or_default(),
        config: cfg.config.clone(),
        architecture: cfg.architecture.clone(),
        variant: cfg.variant.clone(),
        os: cfg.os.clone(),
        os_version: cfg.os_version.clone(),
        size: img.size as i64,
        graph_driver: GraphDriver { name: driver.to_string(), data },
        root_fs: RootFsInfo {
            kind: if cfg.rootfs.kind.is_empty() { "layers".into() } else { cfg.rootfs.kind.clone() },
            layers: cfg.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
        },
        metadata: ImageMetadata { last_tag_time: "0001-01-01T00:00:00Z".into() },
    }
}

/// Newest first; the top entry carries the image's ID and tags, the rest `<missing>` (their
/// intermediate images are not in this store), as Docker shows pulled images.
pub(crate) fn history(
    img: &ImageRecord,
    cfg: &ImageConfig,
    refs: &[Reference],
    layer_sizes: &[u64],
) -> Vec<HistoryItem> {
    let (tags, _) = tags_and_digests(refs);
    let mut sizes = layer_sizes.iter();
    let mut items: Vec<HistoryItem> = if cfg.history.is_empty() {
        // No history recorded: one entry per layer.
        layer_sizes
            .iter()
            .map(|s| HistoryItem {
                id: "<missing>".into(),
                created: created_unix(img),
                created_by: String::new(),
                tags: Vec::new(),
                size: *s as i64,
                comment: String::new(),
            })
            .collect()
    } else {
        cfg.history
            .iter()
            .map(|h| HistoryItem {
                id: "<missing>".into(),
                created: h
                    .created
                    .as_deref()
                    .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: Vec::new(),
                size: if h.empty_layer { 0 } else { sizes.next().copied().unwrap_or(0) as i64 },
                comment: h.comment.clone().unwrap_or_default(),
            })
            .collect()
    };
    items.reverse();
    if let Some(top) = items.first_mut() {
        top.id = img.id.to_string();
        top.tags = tags;
    }
    items
}
