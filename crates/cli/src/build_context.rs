//! The build context a `berth build` sends: a directory walked as the docker CLI walks it
//! (`.dockerignore` applied, the Dockerfile and `.dockerignore` always sent, owners made
//! root, hard links kept), a Dockerfile from outside it or from stdin added under a random
//! name the context's `.dockerignore` then names, or a tar (or a lone Dockerfile) from stdin.
//! The tar is written as it is sent, never held whole.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_build::ignore::Ignore;

/// A directory context and where its Dockerfile comes from.
pub struct DirContext {
    pub root: PathBuf,
    pub ignore: Ignore,
    /// The Dockerfile's path in the context, when it is there.
    pub dockerfile_inside: Option<String>,
    /// A Dockerfile from elsewhere (outside the context, or stdin): its text and the name it
    /// gets in the tar.
    pub added: Option<(String, Vec<u8>)>,
}

/// A context read from stdin: its first bytes (read to tell a tar from a Dockerfile) and
/// whether it is an archive.
pub fn stdin_is_archive(first: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"];
    MAGICS.iter().any(|m| first.starts_with(m)) || first.get(257..262) == Some(b"ustar")
}

/// Reads up to `n` bytes (less only at the end of the input).
pub fn read_up_to(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.by_ref().take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A tar holding only `Dockerfile` (`berth build - < Dockerfile`).
pub fn dockerfile_only(name: &str, text: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    append_bytes(&mut tar, name, text, 0o600)?;
    tar.finish()
}

/// The name a Dockerfile from outside the context gets inside it, as the docker CLI names it.
pub fn random_dockerfile_name() -> String {
    let mut bytes = [0u8; 10];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes[..8].copy_from_slice(&(t.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes());
    }
    format!(".dockerfile.{}", hex::encode(bytes))
}

fn append_bytes(
    tar: &mut tar::Builder<&mut dyn Write>,
    name: &str,
    data: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    );
    tar.append_data(&mut h, name, data)
}

impl DirContext {
    /// Whether `rel` goes into the tar.
    fn keeps(&self, rel: &str) -> bool {
        rel == ".dockerignore" || self.dockerfile_inside.as_deref() == Some(rel) || !self.ignore.excludes(rel)
    }

    /// Whether nothing below the excluded directory `rel` can be sent.
    fn skips(&self, rel: &str) -> bool {
        let below = format!("{rel}/");
        self.ignore.skips_dir(rel)
            && !self.dockerfile_inside.as_deref().is_some_and(|d| d.starts_with(&below))
    }

    /// Writes the context's tar to `out`.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        let mut links = HashMap::new();
        let mut wrote_ignore = false;
        self.walk(&mut tar, &self.root, "", &mut links, &mut wrote_ignore)?;
        if let Some((name, text)) = &self.added {
            append_bytes(&mut tar, name, text, 0o600)?;
            if !wrote_ignore {
                append_bytes(&mut tar, ".dockerignore", format!("{name}\n").as_bytes(), 0o600)?;
            }
        }
        tar.finish()
    }

    fn walk(
        &self,
        tar: &mut tar::Builder<&mut dyn Write>,
        dir: &Path,
        prefix: &str,
        links: &mut HashMap<(u64, u64), String>,
        wrote_ignore: &mut bool,
    ) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| context_error(dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| context_error(dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| context_error(&path, e))?;
            let kept = self.keeps(&rel);
            if meta.is_dir() {
                if kept {
                    self.append(tar, &path, &format!("{rel}/"), &meta, links)?;
                }
                if kept || !self.skips(&rel) {
                    self.walk(tar, &path, &rel, links, wrote_ignore)?;
                }
                continue;
            }
            if !kept {
                continue;
            }
            if rel == ".dockerignore" {
                if let Some((added, _)) = &self.added {
                    // The added Dockerfile is named in the context's ignore file, so the
                    // daemon leaves it out of what COPY sees.
                    let mut text = std::fs::read(&path).map_err(|e| context_error(&path, e))?;
                    text.extend_from_slice(format!("\n{added}\n").as_bytes());
                    append_bytes(tar, &rel, &text, meta.mode() & 0o7777)?;
                    *wrote_ignore = true;
                    continue;
                }
            }
            self.append(tar, &path, &rel, &meta, links)?;
        }
        Ok(())
    }

    fn append(
        &self,
        tar: &mut tar::Builder<&mut dyn Write>,
        path: &Path,
        rel: &str,
        meta: &std::fs::Metadata,
        links: &mut HashMap<(u64, u64), String>,
    ) -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        // Owned by root, as the docker CLI sends every file.
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("")?;
        h.set_groupname("")?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(path).map_err(|e| context_error(path, e))?;
            h.set_size(0);
            return tar.append_link(&mut h, rel, target);
        }
        if ft.is_dir() {
            h.set_size(0);
            return tar.append_data(&mut h, rel, std::io::empty());
        }
        if !ft.is_file() {
            // Sockets, fifos and devices have no place in a build context.
            return Ok(());
        }
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                return tar.append_link(&mut h, rel, first);
            }
            links.insert((meta.dev(), meta.ino()), rel.to_string());
        }
        let f = std::fs::File::open(path).map_err(|e| context_error(path, e))?;
        tar.append_data(&mut h, rel, f)
    }
}

