//! Checks of a create's (or an update's) request as Docker makes them before anything is
//! created, with Docker's messages: what would fail in the runtime at start (a cpuset naming
//! CPUs the host lacks, limits out of the kernel's ranges, a NUL byte that no C string can carry)
//! is a 400 at create instead. Pure: the host's facts come in [`HostFacts`].

use berth_records::{ContainerConfig, HealthConfig, HostConfig, RestartPolicyName, Ulimit};

use crate::error::{EngineError, Result};

/// What the checks need to know of the host: its online CPUs and memory nodes, in the
/// kernel's list format (`0-3,8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub cpus: String,
    pub mems: String,
}

impl HostFacts {
    /// This host's, from sysfs (a kernel without NUMA has node 0 alone).
    pub fn read() -> HostFacts {
        let read = |p: &str, default: &str| {
            std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_else(|_| default.into())
        };
        HostFacts {
            cpus: read("/sys/devices/system/cpu/online", "0"),
            mems: read("/sys/devices/system/node/online", "0"),
        }
    }
}

/// The kernel's list format (`0-3,8`) as the numbers it names; `None` when it does not parse.
fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b || b - a > 65_536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// `CpusetCpus`/`CpusetMems`: parses, and names only what the host has.
fn cpuset(value: Option<&str>, key: &str, what: &str, available: &str) -> Result<()> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(()) };
    let bad = |m: String| Err(EngineError::InvalidArgument(m));
    let Some(wanted) = parse_list(v) else {
        return bad(format!("Invalid value {v} for cpuset {key}: invalid format: {v}"));
    };
    let have = parse_list(available).unwrap_or_default();
    if wanted.iter().any(|n| !have.contains(n)) {
        return bad(format!("Requested {what} are not available - requested {v}, available: {available}"));
    }
    Ok(())
}

