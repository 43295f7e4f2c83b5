#![recursion_limit = "256"]
//! The engine: what berthd does, independent of HTTP. One file per group of operations
//! (`create.rs`, `start.rs`, `lifecycle.rs`, `remove.rs`, `view.rs`, `logs.rs`, `attach.rs`,
//! `exec.rs`, `stats.rs`, `health.rs`, `fs.rs`, `images.rs`, `system.rs`, `mounts.rs`, `volumes.rs`), all methods on
//! [`Engine`]. Containers are [`Container`]s in a registry (by ID and by name) whose records
//! are kept in the metadata database; their processes belong to shims, which the engine reaches
//! through [`berth_shim::ShimClient`] and which outlive it (`restore.rs` finds them again).

pub mod attach;
pub mod backend;
mod bridgeconf;
pub mod build;
pub mod config;
mod create;
pub mod error;
pub mod events;
mod exec;
mod failure;
pub mod fs;
mod fsview;
mod health;
mod images;
pub mod lifecycle;
pub mod logs;
mod monitor;
pub mod mounts;
mod netcheck;
pub mod network;
mod primer;
pub mod pull;
pub mod push;
pub mod record;
mod registries;
mod remove;
mod restore;
mod rootfs;
mod start;
mod stats;
mod system;
mod validate;
mod view;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use berth_image::ImageStore;
use berth_metadata::Db;
use berth_shim::ShimClient;
use tokio::sync::watch;

pub use attach::{AttachOptions, Pending};
pub use backend::{
    Backend, Builds, Containers, Execs, Images, Lifecycle, Networks, Registries, System, Volumes,
};
pub use create::Created;
pub use exec::ExecEntry;
pub use logs::LogOptions;
pub use network::{NetworkCreate, NetworkRecord};
pub use record::{ContainerRecord, RunState, Status};
pub use remove::PruneReport;
pub use view::ListOptions;
pub use volumes::{VolumeCreate, VolumePruneReport};

pub use crate::config::Config;
pub use crate::error::{EngineError, Result};
use crate::events::Events;

/// What waiters watch on a container: how many times it has exited, the last exit code, and
/// whether it is gone.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    pub exits: u64,
    pub exit_code: i64,
    pub removed: bool,
    /// A shim of the container is still running (it reports the exit before the runtime's
    /// `delete` has cleaned up, and exits after).
    pub shim: bool,
}

/// One container: its record, and the machinery around it.
pub struct Container {
    pub id: String,
    rec: Mutex<ContainerRecord>,
    watch: watch::Sender<Watch>,
    /// Held across a lifecycle operation (start, stop, restart, pause, remove), so that they
    /// do not interleave on one container.
    pub(crate) op: tokio::sync::Mutex<()>,
    /// Attaches waiting for the container to start.
    pending: Mutex<Vec<Pending>>,
    health: Mutex<Option<tokio::task::AbortHandle>>,
    exec_ids: Mutex<Vec<String>>,
    /// The restart policy's current back-off delay.
    backoff: Mutex<std::time::Duration>,
}

impl Container {
    fn new(rec: ContainerRecord) -> Arc<Container> {
        Arc::new(Container {
            id: rec.id.clone(),
            rec: Mutex::new(rec),
            watch: watch::channel(Watch::default()).0,
            op: tokio::sync::Mutex::new(()),
            pending: Mutex::new(Vec::new()),
            health: Mutex::new(None),
            exec_ids: Mutex::new(Vec::new()),
            backoff: Mutex::new(std::time::Duration::ZERO),
        })
    }

