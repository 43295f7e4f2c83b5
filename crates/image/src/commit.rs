//! `docker commit`: a container's writable layer becomes a new layer on top of its image.

use std::io::Read;

use berth_content::Digest;
use berth_metadata::ImageLayer;

use crate::config::{apply_changes, ContainerConfig, History, ImageConfig};
use crate::store::ImageStore;
use crate::{ImageError, Result};
use berth_oci::Reference;

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The container's configuration, which becomes the image's.
    pub config: ContainerConfig,
    /// Dockerfile instructions applied over it (`--change`).
    pub changes: Vec<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// `name[:tag]` to give the image.
    pub reference: Option<String>,
    /// The container's ID, recorded in the config.
    pub container: String,
    /// The history line's `created_by` (the container's command).
    pub created_by: String,
    /// `SOURCE_DATE_EPOCH` (Unix seconds): the image's and the history line's time, and no
    /// file in the layer newer; no container recorded. The same inputs give the same image ID.
    pub epoch: Option<i64>,
}

/// A timestamp as image configs write it: now, or the epoch a reproducible build gives.
pub(crate) fn created_at(epoch: Option<i64>) -> String {
    match epoch.and_then(|e| chrono::DateTime::from_timestamp(e, 0)) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    }
}

impl ImageStore {
    /// Commits the writable layer `key` (on top of image `parent`) as a new image.
    pub fn commit(&self, key: &str, parent: &str, opts: &CommitOptions) -> Result<Digest> {
        let tag = opts.reference.as_deref().map(Reference::parse_tagged).transpose()?;
        let parent = self.resolve(parent)?;
        let mut pconf = {
            let mut f = self.content.open_blob(&parent.id)?;
            let mut b = Vec::new();
            f.read_to_end(&mut b).map_err(ImageError::io("read", "image config"))?;
            ImageConfig::parse(&b)?
        };
        let mut config = opts.config.clone();
        apply_changes(&mut config, &opts.changes)?;
        self.with_session(|session| {
            let mut blob = session.ingest(None)?;
            match opts.epoch {
                Some(e) => {
                    let mut clamped = berth_archive::ClampMtime::new(&mut blob, e.max(0) as u64);
                    self.rootfs_changes(key, Some(&mut clamped))?;
                }
                None => {
                    self.rootfs_changes(key, Some(&mut blob))?;
                }
            }
            let blob = session.commit_blob(blob)?;
            let parent_layer = match parent.layers.last() {
                Some(l) => session.hold_layer(&l.chain_id)?,
                None => None,
            };
            let layer =
                session.unpack_layer(parent_layer.as_ref(), None, self.content.open_blob(&blob.digest)?)?;
            let now = created_at(opts.epoch);
            pconf.config = Some(config.clone());
            pconf.created = Some(now.clone());
            pconf.author = opts.author.clone().filter(|a| !a.is_empty());
            pconf.comment = opts.comment.clone().filter(|c| !c.is_empty());
            pconf.container = Some(opts.container.clone()).filter(|_| opts.epoch.is_none());
            pconf.container_config = None;
            pconf.build_cache.clear();
            pconf.history.push(History {
                created: Some(now.clone()),
                created_by: Some(opts.created_by.clone()),
                author: pconf.author.clone(),
                comment: pconf.comment.clone(),
                empty_layer: false,
            });
            pconf.rootfs.diff_ids.push(layer.diff_id.clone());
            let bytes = serde_json::to_vec(&pconf).expect("json");
            let id = session.put_bytes(&bytes)?;
            let media_type = self.layer_media_type(&blob.digest)?;
            let mut layers = parent.layers.clone();
            layers.push(ImageLayer {
                diff_id: layer.diff_id.clone(),
                chain_id: layer.chain_id.clone(),
                blob: Some(blob.digest),
                media_type,
                blob_size: blob.size,
                pushed: None,
            });
            session.put_local_image(
                &id,
                layers,
                now,
                parent.size + layer.size,
                Some(parent.id.clone()),
                tag,
            )?;
            Ok(id)
        })
    }
}
