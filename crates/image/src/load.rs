//! `docker load`: archives in the `docker save` format (manifest.json, legacy or with OCI
//! blobs) and OCI image layouts, plain or compressed, read as one stream.

use std::collections::HashMap;
use std::io::{self, Read};

use berth_archive::{decompress, Compression};
use berth_content::{BlobInfo, Digest};
use berth_metadata::{Descriptor, ImageLayer, ImageRecord};
use berth_oci::manifest::{platform_of, ImageIndex, ImageManifest};
use berth_oci::Platform;
use oci_spec::image::MediaType;
use serde::Deserialize;

use crate::config::{chain_ids, ImageConfig};
use crate::session::WriteSession;
use crate::store::{now_nanos, ImageStore};
use crate::{ImageError, Result};
use berth_oci::Reference;

/// Metadata files are read into memory; anything bigger is not metadata.
const METADATA_MAX: u64 = 32 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub id: Digest,
    pub tags: Vec<Reference>,
}

#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub images: Vec<LoadedImage>,
    /// Docker's lines: `Loaded image: busybox:latest`, `Loaded image ID: sha256:…`.
    pub messages: Vec<String>,
}

enum Stored {
    Memory(Vec<u8>),
    Blob(BlobInfo),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The archive's files: small metadata in memory, everything else in the content store.
struct Files<'s> {
    store: &'s ImageStore,
    files: HashMap<String, Stored>,
    links: HashMap<String, String>,
}

fn bad(msg: impl Into<String>) -> ImageError {
    ImageError::InvalidArchive(msg.into())
}

/// Cleans an archive member name (`./a/../b` → `b`); refuses names that climb out.
fn member_name(raw: &[u8]) -> Result<String> {
    let p = berth_archive::clean_entry_path(raw)
        .map_err(|why| bad(format!("member {:?}: {why}", String::from_utf8_lossy(raw))))?;
    Ok(p.as_path().to_string_lossy().into_owned())
}

