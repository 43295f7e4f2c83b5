//! The HTTP side: each request is checked at the door ([`Guard`]), turned into one storage
//! operation ([`Store`], run off the async threads), and its answer written as the spec
//! words it (headers, status, `{"errors":[…]}`); every request is logged and counted.

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use berth_http::{Body, BodyReader};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};

use crate::auth::Scope;
use crate::error::{errors_body, Code, RegistryError};
use crate::guard::{Guard, Identity, Origin, Refusal};
use crate::metrics::Metrics;
use crate::route::{route, Query, Route};
use crate::store::{check_name, page, parse_digest, Reference, Store};

pub struct Inner {
    pub store: Arc<Store>,
    pub guard: Guard,
    pub metrics: Metrics,
    pub read_only: bool,
    pub tls: bool,
}

/// The registry as a [`berth_http::Handler`].
#[derive(Clone)]
pub struct Service(pub Arc<Inner>);

impl berth_http::Handler for Service {
    fn handle(
        self,
        req: Request<Incoming>,
    ) -> impl std::future::Future<Output = Result<Response<Body>, Infallible>> + Send + 'static {
        answer(self, req)
    }
}

async fn answer(service: Service, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(service.answer(req).await)
}

type Answer = Result<Response<Body>, RegistryError>;

fn builder(status: u16) -> hyper::http::response::Builder {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("Docker-Distribution-API-Version", "registry/2.0")
}

fn json(status: u16, v: &serde_json::Value) -> Response<Body> {
    let body = serde_json::to_vec(v).expect("json");
    builder(status)
        .header("Content-Type", "application/json")
        .header("Content-Length", body.len())
        .body(Body::full(body))
        .expect("response")
}

fn empty(status: u16) -> hyper::http::response::Builder {
    builder(status).header("Content-Length", "0")
}

fn done(b: hyper::http::response::Builder) -> Response<Body> {
    b.body(Body::Empty).expect("response")
}

fn error_response(code: Code, message: &str) -> Response<Body> {
    let body = errors_body(code, message);
    builder(code.status())
        .header("Content-Type", "application/json")
        .header("Content-Length", body.len())
        .body(Body::full(body))
        .expect("response")
}

