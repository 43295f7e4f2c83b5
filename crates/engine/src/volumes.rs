//! Volumes: the `/volumes` operations over [`berth_volume::VolumeStore`], and what containers
//! do with them: named and anonymous volumes created and referenced at create (with Docker's
//! copy-up of the image's content), mounted at start, unmounted at stop, released (anonymous
//! ones removed with `rm -v` and `--rm`) at removal.

use std::collections::BTreeMap;
use std::path::Path;

use berth_api::shape::{MountPoint, VolumeView};
use berth_api::Filters;
use berth_volume::{CreateOptions, Volume};

use super::mounts::{self, MountEntry, MountKind};
use super::record::ContainerRecord;
use super::Engine;
use crate::error::{EngineError, Result};

/// What `POST /volumes/create` asks for.
#[derive(Debug, Default)]
pub struct VolumeCreate {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

pub struct VolumePruneReport {
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

impl Engine {
    fn volume_view(&self, v: &Volume, usage: bool) -> VolumeView {
        VolumeView {
            name: v.name.clone(),
            driver: v.driver.clone(),
            created_at: v.created_at.clone(),
            labels: v.labels.clone(),
            options: v.options.clone(),
            mountpoint: v.mountpoint.display().to_string(),
            usage: usage
                .then(|| (self.volumes.usage(&v.name) as i64, self.volumes.users(&v.name).len() as i64)),
        }
    }

    fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs: BTreeMap<String, String> = [("driver".to_string(), "local".to_string())].into();
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("volume", action, name, attrs);
    }

    pub fn volume_create(&self, req: VolumeCreate) -> Result<VolumeView> {
        let (v, made) = self.volumes.create(CreateOptions {
            name: req.name,
            driver: req.driver,
            options: req.options,
            labels: req.labels,
        })?;
        if made {
            self.volume_event("create", &v.name, &[]);
        }
        Ok(self.volume_view(&v, false))
    }

    pub fn volume_inspect(&self, name: &str) -> Result<VolumeView> {
        Ok(self.volume_view(&self.volumes.get(name)?, false))
    }

    /// `GET /volumes` with Docker's filters: `dangling`, `name` (a substring), `label`,
    /// `driver`.
    pub fn volume_list(&self, f: &Filters) -> Result<Vec<VolumeView>> {
        f.validate(&["dangling", "name", "label", "driver"])?;
        let dangling = f.bool_value("dangling")?;
        let mut out = Vec::new();
        for v in self.volumes.list()? {
            if dangling.is_some_and(|d| d != self.volumes.users(&v.name).is_empty()) {
                continue;
            }
            if !f.any("name", |n| v.name.contains(n)) || !f.any("driver", |d| v.driver == d) {
                continue;
            }
            if !f.match_labels("label", |k| v.labels.get(k).map(String::as_str)) {
                continue;
            }
            out.push(self.volume_view(&v, false));
        }
        Ok(out)
    }

    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        self.volumes.remove(name, force)?;
        self.volume_event("destroy", name, &[]);
        Ok(())
    }

    /// Removes the volumes no container uses: anonymous ones only, unless `all=true` (API 1.42
    /// and later; before, every unused one).
    pub fn volume_prune(&self, f: &Filters, legacy: bool) -> Result<VolumePruneReport> {
        f.validate(&["label", "label!", "all"])?;
        let all = legacy || f.bool_value("all")?.unwrap_or(false);
        let mut report = VolumePruneReport { deleted: Vec::new(), reclaimed: 0 };
        for v in self.volumes.list()? {
            if !all && !v.is_anonymous() {
                continue;
            }
            if !f.match_prune_labels(|k| v.labels.get(k).map(String::as_str)) {
                continue;
            }
            if !self.volumes.users(&v.name).is_empty() {
                continue;
            }
            let size = self.volumes.usage(&v.name);
            if self.volume_remove(&v.name, false).is_ok() {
                report.deleted.push(v.name.clone());
                report.reclaimed += size;
            }
        }
        self.events.publish(
            "volume",
            "prune",
            "",
            [("reclaimed".to_string(), report.reclaimed.to_string())].into(),
        );
        Ok(report)
    }

    /// Every volume with its size and number of users, for `system df`.
    pub fn volume_usage(&self) -> Result<Vec<VolumeView>> {
        Ok(self.volumes.list()?.iter().map(|v| self.volume_view(v, true)).collect())
    }

    /// A container's mounts: as planned at create, or (records written before mounts were
    /// recorded) planned now from its host config.
    pub(crate) fn mount_entries(&self, rec: &ContainerRecord) -> Result<Vec<MountEntry>> {
        match &rec.mounts {
            Some(m) => Ok(m.clone()),
            None => mounts::plan(&rec.host_config, &[], Vec::new()),
        }
    }

    pub(crate) fn mount_views(&self, rec: &ContainerRecord) -> Vec<MountPoint> {
        let root = self.volumes.root().to_path_buf();
        self.mount_entries(rec).unwrap_or_default().iter().map(|m| mounts::view(m, &root)).collect()
    }

