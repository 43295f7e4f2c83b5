//! What the builder keeps in the image store: images a step derives from its parent without a
//! layer (ENV, CMD, LABEL, …: a new config and a history line), and the build cache, which
//! maps a step's key to the image it made and keeps the step's inputs, so that a later miss
//! can be explained. A cache entry whose image was removed is no entry.

use std::io::Read;

use berth_metadata::{Reader, Record};
use serde::{Deserialize, Serialize};

use crate::config::{ContainerConfig, History, ImageConfig, RootFs};
use crate::{Digest, ImageError, ImageRecord, ImageStore, Result};

/// One step the build cache remembers, keyed by the step's cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildCacheRecord {
    /// The image the step made.
    pub image: Digest,
    /// The step's inputs (see `berth_build::cache::StepInputs`).
    pub parent: String,
    pub instruction: String,
    pub files: Vec<(String, String)>,
    /// When it was made (Unix nanoseconds).
    pub created: i64,
}

impl Record for BuildCacheRecord {
    const TABLE: &'static str = "build-cache";
}

impl ImageStore {
    /// An image's record and its config.
    pub fn image_config(&self, name: &str) -> Result<(ImageRecord, ImageConfig)> {
        let rec = self.resolve(name)?;
        let mut bytes = Vec::new();
        self.content
            .open_blob(&rec.id)?
            .read_to_end(&mut bytes)
            .map_err(ImageError::io("read", "image config"))?;
        Ok((rec.clone(), ImageConfig::parse(&bytes)?))
    }

    /// A new image: `parent`'s layers (none from scratch, for `os`/`arch`) with `config` and a
    /// history line for a step that made no layer.
    pub fn derive(
        &self,
        parent: Option<&str>,
        config: ContainerConfig,
        created_by: &str,
        (os, arch): (&str, &str),
        epoch: Option<i64>,
    ) -> Result<Digest> {
        let (rec, mut conf) = match parent {
            Some(p) => {
                let (rec, conf) = self.image_config(p)?;
                (Some(rec), conf)
            }
            None => (
                None,
                ImageConfig {
                    architecture: arch.to_string(),
                    os: os.to_string(),
                    rootfs: RootFs { kind: "layers".into(), diff_ids: Vec::new() },
                    ..ImageConfig::default()
                },
            ),
        };
        let now = crate::commit::created_at(epoch);
        conf.config = Some(config);
        conf.created = Some(now.clone());
        conf.container = None;
        conf.container_config = None;
        conf.history.push(History {
            created: Some(now.clone()),
            created_by: Some(created_by.to_string()),
            empty_layer: true,
            ..History::default()
        });
        self.with_session(|session| {
            let layers = rec.as_ref().map(|r| r.layers.clone()).unwrap_or_default();
            if let Some(top) = layers.last() {
                session.hold_layer(&top.chain_id)?;
            }
            let id = session.put_bytes(&serde_json::to_vec(&conf).expect("json"))?;
            let size = rec.as_ref().map_or(0, |r| r.size);
            session.put_local_image(&id, layers, now.clone(), size, rec.map(|r| r.id), None)?;
            Ok(id)
        })
    }

    /// The image a step of this key made, if it is still here.
    pub fn cache_lookup(&self, key: &str) -> Result<Option<Digest>> {
        self.db.read(|tx| {
            let Some(entry) = tx.get::<BuildCacheRecord>(key)? else { return Ok(None) };
            let present = tx.get::<ImageRecord>(&entry.image.to_string())?.is_some();
            Ok(present.then_some(entry.image))
        })
    }

    pub fn cache_store(&self, key: &str, entry: &BuildCacheRecord) -> Result<()> {
        self.db.write(|tx| Ok::<_, ImageError>(tx.put(key, entry)?))
    }

    /// Every remembered step, for explaining a miss.
    pub fn cache_entries(&self) -> Result<Vec<BuildCacheRecord>> {
        Ok(self.cache_records()?.into_iter().map(|(_, r)| r).collect())
    }

    /// Every remembered step with its key, and whether its image is still here.
    pub fn cache_records(&self) -> Result<Vec<(String, BuildCacheRecord)>> {
        self.db.read(|tx| Ok(tx.all::<BuildCacheRecord>()?))
    }

    /// Whether the image a step made is still here.
    pub fn cache_image_present(&self, r: &BuildCacheRecord) -> Result<bool> {
        self.db.read(|tx| Ok(tx.get::<ImageRecord>(&r.image.to_string())?.is_some()))
    }

    /// Forgets the steps of these keys (their images stay, as images).
    pub fn cache_forget(&self, keys: &[String]) -> Result<()> {
        self.db.write(|tx| {
            for k in keys {
                tx.delete::<BuildCacheRecord>(k)?;
            }
            Ok::<_, ImageError>(())
        })
    }
}
