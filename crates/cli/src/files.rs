//! Moving files and images in and out: diff, commit, export, save, load, import, cp.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use berth_client::containers::CommitQuery;
use berth_client::images::ImportQuery;
use berth_client::{Body, Response};
use serde_json::Value;

use crate::cmd::*;
use crate::{Ctx, Failure, Result};

pub async fn diff(ctx: &Ctx, a: OneContainer) -> Result {
    for c in ctx.client.containers().changes(&a.container).await? {
        let kind = match c.kind {
            1 => "A",
            2 => "D",
            _ => "C",
        };
        println!("{kind} {}", c.path);
    }
    Ok(())
}

/// `repo[:tag]` split as the API's `repo` and `tag` (an empty tag means the daemon's default).
pub(crate) fn repo_tag(reference: &str) -> (String, String) {
    let (repo, tag) = berth_oci::reference::split_tag(reference);
    (repo.to_string(), tag.unwrap_or_default().to_string())
}

pub async fn commit(ctx: &Ctx, a: CommitArgs) -> Result {
    let (repo, tag) = a.repository.as_deref().map(repo_tag).unzip();
    let q = CommitQuery {
        repo,
        tag,
        comment: a.message.clone(),
        author: a.author.clone(),
        changes: a.change.clone(),
        pause: a.pause,
    };
    println!("{}", ctx.client.containers().commit(&a.container, &q).await?);
    Ok(())
}

/// Where `save` and `export` write: stdout, or a file that appears whole once the download is
/// complete (a temporary file beside it, renamed), as the docker CLI writes it; a failed
/// request leaves no file behind. A path that cannot be written fails before the request.
pub(crate) enum Output {
    Stdout,
    File(tempfile::NamedTempFile, PathBuf),
}

pub(crate) fn output(path: Option<&str>, what: &str) -> std::result::Result<Output, Failure> {
    match path {
        Some(p) => {
            let target = PathBuf::from(p);
            let dir = match target.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let failed = |e: &std::io::Error| {
                Failure::new(1, format!("failed to {what}: open {p}: {}", crate::common::io_text(e)))
            };
            if let Err(e) = std::fs::metadata(&dir) {
                return Err(Failure::new(
                    1,
                    format!(
                        "failed to {what}: invalid output path: stat {}: {}",
                        dir.display(),
                        crate::common::io_text(&e)
                    ),
                ));
            }
            if target.is_dir() {
                return Err(failed(&std::io::Error::from(std::io::ErrorKind::IsADirectory)));
            }
            let tmp =
                tempfile::Builder::new().prefix(".docker_temp_").tempfile_in(&dir).map_err(|e| failed(&e))?;
            Ok(Output::File(tmp, target))
        }
        None if berth_client::terminal::is_tty(1) => {
            Err(Failure::new(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect"))
        }
        None => Ok(Output::Stdout),
    }
}

pub(crate) async fn copy_body(mut r: Response, out: Output) -> Result {
    let io = |e: std::io::Error| Failure::new(1, e.to_string());
    match out {
        Output::Stdout => {
            let mut w = std::io::stdout();
            while let Some(chunk) = r.chunk().await? {
                w.write_all(&chunk).map_err(io)?;
            }
            w.flush().map_err(io)
        }
        Output::File(mut tmp, target) => {
            while let Some(chunk) = r.chunk().await? {
                tmp.write_all(&chunk).map_err(io)?;
            }
            tmp.flush().map_err(io)?;
            tmp.persist(&target).map(|_| ()).map_err(|e| io(e.error))
        }
    }
}

pub async fn export(ctx: &Ctx, a: ExportArgs) -> Result {
    let out = output(a.output.as_deref(), "export container")?;
    let r = ctx.client.containers().export(&a.container).await?;
    copy_body(r, out).await
}

pub async fn save(ctx: &Ctx, a: SaveArgs) -> Result {
    let out = output(a.output.as_deref(), "save image")?;
    let r = ctx.client.images().save(&a.images).await?;
    copy_body(r, out).await
}

/// All of a file, or of stdin for `-`/none.
fn input(path: Option<&str>, refuse_empty: bool) -> std::result::Result<Body, Failure> {
    use std::io::Read;
    let empty = || Failure::new(1, "requested load from stdin, but stdin is empty");
    let mut reader: Box<dyn Read + Send> = match path {
        Some(p) if p != "-" => Box::new(
            std::fs::File::open(p)
                .map_err(|e| Failure::new(1, format!("open {p}: {}", crate::common::io_text(&e))))?,
        ),
        _ => {
            if berth_client::terminal::is_tty(0) {
                return Err(empty());
            }
            Box::new(std::io::stdin())
        }
    };
    // The first bytes now: an empty input is refused before anything is sent.
    let mut first = vec![0u8; 64 * 1024];
    let n = loop {
        match reader.read(&mut first) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::new(1, e.to_string())),
        }
    };
    if n == 0 && refuse_empty {
        return Err(empty());
    }
    first.truncate(n);
    Ok(Body::read_from(first, reader))
}

