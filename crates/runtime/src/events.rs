use libcgroups::common::CgroupManager;
use libcgroups::stats::Stats;
use serde_json::{json, Value};

use crate::{Runtime, RuntimeError};

impl Runtime {
    /// The container's cgroup statistics (cgroup v1 or v2).
    pub fn stats(&self, id: &str) -> Result<Stats, RuntimeError> {
        self.cgroup_manager(id)?.stats().map_err(RuntimeError::cgroup)
    }

    /// `events --stats`: one event in runc's shape, `{"type":"stats","id":…,"data":{…}}`.
    pub fn stats_event(&self, id: &str) -> Result<Value, RuntimeError> {
        Ok(json!({"type": "stats", "id": id, "data": runc_stats(&self.stats(id)?)}))
    }
}

/// Converts libcgroups' statistics into the `data` object of runc's stats event.
pub fn runc_stats(s: &Stats) -> Value {
    let mem = |m: &libcgroups::stats::MemoryData| json!({"usage": m.usage, "max": m.max_usage, "failcnt": m.fail_count, "limit": m.limit});
    json!({
        "cpu": {
            "usage": {
                "total": s.cpu.usage.usage_total,
                "percpu": s.cpu.usage.per_core_usage_total,
                "kernel": s.cpu.usage.usage_kernel,
                "user": s.cpu.usage.usage_user,
            },
            "throttling": {
                "periods": s.cpu.throttling.periods,
                "throttledPeriods": s.cpu.throttling.throttled_periods,
                "throttledTime": s.cpu.throttling.throttled_time,
            },
        },
        "memory": {
            "cache": s.memory.cache,
            "usage": mem(&s.memory.memory),
            "swap": mem(&s.memory.memswap),
            "kernel": mem(&s.memory.kernel),
            "kernelTCP": mem(&s.memory.kernel_tcp),
            "raw": s.memory.stats,
        },
        "pids": {"current": s.pids.current, "limit": s.pids.limit},
        "blkio": {},
        "hugetlb": {},
    })
}
