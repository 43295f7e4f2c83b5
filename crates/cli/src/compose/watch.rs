//! `watch`: the project brought up, then its `develop.watch` paths followed with inotify (on a
//! thread of its own, directories watched as they appear); each batch of changes (gathered
//! until the files are quiet for a moment) goes through `berth_compose::watch`, then files are
//! copied into the service's running containers (a tar through the archive endpoint), deleted
//! there, the containers restarted, a command run in them, or the service rebuilt and
//! recreated. Rules with `initial_sync` copy their whole path first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_compose::model::Service;
use berth_compose::watch::Changes;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::sync::mpsc;

use super::args::{UpArgs, WatchArgs};
use super::engine::{self, command_args, row_name};
use super::load::Session;
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// How long the files must be quiet before a batch is acted on.
const QUIET: Duration = Duration::from_millis(300);

fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
}

/// Every file below `dir` (itself when it is a file).
fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() && !p.is_symlink() {
                    files_below(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        Err(_) if dir.exists() => out.push(dir.to_path_buf()),
        Err(_) => {}
    }
}

/// Watches `dir` and the directories below it.
fn watch_tree(fd: &Inotify, dir: &Path, dirs: &mut HashMap<WatchDescriptor, PathBuf>) {
    if let Ok(wd) = fd.add_watch(dir, flags()) {
        dirs.insert(wd, dir.to_path_buf());
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            watch_tree(fd, &p, dirs);
        }
    }
}

