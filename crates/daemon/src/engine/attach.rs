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
#[derive(Debug, Clone, Copy, Default)]
pub struct StdinMode {
    /// Forward the client's input at all.
    pub forward: bool,
    /// Close the process's stdin when the client's input ends (`StdinOnce`, execs).
    pub close_on_eof: bool,
    /// Watch for Docker's detach keys (ctrl-p ctrl-q) in the input (ttys only).
    pub detach_keys: bool,
}

/// Relays between a client connection and a shim stream until the shim closes it (the process
/// ended) or the client detaches. `at_end` is given the exit status an exec stream ends with
/// (`None` for a container's stream or a detach) before the client's side is closed: a client
/// that inspects the exec once its stream ends (the docker CLI reads the exit code so) must
/// find it recorded.
pub async fn proxy<C, F>(client: C, shim: Attached, stdin: StdinMode, at_end: F)
where
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
    let (mut cli_r, mut cli_w) = tokio::io::split(client);
    let (detach_tx, detach_rx) = oneshot::channel::<()>();
    // The input task keeps the shim's write half until it is aborted: dropping it would shut
    // down our side of the socket, and the shim takes that for a client that left.
    let mut detach_tx = Some(detach_tx);
    let input = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        let mut prev_ctrl_p = false;
        loop {
            if !stdin.forward {
                break;
            }
            match cli_r.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if stdin.close_on_eof {
                        let _ = shim_w.write_all(&frame_header(STDIN, 0)).await;
                    }
                    break;
                }
                Ok(n) => {
                    let data = &buf[..n];
                    if stdin.detach_keys {
                        // ctrl-p ctrl-q detaches: the relay ends, the process keeps running.
                        let mut detach = false;
                        for &b in data {
                            if prev_ctrl_p && b == 0x11 {
                                detach = true;
                            }
                            prev_ctrl_p = b == 0x10;
                        }
                        if detach {
                            if let Some(tx) = detach_tx.take() {
                                let _ = tx.send(());
                            }
                            break;
                        }
                    }
                    let mut frame = frame_header(STDIN, n).to_vec();
                    frame.extend_from_slice(data);
                    if shim_w.write_all(&frame).await.is_err() {
                        break;
                    }
                }
            }
        }
        std::future::pending::<()>().await;
        drop(shim_w);
    });
    let output = async {
        let mut exit = None;
        let mut header = [0u8; 8];
        loop {
            if let Err(e) = shim_r.read_exact(&mut header).await {
                tracing::debug!(error = %e, "attach stream ended");
                break;
            }
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            let mut data = vec![0u8; len];
            if shim_r.read_exact(&mut data).await.is_err() {
                break;
            }
            let wrote = match header[0] {
                SYSTEM => {
                    exit = serde_json::from_slice::<ExitStatus>(&data).ok();
                    Ok(())
                }
                STDOUT | STDERR if tty => cli_w.write_all(&data).await,
                s @ (STDOUT | STDERR) => {
                    let mut f = frame_header(s, len).to_vec();
                    f.extend_from_slice(&data);
                    cli_w.write_all(&f).await
                }
                _ => Ok(()),
            };
            if wrote.is_err() {
                break;
            }
        }
        let _ = cli_w.flush().await;
        (exit, cli_w)
    };
    // The input task signals only when it saw the detach keys; otherwise the relay lasts as
    // long as the output does.
    let ended = tokio::select! {
        e = output => Some(e),
        Ok(()) = detach_rx => None,
    };
    input.abort();
    match ended {
        Some((exit, mut cli_w)) => {
            at_end(exit);
            let _ = cli_w.shutdown().await;
        }
        None => at_end(None),
    }
}
