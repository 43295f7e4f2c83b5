//! `berth registry serve`: the registry server (berth-registry) in the foreground, configured
//! by a YAML file and flags over it. It needs no daemon.

use clap::{Args, Subcommand};

use crate::{Failure, Result};

#[derive(Subcommand, Debug)]
pub enum RegistryCmd {
    /// Serve an OCI distribution registry (as docker-registry serve does)
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// YAML configuration file (flags override it)
    #[arg(value_name = "CONFIG")]
    pub config: Option<String>,
    /// Address to listen on (default 0.0.0.0:5000)
    #[arg(long, value_name = "host:port")]
    pub addr: Option<String>,
    /// Storage root (default /var/lib/berth-registry)
    #[arg(long, value_name = "dir")]
    pub root: Option<String>,
    /// Refuse pushes and deletes
    #[arg(long)]
    pub read_only: bool,
    /// TLS certificate (PEM)
    #[arg(long, value_name = "file", requires = "tls_key")]
    pub tls_cert: Option<String>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "file", requires = "tls_cert")]
    pub tls_key: Option<String>,
    /// CA of client certificates: clients without one signed by it are refused
    #[arg(long, value_name = "file")]
    pub tls_client_ca: Option<String>,
    /// htpasswd file (bcrypt): Basic auth, or the accounts of --token
    #[arg(long, value_name = "file")]
    pub htpasswd: Option<String>,
    /// Issue bearer tokens at /token (accounts from --htpasswd)
    #[arg(long)]
    pub token: bool,
    /// How often garbage is collected (0: never)
    #[arg(long, value_name = "duration")]
    pub gc_interval: Option<String>,
    /// How long what was just pushed is spared by the collector
    #[arg(long, value_name = "duration")]
    pub gc_grace: Option<String>,
    /// Log level (error, warn, info, debug)
    #[arg(long, value_name = "level")]
    pub log_level: Option<String>,
}

fn duration(flag: &str, v: &str) -> Result<std::time::Duration> {
    berth_registry::config::parse_duration(v).ok_or_else(|| {
        Failure::new(
            125,
            format!("invalid argument {v:?} for \"--{flag}\" flag: use a duration such as 30s, 5m or 1h"),
        )
    })
}

/// The configuration the file and flags give.
pub fn config(a: ServeArgs) -> Result<berth_registry::Config> {
    use berth_registry::config::{HtpasswdConfig, TlsConfig, TokenConfig};
    let mut c = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::new(1, format!("cannot read the registry configuration {path}: {e}"))
            })?;
            berth_registry::Config::from_yaml(&text).map_err(|e| Failure::new(1, format!("{path}: {e}")))?
        }
        None => berth_registry::Config::default(),
    };
    if let Some(v) = a.addr {
        c.addr = v;
    }
    if let Some(v) = a.root {
        c.root = v.into();
    }
    c.read_only |= a.read_only;
    if let (Some(cert), Some(key)) = (a.tls_cert, a.tls_key) {
        c.tls = Some(TlsConfig { certificate: cert.into(), key: key.into(), client_ca: None });
    }
    if let Some(ca) = a.tls_client_ca {
        let Some(tls) = c.tls.as_mut() else {
            return Err(Failure::new(
                125,
                "--tls-client-ca needs TLS: give --tls-cert and --tls-key (or tls: in --config)",
            ));
        };
        tls.client_ca = Some(ca.into());
    }
    match (a.token, a.htpasswd) {
        (true, h) => {
            let mut t = c.auth.token.take().unwrap_or_default();
            t.htpasswd = h.map(Into::into).or(t.htpasswd);
            c.auth = berth_registry::config::AuthConfig { htpasswd: None, token: Some(t) };
        }
        (false, Some(h)) => {
            c.auth.htpasswd = Some(HtpasswdConfig { realm: "berth-registry".into(), path: h.into() });
            c.auth.token = None::<TokenConfig>;
        }
        (false, None) => {}
    }
    if let Some(v) = a.gc_interval {
        c.gc.interval = duration("gc-interval", &v)?;
    }
    if let Some(v) = a.gc_grace {
        c.gc.grace = duration("gc-grace", &v)?;
    }
    if let Some(v) = a.log_level {
        c.log.level = v;
    }
    c.validate().map_err(|e| Failure::new(1, e.to_string()))?;
    Ok(c)
}

pub fn run(cmd: RegistryCmd) -> Result {
    match cmd {
        RegistryCmd::Serve(a) => {
            let c = config(a)?;
            // A server outlives its clients: one that goes away mid-answer is an error on that
            // connection, never the SIGPIPE that `main` lets end the CLI.
            // SAFETY: setting a signal's disposition touches no Rust state.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            }
            berth_registry::run(c).map_err(|e| Failure::new(1, format!("registry: {e}")))
        }
    }
}
