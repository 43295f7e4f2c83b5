//! How registries are reached. Which without verified TLS: daemon.json's `insecure-registries`
//! (CIDRs, or `host[:port]` names) and, as on Docker, always `127.0.0.0/8` and `::1/128`;
//! `registry-mirrors`, tried in order before Docker Hub; where the CAs of registries with
//! private ones are (`certs.d/<host>/*.crt`). Pure: the caller resolves names and reads files.

use std::net::IpAddr;

use ipnet::IpNet;

/// How berthd reaches registries.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    insecure_nets: Vec<IpNet>,
    insecure_names: Vec<String>,
    /// Docker Hub's mirrors, as `host[:port]`, in order.
    pub mirrors: Vec<String>,
    /// Directories holding a `<host>/` directory of CA certificates (`*.crt`) per registry.
    pub certs_dirs: Vec<std::path::PathBuf>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig::new(&[]).expect("the defaults are valid")
    }
}

/// An `insecure-registries` entry that is neither a CIDR nor a `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid registry entry {0:?}: insecure-registries takes a CIDR (10.0.0.0/8) or a host[:port] without a scheme or path; registry-mirrors takes http(s)://host[:port]/")]
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
        Ok(RegistryConfig {
            insecure_nets: nets,
            insecure_names: names,
            mirrors: Vec::new(),
            certs_dirs: Vec::new(),
        })
    }

    /// With `registry-mirrors` (URLs, as daemon.json gives them).
    pub fn with_mirrors(mut self, urls: &[String]) -> Result<RegistryConfig, InvalidEntry> {
        self.mirrors = urls.iter().map(|u| mirror_host(u)).collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// The references a pull of `reference` tries, in order: Docker Hub's go through its
    /// mirrors first, each as the same repository on the mirror.
    pub fn candidates(&self, reference: &berth_oci::Reference) -> Vec<berth_oci::Reference> {
        let mut out = Vec::new();
        if reference.domain() == "docker.io" {
            for m in &self.mirrors {
                let suffix = match (reference.digest(), reference.tag()) {
                    (Some(d), _) => format!("@{d}"),
                    (None, Some(t)) => format!(":{t}"),
                    (None, None) => String::new(),
                };
                // A single-label name without a port (`http://mirror`) cannot lead a reference:
                // such a mirror is passed over.
                match berth_oci::Reference::parse(&format!("{m}/{}{suffix}", reference.path())) {
                    Ok(r) if r.domain() == m => out.push(r),
                    _ => {
                        tracing::warn!(mirror = %m, "registry mirror passed over: name it with a domain or a port")
                    }
                }
            }
        }
        out.push(reference.clone());
        out
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

/// The `host[:port]` of a `registry-mirrors` URL (`http://` or `https://`, nothing after the
/// host but `/`), as Docker accepts them.
pub fn mirror_host(url: &str) -> Result<String, InvalidEntry> {
    let bad = || InvalidEntry(url.to_string());
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(bad)?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) || host.contains('@') {
        return Err(bad());
    }
    Ok(host.to_ascii_lowercase())
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
        assert_eq!(mirror_host("http://127.0.0.1:5000/").unwrap(), "127.0.0.1:5000");
        assert_eq!(mirror_host("https://Mirror.example").unwrap(), "mirror.example");
        for bad in ["127.0.0.1:5000", "ftp://x", "http://x/path", "http://", "https://u@x"] {
            assert!(mirror_host(bad).is_err(), "{bad}");
        }
        let c = RegistryConfig::default()
            .with_mirrors(&["http://m1:5000".into(), "https://m2.example/".into(), "http://bare".into()])
            .unwrap();
        let names = |r: &str| -> Vec<String> {
            c.candidates(&berth_oci::Reference::parse(r).unwrap()).iter().map(|r| r.to_string()).collect()
        };
        assert_eq!(
            names("busybox:1"),
            ["m1:5000/library/busybox:1", "m2.example/library/busybox:1", "docker.io/library/busybox:1"]
        );
        assert_eq!(names("127.0.0.1:5000/a:1"), ["127.0.0.1:5000/a:1"]);
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
