//! The documents Docker sends in full. bollard's models leave out fields that are unset; Docker
//! sends every field of `HostConfig`, `Config`, `State` and `NetworkSettings`, with `null`,
//! `[]` or `{}` where nothing is set, and clients (`docker inspect -f`, SDKs) read them. These
//! functions build those documents from plain data the daemon hands over.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use berth_records::{ContainerConfig, HostConfig};

/// Fills `value`'s missing (or null) keys from `defaults`; present keys win.
fn over(defaults: Value, value: Value) -> Value {
    let (Value::Object(mut d), Value::Object(v)) = (defaults, value) else { return Value::Null };
    for (k, x) in v {
        if !x.is_null() {
            d.insert(k, x);
        }
    }
    Value::Object(d)
}

/// `HostConfig` as Docker shows it in `inspect`.
pub fn host_config(hc: &HostConfig) -> Value {
    let defaults = json!({
        "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0],
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "", "Dns": [], "DnsOptions": [], "DnsSearch": [],
        "ExtraHosts": null, "GroupAdd": null, "IpcMode": "", "Cgroup": "", "Links": null,
        "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 0,
        "Runtime": "", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": [], "DeviceCgroupRules": null, "DeviceRequests": null, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": null, "OomKillDisable": null, "PidsLimit": null,
        "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "Mounts": null, "Tmpfs": null, "Sysctls": null, "Init": null, "MaskedPaths": null, "ReadonlyPaths": null,
    });
    let mut v = over(defaults, serde_json::to_value(hc).unwrap_or_default());
    // Docker drops the keys it never sets rather than sending null for them.
    if let Value::Object(m) = &mut v {
        for k in ["Mounts", "Tmpfs", "Sysctls", "Init"] {
            if m.get(k).is_some_and(Value::is_null) {
                m.remove(k);
            }
        }
    }
    v
}

/// `Config` as Docker shows it in `inspect`.
pub fn config(c: &ContainerConfig) -> Value {
    let defaults = json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
        "AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": null,
        "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "", "Entrypoint": null,
        "OnBuild": null, "Labels": {},
    });
    over(defaults, serde_json::to_value(c).unwrap_or_default())
}

pub use berth_records::{Health, HealthLog};

/// A container's state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    pub health: Option<Health>,
}

pub fn state(s: &State) -> Value {
    let mut v = json!({
        "Status": s.status, "Running": s.running, "Paused": s.paused, "Restarting": s.restarting,
        "OOMKilled": s.oom_killed, "Dead": s.dead, "Pid": s.pid, "ExitCode": s.exit_code,
        "Error": s.error, "StartedAt": s.started_at, "FinishedAt": s.finished_at,
    });
    if let Some(h) = &s.health {
        v["Health"] = serde_json::to_value(h).unwrap_or_default();
    }
    v
}

/// A mount as `inspect` and the list show it.
#[derive(Debug, Clone, Default)]
pub struct MountPoint {
    pub kind: String,
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    pub driver: Option<String>,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

pub fn mount_point(m: &MountPoint) -> Value {
    let mut v = serde_json::Map::new();
    v.insert("Type".into(), json!(m.kind));
    if let Some(n) = &m.name {
        v.insert("Name".into(), json!(n));
    }
    v.insert("Source".into(), json!(m.source));
    v.insert("Destination".into(), json!(m.destination));
    if let Some(d) = &m.driver {
        v.insert("Driver".into(), json!(d));
    }
    v.insert("Mode".into(), json!(m.mode));
    v.insert("RW".into(), json!(m.rw));
    v.insert("Propagation".into(), json!(m.propagation));
    Value::Object(v)
}

/// A volume as `/volumes` shows it; `usage` (size, reference count) only for `system df`.
#[derive(Debug, Clone, Default)]
pub struct VolumeView {
    pub name: String,
    pub driver: String,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub mountpoint: String,
    pub usage: Option<(i64, i64)>,
}

pub fn volume(v: &VolumeView) -> Value {
    let map_or_null = |m: &BTreeMap<String, String>| if m.is_empty() { Value::Null } else { json!(m) };
    let mut out = json!({
        "CreatedAt": v.created_at, "Driver": v.driver, "Labels": map_or_null(&v.labels),
        "Mountpoint": v.mountpoint, "Name": v.name, "Options": map_or_null(&v.options), "Scope": "local",
    });
    if let Some((size, refs)) = v.usage {
        out["UsageData"] = json!({"Size": size, "RefCount": refs});
    }
    out
}

/// The network a container is attached to, by mode (`none`, `host`, `bridge`, …).
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    pub network: String,
    pub network_id: String,
    pub endpoint_id: String,
    pub gateway: String,
    pub ip_address: String,
    pub ip_prefix_len: i64,
    pub mac_address: String,
    pub aliases: Vec<String>,
    /// `--ip` and `--ip6`, shown as `IPAMConfig`.
    pub ipv4_requested: String,
    pub ipv6_requested: String,
    /// The endpoint's IPv6 address on an `--ipv6` network.
    pub ipv6: String,
    pub ipv6_prefix_len: i64,
    pub ipv6_gateway: String,
    /// The names the embedded DNS answers for it (user-defined networks).
    pub dns_names: Vec<String>,
}

