//! Container options + image config → OCI runtime spec (`config.json`), as Docker builds it:
//! Docker's 14 default capabilities, its default seccomp profile, masked and read-only paths,
//! `/dev`, `/dev/shm`, `/dev/mqueue`, `/dev/pts`, read-only `/sys`, users resolved from the
//! image's `/etc/passwd` and `/etc/group`, resources, sysctls, rlimits, `--privileged`, `--init`.
//!
//! [`generate`] is pure: everything it needs from the host comes in a [`HostInfo`]
//! ([`host::detect`] reads it) and the image's passwd/group text comes in [`RootfsFiles`].
//! The tests compare its output with what Docker hands runc for the same options.

mod caps;
mod default_seccomp;
pub mod host;
mod options;
pub mod seccomp;
mod user;

use std::collections::BTreeMap;

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

pub use caps::{ALL as ALL_CAPS, DEFAULT as DEFAULT_CAPS};
pub use options::{
    ContainerOptions, DeviceMapping, DeviceNode, HostInfo, ImageConfig, Mount, NamespaceMode, Ulimit,
};
pub use user::{resolve as resolve_user, ResolvedUser};

/// Where `--init` puts the init binary inside the container (Docker's path).
pub const INIT_PATH_IN_CONTAINER: &str = "/sbin/docker-init";
/// `PATH` when neither the image nor the options set one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Docker's masked paths (hidden from the container), in Docker's order.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] =
    &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The options ask for something invalid; the message says what and names it.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("building the runtime spec: {0}")]
    Internal(String),
}

impl berth_kind::Kinded for SpecError {
    fn kind(&self) -> berth_kind::Kind {
        match self {
            SpecError::InvalidArgument(_) => berth_kind::Kind::InvalidArgument,
            SpecError::Internal(_) => berth_kind::Kind::Internal,
        }
    }
}

/// The image's account files, read from its root filesystem (empty when absent).
#[derive(Debug, Clone, Default)]
pub struct RootfsFiles {
    pub passwd: String,
    pub group: String,
}

/// Docker's `ReplaceOrAppendEnvValues`: a later `K=v` replaces an earlier `K=…` in place; a bare
/// `K` removes it.
pub fn merge_env(base: &[String], overrides: &[String]) -> Vec<String> {
    let mut out: Vec<String> = base.to_vec();
    for kv in overrides {
        let key = kv.split('=').next().unwrap_or_default();
        let pos = out.iter().position(|e| e.split('=').next() == Some(key));
        match (pos, kv.contains('=')) {
            (Some(i), true) => out[i] = kv.clone(),
            (Some(i), false) => {
                out.remove(i);
            }
            (None, true) => out.push(kv.clone()),
            (None, false) => {}
        }
    }
    out
}

/// The command a container runs: entrypoint + cmd, with the options overriding the image's
/// (an entrypoint given in the options drops the image's cmd, as in Docker).
pub fn command(opts: &ContainerOptions) -> Result<Vec<String>, SpecError> {
    let entrypoint = opts.entrypoint.clone().or_else(|| opts.image.entrypoint.clone()).unwrap_or_default();
    let cmd = match (&opts.cmd, &opts.entrypoint) {
        (Some(c), _) => c.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => opts.image.cmd.clone().unwrap_or_default(),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::InvalidArgument("no command specified".into()));
    }
    Ok(args)
}

/// Sysctls a container may set: those the kernel namespaces (IPC ones always, `net.*` only with
/// its own network namespace).
pub fn validate_sysctl(key: &str, network: &NamespaceMode) -> Result<(), SpecError> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        return Ok(());
    }
    if key.starts_with("net.") {
        if *network == NamespaceMode::Host {
            return Err(SpecError::InvalidArgument(format!(
                "sysctl {key:?} not allowed in host network namespace: run with a network of its own"
            )));
        }
        return Ok(());
    }
    Err(SpecError::InvalidArgument(format!(
        "sysctl {key:?} is not in a separate kernel namespace: it would change the host; only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* and net.* can be set"
    )))
}