/// `blobs/sha256/<hex>` names its own digest.
fn blob_digest(name: &str) -> Option<Digest> {
    let rest = name.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

impl Files<'_> {
    fn lookup(&self, name: &str) -> Result<&Stored> {
        let mut name = member_name(name.as_bytes())?;
        for _ in 0..16 {
            if let Some(s) = self.files.get(&name) {
                return Ok(s);
            }
            match self.links.get(&name) {
                Some(target) => name = target.clone(),
                None => break,
            }
        }
        Err(bad(format!("{name} is named by the manifest but missing from the archive")))
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>> {
        match self.lookup(name)? {
            Stored::Memory(b) => Ok(b.clone()),
            Stored::Blob(info) => Ok(self.store.content.read_blob(&info.digest)?),
        }
    }

    fn blob(&self, session: &WriteSession<'_>, name: &str) -> Result<BlobInfo> {
        match self.lookup(name)? {
            Stored::Blob(info) => Ok(info.clone()),
            Stored::Memory(b) => {
                let digest = session.put_bytes(b)?;
                Ok(BlobInfo { digest, size: b.len() as u64 })
            }
        }
    }
}

impl ImageStore {
    /// Loads every image in the archive. Nothing of a failed load stays behind, nor any member
    /// no image needs.
    pub fn load(&self, reader: impl Read) -> Result<LoadReport> {
        self.load_with_progress(reader, &mut |_| {})
    }

    /// [`ImageStore::load`], telling `progress` how far each layer it extracts has come.
    pub fn load_with_progress(
        &self,
        reader: impl Read,
        progress: &mut dyn FnMut(LayerProgress<'_>),
    ) -> Result<LoadReport> {
        let session = self.session()?;
        // A failed load is rolled back with its session.
        let report = self.load_in(&session, reader, progress)?;
        session.finish()?;
        // Members no image uses (legacy `json` and `VERSION` files) go now.
        self.collect()?;
        Ok(report)
    }

    fn load_in(
        &self,
        session: &WriteSession<'_>,
        reader: impl Read,
        progress: &mut dyn FnMut(LayerProgress<'_>),
    ) -> Result<LoadReport> {
        let (_, plain) = decompress(reader).map_err(|e| bad(format!("reading: {e}")))?;
        let files = self.read_members(session, plain)?;
        let mut report = LoadReport::default();
        if files.files.contains_key("manifest.json") {
            let entries: Vec<ManifestEntry> = serde_json::from_slice(&files.bytes("manifest.json")?)
                .map_err(|e| bad(format!("invalid manifest.json: {e}")))?;
            let index = self.archive_index(&files)?;
            for entry in entries {
                let config = files.bytes(&entry.config)?;
                let mut layers = Vec::new();
                for l in &entry.layers {
                    let info = files.blob(session, l)?;
                    let media = self.layer_media_type(&info.digest)?;
                    layers.push((info, media));
                }
                let tags = entry
                    .repo_tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| Reference::parse_tagged(t))
                    .collect::<Result<Vec<_>, _>>()?;
                let config_digest = Digest::of(&config);
                let manifest = index.iter().find(|(_, cfg)| *cfg == config_digest).map(|(d, _)| d.clone());
                self.load_image(session, &config, layers, manifest, tags, &mut report, progress)?;
            }
        } else if files.files.contains_key("index.json") {
            let index: ImageIndex = serde_json::from_slice(&files.bytes("index.json")?)
                .map_err(|e| bad(format!("invalid index.json: {e}")))?;
            for desc in index.manifests() {
                let names = descriptor_names(desc.annotations().as_ref())?;
                self.load_descriptor(session, desc, names, &mut report, progress, 0)?;
            }
        } else {
            return Err(bad("neither manifest.json nor index.json found: not a docker save archive or an OCI image layout"));
        }
        Ok(report)
    }

    fn read_members(&self, session: &WriteSession<'_>, reader: impl Read) -> Result<Files<'_>> {
        let mut files = Files { store: self, files: HashMap::new(), links: HashMap::new() };
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(|e| bad(format!("reading: {e}")))? {
            let mut e = entry.map_err(|e| bad(format!("reading: {e}")))?;
            let name = member_name(&e.path_bytes())?;
            let kind = e.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = e.link_name_bytes().ok_or_else(|| bad(format!("link {name} has no target")))?;
                let joined = if kind.is_symlink() && !target.starts_with(b"/") {
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    format!("{dir}/{}", String::from_utf8_lossy(&target))
                } else {
                    String::from_utf8_lossy(&target).into_owned()
                };
                files.links.insert(name, member_name(joined.as_bytes())?);
                continue;
            }
            if !kind.is_file() && kind != tar::EntryType::Continuous {
                continue;
            }
            let size = e.size();
            let metadata = name.ends_with(".json")
                || name == "repositories"
                || name == "oci-layout"
                || name.ends_with("/VERSION");
            let stored = if let Some(d) = blob_digest(&name) {
                let mut w = self.content.ingest(Some((d, Some(size))))?;
                io::copy(&mut e, &mut w).map_err(|e| bad(format!("reading {name}: {e}")))?;
                Stored::Blob(session.commit_blob(w)?)
            } else if metadata && size <= METADATA_MAX {
                let mut buf = Vec::with_capacity(size as usize);
                e.read_to_end(&mut buf).map_err(|e| bad(format!("reading {name}: {e}")))?;
                Stored::Memory(buf)
            } else {
                let mut w = session.ingest(None)?;
                io::copy(&mut e, &mut w).map_err(|e| bad(format!("reading {name}: {e}")))?;
                Stored::Blob(session.commit_blob(w)?)
            };
            files.files.insert(name, stored);
        }
        Ok(files)
    }

    /// In archives that carry an OCI index beside manifest.json (Docker 25 and later, and
    /// berth), the manifest of each config.
    fn archive_index(&self, files: &Files<'_>) -> Result<Vec<(Descriptor, Digest)>> {
        let Ok(bytes) = files.bytes("index.json") else { return Ok(Vec::new()) };
        let Ok(index) = serde_json::from_slice::<ImageIndex>(&bytes) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for desc in index.manifests() {
            let Ok(digest) = Digest::parse(desc.digest().as_ref()) else { continue };
            let Ok(bytes) = self.content.read_blob(&digest) else { continue };
            let Ok(m) = serde_json::from_slice::<ImageManifest>(&bytes) else { continue };
            let Ok(cfg) = Digest::parse(m.config().digest().as_ref()) else { continue };
            out.push((
                Descriptor { digest, media_type: desc.media_type().to_string(), size: desc.size() },
                cfg,
            ));
        }
        Ok(out)
    }

    fn load_descriptor(
        &self,
        session: &WriteSession<'_>,
        desc: &berth_oci::manifest::Descriptor,
        names: Vec<Reference>,
        report: &mut LoadReport,
        progress: &mut dyn FnMut(LayerProgress<'_>),
        depth: usize,
    ) -> Result<()> {
        if depth > 4 {
            return Err(bad("image indexes nest too deeply"));
        }
        if platform_of(desc).is_some_and(|p| !Platform::host().accepts(&p)) {
            return Ok(()); // another platform's image: not for this host
        }
        let digest = Digest::parse(desc.digest().as_ref())?;
        let bytes = self
            .content
            .read_blob(&digest)
            .map_err(|_| bad(format!("blob {digest} is missing from the archive")))?;
        if is_index(desc.media_type()) {
            let index: ImageIndex =
                serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid index {digest}: {e}")))?;
            for d in index.manifests() {
                self.load_descriptor(session, d, names.clone(), report, progress, depth + 1)?;
            }
            return Ok(());
        }
        let m: ImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid manifest {digest}: {e}")))?;
        let config_digest = Digest::parse(m.config().digest().as_ref())?;
        let config = self
            .content
            .read_blob(&config_digest)
            .map_err(|_| bad(format!("config {config_digest} is missing from the archive")))?;
        let mut layers = Vec::new();
        for l in m.layers() {
            let d = Digest::parse(l.digest().as_ref())?;
            let size =
                self.content.info(&d).ok_or_else(|| bad(format!("layer {d} is missing from the archive")))?;
            layers.push((BlobInfo { digest: d, size }, l.media_type().to_string()));
        }
        let manifest = Descriptor { digest, media_type: desc.media_type().to_string(), size: desc.size() };
        self.load_image(session, &config, layers, Some(manifest), names, report, progress)
    }

    pub(crate) fn layer_media_type(&self, blob: &Digest) -> Result<String> {
        let mut head = [0u8; 4];
        let mut f = self.content.open_blob(blob)?;
        let n = f.read(&mut head).map_err(ImageError::io("read", blob))?;
        Ok(match Compression::detect(&head[..n]) {
            Compression::None => berth_oci::media::DOCKER_LAYER,
            Compression::Gzip => berth_oci::media::DOCKER_LAYER_GZIP,
            Compression::Zstd => berth_oci::media::OCI_LAYER_ZSTD,
        }
        .to_string())
    }

    /// Extracts what is missing of one image and records it with its tags.
    fn load_image(
        &self,
        session: &WriteSession<'_>,
        config: &[u8],
        layers: Vec<(BlobInfo, String)>,
        manifest: Option<Descriptor>,
        tags: Vec<Reference>,
        report: &mut LoadReport,
        progress: &mut dyn FnMut(LayerProgress<'_>),
    ) -> Result<()> {
        let id = session.put_bytes(config)?;
        let cfg = ImageConfig::parse(config)?;
        let diff_ids = &cfg.rootfs.diff_ids;
        if diff_ids.len() != layers.len() {
            return Err(bad(format!(
                "invalid manifest, layers length mismatch: expected {}, got {}",
                diff_ids.len(),
                layers.len()
            )));
        }
        let chains = chain_ids(diff_ids);
        let mut parent = None;
        let mut image_layers = Vec::new();
        let mut size = 0;
        for (i, (blob, media_type)) in layers.into_iter().enumerate() {
            let record = match session.hold_layer(&chains[i])? {
                Some(r) => r,
                None => {
                    let file = self.content.open_blob(&blob.digest)?;
                    let mut counted = Counted::new(file, blob.size, &diff_ids[i], progress);
                    let r = session.unpack_layer(
                        parent.as_ref(),
                        Some(&diff_ids[i]),
                        io::BufReader::new(&mut counted),
                    )?;
                    counted.finish();
                    r
                }
            };
            size += record.size;
            image_layers.push(ImageLayer {
                diff_id: diff_ids[i].clone(),
                chain_id: chains[i].clone(),
                blob: Some(blob.digest),
                media_type,
                blob_size: blob.size,
                pushed: None,
            });
            parent = Some(record);
        }
        let img = ImageRecord {
            id: id.clone(),
            config_media_type: berth_oci::media::DOCKER_CONFIG.into(),
            manifest,
            layers: image_layers,
            created: cfg.created.clone(),
            size,
            parent: None,
            added: now_nanos(),
            repo_digests: Vec::new(),
        };
        let moved = session.put_image(&img, &tags)?;
        for (tag, old) in moved {
            report.messages.push(format!(
                "The image {} already exists, renaming the old one with ID {old} to empty string",
                tag.familiar()
            ));
        }
        if tags.is_empty() {
            report.messages.push(format!("Loaded image ID: {id}"));
        }
        for t in &tags {
            report.messages.push(format!("Loaded image: {}", t.familiar()));
        }
        report.images.push(LoadedImage { id, tags });
        Ok(())
    }
}

/// How far the extraction of one layer has come: bytes of its blob read of `total`.
#[derive(Debug, Clone, Copy)]
pub struct LayerProgress<'a> {
    pub diff_id: &'a Digest,
    pub current: u64,
    pub total: u64,
}

/// A layer's blob, its reading reported every 512 KiB (Docker's pace) and once at the end.
struct Counted<'a, 'p, R> {
    inner: R,
    current: u64,
    reported: u64,
    total: u64,
    diff_id: &'a Digest,
    progress: &'p mut dyn FnMut(LayerProgress<'_>),
}

impl<'a, 'p, R> Counted<'a, 'p, R> {
    const EVERY: u64 = 512 * 1024;

    fn new(
        inner: R,
        total: u64,
        diff_id: &'a Digest,
        progress: &'p mut dyn FnMut(LayerProgress<'_>),
    ) -> Self {
        Counted { inner, current: 0, reported: 0, total, diff_id, progress }
    }

    fn report(&mut self) {
        self.reported = self.current;
        (self.progress)(LayerProgress { diff_id: self.diff_id, current: self.current, total: self.total });
    }

    /// The full bar, as Docker shows it when the extractor stops before the blob's end
    /// (a tar's trailing padding is not read).
    fn finish(mut self) {
        self.current = self.current.max(self.total);
        self.report();
    }
}

impl<R: Read> Read for Counted<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.current += n as u64;
        if self.current - self.reported >= Self::EVERY {
            self.report();
        }
        Ok(n)
    }
}

fn is_index(m: &MediaType) -> bool {
    berth_oci::media::kind(m.as_ref()) == berth_oci::media::Kind::Index
}

/// The names an OCI index entry gives its image: containerd's full name, or a ref.name that is
/// a whole reference (a bare tag like `latest` names no repository).
fn descriptor_names(annotations: Option<&HashMap<String, String>>) -> Result<Vec<Reference>> {
    let Some(a) = annotations else { return Ok(Vec::new()) };
    if let Some(n) = a.get("io.containerd.image.name") {
        return Ok(vec![Reference::parse_tagged(n)?]);
    }
    if let Some(n) = a.get("org.opencontainers.image.ref.name") {
        if n.contains(['/', ':', '@']) {
            if let Ok(r) = Reference::parse_tagged(n) {
                return Ok(vec![r]);
            }
        }
    }
    Ok(Vec::new())
}
