//! `docker import`: a root filesystem tar (plain or compressed) becomes a one-layer image.

use std::io::{self, Read, Write};

use berth_content::Digest;
use berth_metadata::ImageLayer;

use crate::config::{apply_changes, ContainerConfig, History, ImageConfig, RootFs};
use crate::store::ImageStore;
use crate::{ImageError, Result};
use berth_oci::Reference;

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions applied to the image's config (`--change`).
    pub changes: Vec<String>,
    /// `--message`: the history comment.
    pub message: Option<String>,
    /// `name[:tag]` to give the image.
    pub reference: Option<String>,
    /// Where the tar came from, for the default comment (`-` for a stream).
    pub source: String,
    /// The platform the image says it is for (`--platform`); the host's when none.
    pub platform: Option<berth_oci::Platform>,
}

/// Copies what it reads into a writer (the raw layer blob) on the way through.
struct Tee<'a, R> {
    inner: R,
    copy: &'a mut dyn Write,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

impl ImageStore {
    /// Imports `reader` as a new image; returns its ID.
    pub fn import(&self, reader: impl Read, opts: &ImportOptions) -> Result<Digest> {
        let tag = opts.reference.as_deref().map(Reference::parse_tagged).transpose()?;
        let mut container = ContainerConfig::default();
        apply_changes(&mut container, &opts.changes)?;
        self.with_session(|session| {
            let mut blob = session.ingest(None)?;
            let mut tee = Tee { inner: reader, copy: &mut blob };
            let layer = session.unpack_layer(None, None, &mut tee)?;
            io::copy(&mut tee, &mut io::sink())
                .map_err(|e| ImageError::InvalidArchive(format!("reading: {e}")))?;
            let blob = session.commit_blob(blob)?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let comment = opts.message.clone().unwrap_or_else(|| format!("Imported from {}", opts.source));
            let platform = opts.platform.clone().unwrap_or_else(berth_oci::Platform::host);
            let config = ImageConfig {
                architecture: platform.architecture.clone(),
                variant: Some(platform.variant.clone()).filter(|v| !v.is_empty()),
                os: platform.os.clone(),
                config: Some(container),
                created: Some(now.clone()),
                comment: opts.message.clone(),
                history: vec![History {
                    created: Some(now.clone()),
                    comment: Some(comment),
                    ..Default::default()
                }],
                rootfs: RootFs { kind: "layers".into(), diff_ids: vec![layer.diff_id.clone()] },
                ..Default::default()
            };
            let bytes = serde_json::to_vec(&config).expect("json");
            let id = session.put_bytes(&bytes)?;
            let media_type = self.layer_media_type(&blob.digest)?;
            let layers = vec![ImageLayer {
                diff_id: layer.diff_id.clone(),
                chain_id: layer.chain_id.clone(),
                blob: Some(blob.digest),
                media_type,
                blob_size: blob.size,
                pushed: None,
            }];
            session.put_local_image(&id, layers, now, layer.size, None, tag)?;
            Ok(id)
        })
    }
}
