//! Writing into the store: a [`WriteSession`] is what load, import and commit use today, and
//! what pull and build will use. Everything a session writes (blobs, extracted layers) is held
//! by its lease, so a collection running meanwhile cannot take it; an image recorded by the
//! session keeps what it names. [`WriteSession::finish`] ends it keeping its images; a session
//! dropped unfinished (an error, a cancelled pull) is rolled back: its lease goes and a
//! collection removes whatever it wrote that no image reaches.

use std::io::Read;

use berth_archive::{apply, decompress, ApplyOptions};
use berth_content::{Algorithm, BlobInfo, Digest, DigestReader, Ingest};
use berth_metadata::{
    ImageLayer, ImageRecord, LayerRecord, LeaseRecord, Reader, SnapshotKind, SnapshotRecord,
};
use berth_oci::Reference;

use crate::store::{now_nanos, ImageStore};
use crate::{ImageError, Result};

/// A layer extracted by a session but not yet recorded ([`WriteSession::attach`] does that).
#[derive(Debug)]
pub struct Extracted {
    /// The snapshot's key while it is only held by the session's lease.
    tmp_key: String,
    pub diff_id: Digest,
    size: u64,
}

/// A session of writes into the store (see the module's documentation).
pub struct WriteSession<'a> {
    store: &'a ImageStore,
    id: String,
    finished: bool,
}

impl ImageStore {
    /// Starts a session of writes (a lease in the database).
    pub fn session(&self) -> Result<WriteSession<'_>> {
        let id = format!("{}-{}", std::process::id(), now_nanos());
        self.db.write(|tx| tx.put(&id, &LeaseRecord { created: now_nanos(), ..Default::default() }))?;
        Ok(WriteSession { store: self, id, finished: false })
    }

    /// Runs `f` in a session, finished when `f` succeeds and rolled back when it fails.
    pub fn with_session<T>(&self, f: impl FnOnce(&WriteSession<'_>) -> Result<T>) -> Result<T> {
        let session = self.session()?;
        let out = f(&session)?;
        session.finish()?;
        Ok(out)
    }
}