/// Prints a JSON message stream (load, import): `stream` text as it is, `status` lines, and
/// stops at an `error`.
async fn messages(r: Response) -> Result {
    let tty = berth_client::terminal::is_tty(1);
    // Docker draws for the terminal's width (a bar only past 110 columns), else for 200.
    let width = berth_client::terminal::columns().filter(|_| tty).unwrap_or(200);
    let mut display = crate::progress::Display::new(std::io::stdout(), tty, width);
    let mut messages = berth_client::Messages::new(r);
    while let Some(m) = messages.next().await? {
        display.show(&m).map_err(|e| Failure::new(1, e))?;
    }
    Ok(())
}

pub async fn load(ctx: &Ctx, a: LoadArgs) -> Result {
    let data = input(a.input.as_deref(), true)?;
    // Progress only for a terminal, as the docker CLI asks.
    let quiet = a.quiet || !berth_client::terminal::is_tty(1);
    let r = ctx.client.images().load(data, quiet).await?;
    messages(r).await
}

pub async fn import(ctx: &Ctx, a: ImportArgs) -> Result {
    let data = input(Some(&a.source), false)?;
    let (repo, tag) = a.reference.as_deref().map(repo_tag).unzip();
    let q = ImportQuery {
        repo,
        tag,
        message: a.message.clone(),
        changes: a.change.clone(),
        platform: a.platform.clone(),
    };
    let r = ctx.client.images().import(&q, data).await?;
    messages(r).await
}

/// `CONTAINER:PATH` or a local path.
fn split_cp(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') || arg == "-" {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => (Some(c), p),
        _ => (None, arg),
    }
}

/// The container's view of a path (`X-Docker-Container-Path-Stat`).
async fn stat(ctx: &Ctx, container: &str, path: &str) -> std::result::Result<Option<Value>, Failure> {
    match ctx.client.containers().archive_stat(container, path).await {
        Ok(stat) => Ok(stat),
        Err(e) if berth_client::Kinded::kind(&e) == berth_client::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A relative path inside a tar that stays inside: no `..`, no root.
fn inside(rel: &Path) -> bool {
    rel.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Whether `path` (under `root`) can be written without going through a symbolic link that
/// the archive itself, or anything else, put on the way.
fn no_links_between(root: &Path, rel: &Path) -> bool {
    let mut p = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        p.push(c);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return false;
        }
    }
    true
}

/// Unpacks a container's archive of `base` so that `base` lands at `dest`.
fn unpack(data: impl std::io::Read, base: &str, dest: &Path) -> std::result::Result<(), String> {
    let mut ar = tar::Archive::new(data);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let root = dest.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
    let new_base = dest.file_name().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(base));
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut comps = path.components();
        // `SRC/.` copies the contents: every entry belongs under the destination.
        if base != "." {
            let first = comps.next();
            if first.map(|c| c.as_os_str()) != Some(std::ffi::OsStr::new(base)) {
                continue;
            }
        }
        let rest: PathBuf = comps.filter(|c| *c != Component::CurDir).collect();
        let rest = rest.as_path();
        let rel = if rest.as_os_str().is_empty() { new_base.clone() } else { new_base.join(rest) };
        if !inside(&rel) || !no_links_between(&root, &rel) {
            return Err(format!("refusing to write {}: it leads outside {}", path.display(), root.display()));
        }
        let target = root.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if entry.header().entry_type().is_hard_link() {
            let Some(link) = entry.link_name().map_err(|e| e.to_string())? else { continue };
            let mut lc = link.components();
            if base != "." {
                lc.next();
            }
            let link_rest: PathBuf = lc.filter(|c| *c != Component::CurDir).collect();
            let link_rel =
                if link_rest.as_os_str().is_empty() { new_base.clone() } else { new_base.join(link_rest) };
            if !inside(&link_rel) {
                return Err(format!("refusing the hard link {}", path.display()));
            }
            let _ = std::fs::remove_file(&target);
            std::fs::hard_link(root.join(link_rel), &target).map_err(|e| e.to_string())?;
            continue;
        }
        entry.unpack(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}

/// A local file or directory written as a tar whose top entry is named `name` (`.` with
/// `contents_only`: the directory's entries at the top).
fn pack(
    out: &mut dyn Write,
    src: &Path,
    name: &str,
    follow: bool,
    contents_only: bool,
) -> std::io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(follow);
    b.mode(tar::HeaderMode::Complete);
    let md = if follow { std::fs::metadata(src)? } else { std::fs::symlink_metadata(src)? };
    if contents_only {
        b.append_dir_all(".", src)?;
    } else if md.is_dir() {
        b.append_dir_all(name, src)?;
    } else {
        b.append_path_with_name(src, name)?;
    }
    b.finish()
}

