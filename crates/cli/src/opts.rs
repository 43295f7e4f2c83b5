//! `run` and `create` flags → the create request (`Config` with `HostConfig` inside), checked
//! the way the docker CLI checks them, with its messages. Pure: the environment and files
//! `-e NAME` and `--env-file` read come in through [`Sources`].

use serde_json::{json, Map, Value};

use crate::cmd::{Resources, RunArgs};
use crate::units::ram_in_bytes;

/// Where `-e NAME` (no value) and `--env-file`/`--label-file` look things up.
pub trait Sources {
    fn env(&self, name: &str) -> Option<String>;
    fn read(&self, path: &str) -> Result<String, String>;
}

/// The process's own environment and files.
pub struct Real;

impl Sources for Real {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| format!("open {path}: {}", crate::common::io_text(&e)))
    }
}

/// A refused flag: its value, the flag as Docker names it, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct BadFlag {
    pub value: String,
    pub flag: &'static str,
    pub why: String,
}

impl BadFlag {
    /// A refusal that is not about one flag's value (printed without the usage).
    pub fn message(why: impl Into<String>) -> BadFlag {
        BadFlag { value: String::new(), flag: "", why: why.into() }
    }
}

fn bad(value: &str, flag: &'static str, why: impl Into<String>) -> BadFlag {
    BadFlag { value: value.into(), flag, why: why.into() }
}

pub(crate) fn size(v: &str, flag: &'static str) -> Result<i64, BadFlag> {
    ram_in_bytes(v).ok_or_else(|| {
        let t = v.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        if split > 0 && t[..split].parse::<f64>().is_ok() {
            bad(v, flag, format!("invalid suffix: '{}'", &t[split..]))
        } else {
            bad(v, flag, format!("invalid size: '{v}'"))
        }
    })
}

fn int(v: &str, flag: &'static str) -> Result<i64, BadFlag> {
    v.trim().parse().map_err(|_| bad(v, flag, format!("strconv.ParseInt: parsing \"{v}\": invalid syntax")))
}

fn duration(v: &str, flag: &'static str) -> Result<i64, BadFlag> {
    if v.trim() == "0" {
        return Ok(0);
    }
    berth_api::time::parse_duration(v.trim())
        .ok_or_else(|| bad(v, flag, format!("time: invalid duration \"{v}\"")))
}

/// `KEY=value`, or `KEY` alone, which takes the value the CLI's environment has (and stays bare
/// when it has none, as with Docker).
fn env_entry(e: &str, src: &dyn Sources) -> String {
    if e.contains('=') {
        return e.to_string();
    }
    match src.env(e) {
        Some(v) => format!("{e}={v}"),
        None => e.to_string(),
    }
}

/// The lines of an env or label file that say something.
fn file_lines(path: &str, src: &dyn Sources, flag: &'static str) -> Result<Vec<String>, BadFlag> {
    let text = src.read(path).map_err(|e| bad(path, flag, e))?;
    Ok(text
        .lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

pub(crate) fn key_values(items: &[String]) -> Map<String, Value> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) => (k.to_string(), Value::from(v)),
            None => (i.clone(), Value::from("")),
        })
        .collect()
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
fn restart_policy(v: &str) -> Result<Value, BadFlag> {
    let (name, max) = v.split_once(':').unwrap_or((v, ""));
    let max = if max.is_empty() {
        0
    } else {
        max.parse::<i64>().map_err(|_| bad(v, "--restart", "maximum retry count must be an integer"))?
    };
    if !["no", "always", "unless-stopped", "on-failure", ""].contains(&name) {
        return Err(bad(v, "--restart", format!("invalid restart policy '{name}'")));
    }
    Ok(json!({"Name": name, "MaximumRetryCount": max}))
}

