//! What a pull's bytes become: the store side of a pull (the registry side is the caller's).
//! [`WriteSession::pull_plan`] reads the image's config and says which of its layers are
//! already extracted (held by the session, so a collection cannot take them meanwhile);
//! the caller downloads and extracts the others through the session
//! ([`WriteSession::ingest`], [`WriteSession::unpack_layer`]) and records the image with
//! [`PullPlan::record`], with the manifest it came with and the digest its repository names.

use berth_content::{BlobInfo, Digest};
use berth_metadata::{Descriptor, ImageLayer, ImageRecord, LayerRecord, Reader};
use berth_oci::Reference;

use crate::config::{chain_ids, ImageConfig};
use crate::store::now_nanos;
use crate::{ImageError, Result, WriteSession};

/// An image about to be pulled (see the module's documentation).
#[derive(Debug, Clone)]
pub struct PullPlan {
    /// The image ID (its config's digest; the config is in the store).
    pub id: Digest,
    /// Each layer's uncompressed digest, as the config names it.
    pub diff_ids: Vec<Digest>,
    /// Each layer's chain ID.
    pub chains: Vec<Digest>,
    /// The layers already extracted here, held, with the blob an image here keeps for each
    /// (when one does: a pulled image records the blobs it can be saved and pushed from).
    pub present: Vec<Option<LayerRecord>>,
    pub present_blobs: Vec<Option<(BlobInfo, String)>>,
    /// Whether the store already has this image.
    pub exists: bool,
    created: Option<String>,
}

/// One layer of a pulled image: its blob as the manifest lists it, and the extracted layer.
#[derive(Debug, Clone)]
pub struct PulledLayer {
    pub blob: BlobInfo,
    pub media_type: String,
    pub layer: LayerRecord,
}

impl WriteSession<'_> {
    /// Stores the config and plans the pull of the image it describes, whose manifest lists
    /// `layer_count` layers.
    pub fn pull_plan(&self, config: &[u8], layer_count: usize) -> Result<PullPlan> {
        let cfg = ImageConfig::parse(config)?;
        let diff_ids = cfg.rootfs.diff_ids.clone();
        if diff_ids.len() != layer_count {
            return Err(ImageError::InvalidArchive(format!(
                "invalid manifest, layers length mismatch: expected {}, got {layer_count}",
                diff_ids.len()
            )));
        }
        let id = self.put_bytes(config)?;
        let chains = chain_ids(&diff_ids);
        let present = chains.iter().map(|c| self.hold_layer(c)).collect::<Result<Vec<_>>>()?;
        let present_blobs = chains
            .iter()
            .zip(&present)
            .map(|(c, p)| if p.is_some() { self.store().layer_blob(c) } else { Ok(None) })
            .collect::<Result<Vec<_>>>()?;
        let key = id.to_string();
        let exists = self.store().db.read(|tx| tx.get::<ImageRecord>(&key))?.is_some();
        Ok(PullPlan { id, diff_ids, chains, present, present_blobs, exists, created: cfg.created })
    }
}

impl PullPlan {
    /// Records the pulled image with its manifest, points `tag` at it and adds `repo_digest`
    /// (`name@sha256:…`) to its repository digests. Returns the image a moved tag used to name.
    pub fn record(
        self,
        session: &WriteSession<'_>,
        config_media_type: &str,
        manifest: Descriptor,
        layers: Vec<PulledLayer>,
        tag: Option<Reference>,
        repo_digest: Option<String>,
    ) -> Result<Vec<(Reference, Digest)>> {
        let size = layers.iter().map(|l| l.layer.size).sum();
        let image_layers = layers
            .into_iter()
            .zip(self.diff_ids.iter().zip(&self.chains))
            .map(|(l, (diff_id, chain))| ImageLayer {
                diff_id: diff_id.clone(),
                chain_id: chain.clone(),
                blob: Some(l.blob.digest),
                media_type: l.media_type,
                blob_size: l.blob.size,
                pushed: None,
            })
            .collect();
        let img = ImageRecord {
            id: self.id,
            config_media_type: config_media_type.to_string(),
            manifest: Some(manifest),
            layers: image_layers,
            created: self.created,
            size,
            parent: None,
            added: now_nanos(),
            repo_digests: repo_digest.into_iter().collect(),
        };
        let tags: Vec<Reference> = tag.into_iter().collect();
        session.put_image(&img, &tags)
    }
}