    /// The record (a short lock; never held across I/O that waits).
    pub fn rec(&self) -> MutexGuard<'_, ContainerRecord> {
        self.rec.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> ContainerRecord {
        self.rec().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Watch> {
        self.watch.subscribe()
    }

    pub fn name(&self) -> String {
        self.rec().name.clone()
    }
}

#[derive(Default)]
struct Registry {
    by_id: HashMap<String, Arc<Container>>,
    /// Name (without `/`) → ID.
    names: HashMap<String, String>,
}

pub struct Engine {
    cfg: RwLock<Config>,
    pub images: ImageStore,
    pub volumes: berth_volume::VolumeStore,
    net: berth_network::manager::NetworkManager,
    db: Arc<Db>,
    host: berth_spec::HostInfo,
    /// Why `--init` cannot work (its binary was not found), said at start and in `info`.
    init_missing: Option<String>,
    shim_bin: PathBuf,
    /// Opens the kernel's cgroup-migration path ahead of starts and execs.
    primer: primer::Primer,
    pub events: Events,
    reg: Mutex<Registry>,
    execs: Mutex<HashMap<String, Arc<ExecEntry>>>,
    /// The running builds their clients named (`buildid`), for `POST /build/cancel`.
    builds: Mutex<HashMap<String, tokio::sync::watch::Sender<bool>>>,
    _lock: nix::fcntl::Flock<File>,
}

fn lock_data_root(root: &Path) -> Result<nix::fcntl::Flock<File>> {
    use std::io::{Read, Seek, Write};
    let path = root.join("berthd.pid");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| EngineError::internal(&format!("open {}", path.display()), e))?;
    let mut f = match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut f, e)) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            return Err(EngineError::Conflict(format!(
                "another berthd (pid {}) is using the data root {}: stop it, or give this one its own --data-root ({e})",
                pid.trim(),
                root.display()
            )));
        }
    };
    f.set_len(0)?;
    f.rewind()?;
    write!(f, "{}", std::process::id())?;
    Ok(f)
}

/// The init `--init` mounts: `init-path`, else `berth-init` beside berthd or on `PATH`; when
/// there is none, why `--init` will fail, naming where it was looked for.
fn find_init(configured: Option<PathBuf>) -> (PathBuf, Option<String>) {
    match configured {
        Some(p) if p.is_file() => (p, None),
        Some(p) => {
            let m = format!(
                "berth-init was not found at {} (init-path in daemon.json): --init will fail until it is there",
                p.display()
            );
            (p, Some(m))
        }
        None => match crate::config::locate_helper("berth-init") {
            Ok(p) => (p, None),
            Err(looked) => {
                let places: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
                let m = format!(
                    "berth-init was not found beside berthd or on PATH (looked at {}): --init will fail; install it beside berthd (make install) or set init-path in daemon.json",
                    places.join(", ")
                );
                (PathBuf::from("berth-init"), Some(m))
            }
        },
    }
}

