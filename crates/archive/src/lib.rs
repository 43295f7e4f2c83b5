//! Layer tarballs, the way image layers travel.
//!
//! * [`apply`] extracts a layer (plain, gzip or zstd; told apart by magic bytes) into a
//!   directory while it streams, applying OCI/AUFS whiteouts either as overlayfs whiteouts
//!   (for a layer that is its own overlay directory) or as deletions (for a layer applied onto
//!   a copy of its parent). Every path is resolved with `openat2(RESOLVE_IN_ROOT)` beneath the
//!   target, so neither `..`, absolute names nor symlinks planted by earlier entries can make it
//!   write outside; names and hard links that would leave the root are refused.
//! * [`diff`] writes the tar of a writable layer: from an overlayfs upper directory, or by
//!   comparing a full copy with its parent, with whiteouts for what was deleted.
//!
//! Nothing here holds a whole layer in memory.

mod apply;
mod clamp;
mod compress;
mod diff;
mod fs;
mod path;

pub use apply::{apply, ApplyOptions, ApplyStats, Whiteouts};
pub use clamp::ClampMtime;
pub use compress::{decompress, decompress_any, gzip, is_tar_header, Compression};
pub use diff::{diff_overlay, diff_trees, pack_tree, Change, ChangeKind};
pub use fs::open_in_root;
pub use path::{clean_entry_path, CleanPath};

use berth_kind::{Kind, Kinded};
use std::io;

/// The prefix of a whiteout entry's file name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of the entry that makes its directory opaque.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// Marks an overlayfs directory as opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive entry {path:?} would be written outside the target ({reason}); the layer is refused")]
    Breakout { path: String, reason: &'static str },
    #[error("archive entry {path:?} has an empty or invalid name")]
    InvalidName { path: String },
    #[error("reading the archive failed (truncated or corrupt?): {0}")]
    Read(#[source] io::Error),
    #[error("{op} {path:?}: {source}")]
    Io { op: &'static str, path: String, source: io::Error },
    #[error("this kernel lacks openat2 (Linux 5.6 or newer is needed to extract layers safely)")]
    NoOpenat2,
}

impl Kinded for ArchiveError {
    /// A malformed or hostile archive is the request's fault; the host failing us (disk full,
    /// permissions, a missing kernel feature) is internal.
    fn kind(&self) -> Kind {
        match self {
            ArchiveError::Breakout { .. } | ArchiveError::InvalidName { .. } | ArchiveError::Read(_) => {
                Kind::InvalidArgument
            }
            ArchiveError::Io { .. } | ArchiveError::NoOpenat2 => Kind::Internal,
        }
    }
}

impl ArchiveError {
    pub(crate) fn io(op: &'static str, path: impl AsRef<std::path::Path>, source: io::Error) -> Self {
        ArchiveError::Io { op, path: path.as_ref().display().to_string(), source }
    }
}

pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;
