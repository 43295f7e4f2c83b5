//! `RUN --mount`, as BuildKit mounts: `bind` (the context's files, or a stage's or image's,
//! read-only unless `rw`, whose writes are then thrown away), `cache` (a directory kept between
//! builds under the data root, by id, shared, locked or private), `tmpfs`, `secret` (a file,
//! or an environment variable, of what the client gave for this build only) and `ssh` (the
//! client's agent socket). What a step's mounts bind is in its cache key (bind sources by
//! content); what the runtime had to create in the image to mount on (the mount points) is
//! removed before the step is committed, so no layer holds a trace of a mount.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use berth_build::mount::{Mount, MountKind, Sharing};

use super::step::RunMounts;
use super::{copy, Build, State};
use crate::error::{EngineError, Result};
use crate::Container;

/// A step's mounts, read and keyed before the step runs.
pub(crate) struct MountPlan {
    mounts: Vec<(Mount, Source)>,
    /// What the cache key holds of them: bind sources' digests, by target.
    pub digests: Vec<(String, String)>,
}

/// Where a bind's files come from.
enum Source {
    None,
    Context(PathBuf),
    /// A stage's or image's files, by image ID.
    Image(String),
}

/// Mounts made ready for one run: what the container mounts, the environment secrets add,
/// the cache locks held while it runs, and the files to remove after it.
#[derive(Default)]
pub(crate) struct Prepared {
    pub mounts: RunMounts,
    pub env: Vec<String>,
    pub targets: Vec<String>,
    _locks: Vec<tokio::sync::OwnedMutexGuard<()>>,
    scratch: Vec<PathBuf>,
    /// Cache mounts this run uses (a prune leaves them).
    using: Vec<PathBuf>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        let mut all = users().lock().unwrap_or_else(|p| p.into_inner());
        for dir in &self.using {
            if let Some(n) = all.get_mut(dir) {
                *n -= 1;
                if *n == 0 {
                    all.remove(dir);
                }
            }
        }
        drop(all);
        for p in &self.scratch {
            let _ = std::fs::remove_dir_all(p).or_else(|_| std::fs::remove_file(p));
        }
    }
}

/// How many runs use each cache mount directory now.
fn users() -> &'static std::sync::Mutex<HashMap<PathBuf, usize>> {
    static USERS: OnceLock<std::sync::Mutex<HashMap<PathBuf, usize>>> = OnceLock::new();
    USERS.get_or_init(Default::default)
}

/// Whether a run uses the cache mount directory `dir` now.
pub(crate) fn in_use(dir: &Path) -> bool {
    users().lock().unwrap_or_else(|p| p.into_inner()).contains_key(dir)
}

/// The locks of `locked` and `private` cache mounts, by directory.
fn cache_lock(dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut all = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    all.entry(dir.to_path_buf()).or_default().clone()
}

/// `target` made absolute against the working directory.
fn absolute(target: &str, workdir: &str) -> String {
    if target.starts_with('/') {
        berth_build::ignore::clean(target)
    } else {
        berth_build::ignore::clean(&format!("{}/{target}", if workdir.is_empty() { "/" } else { workdir }))
    }
}

