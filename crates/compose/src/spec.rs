//! The engine requests a project makes, as Docker's JSON: the create bodies of its networks,
//! volumes and containers, with the labels docker compose v2 puts on them, so that Compose's
//! own tools (and `docker ps --filter label=…`) see berth's projects as theirs. Pure: the
//! caller resolves what needs I/O (image IDs, `env_file` contents, the home directory).

use serde_json::{json, Map, Value};

use crate::model::{Attachment, FileObject, Project, Service};
use crate::resources::{NetworkDef, VolumeDef};
use crate::ComposeError;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const VERSION: &str = "com.docker.compose.version";
pub const REPLACE: &str = "com.docker.compose.replace";
pub const SLUG: &str = "com.docker.compose.slug";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// The version of the Compose tooling berth speaks for, written on what it creates.
pub const COMPOSE_VERSION: &str = "2.29.0";

/// What every container of a project is labelled with besides its service's own labels.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub working_dir: String,
    /// The project's files, as `com.docker.compose.project.config_files` lists them.
    pub config_files: Vec<String>,
    /// Where `~` in a bind source leads.
    pub home: String,
}

/// One container of a service.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    pub number: u32,
    /// A `run` container: its slug (the random part of its name).
    pub oneoff: Option<String>,
    /// The image's ID, labelled so that a new image recreates the container.
    pub image_id: String,
    /// The environment, resolved (`env_file`s, then `environment`).
    pub env: Vec<String>,
    /// The ID of the container this one replaces.
    pub replaces: Option<String>,
    pub config_hash: String,
    /// The container ID of each service this one shares namespaces or volumes with.
    pub peers: Vec<(String, String)>,
}

/// The image a service runs: its `image`, else the one its build makes (`<project>-<service>`).
pub fn image_name(project: &str, s: &Service) -> String {
    s.image.clone().unwrap_or_else(|| format!("{project}-{}", s.name))
}

/// The networks a service is on, by key, in the order Compose connects them (by name); the
/// project's `default` for a service that names none and has no `network_mode`.
pub fn service_networks(s: &Service) -> Vec<(String, Attachment)> {
    if s.network_mode.is_some() {
        return Vec::new();
    }
    if s.networks.is_empty() {
        return vec![("default".to_string(), Attachment::default())];
    }
    let mut n = s.networks.clone();
    n.sort_by(|a, b| a.0.cmp(&b.0));
    n
}

/// Whether any service of the project is on its `default` network.
pub fn uses_default_network(p: &Project) -> bool {
    p.services.iter().any(|s| service_networks(s).iter().any(|(k, _)| k == "default"))
}

