//! berth's registry server (`berth registry serve`): the OCI Distribution Spec v1.1 on berth's
//! content store.
//!
//! [`route`] reads paths; [`guard`] (with [`auth`]) decides who may do what; [`store`] (with
//! [`uploads`] and [`gc`]) keeps repositories, manifests, tags and blobs; [`http`] translates
//! between the two and the wire; [`manifest`] reads pushed manifests; [`config`] the YAML and
//! flags; [`metrics`] `/metrics`.

pub mod auth;
pub mod config;
mod error;
pub mod gc;
pub mod guard;
mod http;
pub mod manifest;
mod metrics;
mod records;
pub mod route;
pub mod store;
mod uploads;

use std::sync::Arc;

pub use config::Config;
pub use error::{Code, RegistryError, Result};
pub use store::Store;

use guard::{Guard, TokenIssuer};

/// A registry ready to serve: its storage opened and its door set up.
pub struct Registry {
    config: Config,
    service: http::Service,
}

impl Registry {
    pub fn open(config: Config) -> Result<Registry> {
        config.validate()?;
        let store = Arc::new(Store::open(&config.root)?);
        let guard = match (&config.auth.htpasswd, &config.auth.token) {
            (Some(h), _) => Guard::Basic { realm: h.realm.clone(), htpasswd: auth::Htpasswd::open(&h.path)? },
            (None, Some(t)) => Guard::Token(TokenIssuer {
                realm: t.realm.clone(),
                service: t.service.clone(),
                issuer: t.issuer.clone(),
                htpasswd: t.htpasswd.as_deref().map(auth::Htpasswd::open).transpose()?,
                rules: t.access.clone(),
                ttl: t.expiration.as_secs().max(1),
                signer: auth::Signer::open(&config.root.join("token.key"))?,
            }),
            (None, None) => Guard::Open,
        };
        let inner = http::Inner {
            store,
            guard,
            metrics: metrics::Metrics::default(),
            read_only: config.read_only,
            tls: config.tls.is_some(),
        };
        Ok(Registry { config, service: http::Service(Arc::new(inner)) })
    }

    /// Runs the collector every `gc.interval` on a thread of its own.
    fn start_collector(&self) {
        let gc = self.config.gc.clone();
        if gc.interval.is_zero() || self.config.read_only {
            return;
        }
        let inner = self.service.0.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(gc.interval);
            match inner.store.collect_all(gc.grace.as_secs(), gc.uploads.as_secs()) {
                Ok(c) => {
                    inner.metrics.collected(&c);
                    if c != gc::Collected::default() {
                        tracing::info!(
                            manifests = c.manifests,
                            links = c.links,
                            blobs = c.blobs,
                            bytes = c.bytes,
                            uploads = c.uploads,
                            "garbage collected"
                        );
                    }
                }
                Err(e) => tracing::error!(error = %e, "garbage collection failed"),
            }
        });
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: std::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        let tls = match &self.config.tls {
            None => None,
            Some(t) => {
                let files = berth_tls::TlsFiles {
                    ca: t.client_ca.clone(),
                    cert: Some(t.certificate.clone()),
                    key: Some(t.key.clone()),
                };
                let config = berth_tls::server_config(&files, t.client_ca.is_some())
                    .map_err(|e| RegistryError::Config(e.to_string()))?;
                Some(berth_tls::TlsAcceptor::from(config))
            }
        };
        self.start_collector();
        berth_http::serve_tcp(listener, tls, self.service, shutdown).await.map_err(RegistryError::Config)
    }
}

/// `berth registry serve`: logs to stderr, binds `config.addr`, serves until SIGINT or SIGTERM.
pub fn run(config: Config) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .map_err(|e| RegistryError::Config(format!("log level {:?}: {e}", config.log.level)))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    let registry = Registry::open(config)?;
    let addr = registry.config.addr.clone();
    let listener = std::net::TcpListener::bind(&addr)
        .map_err(error::io_err("listen on", std::path::Path::new(&addr)))?;
    tracing::info!(
        address = %listener.local_addr().map(|a| a.to_string()).unwrap_or(addr),
        root = %registry.config.root.display(),
        tls = registry.config.tls.is_some(),
        read_only = registry.config.read_only,
        "registry listening"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(error::io_err("start", std::path::Path::new("the async runtime")))?;
    rt.block_on(async move {
        // Both signals are caught before the server says it is ready.
        use tokio::signal::unix::{signal, SignalKind};
        let on = |kind| signal(kind).map_err(error::io_err("catch", std::path::Path::new("signals")));
        let (mut int, mut term) = (on(SignalKind::interrupt())?, on(SignalKind::terminate())?);
        let shutdown = async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            tracing::info!("registry stopping");
        };
        registry.serve(listener, shutdown).await
    })
}
