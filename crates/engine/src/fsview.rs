//! A container's files as its processes see them, for `cp` (archive stat, get and put) and
//! `export`: its root filesystem and, for `cp`, its volumes, binds and the daemon's `/etc`
//! files mounted where the container has them, as Docker resolves `cp` paths through a
//! container's mounts.
//!
//! The view is built in a mount namespace of one short-lived thread's own (everything made
//! private in it first), so none of its mounts is ever seen on the host or by another view, and
//! all of them are gone when the thread ends, whatever happened. Mount targets are resolved
//! beneath the root (`openat2(RESOLVE_IN_ROOT)`) and mounted through their descriptors, so a
//! symlink in the container cannot place a mount outside it. A stopped container's root is
//! mounted for the view with its lifecycle lock held: two overlay mounts of one writable layer
//! (two copies at once, or a copy and a start) would race on the layer's work directory.
//!
//! tmpfs mounts are not in the view: a running container's tmpfs lives only in its own mount
//! namespace, and a stopped one's is gone (a copy reaches the directory beneath, as on Docker).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mounts::MountKind;
use super::{Container, Engine};
use crate::error::{EngineError, Result};

/// One mount of the view: `source` (a host path) over `destination` (a path in the container).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ViewMount {
    source: PathBuf,
    destination: String,
    readonly: bool,
}

/// The view's mounts in the order they are made: parents before what is mounted beneath them.
fn ordered(mut mounts: Vec<ViewMount>) -> Vec<ViewMount> {
    let depth = |m: &ViewMount| Path::new(&m.destination).components().count();
    mounts.sort_by_key(depth);
    mounts
}

/// The directory views are built under (`<exec-root>/views`): never a mount point on the
/// host, so what a killed daemon left there is only empty directories, removed at start.
pub(crate) fn views_dir(exec_root: &Path) -> PathBuf {
    exec_root.join("views")
}

/// Opens `rel` beneath `root`, creating it (a directory, or an empty file when `dir` is false)
/// and its missing parents as directories, never following a link out of the root.
fn ensure_in_root(root: &std::fs::File, rel: &Path, dir: bool) -> std::io::Result<OwnedFd> {
    match berth_archive::open_in_root(root.as_raw_fd(), rel, libc::O_PATH) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        r => return r,
    }
    let name = rel.file_name().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    if !parent.as_os_str().is_empty() {
        ensure_in_root(root, parent, true)?;
    }
    let pfd = berth_archive::open_in_root(root.as_raw_fd(), parent, libc::O_DIRECTORY | libc::O_RDONLY)?;
    let cname = std::ffi::CString::new(name.as_encoded_bytes())?;
    // SAFETY: `pfd` is an open directory and `cname` a NUL-terminated name; a descriptor the
    // kernel returns is closed at once.
    let made = unsafe {
        if dir {
            libc::mkdirat(pfd.as_raw_fd(), cname.as_ptr(), 0o755)
        } else {
            let fd = libc::openat(
                pfd.as_raw_fd(),
                cname.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            fd.min(0)
        }
    };
    if made < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err(e);
        }
    }
    berth_archive::open_in_root(root.as_raw_fd(), rel, libc::O_PATH)
}

/// Bind-mounts `m` into the view rooted at `root` (in the calling thread's mount namespace).
fn bind(root: &Path, m: &ViewMount) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    let src_dir = std::fs::metadata(&m.source).map(|md| md.is_dir()).unwrap_or(true);
    let rootf = std::fs::File::open(root)?;
    let rel = Path::new(m.destination.trim_start_matches('/'));
    let target = ensure_in_root(&rootf, rel, src_dir)
        .map_err(|e| EngineError::internal(&format!("preparing {} for the copy", m.destination), e))?;
    let at = format!("/proc/self/fd/{}", target.as_raw_fd());
    mount(Some(&m.source), at.as_str(), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| EngineError::internal(&format!("mounting {} for the copy", m.destination), e))?;
    if m.readonly {
        // The new mount is on top of the target now: reach it by the destination's path.
        let top = berth_archive::open_in_root(rootf.as_raw_fd(), rel, libc::O_PATH)?;
        let at = format!("/proc/self/fd/{}", top.as_raw_fd());
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(None::<&str>, at.as_str(), None::<&str>, flags, None::<&str>).map_err(|e| {
            EngineError::internal(&format!("making {} read-only for the copy", m.destination), e)
        })?;
    }
    Ok(())
}

/// Gives the calling thread a mount namespace of its own in which nothing propagates back.
fn private_namespace() -> Result<()> {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_FS)
        .map_err(|e| EngineError::internal("a mount namespace for the copy", e))?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| EngineError::internal("a private mount namespace for the copy", e))
}