fn labels_object(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// `/networks/create` for a network the project makes.
pub fn network_body(project: &str, n: &NetworkDef) -> Value {
    let mut labels = n.labels.clone();
    labels.push((NETWORK.into(), n.key.clone()));
    labels.push((PROJECT.into(), project.into()));
    labels.push((VERSION.into(), COMPOSE_VERSION.into()));
    let config: Vec<Value> = n
        .subnets
        .iter()
        .map(|s| {
            let mut c = Map::new();
            for (k, v) in [("Subnet", &s.subnet), ("Gateway", &s.gateway), ("IPRange", &s.ip_range)] {
                if let Some(v) = v {
                    c.insert(k.into(), json!(v));
                }
            }
            Value::Object(c)
        })
        .collect();
    json!({
        "Name": n.name,
        "CheckDuplicate": true,
        "Driver": n.driver.clone().unwrap_or_else(|| "bridge".into()),
        "Options": labels_object(n.driver_opts.clone()),
        "Internal": n.internal,
        "Attachable": n.attachable,
        "EnableIPv6": n.enable_ipv6,
        "IPAM": {"Driver": n.ipam_driver.clone().unwrap_or_else(|| "default".into()), "Config": config},
        "Labels": labels_object(labels),
    })
}

/// `/volumes/create` for a volume the project makes.
pub fn volume_body(project: &str, v: &VolumeDef) -> Value {
    let mut labels = v.labels.clone();
    labels.push((PROJECT.into(), project.into()));
    labels.push((VERSION.into(), COMPOSE_VERSION.into()));
    labels.push((VOLUME.into(), v.key.clone()));
    json!({
        "Name": v.name,
        "Driver": v.driver.clone().unwrap_or_else(|| "local".into()),
        "DriverOpts": labels_object(v.driver_opts.clone()),
        "Labels": labels_object(labels),
    })
}

/// The container that `service:<name>` (in `network_mode`, `ipc`, `pid`, `volumes_from`)
/// means: the service's first replica, by ID when the caller knows it (so that a container
/// made again is told from the one a sharer joined), else by name.
fn first_of(project: &Project, service: &str, peers: &[(String, String)]) -> String {
    if let Some((_, id)) = peers.iter().find(|(s, _)| s == service) {
        return id.clone();
    }
    match project.services.iter().find(|s| s.name == service) {
        Some(s) => crate::plan::container_name(&project.name, s, 1, false),
        None => format!("{}-{service}-1", project.name),
    }
}

/// `service:x` as `container:<x's first container>`; anything else as given.
fn shared_namespace(project: &Project, mode: &str, peers: &[(String, String)]) -> String {
    match mode.strip_prefix("service:") {
        Some(x) => format!("container:{}", first_of(project, x, peers)),
        None => mode.to_string(),
    }
}

fn nanos(d: &Option<String>, path: &str, s: &Service) -> Result<Option<i64>, ComposeError> {
    match d {
        None => Ok(None),
        Some(t) if t == "0" => Ok(Some(0)),
        Some(t) => berth_api::time::parse_duration(t).map(Some).ok_or_else(|| ComposeError::Project {
            why: format!("service {:?}: {path} {t:?} is not a duration (like 30s or 1m30s)", s.name),
        }),
    }
}

/// The `com.docker.compose.depends_on` label: `service:condition:restart`, comma-joined.
pub fn depends_on_label(s: &Service) -> String {
    s.depends_on
        .iter()
        .map(|(n, d)| format!("{n}:{}:{}", d.condition, d.restart))
        .collect::<Vec<_>>()
        .join(",")
}

/// The endpoint settings of a replica on one of its networks: the service's name and its
/// aliases, its fixed addresses.
pub fn endpoint(s: &Service, a: &Attachment, oneoff: bool) -> Value {
    let mut aliases = if oneoff { Vec::new() } else { vec![s.name.clone()] };
    aliases.extend(a.aliases.iter().cloned());
    let mut e = json!({ "Aliases": aliases });
    let mut ipam = Map::new();
    if let Some(ip) = &a.ipv4_address {
        ipam.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip) = &a.ipv6_address {
        ipam.insert("IPv6Address".into(), json!(ip));
    }
    if !ipam.is_empty() {
        e["IPAMConfig"] = Value::Object(ipam);
    }
    e
}

/// The engine name of the project's network `key`.
pub fn network_name<'a>(nets: &'a [NetworkDef], key: &str) -> Option<&'a str> {
    nets.iter().find(|n| n.key == key).map(|n| n.name.as_str())
}

