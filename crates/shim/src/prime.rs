//! `berth-shim prime`: keeps the kernel's cgroup-migration lock on its fast path while the daemon
//! starts containers (see the daemon's `engine/primer.rs` for why).
//!
//! Every runtime moves a container's first process into its cgroups by writing to
//! `cgroup.procs`, and that write takes the kernel's global `cgroup_threadgroup_rwsem`, which from
//! idle waits for an RCU grace period (10–25 ms on a 250 Hz kernel). For about one grace period
//! after a writer has left, writers do not wait. This process makes such writes, no-op ones (its
//! own pid into the cgroup it is in), every few milliseconds until its stdin closes. It is a
//! process of its own, not the daemon, so that a move of the daemon by its service manager can
//! never be undone by a write that read the daemon's cgroup just before the move.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// How often the lock is taken: well inside the window a writer leaves open (~10 ms here).
pub const INTERVAL: Duration = Duration::from_millis(4);

/// The `cgroup.procs` files of the cgroups a process is in, from its `/proc/<pid>/cgroup`, under
/// the usual mounts (`/sys/fs/cgroup` for v2; `/sys/fs/cgroup/<controllers>` for v1, named
/// hierarchies without their `name=`; `/sys/fs/cgroup/unified` for a hybrid's v2 part). Any one
/// of them will do: the lock is global.
pub fn procs_files(proc_cgroup: &str, unified: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else { continue };
        let Some(rel) = path.strip_prefix('/') else { continue };
        let mount = match (ctrls, unified) {
            ("", true) => PathBuf::from("/sys/fs/cgroup"),
            ("", false) => PathBuf::from("/sys/fs/cgroup/unified"),
            (_, true) => continue,
            (c, false) => PathBuf::from("/sys/fs/cgroup").join(c.strip_prefix("name=").unwrap_or(c)),
        };
        let dir = if rel.is_empty() { mount } else { mount.join(rel) };
        out.push(dir.join("cgroup.procs"));
    }
    out
}

/// Moves this process into the cgroup it is in (read afresh each time).
fn migrate(unified: bool) -> std::io::Result<()> {
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let pid = std::process::id().to_string();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no cgroup.procs file for this process");
    for f in procs_files(&own, unified) {
        match std::fs::write(&f, &pid) {
            Ok(()) => return Ok(()),
            Err(e) => last = std::io::Error::new(e.kind(), format!("{}: {e}", f.display())),
        }
    }
    Err(last)
}

/// Primes until `stop` becomes readable or hangs up (the daemon closed its end, or died). An
/// error means no write could be made: priming cannot work on this host.
pub fn run(stop: impl AsFd) -> std::io::Result<()> {
    let unified = berth_sys::cgroup_v2();
    loop {
        migrate(unified)?;
        let mut fds = [PollFd::new(stop.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(INTERVAL.as_millis() as u16)) {
            Ok(0) => continue,
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_procs_files_follow_the_cgroup_layout() {
        let hybrid = "12:pids:/user.slice\n11:cpu,cpuacct:/\n2:name=systemd:/init.scope\n0::/init.scope\n";
        let v2 = "0::/system.slice/berthd.service\n";
        let cases: &[(&str, bool, &[&str])] = &[
            (
                hybrid,
                false,
                &[
                    "/sys/fs/cgroup/pids/user.slice/cgroup.procs",
                    "/sys/fs/cgroup/cpu,cpuacct/cgroup.procs",
                    "/sys/fs/cgroup/systemd/init.scope/cgroup.procs",
                    "/sys/fs/cgroup/unified/init.scope/cgroup.procs",
                ],
            ),
            (v2, true, &["/sys/fs/cgroup/system.slice/berthd.service/cgroup.procs"]),
            ("0::/\n", true, &["/sys/fs/cgroup/cgroup.procs"]),
            // v1 lines on a unified host do not exist; garbage and relative paths are skipped.
            ("3:memory:/a\n0::/b\n", true, &["/sys/fs/cgroup/b/cgroup.procs"]),
            ("garbage\n1:pids:relative\n", false, &[]),
            ("", false, &[]),
        ];
        for (text, unified, want) in cases {
            let got: Vec<PathBuf> = procs_files(text, *unified);
            let want: Vec<PathBuf> = want.iter().map(PathBuf::from).collect();
            assert_eq!(got, want, "{text:?} unified={unified}");
        }
    }

    #[test]
    fn priming_ends_when_the_daemon_closes_its_end() {
        let writable = std::fs::read_to_string("/proc/self/cgroup")
            .map(|t| {
                procs_files(&t, berth_sys::cgroup_v2())
                    .iter()
                    .any(|f| std::fs::OpenOptions::new().write(true).open(f).is_ok())
            })
            .unwrap_or(false);
        let (rd, wr) = std::io::pipe().unwrap();
        let t = std::thread::spawn(move || run(rd));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(t.is_finished(), !writable, "primes while it can write, gives up at once if not");
        drop(wr);
        let ended = t.join().unwrap();
        assert_eq!(ended.is_ok(), writable, "{ended:?}");
    }
}
