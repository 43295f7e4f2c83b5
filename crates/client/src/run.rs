//! A container's run, as `docker run` drives it once the container is created: attach (before
//! the start, so no output is lost), register the wait (its headers come back at once, so a
//! quick exit is not missed), start, tell the daemon the terminal's size (and again on every
//! SIGWINCH), forward the user's signals (`--sig-proxy`), relay stdio until the container ends
//! or the user detaches, then read the exit. `berth run` uses it, and `berth compose run` will.

use crate::containers::{AttachQuery, PendingWait, RemoveQuery};
use crate::{Client, ClientError};

/// How to run a created container.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Which streams to attach (the create request's `AttachStdin`/`AttachStdout`/`AttachStderr`).
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// `-i` with `-t`: this terminal goes into raw mode while attached.
    pub interactive: bool,
    /// `-d`: start it and return.
    pub detach: bool,
    /// `--rm`: wait until the daemon has removed it, and remove it if its start fails.
    pub auto_remove: bool,
    /// `--sig-proxy` (without a terminal): the user's signals go to the container.
    pub sig_proxy: bool,
    /// `--detach-keys` (or the client configuration's `detachKeys`).
    pub detach_keys: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// `-d`: the container was started.
    Started,
    /// The user typed the detach keys; the container goes on.
    Detached,
    /// The container exited with this code.
    Exited(i64),
}

/// Why a run failed, with the exit code `docker run` gives for it.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Attaching or registering the wait failed (125).
    #[error("{0}")]
    Setup(ClientError),
    /// The start failed: 127 when the command was not found, 126 when it could not be run,
    /// 125 otherwise.
    #[error("{error}")]
    Start { error: ClientError, code: i32 },
    /// The daemon's wait reported an error of its own (125).
    #[error("{0}")]
    Wait(String),
}

impl RunError {
    /// The exit code `docker run` gives.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Start { code, .. } => *code,
            _ => 125,
        }
    }
}

/// The exit code `docker run` gives for a start the daemon refused, from the exit code the
/// daemon recorded for the container (Docker records 127 when the command was not found and
/// 126 when it could not be run): those two pass, anything else is 125.
pub fn start_exit_code(recorded: Option<i64>) -> i32 {
    match recorded {
        Some(c @ (126 | 127)) => c as i32,
        _ => 125,
    }
}

/// The exit code the daemon recorded for a container whose start failed: its state, or, when it
/// is already gone (`--rm`), what the registered wait reports.
async fn recorded_exit(client: &Client, id: &str, wait: Option<PendingWait>) -> Option<i64> {
    if let Ok(info) = client.containers().inspect(id).await {
        return Some(info.state.exit_code);
    }
    let exit = tokio::time::timeout(std::time::Duration::from_secs(5), wait?.exit()).await.ok()?.ok()?;
    Some(exit.status_code)
}

/// Runs the created container `id` (see the module's documentation).
pub async fn run(client: &Client, id: &str, o: &RunOptions) -> Result<RunOutcome, RunError> {
    let containers = client.containers();
    let attach = !o.detach && (o.stdin || o.stdout || o.stderr);
    let conn = if attach {
        let q = AttachQuery {
            stdin: o.stdin,
            stdout: o.stdout,
            stderr: o.stderr,
            logs: false,
            detach_keys: o.detach_keys.clone(),
        };
        Some(containers.attach(id, &q).await.map_err(RunError::Setup)?)
    } else {
        None
    };
    // Registered for `-d --rm` too: when the start fails, the wait says the recorded exit code of
    // the container the daemon removed.
    let wait = if o.detach && !o.auto_remove {
        None
    } else {
        let condition = if o.auto_remove { "removed" } else { "next-exit" };
        Some(containers.wait(id, Some(condition)).await.map_err(RunError::Setup)?)
    };
    let raw = if o.tty && o.interactive && attach { crate::terminal::RawMode::enter() } else { None };
    let start = async {
        let r = containers.start(id).await;
        if r.is_ok() && o.tty && attach {
            resize(client, id).await;
        }
        r
    };
    let failed = |error: ClientError, wait: Option<PendingWait>| async move {
        let code = start_exit_code(recorded_exit(client, id, wait).await);
        if o.auto_remove {
            let force = RemoveQuery { force: true, ..Default::default() };
            let _ = client.containers().remove(id, &force).await;
        }
        RunError::Start { error, code }
    };
    if o.detach {
        if let Err(error) = start.await {
            return Err(failed(error, wait).await);
        }
        return Ok(RunOutcome::Started);
    }
    let keys = crate::relay::detach_sequence(o.detach_keys.as_deref());
    let mut detached = false;
    let streams = async {
        if let Some(c) = conn {
            detached = crate::relay::join(c, o.tty, o.stdin, &keys).await.ok()
                == Some(crate::relay::Ended::Detached);
        }
    };
    let winch = async {
        if !o.tty {
            return std::future::pending::<()>().await;
        }
        let Ok(mut sig) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return std::future::pending().await;
        };
        while sig.recv().await.is_some() {
            resize(client, id).await;
        }
    };
    let proxy = proxy_signals(client, id, o.sig_proxy && !o.tty);
    let started = async {
        start.await?;
        tokio::select! {
            _ = streams => {},
            _ = winch => {},
            _ = proxy => {},
        }
        Ok::<_, ClientError>(())
    }
    .await;
    drop(raw);
    if detached {
        return Ok(RunOutcome::Detached);
    }
    if let Err(error) = started {
        return Err(failed(error, wait).await);
    }
    let Some(wait) = wait else { return Ok(RunOutcome::Started) };
    let exit = wait.exit().await.map_err(RunError::Setup)?;
    if let Some(m) = exit.error.map(|e| e.message).filter(|m| !m.is_empty()) {
        return Err(RunError::Wait(m));
    }
    Ok(RunOutcome::Exited(exit.status_code))
}

/// Tells the daemon the terminal's size for the container `id`.
pub async fn resize(client: &Client, id: &str) {
    if let Some((h, w)) = crate::terminal::size() {
        let _ = client.containers().resize(id, h, w).await;
    }
}

/// Forwards the signals a user sends this process to the container.
pub async fn proxy_signals(client: &Client, id: &str, on: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    if !on {
        return std::future::pending().await;
    }
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (kind, name) in kinds {
        if let Ok(mut s) = signal(kind) {
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if tx.send(name).is_err() {
                        return;
                    }
                }
            });
        }
    }
    while let Some(name) = rx.recv().await {
        let _ = client.containers().kill(id, Some(name)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_get_dockers_exit_codes() {
        for (recorded, code) in
            [(Some(127), 127), (Some(126), 126), (Some(128), 125), (Some(0), 125), (None, 125)]
        {
            assert_eq!(start_exit_code(recorded), code, "{recorded:?}");
        }
        let e = RunError::Wait("x".into());
        assert_eq!(e.exit_code(), 125);
    }
}
