//! Keeps the kernel's cgroup-migration path open while containers start.
//!
//! Every runtime puts a container's first process (and every exec'd one) into the container's
//! cgroups by writing its pid to `cgroup.procs`. For that write the kernel takes one global lock,
//! `cgroup_threadgroup_rwsem`, for writing, and taking it from idle waits for an RCU grace period:
//! 10–25 ms on a 250 Hz kernel such as this one, the largest single cost of a start. Once a writer
//! has left, the lock stays on its fast path for about one more grace period, and writers in that
//! window do not wait.
//!
//! While a start or an exec is on its way the daemon keeps a `berth-shim prime` process running
//! ([`berth_shim::prime`]), which makes no-op migrations of itself every few milliseconds: the
//! grace period is then waited for by that process, in parallel with preparing the bundle and
//! launching the shim, and the runtime's own write finds the path open. The writes are a
//! separate process's so that the daemon itself is never migrated (a write racing a move of the
//! daemon by its service manager would move it back). Hosts whose cgroup hierarchy is mounted
//! with `favordynmods` (systemd does it on cgroup v2) keep the path open permanently; priming
//! changes nothing there. If the helper cannot write (no cgroup file, a read-only cgroupfs) the
//! primer turns itself off: it only ever saves time.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
    /// The shim binary, whose `prime` command does the writes.
    helper: PathBuf,
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
    pub fn new(helper: PathBuf) -> Self {
        Primer { inner: Arc::new((Mutex::new(State::default()), Condvar::new())), helper }
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

    /// Waits for priming to be wanted, runs the helper while it is, and so on; turns the primer
    /// off for good when the helper fails.
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
            if let Err(e) = self.prime_while_wanted() {
                tracing::debug!(error = %e, "cgroup primer: off; starts are not primed");
                let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
                st.off = true;
                st.running = false;
                return;
            }
        }
    }

    /// Runs `berth-shim prime` until priming is no longer wanted, then closes its stdin and
    /// reaps it.
    fn prime_while_wanted(&self) -> Result<(), String> {
        let mut child = Command::new(&self.helper)
            .arg("prime")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{} prime: {e}", self.helper.display()))?;
        let (m, _) = &*self.inner;
        loop {
            std::thread::sleep(berth_shim::prime::INTERVAL);
            if let Ok(Some(_)) = child.try_wait() {
                return Err(failure(child));
            }
            if !m.lock().unwrap_or_else(|e| e.into_inner()).wanted(Instant::now()) {
                break;
            }
        }
        drop(child.stdin.take());
        match child.wait() {
            Ok(s) if s.success() => Ok(()),
            _ => Err(failure(child)),
        }
    }

    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.inner.0.lock().unwrap().running
    }
}

/// What a helper that ended on its own said.
fn failure(mut child: Child) -> String {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    format!("the helper ended: {}", err.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_keeps_priming_and_a_deadline_ends() {
        // A helper that primes nothing and ends when its stdin closes, as the real one does.
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("helper");
        std::fs::write(&helper, "#!/bin/sh\ncat >/dev/null\n").unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let p = Primer::new(helper);
        {
            let _h = p.hold();
            std::thread::sleep(Duration::from_millis(30));
            assert!(p.inner.0.lock().unwrap().wanted(Instant::now()));
        }
        assert!(!p.inner.0.lock().unwrap().wanted(Instant::now()));
        p.prime_for(Duration::from_millis(20));
        assert!(p.inner.0.lock().unwrap().wanted(Instant::now()));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!p.inner.0.lock().unwrap().wanted(Instant::now()));
        assert!(p.is_running(), "a helper that ends when told keeps the primer on");
    }

    #[test]
    fn a_helper_that_fails_turns_priming_off() {
        let p = Primer::new(PathBuf::from("/bin/false"));
        let _h = p.hold();
        std::thread::sleep(Duration::from_millis(100));
        let st = p.inner.0.lock().unwrap();
        assert!(st.off && !st.running);
    }
}
