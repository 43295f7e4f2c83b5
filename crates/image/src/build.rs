//! What the builder keeps in the image store: images a step derives from its parent without a
//! layer (ENV, CMD, LABEL, …: a new config and a history line), and the build cache, which
//! maps a step's key to the image it made and keeps the step's inputs, so that a later miss
//! can be explained. A cache entry whose image was removed is no entry.

use std::io::Read;

use berth_metadata::{Reader, Record};
use serde::{Deserialize, Serialize};

use crate::config::{CacheLink, ContainerConfig, History, ImageConfig, RootFs};
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
        conf.build_cache.clear();
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

    /// `id` with the steps that made it recorded in its config (a new image, `id` its parent),
    /// so that wherever it goes it serves as `--cache-from`.
    pub fn with_cache_links(&self, id: &str, links: Vec<CacheLink>) -> Result<Digest> {
        let (rec, mut conf) = self.image_config(id)?;
        if links.is_empty() || conf.build_cache == links {
            return Ok(rec.id);
        }
        conf.build_cache = links;
        self.with_session(|session| {
            if let Some(top) = rec.layers.last() {
                session.hold_layer(&top.chain_id)?;
            }
            let new = session.put_bytes(&serde_json::to_vec(&conf).expect("json"))?;
            let created = conf.created.clone().unwrap_or_default();
            session.put_local_image(
                &new,
                rec.layers.clone(),
                created,
                rec.size,
                Some(rec.id.clone()),
                None,
            )?;
            Ok(new)
        })
    }

    /// The build steps an image carries (none for an image no berth build made).
    pub fn cache_links(&self, name: &str) -> Result<(Digest, Vec<CacheLink>)> {
        let (rec, conf) = self.image_config(name)?;
        Ok((rec.id, conf.build_cache))
    }

    /// The result of the step `link` of the build that made `source`, as a new image: the
    /// source's first `link.layers` layers and `link.history` history lines, with `config`
    /// (the config the step's parent had, which a step with a layer keeps).
    pub fn graft(&self, source: &str, link: &CacheLink, config: ContainerConfig) -> Result<Digest> {
        let (rec, mut conf) = self.image_config(source)?;
        if link.layers > rec.layers.len() || link.history > conf.history.len() || link.layers == 0 {
            return Err(ImageError::InvalidArchive(format!(
                "image {source} names a build step beyond its layers or history"
            )));
        }
        // The container the source names made its last step: kept when that step is the one.
        let whole = link.layers == conf.rootfs.diff_ids.len() && link.history == conf.history.len();
        conf.rootfs.diff_ids.truncate(link.layers);
        conf.history.truncate(link.history);
        conf.config = Some(config);
        conf.created = conf.history.last().and_then(|h| h.created.clone()).or(conf.created);
        if !whole {
            conf.container = None;
        }
        conf.container_config = None;
        conf.build_cache.clear();
        let layers = rec.layers[..link.layers].to_vec();
        self.with_session(|session| {
            let mut size = 0;
            for l in &layers {
                let held = session.hold_layer(&l.chain_id)?.ok_or_else(|| {
                    ImageError::InvalidArchive(format!("a layer of image {source} is missing"))
                })?;
                size += held.size;
            }
            let id = session.put_bytes(&serde_json::to_vec(&conf).expect("json"))?;
            let created = conf.created.clone().unwrap_or_default();
            session.put_local_image(&id, layers.clone(), created, size, None, None)?;
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