/// The resources `--ulimit` may name (the kernel's `RLIMIT_*`, as Docker spells them).
const ULIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn ulimit(u: &Ulimit) -> Result<()> {
    let bad = |m: String| Err(EngineError::InvalidArgument(m));
    let name = u.name.clone().unwrap_or_default();
    if !ULIMITS.contains(&name.as_str()) {
        return bad(format!("invalid ulimit type: {name}"));
    }
    let (soft, hard) = (u.soft.unwrap_or(0), u.hard.unwrap_or(0));
    // -1 is "unlimited"; anything else below zero no kernel takes.
    if soft < -1 || hard < -1 {
        return bad(format!("invalid ulimit {name}: {soft}:{hard}: limits are -1 (unlimited) or at least 0"));
    }
    let unlimited = |v: i64| if v == -1 { u64::MAX } else { v as u64 };
    if unlimited(soft) > unlimited(hard) {
        return bad(format!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"));
    }
    Ok(())
}

/// The parts of a container's config no process can be given: NUL bytes in its environment,
/// labels, command, working directory or user.
pub fn config(c: &ContainerConfig) -> Result<()> {
    let nul = |what: &str, v: &str| -> Result<()> {
        if v.contains('\0') {
            return Err(EngineError::InvalidArgument(format!(
                "invalid {what} {v:?}: it contains a NUL byte, which no process can be given"
            )));
        }
        Ok(())
    };
    for e in c.env.iter().flatten() {
        nul("environment variable", e)?;
    }
    for (k, v) in c.labels.iter().flatten() {
        nul("label", k)?;
        nul("label", v)?;
    }
    for a in c.cmd.iter().chain(c.entrypoint.iter()).flatten() {
        nul("argument", a)?;
    }
    for (what, v) in [("working directory", &c.working_dir), ("user", &c.user), ("hostname", &c.hostname)] {
        nul(what, v.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

/// Checks a host config as Docker does before anything is created: what does not fit the
/// kernel's ranges or this host is Docker's 400 now, never a runtime's failure at start.
pub fn host_config(hc: &HostConfig, host: &HostFacts) -> Result<()> {
    let bad = |m: String| Err(EngineError::InvalidArgument(m));
    if let Some(m) = hc.memory {
        if m != 0 && m < 6 * 1024 * 1024 {
            return bad("Minimum memory limit allowed is 6MB".into());
        }
    }
    if let (Some(m), Some(s)) = (hc.memory, hc.memory_swap) {
        if s > 0 && m > 0 && s < m {
            return bad("Minimum memoryswap limit should be larger than memory limit, see usage".into());
        }
        if s > 0 && m <= 0 {
            return bad(
                "You should always set the Memory limit when using Memoryswap limit, see usage".into()
            );
        }
    }
    if let Some(n) = hc.nano_cpus {
        let cpus = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
        if n < 0 || n > cpus * 1_000_000_000 {
            return bad(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            ));
        }
        if n > 0 && (hc.cpu_quota.unwrap_or(0) > 0 || hc.cpu_period.unwrap_or(0) > 0) {
            return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
        }
    }
    if let Some(p) = hc.cpu_period {
        if p != 0 && !(1000..=1_000_000).contains(&p) {
            return bad(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into(),
            );
        }
    }
    if let Some(q) = hc.cpu_quota {
        if q > 0 && q < 1000 {
            return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
        }
    }
    if let Some(s) = hc.shm_size {
        if s < 0 {
            return bad("SHM size can not be less than 0".into());
        }
    }
    if let Some(rp) = &hc.restart_policy {
        let name = rp.name.unwrap_or(RestartPolicyName::Empty);
        let max = rp.maximum_retry_count.unwrap_or(0);
        if max < 0 {
            return bad("invalid restart policy: maximum retry count cannot be negative".into());
        }
        if max > 0 && name != RestartPolicyName::OnFailure {
            return bad(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'".into()
            );
        }
        if hc.auto_remove == Some(true) && !matches!(name, RestartPolicyName::Empty | RestartPolicyName::No) {
            return bad("can't create 'AutoRemove' container with restart policy".into());
        }
    }
    if let Some(lc) = &hc.log_config {
        if let Some(t) = lc.typ.as_deref().filter(|t| !t.is_empty()) {
            crate::config::check_log_driver(t).map_err(EngineError::InvalidArgument)?;
        }
    }
    if let Some(s) = hc.memory_swap {
        if s < -1 {
            return bad(format!(
                "invalid MemorySwap {s}: give -1 for unlimited swap, or a limit at least as large as Memory"
            ));
        }
    }
    if let Some(r) = hc.memory_reservation.filter(|r| *r != 0) {
        if r < 6 * 1024 * 1024 {
            return bad("Minimum memory reservation allowed is 6MB".into());
        }
        if hc.memory.is_some_and(|m| m > 0 && m < r) {
            return bad(
                "Minimum memory limit can not be less than memory reservation limit, see usage".into()
            );
        }
    }
    if let Some(o) = hc.oom_score_adj {
        if !(-1000..=1000).contains(&o) {
            return bad(format!("Invalid value {o}, range for oom score adj is [-1000, 1000]"));
        }
    }
    if let Some(w) = hc.blkio_weight.filter(|w| *w != 0) {
        if !(10..=1000).contains(&w) {
            return bad("Range of blkio weight is from 10 to 1000".into());
        }
    }
    if let Some(i) = &hc.isolation {
        if !matches!(i.as_str(), "" | "default") {
            return bad(format!("Invalid isolation: \"{i}\" - linux only supports 'default'"));
        }
    }
    cpuset(hc.cpuset_cpus.as_deref(), "cpus", "CPUs", &host.cpus)?;
    cpuset(hc.cpuset_mems.as_deref(), "mems", "memory nodes", &host.mems)?;
    for u in hc.ulimits.iter().flatten() {
        ulimit(u)?;
    }
    for (k, _) in hc.sysctls.clone().unwrap_or_default() {
        let ns = match hc.network_mode.as_deref() {
            Some("host") => berth_spec::NamespaceMode::Host,
            _ => berth_spec::NamespaceMode::Private,
        };
        berth_spec::validate_sysctl(&k, &ns)?;
    }
    Ok(())
}

/// Docker's healthcheck test forms: `["NONE"]`, `["CMD", args…]`, `["CMD-SHELL", cmd]`.
pub fn health(h: &HealthConfig) -> Result<()> {
    let test = h.test.clone().unwrap_or_default();
    match test.first().map(String::as_str) {
        None | Some("NONE") | Some("CMD") | Some("CMD-SHELL") => {}
        Some(other) => {
            return Err(EngineError::InvalidArgument(format!(
                "invalid healthcheck test {other:?}: start it with NONE, CMD or CMD-SHELL"
            )))
        }
    }
    let ms = |v: Option<i64>, what: &str| -> Result<()> {
        match v {
            Some(n) if n != 0 && n < 1_000_000 => {
                Err(EngineError::InvalidArgument(format!("{what} in Healthcheck cannot be less than 1ms")))
            }
            _ => Ok(()),
        }
    };
    ms(h.interval, "Interval")?;
    ms(h.timeout, "Timeout")?;
    ms(h.start_period, "StartPeriod")?;
    ms(h.start_interval, "StartInterval")?;
    if h.retries.unwrap_or(0) < 0 {
        return Err(EngineError::InvalidArgument("Retries in Healthcheck cannot be negative".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts { cpus: "0-1".into(), mems: "0".into() }
    }

    #[test]
    fn host_configs_are_checked_as_docker_does() {
        let ok = HostConfig::default();
        assert!(host_config(&ok, &host()).is_ok());
        let cases: Vec<(HostConfig, &str)> = vec![
            (HostConfig { memory: Some(1024), ..Default::default() }, "Minimum memory limit allowed is 6MB"),
            (
                HostConfig { memory: Some(64 << 20), memory_swap: Some(32 << 20), ..Default::default() },
                "Minimum memoryswap limit",
            ),
            (
                HostConfig {
                    auto_remove: Some(true),
                    restart_policy: Some(berth_records::RestartPolicy {
                        name: Some(RestartPolicyName::Always),
                        maximum_retry_count: None,
                    }),
                    ..Default::default()
                },
                "can't create 'AutoRemove' container with restart policy",
            ),
            (HostConfig { cpu_period: Some(10), ..Default::default() }, "CPU cfs period"),
        ];
        for (hc, want) in cases {
            let e = host_config(&hc, &host()).unwrap_err().to_string();
            assert!(e.contains(want), "{e} vs {want}");
        }
    }

    #[test]
    fn out_of_range_resources_are_refused_at_create() {
        let ul = |name: &str, soft: i64, hard: i64| HostConfig {
            ulimits: Some(vec![Ulimit { name: Some(name.into()), soft: Some(soft), hard: Some(hard) }]),
            ..Default::default()
        };
        let cases: Vec<(HostConfig, &str)> = vec![
            (
                HostConfig { cpuset_cpus: Some("abc".into()), ..Default::default() },
                "Invalid value abc for cpuset cpus: invalid format: abc",
            ),
            (
                HostConfig { cpuset_cpus: Some("0-63".into()), ..Default::default() },
                "Requested CPUs are not available - requested 0-63, available: 0-1",
            ),
            (HostConfig { cpuset_cpus: Some("3-1".into()), ..Default::default() }, "Invalid value 3-1"),
            (
                HostConfig { cpuset_mems: Some("7".into()), ..Default::default() },
                "Requested memory nodes are not available - requested 7, available: 0",
            ),
            (
                HostConfig { cpuset_mems: Some("x".into()), ..Default::default() },
                "Invalid value x for cpuset mems",
            ),
            (
                HostConfig { memory: Some(64 << 20), memory_swap: Some(-2), ..Default::default() },
                "invalid MemorySwap -2",
            ),
            (
                HostConfig {
                    memory: Some(64 << 20),
                    memory_reservation: Some(128 << 20),
                    ..Default::default()
                },
                "Minimum memory limit can not be less than memory reservation limit",
            ),
            (
                HostConfig { memory_reservation: Some(1024), ..Default::default() },
                "Minimum memory reservation allowed is 6MB",
            ),
            (
                HostConfig { oom_score_adj: Some(1001), ..Default::default() },
                "range for oom score adj is [-1000, 1000]",
            ),
            (HostConfig { oom_score_adj: Some(-1001), ..Default::default() }, "Invalid value -1001"),
            (
                HostConfig { blkio_weight: Some(5), ..Default::default() },
                "Range of blkio weight is from 10 to 1000",
            ),
            (HostConfig { blkio_weight: Some(1001), ..Default::default() }, "Range of blkio weight"),
            (
                HostConfig { isolation: Some("hyperv".into()), ..Default::default() },
                "Invalid isolation: \"hyperv\" - linux only supports 'default'",
            ),
            (ul("nofile", -5, 10), "invalid ulimit nofile: -5:10"),
            (ul("nofile", 100, 10), "ulimit soft limit must be less than or equal to hard limit: 100 > 10"),
            (ul("nofile", -1, 10), "ulimit soft limit must be less than or equal to hard limit: -1 > 10"),
            (ul("bogus", 1, 10), "invalid ulimit type: bogus"),
        ];
        for (hc, want) in cases {
            let e = host_config(&hc, &host()).unwrap_err();
            assert!(matches!(e, EngineError::InvalidArgument(_)), "{e}");
            assert!(e.to_string().contains(want), "{e} vs {want}");
        }
        let fine = [
            HostConfig {
                cpuset_cpus: Some("0,1".into()),
                cpuset_mems: Some("0".into()),
                ..Default::default()
            },
            HostConfig {
                memory: Some(64 << 20),
                memory_swap: Some(-1),
                memory_reservation: Some(32 << 20),
                ..Default::default()
            },
            HostConfig { oom_score_adj: Some(-1000), blkio_weight: Some(10), ..Default::default() },
            HostConfig { isolation: Some("default".into()), ..Default::default() },
            ul("nofile", 1024, -1),
            ul("core", -1, -1),
        ];
        for hc in fine {
            assert!(host_config(&hc, &host()).is_ok(), "{hc:?}");
        }
    }

    #[test]
    fn nul_bytes_are_refused_where_a_process_would_get_them() {
        let with = |f: fn(&mut ContainerConfig)| {
            let mut c = ContainerConfig::default();
            f(&mut c);
            config(&c)
        };
        assert!(with(|c| c.env = Some(vec!["A=b\0c".into()]))
            .unwrap_err()
            .to_string()
            .contains("environment variable"));
        assert!(with(|c| c.labels = Some([("a".to_string(), "b\0".to_string())].into())).is_err());
        assert!(with(|c| c.cmd = Some(vec!["a\0".into()])).is_err());
        assert!(with(|c| c.working_dir = Some("/a\0".into())).is_err());
        assert!(with(|c| c.env = Some(vec!["A=b".into()])).is_ok());
    }

    #[test]
    fn kernel_lists_parse() {
        assert_eq!(parse_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list("0"), Some(vec![0]));
        for bad in ["", "a", "1-", "-1", "2-1", "0-99999999", "1,,2"] {
            assert_eq!(parse_list(bad), None, "{bad}");
        }
    }
}
