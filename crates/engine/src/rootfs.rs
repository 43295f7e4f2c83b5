//! A container's root filesystem seen from the host: whether it is mounted, unmounting it,
//! and reading its files without following links out of it.

use std::os::fd::AsRawFd;
use std::path::Path;

/// Whether `p` is a mount point (its device differs from its parent's).
pub(crate) fn is_mountpoint(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(p), p.parent().map(std::fs::symlink_metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev() || a.ino() == b.ino(),
        _ => false,
    }
}

pub(crate) fn unmount(p: &Path) {
    while is_mountpoint(p) {
        if nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

/// Reads a file of the container's root filesystem without following links out of it.
pub(crate) fn read_in_root(root: &Path, path: &str) -> Option<String> {
    use std::io::Read;
    let dir = std::fs::File::open(root).ok()?;
    let fd = berth_archive::open_in_root(dir.as_raw_fd(), Path::new(path), libc::O_RDONLY).ok()?;
    let mut f = std::fs::File::from(fd);
    let mut s = String::new();
    f.read_to_string(&mut s).ok()?;
    Some(s)
}
