//! Volumes of the local driver: a directory per volume under `<root>/<name>/_data`, its record
//! (driver, options, labels, creation time) in `<root>/metadata.db`. A volume created with
//! options (`type`, `device`, `o`) is mounted over its `_data` while containers use it and
//! unmounted after the last one stops. The store also keeps who references each volume, so
//! removing one in use is refused; the daemon tells it at start who those are.
//!
//! ```text
//! <root>/metadata.db        redb: the `volumes` table (berth-metadata)
//! <root>/<name>/_data       the volume's content (or its mount point)
//! ```

pub mod options;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use berth_kind::{Kind, Kinded};
use berth_metadata::{Db, Reader};
use serde::{Deserialize, Serialize};

pub use options::{validate_name, validate_options};

/// The label Docker puts on the volumes it names itself (`VOLUME` in an image, `-v /path`);
/// `volume prune` without `--all` removes only those.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What went wrong with a volume; [`Kinded::kind`] says how the API answers it.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A bad name, option or mount request (the message names it, in Docker's words).
    #[error("{0}")]
    Invalid(String),
    #[error("get {name}: no such volume")]
    NoSuchVolume { name: String },
    #[error("create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found")]
    UnknownDriver { name: String, driver: String },
    #[error("remove {name}: volume is in use - [{}]", users.join(", "))]
    InUse { name: String, users: Vec<String> },
    /// The host failed us: a directory, a mount, a copy.
    #[error("{what}: {detail}")]
    Host { what: String, detail: String },
    #[error("volume metadata: {0}")]
    Records(#[from] berth_metadata::MetadataError),
}

impl Kinded for VolumeError {
    fn kind(&self) -> Kind {
        match self {
            VolumeError::Invalid(_) => Kind::InvalidArgument,
            VolumeError::NoSuchVolume { .. } | VolumeError::UnknownDriver { .. } => Kind::NotFound,
            VolumeError::InUse { .. } => Kind::Conflict,
            VolumeError::Host { .. } => Kind::Internal,
            VolumeError::Records(e) => e.kind(),
        }
    }
}

impl VolumeError {
    fn io(what: impl std::fmt::Display, e: impl std::fmt::Display) -> VolumeError {
        VolumeError::Host { what: what.to_string(), detail: e.to_string() }
    }
}

pub type Result<T, E = VolumeError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VolumeRecord {
    name: String,
    driver: String,
    created_at: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

impl berth_metadata::Record for VolumeRecord {
    const TABLE: &'static str = "volumes";
}

/// A volume as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    /// RFC 3339, seconds.
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub mountpoint: PathBuf,
}

impl Volume {
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// What `create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `None`: an anonymous volume with a random 64-hex name.
    pub name: Option<String>,
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    /// Volume → the containers that reference it.
    refs: HashMap<String, BTreeSet<String>>,
    /// Volume → the containers that have it mounted (volumes with options only).
    mounts: HashMap<String, BTreeSet<String>>,
}

pub struct VolumeStore {
    root: PathBuf,
    db: Db,
    state: Mutex<State>,
}

