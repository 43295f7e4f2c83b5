//! The store side of a push: what goes to the registry for an image (its config and layer
//! blobs, and its manifest: the one it came with, byte for byte, with the blobs as stored; or a
//! Docker schema 2 one made for it, naming gzip-compressed blobs for layers stored as plain
//! tars, as Docker pushes), and the repository digest the push earns it.

use berth_content::Digest;
use berth_metadata::{Descriptor, ImageRecord, Reader, RefRecord};
use berth_oci::media;
use berth_oci::Reference;
use serde_json::json;

use crate::store::ImageStore;
use crate::{ImageError, Result};

/// One blob of a push.
#[derive(Debug, Clone)]
pub struct PushBlob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    /// A layer's uncompressed digest (the ID Docker's push progress shows).
    pub diff_id: Option<Digest>,
}

/// What a push of one image sends.
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub image: Digest,
    pub config: PushBlob,
    pub layers: Vec<PushBlob>,
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    /// The repositories the image came from (its repository digests'), whose blobs a
    /// registry can mount instead of receiving them again.
    pub sources: Vec<Reference>,
}

impl ImageStore {
    /// The tags of `repository` (`name` without tag) in this store, sorted.
    pub fn repository_tags(&self, repository: &Reference) -> Result<Vec<Reference>> {
        let want = repository.name();
        let mut tags: Vec<Reference> = self
            .db
            .read(|tx| tx.all::<RefRecord>())?
            .into_iter()
            .filter_map(|(k, _)| Reference::parse(&k).ok())
            .filter(|r| r.tag().is_some() && r.name() == want)
            .collect();
        tags.sort_by_key(|r| r.to_string());
        Ok(tags)
    }

    /// What pushing the image `name` sends.
    pub fn push_plan(&self, name: &str) -> Result<PushPlan> {
        let img = self.resolve(name)?;
        let config_size =
            self.content.info(&img.id).ok_or_else(|| ImageError::NotFound(img.id.to_string()))?;
        let usable = self.usable_manifest(&img);
        let mut layers = Vec::new();
        for l in &img.layers {
            let digest = l
                .blob
                .clone()
                .ok_or_else(|| ImageError::NotFound(format!("layer data of {}", l.chain_id)))?;
            let blob = PushBlob {
                digest,
                size: l.blob_size,
                media_type: l.media_type.clone(),
                diff_id: Some(l.diff_id.clone()),
            };
            // The manifest it came with names its blobs as stored; a manifest made here names
            // the compressed ones where there are.
            layers.push(match (&usable, &l.pushed) {
                (None, Some(p)) => PushBlob {
                    digest: p.digest.clone(),
                    size: p.size,
                    media_type: p.media_type.clone(),
                    ..blob
                },
                _ => blob,
            });
        }
        let (manifest, manifest_media_type) = match usable {
            Some(m) => m,
            None => schema2(&img, config_size, &layers),
        };
        let config = PushBlob {
            digest: img.id.clone(),
            size: config_size,
            media_type: config_type(&img),
            diff_id: None,
        };
        let sources = img.repo_digests.iter().filter_map(|d| Reference::parse(d).ok()).collect();
        Ok(PushPlan { image: img.id, config, layers, manifest, manifest_media_type, sources })
    }

