//! Keeps the kernel's cgroup-migration path open while containers start.
//!
//! Every runtime puts a container's first process (and every exec'd one) into the container's
//! cgroups by writing its pid to `cgroup.procs`. For that write the kernel takes one global lock,
//! `cgroup_threadgroup_rwsem`, for writing, and taking it from idle waits for an RCU grace period:
//! 10–25 ms on a 250 Hz kernel such as this one, the largest single cost of a start. Once a writer
//! has left, the lock stays on its fast path for about one more grace period, and writers in that
//! window do not wait.
//!
//! The primer makes no-op migrations (the daemon's own pid into the cgroup it is already in)
//! every few milliseconds while a start or an exec is on its way: the grace period is then waited
//! for by the primer, in parallel with preparing the bundle and launching the shim, and the
//! runtime's own write finds the path open. Hosts whose cgroup hierarchy is mounted with
//! `favordynmods` (systemd does it on cgroup v2) keep the path open permanently; priming changes
//! nothing there. If the write fails (no cgroup file found, a read-only cgroupfs) the primer turns
//! itself off: it only ever saves time.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a primed path is written: well inside the window a writer leaves open (one grace
/// period, ~10 ms here).
const INTERVAL: Duration = Duration::from_millis(4);

/// The `cgroup.procs` files of the cgroups a process is in, from its `/proc/<pid>/cgroup`, under
/// the usual mounts (`/sys/fs/cgroup` for v2; `/sys/fs/cgroup/<controllers>` for v1, named
/// hierarchies without their `name=`; `/sys/fs/cgroup/unified` for a hybrid's v2 part). Any one
/// of them will do: the lock is global.
pub(crate) fn procs_files(proc_cgroup: &str, unified: bool) -> Vec<PathBuf> {
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

#[derive(Default)]
struct State {
    holds: usize,
    until: Option<Instant>,
    running: bool,
    off: bool,
}

impl State {
    fn wanted(&self, now: Instant) -> bool {
        self.holds > 0 || self.until.is_some_and(|u| now < u)
    }
}

/// Primes the cgroup-migration path on request; see the module's text. Cheap to clone.
#[derive(Clone)]
pub struct Primer {
    inner: Arc<(Mutex<State>, Condvar)>,
    unified: bool,
}

/// Keeps the path primed until dropped.
pub struct Hold(Primer);

impl Drop for Hold {
    fn drop(&mut self) {
        let (m, _) = &*self.0.inner;
        let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
        st.holds = st.holds.saturating_sub(1);
    }
}

impl Primer {
    pub fn new(unified: bool) -> Self {
        Primer { inner: Arc::new((Mutex::new(State::default()), Condvar::new())), unified }
    }

    /// Primes until the returned guard is dropped: around a start or an exec.
    pub fn hold(&self) -> Hold {
        self.update(|st| st.holds += 1);
        Hold(self.clone())
    }

    /// Primes for `d` at least: after a create, which a start usually follows within milliseconds.
    pub fn prime_for(&self, d: Duration) {
        let until = Instant::now() + d;
        self.update(|st| st.until = Some(st.until.map_or(until, |u| u.max(until))));
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let (m, cv) = &*self.inner;
        let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut st);
        if st.off {
            return;
        }
        if !st.running {
            let me = self.clone();
            match std::thread::Builder::new().name("cgroup-primer".into()).spawn(move || me.run()) {
                Ok(_) => st.running = true,
                Err(e) => {
                    tracing::debug!(error = %e, "cgroup primer: no thread; starts are not primed");
                    st.off = true;
                }
            }
        }
        cv.notify_one();
    }

    fn run(&self) {
        let (m, cv) = &*self.inner;
        loop {
            {
                let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let now = Instant::now();
                    if st.wanted(now) {
                        break;
                    }
                    st = match st.until.filter(|u| *u > now) {
                        Some(u) => cv.wait_timeout(st, u - now).unwrap_or_else(|e| e.into_inner()).0,
                        None => cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                    };
                }
            }
            if let Err(e) = self.migrate() {
                tracing::debug!(error = %e, "cgroup primer: cannot write cgroup.procs; starts are not primed");
                let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                st.off = true;
                st.running = false;
                return;
            }
            std::thread::sleep(INTERVAL);
        }
    }

    /// Moves this process into the cgroup it is in (read afresh, so that a daemon moved by its
    /// service manager is never moved back).
    fn migrate(&self) -> std::io::Result<()> {
        let own = std::fs::read_to_string("/proc/self/cgroup")?;
        let pid = std::process::id().to_string();
        let mut last =
            std::io::Error::new(std::io::ErrorKind::NotFound, "no cgroup.procs file for this process");
        for f in procs_files(&own, self.unified) {
            match std::fs::write(&f, &pid) {
                Ok(()) => return Ok(()),
                Err(e) => last = std::io::Error::new(e.kind(), format!("{}: {e}", f.display())),
            }
        }
        Err(last)
    }

    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.inner.0.lock().unwrap().running
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
    fn a_hold_keeps_priming_and_a_deadline_ends() {
        let p = Primer::new(berth_spec::host::cgroup_v2());
        {
            let _h = p.hold();
            std::thread::sleep(Duration::from_millis(30));
            let st = p.inner.0.lock().unwrap();
            assert!(st.wanted(Instant::now()));
        }
        assert!(!p.inner.0.lock().unwrap().wanted(Instant::now()));
        p.prime_for(Duration::from_millis(20));
        assert!(p.inner.0.lock().unwrap().wanted(Instant::now()));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!p.inner.0.lock().unwrap().wanted(Instant::now()));
        // As root with cgroupfs mounted the thread keeps running, waiting for the next start;
        // anywhere else it has turned itself off.
        let writable = std::fs::read_to_string("/proc/self/cgroup")
            .map(|t| {
                procs_files(&t, berth_spec::host::cgroup_v2())
                    .iter()
                    .any(|f| std::fs::OpenOptions::new().write(true).open(f).is_ok())
            })
            .unwrap_or(false);
        assert_eq!(p.is_running(), writable);
    }
}
