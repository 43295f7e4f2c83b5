//! OCI runtime operations with runc's semantics, built on youki's `libcontainer`.
//!
//! One module per verb (`create`, `start`, `kill`, …), each a method on [`Runtime`], which owns the
//! state root (`--root`, `/run/berth-runc` by default). `berth-runc` is a thin command line over this
//! crate; the shim never calls it in-process, it executes a runtime binary (this one, runc or crun), so
//! that container creation always happens in a short-lived single-threaded process.
//!
//! cgroup v1, hybrid and v2 hosts are told apart at run time by `libcgroups`.

mod create;
mod delete;
mod error;
mod events;
mod exec;
mod executor;
mod kill;
mod list;
mod pause;
mod ps;
mod seccomp;
mod signal;
mod spec;
mod start;
mod state;
mod update;

use std::path::{Path, PathBuf};

pub use create::CreateOptions;
pub use error::RuntimeError;
pub use exec::ExecOptions;
pub use list::format_table;
pub use signal::parse_signal;
pub use spec::default_spec;
pub use state::RuncState;
pub use update::{merge_resources, ResourceFlags};

use libcontainer::container::Container;

/// Default state root, like runc's `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/berth-runc";

/// A runtime bound to one state root.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
    systemd_cgroup: bool,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>, systemd_cgroup: bool) -> Self {
        Runtime { root: root.into(), systemd_cgroup }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    // The root's other entries have a ':' in their names, which no container id can have.

    /// The spec libcontainer reads during a create when berth-runc installs the seccomp
    /// filter itself (see `seccomp.rs`); removed when the create ends.
    fn handed_bundle_dir(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}:bundle"))
    }

    /// Compiled seccomp filters, one file per profile.
    fn seccomp_cache(&self) -> PathBuf {
        self.root.join("seccomp:cache")
    }

    /// The cgroup manager of a container that has processes (created, running or paused).
    fn cgroup_manager(&self, id: &str) -> Result<libcgroups::common::AnyCgroupManager, RuntimeError> {
        let c = self.load(id)?;
        if !c.can_kill() {
            return Err(RuntimeError::WrongState("container not running".into()));
        }
        libcgroups::common::create_cgroup_manager(libcgroups::common::CgroupConfig {
            cgroup_path: c.spec()?.cgroup_path,
            systemd_cgroup: c.systemd(),
            container_name: id.to_string(),
        })
        .map_err(RuntimeError::cgroup)
    }

    /// Loads a container's state, with runc's error for an unknown id.
    fn load(&self, id: &str) -> Result<Container, RuntimeError> {
        validate_id(id)?;
        let dir = self.container_dir(id);
        if !dir.join("state.json").exists() {
            return Err(RuntimeError::NotFound);
        }
        Ok(Container::load(dir)?)
    }
}

/// Container ids follow runc's rule: `^[\w+-\.]+$`, and never `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::InvalidArgument(format!("invalid container id format: {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        for (id, ok) in [
            ("abc", true),
            ("a-b_c.d+e", true),
            ("0123456789abcdef", true),
            ("", false),
            (".", false),
            ("..", false),
            ("a/b", false),
            ("a b", false),
            ("../x", false),
        ] {
            assert_eq!(validate_id(id).is_ok(), ok, "{id:?}");
        }
    }
}
