//! What a container asks for: Docker's `Config` and `HostConfig` fields that shape the OCI spec,
//! plus the image config they are merged over. Plain data; the daemon fills it from the API.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The parts of an image's config that reach the runtime spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageConfig {
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub user: String,
}

/// How a namespace is set up: a new one, the host's, or another process's (`container:<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NamespaceMode {
    #[default]
    Private,
    Host,
    /// A path such as `/proc/<pid>/ns/net`, resolved by the daemon from `container:<id>`.
    Path(PathBuf),
}

/// `--ulimit name=soft:hard`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// A host device node, as stat(2) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: PathBuf,
    /// `c`, `b` or `p`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `--device host:container:perms`, with the host node already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMapping {
    pub host: DeviceNode,
    pub container_path: PathBuf,
    pub permissions: String,
}

/// A mount the daemon adds (binds, volumes, `/etc/hosts`, …), in OCI terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub destination: PathBuf,
    pub kind: String,
    pub source: PathBuf,
    pub options: Vec<String>,
}

/// A container's options (Docker's `Config` + `HostConfig` fields that the spec depends on).
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    pub id: String,
    pub rootfs: PathBuf,
    pub image: ImageConfig,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub tty: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub readonly_rootfs: bool,
    /// `--security-opt`: `no-new-privileges[=true|false]`, `seccomp=unconfined`, `seccomp=<json>`
    /// (the profile's JSON text, read by the client as Docker's CLI does).
    pub security_opt: Vec<String>,
    pub memory: i64,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub oom_kill_disable: bool,
    pub oom_score_adj: i32,
    pub sysctls: BTreeMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    pub devices: Vec<DeviceMapping>,
    /// `/dev/shm` size in bytes; 0 means Docker's 64 MiB.
    pub shm_size: i64,
    pub init: bool,
    /// `--tmpfs path[:options]`.
    pub tmpfs: BTreeMap<String, String>,
    pub mounts: Vec<Mount>,
    pub pid_mode: NamespaceMode,
    pub ipc_mode: NamespaceMode,
    pub uts_mode: NamespaceMode,
    pub network_mode: NamespaceMode,
    /// `cgroupns`: private by default on cgroup v2, host on v1 (Docker's defaults).
    pub cgroupns_private: Option<bool>,
    /// The cgroup parent; `/berth` by default (`berth.slice` with the systemd driver).
    pub cgroup_parent: Option<String>,
}

/// Facts about the host the spec depends on; see [`crate::host::detect`].
#[derive(Debug, Clone)]
pub struct HostInfo {
    /// Capabilities in this process's bounding set: what `--privileged` and `ALL` can grant.
    pub bounding_caps: Vec<String>,
    pub cgroup_v2: bool,
    pub systemd_cgroup: bool,
    /// Every device node under `/dev`, for `--privileged`.
    pub devices: Vec<DeviceNode>,
    /// Where the init for `--init` lives on the host.
    pub init_path: PathBuf,
    /// Go's name for the architecture (`amd64`, `arm64`, …), as seccomp profiles use it.
    pub arch: String,
    /// (major, minor) of the running kernel, for seccomp's `minKernel`.
    pub kernel: (u32, u32),
}
