//! What a writable layer changed, as a list and as a layer tar.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{CString, OsString};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::{fs, ArchiveError, Result, OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified,
    Added,
    Deleted,
}

/// One change, with the path as the container sees it (`/etc/hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
}

/// Changes recorded in an overlayfs upper directory. `lowers` (topmost first) tell additions
/// from modifications. When `out` is given, the layer tar is written to it.
pub fn diff_overlay(upper: &Path, lowers: &[PathBuf], out: Option<&mut dyn Write>) -> Result<Vec<Change>> {
    let mut d = Differ { changes: Vec::new(), tar: out.map(TarOut::new) };
    d.walk_upper(upper, Path::new(""), lowers)?;
    d.finish()
}

/// Changes between a full copy (`current`) and the tree it was copied from (`parent`, or none
/// for a base layer), as the `native` snapshotter needs.
pub fn diff_trees(parent: Option<&Path>, current: &Path, out: Option<&mut dyn Write>) -> Result<Vec<Change>> {
    let mut d = Differ { changes: Vec::new(), tar: out.map(TarOut::new) };
    d.walk_trees(parent, current, Path::new(""))?;
    d.finish()
}

/// A whole tree as one tar, hard links kept as links and extended attributes as PAX records
/// (`docker export`).
pub fn pack_tree(root: &Path, out: &mut dyn Write) -> Result<()> {
    diff_trees(None, root, Some(out)).map(|_| ())
}

struct Differ<'a> {
    changes: Vec<Change>,
    tar: Option<TarOut<'a>>,
}

impl Differ<'_> {
    fn finish(self) -> Result<Vec<Change>> {
        if let Some(t) = self.tar {
            t.builder.into_inner().map_err(|e| ArchiveError::io("write", "layer tar", e))?.flush().ok();
        }
        Ok(self.changes)
    }

    fn record(&mut self, rel: &Path, kind: ChangeKind) {
        self.changes.push(Change { path: Path::new("/").join(rel), kind });
    }

    fn whiteout(&mut self, rel: &Path) -> Result<()> {
        self.record(rel, ChangeKind::Deleted);
        if let Some(t) = &mut self.tar {
            let name = rel.file_name().unwrap_or_default();
            let mut wh = OsString::from(WHITEOUT_PREFIX);
            wh.push(name);
            t.empty_file(&rel.with_file_name(wh))?;
        }
        Ok(())
    }

    fn add(&mut self, full: &Path, rel: &Path, meta: &std::fs::Metadata, kind: ChangeKind) -> Result<()> {
        self.record(rel, kind);
        if let Some(t) = &mut self.tar {
            t.entry(full, rel, meta)?;
        }
        Ok(())
    }

    fn walk_upper(&mut self, dir: &Path, rel: &Path, lowers: &[PathBuf]) -> Result<()> {
        for name in sorted_names(dir)? {
            let full = dir.join(&name);
            let rel = rel.join(&name);
            let meta = lstat(&full)?;
            if meta.file_type().is_char_device() && meta.rdev() == 0 {
                self.whiteout(&rel)?;
                continue;
            }
            let existed = lowers.iter().any(|l| l.join(&rel).symlink_metadata().is_ok());
            let kind = if existed { ChangeKind::Modified } else { ChangeKind::Added };
            self.add(&full, &rel, &meta, kind)?;
            if meta.is_dir() {
                if is_opaque(&full) {
                    if let Some(t) = &mut self.tar {
                        t.empty_file(&rel.join(OPAQUE_WHITEOUT))?;
                    }
                }
                self.walk_upper(&full, &rel, lowers)?;
            }
        }
        Ok(())
    }

    fn walk_trees(&mut self, parent: Option<&Path>, current: &Path, rel: &Path) -> Result<()> {
        let mut names: BTreeSet<OsString> = sorted_names(current)?.into_iter().collect();
        if let Some(p) = parent {
            names.extend(sorted_names(p).unwrap_or_default());
        }
        for name in names {
            let full = current.join(&name);
            let rel = rel.join(&name);
            let old = parent.map(|p| p.join(&name)).and_then(|p| p.symlink_metadata().ok().map(|m| (p, m)));
            let Ok(meta) = full.symlink_metadata() else {
                self.whiteout(&rel)?;
                continue;
            };
            match &old {
                None => self.add(&full, &rel, &meta, ChangeKind::Added)?,
                Some((old_path, old_meta)) if changed(old_path, old_meta, &full, &meta) => {
                    self.add(&full, &rel, &meta, ChangeKind::Modified)?
                }
                Some(_) => {}
            }
            if meta.is_dir() {
                let old_dir = old.as_ref().filter(|(_, m)| m.is_dir()).map(|(p, _)| p.as_path());
                self.walk_trees(old_dir, &full, &rel)?;
            }
        }
        Ok(())
    }
}

