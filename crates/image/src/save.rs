//! `docker save`: one tar holding an OCI image layout (blobs, index.json, oci-layout) and, for
//! the Docker format, the legacy manifest.json and repositories beside it, as Docker 25 and
//! later write it (older engines read manifest.json, OCI tools read the layout).

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use berth_archive::Compression;
use berth_content::Digest;
use berth_metadata::{ImageRecord, Reader, RefRecord};
use berth_oci::media::{OCI_CONFIG, OCI_MANIFEST};
use serde_json::json;

use crate::store::ImageStore;
use crate::{ImageError, Result};
use berth_oci::Reference;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// `docker save`'s archive: the OCI layout plus manifest.json and repositories.
    Docker,
    /// An OCI image layout only (`oci-archive:` for skopeo).
    Oci,
}

fn oci_layer_type(stored: &str) -> &'static str {
    match Compression::from_media_type(stored) {
        Compression::None => berth_oci::media::OCI_LAYER,
        Compression::Gzip => berth_oci::media::OCI_LAYER_GZIP,
        Compression::Zstd => berth_oci::media::OCI_LAYER_ZSTD,
    }
}

impl ImageStore {
    /// The images `names` select, with the tags to save for each: a repository without a tag
    /// selects all its tags; an ID selects the image untagged.
    fn select(&self, names: &[String]) -> Result<Vec<(ImageRecord, Vec<Reference>)>> {
        self.db.read(|tx| {
            let mut out: Vec<(ImageRecord, Vec<Reference>)> = Vec::new();
            let mut add = |img: ImageRecord, tag: Option<Reference>| {
                let at = match out.iter().position(|(i, _)| i.id == img.id) {
                    Some(at) => at,
                    None => {
                        out.push((img, Vec::new()));
                        out.len() - 1
                    }
                };
                if let Some(t) = tag {
                    if !out[at].1.contains(&t) {
                        out[at].1.push(t);
                    }
                }
            };
            for name in names {
                let repo = Reference::parse(name).ok().filter(|r| r.tag().is_none() && r.digest().is_none());
                if let Some(repo) = repo {
                    let mut tagged = Vec::new();
                    for (key, rec) in tx.all::<RefRecord>()? {
                        let Ok(r) = Reference::parse(&key) else { continue };
                        if r.name() == repo.name() && r.tag().is_some() {
                            tagged.push((r, rec.image));
                        }
                    }
                    if !tagged.is_empty() {
                        tagged.sort();
                        for (r, id) in tagged {
                            if let Some(img) = tx.get::<ImageRecord>(&id.to_string())? {
                                add(img, Some(r));
                            }
                        }
                        continue;
                    }
                }
                let (by_ref, img) = self.resolve_in(tx, name)?;
                add(img, by_ref.filter(|r| r.tag().is_some() && r.digest().is_none()));
            }
            Ok(out)
        })
    }