fn list_or_null(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

fn endpoint(e: &Endpoint) -> Value {
    let mut ipam = Map::new();
    if !e.ipv4_requested.is_empty() {
        ipam.insert("IPv4Address".into(), json!(e.ipv4_requested));
    }
    if !e.ipv6_requested.is_empty() {
        ipam.insert("IPv6Address".into(), json!(e.ipv6_requested));
    }
    let ipam = if ipam.is_empty() { Value::Null } else { Value::Object(ipam) };
    json!({
        "IPAMConfig": ipam, "Links": null, "Aliases": list_or_null(&e.aliases), "MacAddress": e.mac_address,
        "DriverOpts": null, "GwPriority": 0, "NetworkID": e.network_id, "EndpointID": e.endpoint_id,
        "Gateway": e.gateway, "IPAddress": e.ip_address, "IPPrefixLen": e.ip_prefix_len, "IPv6Gateway": e.ipv6_gateway,
        "GlobalIPv6Address": e.ipv6, "GlobalIPv6PrefixLen": e.ipv6_prefix_len, "DNSNames": list_or_null(&e.dns_names),
    })
}

fn networks(eps: &[Endpoint]) -> Value {
    Value::Object(eps.iter().map(|e| (e.network.clone(), endpoint(e))).collect::<Map<_, _>>())
}

/// A container port: exposed only (`host` is `None`), or published on `host_ip:host_port`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortView {
    pub private: u16,
    pub proto: String,
    pub host: Option<(String, u16)>,
}

/// `NetworkSettings.Ports`: `"80/tcp": [{"HostIp", "HostPort"}]`, or null when only exposed.
fn ports_map(ports: &[PortView]) -> Value {
    let mut m = Map::new();
    for p in ports {
        let key = format!("{}/{}", p.private, p.proto);
        let entry = m.entry(key).or_insert(Value::Null);
        if let Some((ip, port)) = &p.host {
            if entry.is_null() {
                *entry = json!([]);
            }
            if let Some(a) = entry.as_array_mut() {
                a.push(json!({"HostIp": ip, "HostPort": port.to_string()}));
            }
        }
    }
    Value::Object(m)
}

/// The list's `Ports`: `{"IP", "PrivatePort", "PublicPort", "Type"}` or just the private side.
fn ports_list(ports: &[PortView]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|p| match &p.host {
                Some((ip, port)) => {
                    json!({"IP": ip, "PrivatePort": p.private, "PublicPort": port, "Type": p.proto})
                }
                None => json!({"PrivatePort": p.private, "Type": p.proto}),
            })
            .collect(),
    )
}

/// `NetworkSettings` of inspect; the top-level address fields are the default bridge's.
pub fn network_settings(sandbox_id: &str, sandbox_key: &str, eps: &[Endpoint], ports: &[PortView]) -> Value {
    let b = eps.iter().find(|e| e.network == "bridge").cloned().unwrap_or_default();
    json!({
        "Bridge": "", "SandboxID": sandbox_id, "SandboxKey": sandbox_key, "Ports": ports_map(ports),
        "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null, "EndpointID": b.endpoint_id,
        "Gateway": b.gateway, "GlobalIPv6Address": b.ipv6, "GlobalIPv6PrefixLen": b.ipv6_prefix_len, "IPAddress": b.ip_address,
        "IPPrefixLen": b.ip_prefix_len, "IPv6Gateway": b.ipv6_gateway, "MacAddress": b.mac_address, "Networks": networks(eps),
    })
}

/// A network as `/networks` shows it.
#[derive(Debug, Clone, Default)]
pub struct NetworkView {
    pub name: String,
    pub id: String,
    pub created: String,
    pub driver: String,
    pub subnet: String,
    pub gateway: String,
    pub ip_range: String,
    /// `--ipv6`, with its subnet and gateway.
    pub ipv6: bool,
    pub subnet6: String,
    pub gateway6: String,
    pub internal: bool,
    pub attachable: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// (container ID, name, endpoint ID, MAC, IPv4 `address/prefix`, IPv6 `address/prefix`).
    pub containers: Vec<(String, String, String, String, String, String)>,
}