/// `/containers/create` for replica `r` of service `s`: the body, and the networks (engine
/// names and endpoint settings) to connect it to after the first, which the body carries.
pub fn container_body(
    p: &Project,
    nets: &[NetworkDef],
    vols: &[VolumeDef],
    s: &Service,
    r: &Replica,
    c: &Context,
) -> Result<(Value, Vec<(String, Value)>), ComposeError> {
    let undefined = |what: &str, name: &str| ComposeError::Project {
        why: format!("service {:?} refers to undefined {what} {name}: declare it at the top level", s.name),
    };
    let mut labels: Vec<(String, String)> = s.labels.clone();
    labels.extend([
        (CONFIG_HASH.to_string(), r.config_hash.clone()),
        (NUMBER.into(), r.number.to_string()),
        (DEPENDS_ON.into(), depends_on_label(s)),
        (IMAGE.into(), r.image_id.clone()),
        (ONEOFF.into(), if r.oneoff.is_some() { "True" } else { "False" }.into()),
        (PROJECT.into(), p.name.clone()),
        (CONFIG_FILES.into(), c.config_files.join(",")),
        (WORKING_DIR.into(), c.working_dir.clone()),
        (SERVICE.into(), s.name.clone()),
        (VERSION.into(), COMPOSE_VERSION.into()),
    ]);
    if let Some(slug) = &r.oneoff {
        labels.push((SLUG.into(), slug.clone()));
    }
    if let Some(old) = &r.replaces {
        labels.push((REPLACE.into(), old.clone()));
    }
    let mut exposed = Map::new();
    let mut bindings: Map<String, Value> = Map::new();
    for e in &s.expose {
        let key = if e.contains('/') { e.clone() } else { format!("{e}/tcp") };
        exposed.insert(key, json!({}));
    }
    for port in &s.ports {
        let key = format!("{}/{}", port.target, port.protocol);
        exposed.insert(key.clone(), json!({}));
        let b = json!({"HostIp": port.host_ip.clone().unwrap_or_default(), "HostPort": port.published.clone().unwrap_or_default()});
        bindings.entry(key).or_insert_with(|| json!([])).as_array_mut().expect("an array").push(b);
    }
    let mut mounts = Vec::new();
    let mut binds = Vec::new();
    for v in &s.volumes {
        match v.kind {
            "bind" => {
                let src = v.source.clone().unwrap_or_default();
                let src = match src.strip_prefix('~') {
                    Some(rest) => format!("{}{rest}", c.home),
                    None => src,
                };
                let mut opts = vec![if v.read_only { "ro" } else { "rw" }.to_string()];
                opts.extend(v.selinux.clone());
                opts.extend(v.propagation.clone());
                binds.push(format!("{src}:{}:{}", v.target, opts.join(",")));
            }
            "volume" => {
                let source = match &v.source {
                    Some(key) => vols
                        .iter()
                        .find(|d| &d.key == key)
                        .map(|d| d.name.clone())
                        .ok_or_else(|| undefined("volume", key))?,
                    None => String::new(),
                };
                let mut m =
                    json!({"Type": "volume", "Source": source, "Target": v.target, "ReadOnly": v.read_only});
                if v.nocopy {
                    m["VolumeOptions"] = json!({"NoCopy": true});
                }
                mounts.push(m);
            }
            "tmpfs" => mounts.push(json!({"Type": "tmpfs", "Target": v.target, "ReadOnly": v.read_only})),
            other => {
                return Err(ComposeError::Project {
                    why: format!("service {:?}: volumes of type {other} are not supported by berth", s.name),
                })
            }
        }
    }
    for (list, kind) in [(&s.secrets, "secret"), (&s.configs, "config")] {
        let declared = if kind == "secret" { &p.secrets } else { &p.configs };
        for m in list.iter() {
            match declared.iter().find(|(n, _)| *n == m.source) {
                // A file is bound, unless its owner or mode is set: then it is copied in.
                Some((_, FileObject::File(path))) if !m.sets_owner_or_mode() => {
                    binds.push(format!("{path}:{}:ro", m.target))
                }
                Some((_, FileObject::External(name))) => {
                    return Err(ComposeError::Project {
                        why: format!(
                            "service {:?}: {kind} {name} is external, which only a swarm provides: give it a file, an environment variable or content",
                            s.name
                        ),
                    })
                }
                Some(_) => {} // copied in after create: see `file_copies`
                None => return Err(undefined(kind, &m.source)),
            }
        }
    }
    let networks = service_networks(s);
    let mut attached = Vec::new();
    for (key, a) in &networks {
        let name = network_name(nets, key).ok_or_else(|| undefined("network", key))?;
        attached.push((name.to_string(), endpoint(s, a, r.oneoff.is_some())));
    }
    let network_mode = match &s.network_mode {
        Some(m) => shared_namespace(p, m, &r.peers),
        None => attached.first().map(|(n, _)| n.clone()).unwrap_or_else(|| "none".into()),
    };
    let restart = match s.restart.as_deref().unwrap_or("no") {
        r if r.starts_with("on-failure") => {
            let n = r.strip_prefix("on-failure:").and_then(|n| n.parse::<i64>().ok()).unwrap_or(0);
            json!({"Name": "on-failure", "MaximumRetryCount": n})
        }
        r => json!({"Name": r}),
    };
    let mut host = json!({
        "Binds": binds,
        "Mounts": mounts,
        "PortBindings": bindings,
        "NetworkMode": network_mode,
        "RestartPolicy": restart,
        "CapAdd": s.cap_add,
        "CapDrop": s.cap_drop,
        "Privileged": s.privileged,
        "ReadonlyRootfs": s.read_only,
        "ExtraHosts": s.extra_hosts,
        "Dns": s.dns,
        "SecurityOpt": s.security_opt,
        "GroupAdd": s.group_add,
        "VolumesFrom": s.volumes_from.iter().map(|v| match v.strip_prefix("container:") {
            Some(c) => c.to_string(),
            None => {
                let (svc, mode) = v.split_once(':').map_or((v.as_str(), None), |(a, b)| (a, Some(b)));
                let name = first_of(p, svc, &r.peers);
                mode.map_or(name.clone(), |m| format!("{name}:{m}"))
            }
        }).collect::<Vec<_>>(),
        "Sysctls": labels_object(s.sysctls.clone()),
        "Ulimits": s.ulimits.iter().map(|(n, soft, hard)| json!({"Name": n, "Soft": soft, "Hard": hard})).collect::<Vec<_>>(),
    });
    if s.init {
        host["Init"] = json!(true);
    }
    for (field, v) in &s.host {
        host[field.as_str()] = v.clone();
    }
    if !s.tmpfs.is_empty() {
        host["Tmpfs"] = Value::Object(
            s.tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((path, opts)) => (path.to_string(), json!(opts)),
                    None => (t.clone(), json!("")),
                })
                .collect(),
        );
    }
    if !s.devices.is_empty() {
        host["Devices"] = s
            .devices
            .iter()
            .map(|d| {
                let mut parts = d.splitn(3, ':');
                let src = parts.next().unwrap_or_default();
                let dst = parts.next().unwrap_or(src);
                let perms = parts.next().unwrap_or("rwm");
                json!({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms})
            })
            .collect();
    }
    for (key, v) in [
        ("Memory", s.mem_limit),
        ("MemoryReservation", s.mem_reservation),
        ("PidsLimit", s.pids_limit),
        ("ShmSize", s.shm_size),
    ] {
        if let Some(v) = v {
            host[key] = json!(v);
        }
    }
    if let Some(cpus) = s.cpus.as_deref().and_then(|c| c.parse::<f64>().ok()) {
        host["NanoCpus"] = json!((cpus * 1e9) as i64);
    }
    if let Some(ipc) = &s.ipc {
        host["IpcMode"] = json!(shared_namespace(p, ipc, &r.peers));
    }
    if let Some(pid) = &s.pid {
        host["PidMode"] = json!(shared_namespace(p, pid, &r.peers));
    }
    if let Some((driver, options)) = &s.logging {
        host["LogConfig"] = json!({"Type": driver, "Config": labels_object(options.clone())});
    }
    let mut body = json!({
        "Image": image_name(&p.name, s),
        "Env": r.env,
        "Labels": labels_object(labels),
        "Tty": s.tty,
        "OpenStdin": s.stdin_open,
        "AttachStdin": false,
        "AttachStdout": true,
        "AttachStderr": true,
        "ExposedPorts": exposed,
        "HostConfig": host,
    });
    for (key, v) in [
        ("Hostname", &s.hostname),
        ("Domainname", &s.domainname),
        ("WorkingDir", &s.working_dir),
        ("User", &s.user),
        ("StopSignal", &s.stop_signal),
    ] {
        if let Some(v) = v {
            body[key] = json!(v);
        }
    }
    if let Some(cmd) = &s.command {
        body["Cmd"] = json!(cmd);
    }
    if let Some(ep) = &s.entrypoint {
        body["Entrypoint"] = json!(ep);
    }
    if let Some(grace) = nanos(&s.stop_grace_period, "stop_grace_period", s)? {
        body["StopTimeout"] = json!(grace / 1_000_000_000);
    }
    if let Some(h) = &s.healthcheck {
        let mut hc = json!({"Test": h.test});
        for (key, d, path) in [
            ("Interval", &h.interval, "healthcheck.interval"),
            ("Timeout", &h.timeout, "healthcheck.timeout"),
            ("StartPeriod", &h.start_period, "healthcheck.start_period"),
        ] {
            if let Some(n) = nanos(d, path, s)? {
                hc[key] = json!(n);
            }
        }
        if let Some(n) = h.retries {
            hc["Retries"] = json!(n);
        }
        body["Healthcheck"] = hc;
    }
    let mut rest = attached.into_iter();
    if let Some((first, e)) = rest.next() {
        body["NetworkingConfig"] = json!({"EndpointsConfig": {first: e}});
    }
    Ok((body, rest.collect()))
}

