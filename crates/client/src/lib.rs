//! A client of the Docker Engine API, for berth's command line (and anyone else's).
//!
//! [`Host`] says where the daemon listens (`-H`, `DOCKER_HOST`); [`Client`] negotiates the API
//! version once (Docker's rule: the lower of the daemon's and ours) and sends requests, each on
//! a connection of its own. Answers come back as raw JSON ([`Client::json`]): the command line
//! prints what the daemon sent (`inspect`) and evaluates templates over it, so a typed round trip
//! would lose fields. Streams ([`Response::chunk`]) serve logs, events and progress; a hijacked
//! connection ([`Client::hijack`]) serves attach and exec.

mod body;
pub mod config;
pub mod containers;
mod error;
mod host;
pub mod images;
mod messages;
pub mod networks;
pub mod relay;
pub mod run;
mod stream;
pub mod system;
pub mod terminal;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::OnceCell;

pub use berth_kind::{Kind as ErrorKind, Kinded};
pub use berth_tls::TlsFiles;
pub use body::Body;
use body::Outgoing;
pub use error::ClientError;
pub use host::{Conn, Host, DEFAULT_HOST};
pub use hyper::Method;
pub use messages::{JsonMessage, Messages, Progress};
pub use stream::{demux, Frame, StreamKind};

/// The newest API version this client speaks.
pub const API_VERSION: berth_api::ApiVersion = berth_api::version::CURRENT;

/// A daemon's answer, with its body still to read.
pub struct Response {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    body: Incoming,
}