pub fn network(n: &NetworkView) -> Value {
    let mut config = Vec::new();
    if !n.subnet.is_empty() {
        let mut c = json!({"Subnet": n.subnet});
        if !n.ip_range.is_empty() {
            c["IPRange"] = json!(n.ip_range);
        }
        c["Gateway"] = json!(n.gateway);
        config.push(c);
    }
    if n.ipv6 {
        config.push(json!({"Subnet": n.subnet6, "Gateway": n.gateway6}));
    }
    let containers: Map<String, Value> = n
        .containers
        .iter()
        .map(|(id, name, ep, mac, ip, ip6)| {
            (id.clone(), json!({"Name": name, "EndpointID": ep, "MacAddress": mac, "IPv4Address": ip, "IPv6Address": ip6}))
        })
        .collect();
    json!({
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": n.driver,
        "EnableIPv4": true, "EnableIPv6": n.ipv6,
        "IPAM": {"Driver": "default", "Options": null, "Config": config},
        "Internal": n.internal, "Attachable": n.attachable, "Ingress": false,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false, "Containers": containers,
        "Options": n.options, "Labels": n.labels,
    })
}

/// Everything `GET /containers/{id}/json` shows.
#[derive(Debug, Clone, Default)]
pub struct ContainerDetails {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub exec_ids: Vec<String>,
    pub host_config: HostConfig,
    pub graph_driver: BTreeMap<String, String>,
    pub mounts: Vec<MountPoint>,
    pub config: ContainerConfig,
    pub sandbox_id: String,
    pub sandbox_key: String,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<PortView>,
    /// (SizeRw, SizeRootFs) when asked for.
    pub size: Option<(i64, i64)>,
}

