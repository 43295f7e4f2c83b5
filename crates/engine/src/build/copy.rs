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

use berth_build::ignore::{clean, Ignore};
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
    /// With `--parents`: its path under the destination (from the source's `./` pivot on).
    pub keep: Option<String>,
}

/// What a COPY takes of what its sources name: `--exclude`'s patterns (matched, as
/// `.dockerignore` matches, against a file's path from the context's root and against its
/// path inside a directory source) and `--parents`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    pub parents: bool,
    exclude: Option<Ignore>,
}

impl Selection {
    pub fn new(parents: bool, exclude: &[String]) -> Result<Selection> {
        let exclude = if exclude.is_empty() {
            None
        } else {
            let text = exclude.join("\n");
            Some(
                Ignore::parse(&text)
                    .map_err(|e| EngineError::InvalidArgument(format!("invalid --exclude: {e}")))?,
            )
        };
        Ok(Selection { parents, exclude })
    }

    /// Whether the file `shown` (from the context's root) is left out; `within` is its path
    /// inside the directory source it was found in ("" for a source itself).
    pub fn skips(&self, shown: &str, within: &str) -> bool {
        self.exclude.as_ref().is_some_and(|i| i.excludes(shown) || (!within.is_empty() && i.excludes(within)))
    }
}

/// One source and where it goes.
#[derive(Debug)]
pub(crate) struct Item {
    pub src: PathBuf,
    /// The absolute destination: the file's path, or the directory its contents go into.
    pub dest: String,
    /// Extracted into `dest` (an archive ADD names), not written into the copy's tar.
    pub extract: bool,
    /// The source's path from the context's root, for `--exclude`.
    pub shown: String,
}

/// The sources of a COPY matched in the context, less those `select` excludes.
pub(crate) fn sources(context: &Path, sources: &[String], select: &Selection) -> Result<Vec<Source>> {
    let mut found: Vec<(PathBuf, Option<String>, String)> = Vec::new();
    for s in sources {
        let rel = clean(s.trim_start_matches('/'));
        // `--parents` keeps a source's path from its last `./` on (from its start without one).
        let parts: Vec<&str> = s.trim_start_matches('/').split('/').collect();
        let pivot = parts.iter().enumerate().skip(1).filter(|(_, c)| **c == ".").map(|(i, _)| i).next_back();
        let pivot = pivot.map_or(0, |i| parts[..i].iter().filter(|c| !c.is_empty() && **c != ".").count());
        let keep = |m: &str| select.parents.then(|| m.split('/').skip(pivot).collect::<Vec<_>>().join("/"));
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
            matched.dedup();
            found.extend(matched.into_iter().map(|m| (context.join(&m), keep(&m), m)));
        } else {
            let path = if rel == "." { context.to_path_buf() } else { context.join(&rel) };
            if fs::symlink_metadata(&path).is_err() {
                return Err(EngineError::InvalidArgument(format!(
                    "COPY failed: file not found in build context or excluded by .dockerignore: stat {rel}: file does not exist"
                )));
            }
            let kept = keep(&rel);
            found.push((path, kept, rel));
        }
    }
    Ok(found
        .into_iter()
        .filter(|(_, _, shown)| !select.skips(shown, ""))
        .map(|(path, keep, shown)| {
            let is_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
            Source { path, shown, is_dir, archive: false, keep }
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
        out.push(Source { path, shown: name, is_dir: false, archive: false, keep: None });
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
    let parents = found.iter().any(|s| s.keep.is_some());
    let into_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.") || parents;
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
            let dest = if let Some(keep) = &s.keep {
                clean(&format!("{absolute}/{keep}"))
            } else if s.is_dir || s.archive || !dir_dest {
                absolute.clone()
            } else {
                let base = s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                clean(&format!("{absolute}/{base}"))
            };
            (Item { src: s.path.clone(), dest, extract: s.archive, shown: s.shown.clone() }, s.is_dir)
        })
        .collect())
}

