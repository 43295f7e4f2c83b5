//! Online garbage collection: untagged manifests and unreferenced blobs go while the registry
//! serves.
//!
//! A manifest lives when it is tagged, younger than the grace period, listed by a living index
//! or the subject of none but a living manifest's referrers (its `subject` lives). A blob lives
//! in a repository when a living manifest there needs it or its link is younger than the grace
//! period; a blob's bytes live while some repository or manifest holds them.
//!
//! The collector holds the store's lock alone from marking until every dead blob is out of the
//! store (renamed into `trash/`, which is quick whatever a blob's size); its bytes are removed
//! after the lock is released, so a large collection does not stall pushes. Everything
//! that makes a blob reachable (an upload's commit and link, a mount, a manifest's push, which
//! checks its blobs and records itself in one transaction) holds it shared. So a manifest the
//! registry accepted never loses a blob; a push whose blobs were collected between their
//! upload and its manifest (only possible with a grace period shorter than the push) is told
//! `MANIFEST_BLOB_UNKNOWN` and pushes them again, as clients do.

use std::collections::{HashMap, HashSet};

use berth_content::Digest;
use berth_metadata::Reader;

use crate::error::{io_err, Result};
use crate::records::{now, split_object_key, LinkRecord, ManifestRecord, TagRecord};
use crate::store::Store;

/// What one collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Collected {
    pub manifests: usize,
    pub links: usize,
    pub blobs: usize,
    pub bytes: u64,
    pub uploads: usize,
}

/// Marks the manifests that live, by repository and digest.
fn living_manifests(
    manifests: &HashMap<(String, Digest), ManifestRecord>,
    tags: &[(String, TagRecord)],
    cutoff: u64,
) -> HashSet<(String, Digest)> {
    let mut live: HashSet<(String, Digest)> = HashSet::new();
    let mut work: Vec<(String, Digest)> = Vec::new();
    for (key, t) in tags {
        if let Some((repo, _)) = key.split_once(':') {
            work.push((repo.to_string(), t.digest.clone()));
        }
    }
    for (k, m) in manifests {
        if m.created > cutoff {
            work.push(k.clone());
        }
    }
    // Referrers by subject, to follow from a subject to what refers to it.
    let mut referrers: HashMap<(String, Digest), Vec<Digest>> = HashMap::new();
    for ((repo, d), m) in manifests {
        if let Some(s) = &m.subject {
            referrers.entry((repo.clone(), s.clone())).or_default().push(d.clone());
        }
    }
    while let Some(k) = work.pop() {
        if !manifests.contains_key(&k) || !live.insert(k.clone()) {
            continue;
        }
        let m = &manifests[&k];
        for child in &m.manifests {
            work.push((k.0.clone(), child.clone()));
        }
        for r in referrers.get(&k).into_iter().flatten() {
            work.push((k.0.clone(), r.clone()));
        }
    }
    live
}

/// Removes the bytes of collected blobs (and of any a collection cut short left behind).
pub(crate) fn empty_trash(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if let Err(err) = std::fs::remove_file(e.path()) {
            tracing::warn!(path = %e.path().display(), error = %err, "removing a collected blob failed");
        }
    }
}

impl Store {
    /// Collects what nothing reaches; `grace` seconds spare what was just pushed.
    pub fn collect(&self, grace: u64) -> Result<Collected> {
        let out = self.mark_and_retire(grace)?;
        empty_trash(&self.trash_dir);
        Ok(out)
    }

    /// The collection's part under the lock: what nothing reaches is deleted from the records
    /// and its blobs are moved to the trash.
    fn mark_and_retire(&self, grace: u64) -> Result<Collected> {
        let _alone = self.gc_lock.write().unwrap_or_else(|e| e.into_inner());
        let cutoff = now().saturating_sub(grace);
        let mut out = Collected::default();
        let living_blobs = self.db.write(|tx| {
            let manifests: HashMap<(String, Digest), ManifestRecord> = tx
                .all::<ManifestRecord>()?
                .into_iter()
                .filter_map(|(k, m)| split_object_key(&k).map(|(r, d)| ((r.to_string(), d), m)))
                .collect();
            let tags = tx.all::<TagRecord>()?;
            let live = living_manifests(&manifests, &tags, cutoff);
            let mut needed: HashSet<(String, Digest)> = HashSet::new();
            for ((repo, d), m) in &manifests {
                if live.contains(&(repo.clone(), d.clone())) {
                    needed.extend(m.blobs.iter().map(|b| (repo.clone(), b.clone())));
                } else {
                    tx.delete::<ManifestRecord>(&crate::records::object_key(repo, d))?;
                    out.manifests += 1;
                }
            }
            let mut blobs: HashSet<Digest> = live.iter().map(|(_, d)| d.clone()).collect();
            for (key, link) in tx.all::<LinkRecord>()? {
                let Some((repo, d)) = split_object_key(&key) else { continue };
                if link.linked > cutoff || needed.contains(&(repo.to_string(), d.clone())) {
                    blobs.insert(d);
                } else {
                    tx.delete::<LinkRecord>(&key)?;
                    out.links += 1;
                }
            }
            Ok::<_, crate::RegistryError>(blobs)
        })?;
        for b in self.content.list()? {
            if !living_blobs.contains(&b.digest) {
                let from = self.content.blob_path(&b.digest);
                let to = self.trash_dir.join(format!("{}-{}", b.digest.algorithm().as_str(), b.digest.hex()));
                std::fs::rename(&from, &to).map_err(io_err("retire", &from))?;
                out.blobs += 1;
                out.bytes += b.size;
            }
        }
        Ok(out)
    }

