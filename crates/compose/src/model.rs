//! The typed project, decoded from the loaded tree (merged, checked, its profiles applied):
//! every value in its one canonical form (ports and volumes long, `environment` and `labels`
//! as pairs, `depends_on` and service `networks` as mappings, commands as words, `build` as a
//! mapping), relative paths (build contexts, bind sources, `env_file`s, secret and config
//! files) resolved against the project directory. The planner works on this.

use crate::short::{parse_port, parse_volume, Port, Volume};
use crate::tree::{Node, Value};
use crate::values::{pairs, shell_split};
use crate::ComposeError;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Project {
    pub name: String,
    pub services: Vec<Service>,
    /// Networks, volumes, secrets and configs by name, as the file declares them.
    pub networks: Vec<(String, Node)>,
    pub volumes: Vec<(String, Node)>,
    pub secrets: Vec<(String, FileObject)>,
    pub configs: Vec<(String, FileObject)>,
}

/// A secret's or config's content: a file, an environment variable, or inline text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileObject {
    File(String),
    Environment(String),
    Content(String),
    External(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Build {
    pub context: String,
    pub dockerfile: Option<String>,
    pub args: Vec<(String, Option<String>)>,
    pub target: Option<String>,
    pub labels: Vec<(String, Option<String>)>,
    pub cache_from: Vec<String>,
    pub network: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dependency {
    pub condition: String,
    pub required: bool,
    pub restart: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Attachment {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Healthcheck {
    /// Docker's form: `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", line]`.
    pub test: Vec<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileMount {
    pub source: String,
    pub target: String,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    pub build: Option<Build>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub environment: Vec<(String, Option<String>)>,
    pub env_files: Vec<(String, bool)>,
    pub labels: Vec<(String, String)>,
    pub ports: Vec<Port>,
    pub expose: Vec<String>,
    pub volumes: Vec<Volume>,
    pub networks: Vec<(String, Attachment)>,
    pub network_mode: Option<String>,
    pub depends_on: Vec<(String, Dependency)>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
    pub container_name: Option<String>,
    pub hostname: Option<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    pub privileged: bool,
    pub read_only: bool,
    pub init: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub dns: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub profiles: Vec<String>,
    pub replicas: u64,
    pub secrets: Vec<FileMount>,
    pub configs: Vec<FileMount>,
    /// `name → (soft, hard)`.
    pub ulimits: Vec<(String, i64, i64)>,
    pub sysctls: Vec<(String, String)>,
    /// The driver and its options.
    pub logging: Option<(String, Vec<(String, String)>)>,
    pub mem_limit: Option<i64>,
    pub mem_reservation: Option<i64>,
    /// CPUs as a decimal (`0.5`), kept as written so the model stays `Eq`.
    pub cpus: Option<String>,
    pub pids_limit: Option<i64>,
    pub shm_size: Option<i64>,
    pub security_opt: Vec<String>,
    pub ipc: Option<String>,
    pub pid: Option<String>,
    pub tmpfs: Vec<String>,
    pub volumes_from: Vec<String>,
    pub links: Vec<String>,
    pub devices: Vec<String>,
    pub group_add: Vec<String>,
    pub domainname: Option<String>,
    pub pull_policy: Option<String>,
    /// `develop.watch`: what `watch` does when files change.
    pub watch: Vec<WatchRule>,
    /// The keys that map one to one onto a field of the engine's `HostConfig` (see
    /// [`HOST_FIELDS`]): the field and its value.
    pub host: Vec<(String, serde_json::Value)>,
    /// `platform`: the image's platform (`linux/arm64`).
    pub platform: Option<String>,
    /// `attach: false` leaves the service's output out of a foreground `up`.
    pub attach: bool,
}

/// How a [`HOST_FIELDS`] value is read.
#[derive(Debug, Clone, Copy)]
enum Form {
    Text,
    Int,
    Bool,
    Size,
    List,
}

/// Service keys that are one field of `HostConfig` each, as docker compose passes them.
const HOST_FIELDS: &[(&str, &str, Form)] = &[
    ("dns_search", "DnsSearch", Form::List),
    ("dns_opt", "DnsOptions", Form::List),
    ("oom_score_adj", "OomScoreAdj", Form::Int),
    ("oom_kill_disable", "OomKillDisable", Form::Bool),
    ("cpu_shares", "CpuShares", Form::Int),
    ("cpu_quota", "CpuQuota", Form::Int),
    ("cpu_period", "CpuPeriod", Form::Int),
    ("cpuset", "CpusetCpus", Form::Text),
    ("memswap_limit", "MemorySwap", Form::Size),
    ("uts", "UTSMode", Form::Text),
    ("runtime", "Runtime", Form::Text),
    ("cgroup", "CgroupnsMode", Form::Text),
    ("cgroup_parent", "CgroupParent", Form::Text),
];

fn host_fields(s: &Node, name: &str) -> Result<Vec<(String, serde_json::Value)>, ComposeError> {
    let mut out = Vec::new();
    for (key, field, form) in HOST_FIELDS {
        let Some(n) = s.get(key).filter(|n| !n.is_null()) else { continue };
        let path = format!("services.{name}.{key}");
        let v = match form {
            Form::Text => serde_json::Value::from(n.text().unwrap_or_default()),
            Form::Int => {
                let t = n.text().unwrap_or_default();
                let i: i64 =
                    t.parse().map_err(|_| invalid(n, &path, format!("{t:?} is not a whole number")))?;
                i.into()
            }
            Form::Bool => boolean(Some(n), &path)?.into(),
            // `-1`: unlimited swap, as Docker takes it.
            Form::Size if n.text() == Some("-1") => (-1i64).into(),
            Form::Size => size(Some(n), &path)?.unwrap_or(0).into(),
            Form::List => words(Some(n)).into(),
        };
        out.push((field.to_string(), v));
    }
    Ok(out)
}

/// One `develop.watch` rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct WatchRule {
    /// The watched path on the host, absolute.
    pub path: String,
    /// `sync`, `rebuild`, `restart`, `sync+restart` or `sync+exec`.
    pub action: String,
    /// Where a sync puts the files in the container.
    pub target: Option<String>,
    /// `.dockerignore`-style patterns, relative to `path`.
    pub ignore: Vec<String>,
    pub initial_sync: bool,
    /// The command of `sync+exec`.
    pub exec: Option<Vec<String>>,
}

impl FileMount {
    /// Whether the service sets the file's owner or mode (which a bind mount cannot honour).
    pub fn sets_owner_or_mode(&self) -> bool {
        self.uid.is_some() || self.gid.is_some() || self.mode.is_some()
    }
}

fn invalid(n: &Node, path: &str, why: impl Into<String>) -> ComposeError {
    ComposeError::Invalid { line: n.line, col: n.col, path: path.to_string(), why: why.into() }
}

pub(crate) fn text(n: Option<&Node>) -> Option<String> {
    n.filter(|n| !n.is_null()).and_then(|n| n.text().map(String::from))
}

fn words(n: Option<&Node>) -> Vec<String> {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(|i| i.text().map(String::from)).collect(),
        Some(Value::Scalar { text, .. }) if !text.is_empty() => vec![text.clone()],
        _ => Vec::new(),
    }
}

/// A boolean as Compose reads one after substitution.
pub(crate) fn boolean(n: Option<&Node>, path: &str) -> Result<bool, ComposeError> {
    let Some(n) = n.filter(|n| !n.is_null()) else { return Ok(false) };
    match n.text().unwrap_or_default().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "y" | "on" => Ok(true),
        "false" | "0" | "f" | "no" | "n" | "off" => Ok(false),
        other => Err(invalid(n, path, format!("{other:?} is not a boolean"))),
    }
}

/// A command: words as given, or a string split as Compose splits it.
fn command(n: Option<&Node>, path: &str) -> Result<Option<Vec<String>>, ComposeError> {
    let Some(n) = n.filter(|n| !n.is_null()) else { return Ok(None) };
    match &n.value {
        Value::Seq(items) => Ok(Some(items.iter().filter_map(|i| i.text().map(String::from)).collect())),
        Value::Scalar { text, .. } => {
            shell_split(text).map(Some).map_err(|e| invalid(n, path, e.to_string()))
        }
        Value::Map(_) => Err(invalid(n, path, "a command is a string or a list")),
    }
}

/// `rel` resolved against `dir` when it is relative (`~` and absolute paths kept).
fn resolve(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') || rel.starts_with('~') || rel.contains("://") || dir.is_empty() {
        return rel.to_string();
    }
    crate::extends::join(dir, rel)
}

/// Decodes the loaded tree of project `name`, its relative paths against `dir`.
pub fn decode(tree: &Node, name: &str, dir: &str) -> Result<Project, ComposeError> {
    let mut project = Project { name: name.to_string(), ..Project::default() };
    let entries = |key: &str| match tree.get(key).map(|n| &n.value) {
        Some(Value::Map(e)) => e.clone(),
        _ => Vec::new(),
    };
    for (service, node) in entries("services") {
        project.services.push(decode_service(&service, &node, dir)?);
    }
    project.networks = entries("networks");
    project.volumes = entries("volumes");
    for (key, target) in [("secrets", &mut project.secrets), ("configs", &mut project.configs)] {
        for (item, node) in entries(key) {
            let source = if let Some(f) = text(node.get("file")) {
                FileObject::File(resolve(dir, &f))
            } else if let Some(e) = text(node.get("environment")) {
                FileObject::Environment(e)
            } else if let Some(c) = text(node.get("content")) {
                FileObject::Content(c)
            } else if boolean(node.get("external"), &format!("{key}.{item}.external"))? {
                FileObject::External(text(node.get("name")).unwrap_or_else(|| item.clone()))
            } else {
                return Err(invalid(
                    &node,
                    &format!("{key}.{item}"),
                    "give a file, an environment variable or content",
                ));
            };
            target.push((item, source));
        }
    }
    Ok(project)
}

fn decode_service(name: &str, s: &Node, dir: &str) -> Result<Service, ComposeError> {
    let at = |key: &str| format!("services.{name}.{key}");
    let mut out = Service {
        name: name.to_string(),
        image: text(s.get("image")),
        command: command(s.get("command"), &at("command"))?,
        entrypoint: command(s.get("entrypoint"), &at("entrypoint"))?,
        environment: s.get("environment").map(pairs).unwrap_or_default(),
        labels: s
            .get("labels")
            .map(pairs)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
        expose: words(s.get("expose")),
        network_mode: text(s.get("network_mode")),
        restart: text(s.get("restart")),
        container_name: text(s.get("container_name")),
        hostname: text(s.get("hostname")),
        working_dir: text(s.get("working_dir")),
        user: text(s.get("user")),
        stop_signal: text(s.get("stop_signal")),
        stop_grace_period: text(s.get("stop_grace_period")),
        tty: boolean(s.get("tty"), &at("tty"))?,
        stdin_open: boolean(s.get("stdin_open"), &at("stdin_open"))?,
        privileged: boolean(s.get("privileged"), &at("privileged"))?,
        read_only: boolean(s.get("read_only"), &at("read_only"))?,
        init: boolean(s.get("init"), &at("init"))?,
        cap_add: words(s.get("cap_add")),
        cap_drop: words(s.get("cap_drop")),
        dns: words(s.get("dns")),
        profiles: words(s.get("profiles")),
        ..Service::default()
    };
    out.build = match s.get("build") {
        None => None,
        Some(b) if b.is_null() => None,
        Some(b) => Some(decode_build(b, dir)),
    };
    out.env_files = match s.get("env_file").map(|e| &e.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .map(|i| match &i.value {
                Value::Map(_) => Ok((
                    resolve(dir, &text(i.get("path")).unwrap_or_default()),
                    i.get("required").map_or(Ok(true), |r| boolean(Some(r), &at("env_file")))?,
                )),
                _ => Ok((resolve(dir, i.text().unwrap_or_default()), true)),
            })
            .collect::<Result<_, ComposeError>>()?,
        Some(Value::Scalar { text, .. }) => vec![(resolve(dir, text), true)],
        _ => Vec::new(),
    };
    out.extra_hosts = match s.get("extra_hosts") {
        Some(n @ Node { value: Value::Map(_), .. }) => {
            pairs(n).into_iter().map(|(h, ip)| format!("{h}:{}", ip.unwrap_or_default())).collect()
        }
        other => words(other).into_iter().map(|h| h.replacen('=', ":", 1)).collect(),
    };
    if let Some(Value::Seq(ports)) = s.get("ports").map(|p| &p.value) {
        for p in ports {
            out.ports.extend(decode_port(p, &at("ports"))?);
        }
    }
    if let Some(Value::Seq(volumes)) = s.get("volumes").map(|v| &v.value) {
        for v in volumes {
            out.volumes.push(decode_volume(v, dir, &at("volumes"))?);
        }
    }
    out.networks = match s.get("networks") {
        None => Vec::new(),
        Some(n) => match &n.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|i| i.text())
                .map(|i| (i.to_string(), Attachment::default()))
                .collect(),
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| {
                    let a = Attachment {
                        aliases: words(v.get("aliases")),
                        ipv4_address: text(v.get("ipv4_address")),
                        ipv6_address: text(v.get("ipv6_address")),
                    };
                    (k.clone(), a)
                })
                .collect(),
            Value::Scalar { .. } => Vec::new(),
        },
    };
    out.depends_on = match s.get("depends_on").map(|d| &d.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.text())
            .map(|i| {
                (
                    i.to_string(),
                    Dependency { condition: "service_started".into(), required: true, restart: false },
                )
            })
            .collect(),
        Some(Value::Map(entries)) => entries
            .iter()
            .map(|(k, v)| {
                let path = at("depends_on");
                Ok((
                    k.clone(),
                    Dependency {
                        condition: text(v.get("condition")).unwrap_or_else(|| "service_started".into()),
                        required: v.get("required").map_or(Ok(true), |r| boolean(Some(r), &path))?,
                        restart: boolean(v.get("restart"), &path)?,
                    },
                ))
            })
            .collect::<Result<_, ComposeError>>()?,
        _ => Vec::new(),
    };
    decode_limits(s, &mut out, name)?;
    out.host = host_fields(s, name)?;
    out.platform = text(s.get("platform"));
    out.attach = s.get("attach").map_or(Ok(true), |n| boolean(Some(n), &at("attach")))?;
    // `deploy.restart_policy` stands for `restart` when that is not given, as Compose reads it.
    if out.restart.is_none() {
        if let Some(p) = s.get("deploy").and_then(|d| d.get("restart_policy")) {
            out.restart = match text(p.get("condition")).as_deref() {
                Some("none") => Some("no".into()),
                Some("on-failure") => Some(match text(p.get("max_attempts")) {
                    Some(n) => format!("on-failure:{n}"),
                    None => "on-failure".into(),
                }),
                _ => Some("always".into()),
            };
        }
    }
    if let Some(Value::Seq(rules)) = s.get("develop").and_then(|d| d.get("watch")).map(|w| &w.value) {
        for r in rules {
            let path = at("develop.watch");
            out.watch.push(WatchRule {
                path: resolve(dir, &text(r.get("path")).unwrap_or_default()),
                action: text(r.get("action")).unwrap_or_default(),
                target: text(r.get("target")),
                ignore: words(r.get("ignore")),
                initial_sync: boolean(r.get("initial_sync"), &path)?,
                exec: r.get("exec").map(|e| command(e.get("command"), &path)).transpose()?.flatten(),
            });
        }
    }
    out.healthcheck = s.get("healthcheck").map(|h| decode_healthcheck(h, &at("healthcheck"))).transpose()?;
    let replicas = s.get("deploy").and_then(|d| d.get("replicas")).or(s.get("scale"));
    out.replicas = match replicas {
        None => 1,
        Some(r) => r
            .text()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| invalid(r, &at("deploy.replicas"), "give a number of replicas"))?,
    };
    for (key, default_dir, target) in
        [("secrets", "/run/secrets", &mut out.secrets), ("configs", "", &mut out.configs)]
    {
        if let Some(Value::Seq(items)) = s.get(key).map(|v| &v.value) {
            for i in items {
                let source = text(i.get("source")).or_else(|| i.text().map(String::from)).unwrap_or_default();
                let target_path = text(i.get("target")).unwrap_or_else(|| format!("{default_dir}/{source}"));
                let mode = match text(i.get("mode")) {
                    None => None,
                    Some(m) => {
                        Some(u32::from_str_radix(m.trim_start_matches("0o"), 8).map_err(|_| {
                            invalid(i, &at(key), format!("mode {m:?} is not an octal number"))
                        })?)
                    }
                };
                target.push(FileMount {
                    source,
                    target: target_path,
                    uid: text(i.get("uid")),
                    gid: text(i.get("gid")),
                    mode,
                });
            }
        }
    }
    Ok(out)
}

