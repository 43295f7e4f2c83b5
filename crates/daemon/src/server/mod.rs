//! The Engine API over HTTP (served by `berth-http`'s listeners: Unix sockets, root-only; TCP
//! behind mutual TLS; systemd's sockets): version prefixes, and the router, which hands each request to the handler of its resource
//! (`system.rs`, `containers.rs`, `exec.rs`, `images.rs`). Handlers only translate:
//! parameters in, an engine call, Docker's response out.

mod build;
mod containers;
mod exec;
mod images;
mod networks;
mod progress;
mod swarm;
mod system;
mod volumes;

use std::collections::HashMap;
use std::sync::Arc;

use berth_api::{ApiError, ApiVersion};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

pub use berth_http::{systemd, Body, BodyReader, PeerFd};

use berth_engine::{Backend, Engine};

pub type Resp = Response<Body>;

/// The largest JSON request body (a container's create with all its options is a few KiB;
/// archives and images are streamed, never held).
pub const JSON_BODY_LIMIT: usize = 8 << 20;

/// A request as handlers see it.
pub struct Ctx<B> {
    /// The engine, as the traits of the resources it serves.
    pub backend: Arc<B>,
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

impl<B> Ctx<B> {
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

async fn handle<B: Backend>(
    backend: Arc<B>,
    mut req: Request<Incoming>,
) -> Result<Resp, std::convert::Infallible> {
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
                backend,
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

async fn route<B: Backend>(ctx: Ctx<B>, path: &str) -> HResult {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = ctx.method.clone();
    match (segs.first().copied().unwrap_or_default(), &m) {
        ("_ping", _) | ("version", _) | ("info", _) | ("events", _) | ("system", _) => {
            system::route(ctx, &segs).await
        }
        ("containers", _) | ("commit", &Method::POST) => containers::route(ctx, &segs).await,
        ("exec", _) => exec::route(ctx, &segs).await,
        ("images", _) => images::route(ctx, &segs).await,
        ("auth", &Method::POST) if segs.len() == 1 => images::auth(ctx).await,
        // The name holds slashes: everything between `distribution/` and `/json`.
        ("distribution", &Method::GET) if segs.len() >= 3 && segs.last() == Some(&"json") => {
            let name = segs[1..segs.len() - 1].join("/");
            images::distribution(ctx, &name).await
        }
        // Volumes and networks come with their issue; until then there are none to find.
        ("volumes", _) => volumes::route(ctx, &segs).await,
        ("networks", _) => networks::route(ctx, &segs).await,
        ("swarm" | "nodes" | "services" | "tasks" | "secrets" | "configs", _) => {
            swarm::route(ctx, &segs).await
        }
        ("build", &Method::POST) if segs.len() == 1 => build::build(ctx).await,
        ("build", &Method::POST) if segs.get(1) == Some(&"prune") => build::prune(ctx).await,
        ("build", &Method::POST) if segs.get(1) == Some(&"cancel") => build::cancel(ctx).await,
        _ => Err(not_found_page()),
    }
}

pub fn not_found_page() -> ApiError {
    ApiError::not_found("page not found")
}

/// The Engine API as a [`berth_http::Handler`].
struct Api<B>(Arc<B>);

impl<B> Clone for Api<B> {
    fn clone(&self) -> Self {
        Api(self.0.clone())
    }
}

impl<B: Backend> berth_http::Handler for Api<B> {
    fn handle(
        self,
        req: Request<Incoming>,
    ) -> impl std::future::Future<Output = Result<Resp, std::convert::Infallible>> + Send + 'static {
        handle(self.0, req)
    }
}

/// Serves the Engine API on every `-H` address until `shutdown` resolves.
pub async fn serve(
    engine: Arc<Engine>,
    hosts: &[String],
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let tls = engine.config().tls;
    let tls = berth_http::TlsSettings { verify: tls.verify, files: tls.files };
    berth_http::serve(hosts, &tls, Api(engine), shutdown).await
}