/// The inotify thread: each changed path, sent as it is seen.
fn follow(roots: Vec<PathBuf>, tx: mpsc::UnboundedSender<String>) -> Result {
    let fd = Inotify::init(InitFlags::IN_CLOEXEC).map_err(|e| Failure::new(1, format!("inotify: {e}")))?;
    let mut dirs = HashMap::new();
    for r in &roots {
        // A watched file is seen through its directory.
        let dir = if r.is_dir() { r.clone() } else { r.parent().map(Path::to_path_buf).unwrap_or_default() };
        watch_tree(&fd, &dir, &mut dirs);
    }
    std::thread::spawn(move || {
        while let Ok(events) = fd.read_events() {
            for ev in events {
                let (Some(dir), Some(name)) = (dirs.get(&ev.wd).cloned(), ev.name) else { continue };
                let path = dir.join(name);
                let created = ev.mask.intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO);
                if ev.mask.contains(AddWatchFlags::IN_ISDIR) && created {
                    // A new directory: watched, and what it already holds reported.
                    watch_tree(&fd, &path, &mut dirs);
                    let mut inside = Vec::new();
                    files_below(&path, &mut inside);
                    for f in inside {
                        let _ = tx.send(f.to_string_lossy().into_owned());
                    }
                }
                if tx.send(path.to_string_lossy().into_owned()).is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}

/// Copies host files into a container (each to its container path).
async fn copy_in(ctx: &Ctx, container: &str, files: &[(String, String)]) -> Result {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for (host, dest) in files {
        let rel = dest.trim_start_matches('/');
        let p = Path::new(host);
        let added = if p.is_dir() { tar.append_dir_all(rel, p) } else { tar.append_path_with_name(p, rel) };
        if let Err(e) = added {
            // A file that went away between the event and now is skipped.
            if p.exists() {
                return Err(Failure::new(1, format!("reading {host}: {e}")));
            }
        }
    }
    let bytes = tar.into_inner().map_err(|e| Failure::new(1, e.to_string()))?;
    ctx.client.containers().archive_put(container, "/", false, berth_client::Body::Tar(bytes.into())).await?;
    Ok(())
}

/// Runs `cmd` in a container, to its end, its output shown.
async fn exec_in(ctx: &Ctx, container: &str, cmd: &[String]) -> Result {
    let mut argv = vec![container.to_string()];
    argv.extend(cmd.iter().cloned());
    crate::container::exec(ctx, command_args(&argv)?).await
}

async fn apply(ctx: &Ctx, s: &Session, c: &Changes) -> Result {
    let svc = s.service(&c.service)?;
    if c.rebuild {
        eprintln!("Rebuilding service(s) [{:?}] after changes were detected...", c.service);
        engine::build(ctx, s, svc, false, false, true, &[]).await?;
        let up =
            UpArgs { detach: true, no_deps: true, services: vec![c.service.clone()], ..UpArgs::default() };
        super::up::converge(ctx, s, &up, true).await?;
        eprintln!("service(s) [{:?}] successfully built", c.service);
        return Ok(());
    }
    let rows =
        engine::service_containers(ctx, &s.project.name, std::slice::from_ref(&c.service), false, false)
            .await?;
    let n = c.copy.len() + c.delete.len();
    if n > 0 {
        eprintln!("Syncing service {:?} after {n} changes were detected", c.service);
    }
    for r in &rows {
        let name = row_name(r);
        if !c.copy.is_empty() {
            copy_in(ctx, &name, &c.copy).await?;
        }
        if !c.delete.is_empty() {
            let mut cmd = vec!["rm".to_string(), "-rf".into(), "--".into()];
            cmd.extend(c.delete.iter().cloned());
            exec_in(ctx, &name, &cmd).await?;
        }
        for cmd in &c.exec {
            exec_in(ctx, &name, cmd).await?;
        }
        if c.restart {
            eprintln!("Restarting {name} after changes were detected");
            ctx.client.containers().restart(&name, None, engine::stop_timeout(svc)).await?;
        }
    }
    Ok(())
}

/// `watch`.
pub async fn watch(ctx: &Ctx, s: &Session, a: &WatchArgs) -> Result {
    let names = s.services(&a.services)?;
    let watched: Vec<Service> = s
        .project
        .services
        .iter()
        .filter(|x| names.contains(&x.name) && !x.watch.is_empty())
        .cloned()
        .collect();
    if watched.is_empty() {
        return Err(Failure::new(
            1,
            "none of the selected services is configured for watch, consider setting a 'develop' section",
        ));
    }
    if !a.no_up {
        let up = UpArgs { detach: true, services: names.clone(), ..UpArgs::default() };
        super::up::converge(ctx, s, &up, true).await?;
    }
    let roots: Vec<PathBuf> =
        watched.iter().flat_map(|x| x.watch.iter().map(|r| PathBuf::from(&r.path))).collect();
    let (tx, mut rx) = mpsc::unbounded_channel();
    follow(roots, tx)?;
    // The initial syncs: every file below each rule that asks for one.
    let mut first = Vec::new();
    for x in &watched {
        for r in x.watch.iter().filter(|r| r.initial_sync && r.action.starts_with("sync")) {
            let mut files = Vec::new();
            files_below(Path::new(&r.path), &mut files);
            first.extend(files.into_iter().map(|f| f.to_string_lossy().into_owned()));
        }
    }
    let exists = |p: &str| Path::new(p).exists();
    if !first.is_empty() {
        for c in berth_compose::watch::changes(&watched, &first, &exists).map_err(super::load::fail)? {
            apply(ctx, s, &Changes { restart: false, exec: vec![], ..c }).await?;
        }
    }
    eprintln!("Watch enabled");
    loop {
        let mut batch: Vec<String> = tokio::select! {
            p = rx.recv() => match p { Some(p) => vec![p], None => return Ok(()) },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        // Gathered until the files are quiet.
        while let Ok(Some(p)) = tokio::time::timeout(QUIET, rx.recv()).await {
            if !batch.contains(&p) {
                batch.push(p);
            }
        }
        let changes = berth_compose::watch::changes(&watched, &batch, &exists).map_err(super::load::fail)?;
        for c in changes {
            if let Err(e) = apply(ctx, s, &c).await {
                // A failed action is told; watching goes on, as Compose's does.
                eprintln!("WARN[0000] {}: {}", c.service, e.message);
            }
        }
    }
}