    /// Compresses for registries the layers of the image `name` that are stored as plain tars
    /// and have no manifest to be pushed with (a loaded, imported or committed image), as
    /// Docker gzips what it pushes.
    /// Each compressed blob is kept with the image (`ImageLayer::pushed`) for the next push,
    /// and shared with any image that already made it for the same layer blob.
    pub fn compress_for_push(&self, name: &str) -> Result<()> {
        let img = self.resolve(name)?;
        if self.usable_manifest(&img).is_some() {
            return Ok(());
        }
        let images = self.db.read(|tx| tx.all::<ImageRecord>())?;
        self.with_session(|session| {
            let mut made: Vec<(usize, Descriptor)> = Vec::new();
            let mut todo: Vec<(usize, &Digest, &str)> = Vec::new();
            for (i, l) in img.layers.iter().enumerate() {
                let Some(blob) = l.blob.as_ref().filter(|_| l.pushed.is_none() && plain_layer(&l.media_type))
                else {
                    continue;
                };
                let made_before = images
                    .iter()
                    .flat_map(|(_, o)| &o.layers)
                    .find_map(|o| o.pushed.clone().filter(|_| o.blob.as_ref() == Some(blob)));
                match made_before {
                    Some(p) if session.hold_blob(&p.digest)? => made.push((i, p)),
                    _ => todo.push((i, blob, &l.media_type)),
                }
            }
            // Compression is what takes time: the layers side by side, a core each.
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(todo.len());
            let queue = std::sync::Mutex::new(todo);
            let compressed = std::sync::Mutex::new(Vec::new());
            std::thread::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|| loop {
                        let Some((i, blob, media_type)) =
                            queue.lock().unwrap_or_else(|e| e.into_inner()).pop()
                        else {
                            return;
                        };
                        let out = gzip_layer(self, session, blob, media_type).map(|d| d.map(|d| (i, d)));
                        compressed.lock().unwrap_or_else(|e| e.into_inner()).push(out);
                    });
                }
            });
            for out in compressed.into_inner().unwrap_or_else(|e| e.into_inner()) {
                made.extend(out?);
            }
            let key = img.id.to_string();
            self.db.write(|tx| {
                if let Some(mut rec) = tx.get::<ImageRecord>(&key)? {
                    for (i, pushed) in made {
                        if let Some(layer) = rec.layers.get_mut(i) {
                            layer.pushed = Some(pushed);
                        }
                    }
                    tx.put(&key, &rec)?;
                }
                Ok::<_, ImageError>(())
            })
        })
    }

    /// The manifest an image came with, when it still describes the image as stored: its config
    /// and the very blobs its layers keep (an image pulled onto layers that were already here,
    /// from other blobs, keeps those blobs, and its manifest no longer fits).
    pub(crate) fn usable_manifest(&self, img: &ImageRecord) -> Option<(Vec<u8>, String)> {
        let m = img.manifest.as_ref()?;
        let bytes = self.content.read_blob(&m.digest).ok()?;
        let berth_oci::manifest::Parsed::Manifest(parsed) =
            berth_oci::manifest::parse(&m.media_type, &bytes).ok()?
        else {
            return None;
        };
        let same_config = parsed.config().digest().to_string() == img.id.to_string();
        let same_layers = parsed.layers().len() == img.layers.len()
            && parsed
                .layers()
                .iter()
                .zip(&img.layers)
                .all(|(d, l)| l.blob.as_ref().is_some_and(|b| b.to_string() == d.digest().to_string()));
        (same_config && same_layers).then(|| (bytes, m.media_type.clone()))
    }

    /// The blob a stored image keeps for the extracted layer `chain`, with its media type.
    pub(crate) fn layer_blob(&self, chain: &Digest) -> Result<Option<(berth_content::BlobInfo, String)>> {
        let images = self.db.read(|tx| tx.all::<ImageRecord>())?;
        Ok(images.into_iter().flat_map(|(_, i)| i.layers).find_map(|l| {
            let blob = l.blob.filter(|b| l.chain_id == *chain && self.content.info(b).is_some())?;
            Some((berth_content::BlobInfo { digest: blob, size: l.blob_size }, l.media_type))
        }))
    }

    /// Where the blob `digest` is stored (read by a push as it uploads).
    pub fn blob_path(&self, digest: &Digest) -> std::path::PathBuf {
        self.content.blob_path(digest)
    }

    /// Records that the repository digest `name@digest` names the image `id`.
    pub fn add_repo_digest(&self, id: &Digest, repo_digest: &str) -> Result<()> {
        let key = id.to_string();
        self.db.write(|tx| {
            if let Some(mut img) = tx.get::<ImageRecord>(&key)? {
                if !img.repo_digests.iter().any(|d| d == repo_digest) {
                    img.repo_digests.push(repo_digest.to_string());
                    tx.put(&key, &img)?;
                }
            }
            Ok::<_, ImageError>(())
        })
    }
}

/// The stored layer `blob` gzip-compressed into a new blob of `session`; `None` when its bytes
/// turn out to be compressed already.
fn gzip_layer(
    store: &ImageStore,
    session: &crate::WriteSession<'_>,
    blob: &Digest,
    media_type: &str,
) -> Result<Option<Descriptor>> {
    let mut head = [0u8; 8];
    let mut f = store.content.open_blob(blob)?;
    let n = std::io::Read::read(&mut f, &mut head).map_err(ImageError::io("read", "blob"))?;
    if berth_archive::Compression::detect(&head[..n]) != berth_archive::Compression::None {
        return Ok(None);
    }
    let f = store.content.open_blob(blob)?;
    let ingest =
        berth_archive::gzip(f, session.ingest(None)?).map_err(ImageError::io("compress", "layer"))?;
    let info = session.commit_blob(ingest)?;
    let media_type = if media_type.starts_with("application/vnd.oci.") {
        media::OCI_LAYER_GZIP
    } else {
        media::DOCKER_LAYER_GZIP
    };
    Ok(Some(Descriptor { digest: info.digest, media_type: media_type.to_string(), size: info.size }))
}

/// Whether a layer of this media type is a plain tar that a push compresses (not a compressed
/// one, nor a non-distributable one, which is never pushed).
fn plain_layer(media_type: &str) -> bool {
    matches!(media_type, media::DOCKER_LAYER | media::OCI_LAYER | "")
}

fn config_type(img: &ImageRecord) -> String {
    if img.config_media_type.is_empty() {
        media::DOCKER_CONFIG.to_string()
    } else {
        img.config_media_type.clone()
    }
}

/// A Docker schema 2 manifest for an image that arrived without one (an OCI one when a layer
/// is zstd, which schema 2 cannot say). Deterministic bytes.
fn schema2(img: &ImageRecord, config_size: u64, layers: &[PushBlob]) -> (Vec<u8>, String) {
    let oci = layers.iter().any(|l| l.media_type.contains("zstd"));
    let layer_type = |t: &str| -> &str {
        match (oci, t.contains("gzip"), t.contains("zstd")) {
            (true, _, true) => media::OCI_LAYER_ZSTD,
            (true, true, _) => media::OCI_LAYER_GZIP,
            (true, _, _) => media::OCI_LAYER,
            (false, true, _) => media::DOCKER_LAYER_GZIP,
            (false, _, _) => media::DOCKER_LAYER,
        }
    };
    let (manifest_type, config_type) = if oci {
        (media::OCI_MANIFEST, media::OCI_CONFIG)
    } else {
        (media::DOCKER_MANIFEST, media::DOCKER_CONFIG)
    };
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| json!({"mediaType": layer_type(&l.media_type), "size": l.size, "digest": l.digest.to_string()}))
        .collect();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "size": config_size, "digest": img.id.to_string()},
        "layers": layers,
    });
    (serde_json::to_vec_pretty(&m).expect("json"), manifest_type.to_string())
}
