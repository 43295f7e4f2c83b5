//! A container's files: `diff` (changes), `export`, `cp` (archive stat/get/put) and `commit`.
//! Paths inside the container are resolved with `openat2(RESOLVE_IN_ROOT)` beneath its root,
//! so a symlink planted in the container cannot lead a copy out of it.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Container, Engine};
use crate::error::{EngineError, Result};

/// A `Write` that sends what it gets to an async receiver (a streaming response body).
pub struct ChanWriter(pub mpsc::Sender<Vec<u8>>);

impl Write for ChanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(buf.to_vec())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `stat` of a path in the container, as Docker's `X-Docker-Container-Path-Stat` header holds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` bits for a stat mode.
pub fn go_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    match mode & libc::S_IFMT {
        libc::S_IFDIR => m |= 1 << 31,
        libc::S_IFLNK => m |= 1 << 27,
        libc::S_IFIFO => m |= 1 << 25,
        libc::S_IFSOCK => m |= 1 << 24,
        libc::S_IFCHR => m |= (1 << 26) | (1 << 21),
        libc::S_IFBLK => m |= 1 << 26,
        _ => {}
    }
    if mode & libc::S_ISUID != 0 {
        m |= 1 << 23;
    }
    if mode & libc::S_ISGID != 0 {
        m |= 1 << 22;
    }
    if mode & libc::S_ISVTX != 0 {
        m |= 1 << 20;
    }
    m
}

/// Splits a container path into its parent directory (resolved, following links inside the
/// root) and its last component (not followed, as `docker cp` copies a link as a link).
fn split(path: &str) -> (PathBuf, String) {
    if path.ends_with("/.") {
        return (PathBuf::from(path), ".".into());
    }
    let p = Path::new(path);
    match p.file_name() {
        Some(n) => (p.parent().map(Path::to_path_buf).unwrap_or_default(), n.to_string_lossy().into_owned()),
        None => (PathBuf::new(), "/".into()),
    }
}

/// The host path of `path` inside `root`, its parent resolved beneath the root.
pub(crate) fn host_path(root: &Path, path: &str) -> Result<PathBuf> {
    if path.contains('\0') {
        return Err(EngineError::InvalidArgument(format!(
            "invalid path {path:?}: it contains a NUL byte, which no file name can hold"
        )));
    }
    let (parent, name) = split(path);
    let dir = std::fs::File::open(root)?;
    let rel = parent.strip_prefix("/").unwrap_or(&parent).to_path_buf();
    let fd: OwnedFd = berth_archive::open_in_root(dir.as_raw_fd(), &rel, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| not_found(path, e))?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    let root_real = std::fs::canonicalize(root)?;
    if !real.starts_with(&root_real) {
        return Err(EngineError::InvalidArgument(format!("{path} resolves outside the container")));
    }
    Ok(if name == "." || name == "/" { real } else { real.join(name) })
}

/// Makes the directory `path` inside `root` and its missing parents (root-owned, 0755), each
/// resolved inside `root` (a link in the image cannot lead the making out of it). Its host path.
pub(crate) fn mkdir_in_root(root: &Path, path: &str) -> Result<PathBuf> {
    let mut prefix = String::new();
    let mut last = root.to_path_buf();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        prefix = format!("{prefix}/{part}");
        last = host_path(root, &prefix)?;
        match std::fs::create_dir(&last) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(last)
}

/// Whether `path` lies on the mount of `root` itself (not on a volume or bind beneath it).
fn same_filesystem(root: &Path, path: &Path) -> bool {
    let dev = |p: &Path| std::fs::metadata(p).ok().map(|m| m.dev());
    dev(root) == dev(path)
}

/// Whether `path` is on a read-only mount.
fn read_only(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path)
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

fn not_found(path: &str, e: std::io::Error) -> EngineError {
    if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) {
        EngineError::NotFound(format!("Could not find the file {path} in container"))
    } else {
        EngineError::Internal(format!("{path}: {e}"))
    }
}

