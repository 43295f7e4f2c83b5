//! Streaming, contained extraction of one layer.

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::fs::{self, cstr};
use crate::path::{clean_entry_path, CleanPath};
use crate::{ArchiveError, Result, OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};

/// How whiteouts in the layer are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// The target is an empty overlayfs layer directory: a deleted name becomes a 0/0 character
    /// device and an opaque directory gets `trusted.overlay.opaque=y`.
    Overlay,
    /// The target holds a copy of the parent layers: deleted names are removed, and an opaque
    /// directory loses whatever this layer did not put in it.
    Delete,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub whiteouts: Whiteouts,
    /// Give files the owners the archive names (false when not running as root).
    pub same_owner: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { whiteouts: Whiteouts::Overlay, same_owner: true }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Bytes the layer adds, counted as Docker counts a layer directory: sizes of regular files
    /// (each inode once) and lengths of symlink targets.
    pub size: u64,
    pub entries: u64,
}

/// Extracts the (uncompressed) tar stream `reader` into `target`.
pub fn apply(target: &Path, reader: impl Read, opts: &ApplyOptions) -> Result<ApplyStats> {
    let root = open_root(target)?;
    let mut x = Extractor {
        root,
        opts,
        parent: None,
        created: HashSet::new(),
        dir_times: Vec::new(),
        buf: vec![0u8; 64 * 1024],
    };
    let mut archive = tar::Archive::new(reader);
    let mut stats = ApplyStats::default();
    for entry in archive.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        stats.entries += 1;
        stats.size += x.entry(&mut entry)?;
    }
    x.finish()?;
    Ok(stats)
}

fn open_root(target: &Path) -> Result<OwnedFd> {
    let c = cstr(target.as_os_str()).map_err(|e| ArchiveError::io("open", target, e))?;
    // The target itself is trusted (it is ours); everything beneath is resolved inside it.
    fs::openat(libc::AT_FDCWD, &c, libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|e| ArchiveError::io("open", target, e))
}

struct Metadata {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: (i64, i64),
    xattrs: Vec<(CString, Vec<u8>)>,
}

struct Extractor<'a> {
    root: OwnedFd,
    opts: &'a ApplyOptions,
    /// The last parent directory opened, reused while entries stay in it.
    parent: Option<(PathBuf, OwnedFd)>,
    /// What this layer has put in place (for opaque directories in `Delete` mode).
    created: HashSet<PathBuf>,
    /// Directory times are set last: creating their children changes them.
    dir_times: Vec<(CleanPath, (i64, i64))>,
    /// File contents pass through here (one buffer for the whole layer).
    buf: Vec<u8>,
}

