//! Runs an OCI runtime binary with runc's command line (berth-runc, runc, crun): the shim is the
//! only caller, so containers are always created from the shim's single-threaded process.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_sys::handoff;

use crate::ShimError;

#[derive(Debug, Clone)]
pub struct RuntimeCmd {
    pub binary: PathBuf,
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    /// The runtime's `--log` (JSON), read back for error messages.
    pub log: PathBuf,
}

impl RuntimeCmd {
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        // The shim blocks SIGCHLD (for its signalfd) and ignores SIGPIPE; the runtime, and the
        // container it creates, must start with a clean signal mask and default dispositions.
        // SAFETY: between fork and exec only async-signal-safe calls (sigprocmask, signal) run.
        unsafe {
            c.pre_exec(|| {
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                Ok(())
            });
        }
        c.arg("--root").arg(&self.root).arg("--log").arg(&self.log).arg("--log-format").arg("json");
        if self.systemd_cgroup {
            c.arg("--systemd-cgroup");
        }
        c
    }

    /// Runs `cmd` to completion; on failure the error carries the runtime's own message.
    pub fn run(&self, mut cmd: Command, what: &str) -> Result<Vec<u8>, ShimError> {
        let log_len = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let out = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| ShimError::Runtime(format!("{what}: run {}: {e}", self.binary.display())))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(ShimError::Runtime(format!("{what}: {}", self.error_message(log_len, &out.stderr))))
    }

    /// Runs `create` (whose stdio belongs to the container) and offers it the start hand-off
    /// ([`handoff`]). Returns the socket of a runtime that stays to start the container
    /// (berth-runc), `None` when the runtime exited after creating it (any other).
    pub fn create(&self, mut cmd: Command) -> Result<Option<UnixStream>, ShimError> {
        let log_len = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let (mut ours, theirs) = UnixStream::pair()?;
        let fd = theirs.as_raw_fd();
        cmd.env(handoff::START_FD_ENV, fd.to_string());
        // SAFETY: fcntl is async-signal-safe; it only lets the runtime inherit its end.
        unsafe {
            cmd.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        let spawned = cmd.spawn();
        // Our copies of the child's ends go now: EOF on the container's pipes must be seen.
        drop(cmd);
        drop(theirs);
        let mut child =
            spawned.map_err(|e| ShimError::Runtime(format!("create: run {}: {e}", self.binary.display())))?;
        // Whichever comes first: the runtime says it waits, or it exits. (Its end of the socket
        // may live on in the container's init until that execs, so no end of stream is awaited.)
        let exited = berth_sys::pidfd_open(child.id() as i32)?;
        let said = handoff::readable_first(&ours, &exited)?;
        if said && handoff::is_waiting(&mut ours) {
            // The shim reaps it with the rest of its children once it has started the container.
            return Ok(Some(ours));
        }
        let st = child.wait()?;
        if st.success() {
            return Ok(None);
        }
        Err(ShimError::Runtime(format!("create: {}", self.error_message(log_len, b""))))
    }

    /// Runs `cmd` whose stdio belongs to the container; on failure the error is the one the
    /// runtime logged.
    pub fn status(&self, mut cmd: Command, what: &str) -> Result<(), ShimError> {
        let log_len = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let st = cmd
            .status()
            .map_err(|e| ShimError::Runtime(format!("{what}: run {}: {e}", self.binary.display())))?;
        if st.success() {
            return Ok(());
        }
        Err(ShimError::Runtime(format!("{what}: {}", self.error_message(log_len, b""))))
    }

    /// The last error the runtime logged since `from` bytes into its log, else its stderr.
    fn error_message(&self, from: u64, stderr: &[u8]) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let tail = String::from_utf8_lossy(log.get(from as usize..).unwrap_or_default()).into_owned();
        let logged = tail
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error" || v["level"] == "fatal")
            .filter_map(|v| v["msg"].as_str().map(String::from))
            .next();
        logged.unwrap_or_else(|| {
            let s = String::from_utf8_lossy(stderr).trim().to_string();
            if s.is_empty() {
                "the runtime failed without a message".into()
            } else {
                s
            }
        })
    }

    pub fn start(&self, id: &str) -> Result<(), ShimError> {
        let mut c = self.command();
        c.arg("start").arg(id).stdin(Stdio::null());
        self.run(c, "start").map(|_| ())
    }

    pub fn kill_all(&self, id: &str, signal: i32) -> Result<(), ShimError> {
        let mut c = self.command();
        c.args(["kill", "--all", id, &signal.to_string()]).stdin(Stdio::null());
        self.run(c, "kill").map(|_| ())
    }

    pub fn delete(&self, id: &str) -> Result<(), ShimError> {
        let mut c = self.command();
        c.args(["delete", "--force", id]).stdin(Stdio::null());
        self.run(c, "delete").map(|_| ())
    }

    /// `pause`/`resume`: `verb` is either.
    pub fn freeze(&self, id: &str, verb: &str) -> Result<(), ShimError> {
        let mut c = self.command();
        c.args([verb, id]).stdin(Stdio::null());
        self.run(c, verb).map(|_| ())
    }

    /// Applies a resources document (written to `file` first) to the running container.
    pub fn update(&self, id: &str, resources: &serde_json::Value, file: &Path) -> Result<(), ShimError> {
        std::fs::write(file, serde_json::to_vec(resources).map_err(|e| ShimError::Protocol(e.to_string()))?)?;
        let mut c = self.command();
        c.arg("update").arg("--resources").arg(file).arg(id).stdin(Stdio::null());
        let r = self.run(c, "update").map(|_| ());
        let _ = std::fs::remove_file(file);
        r
    }

    pub fn pids(&self, id: &str) -> Result<Vec<i32>, ShimError> {
        let mut c = self.command();
        c.args(["ps", "--format", "json", id]).stdin(Stdio::null());
        let out = self.run(c, "ps")?;
        serde_json::from_slice(&out)
            .map_err(|e| ShimError::Runtime(format!("ps: the runtime printed no pid list: {e}")))
    }

    pub fn stats(&self, id: &str) -> Result<serde_json::Value, ShimError> {
        let mut c = self.command();
        c.args(["events", "--stats", id]).stdin(Stdio::null());
        let out = self.run(c, "stats")?;
        serde_json::from_slice(&out)
            .map_err(|e| ShimError::Runtime(format!("stats: the runtime printed no JSON: {e}")))
    }
}

/// Reads a pid file a runtime wrote.
pub fn read_pid(path: &Path) -> Result<i32, ShimError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ShimError::Runtime(format!("read {}: {e}", path.display())))?;
    text.trim().parse().map_err(|_| ShimError::Runtime(format!("{} holds no pid: {text:?}", path.display())))
}
