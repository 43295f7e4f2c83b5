//! `stats` and `top`: samples from the runtime through the shim, the host's CPU time from
//! `/proc/stat`, and `ps` filtered to the container's processes.

use std::sync::Arc;
use std::time::Duration;

use berth_api::shape::{self, StatsSample};
use tokio::sync::mpsc;

use super::{blocking, Container, Engine};
use crate::error::{EngineError, Result};

/// The host's total CPU time in nanoseconds (the `cpu` line of `/proc/stat`).
pub fn system_cpu_nanos(stat: &str) -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| l.split_whitespace().skip(1).take(8).filter_map(|v| v.parse::<u64>().ok()).sum::<u64>())
        .unwrap_or(0)
        * (1_000_000_000 / hz)
}

/// The host's memory in bytes (`MemTotal`).
pub(crate) fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl Engine {
    fn sample(&self, c: &Container) -> StatsSample {
        let live = c.rec().state.status.is_live();
        let data = if live {
            self.shim(&c.id).stats().map(|v| v["data"].clone()).unwrap_or_default()
        } else {
            Default::default()
        };
        let rec = c.snapshot();
        let networks = if live && rec.state.pid > 0 && !rec.networks.is_empty() {
            berth_api::shape::parse_net_dev(
                &std::fs::read_to_string(format!("/proc/{}/net/dev", rec.state.pid)).unwrap_or_default(),
            )
        } else {
            Vec::new()
        };
        StatsSample {
            networks,
            read: if live { berth_shim::now_rfc3339() } else { "0001-01-01T00:00:00Z".into() },
            data,
            system_cpu: system_cpu_nanos(&std::fs::read_to_string("/proc/stat").unwrap_or_default()),
            online_cpus: std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1),
            host_memory: host_memory(),
        }
    }

    /// Streams stats documents into `tx`: one per second, or one (after a second sample for
    /// `precpu_stats`, unless `one_shot`).
    pub async fn stats(
        self: &Arc<Self>,
        c: Arc<Container>,
        stream: bool,
        one_shot: bool,
        tx: mpsc::Sender<Vec<u8>>,
    ) {
        let name = format!("/{}", c.name());
        let mut pre: Option<StatsSample> = None;
        loop {
            let (e, c2) = (self.clone(), c.clone());
            let s = match blocking(move || Ok(e.sample(&c2))).await {
                Ok(s) => s,
                Err(_) => return,
            };
            let live = c.rec().state.status.is_live();
            if !stream && !one_shot && pre.is_none() && live {
                pre = Some(s);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let mut doc =
                serde_json::to_vec(&shape::stats(&name, &c.id, &s, pre.as_ref())).unwrap_or_default();
            doc.push(b'\n');
            if tx.send(doc).await.is_err() || !stream || !live {
                return;
            }
            pre = Some(s);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// `docker top`: `ps` with the caller's arguments, rows limited to the container's pids.
    pub fn top(&self, c: &Arc<Container>, ps_args: &str) -> Result<serde_json::Value> {
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(EngineError::Conflict(format!("Container {} is not running", rec.id)));
        }
        let pids = self.shim(&c.id).pids()?;
        let args: Vec<&str> =
            if ps_args.trim().is_empty() { vec!["-ef"] } else { ps_args.split_whitespace().collect() };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| EngineError::internal("run ps", e))?;
        if !out.status.success() {
            return Err(EngineError::Internal(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

/// Docker's parsing of `ps` output: the header's columns, the PID column found by name, the
/// last column taking the rest of the line.
pub fn parse_ps(out: &str, pids: &[i32]) -> Result<serde_json::Value> {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<String> = header.split_whitespace().map(String::from).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| EngineError::InvalidArgument("Couldn't find PID field in ps output".into()))?;
    let mut procs = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok()) else { continue };
        if !pids.contains(&pid) {
            continue;
        }
        let n = titles.len();
        let mut row: Vec<String> = fields.iter().take(n.saturating_sub(1)).map(|s| s.to_string()).collect();
        row.push(fields.get(n - 1..).map(|r| r.join(" ")).unwrap_or_default());
        procs.push(row);
    }
    Ok(serde_json::json!({"Titles": titles, "Processes": procs}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_are_filtered_and_the_last_column_keeps_spaces() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init splash\nroot 42 1 0 10:00 ? 00:00:00 sleep 100\n";
        let v = parse_ps(out, &[42]).unwrap();
        assert_eq!(v["Titles"][1], "PID");
        assert_eq!(v["Processes"].as_array().unwrap().len(), 1);
        assert_eq!(v["Processes"][0][7], "sleep 100");
        assert!(parse_ps("A B\n1 2\n", &[1]).is_err());
        assert_eq!(system_cpu_nanos("cpu  1 2 3 4 0 0 0 0 0 0\ncpu0 1\n") % 10, 0);
    }
}