impl VolumeStore {
    /// Opens (creating) the store under `root`. Directories left by a creation that never got
    /// its record are removed; records whose directory went missing get it back.
    pub fn open(root: &Path) -> Result<VolumeStore> {
        std::fs::create_dir_all(root).map_err(|e| VolumeError::io(root.display(), e))?;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o701))
            .map_err(|e| VolumeError::io(root.display(), e))?;
        let db = Db::open(&root.join("metadata.db"))?;
        db.ensure::<VolumeRecord>()?;
        let store = VolumeStore { root: root.to_path_buf(), db, state: Mutex::new(State::default()) };
        let records: BTreeSet<String> = store.records()?.into_iter().map(|r| r.name).collect();
        for entry in std::fs::read_dir(root).map_err(|e| VolumeError::io(root.display(), e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !records.contains(&name) && !is_mounted(&store.data(&name)) {
                tracing::info!(volume = %name, "removing the directory of a volume that was never recorded");
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        for name in &records {
            store.make_dirs(name)?;
        }
        Ok(store)
    }

    /// The directory volumes live in (`<root>/<name>/_data`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn data(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    fn make_dirs(&self, name: &str) -> Result<()> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(dir.join("_data")).map_err(|e| VolumeError::io(dir.display(), e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o701))
            .map_err(|e| VolumeError::io(dir.display(), e))?;
        Ok(())
    }

    fn records(&self) -> Result<Vec<VolumeRecord>> {
        Ok(self.db.read(|tx| tx.all::<VolumeRecord>())?.into_iter().map(|(_, r)| r).collect())
    }

    fn view(&self, r: VolumeRecord) -> Volume {
        Volume {
            mountpoint: self.data(&r.name),
            name: r.name,
            driver: r.driver,
            created_at: r.created_at,
            labels: r.labels,
            options: r.options,
        }
    }

    /// Creates a volume, or returns the existing one of that name (as Docker does; the second
    /// value says whether it was made now).
    pub fn create(&self, req: CreateOptions) -> Result<(Volume, bool)> {
        self.create_for(req, None)
    }

    /// [`VolumeStore::create`], and `user` (a container ID) recorded as referencing the volume
    /// in the same step, so a concurrent removal cannot come between.
    pub fn create_for(&self, req: CreateOptions, user: Option<&str>) -> Result<(Volume, bool)> {
        let driver = req.driver.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| "local".into());
        let mut labels = req.labels.clone();
        let name = match &req.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => {
                labels.insert(ANONYMOUS_LABEL.into(), String::new());
                random_name()?
            }
        };
        validate_name(&name)?;
        if driver != "local" {
            return Err(VolumeError::UnknownDriver { name, driver: driver.to_string() });
        }
        validate_options(&name, &req.options)?;
        let mut st = self.lock();
        let out = self.create_locked(name.clone(), driver, labels, req.options);
        if let (Ok(_), Some(u)) = (&out, user) {
            st.refs.entry(name).or_default().insert(u.to_string());
        }
        out
    }

    fn create_locked(
        &self,
        name: String,
        driver: String,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<(Volume, bool)> {
        if let Some(existing) = self.db.read(|tx| tx.get::<VolumeRecord>(&name))? {
            return Ok((self.view(existing), false));
        }
        self.make_dirs(&name)?;
        let rec = VolumeRecord {
            name: name.clone(),
            driver,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
        };
        self.db.write(|tx| tx.put(&name, &rec))?;
        Ok((self.view(rec), true))
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        match self.db.read(|tx| tx.get::<VolumeRecord>(name))? {
            Some(r) => Ok(self.view(r)),
            None => Err(VolumeError::NoSuchVolume { name: name.to_string() }),
        }
    }

    pub fn list(&self) -> Result<Vec<Volume>> {
        Ok(self.records()?.into_iter().map(|r| self.view(r)).collect())
    }

    /// Removes a volume no container references. `force` makes a missing volume no error.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let mut st = self.lock();
        if self.db.read(|tx| tx.get::<VolumeRecord>(name))?.is_none() {
            return if force { Ok(()) } else { Err(VolumeError::NoSuchVolume { name: name.to_string() }) };
        }
        if let Some(users) = st.refs.get(name).filter(|u| !u.is_empty()) {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                users: users.iter().cloned().collect(),
            });
        }
        let data = self.data(name);
        while is_mounted(&data) {
            if let Err(e) = nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH) {
                return Err(VolumeError::io(format!("remove {name}: unmount"), e));
            }
        }
        st.mounts.remove(name);
        // The record goes first: a crash after it leaves a directory that `open` removes.
        self.db.write(|tx| tx.delete::<VolumeRecord>(name))?;
        std::fs::remove_dir_all(self.root.join(name))
            .map_err(|e| VolumeError::io(format!("remove {name}"), e))?;
        Ok(())
    }

    /// Records that `user` (a container ID) references the volume.
    pub fn acquire(&self, name: &str, user: &str) {
        self.lock().refs.entry(name.to_string()).or_default().insert(user.to_string());
    }

    pub fn release(&self, name: &str, user: &str) {
        let mut st = self.lock();
        if let Some(u) = st.refs.get_mut(name) {
            u.remove(user);
            if u.is_empty() {
                st.refs.remove(name);
            }
        }
    }

    /// The containers that reference the volume.
    pub fn users(&self, name: &str) -> Vec<String> {
        self.lock().refs.get(name).map(|u| u.iter().cloned().collect()).unwrap_or_default()
    }

    /// The volume's directory for `user`, mounted first when the volume has options.
    pub fn mount(&self, name: &str, user: &str) -> Result<PathBuf> {
        let vol = self.get(name)?;
        let mut st = self.lock();
        if let Some(req) = options::mount_request(&vol.options) {
            if !is_mounted(&vol.mountpoint) {
                let source = if req.source.is_empty() { None } else { Some(req.source.as_str()) };
                let fstype = match req.fstype.as_str() {
                    "" | "none" => None,
                    t => Some(t),
                };
                let data = if req.data.is_empty() { None } else { Some(req.data.as_str()) };
                nix::mount::mount(source, &vol.mountpoint, fstype, req.flags, data).map_err(|e| {
                    VolumeError::Invalid(format!(
                        "error while mounting volume '{}': failed to mount local volume: mount {}:{}, flags: {:#x}, data: {}: {}",
                        vol.mountpoint.display(),
                        req.source,
                        vol.mountpoint.display(),
                        req.flags.bits(),
                        req.data,
                        e.desc().to_lowercase()
                    ))
                })?;
            }
            st.mounts.entry(name.to_string()).or_default().insert(user.to_string());
        }
        Ok(vol.mountpoint)
    }

    /// `user` no longer has the volume mounted; the last one out unmounts it.
    pub fn unmount(&self, name: &str, user: &str) {
        let mut st = self.lock();
        let Some(users) = st.mounts.get_mut(name) else { return };
        users.remove(user);
        if users.is_empty() {
            st.mounts.remove(name);
            let data = self.data(name);
            while is_mounted(&data) {
                if let Err(e) = nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH) {
                    tracing::warn!(volume = %name, error = %e, "unmounting a volume failed");
                    break;
                }
            }
        }
    }

    /// Docker's copy-up: when the volume is empty, it gets the content, owner and mode of
    /// `from` (the image's directory at the mount point, resolved inside the container's root
    /// by the caller). Returns whether anything was copied.
    pub fn populate(&self, name: &str, from: &Path) -> Result<bool> {
        let data = self.data(name);
        let empty =
            std::fs::read_dir(&data).map_err(|e| VolumeError::io(data.display(), e))?.next().is_none();
        let meta = match std::fs::metadata(from) {
            Ok(m) if m.is_dir() && empty => m,
            _ => return Ok(false),
        };
        berth_sys::copy_tree(&from.join("."), &data)
            .map_err(|e| VolumeError::io(format!("copy the image's content into volume {name}"), e))?;
        std::os::unix::fs::chown(&data, Some(meta.uid()), Some(meta.gid()))
            .and_then(|_| {
                std::fs::set_permissions(&data, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
            })
            .map_err(|e| VolumeError::io(data.display(), e))?;
        Ok(true)
    }

    /// Bytes the volume's files hold (hard links counted once), as `system df` shows.
    pub fn usage(&self, name: &str) -> u64 {
        let mut seen = BTreeSet::new();
        dir_size(&self.data(name), &mut seen)
    }
}

