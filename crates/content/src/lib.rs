//! The content store: immutable blobs (image configs, manifests, layer tars) named by digest.
//!
//! On disk, under the store's root:
//!
//! ```text
//! blobs/sha256/<hex>     committed blobs, read-only, never changed in place
//! ingest/<unique>        blobs being written; whatever is here at open is a crash leftover
//! ```
//!
//! A blob is written through an [`Ingest`] that hashes as it writes and, on
//! [`commit`](Ingest::commit), checks the size and digest it was promised, syncs, and renames the
//! file into `blobs/` atomically. Two writers of the same blob each have their own ingest file;
//! the second rename replaces identical bytes, so neither can corrupt the other. Readers only
//! ever see complete, verified blobs.

mod digest;
mod grow;

pub use digest::{Algorithm, Digest, DigestReader, Digester};
pub use grow::{GrowingReader, Growth};

use berth_kind::{Kind, Kinded};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob {0} not found in the content store")]
    NotFound(Digest),
    #[error("invalid digest {0:?}: expected algorithm:hex such as sha256:<64 hex digits>")]
    InvalidDigest(String),
    #[error("blob size mismatch: expected {expected} bytes for {digest}, got {actual}")]
    SizeMismatch { digest: String, expected: u64, actual: u64 },
    #[error("blob digest mismatch: expected {expected}, got {actual} (the data is corrupt or truncated)")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("content store {op} {path}: {source}")]
    Io { op: &'static str, path: String, source: io::Error },
}

impl Kinded for ContentError {
    fn kind(&self) -> Kind {
        match self {
            ContentError::NotFound(_) => Kind::NotFound,
            ContentError::InvalidDigest(_)
            | ContentError::SizeMismatch { .. }
            | ContentError::DigestMismatch { .. } => Kind::InvalidArgument,
            ContentError::Io { .. } => Kind::Internal,
        }
    }
}

pub type Result<T, E = ContentError> = std::result::Result<T, E>;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContentError + 'a {
    move |source| ContentError::Io { op, path: path.display().to_string(), source }
}

fn missing_or_io(e: io::Error, op: &'static str, digest: &Digest, path: &Path) -> ContentError {
    if e.kind() == io::ErrorKind::NotFound {
        ContentError::NotFound(digest.clone())
    } else {
        ContentError::Io { op, path: path.display().to_string(), source: e }
    }
}

/// A blob's digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug)]
pub struct ContentStore {
    root: PathBuf,
}

static INGEST_SEQ: AtomicU64 = AtomicU64::new(0);

impl ContentStore {
    /// Opens (creating) the store at `root` and removes partial ingests a crash left behind.
    /// Only one process may own a store at a time; the caller holds that lock.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in [root.join("blobs/sha256"), root.join("blobs/sha512"), root.join("ingest")] {
            fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        }
        let ingest = root.join("ingest");
        for entry in fs::read_dir(&ingest).map_err(io_err("read", &ingest))?.flatten() {
            let _ = fs::remove_file(entry.path());
        }
        Ok(ContentStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.algorithm().as_str()).join(digest.hex())
    }

    /// The size of a committed blob, or `None`.
    pub fn info(&self, digest: &Digest) -> Option<u64> {
        fs::metadata(self.blob_path(digest)).ok().map(|m| m.len())
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| missing_or_io(e, "open", digest, &path))
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| missing_or_io(e, "read", digest, &path))
    }

    /// Starts writing a blob. With `expected`, the commit checks the digest (whose algorithm is
    /// the one hashed) and size; without, the blob is named by its SHA-256.
    pub fn ingest(&self, expected: Option<(Digest, Option<u64>)>) -> Result<Ingest> {
        let n = INGEST_SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join("ingest").join(format!("{}-{n}", std::process::id()));
        let file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let algorithm = expected.as_ref().map(|(d, _)| d.algorithm()).unwrap_or(Algorithm::Sha256);
        Ok(Ingest {
            file: Some(io::BufWriter::with_capacity(64 * 1024, file)),
            tmp,
            blobs: self.root.join("blobs"),
            hasher: Digester::new(algorithm),
            size: 0,
            expected,
        })
    }

    /// Writes a whole blob held in memory (configs, manifests).
    pub fn write_blob(&self, data: &[u8]) -> Result<Digest> {
        let mut w = self.ingest(None)?;
        w.write_all(data).map_err(io_err("write", &w.tmp.clone()))?;
        Ok(w.commit()?.digest)
    }

    /// Publishes `file` (on the store's filesystem) as the blob `digest`. The caller has
    /// verified the content: a registry's upload, hashed as its chunks arrived.
    pub fn adopt(&self, file: &Path, digest: &Digest) -> Result<BlobInfo> {
        let f = File::open(file).map_err(io_err("open", file))?;
        f.sync_all().map_err(io_err("sync", file))?;
        let size = f.metadata().map_err(io_err("stat", file))?.len();
        let dest = self.blob_path(digest);
        fs::rename(file, &dest).map_err(io_err("commit", &dest))?;
        if let Some(dir) = dest.parent().and_then(|d| File::open(d).ok()) {
            let _ = dir.sync_all();
        }
        Ok(BlobInfo { digest: digest.clone(), size })
    }

    pub fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &path)(e)),
            _ => Ok(()),
        }
    }

    /// Every committed blob.
    pub fn list(&self) -> Result<Vec<BlobInfo>> {
        let mut out = Vec::new();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.root.join("blobs").join(algorithm.as_str());
            for entry in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
                let entry = entry.map_err(io_err("read", &dir))?;
                let name = entry.file_name();
                let Ok(digest) = Digest::parse(&format!("{}:{}", algorithm.as_str(), name.to_string_lossy()))
                else {
                    continue;
                };
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(BlobInfo { digest, size });
            }
        }
        Ok(out)
    }
}