/// Sizes as Docker reads them (`512m`, `1g`, a number of bytes).
fn size(n: Option<&Node>, path: &str) -> Result<Option<i64>, ComposeError> {
    let Some(n) = n.filter(|n| !n.is_null()) else { return Ok(None) };
    let t = n.text().unwrap_or_default();
    berth_api::units::ram_in_bytes(t).map(Some).ok_or_else(|| {
        invalid(n, path, format!("{t:?} is not a size: give bytes or a number with b, k, m or g"))
    })
}

/// The keys that limit and shape the container's process: ulimits, sysctls, logging,
/// resources (`deploy.resources` or the older top-level keys), namespaces shared.
fn decode_limits(s: &Node, out: &mut Service, name: &str) -> Result<(), ComposeError> {
    let at = |key: &str| format!("services.{name}.{key}");
    if let Some(Value::Map(entries)) = s.get("ulimits").map(|u| &u.value) {
        for (k, v) in entries {
            let num = |n: Option<&Node>| -> Result<i64, ComposeError> {
                let n = n.ok_or_else(|| invalid(v, &at("ulimits"), format!("{k} needs soft and hard")))?;
                n.text()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| invalid(n, &at("ulimits"), format!("{k} is not a number")))
            };
            let (soft, hard) = match &v.value {
                Value::Map(_) => (num(v.get("soft"))?, num(v.get("hard"))?),
                _ => (num(Some(v))?, num(Some(v))?),
            };
            out.ulimits.push((k.clone(), soft, hard));
        }
    }
    out.sysctls = s
        .get("sysctls")
        .map(pairs)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    out.logging = s.get("logging").and_then(|l| {
        let driver = text(l.get("driver")).unwrap_or_default();
        let options = l.get("options").map(pairs).unwrap_or_default();
        let options = options.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
        (!driver.is_empty()).then_some((driver, options))
    });
    let resources = s.get("deploy").and_then(|d| d.get("resources"));
    let limits = resources.and_then(|r| r.get("limits"));
    let reservations = resources.and_then(|r| r.get("reservations"));
    out.mem_limit = size(limits.and_then(|l| l.get("memory")).or(s.get("mem_limit")), &at("mem_limit"))?;
    out.mem_reservation = size(
        reservations.and_then(|l| l.get("memory")).or(s.get("mem_reservation")),
        &at("mem_reservation"),
    )?;
    out.cpus = text(limits.and_then(|l| l.get("cpus")).or(s.get("cpus")));
    if let Some(c) = &out.cpus {
        if c.parse::<f64>().map_or(true, |f| f < 0.0) {
            return Err(invalid(s, &at("cpus"), format!("{c:?} is not a number of CPUs")));
        }
    }
    out.pids_limit = match text(limits.and_then(|l| l.get("pids")).or(s.get("pids_limit"))) {
        None => None,
        Some(p) => {
            Some(p.parse().map_err(|_| invalid(s, &at("pids_limit"), format!("{p:?} is not a number")))?)
        }
    };
    out.shm_size = size(s.get("shm_size"), &at("shm_size"))?;
    out.security_opt = words(s.get("security_opt"));
    out.ipc = text(s.get("ipc"));
    out.pid = text(s.get("pid"));
    out.tmpfs = words(s.get("tmpfs"));
    out.volumes_from = words(s.get("volumes_from"));
    out.links = words(s.get("links"));
    out.devices = match s.get("devices").map(|d| &d.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .map(|i| match i.get("source") {
                Some(src) => {
                    let src = src.text().unwrap_or_default().to_string();
                    let target = text(i.get("target")).unwrap_or_else(|| src.clone());
                    let perms = text(i.get("permissions")).unwrap_or_else(|| "rwm".into());
                    format!("{src}:{target}:{perms}")
                }
                None => i.text().unwrap_or_default().to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    out.group_add = words(s.get("group_add"));
    out.domainname = text(s.get("domainname"));
    out.pull_policy = text(s.get("pull_policy"));
    Ok(())
}

/// The service keys the typed model carries (some only in part: see [`unsupported`]).
const HONOURED: &[&str] = &[
    "dns_search",
    "dns_opt",
    "oom_score_adj",
    "oom_kill_disable",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "cpuset",
    "memswap_limit",
    "uts",
    "runtime",
    "platform",
    "attach",
    "cgroup",
    "cgroup_parent",
    "build",
    "cap_add",
    "cap_drop",
    "command",
    "configs",
    "container_name",
    "cpus",
    "depends_on",
    "deploy",
    "develop",
    "devices",
    "dns",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "extra_hosts",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "labels",
    "links",
    "logging",
    "mem_limit",
    "mem_reservation",
    "network_mode",
    "networks",
    "pid",
    "pids_limit",
    "ports",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// The `deploy` keys that mean something on one host.
const DEPLOY_HONOURED: &[&str] = &["replicas", "resources", "restart_policy"];

/// Warnings for what the project sets that berth does not apply, as docker compose warns
/// for what a single engine cannot honour (`deploy.placement`): the service keys outside the
/// model, the `deploy` keys of a swarm, GPU reservations.
pub fn unsupported(tree: &Node) -> Vec<String> {
    let mut out = Vec::new();
    let Some(Value::Map(services)) = tree.get("services").map(|s| &s.value) else { return out };
    for (name, s) in services {
        let Value::Map(keys) = &s.value else { continue };
        for (key, v) in keys {
            if key.starts_with("x-") {
                continue;
            }
            if !HONOURED.contains(&key.as_str()) {
                out.push(format!("services.{name}: {key} is not supported by berth and is ignored"));
            }
            if key == "deploy" {
                if let Value::Map(d) = &v.value {
                    for (k, _) in d.iter().filter(|(k, _)| !DEPLOY_HONOURED.contains(&k.as_str())) {
                        out.push(format!("services.{name}: deploy.{k} is ignored on a single engine"));
                    }
                }
                let devices =
                    v.get("resources").and_then(|r| r.get("reservations")).and_then(|r| r.get("devices"));
                if devices.is_some() {
                    out.push(format!("services.{name}: deploy.resources.reservations.devices is not supported by berth and is ignored"));
                }
            }
        }
    }
    out
}

fn decode_build(b: &Node, dir: &str) -> Build {
    if let Some(context) = b.text() {
        return Build { context: resolve(dir, context), ..Build::default() };
    }
    Build {
        context: resolve(dir, &text(b.get("context")).unwrap_or_else(|| ".".into())),
        dockerfile: text(b.get("dockerfile")),
        args: b.get("args").map(pairs).unwrap_or_default(),
        target: text(b.get("target")),
        labels: b.get("labels").map(pairs).unwrap_or_default(),
        cache_from: words(b.get("cache_from")),
        network: text(b.get("network")),
    }
}

fn decode_port(p: &Node, path: &str) -> Result<Vec<Port>, ComposeError> {
    match &p.value {
        Value::Scalar { text, .. } => parse_port(text).map_err(|e| invalid(p, path, e.to_string())),
        Value::Map(_) => {
            let target = text(p.get("target"))
                .and_then(|t| t.parse::<u16>().ok())
                .ok_or_else(|| invalid(p, path, "a port needs a target port number"))?;
            Ok(vec![Port {
                target,
                published: text(p.get("published")),
                host_ip: text(p.get("host_ip")),
                protocol: text(p.get("protocol")).unwrap_or_else(|| "tcp".into()),
            }])
        }
        Value::Seq(_) => Err(invalid(p, path, "a port is a number, a string or a mapping")),
    }
}

fn decode_volume(v: &Node, dir: &str, path: &str) -> Result<Volume, ComposeError> {
    let mut vol = match &v.value {
        Value::Scalar { text, .. } => parse_volume(text).map_err(|e| invalid(v, path, e.to_string()))?,
        Value::Map(_) => {
            let kind = match text(v.get("type")).as_deref() {
                Some("bind") => "bind",
                Some("volume") => "volume",
                Some("tmpfs") => "tmpfs",
                Some("image") => "image",
                Some(other) => {
                    return Err(invalid(v, path, format!("volume type {other:?} is not supported")))
                }
                None => return Err(invalid(v, path, "a volume needs a type")),
            };
            Volume {
                kind,
                source: text(v.get("source")),
                target: text(v.get("target")).ok_or_else(|| invalid(v, path, "a volume needs a target"))?,
                read_only: boolean(v.get("read_only"), path)?,
                selinux: v.get("bind").and_then(|b| text(b.get("selinux"))),
                nocopy: boolean(v.get("volume").and_then(|b| b.get("nocopy")), path)?,
                consistency: text(v.get("consistency")),
                propagation: v.get("bind").and_then(|b| text(b.get("propagation"))),
            }
        }
        Value::Seq(_) => return Err(invalid(v, path, "a volume is a string or a mapping")),
    };
    if vol.kind == "bind" {
        vol.source = vol.source.map(|s| resolve(dir, &s));
    }
    Ok(vol)
}

fn decode_healthcheck(h: &Node, path: &str) -> Result<Healthcheck, ComposeError> {
    let mut hc = Healthcheck {
        interval: text(h.get("interval")),
        timeout: text(h.get("timeout")),
        start_period: text(h.get("start_period")),
        retries: match text(h.get("retries")) {
            None => None,
            Some(r) => {
                Some(r.parse().map_err(|_| invalid(h, path, format!("retries {r:?} is not a number")))?)
            }
        },
        ..Healthcheck::default()
    };
    hc.test = if boolean(h.get("disable"), path)? {
        vec!["NONE".into()]
    } else {
        match h.get("test").map(|t| &t.value) {
            Some(Value::Scalar { text, .. }) => vec!["CMD-SHELL".into(), text.clone()],
            Some(Value::Seq(items)) => items.iter().filter_map(|i| i.text().map(String::from)).collect(),
            _ => Vec::new(),
        }
    };
    Ok(hc)
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