fn dir_size(dir: &Path, seen: &mut BTreeSet<(u64, u64)>) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut total = 0;
    for e in entries.flatten() {
        let Ok(m) = e.path().symlink_metadata() else { continue };
        if m.is_dir() {
            total += dir_size(&e.path(), seen);
        } else if m.nlink() < 2 || seen.insert((m.dev(), m.ino())) {
            total += m.len();
        }
    }
    total
}

fn random_name() -> Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| VolumeError::io("read /dev/urandom", e))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Whether something is mounted exactly at `path` (mountinfo, since a bind mount from the same
/// filesystem keeps the device number).
fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines().any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, VolumeStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(&dir.path().join("volumes")).unwrap();
        (dir, s)
    }

    #[test]
    fn create_get_list_remove() {
        let (_d, s) = store();
        let (v, made) = s.create(CreateOptions { name: Some("data".into()), ..Default::default() }).unwrap();
        assert!(made && v.mountpoint.is_dir() && v.driver == "local" && !v.is_anonymous());
        let (again, made) =
            s.create(CreateOptions { name: Some("data".into()), ..Default::default() }).unwrap();
        assert!(!made);
        assert_eq!(again, v);
        let (anon, _) = s.create(CreateOptions::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(anon.is_anonymous());
        assert_eq!(s.list().unwrap().len(), 2);
        s.acquire("data", "c1");
        let e = s.remove("data", false).unwrap_err();
        assert_eq!(e.to_string(), "remove data: volume is in use - [c1]");
        s.release("data", "c1");
        s.remove("data", false).unwrap();
        assert!(!v.mountpoint.exists());
        assert_eq!(s.get("data").unwrap_err().to_string(), "get data: no such volume");
        assert!(s.remove("data", true).is_ok());
        let e = s.create(CreateOptions {
            name: Some("x".into()),
            driver: Some("nfs".into()),
            ..Default::default()
        });
        assert_eq!(e.unwrap_err().kind(), Kind::InvalidArgument);
        let e = s.create(CreateOptions {
            name: Some("xy".into()),
            driver: Some("nfs".into()),
            ..Default::default()
        });
        assert_eq!(e.unwrap_err().kind(), Kind::NotFound);
    }

    #[test]
    fn reopening_keeps_records_and_drops_unrecorded_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("volumes");
        {
            let s = VolumeStore::open(&root).unwrap();
            s.create(CreateOptions { name: Some("kept".into()), ..Default::default() }).unwrap();
            std::fs::write(s.data("kept").join("f"), "x").unwrap();
        }
        std::fs::create_dir_all(root.join("stray/_data")).unwrap();
        let s = VolumeStore::open(&root).unwrap();
        assert!(!root.join("stray").exists());
        assert_eq!(std::fs::read_to_string(s.data("kept").join("f")).unwrap(), "x");
        assert_eq!(s.usage("kept"), 1);
    }

    #[test]
    fn populate_copies_only_into_an_empty_volume() {
        let (d, s) = store();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), "hello").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o750)).unwrap();
        s.create(CreateOptions { name: Some("v1".into()), ..Default::default() }).unwrap();
        assert!(s.populate("v1", &src).unwrap());
        let data = s.data("v1");
        assert_eq!(std::fs::read_to_string(data.join("sub/f")).unwrap(), "hello");
        assert_eq!(std::fs::read_link(data.join("link")).unwrap(), Path::new("/etc/passwd"));
        assert_eq!(std::fs::metadata(&data).unwrap().mode() & 0o777, 0o750);
        std::fs::write(src.join("new"), "x").unwrap();
        assert!(!s.populate("v1", &src).unwrap());
        assert!(!data.join("new").exists());
        assert!(!s.populate("v1", &d.path().join("missing")).unwrap());
    }

    #[test]
    fn a_tmpfs_volume_is_mounted_while_used() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let (_d, s) = store();
        let opts: BTreeMap<String, String> = [("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.create(CreateOptions { name: Some("t1".into()), options: opts, ..Default::default() }).unwrap();
        let p = s.mount("t1", "a").unwrap();
        s.mount("t1", "b").unwrap();
        assert!(is_mounted(&p));
        s.unmount("t1", "a");
        assert!(is_mounted(&p));
        s.unmount("t1", "b");
        assert!(!is_mounted(&p));
        s.mount("t1", "a").unwrap();
        s.remove("t1", false).unwrap();
        assert!(!is_mounted(&p));
    }
}