fn base_name(p: &str) -> String {
    Path::new(p.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

pub async fn cp(ctx: &Ctx, a: CpArgs) -> Result {
    let (src_c, src) = split_cp(&a.source);
    let (dst_c, dst) = split_cp(&a.destination);
    match (src_c, dst_c) {
        (Some(_), Some(_)) => Err(Failure::new(1, "copying between containers is not supported")),
        (None, None) => Err(Failure::new(1, "must specify at least one container source")),
        (Some(c), None) => {
            let mut r = ctx.client.containers().archive_get(c, src).await?;
            if dst == "-" {
                return copy_body(r, Output::Stdout).await;
            }
            let base = base_name(src);
            let dest = Path::new(dst);
            let contents_only = src.ends_with("/.");
            let target = if dest.is_dir() && !contents_only { dest.join(&base) } else { dest.to_path_buf() };
            if dst.ends_with('/') && !dest.exists() {
                return Err(Failure::new(1, format!("destination directory {dst} does not exist")));
            }
            let base = if contents_only { ".".to_string() } else { base };
            // Unpacked as it arrives, on a blocking thread fed with the response's chunks.
            let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
            let unpacking = tokio::task::spawn_blocking(move || {
                unpack(ChunkReader { rx, chunk: Default::default() }, &base, &target)
            });
            let mut size = 0;
            while let Some(chunk) = r.chunk().await? {
                size += chunk.len();
                if tx.send(chunk).await.is_err() {
                    break; // the unpacking failed: its error is the one to show
                }
            }
            drop(tx);
            unpacking.await.map_err(|e| Failure::new(1, e.to_string()))?.map_err(|e| Failure::new(1, e))?;
            if !a.quiet && berth_client::terminal::is_tty(2) {
                eprintln!("Successfully copied {} to {dst}", crate::units::human_size(size as f64));
            }
            Ok(())
        }
        (None, Some(c)) => {
            let local = Path::new(src);
            if std::fs::symlink_metadata(local).is_err() {
                return Err(Failure::new(1, format!("lstat {src}: no such file or directory")));
            }
            let contents_only = src.ends_with("/.");
            let (dir, name) = match stat(ctx, c, dst).await? {
                Some(st) if st["mode"].as_u64().is_some_and(|m| m & (1 << 31) != 0) => {
                    (dst.to_string(), base_name(src))
                }
                Some(_) => (parent_of(dst), base_name(dst)),
                None if dst.ends_with('/') => {
                    return Err(Failure::new(
                        1,
                        format!("Error response from daemon: Could not find the file {dst} in container {c}"),
                    ))
                }
                None => (parent_of(dst), base_name(dst)),
            };
            // The archive is built as it is sent.
            let (local, follow) = (local.to_path_buf(), a.follow_link);
            let (body, packing) = Body::write_with(move |w| pack(w, &local, &name, follow, contents_only));
            let dir = if contents_only { dst.to_string() } else { dir };
            let sent = ctx.client.containers().archive_put(c, &dir, true, body).await;
            // A local error (a file that cannot be read) explains a failed upload best; the
            // daemon's, when it stopped reading because it refused the request.
            let packed = packing
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the archive could not be built")));
            let size = match (sent, packed) {
                (_, Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Failure::new(1, e.to_string()))
                }
                (Err(e), _) => return Err(e.into()),
                (Ok(_), Err(e)) => return Err(Failure::new(1, e.to_string())),
                (Ok(_), Ok(size)) => size,
            };
            if !a.quiet && berth_client::terminal::is_tty(2) {
                eprintln!("Successfully copied {} to {c}:{dst}", crate::units::human_size(size as f64));
            }
            Ok(())
        }
    }
}

/// A blocking reader over chunks sent from the async side.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    chunk: bytes::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.chunk = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

fn parent_of(p: &str) -> String {
    match Path::new(p.trim_end_matches('/')).parent() {
        Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_arguments() {
        assert_eq!(split_cp("web:/etc"), (Some("web"), "/etc"));
        assert_eq!(split_cp("/tmp/x:y"), (None, "/tmp/x:y"));
        assert_eq!(split_cp("./a:b"), (None, "./a:b"));
        assert_eq!(split_cp("-"), (None, "-"));
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(parent_of("/tmp/f"), "/tmp");
        assert_eq!(parent_of("f"), "/");
        assert_eq!(repo_tag("me/app:1"), ("me/app".into(), "1".into()));
        assert_eq!(repo_tag("reg:5000/app"), ("reg:5000/app".into(), "".into()));
    }

    #[test]
    fn unpacking_stays_inside() {
        let dir = std::env::temp_dir().join(format!("berth-cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A link to / and then a file through it: refused.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "x/escape", "/").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "x/escape/tmp/berth-cp-pwned", &b"hi"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let err = unpack(&data[..], "x", &dir.join("out")).unwrap_err();
        assert!(err.contains("leads outside"), "{err}");
        assert!(!Path::new("/tmp/berth-cp-pwned").exists());
        // A plain file lands under its new name.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, "f", &b"ok"[..]).unwrap();
        unpack(&b.into_inner().unwrap()[..], "f", &dir.join("g")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("g")).unwrap(), "ok");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
