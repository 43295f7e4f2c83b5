use std::collections::HashMap;
use std::path::PathBuf;

use libcontainer::container::{Container, ContainerStatus};
use serde::{Deserialize, Serialize};

use crate::{Runtime, RuntimeError};

/// The JSON `runc state` prints (and `runc list --format json` lists).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuncState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
    pub owner: String,
}

pub(crate) fn status_name(s: ContainerStatus) -> &'static str {
    match s {
        ContainerStatus::Creating => "creating",
        ContainerStatus::Created => "created",
        ContainerStatus::Running => "running",
        ContainerStatus::Stopped => "stopped",
        ContainerStatus::Paused => "paused",
    }
}

impl RuncState {
    pub(crate) fn of(c: &Container) -> RuncState {
        let status = c.status();
        let rootfs = oci_spec::runtime::Spec::load(c.bundle().join("config.json"))
            .ok()
            .and_then(|s| s.root().as_ref().map(|r| r.path().clone()))
            .map(|p| if p.is_absolute() { p } else { c.bundle().join(p) })
            .unwrap_or_else(|| c.bundle().join("rootfs"));
        RuncState {
            oci_version: "1.2.0".into(),
            id: c.id().to_string(),
            // runc reports pid 0 once the container has stopped.
            pid: if status == ContainerStatus::Stopped { 0 } else { c.pid().map_or(0, |p| p.as_raw()) },
            status: status_name(status).into(),
            bundle: c.bundle().clone(),
            rootfs,
            created: c
                .created()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .unwrap_or_default(),
            annotations: c.state.annotations.clone().filter(|a| !a.is_empty()),
            owner: c.creator().map(|o| o.to_string_lossy().into_owned()).unwrap_or_default(),
        }
    }
}

impl Runtime {
    /// The pid the container's init had, whatever its status (`state` shows 0 once stopped).
    pub fn init_pid(&self, id: &str) -> Result<i32, RuntimeError> {
        self.load(id)?.pid().map(|p| p.as_raw()).ok_or(RuntimeError::NotFound)
    }

    /// `state <id>`.
    pub fn state(&self, id: &str) -> Result<RuncState, RuntimeError> {
        Ok(RuncState::of(&self.load(id)?))
    }
}
