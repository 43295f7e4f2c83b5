//! The distribution protocol from the client's side, over `oci-client` (token and basic auth,
//! manifests, blobs): [`Registry`] knows how each registry is reached ([`registry`]: verified
//! TLS, or, for insecure registries, TLS without verification falling back to plain HTTP, as
//! Docker does); a [`Session`] is one repository with its credentials, which resolves a
//! reference to the manifest for a platform ([`Resolved`]) and streams blobs. What the bytes
//! become is the image store's business.

pub mod certs;
pub mod login;
pub mod registry;
pub mod search;

use std::net::IpAddr;

use berth_kind::{Kind, Kinded};
use berth_oci::manifest::{self, Descriptor, Parsed};
use berth_oci::media;
use berth_oci::{Platform, Reference};
use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;

pub use login::{login, LoginError};
pub use registry::RegistryConfig;
pub use search::{search, SearchError, SearchResult};

/// What went wrong talking to a registry, in Docker's words.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// The registry could not be reached (refused, unknown host, TLS to a plain-HTTP one).
    #[error("Get \"{url}\": {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{action} access denied for {repository}, repository does not exist or may require 'docker login': {detail}")]
    Denied { action: &'static str, repository: String, detail: String },
    #[error("manifest for {reference} not found: manifest unknown: manifest unknown")]
    ManifestUnknown { reference: String },
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoMatchingPlatform { platform: String },
    #[error("{reference} is not an image: its manifest's media type is {media_type:?}")]
    NotAnImage { reference: String, media_type: String },
    #[error("layer {digest} is non-distributable (a foreign layer): berth does not fetch layers from outside the registry")]
    ForeignLayer { digest: String },
    /// The registry's rate limit (429), with what it says of it.
    #[error("toomanyrequests: {detail}")]
    TooManyRequests { detail: String },
    /// The registry answered something that is not the protocol.
    #[error("{0}")]
    Protocol(String),
    /// The registry's `certs.d` directory cannot be used.
    #[error(transparent)]
    Certs(#[from] certs::CertsError),
}

impl Kinded for DistributionError {
    fn kind(&self) -> Kind {
        match self {
            DistributionError::Unreachable { .. } | DistributionError::Protocol(_) => Kind::Internal,
            // As Docker answers it: a not-found (a 401 would make the docker CLI ask for a
            // login on the terminal and pull again).
            DistributionError::Denied { .. } => Kind::NotFound,
            DistributionError::ManifestUnknown { .. } | DistributionError::NoMatchingPlatform { .. } => {
                Kind::NotFound
            }
            DistributionError::NotAnImage { .. } | DistributionError::ForeignLayer { .. } => {
                Kind::InvalidArgument
            }
            DistributionError::TooManyRequests { .. } => Kind::Unavailable,
            DistributionError::Certs(e) => e.kind(),
        }
    }
}

type Result<T, E = DistributionError> = std::result::Result<T, E>;

/// The credentials a client sent (`X-Registry-Auth`) or berthd holds for a registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// A token the registry's token service issued (sent as a bearer token).
    pub registry_token: String,
    /// A refresh token a login kept (`identitytoken`), traded for access tokens.
    pub identity_token: String,
}

impl Credentials {
    fn auth(&self) -> RegistryAuth {
        if !self.registry_token.is_empty() {
            RegistryAuth::Bearer(self.registry_token.clone())
        } else if !self.username.is_empty() {
            RegistryAuth::Basic(self.username.clone(), self.password.clone())
        } else {
            RegistryAuth::Anonymous
        }
    }
}

/// What a pull needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Pull,
    Push,
}

/// How berthd reaches registries.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    config: RegistryConfig,
}

/// One repository of one registry, with credentials.
pub struct Session {
    client: oci_client::Client,
    /// `https` or, for an insecure registry without TLS, `http`.
    scheme: &'static str,
    operation: Operation,
    image: oci_client::Reference,
    auth: RegistryAuth,
    reference: Reference,
}

