use std::path::{Component, Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use oci_spec::runtime::Spec;

use crate::seccomp::Plan;

use crate::{validate_id, Runtime, RuntimeError};

/// Options of `create` (and `run`).
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
}

impl Runtime {
    /// `create`: sets up the container and leaves its init waiting for `start`.
    ///
    /// Must run in a single-threaded process: libcontainer clones from the calling process.
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<(), RuntimeError> {
        validate_id(id)?;
        if self.container_dir(id).exists() {
            return Err(RuntimeError::AlreadyExists(id.to_string()));
        }
        std::fs::create_dir_all(&self.root)
            .map_err(RuntimeError::io(format!("create {}", self.root.display())))?;
        let bundle = std::fs::canonicalize(&opts.bundle)
            .map_err(RuntimeError::io(format!("bundle {}", opts.bundle.display())))?;
        // Read once for berth's own work; a config that does not parse is left for
        // libcontainer to report.
        let spec = Spec::load(bundle.join("config.json")).ok();
        if let Some(spec) = &spec {
            check_cgroups_path(spec)?;
        }
        let env = spec.as_ref().and_then(|s| s.process().as_ref()?.env().clone()).unwrap_or_default();
        let mut executor = crate::executor::SpecOrder::new(&env);
        // With a seccomp profile berth-runc installs itself, libcontainer is given a copy of the
        // spec without it (and with the capabilities the install borrows), in a bundle of its
        // own (`<root>/<id>:bundle`); the container's state names the real bundle.
        let handed = match spec.map(|s| self.take_over_seccomp(id, &bundle, s)).transpose()?.flatten() {
            Some((dir, plan)) => {
                executor = executor.with_seccomp(plan);
                Some(dir)
            }
            None => None,
        };
        let result = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_executor(executor)
            .with_root_path(self.root.clone())?
            .with_pid_file(opts.pid_file.clone())?
            .with_console_socket(opts.console_socket.clone())
            .with_preserved_fds(opts.preserve_fds)
            .validate_id()?
            .as_init(handed.as_deref().unwrap_or(&bundle))
            .with_systemd(self.systemd_cgroup)
            .with_detach(true)
            .with_no_pivot(opts.no_pivot)
            .build()
            .map_err(RuntimeError::from)
            .and_then(|mut c| {
                if handed.is_some() {
                    c.state.bundle = bundle.clone();
                    c.save()?;
                }
                Ok(())
            });
        if let Some(dir) = &handed {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Err(e) = result {
            // A failed create leaves nothing behind, like runc.
            if let Ok(mut c) = self.load(id) {
                let _ = c.delete(true);
            }
            let _ = std::fs::remove_dir_all(self.container_dir(id));
            return Err(e);
        }
        Ok(())
    }
}

impl Runtime {
    /// When berth-runc installs the bundle's seccomp profile itself ([`crate::seccomp`]): the
    /// bundle libcontainer is to read instead, and what the executor does.
    fn take_over_seccomp(
        &self,
        id: &str,
        bundle: &Path,
        mut spec: Spec,
    ) -> Result<Option<(PathBuf, Plan)>, RuntimeError> {
        if !crate::seccomp::handled_here(&spec) {
            return Ok(None);
        }
        let plan = crate::seccomp::take_over(&mut spec, &self.seccomp_cache())?;
        if let Some(root) = spec.root_mut() {
            let path = bundle.join(root.path());
            root.set_path(path);
        }
        let dir = self.handed_bundle_dir(id);
        std::fs::create_dir_all(&dir).map_err(RuntimeError::io(format!("create {}", dir.display())))?;
        if let Err(e) = spec.save(dir.join("config.json")) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(RuntimeError::io(format!("write {}", dir.display()))(std::io::Error::other(e)));
        }
        Ok(Some((dir, plan)))
    }
}

/// A container whose `cgroupsPath` names the root cgroup would share it with every process of
/// the host, and `delete --force` (which kills the whole cgroup) would kill them all; a path with
/// `..` leads out of the hierarchy. libcontainer takes both literally, so they are refused here.
/// A missing `cgroupsPath` gets youki's default.
fn check_cgroups_path(spec: &Spec) -> Result<(), RuntimeError> {
    let Some(path) = spec.linux().as_ref().and_then(|l| l.cgroups_path().as_deref()) else {
        return Ok(());
    };
    match cgroups_path_problem(path) {
        Some(problem) => Err(RuntimeError::InvalidArgument(format!(
            "linux.cgroupsPath {:?} {problem}: give the container a path of its own or leave the key out",
            path.display().to_string()
        ))),
        None => Ok(()),
    }
}

/// What is wrong with a cgroup path, if anything.
fn cgroups_path_problem(path: &Path) -> Option<&'static str> {
    if path.components().any(|c| c == Component::ParentDir) {
        Some("leads out of the cgroup hierarchy")
    } else if !path.components().any(|c| matches!(c, Component::Normal(_))) {
        Some("is the root cgroup, which the host's processes share")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_paths() {
        for (path, refused) in [
            ("", true),
            ("/", true),
            ("//", true),
            ("/./", true),
            ("/..", true),
            ("/berth/../..", true),
            ("/berth/abc", false),
            ("berth", false),
            (":youki:abc", false),
            ("system.slice:berth:abc", false),
        ] {
            assert_eq!(cgroups_path_problem(Path::new(path)).is_some(), refused, "{path:?}");
        }
    }
}
