//! The store: opening and reconciling, leases, resolution, tags, removal, listing, pruning,
//! collection, and containers' root filesystems.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_archive::Change;
use berth_content::{ContentStore, Digest};
use berth_metadata::{
    reachable, Db, ImageRecord, LayerRecord, LeaseRecord, Reader, RefRecord, SnapshotKind, SnapshotRecord,
    WriteTx,
};
use berth_snapshot::{Mount, Snapshotter};

use crate::config::ImageConfig;
use crate::{glob, ImageError, Result};
use berth_oci::Reference;

pub struct ImageStore {
    root: PathBuf,
    pub(crate) content: ContentStore,
    pub(crate) db: Db,
    pub(crate) snapshots: Box<dyn Snapshotter>,
    /// Held while a blob moves from an ingest into a lease, and while collecting: a collection
    /// never sees a committed blob that no record or lease names yet.
    pub(crate) gc: Mutex<()>,
    _lock: nix::fcntl::Flock<File>,
}

/// A container using an image: removal and pruning respect it.
#[derive(Debug, Clone)]
pub struct ImageUser {
    pub image: Digest,
    pub container: String,
    pub running: bool,
}

/// One line of a removal's answer, Docker's `{"Untagged": …}` / `{"Deleted": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteItem {
    Untagged(String),
    Deleted(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcStats {
    pub blobs_removed: usize,
    pub snapshots_removed: usize,
}

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub deleted: Vec<DeleteItem>,
    pub space_reclaimed: u64,
}

/// `docker images` filters.
#[derive(Debug, Clone, Default)]
pub struct ListFilters {
    /// Intermediate images too (untagged parents of other images, as builds leave them).
    pub all: bool,
    pub dangling: Option<bool>,
    pub reference: Vec<String>,
    pub label: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
}

pub(crate) fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

pub(crate) fn short(id: &Digest) -> &str {
    id.short()
}