    /// A collection, and the purge of uploads abandoned for longer than `upload_age` seconds.
    pub fn collect_all(&self, grace: u64, upload_age: u64) -> Result<Collected> {
        let mut c = self.collect(grace)?;
        c.uploads = self.purge_uploads(upload_age)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Reference;

    fn push_blob(store: &Store, repo: &str, data: &[u8]) -> Digest {
        let d = Digest::of(data);
        let id = store.start_upload(repo).unwrap();
        store.finish_upload(repo, &id, &d, Some(&mut &data[..])).unwrap();
        d
    }

    /// Pushes an image by `tag`, or by its digest.
    fn image(store: &Store, repo: &str, tag: Option<&str>, layer: &[u8], subject: Option<&Digest>) -> Digest {
        let config = push_blob(store, repo, b"{}");
        let layer_d = push_blob(store, repo, layer);
        let subject = subject
            .map(|s| format!(r#","subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{s}","size":1}}"#))
            .unwrap_or_default();
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_d}","size":{}}}]{subject}}}"#,
            layer.len()
        );
        let reference = match tag {
            Some(t) => Reference::Tag(t.to_string()),
            None => Reference::Digest(Digest::of(m.as_bytes())),
        };
        store.put_manifest(repo, &reference, None, m.as_bytes()).unwrap().0
    }

    #[test]
    fn untagged_manifests_and_their_blobs_go_tagged_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let kept = image(&store, "a", Some("v1"), b"kept layer", None);
        image(&store, "a", None, b"sig", Some(&kept));
        let dropped = image(&store, "a", Some("v2"), b"dropped layer", None);
        store.delete_manifest("a", &Reference::Tag("v2".into())).unwrap();
        // An unreferenced upload too.
        let stray = push_blob(&store, "b", b"stray");
        let c = store.collect(0).unwrap();
        assert_eq!((c.manifests, c.links), (1, 2), "{c:?}");
        // The dropped manifest, its layer, the stray blob; the shared `{}` config stays.
        assert_eq!(c.blobs, 3, "{c:?}");
        assert!(store.stat_blob("a", &Digest::of(b"kept layer")).is_ok());
        assert!(store.stat_blob("a", &Digest::of(b"sig")).is_ok(), "a referrer of a live subject lives");
        assert!(store.stat_blob("a", &Digest::of(b"dropped layer")).is_err());
        assert!(store.stat_blob("b", &stray).is_err());
        assert!(store.manifest("a", &Reference::Digest(dropped)).is_err());
        // Their bytes are gone from the disk, not only from the store.
        assert_eq!(std::fs::read_dir(&store.trash_dir).unwrap().count(), 0);
        assert_eq!(store.collect(0).unwrap(), Collected::default());
        // What a collection cut short left in the trash goes when the store is opened.
        std::fs::write(store.trash_dir.join("sha256-left"), b"bytes").unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(&store.trash_dir).unwrap().count(), 0);
    }

    #[test]
    fn the_grace_period_spares_a_push_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let blob = push_blob(&store, "a", b"uploaded, manifest to come");
        assert_eq!(store.collect(3600).unwrap(), Collected::default());
        assert!(store.stat_blob("a", &blob).is_ok());
    }

    #[test]
    fn pushes_racing_collections_never_lose_an_accepted_manifests_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let collector = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.collect(1).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            })
        };
        let mut accepted = Vec::new();
        let mut refused = 0;
        for i in 0..30u32 {
            let layer = format!("layer {i}");
            // A collection as a second turns may take the blobs before the manifest comes (a
            // one-second grace): the push is then refused, never accepted with a blob missing;
            // the pusher tries again, as clients do. Every other image is untagged at once, so
            // the collector has work.
            for _ in 0..50 {
                let config = push_blob(&store, "r", b"{}");
                let layer_d = push_blob(&store, "r", layer.as_bytes());
                let m = format!(
                    r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"x","digest":"{config}","size":2}},"layers":[{{"mediaType":"y","digest":"{layer_d}","size":{}}}]}}"#,
                    layer.len()
                );
                match store.put_manifest("r", &Reference::Tag(format!("t{i}")), None, m.as_bytes()) {
                    Ok(_) if i % 2 == 1 => {
                        store.delete_manifest("r", &Reference::Tag(format!("t{i}"))).unwrap();
                        break;
                    }
                    Ok(_) => {
                        accepted.push((config, layer_d));
                        break;
                    }
                    Err(e) => {
                        assert_eq!(e.code(), crate::Code::ManifestBlobUnknown);
                        refused += 1;
                    }
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        collector.join().unwrap();
        store.collect(0).unwrap();
        assert_eq!(accepted.len(), 15, "pushes kept losing their race ({refused} refusals)");
        for (config, layer) in &accepted {
            assert!(store.stat_blob("r", config).is_ok());
            assert!(store.stat_blob("r", layer).is_ok());
        }
    }
}