impl WriteSession<'_> {
    pub(crate) fn store(&self) -> &ImageStore {
        self.store
    }

    /// A new blob being written; at [`WriteSession::commit_blob`] its digest (sha256 or
    /// sha512) and size are checked against `expected` when given.
    pub fn ingest(&self, expected: Option<(Digest, Option<u64>)>) -> Result<Ingest> {
        Ok(self.store.content.ingest(expected)?)
    }

    /// Commits an ingest (size and digest checked, synced, renamed into place) and holds the
    /// blob, atomically with respect to collection.
    pub fn commit_blob(&self, ingest: Ingest) -> Result<BlobInfo> {
        let _g = self.store.gc.lock().unwrap_or_else(|e| e.into_inner());
        let info = ingest.commit()?;
        self.record(|l| {
            if !l.blobs.contains(&info.digest) {
                l.blobs.push(info.digest.clone());
            }
        })?;
        Ok(info)
    }

    /// A blob of these bytes (a config, a manifest), held.
    pub fn put_bytes(&self, data: &[u8]) -> Result<Digest> {
        let mut w = self.ingest(None)?;
        std::io::Write::write_all(&mut w, data).map_err(ImageError::io("write", "blob"))?;
        Ok(self.commit_blob(w)?.digest)
    }

    /// Holds a blob this session will name, so a collection cannot take it meanwhile; false
    /// when it is not (or no longer) there.
    pub fn hold_blob(&self, digest: &Digest) -> Result<bool> {
        let _g = self.store.gc.lock().unwrap_or_else(|e| e.into_inner());
        if self.store.content.info(digest).is_none() {
            return Ok(false);
        }
        self.record(|l| {
            if !l.blobs.contains(digest) {
                l.blobs.push(digest.clone());
            }
        })?;
        Ok(true)
    }

    /// Holds an extracted layer this session will use, so a collection cannot take it
    /// meanwhile. `None` when the layer is not (or no longer) there.
    pub fn hold_layer(&self, chain: &Digest) -> Result<Option<LayerRecord>> {
        let _g = self.store.gc.lock().unwrap_or_else(|e| e.into_inner());
        let Some(layer) = self.store.layer(chain)? else { return Ok(None) };
        let key = chain.to_string();
        self.record(|l| {
            if !l.layers.contains(&key) {
                l.layers.push(key.clone());
            }
        })?;
        Ok(Some(layer))
    }

    /// Extracts one layer (plain or compressed tar, as its bytes arrive) on top of `parent` and
    /// records it. Checks the uncompressed digest against `expected` (the config's diff ID) when
    /// given: a mismatch fails, and the extracted directory goes with the session's rollback.
    pub fn unpack_layer(
        &self,
        parent: Option<&LayerRecord>,
        expected: Option<&Digest>,
        reader: impl Read,
    ) -> Result<LayerRecord> {
        let store = self.store;
        let parent_ids = match parent {
            Some(p) => store.db.read(|tx| store.snapshot_chain(tx, &p.snapshot))?,
            None => Vec::new(),
        };
        let extracted = self.extract_into(&parent_ids, expected, reader)?;
        self.attach(extracted, parent)
    }

    /// Whether a layer can be extracted before its parents are ([`WriteSession::extract_layer`]):
    /// true where a layer's directory holds only its own changes (overlayfs).
    pub fn layers_extract_apart(&self) -> bool {
        self.store.snapshots.layers_stand_alone()
    }

    /// Extracts one layer on its own, before its parents are there (only where
    /// [`WriteSession::layers_extract_apart`]), for extracting a pull's layers side by side;
    /// [`WriteSession::attach`] then records it on its parent, in order. Checks the diff ID as
    /// [`WriteSession::unpack_layer`] does.
    pub fn extract_layer(&self, expected: Option<&Digest>, reader: impl Read) -> Result<Extracted> {
        debug_assert!(self.layers_extract_apart());
        self.extract_into(&[], expected, reader)
    }

    fn extract_into(
        &self,
        parent_ids: &[u64],
        expected: Option<&Digest>,
        reader: impl Read,
    ) -> Result<Extracted> {
        let store = self.store;
        let (id, tmp_key) = store.db.write(|tx| {
            let id = tx.next_id()?;
            let tmp_key = format!("extract-{}-{id}", self.id);
            tx.put(&tmp_key, &SnapshotRecord { id, kind: SnapshotKind::Committed, parent: None })?;
            let mut l = tx.get::<LeaseRecord>(&self.id)?.unwrap_or_default();
            l.snapshots.push(tmp_key.clone());
            tx.put(&self.id, &l)?;
            Ok::<_, ImageError>((id, tmp_key))
        })?;
        let dir = store.snapshots.prepare(id, parent_ids)?;
        let (_, plain) =
            decompress(reader).map_err(|e| ImageError::InvalidArchive(format!("reading layer: {e}")))?;
        let mut hashed = DigestReader::new(plain, Algorithm::Sha256);
        let opts = ApplyOptions {
            whiteouts: store.snapshots.whiteouts(),
            same_owner: nix::unistd::geteuid().is_root(),
        };
        let stats = apply(&dir, &mut hashed, &opts)?;
        let (diff_id, _) =
            hashed.finish().map_err(|e| ImageError::InvalidArchive(format!("reading layer: {e}")))?;
        if let Some(want) = expected {
            if want != &diff_id {
                return Err(ImageError::InvalidArchive(format!(
                    "layer digest mismatch: the config names {want}, the layer is {diff_id}"
                )));
            }
        }
        Ok(Extracted { tmp_key, diff_id, size: stats.size })
    }

    /// Records an extracted layer on top of `parent` (which must be recorded already) and
    /// holds it. When the same layer was recorded meanwhile, that one is kept and this copy
    /// goes with the session's rollback.
    pub fn attach(&self, extracted: Extracted, parent: Option<&LayerRecord>) -> Result<LayerRecord> {
        let Extracted { tmp_key, diff_id, size } = extracted;
        let chain = match parent {
            Some(p) => crate::config::chain_ids(&[p.chain_id.clone(), diff_id.clone()]).pop().expect("two"),
            None => diff_id.clone(),
        };
        let chain_key = chain.to_string();
        let record = LayerRecord {
            chain_id: chain.clone(),
            diff_id,
            parent: parent.map(|p| p.chain_id.clone()),
            snapshot: chain_key.clone(),
            size,
            references: 0,
        };
        let winner = self.store.db.write(|tx| {
            let mut snap = tx.get::<SnapshotRecord>(&tmp_key)?.expect("leased snapshot");
            if let Some(existing) = tx.get::<LayerRecord>(&chain_key)? {
                // Someone extracted the same layer meanwhile; ours goes with the lease.
                return Ok::<_, ImageError>(existing);
            }
            snap.parent = parent.map(|p| p.snapshot.clone());
            tx.delete::<SnapshotRecord>(&tmp_key)?;
            tx.put(&chain_key, &snap)?;
            tx.put(&chain_key, &record)?;
            Ok(record.clone())
        })?;
        self.hold_layer(&winner.chain_id)?;
        Ok(winner)
    }

    /// Records an image (its config, manifest and layers held by this session) and points
    /// `tags` at it, in one transaction. Returns, for each tag that moved, the image it used to
    /// name.
    pub fn put_image(&self, img: &ImageRecord, tags: &[Reference]) -> Result<Vec<(Reference, Digest)>> {
        self.store.db.write(|tx| ImageStore::put_image(tx, img, tags))
    }

    /// Records an image made in this store (import, commit): Docker's config media type, no
    /// manifest, `tag` pointed at it.
    pub fn put_local_image(
        &self,
        id: &Digest,
        layers: Vec<ImageLayer>,
        created: String,
        size: u64,
        parent: Option<Digest>,
        tag: Option<Reference>,
    ) -> Result<()> {
        let img = ImageRecord {
            id: id.clone(),
            config_media_type: berth_oci::media::DOCKER_CONFIG.into(),
            manifest: None,
            layers,
            created: Some(created),
            size,
            parent,
            added: now_nanos(),
            repo_digests: Vec::new(),
        };
        let tags: Vec<Reference> = tag.into_iter().collect();
        self.put_image(&img, &tags)?;
        Ok(())
    }

    /// Ends the session: its images keep what they name. What it wrote that no image names
    /// stays until the next collection (a load collects at once: its archive's other members).
    pub fn finish(mut self) -> Result<()> {
        self.finished = true;
        self.release();
        Ok(())
    }

    fn release(&self) {
        let _ = self.store.db.write(|tx| tx.delete::<LeaseRecord>(&self.id));
    }

    fn record(&self, change: impl FnOnce(&mut LeaseRecord)) -> Result<()> {
        self.store.db.write(|tx| {
            let mut l = tx.get::<LeaseRecord>(&self.id)?.unwrap_or_default();
            change(&mut l);
            tx.put(&self.id, &l)
        })?;
        Ok(())
    }
}

impl Drop for WriteSession<'_> {
    /// A session dropped unfinished is rolled back.
    fn drop(&mut self) {
        if !self.finished {
            self.release();
            if let Err(e) = self.store.collect() {
                tracing::warn!(error = %e, "collecting after a write session failed");
            }
        }
    }
}
