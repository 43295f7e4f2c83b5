use libcgroups::common::{CgroupManager, ControllerOpt};
use oci_spec::runtime::{LinuxMemory, LinuxPids, LinuxResources};

use crate::{Runtime, RuntimeError};

/// The single-value flags of `update`, applied over `--resources`.
#[derive(Debug, Default, Clone)]
pub struct ResourceFlags {
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swap: Option<i64>,
    pub pids_limit: Option<i64>,
}

/// Merges the flags over a resources document (the flags win, as with runc).
pub fn merge_resources(mut r: LinuxResources, f: &ResourceFlags) -> LinuxResources {
    let mut cpu = r.cpu().clone().unwrap_or_default();
    let mut cpu_set = false;
    macro_rules! put {
        ($obj:ident, $flag:expr, $setter:ident, $set:ident) => {
            if let Some(v) = $flag.clone() {
                $obj.$setter(Some(v));
                $set = true;
            }
        };
    }
    put!(cpu, f.cpu_period, set_period, cpu_set);
    put!(cpu, f.cpu_quota, set_quota, cpu_set);
    put!(cpu, f.cpu_shares, set_shares, cpu_set);
    put!(cpu, f.cpuset_cpus, set_cpus, cpu_set);
    put!(cpu, f.cpuset_mems, set_mems, cpu_set);
    if cpu_set {
        r.set_cpu(Some(cpu));
    }
    let mut mem: LinuxMemory = r.memory().unwrap_or_default();
    let mut mem_set = false;
    put!(mem, f.memory, set_limit, mem_set);
    put!(mem, f.memory_reservation, set_reservation, mem_set);
    put!(mem, f.memory_swap, set_swap, mem_set);
    if mem_set {
        r.set_memory(Some(mem));
    }
    if let Some(limit) = f.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        r.set_pids(Some(pids));
    }
    r
}

impl Runtime {
    /// `update`: changes a running container's resource limits in place.
    pub fn update(&self, id: &str, resources: LinuxResources) -> Result<(), RuntimeError> {
        let manager = self.cgroup_manager(id)?;
        let opt = ControllerOpt {
            resources: &resources,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        };
        manager.apply(&opt).map_err(RuntimeError::cgroup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCpu;

    #[test]
    fn flags_override_document() {
        let doc: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":100},"cpu":{"shares":512,"quota":1000}}"#).unwrap();
        let r = merge_resources(
            doc,
            &ResourceFlags {
                memory: Some(200),
                cpu_period: Some(50000),
                pids_limit: Some(10),
                ..Default::default()
            },
        );
        assert_eq!(r.memory().unwrap().limit(), Some(200));
        let cpu: &LinuxCpu = r.cpu().as_ref().unwrap();
        assert_eq!((cpu.shares(), cpu.quota(), cpu.period()), (Some(512), Some(1000), Some(50000)));
        assert_eq!(r.pids().unwrap().limit(), 10);
        let untouched = merge_resources(LinuxResources::default(), &ResourceFlags::default());
        assert_eq!(untouched, LinuxResources::default());
    }
}