/// A reference resolved for a platform.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The digest the reference names: the index's when it names one (Docker's `RepoDigests`).
    pub digest: String,
    /// The image's own manifest, byte for byte, and its media type.
    pub manifest: Vec<u8>,
    pub manifest_media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// A reference described without being pulled.
#[derive(Debug, Clone)]
pub struct Described {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platforms: Vec<Platform>,
}

const ACCEPTED: &[&str] =
    &[media::OCI_INDEX, media::DOCKER_MANIFEST_LIST, media::OCI_MANIFEST, media::DOCKER_MANIFEST];

impl Registry {
    pub fn new(config: RegistryConfig) -> Registry {
        berth_tls::install_default_provider();
        Registry { config }
    }

    /// A session on the repository of `reference`.
    pub async fn session(
        &self,
        reference: &Reference,
        creds: &Credentials,
        op: Operation,
    ) -> Result<Session> {
        let host = reference.domain().to_string();
        let image: oci_client::Reference = reference
            .to_string()
            .parse()
            .map_err(|e| DistributionError::Protocol(format!("reference {reference}: {e}")))?;
        let insecure = insecure(&self.config, &host).await;
        let operation = match op {
            Operation::Pull => RegistryOperation::Pull,
            Operation::Push => RegistryOperation::Push,
        };
        let auth = if creds.identity_token.is_empty() {
            creds.auth()
        } else {
            let push = matches!(op, Operation::Push);
            let token = login::exchange(&self.config, &host, reference.path(), push, &creds.identity_token)
                .await
                .map_err(|detail| DistributionError::Denied {
                    action: if push { "push" } else { "pull" },
                    repository: reference.name(),
                    detail,
                })?;
            RegistryAuth::Bearer(token)
        };
        let certs = certs::host_certs(&self.config.certs_dirs, &host)?;
        let roots: Vec<_> = certs
            .roots
            .iter()
            .map(|pem| oci_client::client::Certificate {
                encoding: oci_client::client::CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect();
        let session = |protocol, accept_invalid| Session {
            scheme: if matches!(protocol, ClientProtocol::Http) { "http" } else { "https" },
            operation: op,
            client: oci_client::Client::new(ClientConfig {
                protocol,
                accept_invalid_certificates: accept_invalid,
                extra_root_certificates: roots.clone(),
                identity: certs.identity.clone(),
                user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            }),
            image: image.clone(),
            auth: auth.clone(),
            reference: reference.clone(),
        };
        // An insecure registry that does not speak TLS is reached over plain HTTP: asked once
        // (a bearer token is not checked by the client, so its own check cannot tell).
        // When neither answers, the error names the last tried, plain HTTP, as Docker's does.
        let plain = insecure
            && match reach(&self.config, &host, "/v2/", |c, u| c.get(u)).await {
                Ok((_, url, _)) | Err((url, _)) => url.starts_with("http://"),
            };
        let s = match plain {
            true => session(ClientProtocol::Http, false),
            false => session(ClientProtocol::Https, insecure),
        };
        s.client.auth(&s.image, &s.auth, operation).await.map_err(|e| s.error(e))?;
        Ok(s)
    }
}

impl Session {
    /// The manifest of the image `reference` names for `platform` (through its index when it
    /// names one).
    pub async fn resolve(&self, platform: &Platform) -> Result<Resolved> {
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(&self.image, &self.auth, ACCEPTED)
            .await
            .map_err(|e| self.error(e))?;
        let manifest = match self.parse(&bytes)? {
            Parsed::Manifest(m) => m,
            Parsed::Index(index) => {
                let entry = platform.select(index.manifests(), manifest::platform_of).ok_or_else(|| {
                    DistributionError::NoMatchingPlatform { platform: platform.to_string() }
                })?;
                let by_digest = self.image.clone_with_digest(entry.digest().to_string());
                let (bytes, _) = self
                    .client
                    .pull_manifest_raw(&by_digest, &self.auth, ACCEPTED)
                    .await
                    .map_err(|e| self.error(e))?;
                match self.parse(&bytes)? {
                    Parsed::Manifest(m) => {
                        return Ok(self.resolved(digest, bytes.to_vec(), *m));
                    }
                    Parsed::Index(_) => {
                        return Err(DistributionError::NotAnImage {
                            reference: self.reference.to_string(),
                            media_type: media::OCI_INDEX.into(),
                        })
                    }
                }
            }
        };
        Ok(self.resolved(digest, bytes.to_vec(), *manifest))
    }

    fn resolved(&self, digest: String, bytes: Vec<u8>, m: manifest::ImageManifest) -> Resolved {
        let media_type =
            m.media_type().as_ref().map(|t| t.to_string()).unwrap_or_else(|| media::OCI_MANIFEST.to_string());
        Resolved {
            digest,
            manifest: bytes,
            manifest_media_type: media_type,
            config: m.config().clone(),
            layers: m.layers().clone(),
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<Parsed> {
        manifest::parse("", bytes)
            .map_err(|e| DistributionError::Protocol(format!("{}: {e}", self.reference)))
    }

    /// A whole small blob (a config).
    pub async fn blob_bytes(&self, d: &Descriptor) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(d.size() as usize);
        let mut s = self.blob(d).await?;
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// A blob as its bytes arrive (the stream checks the digest at its end).
    pub async fn blob(
        &self,
        d: &Descriptor,
    ) -> Result<impl futures::Stream<Item = Result<bytes::Bytes>> + Send + Unpin + 'static> {
        if media::kind(d.media_type().as_ref()) == media::Kind::ForeignLayer {
            return Err(DistributionError::ForeignLayer { digest: d.digest().to_string() });
        }
        let digest = d.digest().to_string();
        let s =
            self.client.pull_blob_stream(&self.image, digest.as_str()).await.map_err(|e| self.error(e))?;
        let url = format!("{}/blobs/{digest}", self.reference.name());
        Ok(s.stream
            .map(move |r| r.map_err(|e| DistributionError::Protocol(format!("reading blob {url}: {e}")))))
    }

    /// The blob from byte `offset` on (from 0 for a first try, further for a download resumed),
    /// asked as a range; a registry that answers with the whole blob has the bytes before
    /// `offset` skipped. The digest is not checked here: the caller checks the whole blob (a
    /// pull's ingest does at its commit), so its bytes are hashed once, not twice.
    pub async fn blob_from(
        &self,
        d: &Descriptor,
        offset: u64,
    ) -> Result<std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes>> + Send>>> {
        // An empty blob has no range to ask for.
        if d.size() == 0 {
            return Ok(Box::pin(self.blob(d).await?));
        }
        if media::kind(d.media_type().as_ref()) == media::Kind::ForeignLayer {
            return Err(DistributionError::ForeignLayer { digest: d.digest().to_string() });
        }
        let digest = d.digest().to_string();
        let response = self
            .client
            .pull_blob_stream_partial(&self.image, digest.as_str(), offset, None)
            .await
            .map_err(|e| self.error(e))?;
        let (stream, mut skip) = match response {
            oci_client::client::BlobResponse::Partial(s) => (s.stream, 0u64),
            oci_client::client::BlobResponse::Full(s) => (s.stream, offset),
        };
        let url = format!("{}/blobs/{digest}", self.reference.name());
        Ok(Box::pin(stream.filter_map(move |r| {
            let out = match r {
                Err(e) => Some(Err(DistributionError::Protocol(format!("reading blob {url}: {e}")))),
                Ok(b) if skip >= b.len() as u64 => {
                    skip -= b.len() as u64;
                    None
                }
                Ok(b) => {
                    let b = b.slice(skip as usize..);
                    skip = 0;
                    Some(Ok(b))
                }
            };
            std::future::ready(out)
        })))
    }

    /// The manifest (or index) the reference names, byte for byte: its bytes, digest and
    /// media type (`docker manifest inspect`).
    pub async fn raw_manifest(&self) -> Result<(Vec<u8>, String, String)> {
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(&self.image, &self.auth, ACCEPTED)
            .await
            .map_err(|e| self.error(e))?;
        let media_type = match self.parse(&bytes)? {
            Parsed::Index(i) => {
                i.media_type().as_ref().map(|t| t.to_string()).unwrap_or_else(|| media::OCI_INDEX.into())
            }
            Parsed::Manifest(m) => {
                m.media_type().as_ref().map(|t| t.to_string()).unwrap_or_else(|| media::OCI_MANIFEST.into())
            }
        };
        Ok((bytes.to_vec(), digest, media_type))
    }

    /// The session's reference with `digest` in place of its tag (an index's entry).
    pub fn by_digest(&self, digest: &str) -> Session {
        Session {
            client: self.client.clone(),
            scheme: self.scheme,
            operation: self.operation,
            image: self.image.clone_with_digest(digest.to_string()),
            auth: self.auth.clone(),
            reference: self.reference.with_digest(digest),
        }
    }

    /// The repository's tags, in the registry's order.
    pub async fn tags(&self) -> Result<Vec<String>> {
        let r =
            self.client.list_tags(&self.image, &self.auth, None, None).await.map_err(|e| self.error(e))?;
        Ok(r.tags)
    }

    /// What the reference names, without pulling it (`GET /distribution/{name}/json`): its
    /// manifest's descriptor and the platforms it serves (an index's entries, or an image's
    /// config).
    pub async fn describe(&self) -> Result<Described> {
        let (bytes, digest) = self
            .client
            .pull_manifest_raw(&self.image, &self.auth, ACCEPTED)
            .await
            .map_err(|e| self.error(e))?;
        let (media_type, platforms) = match self.parse(&bytes)? {
            Parsed::Index(index) => (
                index.media_type().as_ref().map(|t| t.to_string()).unwrap_or_else(|| media::OCI_INDEX.into()),
                index.manifests().iter().filter_map(manifest::platform_of).collect(),
            ),
            Parsed::Manifest(m) => {
                let config: serde_json::Value =
                    serde_json::from_slice(&self.blob_bytes(m.config()).await?).unwrap_or_default();
                let field = |k: &str| config.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let platform = Platform {
                    os: field("os"),
                    architecture: field("architecture"),
                    variant: field("variant"),
                };
                (
                    m.media_type()
                        .as_ref()
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| media::OCI_MANIFEST.into()),
                    vec![platform],
                )
            }
        };
        Ok(Described { media_type, digest, size: bytes.len() as u64, platforms })
    }

    /// Whether the repository has the blob `digest` already.
    pub async fn has_blob(&self, digest: &str) -> Result<bool> {
        self.client.blob_exists(&self.image, digest).await.map_err(|e| self.error(e))
    }

    /// Asks the registry to link the blob `digest` from the repository `from` of the same
    /// registry (a cross-repository mount); whether it did.
    pub async fn mount_blob(&self, digest: &str, from: &Reference) -> bool {
        let Ok(source) = from.to_string().parse::<oci_client::Reference>() else { return false };
        self.client.mount_blob(&self.image, &source, digest).await.is_ok()
            && self.has_blob(digest).await.unwrap_or(false)
    }

    /// Uploads a blob from `data` (chunked; the registry checks `digest` at the end).
    pub async fn push_blob(
        &self,
        digest: &str,
        size: u64,
        data: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    ) -> Result<()> {
        let data = data.map(|r| r.map_err(OciDistributionError::IoError));
        self.client
            .push_blob_stream(&self.image, data, digest, Some(size))
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Puts the manifest `bytes` of `media_type` under the session's reference (its tag).
    pub async fn push_manifest(&self, bytes: Vec<u8>, media_type: &str) -> Result<()> {
        let content_type = hyper::header::HeaderValue::from_str(media_type).map_err(|_| {
            DistributionError::Protocol(format!("media type {media_type:?} is not a header value"))
        })?;
        self.client.push_manifest_raw(&self.image, bytes, content_type).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// A library error in Docker's words.
    fn error(&self, e: OciDistributionError) -> DistributionError {
        let repository = self.reference.name();
        let action = match self.operation {
            Operation::Pull => "pull",
            Operation::Push => "push",
        };
        match e {
            OciDistributionError::RequestError(err) => DistributionError::Unreachable {
                url: format!("{}://{}/v2/", self.scheme, self.image.resolve_registry()),
                detail: chain(&err),
            },
            OciDistributionError::AuthenticationFailure(detail) => {
                DistributionError::Denied { action, repository, detail }
            }
            OciDistributionError::UnauthorizedError { url } => DistributionError::Denied {
                action,
                repository,
                detail: format!("unauthorized: authentication required ({url})"),
            },
            OciDistributionError::ImageManifestNotFoundError(_) => {
                DistributionError::ManifestUnknown { reference: self.reference.to_string() }
            }
            OciDistributionError::ServerError { code: 429, message, .. } => {
                DistributionError::TooManyRequests {
                    detail: if message.trim().is_empty() {
                        format!(
                            "the registry at {} asks to slow down: try again later",
                            self.reference.domain()
                        )
                    } else {
                        message
                    },
                }
            }
            OciDistributionError::ServerError { code: 401 | 403, message, .. } => {
                DistributionError::Denied { action, repository, detail: message }
            }
            OciDistributionError::ServerError { code: 404, .. } => {
                DistributionError::ManifestUnknown { reference: self.reference.to_string() }
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let text = envelope.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
                let has = |want: &[OciErrorCode]| envelope.errors.iter().any(|e| want.contains(&e.code));
                if has(&[OciErrorCode::ManifestUnknown, OciErrorCode::NameUnknown]) {
                    DistributionError::ManifestUnknown { reference: self.reference.to_string() }
                } else if has(&[OciErrorCode::Unauthorized, OciErrorCode::Denied]) {
                    DistributionError::Denied { action, repository, detail: format!("denied: {text}") }
                } else if has(&[OciErrorCode::Toomanyrequests]) {
                    DistributionError::TooManyRequests { detail: text }
                } else {
                    DistributionError::Protocol(text)
                }
            }
            other => DistributionError::Protocol(other.to_string()),
        }
    }
}

/// Asks a registry as Docker reaches it, outside `oci-client` (a login's check, a search): over
/// verified TLS, or, for an insecure registry, over TLS without verification and then plain
/// HTTP when TLS fails. `ask` makes the request from a client and the URL
/// (`scheme://host` + `path`). Gives the client that answered (for what follows), the URL and
/// the answer; or the URL last tried and why it failed.
pub(crate) async fn reach(
    config: &RegistryConfig,
    host: &str,
    path: &str,
    ask: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> std::result::Result<(reqwest::Client, String, reqwest::Response), (String, String)> {
    berth_tls::install_default_provider();
    let insecure = insecure(config, host).await;
    let https = format!("https://{host}{path}");
    let certs = certs::host_certs(&config.certs_dirs, host).map_err(|e| (https.clone(), e.to_string()))?;
    let client = |verify: bool| -> std::result::Result<reqwest::Client, reqwest::Error> {
        let mut b = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(!verify)
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")));
        for pem in &certs.roots {
            b = b.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?);
        }
        if let Some(pem) = &certs.identity {
            b = b.identity(reqwest::Identity::from_pem(pem)?);
        }
        b.build()
    };
    let ask = &ask;
    let attempt = |verify: bool, url: String| async move {
        let http = client(verify).map_err(|e| (url.clone(), chain(&e)))?;
        match ask(&http, &url).send().await {
            Ok(r) => Ok((http, url, r)),
            Err(e) => Err((url, chain(&e))),
        }
    };
    match attempt(!insecure, https).await {
        Err(_) if insecure => attempt(false, format!("http://{host}{path}")).await,
        answer => answer,
    }
}

/// Whether `host` is reached without verified TLS, its name resolved to decide (as Docker
/// decides by the addresses a name has).
pub(crate) async fn insecure(config: &RegistryConfig, host: &str) -> bool {
    let addresses: Vec<IpAddr> = match tokio::net::lookup_host((registry::strip_port(host), 443)).await {
        Ok(a) => a.map(|s| s.ip()).collect(),
        Err(_) => Vec::new(),
    };
    config.is_insecure(host, &addresses)
}

/// An error with its causes, as Go prints a wrapped error.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