/// A file to copy into a container before it starts: a secret or config given by an
/// environment variable or inline content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCopy {
    pub target: String,
    pub content: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// The secrets and configs of `s` that are copied in rather than bound: their content read
/// from the environment (`lookup`), given inline, or read from a file (`read`) whose owner
/// or mode the service sets.
pub fn file_copies(
    p: &Project,
    s: &Service,
    lookup: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<FileCopy>, ComposeError> {
    let mut out = Vec::new();
    for (list, declared, default_mode) in [(&s.secrets, &p.secrets, 0o444), (&s.configs, &p.configs, 0o444)] {
        for m in list.iter() {
            let content = match declared.iter().find(|(n, _)| *n == m.source).map(|(_, o)| o) {
                Some(FileObject::Content(c)) => c.clone().into_bytes(),
                Some(FileObject::Environment(var)) => lookup(var)
                    .ok_or_else(|| ComposeError::Project {
                        why: format!(
                            "environment variable {var:?} of {:?} is not set: set it or use a file",
                            m.source
                        ),
                    })?
                    .into_bytes(),
                Some(FileObject::File(path)) if m.sets_owner_or_mode() => read(path).map_err(|e| {
                    ComposeError::Project { why: format!("reading {path} for {:?}: {e}", m.source) }
                })?,
                _ => continue,
            };
            let id = |v: &Option<String>, what: &str| -> Result<u32, ComposeError> {
                v.as_deref().map_or(Ok(0), |t| {
                    t.parse().map_err(|_| ComposeError::Project {
                        why: format!("service {:?}: {what} {t:?} of {:?} is not a number", s.name, m.source),
                    })
                })
            };
            out.push(FileCopy {
                target: m.target.clone(),
                content,
                uid: id(&m.uid, "uid")?,
                gid: id(&m.gid, "gid")?,
                mode: m.mode.unwrap_or(default_mode),
            });
        }
    }
    Ok(out)
}

/// A service's environment: its `env_file`s' variables (`files`, in order), then its
/// `environment`, where a name without a value takes the caller's (`lookup`) or is left out.
pub fn environment(
    s: &Service,
    files: &[(String, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| match vars.iter_mut().find(|(n, _)| *n == k) {
        Some(slot) => slot.1 = v,
        None => vars.push((k, v)),
    };
    for (k, v) in files {
        set(k.clone(), v.clone());
    }
    for (k, v) in &s.environment {
        if let Some(v) = v.clone().or_else(|| lookup(k)) {
            set(k.clone(), v);
        }
    }
    vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
