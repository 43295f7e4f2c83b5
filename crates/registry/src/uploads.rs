//! Blob uploads: a session per upload (a file under `uploads/` and a record), chunks appended
//! in order and hashed as they arrive, the blob verified and published at the end. An upload
//! survives a restart of the server (its hash is then computed again from the file).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use berth_content::{Algorithm, Digest, Digester};

use crate::error::{io_err, Code, RegistryError, Result};
use crate::records::{now, UploadRecord};
use crate::store::Store;
use berth_metadata::Reader;

/// What the server keeps of an upload between its requests.
pub struct UploadState {
    pub offset: u64,
    /// SHA-256 of the bytes so far; `None` after a restart or a failed write.
    hasher: Option<Digester>,
}

fn unknown(id: &str) -> RegistryError {
    RegistryError::spec(Code::BlobUploadUnknown, format!("blob upload {id} is unknown: start a new upload"))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

impl Store {
    fn upload_path(&self, id: &str) -> std::path::PathBuf {
        self.uploads_dir.join(id)
    }

    /// Starts an upload into `name`; returns its ID.
    pub fn start_upload(&self, name: &str) -> Result<String> {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let path = self.upload_path(&id);
        File::create(&path).map_err(io_err("create", &path))?;
        self.db.write(|tx| tx.put(&id, &UploadRecord { repo: name.to_string(), started: now() }))?;
        let state = UploadState { offset: 0, hasher: Some(Digester::new(Algorithm::Sha256)) };
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), Arc::new(Mutex::new(state)));
        Ok(id)
    }

    /// The state of upload `id` of `name` (taken up again from its file after a restart).
    fn upload(&self, name: &str, id: &str) -> Result<Arc<Mutex<UploadState>>> {
        if !valid_id(id) {
            return Err(unknown(id));
        }
        match self.db.read(|tx| tx.get::<UploadRecord>(id))? {
            Some(r) if r.repo == name => {}
            _ => return Err(unknown(id)),
        }
        let mut map = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(id) {
            return Ok(s.clone());
        }
        let path = self.upload_path(id);
        let offset = std::fs::metadata(&path).map_err(|_| unknown(id))?.len();
        let state = Arc::new(Mutex::new(UploadState { offset, hasher: None }));
        map.insert(id.to_string(), state.clone());
        Ok(state)
    }

    /// How many bytes upload `id` holds.
    pub fn upload_offset(&self, name: &str, id: &str) -> Result<u64> {
        let state = self.upload(name, id)?;
        let offset = state.lock().unwrap_or_else(|e| e.into_inner()).offset;
        Ok(offset)
    }

    /// Appends a chunk that starts at `start` (when the client says so: a chunk that does not
    /// start where the upload stands is refused with 416). Returns the new length.
    pub fn append_upload(
        &self,
        name: &str,
        id: &str,
        start: Option<u64>,
        body: &mut dyn Read,
    ) -> Result<u64> {
        let state = self.upload(name, id)?;
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(start) = start {
            if start != s.offset {
                return Err(RegistryError::spec(
                    Code::RangeInvalid,
                    format!("chunk starts at {start} but upload {id} holds {} bytes", s.offset),
                ));
            }
        }
        self.write_chunk(id, &mut s, body)?;
        Ok(s.offset)
    }

    fn write_chunk(&self, id: &str, s: &mut UploadState, body: &mut dyn Read) -> Result<()> {
        let path = self.upload_path(id);
        let mut f = OpenOptions::new().append(true).open(&path).map_err(|_| unknown(id))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read the body of upload", &path)(e)),
            };
            if let Err(e) = f.write_all(&buf[..n]) {
                // What reached the file is unknown: count it again from the file.
                s.hasher = None;
                s.offset = f.metadata().map(|m| m.len()).unwrap_or(s.offset);
                return Err(io_err("write", &path)(e));
            }
            if let Some(h) = &mut s.hasher {
                h.update(&buf[..n]);
            }
            s.offset += n as u64;
        }
    }

    /// Ends upload `id` with its last chunk (if any): the bytes must hash to `digest`. The blob
    /// is published and linked into `name`; returns its size.
    pub fn finish_upload(
        &self,
        name: &str,
        id: &str,
        digest: &Digest,
        body: Option<&mut dyn Read>,
    ) -> Result<u64> {
        let state = self.upload(name, id)?;
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(body) = body {
            self.write_chunk(id, &mut s, body)?;
        }
        let path = self.upload_path(id);
        let got = match (&s.hasher, digest.algorithm()) {
            (Some(h), Algorithm::Sha256) => h.clone().finish(),
            _ => {
                let f = File::open(&path).map_err(io_err("open", &path))?;
                let mut r = berth_content::DigestReader::new(f, digest.algorithm());
                std::io::copy(&mut r, &mut std::io::sink()).map_err(io_err("read", &path))?;
                r.finish().map_err(io_err("read", &path))?.0
            }
        };
        if &got != digest {
            return Err(RegistryError::spec(
                Code::DigestInvalid,
                format!("upload {id} has digest {got}, not {digest}: the content is not what was promised"),
            ));
        }
        let size = {
            let _shared = self.shared_gc();
            let info = self.content.adopt(&path, digest)?;
            self.link(name, digest)?;
            info.size
        };
        self.forget_upload(id)?;
        Ok(size)
    }

    /// Cancels an upload; its bytes are removed.
    pub fn cancel_upload(&self, name: &str, id: &str) -> Result<()> {
        let state = self.upload(name, id)?;
        let _s = state.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.upload_path(id);
        let _ = std::fs::remove_file(&path);
        self.forget_upload(id)
    }

    fn forget_upload(&self, id: &str) -> Result<()> {
        self.db.write(|tx| tx.delete::<UploadRecord>(id))?;
        self.uploads.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        Ok(())
    }

    /// Removes uploads started more than `age` seconds ago (abandoned), and upload files no
    /// record names. Returns how many went.
    pub fn purge_uploads(&self, age: u64) -> Result<usize> {
        let records = self.db.read(|tx| tx.all::<UploadRecord>())?;
        let cutoff = now().saturating_sub(age);
        let mut gone = 0;
        for (id, r) in &records {
            if r.started < cutoff {
                let _ = self.cancel_upload(&r.repo, id);
                gone += 1;
            }
        }
        let known: std::collections::HashSet<&str> = records.iter().map(|(id, _)| id.as_str()).collect();
        let dir = &self.uploads_dir;
        for entry in std::fs::read_dir(dir).map_err(io_err("read", dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(name.as_str()) {
                let _ = std::fs::remove_file(entry.path());
                gone += 1;
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_in_order_make_a_verified_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = store.start_upload("a/b").unwrap();
        assert_eq!(store.append_upload("a/b", &id, Some(0), &mut &b"hello "[..]).unwrap(), 6);
        // Out of order: refused, the upload unchanged.
        let e = store.append_upload("a/b", &id, Some(3), &mut &b"xx"[..]).unwrap_err();
        assert_eq!(e.code(), Code::RangeInvalid);
        assert_eq!(store.upload_offset("a/b", &id).unwrap(), 6);
        // Another repository does not see it.
        assert_eq!(store.upload_offset("c", &id).unwrap_err().code(), Code::BlobUploadUnknown);
        let want = Digest::of(b"hello world");
        let wrong = Digest::of(b"other");
        assert_eq!(
            store.finish_upload("a/b", &id, &wrong, Some(&mut &b"world"[..])).unwrap_err().code(),
            Code::DigestInvalid
        );
        assert_eq!(store.finish_upload("a/b", &id, &want, None).unwrap(), 11);
        assert_eq!(store.stat_blob("a/b", &want).unwrap(), 11);
        assert_eq!(store.stat_blob("c", &want).unwrap_err().code(), Code::BlobUnknown);
        assert_eq!(store.upload_offset("a/b", &id).unwrap_err().code(), Code::BlobUploadUnknown);
    }

    #[test]
    fn uploads_survive_a_restart_and_sha512_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let store = Store::open(dir.path()).unwrap();
            let id = store.start_upload("a").unwrap();
            store.append_upload("a", &id, None, &mut &b"hel"[..]).unwrap();
            id
        };
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.upload_offset("a", &id).unwrap(), 3);
        let mut h = Digester::new(Algorithm::Sha512);
        h.update(b"hello");
        let want = h.finish();
        assert_eq!(store.finish_upload("a", &id, &want, Some(&mut &b"lo"[..])).unwrap(), 5);
        assert_eq!(store.stat_blob("a", &want).unwrap(), 5);
    }

    #[test]
    fn cancelled_and_abandoned_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = store.start_upload("a").unwrap();
        store.cancel_upload("a", &id).unwrap();
        assert_eq!(store.upload_offset("a", &id).unwrap_err().code(), Code::BlobUploadUnknown);
        store.start_upload("a").unwrap();
        std::fs::write(dir.path().join("uploads/stray"), b"x").unwrap();
        assert_eq!(store.purge_uploads(3600).unwrap(), 1);
        // "Older than 0 seconds ago" is nothing started this second; age is checked strictly.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(store.purge_uploads(0).unwrap(), 1);
        assert_eq!(std::fs::read_dir(dir.path().join("uploads")).unwrap().count(), 0);
    }
}
