//! Removing containers: the process killed (with `force`), the record marked `removing` first
//! so a crash mid-way is finished at the next start, then the mount, bundle, writable layer,
//! log and record removed. Nothing is left behind.

use std::sync::Arc;
use std::time::Duration;

use berth_api::Filters;

use super::record::Status;
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
        self.update(c, |r| r.state.status = Status::Removing)?;
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
        let (e, id) = (self.clone(), c.id.clone());
        blocking(move || e.remove_files(&id)).await?;
        self.await_shim(c).await;
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
        Ok(())
    }

    /// Everything of a container on disk, then its record (last, so a crash before it leaves a
    /// `removing` record that the next start finishes).
    pub(crate) fn remove_files(&self, id: &str) -> Result<()> {
        self.cleanup_run(id);
        self.images.remove_rootfs(id)?;
        let _ = std::fs::remove_dir_all(self.data_dir(id));
        self.db.write(|tx| tx.delete::<super::ContainerRecord>(id))?;
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
