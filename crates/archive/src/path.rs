//! Entry names made safe, without touching the filesystem.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// An entry name reduced to plain components beneath the root (empty for the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPath(PathBuf);

impl CleanPath {
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    /// The parent (possibly the root) and the last component; `None` for the root.
    pub fn split(&self) -> Option<(&Path, &OsStr)> {
        let name = self.0.file_name()?;
        Some((self.0.parent().unwrap_or(Path::new("")), name))
    }
}

/// Cleans a tar entry or hard-link name the way Docker does before it joins it to the target:
/// `.` and empty components go, `..` removes the previous component. A name that starts with
/// `/` is taken relative to the root (a `..` there stays at the root, like `/..` does); a
/// relative name that climbs above the root is refused, with the reason.
pub fn clean_entry_path(raw: &[u8]) -> Result<CleanPath, &'static str> {
    if raw.contains(&0) {
        return Err("the name contains a NUL byte");
    }
    let absolute = raw.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() && !absolute {
                    return Err("a \"..\" component climbs above the root");
                }
            }
            other => parts.push(other),
        }
    }
    let mut path = PathBuf::new();
    for part in parts {
        path.push(OsStr::from_bytes(part));
    }
    Ok(CleanPath(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_table() {
        let cases: &[(&str, Result<&str, ()>)] = &[
            ("etc/passwd", Ok("etc/passwd")),
            ("./etc//passwd", Ok("etc/passwd")),
            ("/etc/passwd", Ok("etc/passwd")),
            ("etc/", Ok("etc")),
            ("./", Ok("")),
            ("/", Ok("")),
            ("a/../b", Ok("b")),
            ("a/b/../../c", Ok("c")),
            ("/../../etc/shadow", Ok("etc/shadow")),
            ("/a/../../b", Ok("b")),
            ("../etc/passwd", Err(())),
            ("a/../../etc", Err(())),
            ("./..", Err(())),
            ("..", Err(())),
            ("a/b/../../../x", Err(())),
        ];
        for (raw, want) in cases {
            let got = clean_entry_path(raw.as_bytes());
            match want {
                Ok(p) => assert_eq!(got.unwrap().as_path(), Path::new(p), "{raw}"),
                Err(()) => assert!(got.is_err(), "{raw} should be refused"),
            }
        }
        assert!(clean_entry_path(b"a\0b").is_err());
    }

    #[test]
    fn split_gives_parent_and_name() {
        let p = clean_entry_path(b"/usr/bin/env").unwrap();
        assert_eq!(p.split(), Some((Path::new("usr/bin"), OsStr::new("env"))));
        let p = clean_entry_path(b"top").unwrap();
        assert_eq!(p.split(), Some((Path::new(""), OsStr::new("top"))));
        assert_eq!(clean_entry_path(b"/").unwrap().split(), None);
    }
}
