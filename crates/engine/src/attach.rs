//! Attaching to a container's stdio. A running container's shim takes the attach at once; an
//! attach to a container that is not running waits ([`Pending`]) and is connected at its next
//! start, between the runtime's create and start, so no output is missed (`docker run`
//! attaches before it starts). [`proxy`] then relays between the client's hijacked connection
//! and the shim: Docker's 8-byte frames without a tty, raw bytes with one.

use std::sync::Arc;

use berth_shim::protocol::{frame_header, STDERR, STDIN, STDOUT, SYSTEM};
use berth_shim::{Attached, ExitStatus, ShimClient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::{Container, Engine};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// An attach waiting for the container to start.
pub struct Pending {
    opts: AttachOptions,
    tx: oneshot::Sender<std::result::Result<Attached, String>>,
}

/// Where an attach's stream comes from: now, or at the next start.
pub enum AttachSource {
    Now(Attached),
    Later(oneshot::Receiver<std::result::Result<Attached, String>>),
}

impl AttachSource {
    pub async fn get(self) -> Result<Attached> {
        match self {
            AttachSource::Now(a) => Ok(a),
            AttachSource::Later(rx) => match rx.await {
                Ok(Ok(a)) => Ok(a),
                Ok(Err(m)) => Err(EngineError::Conflict(m)),
                Err(_) => Err(EngineError::Conflict("the container was removed before it started".into())),
            },
        }
    }
}

impl Engine {
    /// Takes an attach: connected now when the container runs, else at its next start.
    pub fn attach(&self, c: &Arc<Container>, opts: AttachOptions) -> Result<AttachSource> {
        let rec = c.snapshot();
        if rec.state.status.is_live() {
            let a = self.shim(&rec.id).attach(opts.stdin, opts.stdout, opts.stderr)?;
            self.event(c, "attach", &[]);
            return Ok(AttachSource::Now(a));
        }
        let (tx, rx) = oneshot::channel();
        c.pending.lock().unwrap_or_else(|e| e.into_inner()).push(Pending { opts, tx });
        self.event(c, "attach", &[]);
        Ok(AttachSource::Later(rx))
    }

    /// Connects the waiting attaches to a freshly created container (before it starts).
    pub(crate) fn connect_pending(&self, c: &Container, shim: &ShimClient) {
        let pending: Vec<Pending> = std::mem::take(&mut *c.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for p in pending {
            let r = shim.attach(p.opts.stdin, p.opts.stdout, p.opts.stderr).map_err(|e| e.to_string());
            let _ = p.tx.send(r);
        }
    }

    pub(crate) fn fail_pending(&self, c: &Container, msg: &str) {
        let pending: Vec<Pending> = std::mem::take(&mut *c.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for p in pending {
            let _ = p.tx.send(Err(msg.to_string()));
        }
    }
}

/// How a relay treats the client's input.
#[derive(Debug, Clone, Default)]
pub struct StdinMode {
    /// Forward the client's input at all.
    pub forward: bool,
    /// Close the process's stdin when the client's input ends (`StdinOnce`, execs).
    pub close_on_eof: bool,
    /// The detach sequence watched for in the input (ttys only; empty for none).
    pub detach: Vec<u8>,
}

/// Tells when a client has closed its connection while the relay has nothing to write to it
/// (a quiet container): a Unix socket whose peer has closed reports a hang-up, which a client
/// that only closed its sending side (end of input) never causes. The descriptor is the
/// connection's own, valid for as long as the relay holds the connection.
#[derive(Debug, Clone, Copy)]
pub struct HangupProbe(pub std::os::fd::RawFd);

impl HangupProbe {
    /// Resolves once the peer has hung up (checked every half second).
    async fn wait(self) {
        loop {
            let mut p = libc::pollfd { fd: self.0, events: 0, revents: 0 };
            // SAFETY: one pollfd for a descriptor the relay's connection keeps open; no wait.
            let n = unsafe { libc::poll(&mut p, 1, 0) };
            if n > 0 && p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// Relays between a client connection and a shim stream until the shim closes it (the process
/// ended) or the client detaches or leaves. With `drain` (execs), the shim's stream is read to
/// its end after the client has gone, for the exit status. `at_end` is given the exit status
/// the stream ended with (`None` for a container's stream, or when it was not read to its end)
/// before a client still there is let go: a client that inspects the exec once its stream
/// ends (the docker CLI reads the exit code so) must find it recorded.
pub async fn proxy<C, F>(
    client: C,
    shim: Attached,
    stdin: StdinMode,
    drain: bool,
    hangup: Option<HangupProbe>,
    at_end: F,
) where
    C: AsyncRead + AsyncWrite + Send + 'static,
    F: FnOnce(Option<ExitStatus>) + Send,
{
    let tty = shim.tty;
    let std_stream = shim.stream;
    let stream =
        match std_stream.set_nonblocking(true).and_then(|()| tokio::net::UnixStream::from_std(std_stream)) {
            Ok(s) => s,
            Err(_) => return at_end(None),
        };
    let (mut shim_r, mut shim_w) = stream.into_split();
    let (mut cli_r, cli_w) = tokio::io::split(client);
    // Says the client typed the detach keys: the process goes on without it.
    let (detached_tx, mut detached_rx) = oneshot::channel::<()>();
    // The input task keeps the shim's write half until the relay is over: dropping it would
    // shut down our side of the socket, and the shim takes that for a client that left. The
    // client's read half it drops as soon as the client detached or left.
    let input = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        let mut keys = berth_api::detachkeys::Matcher::new(stdin.detach.clone());
        let detached = loop {
            if !stdin.forward {
                // No input to relay (the client half-closes its side at once: the docker CLI
                // does). Whether it has gone the hang-up probe tells.
                break false;
            }
            match cli_r.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if stdin.close_on_eof {
                        let _ = shim_w.write_all(&frame_header(STDIN, 0)).await;
                    }
                    break false;
                }
                Ok(n) => {
                    let (data, detach) = match keys.scan(&buf[..n]) {
                        berth_api::detachkeys::Scan::Pass(d) => (d, false),
                        berth_api::detachkeys::Scan::Detach(d) => (d, true),
                    };
                    if !data.is_empty() {
                        let mut frame = frame_header(STDIN, data.len()).to_vec();
                        frame.extend_from_slice(&data);
                        if shim_w.write_all(&frame).await.is_err() {
                            break false;
                        }
                    }
                    if detach {
                        break true;
                    }
                }
            }
        };
        if detached {
            drop(cli_r);
            let _ = detached_tx.send(());
        }
        std::future::pending::<()>().await;
        drop(shim_w);
    });
    // The shim's frames, read by a task of their own: a read cut short when the client leaves
    // would lose the stream's framing.
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel::<(u8, Vec<u8>)>(16);
    let reader = tokio::spawn(async move {
        let mut header = [0u8; 8];
        loop {
            if let Err(e) = shim_r.read_exact(&mut header).await {
                tracing::debug!(error = %e, "attach stream ended");
                break;
            }
            let (stream, len) = berth_stdcopy::parse_header(&header);
            let mut data = vec![0u8; len];
            if shim_r.read_exact(&mut data).await.is_err() || frames_tx.send((stream, data)).await.is_err() {
                break;
            }
        }
    });
    let mut client = Some(cli_w);
    let mut exit = None;
    let mut left = false;
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some((s, data)) = frame else { break };
                let out = match s {
                    SYSTEM => {
                        exit = serde_json::from_slice::<ExitStatus>(&data).ok();
                        continue;
                    }
                    STDOUT | STDERR if tty => data,
                    STDOUT | STDERR => [&frame_header(s, data.len())[..], &data].concat(),
                    _ => continue,
                };
                let Some(w) = client.as_mut() else { continue };
                if w.write_all(&out).await.is_err() {
                    client = None;
                    if !drain {
                        break;
                    }
                }
            }
            () = async { if let Some(h) = hangup { h.wait().await } else { std::future::pending().await } }, if !left => {
                left = true;
                tracing::debug!("attached client went away");
                if !drain {
                    break;
                }
                client = None;
            }
            Ok(()) = &mut detached_rx, if !left => {
                left = true;
                // Detached: let go of the client's connection now.
                if let Some(mut w) = client.take() {
                    let _ = w.shutdown().await;
                }
                if !drain {
                    break;
                }
            }
        }
    }
    reader.abort();
    input.abort();
    let _ = input.await;
    at_end(if left && !drain { None } else { exit });
    if let Some(mut w) = client {
        let _ = w.flush().await;
        let _ = w.shutdown().await;
    }
}