/// An unreadable part of the context, named as the docker CLI names it.
fn context_error(path: &Path, e: std::io::Error) -> std::io::Error {
    let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!("error checking context: no permission to read from '{}'", path.display())
    } else {
        format!("error checking context: can't stat '{}': {}", path.display(), crate::common::io_text(&e))
    };
    std::io::Error::new(e.kind(), why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ctx: &DirContext) -> Vec<String> {
        let mut buf = Vec::new();
        ctx.write(&mut buf).unwrap();
        let mut ar = tar::Archive::new(buf.as_slice());
        ar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!((e.header().uid().unwrap(), e.header().gid().unwrap()), (0, 0));
                e.path().unwrap().to_string_lossy().into_owned()
            })
            .collect()
    }

    #[test]
    fn the_walk_applies_dockerignore_but_keeps_the_build_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "Dockerfile",
            ".dockerignore",
            "a.txt",
            "b.log",
            "skip/x",
            "keep/y.log",
            "keep/z",
            "sub/Dockerfile.dev",
        ] {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        std::fs::hard_link(root.join("a.txt"), root.join("hard")).unwrap();
        let ignore = Ignore::parse("*.log\n!keep/*.log\nskip\nDockerfile\n.dockerignore\nsub\n").unwrap();
        let ctx = DirContext {
            root: root.into(),
            ignore: ignore.clone(),
            dockerfile_inside: Some("sub/Dockerfile.dev".into()),
            added: None,
        };
        assert_eq!(
            names(&ctx),
            [".dockerignore", "a.txt", "hard", "keep/", "keep/y.log", "keep/z", "link", "sub/Dockerfile.dev"]
        );
        // A Dockerfile from elsewhere is added and named in the ignore file.
        let ctx = DirContext {
            root: root.into(),
            ignore,
            dockerfile_inside: None,
            added: Some((".dockerfile.0123".into(), b"FROM scratch\n".to_vec())),
        };
        let all = names(&ctx);
        assert_eq!(all.last().map(String::as_str), Some(".dockerfile.0123"));
        assert!(!all.contains(&"sub/Dockerfile.dev".to_string()), "{all:?}");
    }

    #[test]
    fn stdin_tells_archives_from_dockerfiles() {
        let mut tar = Vec::new();
        dockerfile_only("Dockerfile", b"FROM scratch\n", &mut tar).unwrap();
        assert!(stdin_is_archive(&tar[..512]));
        assert!(stdin_is_archive(b"\x1f\x8b\x08\x00"));
        assert!(!stdin_is_archive(b"FROM busybox\nRUN true\n"));
        assert!(random_dockerfile_name().starts_with(".dockerfile."));
        assert_eq!(random_dockerfile_name().len(), ".dockerfile.".len() + 20);
    }
}
