//! The HTTP side: listeners (Unix sockets, root-only; TCP behind mutual TLS), one hyper
//! connection per client with upgrades (attach and exec hijack the connection), version
//! prefixes, and the router, which hands each request to the handler of its resource
//! (`system.rs`, `containers.rs`, `exec.rs`, `images.rs`). Handlers only translate:
//! parameters in, an engine call, Docker's response out.

mod body;
mod containers;
mod exec;
mod gate;
mod images;
mod networks;
mod swarm;
mod system;
pub mod systemd;
mod volumes;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use berth_api::{ApiError, ApiVersion};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream, UnixListener};

pub use body::{Body, BodyReader};

use berth_engine::Engine;

pub type Resp = Response<Body>;

/// The largest JSON request body (a container's create with all its options is a few KiB;
/// archives and images are streamed, never held).
pub const JSON_BODY_LIMIT: usize = 8 << 20;

/// How long a client may take to send a request's headers, and may keep a connection idle
/// between requests (hijacked streams and streamed answers are not bounded by it).
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A request as handlers see it.
pub struct Ctx {
    pub engine: Arc<Engine>,
    pub version: ApiVersion,
    pub method: Method,
    pub query: HashMap<String, String>,
    pub parts: hyper::http::request::Parts,
    body: Option<Incoming>,
    /// Set once a handler takes the body (see [`handle`]: a body left unread closes the
    /// connection, and the response says so).
    body_taken: Arc<std::sync::atomic::AtomicBool>,
    /// The connection, once the response switches protocols (attach, exec start).
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl Ctx {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    /// Docker's boolean parameters: `1`/`true`/`True` are true; absent, `0`, `false`, empty false.
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.q(k).map(|v| v.to_ascii_lowercase()).as_deref(), Some("1" | "true" | "yes"))
    }

    pub fn flag_or(&self, k: &str, default: bool) -> bool {
        if self.query.contains_key(k) {
            self.flag(k)
        } else {
            default
        }
    }

    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.q(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("invalid value for {k}: {v:?} is not an integer"))),
        }
    }

    pub fn filters(&self) -> Result<berth_api::Filters, ApiError> {
        berth_api::Filters::parse(self.q("filters").unwrap_or_default())
    }

    /// Reads a JSON body (empty reads as `null`, then the type's default), at most
    /// [`JSON_BODY_LIMIT`] bytes of it: a larger one is refused as soon as it is seen to be.
    pub async fn json<T: serde::de::DeserializeOwned + Default>(&mut self) -> Result<T, ApiError> {
        use http_body_util::BodyExt;
        let too_large = || {
            ApiError::new(
                berth_api::ErrorKind::TooLarge,
                format!("request body too large: JSON bodies are limited to {} MiB", JSON_BODY_LIMIT >> 20),
            )
        };
        let announced = self
            .parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > JSON_BODY_LIMIT as u64) {
            return Err(too_large());
        }
        let body = self.body.take().ok_or_else(|| ApiError::internal("the request body was read twice"))?;
        self.body_taken.store(true, std::sync::atomic::Ordering::Relaxed);
        let bytes = http_body_util::Limited::new(body, JSON_BODY_LIMIT)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    ApiError::invalid(format!("reading the body: {e}"))
                }
            })?
            .to_bytes();
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(T::default());
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
    }

    pub fn body_reader(&mut self) -> Result<BodyReader, ApiError> {
        let body = self.body.take().ok_or_else(|| ApiError::internal("the request body was read twice"))?;
        self.body_taken.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(BodyReader::new(body))
    }

    /// Whether the client asked to switch protocols (`Upgrade: tcp`).
    pub fn wants_upgrade(&self) -> bool {
        self.parts.headers.contains_key(hyper::header::UPGRADE)
    }

    /// All values of a repeated parameter (`names=a&names=b`).
    pub fn query_all(&self, key: &str) -> Vec<String> {
        form_urlencoded::parse(self.parts.uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .collect()
    }
}