/// Removes a view's directory when the view is done (it is never a mount point on the host).
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

impl Engine {
    /// Runs `f` with the path of the container's files as the container sees them: its root
    /// and, with `with_mounts`, its volumes, binds and `/etc` files. Blocking.
    pub(crate) fn with_files<T: Send>(
        &self,
        c: &Arc<Container>,
        with_mounts: bool,
        f: impl FnOnce(&Path) -> Result<T> + Send,
    ) -> Result<T> {
        let rootfs = self.run_dir(&c.id).join("rootfs");
        let live = || c.rec().state.status.is_live() && super::rootfs::is_mountpoint(&rootfs);
        // A stopped container's root is mounted here, with its lifecycle held off meanwhile.
        let _op = if live() { None } else { Some(c.op.blocking_lock()) };
        let running = live();
        let rec = c.snapshot();
        let user = format!("view-{}", &berth_sys::new_id()[..12]);
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        let entries = if with_mounts { self.mount_entries(&rec)? } else { Vec::new() };
        let prepared = (|| -> Result<()> {
            for m in &entries {
                let source = match m.kind {
                    MountKind::Tmpfs => continue,
                    MountKind::Bind => PathBuf::from(&m.source),
                    MountKind::Volume if m.source.is_empty() => continue,
                    MountKind::Volume => {
                        let dir = self.volumes.mount(&m.source, &user)?;
                        volumes.push(m.source.clone());
                        dir
                    }
                };
                if source.exists() {
                    mounts.push(ViewMount { source, destination: m.destination.clone(), readonly: !m.rw });
                }
            }
            Ok(())
        })();
        let release = |volumes: &[String]| {
            for v in volumes {
                self.volumes.unmount(v, &user);
            }
        };
        if let Err(e) = prepared {
            release(&volumes);
            return Err(e);
        }
        if with_mounts {
            let data = self.data_dir(&rec.id);
            for (file, dest) in
                [("hosts", "/etc/hosts"), ("hostname", "/etc/hostname"), ("resolv.conf", "/etc/resolv.conf")]
            {
                if data.join(file).exists() && !entries.iter().any(|m| m.destination == dest) {
                    mounts.push(ViewMount {
                        source: data.join(file),
                        destination: dest.into(),
                        readonly: false,
                    });
                }
            }
        }
        let mounts = ordered(mounts);
        let scratch = if running {
            None
        } else {
            let dir = views_dir(&self.config().exec_root).join(&user);
            std::fs::create_dir_all(&dir)?;
            Some(ScratchDir(dir))
        };
        let root = scratch.as_ref().map(|s| s.0.clone()).unwrap_or(rootfs);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                private_namespace()?;
                if !running {
                    self.images.mount_rootfs(&c.id, &root)?;
                }
                for m in &mounts {
                    bind(&root, m)?;
                }
                f(&root)
            })
            .join()
            .unwrap_or_else(|_| Err(EngineError::Internal("the copy's thread panicked".into())))
        });
        release(&volumes);
        drop(scratch);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(dest: &str) -> ViewMount {
        ViewMount { source: PathBuf::from("/s"), destination: dest.into(), readonly: false }
    }

    #[test]
    fn parents_are_mounted_before_what_lies_beneath_them() {
        let got: Vec<String> =
            ordered(vec![vm("/data/sub/x"), vm("/etc/hosts"), vm("/data"), vm("/data/sub")])
                .into_iter()
                .map(|m| m.destination)
                .collect();
        assert_eq!(got, ["/data", "/etc/hosts", "/data/sub", "/data/sub/x"]);
    }

    #[test]
    fn mount_targets_are_made_beneath_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        // A link that would lead a naive join out of the root.
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        let rootf = std::fs::File::open(&root).unwrap();
        ensure_in_root(&rootf, Path::new("a/b/c"), true).unwrap();
        assert!(root.join("a/b/c").is_dir());
        ensure_in_root(&rootf, Path::new("etc/hosts"), false).unwrap();
        assert!(root.join("etc/hosts").is_file());
        // Through the link: made in the root, never on the host.
        let name = format!("berth-view-test-{}", std::process::id());
        ensure_in_root(&rootf, &Path::new("up").join(&name), true).unwrap();
        assert!(root.join(&name).is_dir());
        assert!(!Path::new("/").join(&name).exists());
        // Existing ones are opened as they are.
        ensure_in_root(&rootf, Path::new("a/b/c"), true).unwrap();
    }
}
