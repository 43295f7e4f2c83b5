//! Starting a shim: runs the `berth-shim` binary, which detaches and reports on stdout once the
//! container is created. The caller never forks by itself (std's spawn is fork+exec at once).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::logfile::Rotation;
use crate::ShimError;

#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub shim_binary: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub systemd_cgroup: bool,
    pub log_path: Option<PathBuf>,
    pub rotation: Rotation,
    /// Keep the container's stdin open (`-i`).
    pub stdin: bool,
}

/// What the shim reported once the container was created.
#[derive(Debug, Clone, PartialEq)]
pub struct Launched {
    pub pid: i32,
    pub shim_pid: i32,
    pub tty: bool,
}

impl LaunchOptions {
    /// The command line `berth-shim start` takes.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "start".into(),
            "--id".into(),
            self.id.clone(),
            "--bundle".into(),
            self.bundle.display().to_string(),
            "--state-dir".into(),
            self.state_dir.display().to_string(),
            "--runtime".into(),
            self.runtime.display().to_string(),
            "--runtime-root".into(),
            self.runtime_root.display().to_string(),
            "--log-max-size".into(),
            self.rotation.max_size.to_string(),
            "--log-max-file".into(),
            self.rotation.max_file.to_string(),
        ];
        if let Some(p) = &self.log_path {
            a.push("--log-path".into());
            a.push(p.display().to_string());
        }
        if self.systemd_cgroup {
            a.push("--systemd-cgroup".into());
        }
        if self.stdin {
            a.push("--stdin".into());
        }
        a
    }
}

/// Launches a shim that creates the container (not yet started; see [`crate::ShimClient::start`]).
pub fn launch(opts: &LaunchOptions) -> Result<Launched, ShimError> {
    std::fs::create_dir_all(&opts.state_dir)?;
    let out = Command::new(&opts.shim_binary)
        .args(opts.args())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| ShimError::Runtime(format!("run {}: {e}", opts.shim_binary.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|_| ShimError::Protocol(format!("the shim did not report ready: {:?}", text.trim())))?;
    if v["ok"] != true {
        return Err(ShimError::Runtime(v["error"].as_str().unwrap_or("the shim failed").to_string()));
    }
    Ok(Launched {
        pid: v["pid"].as_i64().unwrap_or(0) as i32,
        shim_pid: v["shim_pid"].as_i64().unwrap_or(0) as i32,
        tty: v["tty"].as_bool().unwrap_or(false),
    })
}