fn endpoint(r: &Route) -> &'static str {
    match r {
        Route::Base => "base",
        Route::Catalog => "catalog",
        Route::Manifest { .. } => "manifest",
        Route::Blob { .. } => "blob",
        Route::Uploads { .. } | Route::Upload { .. } => "blob_upload",
        Route::Tags { .. } => "tags",
        Route::Referrers { .. } => "referrers",
        Route::Token => "token",
        Route::Search => "search",
        Route::Metrics => "metrics",
        Route::NotFound => "none",
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(RegistryError::Io {
            op: "run",
            path: "a storage task".into(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `Range: 0-<last byte>` of an upload holding `offset` bytes (`0-0` when empty, as
/// distribution says it).
fn upload_range(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

fn page_size(q: &Query) -> Result<Option<usize>, RegistryError> {
    match q.get("n") {
        None => Ok(None),
        Some(n) => n.parse().map(Some).map_err(|_| {
            RegistryError::spec(
                Code::PaginationNumberInvalid,
                format!("invalid page size n={n:?}: use a number"),
            )
        }),
    }
}

/// `bytes=a-b` (one range) over a blob of `size` bytes: the first and last byte, or `None`
/// when unsatisfiable.
pub fn byte_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (first, last) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (size.checked_sub(n.min(size))?, size.checked_sub(1)?)
    } else {
        let first: u64 = a.parse().ok()?;
        let last = if b.is_empty() {
            size.checked_sub(1)?
        } else {
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?)
        };
        (first, last)
    };
    (first <= last && last < size).then_some((first, last))
}

/// A reader that counts what passes, for the metrics.
struct Counted<R> {
    inner: R,
    count: Arc<Inner>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.metrics.bytes_received.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl Service {
    async fn answer(self, req: Request<Incoming>) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let r = route(&path);
        let label = endpoint(&r);
        let resp = match self.dispatch(r, req).await {
            Ok(resp) => resp,
            Err(e) => {
                if e.code() == Code::Unknown {
                    tracing::error!(error = %e, %method, %path, "request failed");
                }
                error_response(e.code(), &e.to_string())
            }
        };
        let micros = started.elapsed().as_micros() as u64;
        let status = resp.status().as_u16();
        tracing::info!(%method, %path, status, micros, "request");
        self.0.metrics.request(label, method.as_str(), status, micros);
        resp
    }

    fn refusal(r: Refusal) -> Response<Body> {
        match r {
            Refusal::Challenge { www_authenticate, message } => {
                let mut resp = error_response(Code::Unauthorized, &message);
                if let Ok(v) = HeaderValue::from_str(&www_authenticate) {
                    resp.headers_mut().insert("WWW-Authenticate", v);
                }
                resp
            }
            Refusal::Denied(m) => error_response(Code::Denied, &m),
        }
    }

    async fn dispatch(&self, r: Route, req: Request<Incoming>) -> Answer {
        let inner = &self.0;
        let method = req.method().clone();
        let q = Query::parse(req.uri().query());
        let authorization = header(&req, "authorization").map(str::to_string);
        let host = header(&req, "host").unwrap_or("localhost").to_string();
        let origin = Origin { host: &host, tls: inner.tls };
        let writes = matches!(method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
        let repo = match &r {
            Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::Uploads { name }
            | Route::Upload { name, .. }
            | Route::Tags { name }
            | Route::Referrers { name, .. } => Some(name.clone()),
            _ => None,
        };
        // The door first: a client without credentials learns the challenge before anything
        // about the repository.
        let need = match (&r, &repo) {
            (Route::Catalog | Route::Search, _) => Some(Scope::catalog()),
            (_, Some(name)) => Some(Scope::repository(
                name,
                match method {
                    Method::DELETE => &["delete"],
                    Method::POST | Method::PUT | Method::PATCH => &["pull", "push"],
                    _ => &["pull"],
                },
            )),
            _ => None,
        };
        let who = match &r {
            Route::Metrics | Route::Token | Route::NotFound => Identity::default(),
            _ => match inner.guard.check(authorization.as_deref(), &origin, need.as_ref()) {
                Ok(who) => who,
                Err(refusal) => return Ok(Self::refusal(refusal)),
            },
        };
        if let Some(name) = &repo {
            check_name(name)?;
        }
        if writes && inner.read_only && !matches!(r, Route::Token) {
            return Err(RegistryError::spec(
                Code::Unsupported,
                "the registry is read-only: it takes no pushes or deletes",
            ));
        }
        let unsupported =
            || Err(RegistryError::spec(Code::Unsupported, format!("{method} is not supported here")));
        let store = inner.store.clone();
        match (r, &method) {
            (Route::Metrics, &Method::GET) => Ok(builder(200)
                .header("Content-Type", "text/plain; version=0.0.4")
                .body(Body::full(inner.metrics.render()))
                .expect("response")),
            (Route::Token, m) => self.token(m, authorization.as_deref(), &q, req).await,
            (Route::Base, &Method::GET | &Method::HEAD) => Ok(json(200, &serde_json::json!({}))),
            (Route::Catalog, &Method::GET) => {
                let n = page_size(&q)?;
                let names = blocking(move || store.catalog()).await?;
                let p = page(names, n, q.get("last"));
                let link = p.next.as_ref().map(|l| format!("/v2/_catalog?n={}&last={l}", n.unwrap_or(0)));
                Ok(with_link(json(200, &serde_json::json!({"repositories": p.items})), link))
            }
            (Route::Search, &Method::GET) => {
                let term = q.get("q").unwrap_or("").to_string();
                let size = page_size(&q)?.unwrap_or(25).clamp(1, 100);
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
                let t = term.clone();
                let names = blocking(move || store.search(&t)).await?;
                let results: Vec<serde_json::Value> = names
                    .iter()
                    .skip((page - 1) * size)
                    .take(size)
                    .map(|n| serde_json::json!({"name": n, "description": "", "star_count": 0, "is_official": false, "is_automated": false}))
                    .collect();
                Ok(json(
                    200,
                    &serde_json::json!({
                        "query": term, "num_results": names.len(), "num_pages": names.len().div_ceil(size),
                        "page": page, "page_size": size, "results": results,
                    }),
                ))
            }
            (Route::Tags { name }, &Method::GET) => {
                let n = page_size(&q)?;
                let nm = name.clone();
                let tags = blocking(move || store.tags(&nm)).await?;
                let p = page(tags, n, q.get("last"));
                let link =
                    p.next.as_ref().map(|l| format!("/v2/{name}/tags/list?n={}&last={l}", n.unwrap_or(0)));
                Ok(with_link(json(200, &serde_json::json!({"name": name, "tags": p.items})), link))
            }
            (Route::Manifest { name, reference }, m) => {
                let reference = Reference::parse(&reference)?;
                match *m {
                    Method::GET | Method::HEAD => self.get_manifest(name, reference, m == Method::HEAD).await,
                    Method::PUT => self.put_manifest(name, reference, req).await,
                    Method::DELETE => {
                        blocking(move || store.delete_manifest(&name, &reference)).await?;
                        Ok(done(empty(202)))
                    }
                    _ => unsupported(),
                }
            }
            (Route::Blob { name, digest }, m) => {
                let digest = parse_digest(&digest)?;
                match *m {
                    Method::GET | Method::HEAD => {
                        let range = header(&req, "range").map(str::to_string);
                        self.get_blob(name, digest, m == Method::HEAD, range).await
                    }
                    Method::DELETE => {
                        blocking(move || store.delete_blob(&name, &digest)).await?;
                        Ok(done(empty(202)))
                    }
                    _ => unsupported(),
                }
            }
            (Route::Uploads { name }, &Method::POST) => self.start_upload(name, &q, &who, req).await,
            (Route::Upload { name, id }, m) => self.upload(m.clone(), name, id, &q, req).await,
            (Route::Referrers { name, digest }, &Method::GET) => {
                let digest = parse_digest(&digest)?;
                let filter = q.get("artifactType").map(str::to_string);
                let f = filter.clone();
                let list = blocking(move || store.referrers(&name, &digest, f.as_deref())).await?;
                let body = serde_json::to_vec(&serde_json::json!({
                    "schemaVersion": 2, "mediaType": crate::manifest::OCI_INDEX, "manifests": list,
                }))
                .expect("json");
                let mut b = builder(200)
                    .header("Content-Type", crate::manifest::OCI_INDEX)
                    .header("Content-Length", body.len());
                if filter.is_some() {
                    b = b.header("OCI-Filters-Applied", "artifactType");
                }
                Ok(b.body(Body::full(body)).expect("response"))
            }
            (Route::NotFound, _) => {
                let mut resp =
                    error_response(Code::Unsupported, &format!("no such endpoint: {}", req.uri().path()));
                *resp.status_mut() = StatusCode::NOT_FOUND;
                Ok(resp)
            }
            _ => unsupported(),
        }
    }
}

fn with_link(mut resp: Response<Body>, link: Option<String>) -> Response<Body> {
    if let Some(l) = link {
        if let Ok(v) = HeaderValue::from_str(&format!("<{l}>; rel=\"next\"")) {
            resp.headers_mut().insert("Link", v);
        }
    }
    resp
}

impl Service {
    async fn token(
        &self,
        method: &Method,
        authorization: Option<&str>,
        q: &Query,
        req: Request<Incoming>,
    ) -> Answer {
        let Some(issuer) = self.0.guard.issuer() else {
            return Ok(error_response(Code::Unsupported, "this registry issues no tokens"));
        };
        let out = match *method {
            Method::GET => issuer.get(authorization, q),
            Method::POST => {
                let body = read_small(req, 64 * 1024).await?;
                issuer.post(&Query::parse(Some(&String::from_utf8_lossy(&body))))
            }
            _ => return Err(RegistryError::spec(Code::Unsupported, "the token endpoint takes GET and POST")),
        };
        match out {
            Ok(v) => Ok(json(200, &v)),
            Err(r) => Ok(Self::refusal(r)),
        }
    }

    async fn get_manifest(&self, name: String, reference: Reference, head: bool) -> Answer {
        let store = self.0.store.clone();
        let (digest, media_type, len, body) = if head {
            let (d, t, size) = blocking(move || store.stat_manifest(&name, &reference)).await?;
            (d, t, size, Body::Empty)
        } else {
            let m = blocking(move || store.manifest(&name, &reference)).await?;
            let n = m.bytes.len() as u64;
            self.0.metrics.bytes_sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            (m.digest, m.media_type, n, Body::full(m.bytes))
        };
        Ok(builder(200)
            .header("Content-Type", media_type)
            .header("Docker-Content-Digest", digest.to_string())
            .header("Etag", format!("\"{digest}\""))
            .header("Content-Length", len)
            .body(body)
            .expect("response"))
    }

    async fn put_manifest(&self, name: String, reference: Reference, req: Request<Incoming>) -> Answer {
        let content_type = header(&req, "content-type").map(str::to_string);
        let body = read_small(req, crate::manifest::MAX_MANIFEST).await?;
        self.0.metrics.bytes_received.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let store = self.0.store.clone();
        let nm = name.clone();
        let (digest, subject) =
            blocking(move || store.put_manifest(&nm, &reference, content_type.as_deref(), &body)).await?;
        let mut b = empty(201)
            .header("Location", format!("/v2/{name}/manifests/{digest}"))
            .header("Docker-Content-Digest", digest.to_string());
        if let Some(s) = subject {
            b = b.header("OCI-Subject", s.to_string());
        }
        Ok(done(b))
    }

    async fn get_blob(
        &self,
        name: String,
        digest: berth_content::Digest,
        head: bool,
        range: Option<String>,
    ) -> Answer {
        let store = self.0.store.clone();
        let d = digest.clone();
        let size = blocking(move || store.stat_blob(&name, &d)).await?;
        let (status, first, len) = match range.as_deref() {
            None => (200, 0, size),
            Some(h) => match byte_range(h, size) {
                Some((a, b)) => (206, a, b - a + 1),
                None => {
                    return Ok(done(
                        empty(416)
                            .header("Content-Range", format!("bytes */{size}"))
                            .header("Docker-Content-Digest", digest.to_string()),
                    ))
                }
            },
        };
        let mut b = builder(status)
            .header("Content-Type", "application/octet-stream")
            .header("Docker-Content-Digest", digest.to_string())
            .header("Etag", format!("\"{digest}\""))
            .header("Accept-Ranges", "bytes")
            .header("Content-Length", len);
        if status == 206 {
            b = b.header("Content-Range", format!("bytes {first}-{}/{size}", first + len - 1));
        }
        if head {
            return Ok(b.body(Body::Empty).expect("response"));
        }
        self.0.metrics.bytes_sent.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
        let path = self.0.store.blob_path(&digest);
        Ok(b.body(file_body(path, first, len).await?).expect("response"))
    }

    async fn start_upload(&self, name: String, q: &Query, who: &Identity, req: Request<Incoming>) -> Answer {
        let store = self.0.store.clone();
        if let (Some(mount), Some(from)) = (q.get("mount"), q.get("from")) {
            let digest = parse_digest(mount)?;
            let may = crate::route::valid_name(from)
                && self.0.guard.allows(who, &Scope::repository(from, &["pull"]));
            let (nm, fr, d) = (name.clone(), from.to_string(), digest.clone());
            if may && blocking(move || store.mount(&nm, &fr, &d)).await? {
                return Ok(done(
                    empty(201)
                        .header("Location", format!("/v2/{name}/blobs/{digest}"))
                        .header("Docker-Content-Digest", digest.to_string()),
                ));
            }
        }
        let store = self.0.store.clone();
        if let Some(digest) = q.get("digest") {
            let digest = parse_digest(digest)?;
            let mut body = Counted { inner: BodyReader::new(req.into_body()), count: self.0.clone() };
            let (nm, d) = (name.clone(), digest.clone());
            blocking(move || {
                let id = store.start_upload(&nm)?;
                let r = store.finish_upload(&nm, &id, &d, Some(&mut body));
                if r.is_err() {
                    let _ = store.cancel_upload(&nm, &id);
                }
                r
            })
            .await?;
            return Ok(done(
                empty(201)
                    .header("Location", format!("/v2/{name}/blobs/{digest}"))
                    .header("Docker-Content-Digest", digest.to_string()),
            ));
        }
        let nm = name.clone();
        let id = blocking(move || store.start_upload(&nm)).await?;
        Ok(done(upload_headers(empty(202), &name, &id, 0)))
    }

    async fn upload(
        &self,
        method: Method,
        name: String,
        id: String,
        q: &Query,
        req: Request<Incoming>,
    ) -> Answer {
        let store = self.0.store.clone();
        let (nm, i) = (name.clone(), id.clone());
        match method {
            Method::GET => {
                let offset = blocking(move || store.upload_offset(&nm, &i)).await?;
                Ok(done(upload_headers(empty(204), &name, &id, offset)))
            }
            Method::PATCH => {
                let start = match header(&req, "content-range") {
                    None => None,
                    Some(h) => Some(content_range_start(h).ok_or_else(|| {
                        RegistryError::spec(
                            Code::RangeInvalid,
                            format!("invalid Content-Range {h:?}: use start-end"),
                        )
                    })?),
                };
                let mut body = Counted { inner: BodyReader::new(req.into_body()), count: self.0.clone() };
                let result = blocking(move || {
                    let r = store.append_upload(&nm, &i, start, &mut body);
                    // A refused chunk is read to its end, so the client gets the answer.
                    body.inner.drain();
                    r
                })
                .await;
                match result {
                    Ok(offset) => Ok(done(upload_headers(empty(202), &name, &id, offset))),
                    Err(e) if e.code() == Code::RangeInvalid => {
                        let store = self.0.store.clone();
                        let (nm, i) = (name.clone(), id.clone());
                        let offset = blocking(move || store.upload_offset(&nm, &i)).await.unwrap_or(0);
                        let mut resp = error_response(Code::RangeInvalid, &e.to_string());
                        for (k, v) in [
                            ("Range", upload_range(offset)),
                            ("Location", format!("/v2/{name}/blobs/uploads/{id}")),
                        ] {
                            resp.headers_mut().insert(k, HeaderValue::from_str(&v).expect("header"));
                        }
                        Ok(resp)
                    }
                    Err(e) => Err(e),
                }
            }
            Method::PUT => {
                let Some(digest) = q.get("digest") else {
                    return Err(RegistryError::spec(
                        Code::DigestInvalid,
                        "the upload's last request needs ?digest=",
                    ));
                };
                let digest = parse_digest(digest)?;
                let mut body = Counted { inner: BodyReader::new(req.into_body()), count: self.0.clone() };
                let d = digest.clone();
                blocking(move || store.finish_upload(&nm, &i, &d, Some(&mut body))).await?;
                Ok(done(
                    empty(201)
                        .header("Location", format!("/v2/{name}/blobs/{digest}"))
                        .header("Docker-Content-Digest", digest.to_string()),
                ))
            }
            Method::DELETE => {
                blocking(move || store.cancel_upload(&nm, &i)).await?;
                Ok(done(empty(204)))
            }
            m => Err(RegistryError::spec(Code::Unsupported, format!("{m} is not supported on an upload"))),
        }
    }
}

fn upload_headers(
    b: hyper::http::response::Builder,
    name: &str,
    id: &str,
    offset: u64,
) -> hyper::http::response::Builder {
    b.header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
        .header("Range", upload_range(offset))
        .header("Docker-Upload-UUID", id)
}

/// The first byte of a chunk's `Content-Range: <start>-<end>` (a `bytes ` prefix tolerated).
fn content_range_start(h: &str) -> Option<u64> {
    let h = h.trim();
    let h = h.strip_prefix("bytes ").unwrap_or(h);
    let (a, b) = h.split_once('-')?;
    let b = b.split('/').next()?;
    let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some(a)
}

/// A request body of at most `limit` bytes.
async fn read_small(req: Request<Incoming>, limit: usize) -> Result<Vec<u8>, RegistryError> {
    use http_body_util::BodyExt;
    let mut body = req.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| RegistryError::Io {
            op: "read",
            path: "the request body".into(),
            source: std::io::Error::other(e),
        })?;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() > limit {
                return Err(RegistryError::spec(
                    Code::SizeInvalid,
                    format!("request body is larger than {limit} bytes"),
                ));
            }
        }
    }
    Ok(out)
}

/// `len` bytes of the file at `path` from `first`: whole when small, else streamed by a
/// blocking reader.
async fn file_body(path: std::path::PathBuf, first: u64, len: u64) -> Result<Body, RegistryError> {
    use std::io::{Seek, SeekFrom};
    const WHOLE: u64 = 1024 * 1024;
    let open = move || -> Result<std::fs::File, RegistryError> {
        let mut f = std::fs::File::open(&path).map_err(crate::error::io_err("open", &path))?;
        f.seek(SeekFrom::Start(first)).map_err(crate::error::io_err("seek", &path))?;
        Ok(f)
    };
    if len <= WHOLE {
        let bytes = blocking(move || {
            let mut buf = vec![0u8; len as usize];
            let mut f = open()?;
            f.read_exact(&mut buf).map_err(|e| RegistryError::Io {
                op: "read",
                path: "a blob".into(),
                source: e,
            })?;
            Ok(buf)
        })
        .await?;
        return Ok(Body::full(bytes));
    }
    let mut f = blocking(open).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let mut buf = vec![0u8; left.min(256 * 1024) as usize];
            if f.read_exact(&mut buf).is_err() || tx.blocking_send(buf).is_err() {
                return;
            }
            left -= left.min(256 * 1024);
        }
    });
    Ok(Body::Chan(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_as_rfc_7233_reads_them() {
        for (h, size, want) in [
            ("bytes=0-9", 100, Some((0, 9))),
            ("bytes=90-", 100, Some((90, 99))),
            ("bytes=-10", 100, Some((90, 99))),
            ("bytes=50-200", 100, Some((50, 99))),
            ("bytes=100-", 100, None),
            ("bytes=9-0", 100, None),
            ("bytes=0-1,5-6", 100, None),
            ("items=0-1", 100, None),
            ("bytes=0-0", 0, None),
        ] {
            assert_eq!(byte_range(h, size), want, "{h} of {size}");
        }
    }

    #[test]
    fn chunk_ranges_give_their_start() {
        assert_eq!(content_range_start("0-99"), Some(0));
        assert_eq!(content_range_start("bytes 100-199/*"), Some(100));
        assert_eq!(content_range_start("5-1"), None);
        assert_eq!(content_range_start("x"), None);
        assert_eq!(upload_range(0), "0-0");
        assert_eq!(upload_range(10), "0-9");
    }
}
