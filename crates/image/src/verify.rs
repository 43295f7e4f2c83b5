//! The store's self-check, for tests and for a user who suspects damage: the records and the
//! disk agree.

use std::collections::{HashMap, HashSet};

use berth_metadata::{reachable, ImageRecord, LayerRecord, LeaseRecord, Reader, SnapshotRecord};

use crate::store::ImageStore;
use crate::Result;

impl ImageStore {
    /// Checks that the records and the disk agree: everything an image needs is there, layer
    /// reference counts are right, and nothing unreferenced is left. Returns the problems found.
    pub fn verify(&self) -> Result<Vec<String>> {
        let _g = self.gc.lock().unwrap_or_else(|e| e.into_inner());
        self.db.read(|tx| {
            let mut problems = Vec::new();
            let snaps: HashMap<String, SnapshotRecord> = tx.all::<SnapshotRecord>()?.into_iter().collect();
            let layers: HashMap<String, LayerRecord> = tx.all::<LayerRecord>()?.into_iter().collect();
            let dirs: HashSet<u64> = self.snapshots.ids()?.into_iter().collect();
            let mut uses: HashMap<String, u64> = HashMap::new();
            for (id, img) in tx.all::<ImageRecord>()? {
                if self.content.info(&img.id).is_none() {
                    problems.push(format!("image {id}: config blob missing"));
                }
                for l in &img.layers {
                    *uses.entry(l.chain_id.to_string()).or_default() += 1;
                    for b in l.blob.iter().chain(l.pushed.as_ref().map(|p| &p.digest)) {
                        if self.content.info(b).is_none() {
                            problems.push(format!("image {id}: layer blob {b} missing"));
                        }
                    }
                    if !layers.contains_key(&l.chain_id.to_string()) {
                        problems.push(format!("image {id}: layer {} has no record", l.chain_id));
                    }
                }
            }
            for (chain, l) in &layers {
                match snaps.get(&l.snapshot) {
                    None => problems.push(format!("layer {chain}: snapshot {} has no record", l.snapshot)),
                    Some(s) if !dirs.contains(&s.id) => {
                        problems.push(format!("layer {chain}: snapshot directory {} missing", s.id))
                    }
                    _ => {}
                }
                let want = uses.get(chain).copied().unwrap_or(0);
                if l.references != want {
                    problems.push(format!(
                        "layer {chain}: {} references recorded, {want} images use it",
                        l.references
                    ));
                }
            }
            let keep = reachable(tx)?;
            for b in self.content.list()? {
                if !keep.blobs.contains(&b.digest) {
                    problems.push(format!("blob {} is unreferenced", b.digest));
                }
            }
            let recorded: HashSet<u64> = snaps.values().map(|s| s.id).collect();
            for id in &dirs {
                if !recorded.contains(id) {
                    problems.push(format!("snapshot directory {id} has no record"));
                }
            }
            for key in snaps.keys() {
                if !keep.snapshots.contains(key) {
                    problems.push(format!("snapshot {key} is unreachable"));
                }
            }
            if !tx.all::<LeaseRecord>()?.is_empty() {
                problems.push("leases are held".to_string());
            }
            let ingest = self.content.root().join("ingest");
            if std::fs::read_dir(&ingest).map(|mut d| d.next().is_some()).unwrap_or(false) {
                problems.push("partial ingests are left".to_string());
            }
            Ok(problems)
        })
    }
}
