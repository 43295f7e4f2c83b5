//! The registry's storage: blobs in berth's content store, repositories' links, manifests and
//! tags in a metadata database. Every operation here is blocking (files and the database); the
//! HTTP layer runs them off the async threads.
//!
//! Writes that make a blob reachable (an upload's commit, a mount, a manifest's push) hold the
//! collector's lock shared; the collector holds it alone (see [`crate::gc`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use berth_content::{ContentStore, Digest};
use berth_metadata::{Db, Reader};

use crate::error::{io_err, Code, RegistryError, Result};
use crate::manifest;
use crate::records::{now, object_key, tag_key, LinkRecord, ManifestRecord, TagRecord, UploadRecord};
use crate::route::{valid_name, valid_tag};
use crate::uploads::UploadState;

pub struct Store {
    pub(crate) db: Db,
    pub(crate) content: ContentStore,
    pub(crate) uploads_dir: PathBuf,
    /// Where collected blobs wait for their bytes to be removed, outside the collector's lock.
    pub(crate) trash_dir: PathBuf,
    /// Shared by writes that make blobs reachable, taken alone by the collector.
    pub(crate) gc_lock: RwLock<()>,
    pub(crate) uploads: Mutex<HashMap<String, Arc<Mutex<UploadState>>>>,
}

/// A manifest's reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        if s.contains(':') {
            return Digest::parse(s)
                .map(Reference::Digest)
                .map_err(|_| RegistryError::spec(Code::DigestInvalid, format!("invalid digest {s:?}")));
        }
        if !valid_tag(s) {
            return Err(RegistryError::spec(Code::ManifestInvalid, format!("invalid tag {s:?}")));
        }
        Ok(Reference::Tag(s.to_string()))
    }
}

/// A manifest as stored.
pub struct Manifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A page of a sorted listing.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<String>,
    /// The last item given, when more follow.
    pub next: Option<String>,
}

/// Takes the items after `last`, at most `n` of them.
pub fn page(sorted: impl IntoIterator<Item = String>, n: Option<usize>, last: Option<&str>) -> Page {
    let mut items: Vec<String> = sorted.into_iter().filter(|i| last.is_none_or(|l| i.as_str() > l)).collect();
    let mut next = None;
    if let Some(n) = n {
        if items.len() > n {
            items.truncate(n);
            next = items.last().cloned();
        }
    }
    Page { items, next }
}

pub fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(RegistryError::spec(Code::NameInvalid, format!("invalid repository name {name:?}")))
    }
}

pub fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|_| RegistryError::spec(Code::DigestInvalid, format!("invalid digest {s:?}")))
}

fn manifest_unknown(name: &str, reference: &str) -> RegistryError {
    RegistryError::spec(
        Code::ManifestUnknown,
        format!("manifest unknown: {name}:{reference} is not in this registry"),
    )
}

/// A manifest's blobs and listed manifests must be in its repository.
fn check_edges(tx: &impl Reader, name: &str, parsed: &manifest::Parsed) -> Result<()> {
    for b in &parsed.blobs {
        if tx.get::<LinkRecord>(&object_key(name, b))?.is_none() {
            return Err(RegistryError::spec(
                Code::ManifestBlobUnknown,
                format!("blob {b} is not in repository {name}: push it before the manifest"),
            ));
        }
    }
    for m in &parsed.manifests {
        if tx.get::<ManifestRecord>(&object_key(name, m))?.is_none() {
            return Err(RegistryError::spec(
                Code::ManifestBlobUnknown,
                format!("manifest {m} is not in repository {name}: push it before the index"),
            ));
        }
    }
    Ok(())
}

