//! How a shim is told what to run ([`ShimOptions`], as `berth-shim start` arguments) and how it
//! is started ([`launch`]): the `berth-shim` binary detaches and reports on stdout once the
//! container is created. The caller never forks by itself (std's spawn is fork+exec at once).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::logfile::{parse_size, Rotation};
use crate::ShimError;

/// Everything a shim needs to run one container.
#[derive(Debug, Clone, PartialEq)]
pub struct ShimOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    /// The OCI runtime binary (berth-runc, runc, crun).
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    pub systemd_cgroup: bool,
    /// The json-file log; none for no log.
    pub log_path: Option<PathBuf>,
    pub rotation: Rotation,
    /// Keep the container's stdin open (`-i`).
    pub stdin: bool,
}

impl ShimOptions {
    /// The arguments of `berth-shim start`.
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["start".into()];
        let mut kv = |k: &str, v: String| {
            a.push(k.into());
            a.push(v);
        };
        kv("--id", self.id.clone());
        kv("--bundle", self.bundle.display().to_string());
        kv("--state-dir", self.state_dir.display().to_string());
        kv("--runtime", self.runtime.display().to_string());
        kv("--runtime-root", self.runtime_root.display().to_string());
        kv("--log-max-size", self.rotation.max_size.to_string());
        kv("--log-max-file", self.rotation.max_file.to_string());
        if let Some(p) = &self.log_path {
            kv("--log-path", p.display().to_string());
        }
        if self.systemd_cgroup {
            a.push("--systemd-cgroup".into());
        }
        if self.stdin {
            a.push("--stdin".into());
        }
        a
    }

    /// Parses the arguments of `berth-shim start` (after `start`).
    pub fn parse_args(args: &[String]) -> Result<ShimOptions, String> {
        let mut o = ShimOptions {
            id: String::new(),
            bundle: PathBuf::new(),
            state_dir: PathBuf::new(),
            runtime: PathBuf::from("berth-runc"),
            runtime_root: PathBuf::from("/run/berth/runtime"),
            systemd_cgroup: false,
            log_path: None,
            rotation: Rotation::default(),
            stdin: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
            match a.as_str() {
                "--id" => o.id = val()?,
                "--bundle" => o.bundle = val()?.into(),
                "--state-dir" => o.state_dir = val()?.into(),
                "--runtime" => o.runtime = val()?.into(),
                "--runtime-root" => o.runtime_root = val()?.into(),
                "--log-path" => o.log_path = Some(val()?.into()),
                "--log-max-size" => {
                    let v = val()?;
                    o.rotation.max_size = parse_size(&v)
                        .ok_or(format!("invalid --log-max-size {v:?}: use bytes or 10k, 20m, 1g"))?;
                }
                "--log-max-file" => {
                    let v = val()?;
                    o.rotation.max_file = v
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or(format!("invalid --log-max-file {v:?}: at least 1"))?;
                }
                "--systemd-cgroup" => o.systemd_cgroup = true,
                "--stdin" => o.stdin = true,
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        if o.id.is_empty() || o.bundle.as_os_str().is_empty() || o.state_dir.as_os_str().is_empty() {
            return Err("--id, --bundle and --state-dir are required".into());
        }
        Ok(o)
    }
}

/// What the shim reported once the container was created.
#[derive(Debug, Clone, PartialEq)]
pub struct Launched {
    pub pid: i32,
    pub shim_pid: i32,
    pub tty: bool,
}

/// Launches a shim that creates the container (not yet started; see [`crate::ShimClient::start`]).
pub fn launch(shim_binary: &Path, opts: &ShimOptions) -> Result<Launched, ShimError> {
    std::fs::create_dir_all(&opts.state_dir)?;
    let out = Command::new(shim_binary)
        .args(opts.to_args())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| ShimError::Runtime(format!("run {}: {e}", shim_binary.display())))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        let o = ShimOptions {
            id: "c1".into(),
            bundle: "/b".into(),
            state_dir: "/s".into(),
            runtime: "/usr/sbin/runc".into(),
            runtime_root: "/r".into(),
            systemd_cgroup: true,
            log_path: Some("/s/json.log".into()),
            rotation: Rotation { max_size: 4096, max_file: 2 },
            stdin: true,
        };
        let args = o.to_args();
        assert_eq!(args[0], "start");
        assert_eq!(ShimOptions::parse_args(&args[1..]).unwrap(), o);
        let bad = |a: &[&str]| {
            ShimOptions::parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_err()
        };
        assert_eq!(bad(&["--id", "x"]), "--id, --bundle and --state-dir are required");
        assert!(bad(&["--log-max-file", "0"]).starts_with("invalid --log-max-file"));
        assert!(bad(&["--bogus"]).starts_with("unknown option"));
        assert_eq!(bad(&["--id"]), "--id needs a value");
    }
}