/// A blob being written. Dropped without [`commit`](Ingest::commit), it leaves nothing behind.
pub struct Ingest {
    file: Option<io::BufWriter<File>>,
    tmp: PathBuf,
    blobs: PathBuf,
    hasher: Digester,
    size: u64,
    expected: Option<(Digest, Option<u64>)>,
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("not committed").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Ingest {
    pub fn written(&self) -> u64 {
        self.size
    }

    /// The file being written (for a [`GrowingReader`] that follows it).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Checks what was written against the expected size and digest (as
    /// [`commit`](Ingest::commit) does), without committing.
    pub fn verify(&self) -> Result<()> {
        self.check(self.hasher.clone().finish()).map(|_| ())
    }

    fn check(&self, digest: Digest) -> Result<Digest> {
        if let Some((want, size)) = &self.expected {
            if let Some(size) = size {
                if *size != self.size {
                    return Err(ContentError::SizeMismatch {
                        digest: want.to_string(),
                        expected: *size,
                        actual: self.size,
                    });
                }
            }
            if *want != digest {
                return Err(ContentError::DigestMismatch { expected: want.clone(), actual: digest });
            }
        }
        Ok(digest)
    }

    /// Verifies, syncs and publishes the blob.
    pub fn commit(mut self) -> Result<BlobInfo> {
        let file = self.file.take().expect("committed once");
        let file = file.into_inner().map_err(|e| io_err("write", &self.tmp)(e.into_error()))?;
        let digest = std::mem::replace(&mut self.hasher, Digester::new(Algorithm::Sha256)).finish();
        let digest = self.check(digest)?;
        file.sync_all().map_err(io_err("sync", &self.tmp))?;
        drop(file);
        let dir = self.blobs.join(digest.algorithm().as_str());
        let dest = dir.join(digest.hex());
        fs::rename(&self.tmp, &dest).map_err(io_err("commit", &dest))?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(BlobInfo { digest, size: self.size })
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if self.file.is_some() || self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_verifies_and_commits_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let d = store.write_blob(b"hello").unwrap();
        assert_eq!(d.to_string(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.read_blob(&d).unwrap(), b"hello");
        assert_eq!(store.info(&d), Some(5));

        let mut w = store.ingest(Some((d.clone(), Some(6)))).unwrap();
        w.write_all(b"hello").unwrap();
        assert!(matches!(w.commit(), Err(ContentError::SizeMismatch { .. })));
        let mut w = store.ingest(Some((d.clone(), Some(5)))).unwrap();
        w.write_all(b"HELLO").unwrap();
        assert!(matches!(w.commit(), Err(ContentError::DigestMismatch { .. })));
        // Failed and dropped ingests leave nothing behind.
        let _w = store.ingest(None).unwrap();
        drop(_w);
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);

        // sha512 is verified with sha512.
        let d512 = Digest::parse("sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043").unwrap();
        let mut w = store.ingest(Some((d512.clone(), None))).unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(w.commit().unwrap().digest, d512);
        assert_eq!(store.list().unwrap().len(), 2);
        store.delete(&d).unwrap();
        assert!(matches!(store.open_blob(&d), Err(ContentError::NotFound(_))));
    }

    #[test]
    fn concurrent_writers_of_one_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(ContentStore::open(dir.path()).unwrap());
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (store, data) = (store.clone(), data.clone());
                std::thread::spawn(move || {
                    let mut w = store.ingest(None).unwrap();
                    for chunk in data.chunks(4096) {
                        w.write_all(chunk).unwrap();
                    }
                    w.commit().unwrap().digest
                })
            })
            .collect();
        let digests: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(digests.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(store.read_blob(&digests[0]).unwrap(), data);
    }

    #[test]
    fn partial_ingests_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        ContentStore::open(dir.path()).unwrap();
        fs::write(dir.path().join("ingest/123-0"), b"half a blob").unwrap();
        ContentStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
    }
}
