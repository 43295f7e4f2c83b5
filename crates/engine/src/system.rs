//! `/version`, `/info`, `/system/df`: the daemon's facts, with real figures.

use berth_api::version::{CURRENT, MINIMUM};
use serde_json::json;

use super::Engine;
use crate::error::Result;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn kernel() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
        })
        .unwrap_or_else(|| "Linux".into())
}

impl Engine {
    /// The events that match `f` from `since` (replayed) on, until `until`.
    pub fn events_watch(
        &self,
        f: berth_api::Filters,
        since: Option<i64>,
        until: Option<i64>,
    ) -> tokio::sync::mpsc::Receiver<std::sync::Arc<berth_api::shape::Event>> {
        self.events.watch(f, since, until)
    }

    pub fn version(&self) -> serde_json::Value {
        let arch = berth_oci::platform::host_arch();
        json!({
            "Platform": {"Name": "berth"},
            "Components": [{"Name": "Engine", "Version": VERSION, "Details": {
                "ApiVersion": CURRENT.to_string(), "MinAPIVersion": MINIMUM.to_string(),
                "Arch": arch, "Os": "linux", "KernelVersion": kernel(), "GoVersion": "none (Rust)",
                "GitCommit": "", "BuildTime": "", "Experimental": "false"}}],
            "Version": VERSION,
            "ApiVersion": CURRENT.to_string(),
            "MinAPIVersion": MINIMUM.to_string(),
            "GitCommit": "",
            "GoVersion": "none (Rust)",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": kernel(),
            "BuildTime": "",
        })
    }

    pub fn info(&self) -> Result<serde_json::Value> {
        let cfg = self.config();
        let (mut running, mut paused, mut stopped) = (0, 0, 0);
        for c in self.containers() {
            match c.rec().state.status {
                super::Status::Running => running += 1,
                super::Status::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
        let images = self.images.list(&Default::default())?.len();
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mem = super::stats::host_memory();
        let cgroup_v2 = self.host.cgroup_v2;
        let runtimes: serde_json::Map<String, serde_json::Value> =
            cfg.runtimes.iter().map(|(k, v)| (k.clone(), json!({"path": v.path}))).collect();
        let hostname =
            nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(json!({
            "ID": self.daemon_id(),
            "Containers": running + paused + stopped,
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": stopped,
            "Images": images,
            "Driver": self.images.snapshotter(),
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "Plugins": {"Volume": ["local"], "Network": ["host", "null"], "Authorization": null, "Log": ["json-file", "local", "none"]},
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "IPv4Forwarding": true,
            "Debug": cfg.debug,
            "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "OomKillDisable": !cgroup_v2,
            "NGoroutines": 0,
            "SystemTime": berth_shim::now_rfc3339(),
            "LoggingDriver": cfg.log_driver,
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": if cgroup_v2 { "2" } else { "1" },
            "NEventsListener": 0,
            "KernelVersion": kernel(),
            "OperatingSystem": os_name(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": []},
            "NCPU": cpus,
            "MemTotal": mem,
            "DockerRootDir": cfg.data_root,
            "Name": hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": VERSION,
            "Runtimes": runtimes,
            "DefaultRuntime": cfg.default_runtime,
            "FirewallBackend": {"Driver": self.net.firewall_name()},
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": cfg.live_restore,
            "Isolation": "",
            "InitBinary": "berth-init",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": ""},
            "InitCommit": {"ID": ""},
            "SecurityOptions": ["name=seccomp,profile=builtin", if cgroup_v2 { "name=cgroupns" } else { "name=cgroupns-host" }],
            "Warnings": self.network_warnings().into_iter().chain(self.init_missing.clone()).collect::<Vec<_>>(),
        }))
    }

    /// A stable ID for this data root.
    pub(crate) fn daemon_id(&self) -> String {
        let p = self.config().data_root.join("engine-id");
        if let Ok(id) = std::fs::read_to_string(&p) {
            return id.trim().to_string();
        }
        let id = berth_sys::new_id();
        let _ = std::fs::write(&p, &id);
        id
    }

    pub fn disk_usage(&self) -> Result<serde_json::Value> {
        let users = self.image_users();
        let du = self.images.disk_usage(&users)?;
        let images: Vec<serde_json::Value> = du
            .images
            .iter()
            .map(|i| {
                let mut v = serde_json::to_value(&i.summary).unwrap_or_default();
                v["SharedSize"] = json!(i.shared_size);
                v["Size"] = json!(i.size);
                v["Containers"] = json!(i.containers);
                v
            })
            .collect();
        let now = crate::events::now_nanos();
        let containers: Vec<serde_json::Value> = self
            .containers()
            .iter()
            .map(|c| {
                let rec = c.snapshot();
                let rw = self.images.rootfs_usage(&rec.id).unwrap_or(0) as i64;
                let image = self.images.resolve(&rec.image_id).map(|i| i.size as i64).unwrap_or(0);
                json!({
                    "Id": rec.id, "Names": [format!("/{}", rec.name)], "Image": rec.image, "ImageID": rec.image_id,
                    "Command": super::view::command_text(&rec.path, &rec.args),
                    "Created": berth_api::time::nanos_of(&rec.created) / 1_000_000_000,
                    "Ports": [], "SizeRw": rw, "SizeRootFs": rw + image,
                    "Labels": rec.config.labels.clone().unwrap_or_default(),
                    "State": rec.state.status.as_str(),
                    "Status": berth_api::shape::status_text(&super::view::state_view(&rec), now),
                    "HostConfig": {"NetworkMode": rec.host_config.network_mode.clone().unwrap_or_default()},
                    "NetworkSettings": {"Networks": {}},
                    "Mounts": self.mount_views(&rec).iter().map(berth_api::shape::mount_point).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(json!({
            "LayersSize": du.layers_size,
            "Images": images,
            "Containers": containers,
            "Volumes": self.volume_usage()?.iter().map(berth_api::shape::volume).collect::<Vec<_>>(),
            "BuildCache": self.build_cache_usage()?.iter().map(|i| i.to_json()).collect::<Vec<_>>(),
        }))
    }
}