fn security_options(opts: &ContainerOptions) -> Result<(bool, Option<Option<String>>), SpecError> {
    // (no_new_privileges, seccomp: None = default, Some(None) = unconfined, Some(Some(json)) = custom)
    let mut nnp = false;
    let mut seccomp = None;
    for o in &opts.security_opt {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        match k {
            "no-new-privileges" => {
                nnp = match v {
                    "" | "true" => true,
                    "false" => false,
                    _ => {
                        return Err(SpecError::InvalidArgument(format!(
                            "invalid --security-opt {o:?}: no-new-privileges takes true or false"
                        )))
                    }
                }
            }
            "seccomp" if v == "unconfined" => seccomp = Some(None),
            "seccomp" if v == "builtin" || v.is_empty() => seccomp = None,
            "seccomp" => seccomp = Some(Some(v.to_string())),
            // Neither AppArmor nor SELinux is enforced by berth; accepted as Docker does without them.
            "apparmor" | "label" => {}
            _ => {
                return Err(SpecError::InvalidArgument(format!(
                    "invalid --security-opt {o:?}: use no-new-privileges, seccomp=…, apparmor=… or label=…"
                )))
            }
        }
    }
    Ok((nnp, seccomp))
}

fn namespace(kind: &str, mode: &NamespaceMode) -> Option<Value> {
    match mode {
        NamespaceMode::Private => Some(json!({"type": kind})),
        NamespaceMode::Host => None,
        NamespaceMode::Path(p) => Some(json!({"type": kind, "path": p})),
    }
}

fn device_json(d: &DeviceNode, path: &std::path::Path) -> Value {
    json!({"path": path, "type": d.kind.to_string(), "major": d.major, "minor": d.minor,
           "fileMode": d.mode & 0o7777, "uid": d.uid, "gid": d.gid})
}

fn cgroup_rule(
    allow: bool,
    kind: Option<char>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Value {
    let mut v = json!({"allow": allow, "access": access});
    if let Some(k) = kind {
        v["type"] = json!(k.to_string());
    }
    if let Some(m) = major {
        v["major"] = json!(m);
    }
    if let Some(m) = minor {
        v["minor"] = json!(m);
    }
    v
}

fn default_mounts(opts: &ContainerOptions) -> Vec<Value> {
    let shm = if opts.shm_size > 0 { opts.shm_size } else { DEFAULT_SHM_SIZE };
    let sys_opts: Vec<&str> = if opts.privileged {
        vec!["nosuid", "noexec", "nodev"]
    } else {
        vec!["nosuid", "noexec", "nodev", "ro"]
    };
    let cg_opts: Vec<&str> = if opts.privileged {
        vec!["nosuid", "noexec", "nodev"]
    } else {
        vec!["ro", "nosuid", "noexec", "nodev"]
    };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": cg_opts}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}),
    ]
}

