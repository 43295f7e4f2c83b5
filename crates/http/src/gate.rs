//! What keeps the listeners within the process's means: a cap on connections served at once,
//! well below the descriptor limit, with the excess answered at once and closed; and accept
//! errors (out of descriptors) met with a back-off instead of a busy loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many connections are served at once: half the descriptors the process may open (the
/// rest are for containers' shims, logs, the stores and the namespaces), within 32..16384.
pub fn connection_limit(nofile_soft: u64) -> usize {
    (nofile_soft / 2).clamp(32, 16_384) as usize
}

/// The process's soft limit on open descriptors.
pub fn nofile_soft() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).map(|(s, _)| s).unwrap_or(1024)
}

/// Admits connections up to the limit.
#[derive(Clone)]
pub struct Gate(Arc<Semaphore>);

impl Gate {
    pub fn new(limit: usize) -> Gate {
        Gate(Arc::new(Semaphore::new(limit)))
    }

    /// A place for one more connection, held for as long as it is served; `None` when full.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// The answer to a connection over the limit (a plain HTTP/1.1 503 that closes).
pub fn refusal() -> Vec<u8> {
    let body = "{\"message\":\"too many connections to this server: close some and try again\"}\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The wait after a failed accept: doubling from 5 ms to 1 s while failures go on, as Go's
/// servers do; `None` resets it.
pub fn next_backoff(prev: Option<Duration>) -> Duration {
    match prev {
        None => Duration::from_millis(5),
        Some(d) => (d * 2).min(Duration::from_secs(1)),
    }
}

/// A listener that hands out connections.
pub trait Accept: Send + 'static {
    type Stream: Send + 'static;
    fn accept_one(&self) -> impl std::future::Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Accept for UnixListener {
    type Stream = UnixStream;
    async fn accept_one(&self) -> std::io::Result<UnixStream> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Accept for TcpListener {
    type Stream = TcpStream;
    async fn accept_one(&self) -> std::io::Result<TcpStream> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// Accepts connections until the task is aborted: each admitted one goes to `admitted` with
/// its place, one over the limit to `over`; a failed accept backs off ([`next_backoff`]),
/// said once a streak.
pub async fn accept_loop<L: Accept>(
    listener: L,
    gate: Gate,
    mut admitted: impl FnMut(L::Stream, OwnedSemaphorePermit),
    mut over: impl FnMut(L::Stream),
) {
    let mut backoff = None;
    loop {
        let stream = match listener.accept_one().await {
            Ok(s) => s,
            Err(e) => {
                let wait = next_backoff(backoff);
                if backoff.is_none() {
                    tracing::warn!(error = %e, "accepting a connection failed; backing off");
                }
                tokio::time::sleep(wait).await;
                backoff = Some(wait);
                continue;
            }
        };
        backoff = None;
        match gate.admit() {
            Some(permit) => admitted(stream, permit),
            None => over(stream),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_backoff() {
        for (nofile, want) in [(0, 32), (256, 128), (1024, 512), (1 << 20, 16_384)] {
            assert_eq!(connection_limit(nofile), want, "{nofile}");
        }
        let mut d = None;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let n = next_backoff(d);
            seen.push(n.as_millis());
            d = Some(n);
        }
        assert_eq!(seen, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        let g = Gate::new(2);
        let (a, b) = (g.admit(), g.admit());
        assert!(a.is_some() && b.is_some() && g.admit().is_none());
        drop(a);
        assert!(g.admit().is_some());
        assert!(String::from_utf8(refusal()).unwrap().starts_with("HTTP/1.1 503 "));
    }
}