impl ImageStore {
    /// Opens the store at `root` (creating it), with the named snapshotter or the best one
    /// available. Takes the store's lock, then reconciles: leases of dead processes are dropped
    /// and whatever no record reaches is removed.
    pub fn open(root: &Path, snapshotter: Option<&str>) -> Result<ImageStore> {
        std::fs::create_dir_all(root).map_err(ImageError::io("create", root.display()))?;
        let lock_path = root.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(ImageError::io("open", lock_path.display()))?;
        let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|_| ImageError::Locked(root.display().to_string()))?;
        let content = ContentStore::open(root.join("content"))?;
        let db = Db::open(&root.join("metadata.db"))?;
        db.ensure::<crate::BuildCacheRecord>()?;
        let snapshots = berth_snapshot::open(&root.join("snapshots"), snapshotter)?;
        let store =
            ImageStore { root: root.to_path_buf(), content, db, snapshots, gc: Mutex::new(()), _lock: lock };
        store.reconcile()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `overlayfs` or `native`.
    pub fn snapshotter(&self) -> &'static str {
        self.snapshots.name()
    }

    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    fn reconcile(&self) -> Result<()> {
        self.db.write(|tx| {
            for (id, _) in tx.all::<LeaseRecord>()? {
                tx.delete::<LeaseRecord>(&id)?;
            }
            // Records whose files are gone (a disk restored from backup, a hand-deleted
            // directory) are dropped with the images that need them.
            let snaps = tx.all::<SnapshotRecord>()?;
            let present: HashSet<u64> = self.snapshots.ids()?.into_iter().collect();
            let missing: HashSet<String> =
                snaps.iter().filter(|(_, s)| !present.contains(&s.id)).map(|(k, _)| k.clone()).collect();
            if !missing.is_empty() {
                for (id, img) in tx.all::<ImageRecord>()? {
                    let broken = img.layers.iter().any(|l| {
                        tx.get::<LayerRecord>(&l.chain_id.to_string())
                            .ok()
                            .flatten()
                            .is_none_or(|lr| missing.contains(&lr.snapshot))
                    });
                    if broken {
                        tracing::warn!(image = %id, "image lost layer data; removing its record");
                        tx.delete::<ImageRecord>(&id)?;
                    }
                }
                for key in &missing {
                    tx.delete::<SnapshotRecord>(key)?;
                }
            }
            Ok::<_, ImageError>(())
        })?;
        self.collect()?;
        Ok(())
    }

    /// Removes every blob, snapshot and layer record that no image, lease or container reaches.
    pub fn collect(&self) -> Result<GcStats> {
        let _g = self.gc.lock().unwrap_or_else(|e| e.into_inner());
        let mut stats = GcStats::default();
        let keep = self.db.read(reachable)?;
        // Records first, then files: a crash in between leaves only unrecorded files.
        let doomed: Vec<SnapshotRecord> = self.db.write(|tx| {
            let mut doomed = Vec::new();
            for (key, s) in tx.all::<SnapshotRecord>()? {
                if !keep.snapshots.contains(&key) {
                    tx.delete::<SnapshotRecord>(&key)?;
                    doomed.push(s);
                }
            }
            for (chain, _) in tx.all::<LayerRecord>()? {
                if !keep.layers.contains(&chain) {
                    tx.delete::<LayerRecord>(&chain)?;
                }
            }
            Ok::<_, ImageError>(doomed)
        })?;
        let recorded: HashSet<u64> = self.db.read(|tx| {
            Ok::<_, ImageError>(tx.all::<SnapshotRecord>()?.into_iter().map(|(_, s)| s.id).collect())
        })?;
        let mut remove_ids: Vec<u64> = doomed.iter().map(|s| s.id).collect();
        remove_ids.extend(self.snapshots.ids()?.into_iter().filter(|id| !recorded.contains(id)));
        remove_ids.sort_unstable();
        remove_ids.dedup();
        for id in remove_ids {
            self.snapshots.remove(id)?;
            stats.snapshots_removed += 1;
        }
        for blob in self.content.list()? {
            if !keep.blobs.contains(&blob.digest) {
                self.content.delete(&blob.digest)?;
                stats.blobs_removed += 1;
            }
        }
        if stats.snapshots_removed > 0 || stats.blobs_removed > 0 {
            self.db.compact()?;
        }
        Ok(stats)
    }

    // ---- resolution ----

    /// Finds an image by reference (`busybox`, `busybox:1`, `name@sha256:…`), full ID
    /// (`sha256:…`) or unique ID prefix, as Docker does.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        self.db.read(|tx| Ok(self.resolve_in(tx, name)?.1))
    }

    /// The image and whether it was named by a reference (not an ID).
    pub(crate) fn resolve_in(
        &self,
        tx: &impl Reader,
        name: &str,
    ) -> Result<(Option<Reference>, ImageRecord)> {
        let not_found = || ImageError::NotFound(name.to_string());
        if let Some(hex) = name.strip_prefix("sha256:") {
            return self.by_id_prefix(tx, hex)?.map(|i| (None, i)).ok_or_else(not_found);
        }
        if let Ok(r) = Reference::parse_tagged(name) {
            if let Some(rec) = tx.get::<RefRecord>(&r.to_string())? {
                if let Some(img) = tx.get::<ImageRecord>(&rec.image.to_string())? {
                    return Ok((Some(r), img));
                }
            }
            // `name@digest`: the image whose repository digests have it (a pull by digest).
            if let Some(d) = r.digest() {
                let key = format!("{}@{d}", r.name());
                let found = tx
                    .all::<ImageRecord>()?
                    .into_iter()
                    .map(|(_, i)| i)
                    .find(|i| i.repo_digests.contains(&key));
                if let Some(img) = found {
                    return Ok((None, img));
                }
            }
        }
        if !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(img) = self.by_id_prefix(tx, name)? {
                return Ok((None, img));
            }
        }
        if let Err(e) = Reference::parse(name) {
            if !(name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(e.into());
            }
        }
        Err(not_found())
    }

    fn by_id_prefix(&self, tx: &impl Reader, hex: &str) -> Result<Option<ImageRecord>> {
        if hex.len() == 64 {
            return Ok(tx.get::<ImageRecord>(&format!("sha256:{hex}"))?);
        }
        let hits: Vec<ImageRecord> = tx
            .all::<ImageRecord>()?
            .into_iter()
            .filter(|(_, i)| i.id.hex().starts_with(hex))
            .map(|(_, i)| i)
            .collect();
        match hits.len() {
            0 => Ok(None),
            1 => Ok(hits.into_iter().next()),
            _ => Err(ImageError::InvalidArgument(format!("multiple IDs found with provided prefix: {hex}"))),
        }
    }

    pub(crate) fn config_of(&self, img: &ImageRecord) -> Result<ImageConfig> {
        ImageConfig::parse(&self.content.read_blob(&img.id)?)
    }

    /// References to an image, as records' keys (normalised strings).
    pub(crate) fn refs_of(tx: &impl Reader, id: &Digest) -> Result<Vec<Reference>> {
        let mut out: Vec<Reference> = tx
            .all::<RefRecord>()?
            .into_iter()
            .filter(|(_, r)| &r.image == id)
            .filter_map(|(k, _)| Reference::parse(&k).ok())
            .collect();
        out.sort();
        Ok(out)
    }

    // ---- tags ----

    /// Points `target` (`name[:tag]`) at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let r = Reference::parse(target)?;
        if r.digest().is_some() {
            return Err(ImageError::InvalidArgument(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let r = r.with_default_tag();
        self.db.write(|tx| {
            let (_, img) = self.resolve_in(tx, source)?;
            tx.put(&r.to_string(), &RefRecord { image: img.id.clone(), updated: now_nanos() })?;
            Ok(())
        })
    }

    /// Records an image (if new, counting its layers' references) and points `tags` at it.
    /// Returns, for each tag that moved, the image it used to name.
    pub(crate) fn put_image(
        tx: &mut WriteTx,
        img: &ImageRecord,
        tags: &[Reference],
    ) -> Result<Vec<(Reference, Digest)>> {
        let key = img.id.to_string();
        match tx.get::<ImageRecord>(&key)? {
            Some(mut existing) => {
                let mut changed = false;
                if existing.manifest.is_none() && img.manifest.is_some() {
                    existing.manifest = img.manifest.clone();
                    changed = true;
                }
                for d in &img.repo_digests {
                    if !existing.repo_digests.contains(d) {
                        existing.repo_digests.push(d.clone());
                        changed = true;
                    }
                }
                if changed {
                    tx.put(&key, &existing)?;
                }
            }
            None => {
                for layer in &img.layers {
                    let ck = layer.chain_id.to_string();
                    let mut lr = tx.get::<LayerRecord>(&ck)?.ok_or_else(|| {
                        ImageError::InvalidArchive(format!("layer {} was not extracted", layer.chain_id))
                    })?;
                    lr.references += 1;
                    tx.put(&ck, &lr)?;
                }
                tx.put(&key, img)?;
            }
        }
        let mut moved = Vec::new();
        for t in tags {
            let k = t.to_string();
            if let Some(old) = tx.get::<RefRecord>(&k)? {
                if old.image != img.id {
                    moved.push((t.clone(), old.image));
                }
            }
            tx.put(&k, &RefRecord { image: img.id.clone(), updated: now_nanos() })?;
        }
        Ok(moved)
    }

    // ---- removal ----

    /// `docker rmi`: untags, and deletes the image when nothing else names or uses it, with
    /// Docker's rules and messages for conflicts.
    pub fn remove(&self, name: &str, force: bool, users: &[ImageUser]) -> Result<Vec<DeleteItem>> {
        let items = self.db.write(|tx| {
            let (by_ref, img) = self.resolve_in(tx, name)?;
            let id = img.id.clone();
            let mut items = Vec::new();
            let refs = Self::refs_of(tx, &id)?;
            let user = users.iter().find(|u| u.image == id);
            let mut quiet = false;
            if let Some(r) = by_ref {
                if !force && refs.len() == 1 {
                    if let Some(u) = user {
                        return Err(ImageError::Conflict(format!(
                            "conflict: unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                            short_container(u),
                            short(&id)
                        )));
                    }
                }
                tx.delete::<RefRecord>(&r.to_string())?;
                items.push(DeleteItem::Untagged(r.familiar()));
                let mut left: Vec<Reference> = refs.into_iter().filter(|x| x != &r).collect();
                // The last tag of a repository takes that repository's digest references along.
                if r.digest().is_none() && !left.iter().any(|x| x.digest().is_none() && x.name() == r.name()) {
                    for d in left.iter().filter(|x| x.digest().is_some() && x.name() == r.name()) {
                        tx.delete::<RefRecord>(&d.to_string())?;
                        items.push(DeleteItem::Untagged(d.familiar()));
                    }
                    left.retain(|x| !(x.digest().is_some() && x.name() == r.name()));
                }
                if !left.is_empty() {
                    return Ok(items);
                }
                quiet = true;
            } else {
                let tags = refs.iter().filter(|r| r.digest().is_none()).count();
                let one_repo = refs.iter().all(|r| r.name() == refs[0].name());
                if tags <= 1 && one_repo {
                    for r in &refs {
                        tx.delete::<RefRecord>(&r.to_string())?;
                        items.push(DeleteItem::Untagged(r.familiar()));
                    }
                }
            }
            // Conflicts that force cannot override, then those it can.
            let children = tx.all::<ImageRecord>()?.into_iter().any(|(_, i)| i.parent.as_ref() == Some(&id));
            let hard = if children {
                Some("image has dependent child images".to_string())
            } else {
                users
                    .iter()
                    .find(|u| u.image == id && u.running)
                    .map(|u| format!("image is being used by running container {}", short_container(u)))
            };
            let remaining = Self::refs_of(tx, &id)?;
            let soft = if force {
                None
            } else if !remaining.is_empty() {
                Some("image is referenced in multiple repositories".to_string())
            } else {
                user.map(|u| format!("image is being used by stopped container {}", short_container(u)))
            };
            let conflict = hard
                .map(|why| format!("conflict: unable to delete {} (cannot be forced) - {why}", short(&id)))
                .or_else(|| soft.map(|why| format!("conflict: unable to delete {} (must be forced) - {why}", short(&id))));
            if let Some(msg) = conflict {
                // Having untagged the last reference, a conflict keeps the image, quietly.
                return if quiet { Ok(items) } else { Err(ImageError::Conflict(msg)) };
            }
            for r in remaining {
                tx.delete::<RefRecord>(&r.to_string())?;
                items.push(DeleteItem::Untagged(r.familiar()));
            }
            items.push(DeleteItem::Deleted(id.to_string()));
            for chain in Self::delete_image(tx, &img)? {
                items.push(DeleteItem::Deleted(chain.to_string()));
            }
            Ok(items)
        })?;
        self.collect()?;
        Ok(items)
    }

    /// Deletes an image record and releases its layers; returns the chain IDs no image uses now.
    fn delete_image(tx: &mut WriteTx, img: &ImageRecord) -> Result<Vec<Digest>> {
        tx.delete::<ImageRecord>(&img.id.to_string())?;
        let mut released = Vec::new();
        for layer in img.layers.iter().rev() {
            let ck = layer.chain_id.to_string();
            if let Some(mut lr) = tx.get::<LayerRecord>(&ck)? {
                lr.references = lr.references.saturating_sub(1);
                if lr.references == 0 {
                    released.push(lr.chain_id.clone());
                }
                tx.put(&ck, &lr)?;
            }
        }
        Ok(released)
    }

    /// `docker image prune`: dangling images, or (`all`) every image no container uses.
    /// `until` (Unix seconds) keeps images created later; `labels` as in `label=` filters.
    pub fn prune(
        &self,
        all: bool,
        users: &[ImageUser],
        until: Option<i64>,
        labels: &[String],
    ) -> Result<PruneReport> {
        let used: HashSet<&Digest> = users.iter().map(|u| &u.image).collect();
        let candidates: Vec<ImageRecord> = self.db.read(|tx| {
            let mut out = Vec::new();
            for (_, img) in tx.all::<ImageRecord>()? {
                if used.contains(&img.id) {
                    continue;
                }
                let tagged = Self::refs_of(tx, &img.id)?.iter().any(|r| r.tag().is_some());
                if tagged && !all {
                    continue;
                }
                if let Some(t) = until {
                    if crate::inspect::created_unix(&img) >= t {
                        continue;
                    }
                }
                if !labels.is_empty() {
                    let cfg = self.config_of(&img)?;
                    if !crate::inspect::labels_match(&cfg, labels) {
                        continue;
                    }
                }
                out.push(img);
            }
            Ok::<_, ImageError>(out)
        })?;
        let before = self.layer_sizes()?;
        let mut report = PruneReport::default();
        self.db.write(|tx| {
            for img in &candidates {
                for r in Self::refs_of(tx, &img.id)? {
                    tx.delete::<RefRecord>(&r.to_string())?;
                    report.deleted.push(DeleteItem::Untagged(r.familiar()));
                }
                report.deleted.push(DeleteItem::Deleted(img.id.to_string()));
                for chain in Self::delete_image(tx, img)? {
                    report.deleted.push(DeleteItem::Deleted(chain.to_string()));
                }
            }
            Ok::<_, ImageError>(())
        })?;
        self.collect()?;
        let after = self.layer_sizes()?;
        report.space_reclaimed = before.iter().filter(|(k, _)| !after.contains_key(*k)).map(|(_, s)| s).sum();
        Ok(report)
    }

    fn layer_sizes(&self) -> Result<HashMap<String, u64>> {
        self.db.read(|tx| Ok(tx.all::<LayerRecord>()?.into_iter().map(|(k, l)| (k, l.size)).collect()))
    }

    // ---- listing ----

    /// Images with their references, filtered as `docker images --filter` does.
    pub fn list(&self, f: &ListFilters) -> Result<Vec<crate::ImageSummary>> {
        self.db.read(|tx| {
            let bound = |name: &Option<String>| -> Result<Option<i64>> {
                match name {
                    Some(n) => Ok(Some(crate::inspect::created_unix(&self.resolve_in(tx, n)?.1))),
                    None => Ok(None),
                }
            };
            let before = bound(&f.before)?;
            let since = bound(&f.since)?;
            let mut out = Vec::new();
            let mut images: Vec<ImageRecord> = tx.all::<ImageRecord>()?.into_iter().map(|(_, i)| i).collect();
            images.sort_by_key(|i| std::cmp::Reverse((crate::inspect::created_unix(i), i.added)));
            let parents: std::collections::HashSet<Digest> =
                images.iter().filter_map(|i| i.parent.clone()).collect();
            for img in images {
                let refs = Self::refs_of(tx, &img.id)?;
                if !f.all && refs.is_empty() && parents.contains(&img.id) {
                    continue;
                }
                let dangling = !refs.iter().any(|r| r.tag().is_some());
                if f.dangling.is_some_and(|d| d != dangling) {
                    continue;
                }
                let created = crate::inspect::created_unix(&img);
                if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                    continue;
                }
                let cfg = self.config_of(&img)?;
                if !crate::inspect::labels_match(&cfg, &f.label) {
                    continue;
                }
                let mut summary = crate::inspect::summary(&img, &cfg, &refs);
                if !f.reference.is_empty() {
                    let keep: Vec<String> = summary
                        .repo_tags
                        .iter()
                        .filter(|t| f.reference.iter().any(|p| reference_matches(p, t)))
                        .cloned()
                        .collect();
                    if keep.is_empty() {
                        continue;
                    }
                    summary.repo_tags = keep;
                }
                out.push(summary);
            }
            Ok(out)
        })
    }

    pub fn inspect(&self, name: &str) -> Result<crate::ImageInspect> {
        self.db.read(|tx| {
            let (_, img) = self.resolve_in(tx, name)?;
            let refs = Self::refs_of(tx, &img.id)?;
            let cfg = self.config_of(&img)?;
            let layers: Vec<Option<LayerRecord>> = img
                .layers
                .iter()
                .map(|l| tx.get::<LayerRecord>(&l.chain_id.to_string()))
                .collect::<Result<_, _>>()?;
            let dirs = self.layer_dirs(tx, layers.last().cloned().flatten().as_ref())?;
            Ok(crate::inspect::inspect(&img, &cfg, &refs, self.snapshots.name(), &dirs))
        })
    }

    /// Directories of a layer stack, topmost first.
    fn layer_dirs(&self, tx: &impl Reader, top: Option<&LayerRecord>) -> Result<Vec<PathBuf>> {
        let Some(top) = top else { return Ok(Vec::new()) };
        Ok(self.snapshot_chain(tx, &top.snapshot)?.iter().map(|id| self.snapshots.dir(*id)).collect())
    }

    pub fn history(&self, name: &str) -> Result<Vec<crate::HistoryItem>> {
        self.db.read(|tx| {
            let (_, img) = self.resolve_in(tx, name)?;
            let refs = Self::refs_of(tx, &img.id)?;
            let cfg = self.config_of(&img)?;
            let mut sizes = Vec::new();
            for l in &img.layers {
                sizes.push(tx.get::<LayerRecord>(&l.chain_id.to_string())?.map(|r| r.size).unwrap_or(0));
            }
            Ok(crate::inspect::history(&img, &cfg, &refs, &sizes))
        })
    }

    /// `docker system df` for images: sizes shared between images and unique to each, and what
    /// removing every image no container uses would free.
    pub fn disk_usage(&self, users: &[ImageUser]) -> Result<crate::DiskUsage> {
        self.db.read(|tx| {
            let layers: HashMap<String, LayerRecord> = tx.all::<LayerRecord>()?.into_iter().collect();
            let images: Vec<ImageRecord> = tx.all::<ImageRecord>()?.into_iter().map(|(_, i)| i).collect();
            let mut used_by: HashMap<&Digest, usize> = HashMap::new();
            for i in &images {
                for l in &i.layers {
                    *used_by.entry(&l.chain_id).or_default() += 1;
                }
            }
            let size_of = |c: &Digest| layers.get(&c.to_string()).map(|l| l.size).unwrap_or(0);
            let in_use: HashSet<&Digest> = users.iter().map(|u| &u.image).collect();
            let mut kept_layers: HashSet<&Digest> = HashSet::new();
            let mut out = Vec::new();
            for i in &images {
                let size: u64 = i.layers.iter().map(|l| size_of(&l.chain_id)).sum();
                let shared: u64 =
                    i.layers.iter().filter(|l| used_by[&l.chain_id] > 1).map(|l| size_of(&l.chain_id)).sum();
                let containers = users.iter().filter(|u| u.image == i.id).count();
                if in_use.contains(&i.id) {
                    kept_layers.extend(i.layers.iter().map(|l| &l.chain_id));
                }
                let refs = Self::refs_of(tx, &i.id)?;
                let cfg = self.config_of(i)?;
                out.push(crate::ImageDiskUsage {
                    summary: crate::inspect::summary(i, &cfg, &refs),
                    size,
                    shared_size: shared,
                    unique_size: size - shared,
                    containers,
                });
            }
            let layers_size: u64 = used_by.keys().map(|c| size_of(c)).sum();
            let kept: u64 = kept_layers.iter().map(|c| size_of(c)).sum();
            Ok(crate::DiskUsage { layers_size, reclaimable: layers_size - kept, images: out })
        })
    }

    // ---- snapshots ----

    /// Snapshot ids from `key` down to the base, topmost first.
    pub(crate) fn snapshot_chain(&self, tx: &impl Reader, key: &str) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        let mut next = Some(key.to_string());
        while let Some(k) = next {
            let s =
                tx.get::<SnapshotRecord>(&k)?.ok_or_else(|| ImageError::NotFound(format!("snapshot {k}")))?;
            ids.push(s.id);
            next = s.parent;
        }
        Ok(ids)
    }

    /// A layer record, if that chain is extracted.
    pub(crate) fn layer(&self, chain: &Digest) -> Result<Option<LayerRecord>> {
        Ok(self.db.read(|tx| tx.get::<LayerRecord>(&chain.to_string()))?)
    }

    // ---- containers' root filesystems ----

    /// Creates the writable layer `key` on top of `image` and returns how to mount it.
    pub fn prepare_rootfs(&self, key: &str, image: &str) -> Result<Vec<Mount>> {
        let (id, parents) = self.db.write(|tx| {
            if tx.get::<SnapshotRecord>(key)?.is_some() {
                return Err(ImageError::Conflict(format!("a root filesystem named {key} already exists")));
            }
            let (_, img) = self.resolve_in(tx, image)?;
            let parent = img.layers.last().map(|l| l.chain_id.to_string());
            let parents = match &parent {
                Some(p) => self
                    .snapshot_chain(tx, &tx.get::<LayerRecord>(p)?.map(|l| l.snapshot).unwrap_or_default())?,
                None => Vec::new(),
            };
            let id = tx.next_id()?;
            tx.put(key, &SnapshotRecord { id, kind: SnapshotKind::Active, parent })?;
            Ok((id, parents))
        })?;
        self.snapshots.prepare(id, &parents)?;
        Ok(self.snapshots.mounts(id, &parents))
    }

    fn active(&self, key: &str) -> Result<(u64, Vec<u64>)> {
        self.db.read(|tx| {
            let chain = self.snapshot_chain(tx, key)?;
            Ok((chain[0], chain[1..].to_vec()))
        })
    }

    pub fn mount_rootfs(&self, key: &str, target: &Path) -> Result<()> {
        let (id, parents) = self.active(key)?;
        Ok(self.snapshots.mount(id, &parents, target)?)
    }

    /// What a container changed (`docker diff`); with `out`, the layer tar (`docker commit`).
    pub fn rootfs_changes(&self, key: &str, out: Option<&mut dyn std::io::Write>) -> Result<Vec<Change>> {
        let (id, parents) = self.active(key)?;
        Ok(self.snapshots.diff(id, &parents, out)?)
    }

    /// Bytes a writable layer holds (what the container wrote: `SizeRw`).
    pub fn rootfs_usage(&self, key: &str) -> Result<u64> {
        let (id, _) = self.active(key)?;
        Ok(self.snapshots.usage(id)?)
    }

    /// Removes a writable layer (it must be unmounted); layers only it kept go too.
    /// Removes a writable layer: its record, then its directory. Only when it was the last to
    /// hold on to its image's layers (the image was removed meanwhile) does a whole collection
    /// run; a container's removal is otherwise one transaction and one directory.
    pub fn remove_rootfs(&self, key: &str) -> Result<()> {
        let _g = self.gc.lock().unwrap_or_else(|e| e.into_inner());
        let removed = self.db.write(|tx| {
            let Some(s) = tx.get::<SnapshotRecord>(key)? else { return Ok::<_, ImageError>(None) };
            tx.delete::<SnapshotRecord>(key)?;
            let orphans = s.kind != SnapshotKind::Active
                || s.parent.as_ref().is_some_and(|p| !reachable(&*tx).is_ok_and(|r| r.snapshots.contains(p)));
            Ok(Some((s.id, orphans)))
        })?;
        match removed {
            None => Ok(()),
            Some((id, false)) => Ok(self.snapshots.remove(id)?),
            Some((_, true)) => {
                drop(_g);
                self.collect().map(|_| ())
            }
        }
    }

    /// The keys of every writable layer (containers' root filesystems).
    pub fn rootfs_keys(&self) -> Result<Vec<String>> {
        self.db.read(|tx| {
            Ok(tx
                .all::<SnapshotRecord>()?
                .into_iter()
                .filter(|(k, s)| s.kind == SnapshotKind::Active && !k.starts_with("extract-"))
                .map(|(k, _)| k)
                .collect())
        })
    }

    /// What the records reach: (blobs, snapshot directory ids).
    pub fn referenced(&self) -> Result<(Vec<Digest>, Vec<u64>)> {
        self.db.read(|tx| {
            let r = reachable(tx)?;
            let snaps: HashMap<String, SnapshotRecord> = tx.all::<SnapshotRecord>()?.into_iter().collect();
            let ids = r.snapshots.iter().filter_map(|k| snaps.get(k).map(|s| s.id)).collect();
            Ok(((r.blobs.into_iter().collect()), ids))
        })
    }
}

fn short_container(u: &ImageUser) -> &str {
    &u.container[..u.container.len().min(12)]
}

/// `reference=` patterns match the familiar name, or name and tag.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let name = tag.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map(|(n, _)| n).unwrap_or(tag);
    glob::matches(pattern, tag) || glob::matches(pattern, name)
}