/// Builds the OCI spec for a container.
pub fn generate(opts: &ContainerOptions, host: &HostInfo, files: &RootfsFiles) -> Result<Spec, SpecError> {
    let (no_new_privileges, seccomp_choice) = security_options(opts)?;
    let user_spec = opts.user.clone().unwrap_or_else(|| opts.image.user.clone());
    let user = user::resolve(&user_spec, &opts.group_add, &files.passwd, &files.group)?;
    let caps = caps::effective_set(&opts.cap_add, &opts.cap_drop, opts.privileged, &host.bounding_caps)?;
    let mut args = command(opts)?;
    let hostname =
        opts.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| opts.id.chars().take(12).collect());

    // Environment: PATH, HOSTNAME, TERM, then the image's and the options' variables over them.
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), format!("HOSTNAME={hostname}")];
    if opts.tty {
        env.push("TERM=xterm".into());
    }
    let env = merge_env(&merge_env(&env, &opts.image.env), &opts.env);
    let cwd =
        opts.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| opts.image.working_dir.clone());
    let cwd = if cwd.is_empty() { "/".to_string() } else { cwd };
    if !cwd.starts_with('/') {
        return Err(SpecError::InvalidArgument(format!(
            "the working directory {cwd:?} is invalid: it needs to be an absolute path"
        )));
    }

    let mut capabilities = json!({"bounding": caps, "effective": caps, "permitted": caps});
    if user.uid != 0 {
        // A non-root process starts with no effective or permitted capabilities (Docker ≥ 20.10).
        capabilities = json!({"bounding": caps});
    }
    let mut process = json!({
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": [],
        "env": env,
        "cwd": cwd,
        "capabilities": capabilities,
        "oomScoreAdj": opts.oom_score_adj,
    });
    if opts.tty {
        process["terminal"] = json!(true);
    }
    if no_new_privileges {
        process["noNewPrivileges"] = json!(true);
    }
    if !opts.ulimits.is_empty() {
        process["rlimits"] = json!(opts
            .ulimits
            .iter()
            .map(|u| json!({"type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()), "soft": u.soft, "hard": u.hard}))
            .collect::<Vec<_>>());
    }

    // Mounts: Docker's defaults, then the init, tmpfs and the daemon's mounts, sorted by depth.
    let mut mounts = default_mounts(opts);
    let mut extra: Vec<Value> = Vec::new();
    if opts.init {
        extra.push(json!({"destination": INIT_PATH_IN_CONTAINER, "type": "bind", "source": host.init_path, "options": ["bind", "ro"]}));
        args = [INIT_PATH_IN_CONTAINER.to_string(), "--".to_string()].into_iter().chain(args).collect();
    }
    for (dest, o) in &opts.tmpfs {
        if !dest.starts_with('/') {
            return Err(SpecError::InvalidArgument(format!(
                "invalid mount path {dest:?} for --tmpfs: it must be absolute"
            )));
        }
        let mut options = vec!["noexec".to_string(), "nosuid".to_string(), "nodev".to_string()];
        options.extend(o.split(',').filter(|s| !s.is_empty()).map(String::from));
        extra.push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options}));
    }
    for m in &opts.mounts {
        extra.push(
            json!({"destination": m.destination, "type": m.kind, "source": m.source, "options": m.options}),
        );
    }
    // A mount the user asks for at a default destination replaces the default.
    mounts.retain(|d| !extra.iter().any(|e| e["destination"] == d["destination"]));
    extra.sort_by_key(|m| {
        m["destination"].as_str().map_or(0, |d| d.trim_end_matches('/').matches('/').count())
    });
    mounts.extend(extra);
    process["args"] = json!(args);

    // Resources.
    let mut rules = vec![cgroup_rule(false, None, None, None, "rwm")];
    let mut devices: Vec<Value> = Vec::new();
    if opts.privileged {
        rules = vec![cgroup_rule(true, None, None, None, "rwm")];
        devices.extend(host.devices.iter().map(|d| device_json(d, &d.path)));
    } else {
        for (k, maj, min) in [('c', 1, 5), ('c', 1, 3), ('c', 1, 9), ('c', 1, 8), ('c', 5, 0), ('c', 5, 1)] {
            rules.push(cgroup_rule(true, Some(k), Some(maj), Some(min), "rwm"));
        }
        // Docker denies /dev/fuse (c 10:229) explicitly, after the allowed defaults.
        rules.push(cgroup_rule(false, Some('c'), Some(10), Some(229), "rwm"));
    }
    for d in &opts.devices {
        devices.push(device_json(&d.host, &d.container_path));
        if !opts.privileged {
            rules.push(cgroup_rule(
                true,
                Some(d.host.kind),
                Some(d.host.major),
                Some(d.host.minor),
                &d.permissions,
            ));
        }
    }
    let mut memory = json!({"disableOOMKiller": opts.oom_kill_disable});
    if opts.memory > 0 {
        memory["limit"] = json!(opts.memory);
    }
    if opts.memory_reservation > 0 {
        memory["reservation"] = json!(opts.memory_reservation);
    }
    if opts.memory_swap != 0 {
        memory["swap"] = json!(opts.memory_swap);
    }
    let mut cpu = json!({"shares": opts.cpu_shares.max(0)});
    if opts.nano_cpus > 0 && (opts.cpu_quota > 0 || opts.cpu_period > 0) {
        return Err(SpecError::InvalidArgument(
            "conflicting options: Nano CPUs and CPU Period/Quota cannot both be set".into(),
        ));
    }
    if opts.nano_cpus > 0 {
        cpu["period"] = json!(100_000);
        cpu["quota"] = json!(opts.nano_cpus * 100_000 / 1_000_000_000);
    }
    if opts.cpu_period > 0 {
        cpu["period"] = json!(opts.cpu_period);
    }
    if opts.cpu_quota != 0 {
        cpu["quota"] = json!(opts.cpu_quota);
    }
    if !opts.cpuset_cpus.is_empty() {
        cpu["cpus"] = json!(opts.cpuset_cpus);
    }
    if !opts.cpuset_mems.is_empty() {
        cpu["mems"] = json!(opts.cpuset_mems);
    }
    let mut resources = json!({"devices": rules, "memory": memory, "cpu": cpu, "blockIO": {"weight": 0}});
    if let Some(p) = opts.pids_limit.filter(|p| *p != 0) {
        resources["pids"] = json!({"limit": p});
    }

    // Namespaces, in Docker's order.
    let cgroupns_private = opts.cgroupns_private.unwrap_or(host.cgroup_v2);
    let mut namespaces: Vec<Value> = vec![json!({"type": "mount"})];
    namespaces.extend(namespace("network", &opts.network_mode));
    namespaces.extend(namespace("uts", &opts.uts_mode));
    namespaces.extend(namespace("pid", &opts.pid_mode));
    namespaces.extend(namespace("ipc", &opts.ipc_mode));
    if cgroupns_private {
        namespaces.push(json!({"type": "cgroup"}));
    }

    // Sysctls: Docker's two defaults in a network namespace of its own, then the options'.
    let mut sysctl: BTreeMap<String, String> = BTreeMap::new();
    if opts.network_mode == NamespaceMode::Private {
        sysctl.insert("net.ipv4.ip_unprivileged_port_start".into(), "0".into());
        sysctl.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
    }
    for (k, v) in &opts.sysctls {
        validate_sysctl(k, &opts.network_mode)?;
        sysctl.insert(k.clone(), v.clone());
    }

    let cgroups_path = if host.systemd_cgroup {
        format!("{}:berth:{}", opts.cgroup_parent.clone().unwrap_or_else(|| "system.slice".into()), opts.id)
    } else {
        format!(
            "{}/{}",
            opts.cgroup_parent.clone().unwrap_or_else(|| "/berth".into()).trim_end_matches('/'),
            opts.id
        )
    };
    let mut linux = json!({
        "sysctl": sysctl,
        "resources": resources,
        "cgroupsPath": cgroups_path,
        "namespaces": namespaces,
    });
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !opts.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
        let profile = match seccomp_choice {
            None => Some(seccomp::default_profile()),
            Some(None) => None,
            Some(Some(text)) => Some(seccomp::parse_profile(&text)?),
        };
        if let Some(p) = profile {
            linux["seccomp"] = seccomp::translate(&p, &host.arch, &caps, host.kernel)?;
        }
    }

    let mut root = json!({"path": opts.rootfs});
    if opts.readonly_rootfs {
        root["readonly"] = json!(true);
    }
    let mut spec = json!({
        // What Docker 20.10 writes: older runtimes (Debian's crun 1.8) refuse newer versions.
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": root,
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    });
    if let Some(d) = opts.domainname.as_ref().filter(|d| !d.is_empty()) {
        spec["domainname"] = json!(d);
    }
    if opts.uts_mode == NamespaceMode::Host {
        // With the host's UTS namespace the hostname is the host's; the runtime must not set one.
        spec.as_object_mut().map(|o| o.remove("hostname"));
    }
    serde_json::from_value(spec).map_err(|e| SpecError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_replaces_in_place() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["PATH=/a", "HOSTNAME=h"], &["PATH=/b", "X=1"], &["PATH=/b", "HOSTNAME=h", "X=1"]),
            (&["A=1", "B=2"], &["A"], &["B=2"]),
            (&["A=1"], &["C"], &["A=1"]),
            (&["A=1"], &["A=x=y"], &["A=x=y"]),
        ];
        for (base, over, want) in cases {
            assert_eq!(merge_env(&s(base), &s(over)), s(want));
        }
    }

    #[test]
    fn command_rules() {
        let img = ImageConfig {
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec!["/ep".into()]),
            ..Default::default()
        };
        let o = |cmd: Option<&[&str]>, ep: Option<&[&str]>| ContainerOptions {
            image: img.clone(),
            cmd: cmd.map(|c| c.iter().map(|s| s.to_string()).collect()),
            entrypoint: ep.map(|c| c.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(command(&o(None, None)).unwrap(), ["/ep", "sh"]);
        assert_eq!(command(&o(Some(&["ls"]), None)).unwrap(), ["/ep", "ls"]);
        assert_eq!(command(&o(None, Some(&["/x"]))).unwrap(), ["/x"]);
        // `--entrypoint ""` clears the entrypoint and the image's cmd with it.
        assert!(command(&o(None, Some(&[]))).is_err());
        assert_eq!(command(&o(Some(&["ls"]), Some(&[]))).unwrap(), ["ls"]);
        let none = ContainerOptions::default();
        assert_eq!(command(&none).unwrap_err().to_string(), "no command specified");
    }

    #[test]
    fn sysctl_rules() {
        let cases: &[(&str, NamespaceMode, bool)] = &[
            ("kernel.shm_rmid_forced", NamespaceMode::Private, true),
            ("kernel.msgmax", NamespaceMode::Host, true),
            ("fs.mqueue.msg_max", NamespaceMode::Private, true),
            ("net.ipv4.ip_forward", NamespaceMode::Private, true),
            ("net.ipv4.ip_forward", NamespaceMode::Host, false),
            ("vm.swappiness", NamespaceMode::Private, false),
            ("kernel.hostname", NamespaceMode::Private, false),
        ];
        for (k, net, ok) in cases {
            assert_eq!(validate_sysctl(k, net).is_ok(), *ok, "{k}");
        }
    }
}
