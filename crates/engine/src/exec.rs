//! Execs: `exec create` records what to run; `exec start` builds the OCI process from the
//! container's own (user, capabilities, environment, working directory) with the exec's
//! changes and hands it to the shim, attached or detached. The exit code comes back on the
//! stream; a detached exec's stream is drained by the daemon for it.

use std::sync::{Arc, Mutex};

use berth_api::models::ExecConfig;
use berth_shim::Attached;
use serde_json::json;

use super::failure::{self, Failure, Stage};
use super::{Container, Engine};
use crate::error::{EngineError, Result};
use berth_api::Kinded;

#[derive(Debug, Default, Clone)]
pub struct ExecState {
    pub running: bool,
    pub started: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
}

pub struct ExecEntry {
    pub id: String,
    pub container: String,
    pub config: ExecConfig,
    pub state: Mutex<ExecState>,
}

impl ExecEntry {
    pub fn state(&self) -> ExecState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The name the shim knows an exec by: short, because the shim names a console socket after it
/// and socket paths are limited to 108 bytes.
fn shim_exec_id(id: &str) -> &str {
    &id[..id.len().min(16)]
}

/// Reads an exec's stream to its end: its exit code (from the last frame) and the first `keep`
/// bytes of its output.
pub(crate) fn drain_exec(stream: &mut std::os::unix::net::UnixStream, keep: usize) -> (Option<i64>, Vec<u8>) {
    let (mut code, mut out) = (None, Vec::new());
    while let Ok(Some((s, data))) = berth_shim::protocol::read_frame(stream) {
        if s == berth_shim::protocol::SYSTEM {
            code = serde_json::from_slice::<berth_shim::ExitStatus>(&data).ok().map(|x| x.exit_code as i64);
        } else if out.len() < keep {
            out.extend_from_slice(&data[..data.len().min(keep - out.len())]);
        }
    }
    (code, out)
}

/// Whether `cwd` is a directory as the container whose first process is `pid` sees it (its
/// volumes and binds included), resolved beneath its root.
fn dir_in_container(pid: i64, cwd: &str) -> bool {
    let Ok(root) = std::fs::File::open(format!("/proc/{pid}/root")) else { return true };
    let rel = std::path::Path::new(cwd.trim_start_matches('/'));
    berth_archive::open_in_root(std::os::fd::AsRawFd::as_raw_fd(&root), rel, libc::O_PATH | libc::O_DIRECTORY)
        .is_ok()
}

impl Engine {
    pub fn exec_create(&self, c: &Arc<Container>, config: ExecConfig) -> Result<String> {
        let rec = c.snapshot();
        match rec.state.status {
            super::Status::Running => {}
            super::Status::Paused => {
                return Err(EngineError::Conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                )))
            }
            _ => return Err(EngineError::Conflict(format!("Container {} is not running", rec.id))),
        }
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(EngineError::InvalidArgument("No exec command specified".into()));
        }
        if let Some(k) = config.detach_keys.as_deref().filter(|k| !k.is_empty()) {
            berth_api::detachkeys::parse(k)?;
        }
        let id = berth_sys::new_id();
        let e = Arc::new(ExecEntry {
            id: id.clone(),
            container: c.id.clone(),
            config,
            state: Mutex::new(ExecState::default()),
        });
        self.execs.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), e);
        c.exec_ids.lock().unwrap_or_else(|e| e.into_inner()).push(id.clone());
        self.event(c, "exec_create", &[("execID", id.clone())]);
        self.primer.prime_for(super::create::AFTER_CREATE);
        Ok(id)
    }

    pub fn exec_entry(&self, id: &str) -> Result<Arc<ExecEntry>> {
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("No such exec instance: {id}")))
    }

    /// Checks that an exec can start (exists, not started, its container running).
    pub fn exec_check(&self, id: &str) -> Result<Arc<ExecEntry>> {
        let e = self.exec_entry(id)?;
        if e.state().started {
            return Err(EngineError::Conflict(format!("Error: Exec command {id} has already run")));
        }
        let c = self.container(&e.container)?;
        if !c.rec().state.status.is_live() {
            return Err(EngineError::Conflict(format!("Container {} is not running", c.id)));
        }
        Ok(e)
    }

    pub(crate) fn forget_execs(&self, container: &str) {
        self.execs.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, e| e.container != container);
    }

    /// The OCI process of an exec: the container's process with the exec's command, tty,
    /// environment, working directory, user and privileges.
    pub(crate) fn exec_process(&self, c: &Container, cfg: &ExecConfig) -> Result<serde_json::Value> {
        let bundle = self.run_dir(&c.id);
        let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(bundle.join("config.json"))?)
            .map_err(|e| EngineError::internal("the container's runtime spec", e))?;
        let mut p = spec["process"].clone();
        if let Some(o) = p.as_object_mut() {
            o.remove("consoleSize");
        }
        p["args"] = json!(cfg.cmd.clone().unwrap_or_default());
        let tty = cfg.tty.unwrap_or(false);
        p["terminal"] = json!(tty);
        let base: Vec<String> =
            p["env"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
        let mut extra = cfg.env.clone().unwrap_or_default();
        if tty && !base.iter().chain(extra.iter()).any(|e| e.starts_with("TERM=")) {
            extra.push("TERM=xterm".into());
        }
        p["env"] = json!(berth_spec::merge_env(&base, &extra));
        if let Some(w) = cfg.working_dir.as_deref().filter(|w| !w.is_empty()) {
            p["cwd"] = json!(w);
        }
        if let Some(u) = cfg.user.as_deref().filter(|u| !u.is_empty()) {
            let root = bundle.join("rootfs");
            let passwd = super::rootfs::read_in_root(&root, "etc/passwd").unwrap_or_default();
            let group = super::rootfs::read_in_root(&root, "etc/group").unwrap_or_default();
            let r = berth_spec::resolve_user(u, &[], &passwd, &group)?;
            p["user"] = json!({"uid": r.uid, "gid": r.gid, "additionalGids": r.additional_gids});
            if r.uid != 0 {
                let bounding = p["capabilities"]["bounding"].clone();
                p["capabilities"] = json!({"bounding": bounding});
            }
        }
        if cfg.privileged.unwrap_or(false) {
            let caps = &self.host.bounding_caps;
            p["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
        }
        Ok(p)
    }

    /// Starts an exec. Attached: returns the stream (frames; exit status last). Detached: the
    /// daemon drains it and records the exit.
    pub fn exec_start(
        self: &Arc<Self>,
        id: &str,
        detach: bool,
    ) -> Result<(Arc<ExecEntry>, Option<Attached>)> {
        let e = self.exec_check(id)?;
        {
            let mut st = e.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.started {
                return Err(EngineError::Conflict(format!("Error: Exec command {id} has already run")));
            }
            st.started = true;
            st.running = true;
        }
        let c = self.container(&e.container)?;
        let stdin = e.config.attach_stdin.unwrap_or(false) && !detach;
        let started = (|| -> std::result::Result<Attached, Failure> {
            let process = self.exec_process(&c, &e.config).map_err(|err| Failure {
                message: err.to_string(),
                exit_code: 126,
                not_runnable: err.kind() != berth_api::ErrorKind::Internal,
            })?;
            if let Some(cwd) = process["cwd"].as_str() {
                if !dir_in_container(c.rec().state.pid, cwd) {
                    return Err(failure::missing_cwd(Stage::Exec, cwd));
                }
            }
            let _primed = self.primer.hold();
            self.shim(&c.id)
                .exec(shim_exec_id(id), process, stdin, false)
                .map_err(|err| failure::translate(Stage::Exec, &err.to_string()))
        })();
        let attached = match started {
            Ok(a) => a,
            Err(f) => {
                // Recorded before the answer: `exec inspect` right after shows the exit code.
                self.exec_finished(&e, Some(f.exit_code));
                return Err(if f.not_runnable {
                    EngineError::InvalidArgument(f.message)
                } else {
                    EngineError::Internal(f.message)
                });
            }
        };
        e.state.lock().unwrap_or_else(|e| e.into_inner()).pid = attached.pid.unwrap_or(0) as i64;
        self.event(&c, "exec_start", &[("execID", id.to_string())]);
        if detach {
            let engine = self.clone();
            let entry = e.clone();
            let mut stream = attached.stream;
            std::thread::spawn(move || {
                let (code, _) = drain_exec(&mut stream, 0);
                engine.exec_finished(&entry, code);
            });
            return Ok((e, None));
        }
        Ok((e, Some(attached)))
    }

    /// Records an exec's end.
    pub fn exec_finished(&self, e: &ExecEntry, code: Option<i64>) {
        {
            let mut st = e.state.lock().unwrap_or_else(|e| e.into_inner());
            st.running = false;
            st.exit_code = Some(code.unwrap_or(-1));
        }
        if let Ok(c) = self.container(&e.container) {
            self.event(
                &c,
                "exec_die",
                &[("execID", e.id.clone()), ("exitCode", code.unwrap_or(-1).to_string())],
            );
        }
    }

    pub fn exec_resize(&self, id: &str, h: u16, w: u16) -> Result<()> {
        let e = self.exec_entry(id)?;
        Ok(self.shim(&e.container).resize(h, w, Some(shim_exec_id(id)))?)
    }

    pub fn exec_inspect(&self, id: &str) -> Result<serde_json::Value> {
        let e = self.exec_entry(id)?;
        let st = e.state();
        let cmd = e.config.cmd.clone().unwrap_or_default();
        Ok(json!({
            "CanRemove": false,
            "ContainerID": e.container,
            "DetachKeys": e.config.detach_keys.clone().unwrap_or_default(),
            "ExitCode": st.exit_code,
            "ID": e.id,
            "OpenStderr": e.config.attach_stderr.unwrap_or(false),
            "OpenStdin": e.config.attach_stdin.unwrap_or(false),
            "OpenStdout": e.config.attach_stdout.unwrap_or(false),
            "ProcessConfig": {
                "arguments": cmd.get(1..).unwrap_or_default(),
                "entrypoint": cmd.first().cloned().unwrap_or_default(),
                "privileged": e.config.privileged.unwrap_or(false),
                "tty": e.config.tty.unwrap_or(false),
                "user": e.config.user.clone().unwrap_or_default(),
            },
            "Running": st.running,
            "Pid": st.pid,
        }))
    }
}
