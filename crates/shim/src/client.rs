//! The client side of the control socket: what the daemon (and a restarted daemon) uses.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::protocol::{write_frame, Request, Response, STDIN};
use crate::status::{read_json, ShimRecord, EXIT_RECORD, SHIM_RECORD, SOCKET};
use crate::{ExitStatus, ShimError};

/// A handle on one container's shim, by its state directory.
#[derive(Debug, Clone)]
pub struct ShimClient {
    dir: PathBuf,
}

/// A live attach (or attached exec) stream: frames in Docker's stdcopy format.
pub struct Attached {
    pub stream: UnixStream,
    pub tty: bool,
    pub pid: Option<i32>,
}

impl Attached {
    /// Sends stdin data to the process.
    pub fn send_stdin(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write_frame(&mut self.stream, STDIN, data)
    }

    /// Closes the process's stdin.
    pub fn close_stdin(&mut self) -> std::io::Result<()> {
        write_frame(&mut self.stream, STDIN, &[])
    }
}

impl ShimClient {
    pub fn new(state_dir: impl Into<PathBuf>) -> ShimClient {
        ShimClient { dir: state_dir.into() }
    }

    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// The record the shim wrote once the container was created.
    pub fn record(&self) -> Result<Option<ShimRecord>, ShimError> {
        Ok(read_json(&self.dir, SHIM_RECORD)?)
    }

    /// How the container ended, if it has.
    pub fn exit_record(&self) -> Result<Option<ExitStatus>, ShimError> {
        Ok(read_json(&self.dir, EXIT_RECORD)?)
    }

    fn connect(&self) -> Result<UnixStream, ShimError> {
        UnixStream::connect(self.dir.join(SOCKET)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ShimError::NotFound(format!("{}: the shim is not running", self.dir.display()))
            }
            _ => ShimError::Io(e),
        })
    }

    /// Sends one request on a new connection; returns the connection and the response. The
    /// response line is read without buffering: stream frames may follow it on the same socket.
    fn call(&self, req: &Request) -> Result<(UnixStream, Response), ShimError> {
        let mut sock = self.connect()?;
        let mut line = serde_json::to_vec(req).map_err(|e| ShimError::Protocol(e.to_string()))?;
        line.push(b'\n');
        sock.write_all(&line)?;
        let text = read_line_unbuffered(&mut sock)?;
        if text.is_empty() {
            return Err(ShimError::Protocol("the shim closed the connection without answering".into()));
        }
        let resp: Response = serde_json::from_slice(&text).map_err(|e| ShimError::Protocol(e.to_string()))?;
        if !resp.ok {
            let msg = resp.error.unwrap_or_default();
            return Err(match resp.kind.as_deref() {
                Some("conflict") => ShimError::Conflict(msg),
                Some("invalid") => ShimError::InvalidArgument(msg),
                _ => ShimError::Runtime(msg),
            });
        }
        Ok((sock, resp))
    }

    pub fn request(&self, req: &Request) -> Result<Response, ShimError> {
        self.call(req).map(|(_, r)| r)
    }

    /// Starts the created container; returns its init's pid.
    pub fn start(&self) -> Result<i32, ShimError> {
        Ok(self.request(&Request::Start)?.pid.unwrap_or(0))
    }

    pub fn signal(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        self.request(&Request::Signal { signal, all }).map(|_| ())
    }

    pub fn resize(&self, height: u16, width: u16, exec_id: Option<&str>) -> Result<(), ShimError> {
        self.request(&Request::Resize { height, width, exec_id: exec_id.map(String::from) }).map(|_| ())
    }

    pub fn stats(&self) -> Result<serde_json::Value, ShimError> {
        Ok(self.request(&Request::Stats)?.stats.unwrap_or_default())
    }

    pub fn pause(&self) -> Result<(), ShimError> {
        self.request(&Request::Pause).map(|_| ())
    }

    pub fn resume(&self) -> Result<(), ShimError> {
        self.request(&Request::Resume).map(|_| ())
    }

    /// Applies an OCI `LinuxResources` document.
    pub fn update(&self, resources: serde_json::Value) -> Result<(), ShimError> {
        self.request(&Request::Update { resources }).map(|_| ())
    }

    /// The pids of the container's processes.
    pub fn pids(&self) -> Result<Vec<i32>, ShimError> {
        Ok(self.request(&Request::Top)?.pids.unwrap_or_default())
    }

    /// Blocks until the container has exited. Works after the shim is gone too: then the exit
    /// record it left is the answer.
    pub fn wait(&self) -> Result<ExitStatus, ShimError> {
        let from_record = || -> Result<ExitStatus, ShimError> {
            self.exit_record()?.ok_or_else(|| {
                ShimError::NotFound(format!(
                    "{}: the shim is gone and left no exit record",
                    self.dir.display()
                ))
            })
        };
        let mut r = match self.connect() {
            Ok(mut sock) => match sock.write_all(b"{\"op\":\"wait\"}\n") {
                Ok(()) => BufReader::new(sock),
                // Connected in the shim's last moments (it no longer accepts once the exit is
                // reported) and gone before the request was written: it left its record.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return from_record()
                }
                Err(e) => return Err(e.into()),
            },
            Err(ShimError::NotFound(_)) => return from_record(),
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        match r.read_line(&mut text) {
            Ok(n) if n > 0 => {
                let resp: Response =
                    serde_json::from_str(&text).map_err(|e| ShimError::Protocol(e.to_string()))?;
                resp.exit.ok_or_else(|| {
                    ShimError::Protocol(resp.error.unwrap_or_else(|| "wait: no exit status".into()))
                })
            }
            // The shim went away mid-wait: it records the exit before it goes.
            _ => from_record(),
        }
    }

    /// Attaches to the container's stdio.
    pub fn attach(&self, stdin: bool, stdout: bool, stderr: bool) -> Result<Attached, ShimError> {
        let (r, resp) = self.call(&Request::Attach { stdin, stdout, stderr })?;
        Ok(Attached { stream: r, tty: resp.tty.unwrap_or(false), pid: None })
    }

    /// Runs a process (an OCI process object) in the container. Attached unless `detach`.
    pub fn exec(
        &self,
        exec_id: &str,
        process: serde_json::Value,
        stdin: bool,
        detach: bool,
    ) -> Result<Attached, ShimError> {
        let (r, resp) = self.call(&Request::Exec { exec_id: exec_id.to_string(), process, stdin, detach })?;
        Ok(Attached { stream: r, tty: resp.tty.unwrap_or(false), pid: resp.pid })
    }
}

/// Reads up to and including a newline, one byte at a time (so nothing past it is consumed).
fn read_line_unbuffered(sock: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match sock.read(&mut b) {
            Ok(0) => return Ok(line),
            Ok(_) => {
                line.push(b[0]);
                if b[0] == b'\n' {
                    return Ok(line);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