/// `--mount type=bind,source=/a,target=/b,readonly,bind-propagation=rshared` and tmpfs forms.
fn mount(v: &str) -> Result<Value, BadFlag> {
    let mut m = Map::new();
    let mut bind = Map::new();
    let mut tmpfs = Map::new();
    let mut kind = "volume".to_string();
    for field in v.split(',') {
        let (k, val) = match field.split_once('=') {
            Some((k, val)) => (k.trim().to_ascii_lowercase(), Some(val.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let truthy = |x: Option<&str>| matches!(x, None | Some("1" | "true" | "True"));
        match (k.as_str(), val) {
            ("type", Some(t)) => kind = t.to_string(),
            ("source" | "src", Some(s)) => {
                m.insert("Source".into(), s.into());
            }
            ("target" | "destination" | "dst", Some(t)) => {
                m.insert("Target".into(), t.into());
            }
            ("readonly" | "ro", x) => {
                m.insert("ReadOnly".into(), truthy(x).into());
            }
            ("bind-propagation", Some(p)) => {
                bind.insert("Propagation".into(), p.into());
            }
            ("tmpfs-size", Some(s)) => {
                tmpfs.insert("SizeBytes".into(), size(s, "--mount")?.into());
            }
            ("tmpfs-mode", Some(s)) => {
                let mode = i64::from_str_radix(s, 8)
                    .map_err(|_| bad(v, "--mount", format!("invalid value for tmpfs-mode: {s}")))?;
                tmpfs.insert("Mode".into(), mode.into());
            }
            (
                "consistency" | "volume-nocopy" | "volume-driver" | "volume-label" | "volume-opt"
                | "bind-recursive",
                _,
            ) => {}
            _ => return Err(bad(v, "--mount", format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    if !m.contains_key("Target") {
        return Err(bad(v, "--mount", "target is required"));
    }
    m.insert("Type".into(), kind.clone().into());
    if !bind.is_empty() {
        m.insert("BindOptions".into(), bind.into());
    }
    if !tmpfs.is_empty() {
        m.insert("TmpfsOptions".into(), tmpfs.into());
    }
    Ok(m.into())
}

/// `--ulimit nofile=1024:2048`.
pub(crate) fn ulimit(v: &str) -> Result<Value, BadFlag> {
    let (name, limits) =
        v.split_once('=').ok_or_else(|| bad(v, "--ulimit", format!("invalid ulimit argument: {v}")))?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let n =
        |s: &str| s.parse::<i64>().map_err(|_| bad(v, "--ulimit", format!("invalid ulimit argument: {v}")));
    Ok(json!({"Name": name, "Soft": n(soft)?, "Hard": n(hard)?}))
}

/// `--device /dev/x[:/dev/y][:rwm]`.
fn device(v: &str) -> Value {
    let parts: Vec<&str> = v.split(':').collect();
    let (host, inner, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if p.chars().all(|c| "rwm".contains(c)) && !p.is_empty() => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p, ..] => (*h, *c, *p),
        [] => (v, v, "rwm"),
    };
    json!({"PathOnHost": host, "PathInContainer": inner, "CgroupPermissions": perms})
}

/// `-p [ip:][host:]container[/proto]` → exposed ports and bindings.
fn publish(
    v: &str,
    exposed: &mut Map<String, Value>,
    bindings: &mut Map<String, Value>,
) -> Result<(), BadFlag> {
    let (spec, proto) = v.rsplit_once('/').unwrap_or((v, "tcp"));
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host_port, ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, ip.trim_start_matches('[').trim_end_matches(']')),
        _ => return Err(bad(v, "-p, --publish", "invalid port")),
    };
    if container.is_empty() || container.split('-').any(|p| p.parse::<u16>().is_err()) {
        return Err(bad(v, "-p, --publish", format!("invalid containerPort: {container}")));
    }
    let key = format!("{container}/{proto}");
    exposed.insert(key.clone(), json!({}));
    let list = bindings.entry(key).or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut() {
        a.push(json!({"HostIp": ip, "HostPort": host_port}));
    }
    Ok(())
}

/// `--env-file` files, then `-e` variables (`run`, `create`, `exec`).
pub(crate) fn environment(
    files: &[String],
    vars: &[String],
    src: &dyn Sources,
) -> Result<Vec<String>, BadFlag> {
    let mut env = Vec::new();
    for f in files {
        env.extend(file_lines(f, src, "--env-file")?.iter().map(|l| env_entry(l, src)));
    }
    env.extend(vars.iter().map(|e| env_entry(e, src)));
    Ok(env)
}

/// The resource flags (`run`, `create`, `update`) as `HostConfig` fields.
pub(crate) fn resources(r: &Resources) -> Result<Map<String, Value>, BadFlag> {
    let mut out = Map::new();
    if let Some(m) = &r.memory {
        out.insert("Memory".into(), size(m, "-m, --memory")?.into());
    }
    if let Some(m) = &r.memory_reservation {
        out.insert("MemoryReservation".into(), size(m, "--memory-reservation")?.into());
    }
    if let Some(m) = &r.memory_swap {
        let v = if m.trim() == "-1" { -1 } else { size(m, "--memory-swap")? };
        out.insert("MemorySwap".into(), v.into());
    }
    if let Some(c) = &r.cpus {
        let n: f64 = c
            .trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| bad(c, "--cpus", format!("failed to parse {c} as a rational number")))?;
        out.insert("NanoCpus".into(), ((n * 1e9).round() as i64).into());
    }
    if let Some(v) = &r.cpu_shares {
        out.insert("CpuShares".into(), int(v, "-c, --cpu-shares")?.into());
    }
    if let Some(v) = &r.cpu_quota {
        out.insert("CpuQuota".into(), int(v, "--cpu-quota")?.into());
    }
    if let Some(v) = &r.cpu_period {
        out.insert("CpuPeriod".into(), int(v, "--cpu-period")?.into());
    }
    if let Some(v) = &r.cpuset_cpus {
        out.insert("CpusetCpus".into(), v.clone().into());
    }
    if let Some(v) = &r.pids_limit {
        out.insert("PidsLimit".into(), int(v, "--pids-limit")?.into());
    }
    if let Some(p) = &r.restart {
        out.insert("RestartPolicy".into(), restart_policy(p)?);
    }
    Ok(out)
}

/// The create request for `args` (the name goes in the query, not here).
pub fn create_body(a: &RunArgs, src: &dyn Sources) -> Result<Value, BadFlag> {
    let env = environment(&a.env_file, &a.env, src)?;
    let mut labels = Vec::new();
    for f in &a.label_file {
        labels.extend(file_lines(f, src, "--label-file")?);
    }
    labels.extend(a.label.iter().cloned());

    let attach: Vec<String> = a.attach.iter().map(|s| s.to_ascii_lowercase()).collect();
    for s in &attach {
        if !["stdin", "stdout", "stderr"].contains(&s.as_str()) {
            return Err(bad(s, "-a, --attach", "valid streams are STDIN, STDOUT and STDERR"));
        }
    }
    let (att_in, att_out, att_err) = if a.detach {
        (false, false, false)
    } else if attach.is_empty() {
        (a.interactive, true, true)
    } else {
        (
            attach.iter().any(|s| s == "stdin"),
            attach.iter().any(|s| s == "stdout"),
            attach.iter().any(|s| s == "stderr"),
        )
    };

    let mut hc = Map::new();
    let mut set = |k: &str, v: Value| {
        hc.insert(k.into(), v);
    };
    let binds: Vec<&String> = a.volume.iter().filter(|v| v.contains(':')).collect();
    let anonymous: Map<String, Value> =
        a.volume.iter().filter(|v| !v.contains(':')).map(|v| (v.clone(), json!({}))).collect();
    if !binds.is_empty() {
        set("Binds", json!(binds));
    }
    if !a.mount.is_empty() {
        set("Mounts", Value::Array(a.mount.iter().map(|m| mount(m)).collect::<Result<_, _>>()?));
    }
    if !a.tmpfs.is_empty() {
        let t: Map<String, Value> = a
            .tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((p, o)) => (p.to_string(), Value::from(o)),
                None => (t.clone(), Value::from("")),
            })
            .collect();
        set("Tmpfs", t.into());
    }
    for (k, v) in resources(&a.resources)? {
        set(&k, v);
    }
    if !a.cap_add.is_empty() {
        set("CapAdd", json!(a.cap_add));
    }
    if !a.cap_drop.is_empty() {
        set("CapDrop", json!(a.cap_drop));
    }
    set("Privileged", a.privileged.into());
    set("ReadonlyRootfs", a.read_only.into());
    if !a.security_opt.is_empty() {
        set("SecurityOpt", json!(a.security_opt));
    }
    if a.init {
        set("Init", true.into());
    }
    if a.log_driver.is_some() || !a.log_opt.is_empty() {
        set(
            "LogConfig",
            json!({"Type": a.log_driver.clone().unwrap_or_default(), "Config": key_values(&a.log_opt)}),
        );
    }
    if !a.sysctl.is_empty() {
        set("Sysctls", key_values(&a.sysctl).into());
    }
    if !a.ulimit.is_empty() {
        set("Ulimits", Value::Array(a.ulimit.iter().map(|u| ulimit(u)).collect::<Result<_, _>>()?));
    }
    if !a.device.is_empty() {
        set("Devices", Value::Array(a.device.iter().map(|d| device(d)).collect()));
    }
    if let Some(s) = &a.shm_size {
        set("ShmSize", size(s, "--shm-size")?.into());
    }
    if !a.add_host.is_empty() {
        set("ExtraHosts", json!(a.add_host.iter().map(|h| h.replacen('=', ":", 1)).collect::<Vec<_>>()));
    }
    if let Some(v) = &a.pid {
        set("PidMode", v.clone().into());
    }
    if let Some(v) = &a.ipc {
        set("IpcMode", v.clone().into());
    }
    if let Some(v) = &a.uts {
        set("UTSMode", v.clone().into());
    }
    let network = a.network.clone().unwrap_or_else(|| "default".into());
    set("NetworkMode", network.clone().into());
    for (key, v) in [("Dns", &a.dns), ("DnsSearch", &a.dns_search), ("DnsOptions", &a.dns_option)] {
        if !v.is_empty() {
            set(key, json!(v));
        }
    }
    if let Some(ip) = &a.ip {
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(bad(ip, "--ip", format!("invalid IPv4 address: {ip}")));
        }
    }
    if !a.network_alias.is_empty() && matches!(network.as_str(), "default" | "bridge") {
        return Err(BadFlag::message("network-scoped aliases are only supported for user-defined networks"));
    }
    if a.oom_kill_disable {
        set("OomKillDisable", true.into());
    }
    if let Some(v) = &a.oom_score_adj {
        let n = int(v, "--oom-score-adj")?;
        if !(-1000..=1000).contains(&n) {
            return Err(bad(v, "--oom-score-adj", "Invalid value, should be between -1000 and 1000"));
        }
        set("OomScoreAdj", n.into());
    }
    if !a.group_add.is_empty() {
        set("GroupAdd", json!(a.group_add));
    }
    set("AutoRemove", a.rm.into());
    let mut exposed = Map::new();
    for e in &a.expose {
        let (p, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        exposed.insert(format!("{p}/{proto}"), json!({}));
    }
    let mut bindings = Map::new();
    for p in &a.publish {
        publish(p, &mut exposed, &mut bindings)?;
    }
    if !bindings.is_empty() {
        set("PortBindings", bindings.into());
    }
    if a.publish_all {
        set("PublishAllPorts", true.into());
    }

    let mut c = Map::new();
    c.insert("Image".into(), a.image.clone().into());
    c.insert("Tty".into(), a.tty.into());
    c.insert("OpenStdin".into(), a.interactive.into());
    c.insert("StdinOnce".into(), (att_in && !a.detach).into());
    c.insert("AttachStdin".into(), att_in.into());
    c.insert("AttachStdout".into(), att_out.into());
    c.insert("AttachStderr".into(), att_err.into());
    if !a.command.is_empty() {
        c.insert("Cmd".into(), json!(a.command));
    }
    if let Some(e) = &a.entrypoint {
        c.insert("Entrypoint".into(), json!([e]));
    }
    if !env.is_empty() {
        c.insert("Env".into(), json!(env));
    }
    if !labels.is_empty() {
        c.insert("Labels".into(), key_values(&labels).into());
    }
    for (key, v) in [
        ("WorkingDir", &a.workdir),
        ("User", &a.user),
        ("Hostname", &a.hostname),
        ("Domainname", &a.domainname),
        ("StopSignal", &a.stop_signal),
    ] {
        if let Some(v) = v {
            c.insert(key.into(), v.clone().into());
        }
    }
    if let Some(t) = &a.stop_timeout {
        c.insert("StopTimeout".into(), int(t, "--stop-timeout")?.into());
    }
    if !anonymous.is_empty() {
        c.insert("Volumes".into(), anonymous.into());
    }
    if !exposed.is_empty() {
        c.insert("ExposedPorts".into(), exposed.into());
    }
    if a.no_healthcheck {
        if a.health_cmd.is_some() {
            return Err(bad("", "--no-healthcheck", "--no-healthcheck conflicts with --health-* options"));
        }
        c.insert("Healthcheck".into(), json!({"Test": ["NONE"]}));
    } else if a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some()
        || a.health_start_interval.is_some()
    {
        let mut h = Map::new();
        if let Some(cmd) = &a.health_cmd {
            h.insert("Test".into(), json!(["CMD-SHELL", cmd]));
        }
        for (key, v, flag) in [
            ("Interval", &a.health_interval, "--health-interval"),
            ("Timeout", &a.health_timeout, "--health-timeout"),
            ("StartPeriod", &a.health_start_period, "--health-start-period"),
            ("StartInterval", &a.health_start_interval, "--health-start-interval"),
        ] {
            if let Some(v) = v {
                let d = duration(v, flag)?;
                if d < 0 {
                    return Err(bad(v, flag, format!("{flag} cannot be negative")));
                }
                h.insert(key.into(), d.into());
            }
        }
        if let Some(r) = &a.health_retries {
            h.insert("Retries".into(), int(r, "--health-retries")?.into());
        }
        c.insert("Healthcheck".into(), h.into());
    }
    c.insert("HostConfig".into(), hc.into());
    if !a.network_alias.is_empty() || a.ip.is_some() || a.ip6.is_some() {
        let mut ep = Map::new();
        if !a.network_alias.is_empty() {
            ep.insert("Aliases".into(), json!(a.network_alias));
        }
        if let Some(ipam) = ipam_config(a.ip.as_deref(), a.ip6.as_deref()) {
            ep.insert("IPAMConfig".into(), ipam);
        }
        let mut eps = Map::new();
        eps.insert(network, Value::Object(ep));
        c.insert("NetworkingConfig".into(), json!({"EndpointsConfig": eps}));
    }
    Ok(c.into())
}

/// An endpoint's `IPAMConfig` for `--ip` and `--ip6`, or `None` when neither is given.
pub fn ipam_config(ip: Option<&str>, ip6: Option<&str>) -> Option<Value> {
    let mut m = Map::new();
    if let Some(ip) = ip {
        m.insert("IPv4Address".into(), json!(ip));
    }
    if let Some(ip6) = ip6 {
        m.insert("IPv6Address".into(), json!(ip6));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    struct Fake;
    impl Sources for Fake {
        fn env(&self, name: &str) -> Option<String> {
            (name == "HOME").then(|| "/root".to_string())
        }
        fn read(&self, path: &str) -> Result<String, String> {
            match path {
                "env.list" => Ok("# comment\n\nA=1\nHOME\n".into()),
                _ => Err(format!("open {path}: no such file or directory")),
            }
        }
    }

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        run: RunArgs,
    }

    fn body(args: &str) -> Result<Value, BadFlag> {
        let t = T::try_parse_from(std::iter::once("run").chain(args.split(' '))).unwrap();
        create_body(&t.run, &Fake)
    }

    #[test]
    fn flags_become_the_create_request() {
        let b = body("-d --name web -e X=1 -e HOME -e NOPE --env-file env.list -l a=b -l c -m 4g --memory-reservation 1g --cpus 1.5 --restart on-failure:3 --rm -v /h:/c:ro -v /anon --tmpfs /t:size=64m --ulimit nofile=1024:2048 --health-cmd true --health-interval 5s --init -p 127.0.0.1:8080:80/udp busybox sh -c x").unwrap();
        let hc = &b["HostConfig"];
        assert_eq!(b["Env"], json!(["A=1", "HOME=/root", "X=1", "HOME=/root", "NOPE"]));
        assert_eq!(b["Labels"], json!({"a": "b", "c": ""}));
        assert_eq!(hc["Memory"], 4i64 << 30);
        assert_eq!(hc["MemoryReservation"], 1i64 << 30);
        assert_eq!(hc["NanoCpus"], 1_500_000_000i64);
        assert_eq!(hc["RestartPolicy"], json!({"Name": "on-failure", "MaximumRetryCount": 3}));
        assert_eq!(hc["AutoRemove"], true);
        assert_eq!(hc["Binds"], json!(["/h:/c:ro"]));
        assert_eq!(b["Volumes"], json!({"/anon": {}}));
        assert_eq!(hc["Tmpfs"], json!({"/t": "size=64m"}));
        assert_eq!(hc["Ulimits"], json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}]));
        assert_eq!(hc["Init"], true);
        assert_eq!(hc["PortBindings"], json!({"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}));
        assert_eq!(b["ExposedPorts"], json!({"80/udp": {}}));
        assert_eq!(b["Healthcheck"], json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64}));
        assert_eq!(b["Cmd"], json!(["sh", "-c", "x"]));
        assert_eq!((b["AttachStdout"].as_bool(), b["Tty"].as_bool()), (Some(false), Some(false)));
        let b = body("-it busybox").unwrap();
        assert_eq!(
            (b["AttachStdin"].as_bool(), b["StdinOnce"].as_bool(), b["OpenStdin"].as_bool()),
            (Some(true), Some(true), Some(true))
        );
        assert_eq!(b["HostConfig"]["NetworkMode"], "default");
        let b = body("--mount type=bind,source=/a,target=/b,readonly,bind-propagation=rshared --mount type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777 busybox").unwrap();
        assert_eq!(
            b["HostConfig"]["Mounts"],
            json!([
                {"Source": "/a", "Target": "/b", "ReadOnly": true, "Type": "bind", "BindOptions": {"Propagation": "rshared"}},
                {"Target": "/t", "Type": "tmpfs", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}}
            ])
        );
    }

    #[test]
    fn bad_values_are_refused_in_dockers_words() {
        let cases = [
            ("-m 12x busybox", "-m, --memory", "invalid suffix: 'x'"),
            ("-m abc busybox", "-m, --memory", "invalid size: 'abc'"),
            ("--cpus x busybox", "--cpus", "failed to parse x as a rational number"),
            ("-c x busybox", "-c, --cpu-shares", "strconv.ParseInt: parsing \"x\": invalid syntax"),
            ("--health-interval 5 busybox", "--health-interval", "time: invalid duration \"5\""),
            ("--restart sometimes busybox", "--restart", "invalid restart policy 'sometimes'"),
            ("--ulimit nofile busybox", "--ulimit", "invalid ulimit argument: nofile"),
            ("--mount source=/a busybox", "--mount", "target is required"),
            (
                "--oom-score-adj 2000 busybox",
                "--oom-score-adj",
                "Invalid value, should be between -1000 and 1000",
            ),
            ("--env-file nope busybox", "--env-file", "open nope: no such file or directory"),
            ("-p x:y busybox", "-p, --publish", "invalid containerPort: y"),
        ];
        for (args, flag, why) in cases {
            let e = body(args).unwrap_err();
            assert_eq!((e.flag, e.why.as_str()), (flag, why), "{args}");
        }
    }
}