pub fn container_inspect(c: &ContainerDetails) -> Value {
    let mut v = json!({
        "Id": c.id, "Created": c.created, "Path": c.path, "Args": c.args, "State": state(&c.state),
        "Image": c.image, "ResolvConfPath": c.resolv_conf_path, "HostnamePath": c.hostname_path,
        "HostsPath": c.hosts_path, "LogPath": c.log_path, "Name": c.name,
        "RestartCount": c.restart_count, "Driver": c.driver, "Platform": "linux", "MountLabel": "",
        "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": if c.exec_ids.is_empty() { Value::Null } else { json!(c.exec_ids) },
        "HostConfig": host_config(&c.host_config),
        "GraphDriver": {"Data": c.graph_driver, "Name": c.driver},
        "Mounts": c.mounts.iter().map(mount_point).collect::<Vec<_>>(),
        "Config": config(&c.config),
        "NetworkSettings": network_settings(&c.sandbox_id, &c.sandbox_key, &c.endpoints, &c.ports),
    });
    if let Some((rw, root)) = c.size {
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(root);
    }
    v
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ContainerRow {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    pub state: String,
    pub status: String,
    pub network_mode: String,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<PortView>,
    pub mounts: Vec<MountPoint>,
    pub size: Option<(i64, i64)>,
}

pub fn container_row(r: &ContainerRow) -> Value {
    let mut v = json!({
        "Id": r.id, "Names": r.names, "Image": r.image, "ImageID": r.image_id, "Command": r.command,
        "Created": r.created, "Ports": ports_list(&r.ports), "Labels": r.labels, "State": r.state, "Status": r.status,
        "HostConfig": {"NetworkMode": r.network_mode},
        "NetworkSettings": {"Networks": networks(&r.endpoints)},
        "Mounts": r.mounts.iter().map(mount_point).collect::<Vec<_>>(),
    });
    if let Some((rw, root)) = r.size {
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(root);
    }
    v
}

/// `Status` of a list row: `Up 5 minutes (healthy)`, `Exited (0) 2 hours ago`, …
pub fn status_text(s: &State, now_nanos: i64) -> String {
    let since = |t: &str| human_duration(now_nanos - crate::time::nanos_of(t));
    match s.status.as_str() {
        "running" | "paused" => {
            let mut t = format!("Up {}", since(&s.started_at));
            if s.paused {
                t.push_str(" (Paused)");
            }
            if let Some(h) = &s.health {
                match h.status.as_str() {
                    "starting" => t.push_str(" (health: starting)"),
                    "healthy" | "unhealthy" => t.push_str(&format!(" ({})", h.status)),
                    _ => {}
                }
            }
            t
        }
        "restarting" => format!("Restarting ({}) {} ago", s.exit_code, since(&s.finished_at)),
        "exited" if crate::time::nanos_of(&s.finished_at) > 0 => {
            format!("Exited ({}) {} ago", s.exit_code, since(&s.finished_at))
        }
        "exited" => format!("Exited ({})", s.exit_code),
        "created" => "Created".into(),
        "removing" => "Removal In Progress".into(),
        "dead" => "Dead".into(),
        other => other.to_string(),
    }
}

/// Go's `units.HumanDuration`, which Docker's status texts use.
pub fn human_duration(nanos: i64) -> String {
    let secs = nanos / 1_000_000_000;
    let mins = nanos / 60_000_000_000;
    let hours = mins / 60;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_counters_are_read() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  eth0:    1234      10    1    2    0     0          0         0      5678      20    3    4    0     0       0          0\n";
        let got = parse_net_dev(text);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "eth0");
        assert_eq!(
            got[0].1,
            NetDev {
                rx_bytes: 1234,
                rx_packets: 10,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 5678,
                tx_packets: 20,
                tx_errors: 3,
                tx_dropped: 4
            }
        );
    }

    #[test]
    fn host_config_has_every_field_docker_sends() {
        let hc =
            HostConfig { memory: Some(1 << 20), network_mode: Some("none".into()), ..Default::default() };
        let v = host_config(&hc);
        assert_eq!(v["Memory"], 1 << 20);
        assert_eq!(v["NetworkMode"], "none");
        assert_eq!(v["Binds"], Value::Null);
        assert_eq!(v["PortBindings"], json!({}));
        assert_eq!(v["RestartPolicy"], json!({"Name": "no", "MaximumRetryCount": 0}));
        assert!(v.get("Tmpfs").is_none());
        let c = config(&ContainerConfig::default());
        assert_eq!(c["Labels"], json!({}));
        assert_eq!(c["Entrypoint"], Value::Null);
    }

    #[test]
    fn inspect_never_sends_null_where_docker_sends_empty() {
        let v = container_inspect(&ContainerDetails::default());
        assert_eq!(v["Mounts"], json!([]));
        assert_eq!(v["NetworkSettings"]["Networks"], json!({}));
        assert_eq!(v["NetworkSettings"]["Ports"], json!({}));
        assert_eq!(v["ExecIDs"], Value::Null);
        assert!(v["State"]["Health"].is_null());
    }

    #[test]
    fn status_texts() {
        let s = 1_000_000_000i64;
        let now = 1_700_000_000 * s;
        let at = |n: i64| crate::time::rfc3339_nanos(n);
        let cases = [
            (State { status: "created".into(), ..Default::default() }, "Created"),
            (
                State {
                    status: "running".into(),
                    running: true,
                    started_at: at(now - 3 * s),
                    ..Default::default()
                },
                "Up 3 seconds",
            ),
            (
                State {
                    status: "running".into(),
                    started_at: at(now - 120 * s),
                    health: Some(Health { status: "healthy".into(), ..Default::default() }),
                    ..Default::default()
                },
                "Up 2 minutes (healthy)",
            ),
            (
                State {
                    status: "paused".into(),
                    paused: true,
                    started_at: at(now - 3600 * s),
                    ..Default::default()
                },
                "Up About an hour (Paused)",
            ),
            (
                State {
                    status: "exited".into(),
                    exit_code: 137,
                    finished_at: at(now - 1),
                    ..Default::default()
                },
                "Exited (137) Less than a second ago",
            ),
        ];
        for (st, want) in cases {
            assert_eq!(status_text(&st, now), want);
        }
    }
}

/// One event of `/events`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// `container`, `image`, `network`, `volume`, `daemon`.
    pub kind: String,
    pub action: String,
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
    pub time_nano: i64,
}

/// Docker's event document, with the legacy `status`/`id`/`from` fields containers and images
/// still carry.
pub fn event(e: &Event) -> Value {
    let mut v = json!({
        "Type": e.kind, "Action": e.action,
        "Actor": {"ID": e.actor_id, "Attributes": e.attributes},
        "scope": "local", "time": e.time_nano / 1_000_000_000, "timeNano": e.time_nano,
    });
    if e.kind == "container" || e.kind == "image" {
        v["status"] = json!(e.action);
        v["id"] = json!(e.actor_id);
        if let Some(image) = e.attributes.get("image").filter(|_| e.kind == "container") {
            v["from"] = json!(image);
        }
    }
    v
}