impl Build<'_> {
    /// Reads a RUN's `--mount` values (expanded) and digests what they bind.
    pub(crate) async fn plan_mounts(&self, texts: &[String], state: &State) -> Result<MountPlan> {
        let workdir = state.config.working_dir.clone().unwrap_or_default();
        let (mut mounts, mut digests) = (Vec::new(), Vec::new());
        let mut ssh = 0;
        for text in texts {
            let mut m = Mount::parse(text, ssh).map_err(EngineError::InvalidArgument)?;
            if m.kind == MountKind::Ssh {
                ssh += 1;
            }
            if !m.target.is_empty() {
                m.target = absolute(&m.target, &workdir);
            }
            let source = match (m.kind, &m.from) {
                (MountKind::Bind, None) => {
                    let rel = m.source.clone().unwrap_or_else(|| ".".into());
                    let context = self.context.to_path_buf();
                    let target = m.target.clone();
                    let (path, d) = crate::blocking(move || {
                        let all = copy::Selection::default();
                        let found = copy::sources(&context, std::slice::from_ref(&rel), &all)?;
                        let d = copy::digests(&found, &all)?;
                        Ok((found[0].path.clone(), d))
                    })
                    .await?;
                    digests.extend(d.into_iter().map(|(p, h)| (format!("mount {target}: {p}"), h)));
                    Source::Context(path)
                }
                (MountKind::Bind, Some(from)) => {
                    let id = match self.stage_by_ref(from) {
                        Some(id) => id,
                        None => self.engine.base_image(from, self, &self.platform).await?,
                    };
                    digests.push((format!("mount {} from", m.target), id.clone()));
                    Source::Image(id)
                }
                (MountKind::Cache, Some(_)) => {
                    return Err(EngineError::NotImplemented(
                        "a cache mount seeded --from a stage or image is not supported by this berth yet"
                            .into(),
                    ))
                }
                _ => Source::None,
            };
            mounts.push((m, source));
        }
        Ok(MountPlan { mounts, digests })
    }

    /// Makes a planned step's mounts ready on the host.
    pub(crate) async fn prepare_mounts(&self, plan: &MountPlan, state: &State) -> Result<Prepared> {
        let mut p = Prepared::default();
        for (m, source) in &plan.mounts {
            match m.kind {
                MountKind::Bind => {
                    let path = match source {
                        Source::Context(path) if m.readonly => path.clone(),
                        Source::Context(path) => self.scratch_copy(path, &mut p).await?,
                        Source::Image(id) => {
                            self.files_of(id, m.source.as_deref().unwrap_or("/"), state, &mut p).await?
                        }
                        Source::None => unreachable!("a bind has a source"),
                    };
                    let ro = if m.readonly { ":ro" } else { "" };
                    p.mounts.binds.push(format!("{}:{}{ro}", path.display(), m.target));
                }
                MountKind::Cache => {
                    let dir = self.cache_dir(m)?;
                    *users().lock().unwrap_or_else(|p| p.into_inner()).entry(dir.clone()).or_default() += 1;
                    p.using.push(dir.clone());
                    if m.sharing != Sharing::Shared {
                        // A private cache is one no other step uses meanwhile: held as a lock.
                        p._locks.push(cache_lock(&dir).lock_owned().await);
                    }
                    let ro = if m.readonly { ":ro" } else { "" };
                    p.mounts.binds.push(format!("{}:{}{ro}", dir.display(), m.target));
                }
                MountKind::Tmpfs => {
                    let opts = m.size.map(|s| format!("size={s}")).unwrap_or_default();
                    p.mounts.tmpfs.insert(m.target.clone(), opts);
                }
                MountKind::Secret => {
                    let id = m.id.clone().unwrap_or_default();
                    let Some(value) = self.req.secrets.get(&id) else {
                        if m.required {
                            return Err(EngineError::InvalidArgument(format!(
                                "secret {id} not found: give it to the build with --secret id={id},src=<file>"
                            )));
                        }
                        continue;
                    };
                    if let Some(var) = &m.env {
                        p.env.push(format!("{var}={}", String::from_utf8_lossy(value)));
                    }
                    if !m.target.is_empty() {
                        let file = self.secret_file(value, m, &mut p)?;
                        p.mounts.binds.push(format!("{}:{}:ro", file.display(), m.target));
                    }
                }
                MountKind::Ssh => {
                    let id = m.id.clone().unwrap_or_else(|| "default".into());
                    let Some(socket) = self.req.ssh.get(&id) else {
                        if m.required {
                            return Err(EngineError::InvalidArgument(format!(
                                "no SSH key {id:?} forwarded from the client: build with --ssh {id}"
                            )));
                        }
                        continue;
                    };
                    p.mounts.binds.push(format!("{socket}:{}", m.target));
                    // The first agent is the one ssh finds, as BuildKit sets it.
                    if !p.env.iter().any(|e| e.starts_with("SSH_AUTH_SOCK=")) {
                        p.env.push(format!("SSH_AUTH_SOCK={}", m.target));
                    }
                }
            }
            if !m.target.is_empty() {
                p.targets.push(m.target.clone());
            }
        }
        Ok(p)
    }

    /// A cache mount's directory: kept under the data root by its id (the target by
    /// default), made with the mount's owner and mode the first time.
    fn cache_dir(&self, m: &Mount) -> Result<PathBuf> {
        use sha2::Digest as _;
        let id = m.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| m.target.clone());
        let key: String =
            sha2::Sha256::digest(id.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
        let dir = cache_mounts_root(&self.engine.config().data_root).join(key);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.with_extension("id"), &id)?;
            let mode = m.mode.unwrap_or(0o755);
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
            std::os::unix::fs::chown(&dir, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))?;
        }
        Ok(dir)
    }

    /// A secret's value as a file of its own, in the exec root (memory, not disk), owned and
    /// moded as the mount asks; removed after the step.
    fn secret_file(&self, value: &[u8], m: &Mount, p: &mut Prepared) -> Result<PathBuf> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.engine.config().exec_root.join("build-secrets");
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let file = dir.join(&berth_sys::new_id()[..24]);
        p.scratch.push(file.clone());
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&file)?;
        std::io::Write::write_all(&mut f, value)?;
        std::fs::set_permissions(
            &file,
            std::os::unix::fs::PermissionsExt::from_mode(m.mode.unwrap_or(0o400)),
        )?;
        std::os::unix::fs::chown(&file, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))?;
        Ok(file)
    }

    /// A copy of context files for a read-write bind: the step may write, the context stays.
    async fn scratch_copy(&self, path: &Path, p: &mut Prepared) -> Result<PathBuf> {
        let dest = self.scratch.join(format!("bind-{}", &berth_sys::new_id()[..12]));
        p.scratch.push(dest.clone());
        let (src, d) = (path.to_path_buf(), dest.clone());
        crate::blocking(move || Ok(berth_sys::copy_tree(&src, &d)?)).await?;
        Ok(dest)
    }

    /// `path` of the image `id`, copied out through a never-started container of it.
    async fn files_of(&self, id: &str, path: &str, state: &State, p: &mut Prepared) -> Result<PathBuf> {
        let dest = self.scratch.join(format!("bind-{}", &berth_sys::new_id()[..12]));
        p.scratch.push(dest.clone());
        let c = self
            .create(id, vec!["true".into()], Vec::new(), state, Some("none"), &RunMounts::default())
            .await?;
        let (engine, c2, path, d) = (self.engine.clone(), c.clone(), path.to_string(), dest.clone());
        let copied = crate::blocking(move || {
            engine.with_files(&c2, false, |root| {
                Ok(berth_sys::copy_tree(&crate::fs::host_path(root, &path)?, &d)?)
            })
        })
        .await;
        self.discard(&c).await;
        copied?;
        Ok(dest)
    }

    /// The mount points a run of `c` will make for `targets` (what its image lacks of them),
    /// to be removed after the run by [`Build::remove_mount_points`].
    pub(crate) async fn mount_points(&self, c: &Arc<Container>, targets: &[String]) -> Result<Vec<String>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let (engine, c, targets) = (self.engine.clone(), c.clone(), targets.to_vec());
        crate::blocking(move || engine.with_files(&c, false, |root| Ok(Build::missing_paths(root, &targets))))
            .await
    }

    /// Removes the mount points a run made, so that no layer holds a trace of its mounts.
    pub(crate) async fn remove_mount_points(&self, c: &Arc<Container>, stubs: Vec<String>) -> Result<()> {
        if stubs.is_empty() {
            return Ok(());
        }
        let (engine, c) = (self.engine.clone(), c.clone());
        crate::blocking(move || {
            engine.with_files(&c, false, |root| {
                Build::remove_stubs(root, &stubs);
                Ok(())
            })
        })
        .await
    }

    /// Notes which of `targets` (and their parents) the image lacks: the mount points a run
    /// will create.
    fn missing_paths(root: &Path, targets: &[String]) -> Vec<String> {
        let mut missing = Vec::new();
        for t in targets {
            let mut prefix = String::new();
            for part in t.split('/').filter(|p| !p.is_empty()) {
                prefix = format!("{prefix}/{part}");
                let exists =
                    crate::fs::host_path(root, &prefix).is_ok_and(|h| std::fs::symlink_metadata(h).is_ok());
                if !exists && !missing.contains(&prefix) {
                    missing.push(prefix.clone());
                }
            }
        }
        missing
    }

    /// Removes the mount points a run created (empty directories and files), deepest first.
    fn remove_stubs(root: &Path, created: &[String]) {
        let mut created = created.to_vec();
        created.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in created {
            let Ok(h) = crate::fs::host_path(root, &p) else { continue };
            match std::fs::symlink_metadata(&h) {
                Ok(md) if md.is_dir() => {
                    let _ = std::fs::remove_dir(&h);
                }
                Ok(md) if md.is_file() && md.len() == 0 => {
                    let _ = std::fs::remove_file(&h);
                }
                _ => {}
            }
        }
    }
}

