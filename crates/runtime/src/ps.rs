use libcgroups::common::CgroupManager;

use crate::{Runtime, RuntimeError};

impl Runtime {
    /// The host pids of every process in the container's cgroup.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>, RuntimeError> {
        let manager = self.cgroup_manager(id)?;
        let mut pids: Vec<i32> =
            manager.get_all_pids().map_err(RuntimeError::cgroup)?.into_iter().map(|p| p.as_raw()).collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// `ps`: with the `table` format, runs the host's `ps` with `ps_args` (default `-ef`)
    /// and keeps the header and the rows of the container's processes.
    pub fn ps_table(&self, id: &str, ps_args: &[String]) -> Result<String, RuntimeError> {
        let pids = self.pids(id)?;
        let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
        let out =
            std::process::Command::new("ps").args(&args).output().map_err(RuntimeError::io("run ps"))?;
        if !out.status.success() {
            return Err(RuntimeError::InvalidArgument(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_ps_output(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

/// Keeps the header and the lines whose PID column names one of `pids`.
pub(crate) fn filter_ps_output(out: &str, pids: &[i32]) -> Result<String, RuntimeError> {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| RuntimeError::InvalidArgument("couldn't find PID field in ps output".into()))?;
    let mut res = String::from(header);
    res.push('\n');
    for line in lines {
        let pid = line.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            res.push_str(line);
            res.push('\n');
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::filter_ps_output;

    #[test]
    fn keeps_header_and_container_rows() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:01 ? 00:00:00 sh\nroot 420 42 0 10:01 ? 00:00:00 sleep\n";
        let got = filter_ps_output(out, &[42, 420]).unwrap();
        assert_eq!(got, "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:01 ? 00:00:00 sh\nroot 420 42 0 10:01 ? 00:00:00 sleep\n");
        assert!(filter_ps_output("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
