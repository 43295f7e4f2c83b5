//! Listeners and connections: Unix sockets (mode 0660: as powerful as their owner), TCP
//! behind mutual TLS, and the sockets systemd passes (`fd://`); one hyper HTTP/1 connection per
//! client, with upgrades (hijacked streams), a header and idle timeout, a cap on connections
//! served at once ([`crate::gate`]). What a request means is the [`Handler`]'s business.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream, UnixListener};

use crate::{gate, systemd, Body};

/// How long a client may take to send a request's headers, and may keep a connection idle
/// between requests (hijacked streams and streamed answers are not bounded by it).
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// TLS for TCP listeners: the server's PEM files and the CA client certificates must be signed
/// by (TCP is always served with client certificates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Clients must present a certificate signed by `files.ca` (`--tlsverify`).
    pub verify: bool,
    pub files: berth_tls::TlsFiles,
}

/// What answers requests: cloned into every connection, and for every request.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(
        self,
        req: Request<Incoming>,
    ) -> impl std::future::Future<Output = Result<Response<Body>, Infallible>> + Send + 'static;
}

/// One address to serve on.
enum Listener {
    /// A Unix socket (root-only), removed again at shutdown when berthd made it (not when
    /// systemd passed it).
    Unix(UnixListener, Option<PathBuf>),
    /// `tcp://`, always behind mutual TLS.
    Tls(TcpListener, berth_tls::TlsAcceptor),
}

/// Where a `tcp://` address listens: `tcp://:2376` is every interface; the port defaults to
/// 2376, Docker's port for TLS.
fn tcp_address(h: &str, rest: &str) -> Result<String, String> {
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p),
        _ => (rest, ""),
    };
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let port = if port.is_empty() { "2376" } else { port };
    if port.parse::<u16>().is_err() || rest.contains('/') {
        return Err(format!("invalid host {h:?}: use tcp://address:port"));
    }
    Ok(format!("{host}:{port}"))
}

/// The TLS side of a TCP listener: always mutual (the API is as powerful as root).
fn tls_acceptor(h: &str, tls: &TlsSettings) -> Result<berth_tls::TlsAcceptor, String> {
    let config = berth_tls::server_config(&tls.files, true).map_err(|e| format!("listener {h}: {e}"))?;
    Ok(berth_tls::TlsAcceptor::from(config))
}

/// The sockets systemd passed that an `fd://` host names: Unix sockets are served as berthd's
/// own, TCP ones behind mutual TLS as `tcp://` is.
fn passed_listeners(h: &str, tls: &TlsSettings) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for fd in systemd::select(h, systemd::passed())? {
        let fd = systemd::take(fd);
        use nix::sys::socket::{getsockname, AddressFamily, SockaddrLike, SockaddrStorage};
        let unix = matches!(
            getsockname::<SockaddrStorage>(std::os::fd::AsRawFd::as_raw_fd(&fd))
                .ok()
                .and_then(|a| a.family()),
            Some(AddressFamily::Unix)
        );
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let bad = |e: std::io::Error| format!("socket {raw} passed for {h}: {e}");
        if unix {
            let l = std::os::unix::net::UnixListener::from(fd);
            l.set_nonblocking(true).map_err(bad)?;
            out.push(Listener::Unix(UnixListener::from_std(l).map_err(bad)?, None));
        } else {
            if !tls.verify {
                return Err(format!(
                    "{h} passed a TCP socket: a TCP listener requires mutual TLS (--tlsverify)"
                ));
            }
            let l = std::net::TcpListener::from(fd);
            l.set_nonblocking(true).map_err(bad)?;
            out.push(Listener::Tls(TcpListener::from_std(l).map_err(bad)?, tls_acceptor(h, tls)?));
        }
    }
    tracing::info!(host = h, sockets = out.len(), "API listening on sockets passed by systemd");
    Ok(out)
}

/// Opens one `-H` address. A TCP listener always demands client certificates: the API is as
/// powerful as root (the configuration refuses `tcp://` without `--tlsverify`).
async fn listen(h: &str, tls: &TlsSettings) -> Result<Vec<Listener>, String> {
    if h.starts_with("fd://") {
        return passed_listeners(h, tls);
    }
    if let Some(rest) = h.strip_prefix("tcp://") {
        let acceptor = tls_acceptor(h, tls)?;
        let addr = tcp_address(h, rest)?;
        let l = TcpListener::bind(&addr).await.map_err(|e| format!("listen on {addr}: {e}"))?;
        tracing::info!(address = %addr, "API listening (mutual TLS)");
        return Ok(vec![Listener::Tls(l, acceptor)]);
    }
    let path = if let Some(p) = h.strip_prefix("unix://") {
        PathBuf::from(p)
    } else if h.starts_with('/') {
        PathBuf::from(h)
    } else {
        return Err(format!("invalid host {h:?}: use unix:///path/to/socket, tcp://address:port or fd://"));
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    let _ = std::fs::remove_file(&path);
    let l = UnixListener::bind(&path).map_err(|e| format!("listen on {}: {e}", path.display()))?;
    // Root-only: the socket is as powerful as root.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    tracing::info!(socket = %path.display(), "API listening");
    Ok(vec![Listener::Unix(l, Some(path))])
}

/// A Unix connection's descriptor, in its requests' extensions: a hijacked stream's relay
/// polls it to notice a client that has gone (berthd's attach and exec).
#[derive(Debug, Clone, Copy)]
pub struct PeerFd(pub std::os::fd::RawFd);

/// Serves HTTP (with upgrades, for attach and exec) on one connection.
async fn serve_connection<I, H>(handler: H, io: I, peer: Option<PeerFd>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        if let Some(p) = peer {
            req.extensions_mut().insert(p);
        }
        handler.clone().handle(req)
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades()
        .await;
}

/// A TLS connection: the handshake (bounded in time), then HTTP. A client speaking plain HTTP
/// gets the answer Go's servers give, which Docker's users know.
async fn serve_tls<H: Handler>(handler: H, stream: TcpStream, acceptor: berth_tls::TlsAcceptor) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(std::time::Duration::from_secs(10), stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return;
    }
    // Every TLS connection opens with a handshake record (content type 22).
    if first[0] != 0x16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = stream;
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
            .await;
        let _ = stream.shutdown().await;
        // Read what else the client sent until it closes: closing with unread bytes would
        // reset the connection and lose the answer.
        let drain = async { while matches!(stream.read(&mut request).await, Ok(n) if n > 0) {} };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
        return;
    }
    match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream)).await {
        Ok(Ok(tls)) => serve_connection(handler, tls, None).await,
        Ok(Err(e)) => tracing::info!(error = %e, "TLS handshake refused"),
        Err(_) => tracing::info!("TLS handshake timed out"),
    }
}

