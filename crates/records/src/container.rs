//! A container's record: who it is, what it was given, where it stands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ContainerConfig, EndpointRecord, HostConfig, MigrationError, PublishedPort};

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
    pub mounts: Option<Vec<MountEntry>>,
    /// Network name → the container's endpoint there.
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, EndpointRecord>,
    /// Ports bound while it runs.
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
}

/// One healthcheck probe's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// A container's health: `starting`, `healthy` or `unhealthy`, the failures in a row, the
/// last probes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthLog>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// What to do when a bind's source is missing: `-v` creates it, `--mount` refuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingSource {
    #[default]
    NotABind,
    Create,
    Refuse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    pub kind: MountKind,
    /// A bind's host path, a volume's name (empty until an anonymous one is created).
    pub source: String,
    pub destination: String,
    pub rw: bool,
    /// As inspect shows it (`ro`, `z`, …).
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub propagation: String,
    /// Spec options besides `ro`: `rbind`/`bind` and propagation, tmpfs's size and mode.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub missing: MissingSource,
    /// A volume named by berth, removed with `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// No copy-up of the image's content (`nocopy`, `volume-nocopy`).
    #[serde(default)]
    pub nocopy: bool,
    /// `--mount type=volume,volume-opt=…,volume-label=…`: used if the volume is created now.
    #[serde(default)]
    pub volume_options: BTreeMap<String, String>,
    #[serde(default)]
    pub volume_labels: BTreeMap<String, String>,
}

/// Format 1 was written through the Engine API's generated types under the keys format 2
/// keeps, so a format-1 value reads as format 2; the step checks that it does (a value that
/// does not is reported, naming what is wrong, rather than half-read) and writes it out again
/// in format 2's own form.
pub(crate) fn v1_to_v2(value: serde_json::Value) -> Result<serde_json::Value, MigrationError> {
    let rec: ContainerRecord = serde_json::from_value(value)
        .map_err(|e| MigrationError(format!("a container record of format 1 does not read: {e}")))?;
    serde_json::to_value(&rec).map_err(|e| MigrationError(e.to_string()))
}
