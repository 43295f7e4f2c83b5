//! Which registries are reached without verified TLS: daemon.json's `insecure-registries`
//! (CIDRs, or `host[:port]` names) and, as on Docker, always `127.0.0.0/8` and `::1/128`. Pure:
//! the caller resolves names.

use std::net::IpAddr;

use ipnet::IpNet;

/// How berthd reaches registries.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    insecure_nets: Vec<IpNet>,
    insecure_names: Vec<String>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig::new(&[]).expect("the defaults are valid")
    }
}

/// An `insecure-registries` entry that is neither a CIDR nor a `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid insecure-registries entry {0:?}: give a CIDR (10.0.0.0/8) or a host[:port] without a scheme or path")]
pub struct InvalidEntry(pub String);

impl RegistryConfig {
    pub fn new(insecure: &[String]) -> Result<RegistryConfig, InvalidEntry> {
        let mut nets: Vec<IpNet> =
            vec!["127.0.0.0/8".parse().expect("a CIDR"), "::1/128".parse().expect("a CIDR")];
        let mut names = Vec::new();
        for entry in insecure {
            let e = entry.trim();
            if let Ok(net) = e.parse::<IpNet>() {
                nets.push(net);
            } else if !e.is_empty()
                && !e.contains("://")
                && !e.contains('/')
                && !e.contains(char::is_whitespace)
            {
                names.push(e.to_ascii_lowercase());
            } else {
                return Err(InvalidEntry(entry.clone()));
            }
        }
        Ok(RegistryConfig { insecure_nets: nets, insecure_names: names })
    }

    /// Whether `host` (`name[:port]` as a reference writes it), whose name resolved to
    /// `addresses`, is reached without verified TLS (plain HTTP when it does not speak TLS).
    pub fn is_insecure(&self, host: &str, addresses: &[IpAddr]) -> bool {
        let host = host.to_ascii_lowercase();
        let name = strip_port(&host);
        if self.insecure_names.iter().any(|n| *n == host || *n == name) {
            return true;
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        literal.iter().chain(addresses).any(|ip| self.insecure_nets.iter().any(|n| n.contains(ip)))
    }
}

/// The registry host a login names: a server address as clients send it (`127.0.0.1:5000`,
/// `https://host/`, Docker Hub's `https://index.docker.io/v1/`, or nothing for Docker Hub).
pub fn login_host(server: &str) -> String {
    let s = server.trim();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or_default();
    match host {
        "" | "index.docker.io" | "docker.io" => "registry-1.docker.io".to_string(),
        h => h.to_string(),
    }
}

/// `name` of `name[:port]` (IPv6 literals in brackets keep their colons).
pub fn strip_port(host: &str) -> &str {
    if let Some(end) = host.strip_prefix('[').and_then(|h| h.find(']')) {
        return &host[..end + 2];
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.contains(':') => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_are_insecure() {
        let c =
            RegistryConfig::new(&["10.1.0.0/16".into(), "myreg.local:5000".into(), "plain".into()]).unwrap();
        let lo: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        let far: Vec<IpAddr> = vec!["192.0.2.7".parse().unwrap()];
        let table: &[(&str, &[IpAddr], bool)] = &[
            ("127.0.0.1:5000", &[], true),
            ("localhost:5000", &lo, true),
            ("[::1]:5000", &[], true),
            ("10.1.2.3:443", &[], true),
            ("10.2.0.1", &[], false),
            ("myreg.local:5000", &far, true),
            ("myreg.local:6000", &far, false),
            ("plain:5000", &far, true),
            ("registry.example.com", &far, false),
        ];
        for (host, addrs, want) in table {
            assert_eq!(c.is_insecure(host, addrs), *want, "{host}");
        }
        for bad in ["http://x", "a/b", "two words"] {
            assert!(RegistryConfig::new(&[bad.into()]).is_err(), "{bad}");
        }
        assert_eq!(strip_port("[::1]:5000"), "[::1]");
        assert_eq!(strip_port("host:5000"), "host");
        assert_eq!(strip_port("host"), "host");
        for (server, host) in [
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("https://myreg:443/", "myreg:443"),
            ("https://index.docker.io/v1/", "registry-1.docker.io"),
            ("", "registry-1.docker.io"),
        ] {
            assert_eq!(login_host(server), host, "{server:?}");
        }
    }
}