impl Extractor<'_> {
    /// Extracts one entry; returns the bytes it adds.
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<u64> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = clean_entry_path(&raw)
            .map_err(|reason| ArchiveError::Breakout { path: shown.clone(), reason })?;
        let meta = metadata(entry)?;
        let kind = entry.header().entry_type();
        let Some((parent, name)) = path.split() else {
            // The root itself: only its metadata can change.
            if kind.is_dir() {
                self.dir_times.push((path.clone(), meta.mtime));
            }
            return Ok(0);
        };
        let (parent, name) = (parent.to_path_buf(), name.to_os_string());
        let cname = cstr(&name).map_err(|_| ArchiveError::InvalidName { path: shown.clone() })?;

        if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            self.whiteout(&parent, &name, &shown)?;
            return Ok(0);
        }

        let pfd = self.parent_dir(&parent, &shown)?;
        let io_err = |op, e| ArchiveError::io(op, &shown, e);
        match fs::lstatat(pfd, &cname) {
            Ok(st) if fs::is_dir(&st) && kind.is_dir() => {}
            Ok(st) => {
                fs::remove_all_at(pfd, &cname).map_err(|e| io_err("remove", e))?;
                if fs::is_dir(&st) {
                    self.parent = None;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(io_err("stat", e)),
        }
        // The cache may have been dropped above; take the descriptor again.
        let pfd = self.parent_dir(&parent, &shown)?;

        let mut added = 0;
        let mut is_symlink = false;
        match kind {
            tar::EntryType::Directory => match fs::mkdirat(pfd, &cname, 0o700) {
                Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(io_err("mkdir", e)),
                _ => {}
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = fs::openat(
                    pfd,
                    &cname,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    0o600,
                )
                .map_err(|e| io_err("create", e))?;
                let mut file = std::fs::File::from(fd);
                added = copy_entry(entry, &mut file, &shown, &mut self.buf)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ArchiveError::InvalidName { path: shown.clone() })?;
                let ctarget = CString::new(target.as_ref())
                    .map_err(|_| ArchiveError::InvalidName { path: shown.clone() })?;
                fs::symlinkat(&ctarget, pfd, &cname).map_err(|e| io_err("symlink", e))?;
                added = target.len() as u64;
                is_symlink = true;
            }
            tar::EntryType::Link => {
                // The link's own header then sets the shared inode's owner, mode and times, as
                // Docker's extraction does; a link to a symlink is a symlink, whose target chmod
                // and xattrs would follow (out of the root), so it is treated as one.
                self.hard_link(entry, pfd, &cname, &shown)?;
                let st = fs::lstatat(pfd, &cname).map_err(|e| io_err("stat", e))?;
                is_symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let h = entry.header();
                let (fmt, major, minor) = match kind {
                    tar::EntryType::Char => (libc::S_IFCHR, h.device_major(), h.device_minor()),
                    tar::EntryType::Block => (libc::S_IFBLK, h.device_major(), h.device_minor()),
                    _ => (libc::S_IFIFO, Ok(Some(0)), Ok(Some(0))),
                };
                let major = major.ok().flatten().unwrap_or(0);
                let minor = minor.ok().flatten().unwrap_or(0);
                fs::mknodat(pfd, &cname, fmt | 0o600, libc::makedev(major, minor))
                    .map_err(|e| io_err("mknod", e))?;
            }
            tar::EntryType::XGlobalHeader => return Ok(0),
            other => {
                return Err(ArchiveError::Io {
                    op: "extract",
                    path: shown,
                    source: io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!("unsupported tar entry type {other:?}"),
                    ),
                })
            }
        }
        self.set_metadata(pfd, &cname, &meta, kind.is_dir(), is_symlink, &shown)?;
        if kind.is_dir() {
            self.dir_times.push((path.clone(), meta.mtime));
        }
        if self.opts.whiteouts == Whiteouts::Delete {
            self.created.insert(path.as_path().to_path_buf());
        }
        Ok(added)
    }

    /// Opens (creating as needed, 0755 like `mkdir -p`) a directory beneath the root.
    fn parent_dir(&mut self, parent: &Path, shown: &str) -> Result<RawFd> {
        if let Some((p, fd)) = &self.parent {
            if p == parent {
                return Ok(fd.as_raw_fd());
            }
        }
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let fd = match fs::open_in_root(self.root.as_raw_fd(), parent, flags) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.make_dirs(parent, shown)?,
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return Err(ArchiveError::NoOpenat2),
            Err(e) => return Err(ArchiveError::io("open parent of", shown, e)),
        };
        let raw = fd.as_raw_fd();
        self.parent = Some((parent.to_path_buf(), fd));
        Ok(raw)
    }

    fn make_dirs(&mut self, parent: &Path, shown: &str) -> Result<OwnedFd> {
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let mut prefix = PathBuf::new();
        let mut cur = fs::open_in_root(self.root.as_raw_fd(), &prefix, flags)
            .map_err(|e| ArchiveError::io("open", shown, e))?;
        for comp in parent.components() {
            prefix.push(comp);
            match fs::open_in_root(self.root.as_raw_fd(), &prefix, flags) {
                Ok(fd) => cur = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let c = cstr(comp.as_os_str()).map_err(|e| ArchiveError::io("mkdir", shown, e))?;
                    match fs::mkdirat(cur.as_raw_fd(), &c, 0o755) {
                        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                            return Err(ArchiveError::io("mkdir", &prefix, e))
                        }
                        _ => {}
                    }
                    cur = fs::openat(cur.as_raw_fd(), &c, flags | libc::O_NOFOLLOW, 0)
                        .map_err(|e| ArchiveError::io("open", &prefix, e))?;
                }
                Err(e) => return Err(ArchiveError::io("open", &prefix, e)),
            }
        }
        Ok(cur)
    }

    fn whiteout(&mut self, parent: &Path, name: &OsStr, shown: &str) -> Result<()> {
        let pfd = self.parent_dir(parent, shown)?;
        let io_err = |op, e| ArchiveError::io(op, shown, e);
        if name.as_bytes() == OPAQUE_WHITEOUT.as_bytes() {
            match self.opts.whiteouts {
                Whiteouts::Overlay => {
                    let dir =
                        fs::open_in_root(self.root.as_raw_fd(), parent, libc::O_RDONLY | libc::O_DIRECTORY)
                            .map_err(|e| io_err("open", e))?;
                    let attr = CString::new(OVERLAY_OPAQUE_XATTR).expect("constant");
                    fs::fsetxattr(dir.as_raw_fd(), &attr, b"y")
                        .map_err(|e| io_err("set opaque xattr on", e))?;
                }
                Whiteouts::Delete => {
                    let dir =
                        fs::open_in_root(self.root.as_raw_fd(), parent, libc::O_RDONLY | libc::O_DIRECTORY)
                            .map_err(|e| io_err("open", e))?;
                    self.remove_not_created(dir.as_raw_fd(), parent)
                        .map_err(|e| io_err("clear opaque", e))?;
                    self.parent = None;
                }
            }
            return Ok(());
        }
        if name.as_bytes().starts_with(b".wh..wh.") {
            // AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): nothing to extract.
            return Ok(());
        }
        let victim = OsStr::from_bytes(&name.as_bytes()[WHITEOUT_PREFIX.len()..]);
        if victim.is_empty() || victim == ".." || victim == "." {
            return Err(ArchiveError::InvalidName { path: shown.to_string() });
        }
        let cvictim = cstr(victim).map_err(|e| io_err("whiteout", e))?;
        fs::remove_all_at(pfd, &cvictim).map_err(|e| io_err("remove", e))?;
        self.parent = None;
        let pfd = self.parent_dir(parent, shown)?;
        if self.opts.whiteouts == Whiteouts::Overlay {
            fs::mknodat(pfd, &cvictim, libc::S_IFCHR, 0).map_err(|e| io_err("mknod whiteout", e))?;
        }
        Ok(())
    }

    /// `Delete`-mode opaque directories: remove what this layer did not create.
    fn remove_not_created(&self, dir: RawFd, rel: &Path) -> io::Result<()> {
        for child in fs::dir_entries(dir)? {
            let child_rel = rel.join(OsStr::from_bytes(child.as_bytes()));
            if !self.created.contains(&child_rel) {
                fs::remove_all_at(dir, &child)?;
            } else if fs::is_dir(&fs::lstatat(dir, &child)?) {
                let sub = fs::openat(dir, &child, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
                self.remove_not_created(sub.as_raw_fd(), &child_rel)?;
            }
        }
        Ok(())
    }

    fn hard_link<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        pfd: RawFd,
        cname: &CString,
        shown: &str,
    ) -> Result<()> {
        let raw =
            entry.link_name_bytes().ok_or_else(|| ArchiveError::InvalidName { path: shown.to_string() })?;
        let target = clean_entry_path(&raw)
            .map_err(|reason| ArchiveError::Breakout { path: shown.to_string(), reason })?;
        let Some((tparent, tname)) = target.split() else {
            return Err(ArchiveError::Breakout {
                path: shown.to_string(),
                reason: "a hard link to the root",
            });
        };
        let tdir = fs::open_in_root(self.root.as_raw_fd(), tparent, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| ArchiveError::io("open hard link target of", shown, e))?;
        let ctname = cstr(tname).map_err(|e| ArchiveError::io("link", shown, e))?;
        fs::linkat(tdir.as_raw_fd(), &ctname, pfd, cname).map_err(|e| ArchiveError::io("hard link", shown, e))
    }

    fn set_metadata(
        &self,
        pfd: RawFd,
        name: &CString,
        m: &Metadata,
        dir: bool,
        symlink: bool,
        shown: &str,
    ) -> Result<()> {
        let io_err = |op, e| ArchiveError::io(op, shown, e);
        if self.opts.same_owner {
            fs::fchownat(pfd, name, m.uid, m.gid).map_err(|e| io_err("chown", e))?;
        }
        if symlink {
            return fs::set_times(pfd, name, m.mtime.0, m.mtime.1).map_err(|e| io_err("set times of", e));
        }
        // After chown, which clears set-id bits and file capabilities.
        fs::fchmodat(pfd, name, m.mode & 0o7777).map_err(|e| io_err("chmod", e))?;
        if !m.xattrs.is_empty() {
            let fd =
                fs::openat(pfd, name, libc::O_PATH | libc::O_NOFOLLOW, 0).map_err(|e| io_err("open", e))?;
            for (key, value) in &m.xattrs {
                fs::set_xattr_via_proc(fd.as_raw_fd(), key, value).map_err(|e| io_err("set xattr on", e))?;
            }
        }
        if !dir {
            fs::set_times(pfd, name, m.mtime.0, m.mtime.1).map_err(|e| io_err("set times of", e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.parent = None;
        for (path, (secs, nsecs)) in self.dir_times.iter().rev() {
            let (parent, name) = path.split().unwrap_or((Path::new(""), OsStr::new(".")));
            let Ok(pfd) = fs::open_in_root(self.root.as_raw_fd(), parent, libc::O_PATH | libc::O_DIRECTORY)
            else {
                continue; // removed by a later whiteout
            };
            let c = cstr(name).map_err(|e| ArchiveError::io("set times of", path.as_path(), e))?;
            match fs::set_times(pfd.as_raw_fd(), &c, *secs, *nsecs) {
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                    return Err(ArchiveError::io("set times of", path.as_path(), e))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Copies an entry's data, telling read failures (a bad archive) from write failures (the host).
fn copy_entry(mut from: impl Read, to: &mut std::fs::File, shown: &str, buf: &mut [u8]) -> Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ArchiveError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(|e| ArchiveError::io("write", shown, e))?;
        total += n as u64;
    }
}

fn metadata<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Metadata> {
    let h = entry.header();
    let mut m = Metadata {
        // Empty numeric fields read as 0, as Go's archive/tar (which wrote most layers) reads them.
        uid: h.uid().unwrap_or(0) as u32,
        gid: h.gid().unwrap_or(0) as u32,
        mode: h.mode().unwrap_or(0o644),
        mtime: (h.mtime().unwrap_or(0) as i64, 0),
        xattrs: Vec::new(),
    };
    if let Some(exts) = entry.pax_extensions().map_err(ArchiveError::Read)? {
        for ext in exts {
            let ext = ext.map_err(ArchiveError::Read)?;
            let key = ext.key_bytes();
            let value = ext.value_bytes();
            if let Some(attr) = key.strip_prefix(b"SCHILY.xattr.") {
                // Overlay's own attributes are the snapshotter's business, never a layer's.
                if attr.starts_with(b"trusted.overlay.") {
                    continue;
                }
                if let Ok(name) = CString::new(attr) {
                    m.xattrs.push((name, value.to_vec()));
                }
            } else if key == b"uid" {
                m.uid = parse_num(value).unwrap_or(m.uid as u64) as u32;
            } else if key == b"gid" {
                m.gid = parse_num(value).unwrap_or(m.gid as u64) as u32;
            } else if key == b"mtime" {
                if let Some(t) = parse_time(value) {
                    m.mtime = t;
                }
            }
        }
    }
    Ok(m)
}

fn parse_num(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A PAX time, `secs[.fraction]`.
fn parse_time(v: &[u8]) -> Option<(i64, i64)> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    Some((secs, digits.parse().ok()?))
}