fn changed(old_path: &Path, old: &std::fs::Metadata, new_path: &Path, new: &std::fs::Metadata) -> bool {
    if old.mode() != new.mode()
        || old.uid() != new.uid()
        || old.gid() != new.gid()
        || old.rdev() != new.rdev()
    {
        return true;
    }
    if new.is_dir() {
        // A directory's own size and times change with its entries; those are listed apart.
        return false;
    }
    if old.size() != new.size() || old.mtime() != new.mtime() || old.mtime_nsec() != new.mtime_nsec() {
        return true;
    }
    if new.file_type().is_symlink() {
        return std::fs::read_link(old_path).ok() != std::fs::read_link(new_path).ok();
    }
    false
}

fn is_opaque(dir: &Path) -> bool {
    fs::list_xattrs(dir)
        .map(|attrs| attrs.iter().any(|(k, v)| k.as_bytes() == OVERLAY_OPAQUE_XATTR.as_bytes() && v == b"y"))
        .unwrap_or(false)
}

fn lstat(p: &Path) -> Result<std::fs::Metadata> {
    p.symlink_metadata().map_err(|e| ArchiveError::io("stat", p, e))
}

fn sorted_names(dir: &Path) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| ArchiveError::io("read directory", dir, e))? {
        names.push(e.map_err(|e| ArchiveError::io("read directory", dir, e))?.file_name());
    }
    names.sort();
    Ok(names)
}

/// A tar writer that keeps hard links as links and extended attributes as PAX records.
struct TarOut<'a> {
    builder: tar::Builder<&'a mut dyn Write>,
    links: HashMap<(u64, u64), PathBuf>,
}

impl<'a> TarOut<'a> {
    fn new(w: &'a mut dyn Write) -> Self {
        let mut builder = tar::Builder::new(w);
        builder.follow_symlinks(false);
        TarOut { builder, links: HashMap::new() }
    }

    fn header(meta: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(meta.uid() as u64);
        h.set_gid(meta.gid() as u64);
        h.set_mtime(meta.mtime().max(0) as u64);
        h.set_size(0);
        h
    }

    fn empty_file(&mut self, rel: &Path) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h.set_mtime(0);
        self.builder.append_data(&mut h, rel, io::empty()).map_err(|e| ArchiveError::io("write", rel, e))
    }

    fn entry(&mut self, full: &Path, rel: &Path, meta: &std::fs::Metadata) -> Result<()> {
        let err = |e| ArchiveError::io("write", rel, e);
        let ft = meta.file_type();
        let xattrs: Vec<(CString, Vec<u8>)> = if ft.is_symlink() {
            Vec::new()
        } else {
            fs::list_xattrs(full)
                .map_err(|e| ArchiveError::io("read xattrs of", full, e))?
                .into_iter()
                .filter(|(k, _)| !k.as_bytes().starts_with(b"trusted.overlay."))
                .collect()
        };
        if !xattrs.is_empty() {
            let records: Vec<(String, &[u8])> = xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{}", k.to_string_lossy()), v.as_slice()))
                .collect();
            self.builder.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v))).map_err(err)?;
        }
        if ft.is_dir() {
            let mut h = Self::header(meta, tar::EntryType::Directory);
            let mut name = rel.as_os_str().to_os_string();
            name.push("/");
            self.builder.append_data(&mut h, Path::new(&name), io::empty()).map_err(err)
        } else if ft.is_symlink() {
            let target = std::fs::read_link(full).map_err(|e| ArchiveError::io("read link", full, e))?;
            let mut h = Self::header(meta, tar::EntryType::Symlink);
            self.builder.append_link(&mut h, rel, &target).map_err(err)
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = Self::header(meta, tar::EntryType::Link);
                    let first = first.clone();
                    return self.builder.append_link(&mut h, rel, &first).map_err(err);
                }
                self.links.insert(key, rel.to_path_buf());
            }
            let mut h = Self::header(meta, tar::EntryType::Regular);
            h.set_size(meta.size());
            let f = std::fs::File::open(full).map_err(|e| ArchiveError::io("open", full, e))?;
            self.builder.append_data(&mut h, rel, f).map_err(err)
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                return Ok(()); // sockets do not travel in layers
            };
            let mut h = Self::header(meta, kind);
            if kind != tar::EntryType::Fifo {
                h.set_device_major(libc::major(meta.rdev())).map_err(err)?;
                h.set_device_minor(libc::minor(meta.rdev())).map_err(err)?;
            }
            self.builder.append_data(&mut h, rel, io::empty()).map_err(err)
        }
    }
}
