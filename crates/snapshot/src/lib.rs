//! Snapshotters turn layers into directories and stacks of directories into root filesystems.
//!
//! A snapshot is a numbered directory under the snapshotter's root, `<root>/<id>/fs`, plus
//! `<root>/<id>/work` for overlayfs. Which snapshots exist, their keys and parents live in the
//! metadata database; a snapshotter is told the ids and only manages directories and mounts.
//!
//! * [`Overlay`]: each layer is its own directory holding only what the layer changed
//!   (whiteouts as overlayfs whiteouts); a container's root is an overlay mount of the parents'
//!   directories (lower) and its own (upper). Lower directories are given relative to the
//!   snapshotter's root (`12/fs:7/fs:…`) by a thread with a private working directory, so a
//!   stack of hundreds of layers fits in the mount options' page.
//! * [`Native`]: each snapshot is a full copy of its parent, for filesystems overlayfs cannot
//!   use; a container's root is a bind mount.
//!
//! [`open`] picks overlay when a test mount succeeds, native otherwise, and logs the choice.

mod native;
mod overlay;
mod usage;

pub use native::Native;
pub use overlay::Overlay;
pub use usage::disk_usage;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use berth_archive::{Change, Whiteouts};
use berth_kind::{Kind, Kinded};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshotter {0:?} is unknown: use overlayfs or native")]
    Unknown(String),
    #[error("snapshotter overlayfs is unavailable here: {0}")]
    Unavailable(String),
    #[error("snapshot {op} {path}: {source}")]
    Io { op: &'static str, path: String, source: io::Error },
    #[error(transparent)]
    Archive(#[from] berth_archive::ArchiveError),
}

impl Kinded for SnapshotError {
    fn kind(&self) -> Kind {
        match self {
            SnapshotError::Unknown(_) => Kind::InvalidArgument,
            SnapshotError::Archive(e) => e.kind(),
            SnapshotError::Unavailable(_) | SnapshotError::Io { .. } => Kind::Internal,
        }
    }
}

impl SnapshotError {
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotError {
        let path = path.display().to_string();
        move |source| SnapshotError::Io { op, path, source }
    }
}

pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

/// A mount, as an OCI spec's `mounts` or `mount(8)` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

/// Layers as directories, and stacks of them as root filesystems. `parents` lists parent
/// snapshot ids topmost first.
pub trait Snapshotter: Send + Sync {
    fn name(&self) -> &'static str;

    /// The directory under which snapshot directories live.
    fn root(&self) -> &Path;

    /// How layers are applied into a prepared snapshot.
    fn whiteouts(&self) -> Whiteouts;

    /// Whether a layer's directory holds only what the layer changes, so that it can be
    /// extracted before its parents are (and several side by side).
    fn layers_stand_alone(&self) -> bool;

    /// Creates snapshot `id` on top of `parents` and returns the directory to write into.
    fn prepare(&self, id: u64, parents: &[u64]) -> Result<PathBuf>;

    /// Mounts snapshot `id` with its parents at `target` (read-write).
    fn mount(&self, id: u64, parents: &[u64], target: &Path) -> Result<()>;

    /// The mount that [`mount`](Snapshotter::mount) performs, for a runtime to perform itself.
    fn mounts(&self, id: u64, parents: &[u64]) -> Vec<Mount>;

    /// What snapshot `id` changed relative to its parents; the layer tar goes to `out`.
    fn diff(&self, id: u64, parents: &[u64], out: Option<&mut dyn Write>) -> Result<Vec<Change>>;

    /// Bytes snapshot `id` holds by itself.
    fn usage(&self, id: u64) -> Result<u64> {
        disk_usage(&self.dir(id)).map_err(SnapshotError::io("measure", &self.dir(id)))
    }

    /// Removes snapshot `id`'s directories (it must not be mounted).
    fn remove(&self, id: u64) -> Result<()> {
        let dir = self.root().join(id.to_string());
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SnapshotError::io("remove", &dir)(e)),
            _ => Ok(()),
        }
    }

    /// The snapshot's own files.
    fn dir(&self, id: u64) -> PathBuf {
        self.root().join(id.to_string()).join("fs")
    }

    /// Every snapshot directory present (for reconciling with the database).
    fn ids(&self) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let root = self.root();
        for e in std::fs::read_dir(root).map_err(SnapshotError::io("read", root))? {
            let e = e.map_err(SnapshotError::io("read", root))?;
            if let Some(id) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// Opens the snapshotter `name` (`overlayfs` or `native`), or when `name` is `None` the one
/// this root already holds snapshots of, else the best one that works here; rooted at `dir`.
pub fn open(dir: &Path, name: Option<&str>) -> Result<Box<dyn Snapshotter>> {
    let has_snapshots =
        |d: &str| std::fs::read_dir(dir.join(d)).map(|mut e| e.next().is_some()).unwrap_or(false);
    let name = name.or_else(|| (has_snapshots("native") && !has_snapshots("overlayfs")).then_some("native"));
    match name {
        Some("overlayfs") | Some("overlay2") | Some("overlay") => {
            Ok(Box::new(Overlay::open(dir.join("overlayfs"))?))
        }
        Some("native") | Some("vfs") => Ok(Box::new(Native::open(dir.join("native"))?)),
        Some(other) => Err(SnapshotError::Unknown(other.to_string())),
        None => match Overlay::open(dir.join("overlayfs")) {
            Ok(o) => {
                tracing::info!(snapshotter = "overlayfs", "snapshotter chosen");
                Ok(Box::new(o))
            }
            Err(e) => {
                tracing::warn!(error = %e, "overlayfs unavailable, using the native snapshotter (full copies)");
                Ok(Box::new(Native::open(dir.join("native"))?))
            }
        },
    }
}

/// Unmounts `target` (lazily if busy); a target that is not mounted is fine.
pub fn unmount(target: &Path) -> Result<()> {
    match nix::mount::umount2(target, nix::mount::MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| SnapshotError::io("unmount", target)(e.into())),
        Err(e) => Err(SnapshotError::io("unmount", target)(e.into())),
    }
}

/// Bind-mounts `source` on `target`.
pub(crate) fn bind(source: &Path, target: &Path) -> Result<()> {
    nix::mount::mount(Some(source), target, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| SnapshotError::io("bind mount", target)(e.into()))
}

pub(crate) fn create_dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(SnapshotError::io("create", p))
}