impl Store {
    /// Opens (creating) the storage under `root`: `content/` (blobs), `uploads/`, `trash/`
    /// (emptied here of what a collection cut short left), `registry.db`.
    pub fn open(root: &Path) -> Result<Store> {
        std::fs::create_dir_all(root).map_err(io_err("create", root))?;
        let content = ContentStore::open(root.join("content"))?;
        let uploads_dir = root.join("uploads");
        std::fs::create_dir_all(&uploads_dir).map_err(io_err("create", &uploads_dir))?;
        let trash_dir = root.join("content").join("trash");
        std::fs::create_dir_all(&trash_dir).map_err(io_err("create", &trash_dir))?;
        crate::gc::empty_trash(&trash_dir);
        let db = Db::open(&root.join("registry.db"))?;
        db.ensure::<LinkRecord>()?;
        db.ensure::<ManifestRecord>()?;
        db.ensure::<TagRecord>()?;
        db.ensure::<UploadRecord>()?;
        Ok(Store {
            db,
            content,
            uploads_dir,
            trash_dir,
            gc_lock: RwLock::new(()),
            uploads: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn shared_gc(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gc_lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a repository has anything (a manifest or a blob).
    pub fn repository_exists(&self, name: &str) -> Result<bool> {
        self.db.read(|tx| {
            Ok::<_, RegistryError>(
                !tx.prefixed::<ManifestRecord>(&format!("{name}@"))?.is_empty()
                    || !tx.prefixed::<LinkRecord>(&format!("{name}@"))?.is_empty(),
            )
        })
    }

    fn resolve(&self, name: &str, reference: &Reference) -> Result<(Digest, ManifestRecord)> {
        let shown = match reference {
            Reference::Tag(t) => t.clone(),
            Reference::Digest(d) => d.to_string(),
        };
        self.db.read(|tx| {
            let digest = match reference {
                Reference::Digest(d) => d.clone(),
                Reference::Tag(t) => match tx.get::<TagRecord>(&tag_key(name, t))? {
                    Some(r) => r.digest,
                    None => return Err(manifest_unknown(name, &shown)),
                },
            };
            match tx.get::<ManifestRecord>(&object_key(name, &digest))? {
                Some(m) => Ok((digest, m)),
                None => Err(manifest_unknown(name, &shown)),
            }
        })
    }

    /// A manifest's digest, media type and size, without its bytes (`HEAD`).
    pub fn stat_manifest(&self, name: &str, reference: &Reference) -> Result<(Digest, String, u64)> {
        let (digest, m) = self.resolve(name, reference)?;
        Ok((digest, m.media_type, m.size))
    }

    pub fn manifest(&self, name: &str, reference: &Reference) -> Result<Manifest> {
        let (digest, m) = self.resolve(name, reference)?;
        let bytes = self.content.read_blob(&digest)?;
        Ok(Manifest { digest, media_type: m.media_type, bytes })
    }

    /// Stores a manifest under a tag or its digest. Refused when it names blobs or manifests the
    /// repository lacks (non-distributable layers excepted), or when its digest is not the one
    /// it is pushed by. Says the digest and the subject, if any.
    pub fn put_manifest(
        &self,
        name: &str,
        reference: &Reference,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(Digest, Option<Digest>)> {
        if body.len() > manifest::MAX_MANIFEST {
            return Err(RegistryError::spec(Code::SizeInvalid, "manifest is larger than 4 MiB"));
        }
        let parsed = manifest::parse(content_type, body)?;
        let digest = match reference {
            Reference::Digest(want) => {
                let mut h = berth_content::Digester::new(want.algorithm());
                h.update(body);
                let got = h.finish();
                if &got != want {
                    return Err(RegistryError::spec(
                        Code::DigestInvalid,
                        format!("manifest digest {got} does not match the reference {want}"),
                    ));
                }
                got
            }
            Reference::Tag(_) => Digest::of(body),
        };
        let _shared = self.shared_gc();
        // Checked before the bytes are stored (so a refused manifest leaves nothing), and again
        // with the record: a blob unlinked in between fails the push.
        self.db.read(|tx| check_edges(tx, name, &parsed))?;
        let mut w = self.content.ingest(Some((digest.clone(), Some(body.len() as u64))))?;
        std::io::Write::write_all(&mut w, body).map_err(io_err("write", w.path()))?;
        w.commit()?;
        let record = ManifestRecord {
            media_type: parsed.media_type.clone(),
            size: body.len() as u64,
            created: now(),
            blobs: parsed.blobs.clone(),
            manifests: parsed.manifests.clone(),
            subject: parsed.subject.clone(),
            artifact_type: parsed.artifact_type.clone(),
            annotations: parsed.annotations.clone(),
        };
        self.db.write(|tx| {
            check_edges(tx, name, &parsed)?;
            tx.put(&object_key(name, &digest), &record)?;
            if let Reference::Tag(t) = reference {
                tx.put(&tag_key(name, t), &TagRecord { digest: digest.clone() })?;
            }
            Ok::<_, RegistryError>(())
        })?;
        Ok((digest, parsed.subject))
    }

    /// Deletes a tag (the manifest stays), or a manifest by digest with every tag naming it.
    pub fn delete_manifest(&self, name: &str, reference: &Reference) -> Result<()> {
        self.db.write(|tx| match reference {
            Reference::Tag(t) => {
                if tx.delete::<TagRecord>(&tag_key(name, t))? {
                    Ok(())
                } else {
                    Err(manifest_unknown(name, t))
                }
            }
            Reference::Digest(d) => {
                if !tx.delete::<ManifestRecord>(&object_key(name, d))? {
                    return Err(manifest_unknown(name, &d.to_string()));
                }
                for (key, tag) in tx.prefixed::<TagRecord>(&format!("{name}:"))? {
                    if &tag.digest == d {
                        tx.delete::<TagRecord>(&key)?;
                    }
                }
                Ok(())
            }
        })
    }

    /// A blob's size, when the repository has it (pushed, mounted, or a manifest of it).
    pub fn stat_blob(&self, name: &str, digest: &Digest) -> Result<u64> {
        let key = object_key(name, digest);
        let linked = self.db.read(|tx| {
            Ok::<_, RegistryError>(
                tx.get::<LinkRecord>(&key)?.is_some() || tx.get::<ManifestRecord>(&key)?.is_some(),
            )
        })?;
        match self.content.info(digest) {
            Some(size) if linked => Ok(size),
            _ => Err(RegistryError::spec(
                Code::BlobUnknown,
                format!("blob {digest} is not in repository {name}"),
            )),
        }
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.content.blob_path(digest)
    }

    /// Unlinks a blob from a repository; the collector frees it when no repository has it.
    pub fn delete_blob(&self, name: &str, digest: &Digest) -> Result<()> {
        let key = object_key(name, digest);
        if self.db.write(|tx| tx.delete::<LinkRecord>(&key))? {
            Ok(())
        } else {
            Err(RegistryError::spec(Code::BlobUnknown, format!("blob {digest} is not in repository {name}")))
        }
    }

    /// Links a blob `from` holds into `name` (a cross-repository mount); says whether it could.
    pub fn mount(&self, name: &str, from: &str, digest: &Digest) -> Result<bool> {
        let _shared = self.shared_gc();
        if self.content.info(digest).is_none() {
            return Ok(false);
        }
        self.db.write(|tx| {
            let key = object_key(from, digest);
            if tx.get::<LinkRecord>(&key)?.is_none() && tx.get::<ManifestRecord>(&key)?.is_none() {
                return Ok(false);
            }
            tx.put(&object_key(name, digest), &LinkRecord { linked: now() })?;
            Ok(true)
        })
    }

    /// Links a committed blob into a repository.
    pub(crate) fn link(&self, name: &str, digest: &Digest) -> Result<()> {
        self.db.write(|tx| tx.put(&object_key(name, digest), &LinkRecord { linked: now() }))?;
        Ok(())
    }

    /// A repository's tags, sorted; `NAME_UNKNOWN` when it has none and no manifests.
    pub fn tags(&self, name: &str) -> Result<Vec<String>> {
        let prefix = format!("{name}:");
        let tags: Vec<String> = self
            .db
            .read(|tx| tx.prefixed::<TagRecord>(&prefix))?
            .into_iter()
            .map(|(k, _)| k[prefix.len()..].to_string())
            .collect();
        if tags.is_empty() && !self.repository_exists(name)? {
            return Err(RegistryError::spec(
                Code::NameUnknown,
                format!("repository {name} is not known to this registry"),
            ));
        }
        Ok(tags)
    }

    /// Every repository with a manifest, sorted.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let keys = self.db.read(|tx| tx.all::<ManifestRecord>())?;
        // Keys sort `a/b@…` before `a@…`: names are sorted again as names.
        let names: std::collections::BTreeSet<String> =
            keys.into_iter().filter_map(|(k, _)| k.split_once('@').map(|(n, _)| n.to_string())).collect();
        Ok(names.into_iter().collect())
    }

    /// Repositories whose name holds `term` (Docker's `/v1/search`), sorted.
    pub fn search(&self, term: &str) -> Result<Vec<String>> {
        let term = term.to_ascii_lowercase();
        Ok(self.catalog()?.into_iter().filter(|n| n.contains(&term)).collect())
    }

    /// The descriptors of the manifests whose subject is `digest`, filtered by artifact type.
    pub fn referrers(
        &self,
        name: &str,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<serde_json::Value>> {
        let all = self.db.read(|tx| tx.prefixed::<ManifestRecord>(&format!("{name}@")))?;
        let mut out = Vec::new();
        for (key, m) in all {
            if m.subject.as_ref() != Some(digest) {
                continue;
            }
            if artifact_type.is_some_and(|t| m.artifact_type.as_deref() != Some(t)) {
                continue;
            }
            let Some((_, d)) = crate::records::split_object_key(&key) else { continue };
            let mut desc = serde_json::json!({"mediaType": m.media_type, "digest": d, "size": m.size});
            if let Some(t) = &m.artifact_type {
                desc["artifactType"] = t.clone().into();
            }
            if let Some(a) = &m.annotations {
                desc["annotations"] = serde_json::Value::Object(a.clone());
            }
            out.push(desc);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_last_and_n() {
        let items = || ["a", "b", "c", "d"].map(String::from);
        let p = |n, last| page(items(), n, last);
        assert_eq!(p(None, None).items, ["a", "b", "c", "d"]);
        assert_eq!(p(Some(2), None), Page { items: vec!["a".into(), "b".into()], next: Some("b".into()) });
        assert_eq!(p(Some(2), Some("b")), Page { items: vec!["c".into(), "d".into()], next: None });
        assert_eq!(p(Some(0), None), Page { items: vec![], next: None });
        assert_eq!(p(None, Some("bb")).items, ["c", "d"]);
        assert_eq!(p(Some(10), Some("d")).items, Vec::<String>::new());
    }

    #[test]
    fn references_are_tags_or_digests() {
        assert_eq!(Reference::parse("latest").unwrap(), Reference::Tag("latest".into()));
        assert!(matches!(
            Reference::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
            Reference::Digest(_)
        ));
        assert_eq!(Reference::parse("sha256:xyz").unwrap_err().code(), Code::DigestInvalid);
        assert_eq!(Reference::parse("-bad").unwrap_err().code(), Code::ManifestInvalid);
    }
}