/// One stats sample: the runtime's `events --stats` data (runc's JSON), when it was read, and
/// the host's CPU time then.
#[derive(Debug, Clone, Default)]
pub struct StatsSample {
    pub read: String,
    pub data: Value,
    /// Nanoseconds of CPU time the host has spent (`/proc/stat`), Docker's `system_cpu_usage`.
    pub system_cpu: u64,
    pub online_cpus: u64,
    /// Host memory, reported as the limit when the container has none.
    pub host_memory: u64,
    /// The container's interfaces (not `lo`) with their counters, from its `/proc/<pid>/net/dev`.
    pub networks: Vec<(String, NetDev)>,
}

/// One interface's counters, as `/proc/net/dev` has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetDev {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// `/proc/<pid>/net/dev` → each interface but `lo` with its counters (pure).
pub fn parse_net_dev(text: &str) -> Vec<(String, NetDev)> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if name == "lo" || f.len() < 12 {
                return None;
            }
            Some((
                name.to_string(),
                NetDev {
                    rx_bytes: f[0],
                    rx_packets: f[1],
                    rx_errors: f[2],
                    rx_dropped: f[3],
                    tx_bytes: f[8],
                    tx_packets: f[9],
                    tx_errors: f[10],
                    tx_dropped: f[11],
                },
            ))
        })
        .collect()
}

fn cpu_stats(s: &StatsSample) -> Value {
    let c = &s.data["cpu"];
    if s.data.is_null() {
        return json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}});
    }
    let mut usage = json!({
        "total_usage": c["usage"]["total"].as_u64().unwrap_or(0),
        "usage_in_kernelmode": c["usage"]["kernel"].as_u64().unwrap_or(0),
        "usage_in_usermode": c["usage"]["user"].as_u64().unwrap_or(0),
    });
    if let Some(p) = c["usage"]["percpu"].as_array().filter(|p| !p.is_empty()) {
        usage["percpu_usage"] = json!(p);
    }
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": s.system_cpu,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": c["throttling"]["periods"].as_u64().unwrap_or(0),
            "throttled_periods": c["throttling"]["throttledPeriods"].as_u64().unwrap_or(0),
            "throttled_time": c["throttling"]["throttledTime"].as_u64().unwrap_or(0),
        },
    })
}

/// Docker's stats document (`GET /containers/{id}/stats`), with `precpu_stats` from the
/// previous sample (empty for the first).
pub fn stats(name: &str, id: &str, s: &StatsSample, pre: Option<&StatsSample>) -> Value {
    let zero = StatsSample { read: "0001-01-01T00:00:00Z".into(), ..Default::default() };
    let pre = pre.unwrap_or(&zero);
    let m = &s.data["memory"];
    let mut memory = json!({});
    if !s.data.is_null() {
        let limit =
            m["usage"]["limit"].as_u64().filter(|l| *l > 0 && *l < (1 << 62)).unwrap_or(s.host_memory);
        memory = json!({
            "usage": m["usage"]["usage"].as_u64().unwrap_or(0),
            "max_usage": m["usage"]["max"].as_u64().unwrap_or(0),
            "failcnt": m["usage"]["failcnt"].as_u64().unwrap_or(0),
            "stats": m["raw"].clone(),
            "limit": limit,
        });
    }
    let mut pids = json!({});
    if let Some(cur) = s.data["pids"]["current"].as_u64() {
        pids["current"] = json!(cur);
        if let Some(l) = s.data["pids"]["limit"].as_u64().filter(|l| *l > 0) {
            pids["limit"] = json!(l);
        }
    }
    let blkio = json!({
        "io_service_bytes_recursive": null, "io_serviced_recursive": null, "io_queue_recursive": null,
        "io_service_time_recursive": null, "io_wait_time_recursive": null, "io_merged_recursive": null,
        "io_time_recursive": null, "sectors_recursive": null,
    });
    let mut v = json!({
        "read": s.read, "preread": pre.read, "pids_stats": pids, "blkio_stats": blkio,
        "num_procs": 0, "storage_stats": {}, "cpu_stats": cpu_stats(s), "precpu_stats": cpu_stats(pre),
        "memory_stats": memory, "name": name, "id": id,
    });
    // Docker sends `networks` only for containers with interfaces of their own.
    if !s.networks.is_empty() {
        let nets: Map<String, Value> = s
            .networks
            .iter()
            .map(|(n, d)| {
                (
                    n.clone(),
                    json!({
                        "rx_bytes": d.rx_bytes, "rx_packets": d.rx_packets, "rx_errors": d.rx_errors,
                        "rx_dropped": d.rx_dropped, "tx_bytes": d.tx_bytes, "tx_packets": d.tx_packets,
                        "tx_errors": d.tx_errors, "tx_dropped": d.tx_dropped,
                    }),
                )
            })
            .collect();
        v["networks"] = Value::Object(nets);
    }
    v
}
