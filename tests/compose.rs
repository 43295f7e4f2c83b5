//! What the compose suites share: `berth compose` run against a test daemon from a project's
//! directory, and a plain HTTP GET of a published port.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::daemon::Berthd;

/// `berth compose ARGS` against `d`, in `dir`, with `env` set and Compose's own variables of
/// this process's environment left out.
pub fn command(d: &Berthd, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(crate::env().bin_dir.join("berth"));
    c.arg("compose").current_dir(dir).env("DOCKER_HOST", d.host());
    for v in ["COMPOSE_PROFILES", "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_REMOVE_ORPHANS"] {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

pub fn run(d: &Berthd, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(d, dir, env).args(args).stdin(Stdio::null()).output().unwrap()
}

/// Runs `berth compose`; panics with its stderr and the daemon's log unless it succeeds.
/// Returns stdout and stderr.
#[track_caller]
pub fn ok(d: &Berthd, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = run(d, dir, args, env);
    assert!(
        out.status.success(),
        "berth compose {args:?} ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        d.log_text()
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// An HTTP/1.0 GET of `path` from `addr` (`ip:port`): the body.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}
