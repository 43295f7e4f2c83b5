//! The shim's control protocol, spoken on `<state-dir>/shim.sock`.
//!
//! A client sends one [`Request`] as a JSON line and reads one [`Response`] line. After a
//! successful `attach` or an attached `exec` the connection carries frames in Docker's stdcopy
//! format: an 8-byte header (`[stream, 0, 0, 0, len as u32 big-endian]`) and `len` bytes.
//! Shim → client: stream 1 stdout, 2 stderr (1 only with a tty), and for an exec a last
//! frame on stream 3 holding the JSON [`ExitStatus`] before the shim closes the connection.
//! Client → shim: stream 0 carries stdin; a stream-0 frame of length 0 closes stdin.

use serde::{Deserialize, Serialize};

pub use berth_stdcopy::{STDERR, STDIN, STDOUT, SYSTEM};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Start the created container.
    Start,
    /// Where the container is.
    State,
    /// Send a signal to the container's init (`all`: to every process, through the runtime).
    Signal {
        signal: i32,
        #[serde(default)]
        all: bool,
    },
    /// Answered when the container has exited.
    Wait,
    /// Stream the container's output (and take its stdin).
    Attach {
        #[serde(default)]
        stdin: bool,
        #[serde(default = "yes")]
        stdout: bool,
        #[serde(default = "yes")]
        stderr: bool,
    },
    /// Set the terminal size of the container (or of an exec).
    Resize {
        height: u16,
        width: u16,
        #[serde(default)]
        exec_id: Option<String>,
    },
    /// Run a process in the container: `process` is the OCI process object.
    Exec {
        exec_id: String,
        process: serde_json::Value,
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        detach: bool,
    },
    /// cgroup statistics, as `runc events --stats` prints them.
    Stats,
    /// Freeze every process of the container.
    Pause,
    /// Thaw it.
    Resume,
    /// Change its cgroup limits: `resources` is an OCI `LinuxResources` object.
    Update { resources: serde_json::Value },
    /// The pids of its processes.
    Top,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With an error: `conflict`, `invalid` or `runtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Vec<i32>>,
}

impl Response {
    pub fn ok() -> Response {
        Response { ok: true, ..Default::default() }
    }
    pub fn err(kind: &str, msg: impl Into<String>) -> Response {
        Response { ok: false, kind: Some(kind.into()), error: Some(msg.into()), ..Default::default() }
    }
}

/// How a container (or exec) ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExitStatus {
    pub exit_code: i32,
    #[serde(default)]
    pub oom_killed: bool,
    /// RFC 3339 with nanoseconds.
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
}

/// Docker's stdcopy framing, as the shim's attach and exec connections carry it.
pub use berth_stdcopy::{header as frame_header, parse_frames, read_frame, write_frame};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_json_lines_with_op() {
        let cases = [
            (Request::Start, r#"{"op":"start"}"#),
            (Request::Signal { signal: 15, all: false }, r#"{"op":"signal","signal":15,"all":false}"#),
            (
                Request::Resize { height: 24, width: 80, exec_id: None },
                r#"{"op":"resize","height":24,"width":80,"exec_id":null}"#,
            ),
        ];
        for (req, text) in cases {
            assert_eq!(serde_json::to_string(&req).unwrap(), text);
            assert_eq!(serde_json::from_str::<Request>(text).unwrap(), req);
        }
        let a: Request = serde_json::from_str(r#"{"op":"attach","stdin":true}"#).unwrap();
        assert_eq!(a, Request::Attach { stdin: true, stdout: true, stderr: true });
        assert!(serde_json::from_str::<Request>(r#"{"op":"nope"}"#).is_err());
    }

    #[test]
    fn frames_round_trip_and_split() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDOUT, b"hello").unwrap();
        write_frame(&mut buf, STDERR, b"").unwrap();
        write_frame(&mut buf, STDIN, b"abc").unwrap();
        let (frames, used) = parse_frames(&buf[..buf.len() - 1]);
        assert_eq!(frames, vec![(STDOUT, &b"hello"[..]), (STDERR, &b""[..])]);
        assert_eq!(used, 21);
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDOUT, b"hello".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDERR, vec![])));
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDIN, b"abc".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }
}