/// Where cache mounts live under a data root.
pub(crate) fn cache_mounts_root(data_root: &Path) -> PathBuf {
    data_root.join("build-cache-mounts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_made_absolute_against_the_workdir() {
        for (target, workdir, want) in [
            ("/cache", "/app", "/cache"),
            ("cache", "/app", "/app/cache"),
            ("cache/", "", "/cache"),
            ("../x", "/a/b", "/a/x"),
        ] {
            assert_eq!(absolute(target, workdir), want, "{target} in {workdir}");
        }
    }

    #[test]
    fn mount_points_a_run_made_are_found_and_removed() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::create_dir_all(root.join("keep")).unwrap();
        let missing =
            Build::missing_paths(root, &["/run/secrets/token".into(), "/keep".into(), "/new/dir".into()]);
        assert_eq!(missing, ["/run/secrets", "/run/secrets/token", "/new", "/new/dir"]);
        // What the runtime makes to mount on, and a file a step wrote beside it.
        std::fs::create_dir_all(root.join("run/secrets")).unwrap();
        std::fs::write(root.join("run/secrets/token"), "").unwrap();
        std::fs::create_dir_all(root.join("new/dir")).unwrap();
        std::fs::write(root.join("new/kept"), "data").unwrap();
        Build::remove_stubs(root, &missing);
        assert!(!root.join("run/secrets").exists());
        assert!(root.join("run").exists() && root.join("keep").exists());
        assert!(
            !root.join("new/dir").exists() && root.join("new/kept").exists(),
            "a directory the step wrote in stays"
        );
    }
}