impl Response {
    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        return Ok(Some(data));
                    }
                }
                Some(Err(e)) => return Err(ClientError::Protocol(e.to_string())),
            }
        }
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, ClientError> {
        Ok(self.body.collect().await.map_err(|e| ClientError::Protocol(e.to_string()))?.to_bytes())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A connection the daemon handed over after `101 UPGRADED`: raw or multiplexed stream, both ways.
pub type Hijacked = TokioIo<hyper::upgrade::Upgraded>;

/// A client of one daemon.
pub struct Client {
    host: Host,
    /// TLS for a TCP host (`--tls`, `--tlsverify`, a context's TLS material).
    tls: Option<Arc<berth_tls::ClientConfig>>,
    version: OnceCell<String>,
    user_agent: String,
}

impl Client {
    pub fn new(host: Host) -> Client {
        Client {
            host,
            tls: None,
            version: OnceCell::new(),
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// This client, speaking TLS to a TCP host: the daemon's certificate checked against
    /// `files.ca` when `verify`, the client's own certificate presented when given.
    pub fn with_tls(mut self, files: &TlsFiles, verify: bool) -> Result<Client, ClientError> {
        let config = berth_tls::client_config(files, verify)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        self.tls = Some(config);
        Ok(self)
    }

    /// A client that speaks one API version, without negotiating (`DOCKER_API_VERSION`).
    pub fn with_version(host: Host, version: &str) -> Client {
        let c = Client::new(host);
        let _ = c.version.set(version.to_string());
        c
    }

    /// The operations on containers.
    pub fn containers(&self) -> containers::Containers<'_> {
        containers::Containers(self)
    }

    /// The operations on execs.
    pub fn execs(&self) -> containers::Execs<'_> {
        containers::Execs(self)
    }

    /// The operations on images.
    pub fn images(&self) -> images::Images<'_> {
        images::Images(self)
    }

    /// The operations on networks.
    pub fn networks(&self) -> networks::Networks<'_> {
        networks::Networks(self)
    }

    /// The operations on volumes.
    pub fn volumes(&self) -> networks::Volumes<'_> {
        networks::Volumes(self)
    }

    /// The operations on the daemon itself.
    pub fn system(&self) -> system::System<'_> {
        system::System(self)
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// A raw connection to the daemon, TLS included (`system dial-stdio` relays one).
    pub async fn dial(&self) -> Result<Conn, ClientError> {
        self.host.dial(self.tls.as_ref()).await
    }

    /// The API version requests use: the daemon's if older than ours, asked once with `/_ping`.
    pub async fn version(&self) -> Result<&str, ClientError> {
        self.version
            .get_or_try_init(|| async {
                let r = self.send(Method::HEAD, "/_ping", &[], Body::Empty).await?;
                let theirs = r.header("api-version").and_then(|v| v.parse::<berth_api::ApiVersion>().ok());
                Ok(match theirs {
                    Some(v) if v < API_VERSION => v.to_string(),
                    _ => API_VERSION.to_string(),
                })
            })
            .await
            .map(String::as_str)
    }

    /// `path` under the negotiated version, with a query.
    async fn url(&self, path: &str, query: &[(&str, String)]) -> Result<String, ClientError> {
        let mut url = format!("/v{}{path}", self.version().await?);
        if !query.is_empty() {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            url.push('?');
            url.push_str(&q.finish());
        }
        Ok(url)
    }

    /// Sends a request; an answer of 400 or more becomes [`ClientError::Daemon`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Response, ClientError> {
        self.request_with(method, path, query, &[], body).await
    }

    /// A request with headers of its own (`X-Registry-Auth`).
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response, ClientError> {
        let url = self.url(path, query).await?;
        let r = self.send(method, &url, headers, body).await?;
        if r.status.as_u16() >= 400 {
            return Err(daemon_error(r).await);
        }
        Ok(r)
    }

    /// A request whose answer is JSON (or nothing, as `null`).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<serde_json::Value, ClientError> {
        let bytes = self.request(method, path, query, body).await?.bytes().await?;
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("the daemon's answer is not JSON: {e}")))
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value, ClientError> {
        self.json(Method::GET, path, query, Body::Empty).await
    }

    pub async fn post(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<serde_json::Value, ClientError> {
        self.json(Method::POST, path, query, body).await
    }

    pub async fn delete(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, ClientError> {
        self.json(Method::DELETE, path, query, Body::Empty).await
    }

    /// A request the daemon answers by taking the connection over (attach, exec start).
    pub async fn hijack(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Hijacked, ClientError> {
        let url = self.url(path, query).await?;
        let req = self.build(Method::POST, &url, &[], body, true)?;
        let (mut sender, conn) = self.handshake().await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let resp = sender.send_request(req).await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        if resp.status().as_u16() >= 400 {
            let (parts, body) = resp.into_parts();
            return Err(daemon_error(Response { status: parts.status, headers: parts.headers, body }).await);
        }
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(ClientError::Protocol(format!(
                "the daemon answered {} instead of taking the connection over",
                resp.status()
            )));
        }
        let up = hyper::upgrade::on(resp).await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(TokioIo::new(up))
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response, ClientError> {
        let req = self.build(method, url, headers, body, false)?;
        let (mut sender, conn) = self.handshake().await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender.send_request(req).await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        Ok(Response { status: parts.status, headers: parts.headers, body })
    }

    fn build(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Body,
        upgrade: bool,
    ) -> Result<Request<Outgoing>, ClientError> {
        let mut b = Request::builder()
            .method(method)
            .uri(url)
            .header("host", self.host.http_host())
            .header("user-agent", &self.user_agent);
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        if upgrade {
            b = b.header("connection", "Upgrade").header("upgrade", "tcp");
        }
        let body = match body {
            Body::Empty => Outgoing::Full(None),
            Body::Json(v) => {
                b = b.header("content-type", "application/json");
                let json = serde_json::to_vec(&v).map_err(|e| ClientError::Protocol(e.to_string()))?;
                Outgoing::Full(Some(Bytes::from(json)))
            }
            Body::Tar(t) => {
                b = b.header("content-type", "application/x-tar");
                Outgoing::Full(Some(t))
            }
            Body::TarStream(rx) => {
                b = b.header("content-type", "application/x-tar");
                Outgoing::Stream(rx)
            }
        };
        b.body(body).map_err(|e| ClientError::InvalidArgument(e.to_string()))
    }

    async fn handshake(
        &self,
    ) -> Result<
        (
            hyper::client::conn::http1::SendRequest<Outgoing>,
            hyper::client::conn::http1::Connection<TokioIo<Conn>, Outgoing>,
        ),
        ClientError,
    > {
        let conn = tokio::time::timeout(Duration::from_secs(30), self.dial())
            .await
            .map_err(|_| self.host.unreachable(std::io::Error::from(std::io::ErrorKind::TimedOut)))??;
        hyper::client::conn::http1::handshake(TokioIo::new(conn))
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

/// Docker's error body `{"message": …}` (or whatever text came) as an error.
async fn daemon_error(r: Response) -> ClientError {
    let status = r.status.as_u16();
    let bytes = r.bytes().await.unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
    ClientError::Daemon { status, message }
}

/// An answer read into the type a caller acts on.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ClientError> {
    serde_json::from_value(v)
        .map_err(|e| ClientError::Protocol(format!("the daemon's answer is not as expected: {e}")))
}

/// Docker's `null` for an empty list or map.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