/// Each source file's digest (content, mode and link target; not times or owners, which the
/// copy sets), by its path in the context, sorted: what the cache key holds of the sources.
pub(crate) fn digests(found: &[Source], select: &Selection) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for s in found {
        let mut stack = vec![(s.path.clone(), s.shown.clone(), String::new())];
        while let Some((path, shown, within)) = stack.pop() {
            let md = fs::symlink_metadata(&path)?;
            out.push((shown.clone(), file_digest(&path, &md)?));
            if md.is_dir() {
                for e in fs::read_dir(&path)?.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let within = if within.is_empty() { name.clone() } else { format!("{within}/{name}") };
                    let shown = format!("{shown}/{name}");
                    if !select.skips(&shown, &within) {
                        stack.push((e.path(), shown, within));
                    }
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
            if *part == "**" {
                // Any number of path elements, none among them.
                let last = i + 1 == parts.len();
                if !last {
                    next.push(base.clone());
                }
                descendants(&dir, base, last, &mut next);
                continue;
            }
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

/// The paths below `dir` (named from `base`): its directories, and its files too with `files`.
fn descendants(dir: &Path, base: &str, files: bool, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if base.is_empty() { name } else { format!("{base}/{name}") };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir || files {
            out.push(path.clone());
        }
        if is_dir {
            descendants(&e.path(), &path, files, out);
        }
    }
}

/// How copied files are owned and moded, and which a directory source leaves out.
pub(crate) struct Meta {
    pub owner: Option<(u32, u32)>,
    pub chmod: Option<Chmod>,
    pub select: Selection,
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
            let mut stack = vec![(item.src.clone(), item.dest.clone(), String::new())];
            while let Some((dir, dest, within)) = stack.pop() {
                let mut entries: Vec<_> = fs::read_dir(&dir)?.flatten().collect();
                entries.sort_by_key(|e| e.file_name());
                for e in entries {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let within = if within.is_empty() { name.clone() } else { format!("{within}/{name}") };
                    if meta.select.skips(&format!("{}/{within}", item.shown), &within) {
                        continue;
                    }
                    let d = format!("{}/{name}", dest.trim_end_matches('/'));
                    let md = fs::symlink_metadata(e.path())?;
                    add(&mut tar, &e.path(), &d, &md, meta)?;
                    if md.is_dir() {
                        stack.push((e.path(), d, within));
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
        let found = sources(ctx, &srcs, &Selection::default())?;
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
        let none = Selection::default();
        let found = sources(c.path(), &["dir".to_string(), "a.txt".to_string()], &none).unwrap();
        let items = destinations(&found, "/out/", "", |_| false).unwrap();
        let meta =
            Meta { owner: Some((1000, 1000)), chmod: Some(Chmod::parse("640").unwrap()), select: none };
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
        let d = digests(&found, &Selection::default()).unwrap();
        assert_eq!(
            d.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["a.txt", "dir", "dir/sub", "dir/sub/x"]
        );
        assert!(describe(&found, &d).starts_with("multi:"));
        // A file's digest moves with its content and mode.
        let before = digests(&found, &Selection::default()).unwrap();
        fs::write(c.path().join("dir/sub/x"), "changed").unwrap();
        assert_ne!(digests(&found, &Selection::default()).unwrap(), before);
    }

    /// The paths a COPY of `srcs` to `/d/` writes, with `parents` and `exclude`.
    fn copied(ctx: &Path, srcs: &[&str], parents: bool, exclude: &[&str]) -> Vec<String> {
        let srcs: Vec<String> = srcs.iter().map(|s| s.to_string()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        let select = Selection::new(parents, &exclude).unwrap();
        let found = sources(ctx, &srcs, &select).unwrap();
        let items = destinations(&found, "/d/", "", |_| false).unwrap();
        let mut buf = Vec::new();
        write_tar(&items, &Meta { owner: None, chmod: None, select }, &mut buf).unwrap();
        let mut names: Vec<String> = tar::Archive::new(&buf[..])
            .entries()
            .unwrap()
            .map(|e| format!("/{}", e.unwrap().path().unwrap().display()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn parents_keep_the_path_from_the_pivot_and_exclude_leaves_files_out() {
        let c = context();
        let p = c.path();
        fs::create_dir_all(p.join("x/y")).unwrap();
        fs::write(p.join("x/y/a.txt"), "").unwrap();
        fs::write(p.join("x/y/b.md"), "").unwrap();
        fs::write(p.join("x/top.txt"), "").unwrap();
        // Sources, --parents, --exclude patterns, the paths written.
        type Case<'a> = (&'a [&'a str], bool, &'a [&'a str], &'a [&'a str]);
        let cases: &[Case] = &[
            (&["x/y/a.txt", "dir/sub/x"], true, &[], &["/d/dir/sub/x", "/d/x/y/a.txt"]),
            (&["./x/./y/*.txt"], true, &[], &["/d/y/a.txt"]),
            (&["x/**/*.txt"], true, &[], &["/d/x/top.txt", "/d/x/y/a.txt"]),
            (&["x/**/*.txt"], false, &[], &["/d/a.txt", "/d/top.txt"]),
            (&["dir"], true, &[], &["/d/dir/sub/", "/d/dir/sub/x"]),
            (&["*.txt"], false, &["b*"], &["/d/a.txt"]),
            (&["x"], false, &["y/*.md"], &["/d/top.txt", "/d/y/", "/d/y/a.txt"]),
            (&["x"], false, &["*.md"], &["/d/top.txt", "/d/y/", "/d/y/a.txt", "/d/y/b.md"]),
            (&["x"], false, &["**/*.txt"], &["/d/y/", "/d/y/b.md"]),
            (&["x"], true, &["x/y"], &["/d/x/top.txt"]),
        ];
        for (srcs, parents, exclude, want) in cases {
            assert_eq!(
                copied(p, srcs, *parents, exclude),
                *want,
                "{srcs:?} parents={parents} exclude={exclude:?}"
            );
        }
    }
}
