//! The HTTP side: listeners (Unix sockets, root-only), one hyper connection per client with
//! upgrades (attach and exec hijack the connection), version prefixes, and the router, which
//! hands each request to the handler of its resource (`system.rs`, `containers.rs`,
//! `exec.rs`, `images.rs`). Handlers only translate: parameters in, an engine call, Docker's
//! response out.

mod body;
mod containers;
mod exec;
mod images;
mod networks;
mod system;
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
use tokio::net::UnixListener;

pub use body::{Body, BodyReader};

use crate::engine::Engine;

pub type Resp = Response<Body>;

/// A request as handlers see it.
pub struct Ctx {
    pub engine: Arc<Engine>,
    pub version: ApiVersion,
    pub method: Method,
    pub query: HashMap<String, String>,
    pub parts: hyper::http::request::Parts,
    body: Option<Incoming>,
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

    /// Reads a JSON body (empty reads as `null`, then the type's default).
    pub async fn json<T: serde::de::DeserializeOwned + Default>(&mut self) -> Result<T, ApiError> {
        use http_body_util::BodyExt;
        let body = self.body.take().ok_or_else(|| ApiError::internal("the request body was read twice"))?;
        let bytes =
            body.collect().await.map_err(|e| ApiError::invalid(format!("reading the body: {e}")))?.to_bytes();
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(T::default());
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
    }

    pub fn body_reader(&mut self) -> Result<BodyReader, ApiError> {
        let body = self.body.take().ok_or_else(|| ApiError::internal("the request body was read twice"))?;
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
            let ctx =
                Ctx { engine, version, method: method.clone(), query, parts, body: Some(body), upgrade };
            match route(ctx, &rest).await {
                Ok(r) => r,
                Err(e) => {
                    if e.status() >= 500 {
                        tracing::error!(%method, path = %path_for_log, error = %e.message, "request failed");
                    }
                    error(&e)
                }
            }
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

/// Serves the API on every `-H` address until `shutdown` resolves.
pub async fn serve(
    engine: Arc<Engine>,
    hosts: &[String],
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let mut listeners = Vec::new();
    for h in hosts {
        let path = if let Some(p) = h.strip_prefix("unix://") {
            PathBuf::from(p)
        } else if h.starts_with("tcp://") || h.starts_with("fd://") {
            return Err(format!(
                "listener {h}: this berthd serves Unix sockets only; a TCP listener requires mutual TLS, which is not built yet"
            ));
        } else if h.starts_with('/') {
            PathBuf::from(h)
        } else {
            return Err(format!("invalid host {h:?}: use unix:///path/to/socket"));
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
        listeners.push((l, path));
    }
    let mut tasks = Vec::new();
    for (l, path) in listeners {
        let engine = engine.clone();
        tasks.push((
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = l.accept().await else { continue };
                    let engine = engine.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(move |req| handle(engine.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .with_upgrades()
                            .await;
                    });
                }
            }),
            path,
        ));
    }
    shutdown.await;
    for (t, path) in tasks {
        t.abort();
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
