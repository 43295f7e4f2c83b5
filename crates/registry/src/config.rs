//! The server's settings: a YAML file (`--config`), then flags over it.
//!
//! ```yaml
//! addr: 0.0.0.0:5000
//! root: /var/lib/berth-registry
//! read_only: false
//! tls: { certificate: /etc/berth-registry/cert.pem, key: /etc/berth-registry/key.pem }
//! # client_ca: /etc/berth-registry/clients-ca.pem   (in tls: clients must present a certificate)
//! auth:
//!   htpasswd: { realm: berth-registry, path: /etc/berth-registry/htpasswd }
//!   # or, tokens from the registry's own /token endpoint:
//!   token:
//!     service: berth-registry
//!     htpasswd: /etc/berth-registry/htpasswd
//!     expiration: 5m
//!     access:
//!       - { account: "*", name: "*", actions: [pull] }
//!       - { account: alice, name: "alice/*", actions: ["*"] }
//! gc: { interval: 1h, grace: 10m, uploads: 24h }
//! log: { level: info }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::Rule;
use crate::error::{RegistryError, Result};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub addr: String,
    pub root: PathBuf,
    pub read_only: bool,
    pub tls: Option<TlsConfig>,
    pub auth: AuthConfig,
    pub gc: GcConfig,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "0.0.0.0:5000".into(),
            root: PathBuf::from("/var/lib/berth-registry"),
            read_only: false,
            tls: None,
            auth: AuthConfig::default(),
            gc: GcConfig::default(),
            log: LogConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// The CA that clients' certificates must be signed by: when given, a client without one
    /// is turned away (mutual TLS, distribution's `clientcas`).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub htpasswd: Option<HtpasswdConfig>,
    pub token: Option<TokenConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtpasswdConfig {
    #[serde(default = "default_realm")]
    pub realm: String,
    pub path: PathBuf,
}

fn default_realm() -> String {
    "berth-registry".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// The token endpoint's URL, when clients must reach it by another name than the registry's.
    pub realm: Option<String>,
    pub service: String,
    pub issuer: String,
    pub htpasswd: Option<PathBuf>,
    #[serde(deserialize_with = "duration")]
    pub expiration: Duration,
    pub access: Vec<Rule>,
}

impl Default for TokenConfig {
    fn default() -> TokenConfig {
        TokenConfig {
            realm: None,
            service: "berth-registry".into(),
            issuer: "berth-registry".into(),
            htpasswd: None,
            expiration: Duration::from_secs(300),
            access: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcConfig {
    /// How often the collector runs (0: never).
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// How long what was just pushed is spared.
    #[serde(deserialize_with = "duration")]
    pub grace: Duration,
    /// After how long an unfinished upload is abandoned.
    #[serde(deserialize_with = "duration")]
    pub uploads: Duration,
}

impl Default for GcConfig {
    fn default() -> GcConfig {
        GcConfig {
            interval: Duration::from_secs(3600),
            grace: Duration::from_secs(600),
            uploads: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig { level: "info".into() }
    }
}

/// `300ms`, `30s`, `5m`, `1h`, `1h30m`, `2d`, or a number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86400),
            _ => return None,
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    (!s.is_empty()).then_some(total)
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    match Raw::deserialize(d)? {
        Raw::N(n) => Ok(Duration::from_secs(n)),
        Raw::S(s) => parse_duration(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid duration {s:?}: use 30s, 5m, 1h"))),
    }
}

impl Config {
    /// Reads a YAML configuration.
    pub fn from_yaml(text: &str) -> Result<Config> {
        let c: Config = serde_saphyr::from_str(text).map_err(|e| RegistryError::Config(e.to_string()))?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        if self.auth.htpasswd.is_some() && self.auth.token.is_some() {
            return Err(RegistryError::Config("auth: choose htpasswd or token, not both".into()));
        }
        if self.addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(RegistryError::Config(format!(
                "addr {:?} is not an address: use host:port, such as 127.0.0.1:5000",
                self.addr
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        for (s, want) in [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("200ms", 200),
            ("0", 0),
            ("2d", 172_800_000),
            ("7", 7000),
        ] {
            assert_eq!(parse_duration(s), Some(Duration::from_millis(want)), "{s}");
        }
        for bad in ["", "m", "5x", "1.5h", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn yaml_configurations_are_read_and_checked() {
        let c = Config::from_yaml(
            "addr: 127.0.0.1:5001\nroot: /tmp/r\nread_only: true\nauth:\n  token:\n    service: svc\n    expiration: 10m\n    access:\n      - { account: '*', name: '*', actions: [pull] }\ngc: { interval: 200ms, grace: 0s }\n",
        )
        .unwrap();
        assert_eq!(c.addr, "127.0.0.1:5001");
        assert!(c.read_only);
        let t = c.auth.token.unwrap();
        assert_eq!((t.service.as_str(), t.expiration, t.access.len()), ("svc", Duration::from_secs(600), 1));
        assert_eq!(c.gc.interval, Duration::from_millis(200));
        assert_eq!(c.gc.uploads, Duration::from_secs(86400));
        assert_eq!(Config::from_yaml("{}").unwrap(), Config::default());
        let c = Config::from_yaml("tls: { certificate: /c, key: /k, client_ca: /ca }").unwrap();
        assert_eq!(c.tls.unwrap().client_ca, Some(PathBuf::from("/ca")));
        for bad in [
            "adr: 1",
            "addr: nowhere",
            "gc: { interval: soon }",
            "auth: { htpasswd: { path: /x }, token: {} }",
            "tls: { certificate: /c, key: /k, clientcas: /ca }",
        ] {
            assert!(Config::from_yaml(bad).is_err(), "{bad}");
        }
    }
}