/// Answers a connection over the limit with a 503 and closes it. The request is read first
/// (briefly): closing before the client has written it would fail its write, and it would
/// never read the answer.
async fn refuse(mut stream: tokio::net::UnixStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let second = std::time::Duration::from_secs(1);
    let mut buf = [0u8; 8192];
    let mut seen = Vec::new();
    let read_head = async {
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(n) if n > 0 && seen.len() < 64 * 1024 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(second, read_head).await;
    let _ = tokio::time::timeout(second, stream.write_all(&gate::refusal())).await;
    let _ = stream.shutdown().await;
    let drain = async { while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(second, drain).await;
}

/// Serves `handler` on every address of `hosts` until `shutdown` resolves.
pub async fn serve<H: Handler>(
    hosts: &[String],
    tls: &TlsSettings,
    handler: H,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let mut listeners = Vec::new();
    for h in hosts {
        listeners.extend(listen(h, tls).await?);
    }
    let mut tasks = Vec::new();
    let mut sockets = Vec::new();
    let limit = gate::connection_limit(gate::nofile_soft());
    let gate = gate::Gate::new(limit);
    tracing::debug!(connections = limit, "connection limit");
    for l in listeners {
        let handler = handler.clone();
        let gate = gate.clone();
        tasks.push(match l {
            Listener::Unix(l, path) => {
                sockets.extend(path);
                tokio::spawn(gate::accept_loop(
                    l,
                    gate,
                    move |stream, permit| {
                        let peer = Some(PeerFd(std::os::fd::AsRawFd::as_raw_fd(&stream)));
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            serve_connection(handler, stream, peer).await;
                            drop(permit);
                        });
                    },
                    |stream| drop(tokio::spawn(refuse(stream))),
                ))
            }
            // Over the limit a TLS client is closed at once (an answer would need the handshake
            // the limit is there to spare).
            Listener::Tls(l, acceptor) => tokio::spawn(gate::accept_loop(
                l,
                gate,
                move |stream, permit| {
                    let (handler, acceptor) = (handler.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        serve_tls(handler, stream, acceptor).await;
                        drop(permit);
                    });
                },
                drop,
            )),
        });
    }
    systemd::notify("READY=1");
    shutdown.await;
    systemd::notify("STOPPING=1");
    for t in tasks {
        t.abort();
    }
    for path in sockets {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Serves `handler` on a bound TCP listener, in plain HTTP or behind TLS (a server
/// certificate only: a registry's clients authenticate in HTTP), until `shutdown` resolves.
pub async fn serve_tcp<H: Handler>(
    listener: std::net::TcpListener,
    tls: Option<berth_tls::TlsAcceptor>,
    handler: H,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| format!("listener: {e}"))?;
    let l = TcpListener::from_std(listener).map_err(|e| format!("listener: {e}"))?;
    let gate = gate::Gate::new(gate::connection_limit(gate::nofile_soft()));
    let task = tokio::spawn(gate::accept_loop(
        l,
        gate,
        move |stream, permit| {
            let (handler, tls) = (handler.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => serve_tls(handler, stream, acceptor).await,
                    None => {
                        let _ = stream.set_nodelay(true);
                        serve_connection(handler, stream, None).await
                    }
                }
                drop(permit);
            });
        },
        drop,
    ));
    systemd::notify("READY=1");
    shutdown.await;
    systemd::notify("STOPPING=1");
    task.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_addresses_default_to_every_interface_and_port_2376() {
        for (h, want) in [
            ("tcp://127.0.0.1:4243", "127.0.0.1:4243"),
            ("tcp://:2376", "0.0.0.0:2376"),
            ("tcp://127.0.0.1", "127.0.0.1:2376"),
            ("tcp://[::1]:2376", "[::1]:2376"),
            ("tcp://0.0.0.0:2376/", "0.0.0.0:2376"),
        ] {
            assert_eq!(tcp_address(h, h.strip_prefix("tcp://").unwrap()).unwrap(), want, "{h}");
        }
        for bad in ["tcp://h:port", "tcp://h:1/x"] {
            assert!(tcp_address(bad, bad.strip_prefix("tcp://").unwrap()).is_err(), "{bad}");
        }
    }
}