impl Engine {
    pub fn changes(&self, c: &Arc<Container>) -> Result<serde_json::Value> {
        let mut changes = self.images.rootfs_changes(&c.id, None)?;
        // The mount points of the files the daemon binds in are its own, not the container's
        // changes (Docker keeps them in an init layer).
        const OURS: &[&str] = &["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];
        changes.retain(|ch| {
            !(OURS.iter().any(|o| ch.path == std::path::Path::new(o))
                && ch.kind == berth_archive::ChangeKind::Added)
        });
        if !changes.iter().any(|ch| ch.path.starts_with("/etc") && ch.path != std::path::Path::new("/etc")) {
            changes.retain(|ch| {
                !(ch.path == std::path::Path::new("/etc") && ch.kind == berth_archive::ChangeKind::Modified)
            });
        }
        Ok(serde_json::Value::Array(
            changes
                .into_iter()
                .map(|ch| {
                    let kind = match ch.kind {
                        berth_archive::ChangeKind::Modified => 0,
                        berth_archive::ChangeKind::Added => 1,
                        berth_archive::ChangeKind::Deleted => 2,
                    };
                    serde_json::json!({"Path": ch.path, "Kind": kind})
                })
                .collect(),
        ))
    }

    /// The container's filesystem as a tar (its root alone, as Docker's export: no volumes);
    /// hard links stay links (busybox's hundreds of names for one binary are one file, not
    /// hundreds of copies). Blocking.
    pub fn export(&self, c: &Arc<Container>, mut out: impl Write + Send) -> Result<()> {
        self.with_files(c, false, |root| {
            berth_archive::pack_tree(root, &mut out)
                .map_err(|e| EngineError::Internal(format!("exporting the container: {e}")))
        })
    }

    /// `HEAD /containers/{id}/archive`: a path's stat, through the container's mounts.
    pub fn archive_stat(&self, c: &Arc<Container>, path: &str) -> Result<PathStat> {
        self.with_files(c, true, |root| self.stat_in(root, path))
    }

    fn stat_in(&self, root: &Path, path: &str) -> Result<PathStat> {
        let hp = host_path(root, path)?;
        let md = std::fs::symlink_metadata(&hp).map_err(|e| not_found(path, e))?;
        let link_target = if md.file_type().is_symlink() {
            std::fs::read_link(&hp).map(|t| t.display().to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let (_, name) = split(path);
        Ok(PathStat {
            name,
            size: md.size() as i64,
            mode: go_mode(md.mode()),
            mtime: berth_api::time::rfc3339_nanos(md.mtime() * 1_000_000_000 + md.mtime_nsec()),
            link_target,
        })
    }

    /// `GET /containers/{id}/archive`: a tar of the path (through the container's mounts)
    /// written to `out`. Blocking.
    pub fn archive_get(&self, c: &Arc<Container>, path: &str, out: impl Write + Send) -> Result<()> {
        self.with_files(c, true, |root| {
            let hp = host_path(root, path)?;
            let md = std::fs::symlink_metadata(&hp).map_err(|e| not_found(path, e))?;
            let (_, name) = split(path);
            let mut b = tar::Builder::new(out);
            b.follow_symlinks(false);
            b.mode(tar::HeaderMode::Complete);
            if md.is_dir() {
                b.append_dir_all(&name, &hp)?;
            } else {
                b.append_path_with_name(&hp, &name)?;
            }
            b.finish()?;
            Ok(())
        })
    }

    /// `PUT /containers/{id}/archive`: extracts a tar into a directory of the container,
    /// through its mounts (a copy to a volume's path lands in the volume). Blocking.
    pub fn archive_put(
        &self,
        c: &Arc<Container>,
        path: &str,
        no_overwrite_dir_non_dir: bool,
        tar: impl std::io::Read + Send,
    ) -> Result<()> {
        let readonly_rootfs = c.rec().host_config.readonly_rootfs == Some(true);
        self.with_files(c, true, |root| {
            let hp = host_path(root, path)?;
            let md = std::fs::metadata(&hp).map_err(|e| not_found(path, e))?;
            if !md.is_dir() {
                return Err(EngineError::InvalidArgument(format!(
                    "extraction point is not a directory: {path}"
                )));
            }
            let on_root = same_filesystem(root, &hp);
            if on_root && readonly_rootfs {
                return Err(EngineError::InvalidArgument("container rootfs is marked read-only".into()));
            }
            if !on_root && read_only(&hp) {
                return Err(EngineError::InvalidArgument("mounted volume is marked read-only".into()));
            }
            let _ = no_overwrite_dir_non_dir;
            berth_archive::apply(
                &hp,
                tar,
                &berth_archive::ApplyOptions {
                    whiteouts: berth_archive::Whiteouts::Delete,
                    same_owner: true,
                },
            )
            .map_err(|e| EngineError::InvalidArgument(format!("copying into the container: {e}")))?;
            Ok(())
        })
    }

    /// `docker commit`.
    pub fn commit(
        &self,
        c: &Arc<Container>,
        reference: Option<String>,
        comment: Option<String>,
        author: Option<String>,
        changes: Vec<String>,
        pause: bool,
        config: Option<berth_api::models::ContainerConfig>,
    ) -> Result<String> {
        let rec = c.snapshot();
        let paused_here =
            pause && rec.state.status == super::Status::Running && self.shim(&c.id).pause().is_ok();
        let mut cc: berth_image::ContainerConfig = serde_json::from_value(
            serde_json::to_value(
                config.map(berth_api::record::container_config).unwrap_or(rec.config.clone()),
            )
            .unwrap_or_default(),
        )
        .map_err(|e| EngineError::InvalidArgument(format!("invalid container config: {e}")))?;
        cc.hostname = None;
        cc.image = None;
        let opts = berth_image::CommitOptions {
            config: cc,
            changes,
            comment,
            author,
            reference,
            container: rec.id.clone(),
            created_by: super::view::command_text(&rec.path, &rec.args),
            epoch: None,
        };
        let r = self.images.commit(&rec.id, &rec.image_id, &opts);
        if paused_here {
            let _ = self.shim(&c.id).resume();
        }
        let id = r?;
        let mut attrs: std::collections::BTreeMap<String, String> =
            [("comment".to_string(), opts.comment.clone().unwrap_or_default())].into();
        attrs.insert("imageID".into(), id.to_string());
        attrs.insert("imageRef".into(), opts.reference.clone().unwrap_or_default());
        attrs.insert("name".into(), rec.name.clone());
        self.events.publish("container", "commit", &rec.id, attrs);
        Ok(id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_and_path_splits() {
        assert_eq!(go_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(go_mode(libc::S_IFREG | libc::S_ISUID | 0o755), (1 << 23) | 0o755);
        assert_eq!(split("/etc/hosts"), (PathBuf::from("/etc"), "hosts".to_string()));
        assert_eq!(split("/etc/."), (PathBuf::from("/etc/."), ".".to_string()));
        assert_eq!(split("/"), (PathBuf::from(""), "/".to_string()));
    }

    #[test]
    fn directories_are_made_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        let made = mkdir_in_root(&root, "/a/b/c").unwrap();
        assert!(made.ends_with("root/a/b/c") && made.is_dir());
        // Through the link, the making stays in the root.
        mkdir_in_root(&root, "/escape/berth-test-outside").unwrap();
        assert!(root.join("berth-test-outside").is_dir());
        assert!(!Path::new("/berth-test-outside").exists());
    }

    #[test]
    fn host_paths_stay_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("etc/up")).unwrap();
        let real = std::fs::canonicalize(&root).unwrap();
        assert_eq!(host_path(&root, "/escape/etc/passwd").unwrap(), real.join("etc/passwd"));
        assert_eq!(host_path(&root, "/etc/up/x").unwrap(), real.join("x"));
        // The last component is not followed: a link is copied as a link.
        assert_eq!(host_path(&root, "/escape").unwrap(), real.join("escape"));
        assert!(matches!(host_path(&root, "/nope/x"), Err(EngineError::NotFound(_))));
        assert!(matches!(host_path(&root, "/etc/a\0b"), Err(EngineError::InvalidArgument(_))));
    }
}