    /// Plans a new container's mounts: `--volumes-from` resolved, bind sources prepared, its
    /// volumes created (anonymous ones named) and referenced by `id`, then copy-up from the
    /// image into the volumes that are still empty. On failure nothing stays referenced and
    /// the anonymous volumes made for it are gone.
    pub(crate) fn plan_mounts(
        &self,
        id: &str,
        hc: &berth_records::HostConfig,
        config_volumes: &[String],
    ) -> Result<Vec<MountEntry>> {
        let mut inherited = Vec::new();
        for spec in hc.volumes_from.clone().unwrap_or_default() {
            let (name, rw) = mounts::parse_volumes_from(&spec)?;
            let other = self.container(name)?;
            let rec = other.snapshot();
            for mut m in self.mount_entries(&rec)? {
                if let Some(rw) = rw {
                    m.rw = rw;
                    m.mode = if rw { "rw" } else { "ro" }.into();
                }
                inherited.push(m);
            }
        }
        let mut entries = mounts::plan(hc, config_volumes, inherited)?;
        mounts::prepare_sources(&entries)?;
        let mut made = Vec::new();
        let mut referenced = Vec::new();
        let result = (|| -> Result<()> {
            for m in entries.iter_mut().filter(|m| m.kind == MountKind::Volume) {
                let name = (!m.source.is_empty()).then(|| m.source.clone());
                let (v, created) = self.volumes.create_for(
                    CreateOptions {
                        name,
                        driver: None,
                        options: m.volume_options.clone(),
                        labels: m.volume_labels.clone(),
                    },
                    Some(id),
                )?;
                m.source = v.name.clone();
                referenced.push(v.name.clone());
                if created {
                    made.push(v.name.clone());
                    self.volume_event("create", &v.name, &[]);
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.drop_volumes(id, &referenced, &made);
            return Err(e);
        }
        Ok(entries)
    }

    /// Releases `id`'s reference on `referenced` and removes `made` (volumes created for it).
    fn drop_volumes(&self, id: &str, referenced: &[String], made: &[String]) {
        for n in referenced {
            self.volumes.release(n, id);
        }
        for n in made {
            if self.volumes.remove(n, true).is_ok() {
                self.volume_event("destroy", n, &[]);
            }
        }
    }

    /// Docker's copy-up: each volume that is empty gets the image's content at its mount
    /// point, unless `nocopy`. `root` is the container's mounted root filesystem.
    pub(crate) fn copy_up(&self, id: &str, entries: &[MountEntry], root: &Path) -> Result<()> {
        for m in entries.iter().filter(|m| m.kind == MountKind::Volume && !m.nocopy) {
            let Ok(src) = super::fs::host_path(root, &m.destination) else { continue };
            if !src.is_dir() {
                continue;
            }
            self.volumes.mount(&m.source, id)?;
            let copied = self.volumes.populate(&m.source, &src);
            self.volumes.unmount(&m.source, id);
            copied?;
        }
        Ok(())
    }

    /// Unmounts a stopped container's volumes (those with options, when it was the last user).
    pub(crate) fn unmount_volumes(&self, rec: &ContainerRecord) {
        for m in self.mount_entries(rec).unwrap_or_default() {
            if m.kind == MountKind::Volume {
                self.volumes.unmount(&m.source, &rec.id);
            }
        }
    }

    /// A removed container's references go; with `remove_anonymous` (`rm -v`, `--rm`) its
    /// anonymous volumes go too, unless another container still uses them.
    pub(crate) fn release_volumes(&self, rec: &ContainerRecord, remove_anonymous: bool) {
        for m in self.mount_entries(rec).unwrap_or_default() {
            if m.kind != MountKind::Volume {
                continue;
            }
            self.volumes.unmount(&m.source, &rec.id);
            self.volumes.release(&m.source, &rec.id);
            if remove_anonymous && m.anonymous && self.volumes.users(&m.source).is_empty() {
                match self.volumes.remove(&m.source, true) {
                    Ok(()) => self.volume_event("destroy", &m.source, &[]),
                    Err(e) => {
                        tracing::warn!(volume = %m.source, error = %e, "removing an anonymous volume failed")
                    }
                }
            }
        }
    }

    /// At open: every recorded container references its volumes again, and those with a
    /// process have them mounted (a no-op for plain volumes and for mounts still in place).
    pub(crate) fn reference_volumes(&self, recs: &[ContainerRecord]) {
        for rec in recs {
            for m in self.mount_entries(rec).unwrap_or_default() {
                if m.kind != MountKind::Volume {
                    continue;
                }
                self.volumes.acquire(&m.source, &rec.id);
                if rec.state.status.is_live() || rec.state.status == super::Status::Restarting {
                    if let Err(e) = self.volumes.mount(&m.source, &rec.id) {
                        tracing::warn!(id = %rec.id, volume = %m.source, error = %e, "remounting a volume failed");
                    }
                }
            }
        }
    }

    /// Copy-up at create, with the new container's root filesystem mounted for the while
    /// (only when some volume could take content).
    pub(crate) fn populate_volumes(&self, rec: &ContainerRecord) -> Result<()> {
        let entries = self.mount_entries(rec)?;
        if !entries.iter().any(|m| m.kind == MountKind::Volume && !m.nocopy) {
            return Ok(());
        }
        let run = self.run_dir(&rec.id);
        let tmp = run.join("mnt-create");
        std::fs::create_dir_all(&tmp)?;
        let result = self.images.mount_rootfs(&rec.id, &tmp).map_err(EngineError::from).and_then(|()| {
            let r = self.copy_up(&rec.id, &entries, &tmp);
            super::rootfs::unmount(&tmp);
            r
        });
        let _ = std::fs::remove_dir(&tmp);
        let _ = std::fs::remove_dir(&run);
        result
    }
}