    /// Writes the selected images to `out` as one tar stream.
    pub fn save(&self, names: &[String], format: SaveFormat, out: impl Write) -> Result<()> {
        let images = self.select(names)?;
        let mut tar = tar::Builder::new(out);
        let werr = |e: io::Error| ImageError::io("write", "archive")(e);
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = header(tar::EntryType::Directory, 0, 0o755);
            tar.append_data(&mut h, dir, io::empty()).map_err(werr)?;
        }
        let mut written: HashSet<Digest> = HashSet::new();
        let mut index = Vec::new();
        let mut legacy = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (img, tags) in &images {
            self.write_blob(&mut tar, &mut written, &img.id)?;
            let mut layer_paths = Vec::new();
            for l in &img.layers {
                let blob = l
                    .blob
                    .as_ref()
                    .ok_or_else(|| ImageError::NotFound(format!("layer data of {}", l.chain_id)))?;
                self.write_blob(&mut tar, &mut written, blob)?;
                layer_paths.push(blob_path(blob));
            }
            let (manifest_digest, media_type, size) = match &img.manifest {
                Some(m) if self.usable_manifest(img).is_some() => {
                    self.write_blob(&mut tar, &mut written, &m.digest)?;
                    (m.digest.clone(), m.media_type.clone(), m.size)
                }
                _ => {
                    let bytes = self.oci_manifest(img)?;
                    let d = Digest::of(&bytes);
                    if written.insert(d.clone()) {
                        let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
                        tar.append_data(&mut h, blob_path(&d), &bytes[..]).map_err(werr)?;
                    }
                    (d, OCI_MANIFEST.to_string(), bytes.len() as u64)
                }
            };
            let descriptor = |annotations: Option<serde_json::Value>| {
                let mut d =
                    json!({"mediaType": media_type, "digest": manifest_digest.to_string(), "size": size});
                if let Some(a) = annotations {
                    d["annotations"] = a;
                }
                d
            };
            if tags.is_empty() {
                index.push(descriptor(None));
            }
            for t in tags {
                index.push(descriptor(Some(json!({
                    "io.containerd.image.name": t.to_string(),
                    "org.opencontainers.image.ref.name": t.tag().unwrap_or("latest"),
                }))));
                if let Some(top) = img.layers.last().and_then(|l| l.blob.as_ref()) {
                    repositories
                        .entry(t.familiar_name())
                        .or_default()
                        .insert(t.tag().unwrap_or("latest").to_string(), top.hex().to_string());
                }
            }
            let repo_tags: Vec<String> = tags.iter().map(|t| t.familiar()).collect();
            legacy.push(json!({
                "Config": blob_path(&img.id),
                "RepoTags": if repo_tags.is_empty() { serde_json::Value::Null } else { json!(repo_tags) },
                "Layers": layer_paths,
            }));
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": berth_oci::media::OCI_INDEX,
            "manifests": index,
        });
        let mut files: Vec<(&str, Vec<u8>)> = vec![("index.json", serde_json::to_vec(&index).expect("json"))];
        if format == SaveFormat::Docker {
            files.push(("manifest.json", serde_json::to_vec(&legacy).expect("json")));
        }
        files.push(("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
        if format == SaveFormat::Docker {
            files.push(("repositories", serde_json::to_vec(&repositories).expect("json")));
        }
        for (name, bytes) in files {
            let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
            tar.append_data(&mut h, name, &bytes[..]).map_err(werr)?;
        }
        tar.into_inner().map_err(werr)?.flush().map_err(werr)?;
        Ok(())
    }

    fn write_blob<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        written: &mut HashSet<Digest>,
        d: &Digest,
    ) -> Result<()> {
        if !written.insert(d.clone()) {
            return Ok(());
        }
        let f = self.content.open_blob(d)?;
        let size = f.metadata().map_err(ImageError::io("stat", d))?.len();
        let mut h = header(tar::EntryType::Regular, size, 0o644);
        tar.append_data(&mut h, blob_path(d), io::BufReader::with_capacity(256 * 1024, f))
            .map_err(ImageError::io("write", "archive"))
    }

    /// An OCI manifest for an image that arrived without one (deterministic bytes).
    fn oci_manifest(&self, img: &ImageRecord) -> Result<Vec<u8>> {
        let config_size =
            self.content.info(&img.id).ok_or_else(|| ImageError::NotFound(img.id.to_string()))?;
        let layers: Vec<serde_json::Value> = img
            .layers
            .iter()
            .map(|l| {
                json!({
                    "mediaType": oci_layer_type(&l.media_type),
                    "digest": l.blob.as_ref().map(|b| b.to_string()),
                    "size": l.blob_size,
                })
            })
            .collect();
        let m = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": img.id.to_string(), "size": config_size},
            "layers": layers,
        });
        Ok(serde_json::to_vec(&m).expect("json"))
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().as_str(), d.hex())
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}
