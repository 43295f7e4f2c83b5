//! COPY and ADD from the context, as Docker's builder copies: sources relative to the
//! context (never outside it), wildcards matched per path element, a directory's contents
//! (not the directory) copied, a file landing at the destination or, when the destination is
//! a directory (a trailing `/`, `.`, several sources, or a directory already in the image),
//! inside it under its own name. The result is a tar of the files at their destinations, owned
//! by root unless `--chown`, modes kept unless `--chmod`, which the step extracts into the
//! container; and the sources' digests (content and metadata, not times) for the cache key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_build::ignore::clean;
use berth_build::perms::Chmod;
use sha2::{Digest as _, Sha256};

use crate::error::{EngineError, Result};

/// A source of the context a COPY names.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub path: PathBuf,
    /// Its name relative to the context.
    pub shown: String,
    pub is_dir: bool,
    /// A local tar archive ADD extracts (plain or compressed) instead of copying.
    pub archive: bool,
}

/// One source and where it goes.
#[derive(Debug)]
pub(crate) struct Item {
    pub src: PathBuf,
    /// The absolute destination: the file's path, or the directory its contents go into.
    pub dest: String,
    /// Extracted into `dest` (an archive ADD names), not written into the copy's tar.
    pub extract: bool,
}

/// The sources of a COPY matched in the context.
pub(crate) fn sources(context: &Path, sources: &[String]) -> Result<Vec<Source>> {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for s in sources {
        let rel = clean(s.trim_start_matches('/'));
        if rel == ".." || rel.starts_with("../") {
            return Err(EngineError::InvalidArgument(format!(
                "forbidden path outside the build context: {s} ()"
            )));
        }
        if rel.contains(['*', '?', '[']) {
            let mut matched = matches(context, &rel)?;
            if matched.is_empty() {
                return Err(EngineError::InvalidArgument(
                    "COPY failed: no source files were specified".into(),
                ));
            }
            matched.sort();
            found.extend(matched.into_iter().map(|m| (context.join(&m), m)));
        } else {
            let path = if rel == "." { context.to_path_buf() } else { context.join(&rel) };
            if fs::symlink_metadata(&path).is_err() {
                return Err(EngineError::InvalidArgument(format!(
                    "COPY failed: file not found in build context or excluded by .dockerignore: stat {rel}: file does not exist"
                )));
            }
            found.push((path, rel));
        }
    }
    Ok(found
        .into_iter()
        .map(|(path, shown)| {
            let is_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
            Source { path, shown, is_dir, archive: false }
        })
        .collect())
}

/// A COPY's heredoc sources, written as files of their names into `dir` (made for them): as
/// BuildKit makes them, mode 0644, owned by root unless `--chown`.
pub(crate) fn inline_sources(
    dir: &Path,
    files: &[berth_build::instructions::InlineFile],
) -> Result<Vec<Source>> {
    fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for f in files {
        let name = clean(&f.name);
        if name.contains('/') || name == "." || name == ".." {
            return Err(EngineError::InvalidArgument(format!(
                "invalid heredoc name {:?}: a heredoc source is a file name",
                f.name
            )));
        }
        let path = dir.join(&name);
        fs::write(&path, f.data.as_bytes())?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
        out.push(Source { path, shown: name, is_dir: false, archive: false });
    }
    Ok(out)
}

/// Marks the sources an ADD extracts: files that are tar archives, plain or compressed in any
/// of the ways Docker reads (told by their content, as Docker tells them, not their names).
pub(crate) fn mark_archives(found: &mut [Source]) {
    for s in found.iter_mut().filter(|s| !s.is_dir) {
        s.archive = is_archive(&s.path);
    }
}

/// Whether the file is a tar archive, plain or compressed.
pub(crate) fn is_archive(path: &Path) -> bool {
    let head = fs::File::open(path).and_then(|f| {
        let mut r = berth_archive::decompress_any(f)?;
        let mut head = Vec::with_capacity(512);
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut r, 512), &mut head)?;
        Ok(head)
    });
    head.is_ok_and(|h| berth_archive::is_tar_header(&h))
}

/// Extracts the archives of `items` into `root` (a container's files) at their destinations,
/// owners and modes as the archives have them.
pub(crate) fn extract_archives(root: &Path, items: &[(Item, bool)]) -> Result<()> {
    for (item, _) in items.iter().filter(|(i, _)| i.extract) {
        let target = crate::fs::mkdir_in_root(root, &item.dest)?;
        let data = berth_archive::decompress_any(fs::File::open(&item.src)?)?;
        let opts =
            berth_archive::ApplyOptions { whiteouts: berth_archive::Whiteouts::Delete, same_owner: true };
        berth_archive::apply(&target, data, &opts).map_err(|e| {
            EngineError::InvalidArgument(format!("extracting {} into the image: {e}", item.src.display()))
        })?;
    }
    Ok(())
}