pub fn json(status: u16, v: &impl serde::Serialize) -> Resp {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    let mut r = Response::new(Body::full(b));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn empty(status: u16) -> Resp {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r
}

pub fn error(e: &ApiError) -> Resp {
    if e.status() == 304 {
        return empty(304);
    }
    let mut r = Response::new(Body::full(e.body()));
    *r.status_mut() = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A streamed response: the headers go out at once, the body as the channel delivers.
pub fn stream(status: u16, content_type: &'static str, rx: tokio::sync::mpsc::Receiver<Vec<u8>>) -> Resp {
    let mut r = Response::new(Body::Chan(rx));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub type HResult = Result<Resp, ApiError>;

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    m
}

async fn handle(engine: Arc<Engine>, mut req: Request<Incoming>) -> Result<Resp, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let (prefix, rest) = berth_api::version::split_path(&path);
    let rest = rest.to_string();
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut resp = match berth_api::version::negotiate(prefix) {
        Err(e) => error(&e),
        Ok(version) => {
            let path_for_log = rest.clone();
            let query = parse_query(req.uri().query());
            let upgrade = Some(hyper::upgrade::on(&mut req));
            let (parts, body) = req.into_parts();
            let has_body = !hyper::body::Body::is_end_stream(&body);
            let body_taken = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let ctx = Ctx {
                engine,
                version,
                method: method.clone(),
                query,
                parts,
                body: Some(body),
                body_taken: body_taken.clone(),
                upgrade,
            };
            let mut resp = match route(ctx, &rest).await {
                Ok(r) => r,
                Err(e) => {
                    if e.status() >= 500 {
                        tracing::error!(%method, path = %path_for_log, error = %e.message, "request failed");
                    }
                    error(&e)
                }
            };
            // A body the handler did not read (an answer that came before it: a 404, a 400)
            // is not drained: the connection closes after this response, which must say so,
            // or a client reusing the connection loses its next request (Go's servers do the
            // same).
            if has_body && !body_taken.load(std::sync::atomic::Ordering::Relaxed) {
                resp.headers_mut().insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", API_VERSION.clone());
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Server", HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)")));
    tracing::debug!(%method, path, status = resp.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    Ok(resp)
}

/// The `Api-Version` header: the version berth implements, from one place.
static API_VERSION: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    HeaderValue::from_str(&berth_api::version::CURRENT.to_string()).expect("a version is a valid header")
});

async fn route(ctx: Ctx, path: &str) -> HResult {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = ctx.method.clone();
    match (segs.first().copied().unwrap_or_default(), &m) {
        ("_ping", _) | ("version", _) | ("info", _) | ("events", _) | ("system", _) => {
            system::route(ctx, &segs).await
        }
        ("containers", _) | ("commit", &Method::POST) => containers::route(ctx, &segs).await,
        ("exec", _) => exec::route(ctx, &segs).await,
        ("images", _) => images::route(ctx, &segs).await,
        // Volumes and networks come with their issue; until then there are none to find.
        ("volumes", _) => volumes::route(ctx, &segs).await,
        ("networks", _) => networks::route(ctx, &segs).await,
        ("swarm" | "nodes" | "services" | "tasks" | "secrets" | "configs", _) => {
            swarm::route(ctx, &segs).await
        }
        // berth has no builder yet, so no build cache: nothing to prune (`system prune` asks).
        ("build", &Method::POST) if segs.get(1) == Some(&"prune") => {
            Ok(json(200, &serde_json::json!({"CachesDeleted": null, "SpaceReclaimed": 0})))
        }
        _ => Err(not_found_page()),
    }
}

pub fn not_found_page() -> ApiError {
    ApiError::not_found("page not found")
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
fn tls_acceptor(h: &str, tls: &berth_engine::config::Tls) -> Result<berth_tls::TlsAcceptor, String> {
    let config = berth_tls::server_config(&tls.files, true).map_err(|e| format!("listener {h}: {e}"))?;
    Ok(berth_tls::TlsAcceptor::from(config))
}

/// The sockets systemd passed that an `fd://` host names: Unix sockets are served as berthd's
/// own, TCP ones behind mutual TLS as `tcp://` is.
fn passed_listeners(h: &str, tls: &berth_engine::config::Tls) -> Result<Vec<Listener>, String> {
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
async fn listen(h: &str, tls: &berth_engine::config::Tls) -> Result<Vec<Listener>, String> {
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
/// polls it to notice a client that has gone ([`berth_engine::attach::HangupProbe`]).
#[derive(Debug, Clone, Copy)]
pub struct PeerFd(pub std::os::fd::RawFd);

/// Serves HTTP (with upgrades, for attach and exec) on one connection.
async fn serve_connection<I>(engine: Arc<Engine>, io: I, peer: Option<PeerFd>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        if let Some(p) = peer {
            req.extensions_mut().insert(p);
        }
        handle(engine.clone(), req)
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
async fn serve_tls(engine: Arc<Engine>, stream: TcpStream, acceptor: berth_tls::TlsAcceptor) {
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
        Ok(Ok(tls)) => serve_connection(engine, tls, None).await,
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

/// Serves the API on every `-H` address until `shutdown` resolves.
pub async fn serve(
    engine: Arc<Engine>,
    hosts: &[String],
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let tls = engine.config().tls;
    let mut listeners = Vec::new();
    for h in hosts {
        listeners.extend(listen(h, &tls).await?);
    }
    let mut tasks = Vec::new();
    let mut sockets = Vec::new();
    let limit = gate::connection_limit(gate::nofile_soft());
    let gate = gate::Gate::new(limit);
    tracing::debug!(connections = limit, "connection limit");
    for l in listeners {
        let engine = engine.clone();
        let gate = gate.clone();
        tasks.push(match l {
            Listener::Unix(l, path) => {
                sockets.extend(path);
                tokio::spawn(gate::accept_loop(
                    l,
                    gate,
                    move |stream, permit| {
                        let peer = Some(PeerFd(std::os::fd::AsRawFd::as_raw_fd(&stream)));
                        let engine = engine.clone();
                        tokio::spawn(async move {
                            serve_connection(engine, stream, peer).await;
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
                    let (engine, acceptor) = (engine.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        serve_tls(engine, stream, acceptor).await;
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
