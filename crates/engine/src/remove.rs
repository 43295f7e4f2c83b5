//! Removing containers: the process killed (with `force`), then the record deleted, which is
//! when the container is gone; its network endpoints and volumes are released before the
//! removal is reported. Its files (root filesystem mount, bundle, writable layer, logs) go right
//! after, off the caller's path (unmounting waits for an RCU grace period, and unlinking on a
//! disk can take milliseconds); what a crash leaves of them is removed at the next start
//! ([`sweep_orphans`]). Nothing is left behind.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_api::Filters;

use super::record::{ContainerRecord, Status};
use super::{blocking, Container, Engine};
use crate::error::{EngineError, Result};

pub struct PruneReport {
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

impl Engine {
    pub async fn remove(self: &Arc<Self>, c: &Arc<Container>, force: bool, volumes: bool) -> Result<()> {
        let _g = c.op.lock().await;
        let rec = c.snapshot();
        match rec.state.status {
            Status::Running | Status::Paused if !force => {
                let what = if rec.state.status == Status::Paused { "paused" } else { "running" };
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"/{}\": container is {what}: stop the container before removing or force remove",
                    rec.name
                )));
            }
            Status::Removing if c.watch.borrow().removed => return Ok(()),
            _ => {}
        }
        let live = rec.state.status.is_live();
        let mut rx = c.subscribe();
        let exits = rx.borrow().exits;
        // In memory only: the exit watch sees it; a crash before the record goes leaves the
        // container as it was (killed, if it was running).
        c.rec().state.status = Status::Removing;
        if live {
            let shim = self.shim(&c.id);
            let _ = blocking(move || {
                shim.signal(libc::SIGKILL, true)?;
                let _ = shim.resume();
                Ok(())
            })
            .await;
            let _ = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|w| w.exits > exits)).await;
        }
        self.stop_health(c);
        self.fail_pending(c, "the container was removed");
        if let Err(e) = self.forget_record(&c.id) {
            c.rec().state.status = Status::Dead;
            return Err(e);
        }
        let (e, c2) = (self.clone(), c.clone());
        let _ = blocking(move || {
            e.release_run(&c2);
            Ok(())
        })
        .await;
        self.release_volumes(&rec, volumes);
        {
            let mut reg = self.reg();
            reg.by_id.remove(&c.id);
            if reg.names.get(&rec.name) == Some(&c.id) {
                reg.names.remove(&rec.name);
            }
        }
        self.forget_execs(&c.id);
        self.event(c, "destroy", &[]);
        c.watch.send_modify(|w| w.removed = true);
        let (e, id) = (self.clone(), c.id.clone());
        tokio::spawn(async move {
            let id2 = id.clone();
            if let Err(err) = blocking(move || e.remove_files(&id2)).await {
                tracing::warn!(%id, error = %err, "removing a container's files failed; the next start retries");
            }
        });
        Ok(())
    }

    /// Deletes a container's record: from then on it is gone.
    pub(crate) fn forget_record(&self, id: &str) -> Result<()> {
        self.db.write(|tx| tx.delete::<ContainerRecord>(id))?;
        Ok(())
    }

    /// Everything of a container on disk: its run directory (root filesystem unmounted), its
    /// writable layer and its data directory (logs, hosts files).
    pub(crate) fn remove_files(&self, id: &str) -> Result<()> {
        self.remove_run_dir(id);
        self.images.remove_rootfs(id)?;
        let _ = std::fs::remove_dir_all(self.data_dir(id));
        Ok(())
    }

    pub async fn prune(self: &Arc<Self>, f: &Filters) -> Result<PruneReport> {
        f.validate(&["until", "label", "label!"])?;
        let until = f.timestamp("until", chrono::Utc::now())?;
        let mut report = PruneReport { deleted: Vec::new(), reclaimed: 0 };
        for c in self.containers() {
            let rec = c.snapshot();
            if rec.state.status.is_live() || rec.state.status == Status::Restarting {
                continue;
            }
            if until.is_some_and(|u| berth_api::time::nanos_of(&rec.created) >= u) {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            if !f.match_prune_labels(|k| labels.get(k).map(String::as_str)) {
                continue;
            }
            let size = self.images.rootfs_usage(&c.id).unwrap_or(0);
            if self.remove(&c, false, false).await.is_ok() {
                report.deleted.push(c.id.clone());
                report.reclaimed += size;
            }
        }
        self.events.publish(
            "container",
            "prune",
            "",
            [("reclaimed".to_string(), report.reclaimed.to_string())].into(),
        );
        Ok(report)
    }
}

/// Removes what removals cut short by a crash left on disk: the run directories (root
/// filesystems unmounted first) and data directories of containers that have no record. A run
/// directory is named by the first 24 digits of its container's ID. The directories of copies'
/// views go too.
pub(crate) fn sweep_orphans(exec_root: &Path, data_root: &Path, recorded: &[&str]) {
    let entries = |dir: &Path| -> Vec<(String, std::path::PathBuf)> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect()
    };
    for (name, path) in entries(&exec_root.join("containers")) {
        if !recorded.iter().any(|id| id.starts_with(&name)) {
            tracing::info!(dir = %path.display(), "removing the run directory of a removed container");
            super::rootfs::unmount(&path.join("rootfs"));
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    // A view's directory is never a mount point on the host (its mounts live in a thread's
    // own namespace): what a killed daemon left there is empty directories.
    let _ = std::fs::remove_dir_all(super::fsview::views_dir(exec_root));
    for (name, path) in entries(&data_root.join("containers")) {
        if !recorded.contains(&name.as_str()) {
            tracing::info!(dir = %path.display(), "removing the data directory of a removed container");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