impl Engine {
    /// Opens the data root (locking it), the image store and the container records. Call
    /// [`Engine::restore`] next, from within the runtime, to reconnect to running containers.
    pub fn open(cfg: Config) -> Result<Arc<Engine>> {
        std::fs::create_dir_all(&cfg.data_root)?;
        std::fs::set_permissions(&cfg.data_root, std::fs::Permissions::from_mode(0o711))?;
        let lock = lock_data_root(&cfg.data_root)?;
        for d in [cfg.data_root.join("containers"), cfg.exec_root.join("containers")] {
            std::fs::create_dir_all(&d)?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o710))?;
        }
        let images = ImageStore::open(&cfg.data_root.join("image"), cfg.storage_driver.as_deref())?;
        let db = Arc::new(Db::open(&cfg.data_root.join("containers.db"))?);
        if let Some(from) = db.ensure::<ContainerRecord>()? {
            tracing::info!(
                from,
                to = berth_records::FORMAT,
                "container records migrated to this berth's format"
            );
        }
        let (init, init_missing) = find_init(cfg.init_path.clone());
        if let Some(m) = &init_missing {
            tracing::warn!("{m}");
        }
        let host = berth_spec::host::detect(init, false);
        let volumes = berth_volume::VolumeStore::open(&cfg.data_root.join("volumes"))?;
        let recs: Vec<ContainerRecord> =
            db.read(berth_metadata::Reader::all::<ContainerRecord>)?.into_iter().map(|(_, r)| r).collect();
        let mut reg = Registry::default();
        for rec in recs.clone() {
            reg.names.insert(rec.name.clone(), rec.id.clone());
            reg.by_id.insert(rec.id.clone(), Container::new(rec));
        }
        remove::sweep_orphans(
            &cfg.exec_root,
            &cfg.data_root,
            &reg.by_id.keys().map(String::as_str).collect::<Vec<_>>(),
        );
        // Writable layers whose container record never got written (a crash during create), or
        // whose container's removal a crash cut short.
        for key in images.rootfs_keys()? {
            if !reg.by_id.contains_key(&key) {
                tracing::info!(id = %key, "removing the root filesystem of a container that was never recorded");
                let _ = berth_image::ImageStore::remove_rootfs(&images, &key);
            }
        }
        let (cfg_prefix, backend) = (cfg.bridge_prefix.clone(), cfg.firewall_backend.clone());
        let netns_dir = cfg.exec_root.join("netns");
        let shim_bin = crate::config::beside_exe("berth-shim");
        let engine = Arc::new(Engine {
            primer: primer::Primer::new(shim_bin.clone()),
            shim_bin,
            cfg: RwLock::new(cfg),
            images,
            volumes,
            net: berth_network::manager::NetworkManager::new(db.clone(), cfg_prefix, &backend, netns_dir)?,
            db,
            host,
            init_missing,
            events: Events::default(),
            reg: Mutex::new(reg),
            execs: Mutex::new(HashMap::new()),
            builds: Mutex::new(HashMap::new()),
            _lock: lock,
        });
        engine.reference_volumes(&recs);
        engine.open_networks(&recs)?;
        Ok(engine)
    }

    pub fn config(&self) -> Config {
        self.cfg.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the configuration (`SIGHUP`: the daemon decides what may change) and brings
    /// berth's bridges and firewall rules back if something removed or flushed them. Returns
    /// what `change` says changed.
    pub fn reconfigure<T>(&self, change: impl FnOnce(&mut Config) -> T) -> T {
        let out = change(&mut self.cfg.write().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = self.reapply_networks() {
            tracing::warn!(error = %e, "re-applying networks failed");
        }
        out
    }

    fn reg(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finds a container by full ID, name (with or without `/`) or unique ID prefix.
    pub fn container(&self, name: &str) -> Result<Arc<Container>> {
        let reg = self.reg();
        let n = name.strip_prefix('/').unwrap_or(name);
        if n.is_empty() {
            return Err(EngineError::no_such_container(name));
        }
        if let Some(c) = reg.by_id.get(n) {
            return Ok(c.clone());
        }
        if let Some(id) = reg.names.get(n) {
            if let Some(c) = reg.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        let mut found = reg.by_id.values().filter(|c| c.id.starts_with(n));
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(c.clone()),
            (Some(_), Some(_)) => {
                Err(EngineError::InvalidArgument(format!("Multiple IDs found with provided prefix: {n}")))
            }
            _ => Err(EngineError::no_such_container(name)),
        }
    }

    pub fn containers(&self) -> Vec<Arc<Container>> {
        self.reg().by_id.values().cloned().collect()
    }

    /// Writes the container's record (one transaction). The record is copied inside the
    /// transaction, and redb runs one write transaction at a time, so of two racing updates the
    /// later state is the one that lands; a record a removal has deleted is not written back.
    fn persist(&self, c: &Container) -> Result<()> {
        self.db.write(|tx| {
            let rec = c.snapshot();
            tx.replace(&rec.id, &rec)
        })?;
        Ok(())
    }

    /// Changes the record under its lock, writes it, and tells watchers.
    fn update<T>(&self, c: &Container, f: impl FnOnce(&mut ContainerRecord) -> T) -> Result<T> {
        let out = f(&mut c.rec());
        self.persist(c)?;
        Ok(out)
    }

    fn data_dir(&self, id: &str) -> PathBuf {
        self.config().data_root.join("containers").join(id)
    }

    /// Runtime state: the bundle, the mounted root, the shim's state directory and socket.
    /// Named by the ID's first 24 hex digits (96 bits), so the shim's socket path stays well
    /// inside the 108 bytes a Unix socket's path may have.
    fn run_dir(&self, id: &str) -> PathBuf {
        self.config().exec_root.join("containers").join(&id[..id.len().min(24)])
    }

    fn shim(&self, id: &str) -> ShimClient {
        ShimClient::new(self.run_dir(id).join("state"))
    }

    fn runtime_root(&self) -> PathBuf {
        self.config().exec_root.join("runtime")
    }

    pub fn log_path(&self, rec: &ContainerRecord) -> PathBuf {
        self.data_dir(&rec.id).join(format!("{}-json.log", rec.id))
    }

    /// The attributes container events carry: its name, image and labels.
    fn attrs(&self, c: &Container, extra: &[(&str, String)]) -> BTreeMap<String, String> {
        let rec = c.rec();
        let mut a: BTreeMap<String, String> =
            rec.config.labels.clone().unwrap_or_default().into_iter().collect();
        a.insert("name".into(), rec.name.clone());
        a.insert("image".into(), rec.image.clone());
        for (k, v) in extra {
            a.insert(k.to_string(), v.clone());
        }
        a
    }

    fn event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let attrs = self.attrs(c, extra);
        self.events.publish("container", action, &c.id, attrs);
    }
}

/// Runs blocking work (the image store, shims, the runtime) off the async workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| EngineError::internal("a worker failed", e))?
}