/// Where each source goes: `dest` (relative to `workdir` unless absolute) as the file, or as
/// the directory things go into when it ends with `/` or `.`, when there are several
/// sources, or when the image has a directory there (`dest_is_dir`, asked of the absolute path).
pub(crate) fn destinations(
    found: &[Source],
    dest: &str,
    workdir: &str,
    dest_is_dir: impl Fn(&str) -> bool,
) -> Result<Vec<(Item, bool)>> {
    let into_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let absolute = if dest.starts_with('/') {
        clean(dest)
    } else {
        clean(&format!("{}/{dest}", if workdir.is_empty() { "/" } else { workdir }))
    };
    if found.len() > 1 && !into_dir {
        return Err(EngineError::InvalidArgument(
            "When using COPY with more than one source file, the destination must be a directory and end with a /".into(),
        ));
    }
    let dir_dest = into_dir || dest_is_dir(&absolute);
    Ok(found
        .iter()
        .map(|s| {
            let dest = if s.is_dir || s.archive || !dir_dest {
                absolute.clone()
            } else {
                let base = s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                clean(&format!("{absolute}/{base}"))
            };
            (Item { src: s.path.clone(), dest, extract: s.archive }, s.is_dir)
        })
        .collect())
}

/// Each source file's digest (content, mode and link target; not times or owners, which the
/// copy sets), by its path in the context, sorted: what the cache key holds of the sources.
pub(crate) fn digests(found: &[Source]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for s in found {
        let mut stack = vec![(s.path.clone(), s.shown.clone())];
        while let Some((path, shown)) = stack.pop() {
            let md = fs::symlink_metadata(&path)?;
            out.push((shown.clone(), file_digest(&path, &md)?));
            if md.is_dir() {
                for e in fs::read_dir(&path)?.flatten() {
                    stack.push((e.path(), format!("{shown}/{}", e.file_name().to_string_lossy())));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn file_digest(path: &Path, md: &fs::Metadata) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!("{:o} ", md.permissions().mode() & 0o7777).as_bytes());
    let ft = md.file_type();
    if ft.is_symlink() {
        h.update(b"link ");
        h.update(fs::read_link(path)?.as_os_str().as_encoded_bytes());
    } else if ft.is_dir() {
        h.update(b"dir");
    } else if ft.is_file() {
        std::io::copy(&mut fs::File::open(path)?, &mut HashWriter(&mut h))?;
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Context paths (relative) that a pattern with wildcards matches, element by element.
fn matches(context: &Path, pattern: &str) -> Result<Vec<String>> {
    let parts: Vec<&str> = pattern.split('/').collect();
    let mut current = vec![String::new()];
    for (i, part) in parts.iter().enumerate() {
        let mut next = Vec::new();
        for base in &current {
            let dir = if base.is_empty() { context.to_path_buf() } else { context.join(base) };
            if !part.contains(['*', '?', '[']) {
                let p = if base.is_empty() { part.to_string() } else { format!("{base}/{part}") };
                if fs::symlink_metadata(context.join(&p)).is_ok() {
                    next.push(p);
                }
                continue;
            }
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let hit = berth_build::ignore::wildcard_matches(part, &name)
                    .map_err(|e| EngineError::InvalidArgument(format!("COPY failed: {e}")))?;
                if hit && (i + 1 == parts.len() || e.path().is_dir()) {
                    next.push(if base.is_empty() { name } else { format!("{base}/{name}") });
                }
            }
        }
        current = next;
    }
    Ok(current)
}

/// How copied files are owned and moded.
pub(crate) struct Meta {
    pub owner: Option<(u32, u32)>,
    pub chmod: Option<Chmod>,
}

/// Writes the tar of `items` at their destinations into `out`.
pub(crate) fn write_tar(items: &[(Item, bool)], meta: &Meta, out: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for (item, is_dir) in items {
        if item.extract {
            continue;
        }
        if *is_dir {
            let mut stack = vec![(item.src.clone(), item.dest.clone())];
            while let Some((dir, dest)) = stack.pop() {
                let mut entries: Vec<_> = fs::read_dir(&dir)?.flatten().collect();
                entries.sort_by_key(|e| e.file_name());
                for e in entries {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let d = format!("{}/{name}", dest.trim_end_matches('/'));
                    let md = fs::symlink_metadata(e.path())?;
                    add(&mut tar, &e.path(), &d, &md, meta)?;
                    if md.is_dir() {
                        stack.push((e.path(), d));
                    }
                }
            }
        } else {
            let md = fs::symlink_metadata(&item.src)?;
            add(&mut tar, &item.src, &item.dest, &md, meta)?;
        }
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

fn add(
    tar: &mut tar::Builder<impl Write>,
    src: &Path,
    dest: &str,
    md: &fs::Metadata,
    meta: &Meta,
) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    let (uid, gid) = meta.owner.unwrap_or((0, 0));
    let mut mode = md.permissions().mode() & 0o7777;
    if let Some(c) = &meta.chmod {
        mode = c.apply(mode, md.is_dir());
    }
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mode(mode);
    h.set_mtime(md.mtime().max(0) as u64);
    let name = dest.trim_start_matches('/');
    let ft = md.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src)?;
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        tar.append_link(&mut h, name, &target)?;
    } else if ft.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        tar.append_data(&mut h, format!("{name}/"), std::io::empty())?;
    } else if ft.is_file() {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(md.len());
        tar.append_data(&mut h, name, fs::File::open(src)?)?;
    }
    // Devices, sockets and pipes in a context are not copied.
    Ok(())
}

/// How history names what a COPY copied: `file:<hex>` for one file, `dir:<hex>` for one
/// directory, `multi:<hex>` for several, the hex over the files' digests.
pub(crate) fn describe(found: &[Source], digests: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (p, d) in digests {
        h.update(p.as_bytes());
        h.update(d.as_bytes());
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let kind = match found {
        [s] if s.is_dir => "dir",
        [_] => "file",
        _ => "multi",
    };
    format!("{kind}:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.txt"), "a").unwrap();
        fs::write(d.path().join("b.txt"), "b").unwrap();
        fs::create_dir_all(d.path().join("dir/sub")).unwrap();
        fs::write(d.path().join("dir/sub/x"), "x").unwrap();
        d
    }

    fn dests(ctx: &Path, srcs: &[&str], dest: &str, workdir: &str) -> Result<Vec<(String, bool)>> {
        let srcs: Vec<String> = srcs.iter().map(|s| s.to_string()).collect();
        let found = sources(ctx, &srcs)?;
        let r = destinations(&found, dest, workdir, |p| p == "/existing")?;
        Ok(r.into_iter().map(|(i, d)| (i.dest, d)).collect())
    }

    #[test]
    fn destinations_follow_dockers_rules() {
        let c = context();
        let p = c.path();
        assert_eq!(dests(p, &["a.txt"], "/f", "").unwrap(), [("/f".to_string(), false)]);
        assert_eq!(dests(p, &["a.txt"], "/d/", "").unwrap(), [("/d/a.txt".to_string(), false)]);
        assert_eq!(dests(p, &["a.txt"], ".", "/app").unwrap(), [("/app/a.txt".to_string(), false)]);
        assert_eq!(dests(p, &["a.txt"], "rel", "/app").unwrap(), [("/app/rel".to_string(), false)]);
        assert_eq!(dests(p, &["a.txt"], "/existing", "").unwrap(), [("/existing/a.txt".to_string(), false)]);
        assert_eq!(dests(p, &["dir"], "/dir2", "").unwrap(), [("/dir2".to_string(), true)]);
        assert_eq!(
            dests(p, &["*.txt"], "/m/", "").unwrap(),
            [("/m/a.txt".to_string(), false), ("/m/b.txt".to_string(), false)]
        );
        assert_eq!(dests(p, &["dir/*/x"], "/x", "").unwrap(), [("/x".to_string(), false)]);
        for (sources, dest, message) in [
            (&["a.txt", "b.txt"][..], "/m", "When using COPY with more than one source file, the destination must be a directory and end with a /"),
            (&["*.txt"], "/m", "When using COPY with more than one source file, the destination must be a directory and end with a /"),
            (&["nope"], "/", "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist"),
            (&["*.md"], "/", "COPY failed: no source files were specified"),
            (&["../x"], "/", "forbidden path outside the build context: ../x ()"),
        ] {
            assert_eq!(dests(p, sources, dest, "").unwrap_err().to_string(), message, "{sources:?}");
        }
    }

    #[test]
    fn the_tar_has_the_files_at_their_destinations_owned_and_moded() {
        let c = context();
        let found = sources(c.path(), &["dir".to_string(), "a.txt".to_string()]).unwrap();
        let items = destinations(&found, "/out/", "", |_| false).unwrap();
        let meta = Meta { owner: Some((1000, 1000)), chmod: Some(Chmod::parse("640").unwrap()) };
        let mut buf = Vec::new();
        write_tar(&items, &meta, &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut seen: Vec<(String, u32, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                    e.header().uid().unwrap(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("out/a.txt".to_string(), 0o640, 1000),
                ("out/sub/".to_string(), 0o640, 1000),
                ("out/sub/x".to_string(), 0o640, 1000),
            ]
        );
        let d = digests(&found).unwrap();
        assert_eq!(
            d.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["a.txt", "dir", "dir/sub", "dir/sub/x"]
        );
        assert!(describe(&found, &d).starts_with("multi:"));
        // A file's digest moves with its content and mode.
        let before = digests(&found).unwrap();
        fs::write(c.path().join("dir/sub/x"), "changed").unwrap();
        assert_ne!(digests(&found).unwrap(), before);
    }
}
