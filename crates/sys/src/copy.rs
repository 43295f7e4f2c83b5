//! Copying a tree as `cp -a` copies it: hard links, devices, owners, modes, times and xattrs
//! kept, reflinks where the filesystem can make them. The snapshotter's layer copies, a
//! volume's copy-up and a build's bind sources all copy this way.

use std::io;
use std::path::Path;
use std::process::Command;

/// `cp -a --reflink=auto -- src dest`, with cp's meaning: `dest` missing becomes a copy of
/// `src` (a file or a directory); `src` ending in `/.` copies a directory's content into an
/// existing `dest`.
pub fn copy_tree(src: &Path, dest: &Path) -> io::Result<()> {
    let out = Command::new("cp").args(["-a", "--reflink=auto", "--"]).arg(src).arg(dest).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "cp {} {}: {}",
        src.display(),
        dest.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_tree_is_copied_with_its_links_and_modes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), "x").unwrap();
        std::fs::set_permissions(src.join("sub/f"), std::os::unix::fs::PermissionsExt::from_mode(0o751))
            .unwrap();
        std::fs::hard_link(src.join("sub/f"), src.join("hard")).unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("link")).unwrap();
        copy_tree(&src, &d.path().join("dest")).unwrap();
        let dest = d.path().join("dest");
        assert_eq!(std::fs::read_to_string(dest.join("sub/f")).unwrap(), "x");
        assert_eq!(dest.join("sub/f").metadata().unwrap().mode() & 0o7777, 0o751);
        assert_eq!(std::fs::read_link(dest.join("link")).unwrap(), Path::new("sub/f"));
        assert_eq!(dest.join("hard").metadata().unwrap().ino(), dest.join("sub/f").metadata().unwrap().ino());
        let e = copy_tree(&d.path().join("missing"), &d.path().join("x")).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
