//! A container's durable record, kept in the daemon's metadata database (`containers` table).
//! Every change of state is written in one transaction before it is reported, so after a crash
//! the record and the shim's own records (`shim.json`, `exit.json`) tell the truth together.

use berth_api::models::{ContainerConfig, HostConfig};
use berth_api::shape::Health;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Has a live process (running or frozen).
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub status: Status,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// `sha256:…`
    pub image_id: String,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub path: String,
    pub args: Vec<String>,
    pub state: RunState,
    #[serde(default)]
    pub restart_count: i64,
    /// Stopped by a user (`stop`, `kill`): `unless-stopped` and `always` respect it.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The runtime's name (a key of the daemon's runtimes).
    pub runtime: String,
    /// Its mounts as planned at create (anonymous volumes named); `None` in records written
    /// before mounts were recorded, whose mounts are planned from `host_config`.
    #[serde(default)]
    pub mounts: Option<Vec<super::mounts::MountEntry>>,
    /// Network name → the container's endpoint there.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, super::network::EndpointRecord>,
    /// Ports bound while it runs.
    #[serde(default)]
    pub ports: Vec<super::network::PublishedPort>,
}

impl berth_metadata::Record for ContainerRecord {
    const TABLE: &'static str = "containers";
}
