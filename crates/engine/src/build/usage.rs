//! The build cache as `system df` shows it and `builder prune` empties it: the cache mounts
//! (`RUN --mount=type=cache` directories under the data root, sized on disk) and the step
//! index (which step made which image; the images themselves are images, counted and pruned
//! as such, so an index entry owns no bytes and shows as shared).

use std::path::Path;

use super::mounts;
use crate::error::Result;
use crate::Engine;

/// One item of the build cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCacheItem {
    pub id: String,
    /// `exec.cachemount` or `regular` (a step of the index).
    pub kind: &'static str,
    pub description: String,
    pub size: u64,
    pub in_use: bool,
    pub shared: bool,
    /// Unix nanoseconds.
    pub created: i64,
    pub last_used: i64,
}

impl BuildCacheItem {
    /// As the Engine API's `BuildCache`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ID": self.id, "Parents": null, "Type": self.kind, "Description": self.description,
            "InUse": self.in_use, "Shared": self.shared, "Size": self.size,
            "CreatedAt": berth_api::time::rfc3339_nanos(self.created),
            "LastUsedAt": berth_api::time::rfc3339_nanos(self.last_used),
            "UsageCount": 1,
        })
    }
}

/// What a prune removed.
#[derive(Debug, Default)]
pub struct BuildPruneReport {
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// The bytes a tree takes on disk (its blocks, as `du` counts them), each inode once.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(md) = std::fs::symlink_metadata(e.path()) else { continue };
            if seen.insert((md.dev(), md.ino())) {
                total += md.blocks() * 512;
            }
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

fn nanos(t: std::io::Result<std::time::SystemTime>) -> i64 {
    t.ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64)
}

impl Engine {
    /// The cache mounts and the step index, as `system df` lists them.
    pub fn build_cache_usage(&self) -> Result<Vec<BuildCacheItem>> {
        let mut items = Vec::new();
        let root = mounts::cache_mounts_root(&self.config().data_root);
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten().filter(|e| e.path().is_dir()) {
                let id = e.file_name().to_string_lossy().into_owned();
                let name = std::fs::read_to_string(root.join(format!("{id}.id"))).unwrap_or_default();
                let md = e.metadata()?;
                items.push(BuildCacheItem {
                    description: format!("cached mount {name}"),
                    id,
                    kind: "exec.cachemount",
                    size: disk_usage(&e.path()),
                    in_use: mounts::in_use(&e.path()),
                    shared: false,
                    created: nanos(md.created().or(md.modified())),
                    last_used: nanos(md.modified()),
                });
            }
        }
        for (key, r) in self.images.cache_records()? {
            items.push(BuildCacheItem {
                id: key.chars().take(25).collect(),
                kind: "regular",
                description: format!("step that made {}", &r.image.to_string()),
                size: 0,
                in_use: false,
                shared: true,
                created: r.created,
                last_used: r.created,
            });
        }
        Ok(items)
    }

    /// `builder prune`: the cache mounts no build uses and the index's entries whose images are
    /// gone; with `all`, the whole index too (the images stay, for `image prune`).
    pub async fn build_cache_prune(self: &std::sync::Arc<Self>, all: bool) -> Result<BuildPruneReport> {
        let engine = self.clone();
        crate::blocking(move || engine.prune_build_cache(all)).await
    }

    fn prune_build_cache(&self, all: bool) -> Result<BuildPruneReport> {
        let mut report = BuildPruneReport::default();
        let root = mounts::cache_mounts_root(&self.config().data_root);
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten().filter(|e| e.path().is_dir()) {
                if mounts::in_use(&e.path()) {
                    continue;
                }
                let size = disk_usage(&e.path());
                let id = e.file_name().to_string_lossy().into_owned();
                std::fs::remove_dir_all(e.path())?;
                let _ = std::fs::remove_file(root.join(format!("{id}.id")));
                report.reclaimed += size;
                report.deleted.push(id);
            }
        }
        let mut forget = Vec::new();
        for (key, r) in self.images.cache_records()? {
            if all || !self.images.cache_image_present(&r)? {
                report.deleted.push(key.chars().take(25).collect());
                forget.push(key);
            }
        }
        self.images.cache_forget(&forget)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_blocks_once_per_inode() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/f"), vec![1u8; 10_000]).unwrap();
        std::fs::hard_link(d.path().join("a/f"), d.path().join("g")).unwrap();
        let n = disk_usage(d.path());
        assert!((10_000..10_000 + 3 * 4096 + 8192).contains(&n), "{n}");
    }
}
