//! The firewall: what berth needs (masquerade out of each bridge, isolation between bridges,
//! internal networks sealed, published ports DNATed) as a [`Ruleset`], and a
//! [`FirewallDriver`] that makes the kernel's rules match it. The nftables driver owns one
//! table (`inet berth` by default: IPv4 and IPv6 alike) and nothing else; every change rewrites its chains in one
//! `nft -f` transaction, so the rules are never half applied. The `user` chain is jumped to
//! first from `forward` and never touched: the place for a user's own rules (Docker's
//! `DOCKER-USER`).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::NetworkError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// The IPv6 subnet of an `--ipv6` network.
    pub subnet6: Option<Ipv6Net>,
    /// `--internal`: no traffic in or out of the bridge.
    pub internal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A published port: `host_ip:host_port/proto` → `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    pub proto: Proto,
    /// `None`: every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    pub bridge: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub bridges: Vec<BridgeRules>,
    pub ports: Vec<PortRule>,
}

/// Makes the kernel's rules match a [`Ruleset`].
pub trait FirewallDriver: Send + Sync {
    /// Replaces every rule berth owns with `rules`, atomically.
    fn apply(&self, rules: &Ruleset) -> Result<(), NetworkError>;
    /// Removes everything berth owns (the user chain too).
    fn remove_all(&self) -> Result<(), NetworkError>;
    fn name(&self) -> &'static str;
}

/// The nftables driver: the `nft` command, one transaction per change.
pub struct Nftables {
    pub table: String,
}

const OWN_CHAINS: [&str; 6] = ["prerouting", "output", "postrouting", "forward", "publish", "isolation"];

/// The `nft -f` script that makes table `table` hold `rules` (pure).
pub fn render_nft(table: &str, rules: &Ruleset) -> String {
    let t = format!("inet {table}");
    // The IPv4-only table of earlier versions goes in the same transaction.
    let mut s = format!("add table ip {table}\ndelete table ip {table}\nadd table {t}\n");
    s +=
        &format!("add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n");
    s += &format!("add chain {t} output {{ type nat hook output priority -100; policy accept; }}\n");
    s += &format!(
        "add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n"
    );
    s += &format!("add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}\n");
    for c in ["publish", "isolation", "user"] {
        s += &format!("add chain {t} {c}\n");
    }
    for c in OWN_CHAINS {
        s += &format!("flush chain {t} {c}\n");
    }
    s += &format!("add rule {t} prerouting fib daddr type local jump publish\n");
    s += &format!("add rule {t} output ip daddr != 127.0.0.0/8 fib daddr type local jump publish\n");
    s += &format!("add rule {t} forward jump user\n");
    s += &format!("add rule {t} forward jump isolation\n");
    for p in &rules.ports {
        let daddr = p.host_ip.map(|ip| format!("ip daddr {ip} ")).unwrap_or_default();
        let proto = p.proto.as_str();
        s += &format!(
            "add rule {t} publish {daddr}iifname != \"{}\" {proto} dport {} dnat ip to {}:{}\n",
            p.bridge, p.host_port, p.container_ip, p.container_port
        );
        // Hairpin: a container reaching its own published port through the host.
        s += &format!(
            "add rule {t} postrouting ip saddr {ip} ip daddr {ip} {proto} dport {} masquerade\n",
            p.container_port,
            ip = p.container_ip
        );
    }
    let names: Vec<&str> = rules.bridges.iter().map(|b| b.bridge.as_str()).collect();
    for b in &rules.bridges {
        let name = &b.bridge;
        if b.internal {
            s += &format!("add rule {t} isolation iifname \"{name}\" oifname != \"{name}\" drop\n");
            s += &format!("add rule {t} isolation oifname \"{name}\" iifname != \"{name}\" drop\n");
            continue;
        }
        s += &format!("add rule {t} postrouting ip saddr {} oifname != \"{name}\" masquerade\n", b.subnet);
        if let Some(v6) = b.subnet6 {
            s += &format!("add rule {t} postrouting ip6 saddr {v6} oifname != \"{name}\" masquerade\n");
        }
        let others: Vec<String> = names.iter().filter(|n| **n != name).map(|n| format!("\"{n}\"")).collect();
        if !others.is_empty() {
            s += &format!(
                "add rule {t} isolation iifname \"{name}\" oifname {{ {} }} drop\n",
                others.join(", ")
            );
        }
    }
    s
}

fn nft(script: &str) -> Result<(), NetworkError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetworkError::Internal(format!("run nft (install nftables): {e}")))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(script.as_bytes())
        .map_err(|e| NetworkError::Internal(format!("write to nft: {e}")))?;
    let out = child.wait_with_output().map_err(|e| NetworkError::Internal(format!("nft: {e}")))?;
    if !out.status.success() {
        return Err(NetworkError::Internal(format!(
            "applying firewall rules: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

impl FirewallDriver for Nftables {
    fn apply(&self, rules: &Ruleset) -> Result<(), NetworkError> {
        nft(&render_nft(&self.table, rules))
    }

    fn remove_all(&self) -> Result<(), NetworkError> {
        nft(&format!(
            "add table ip {t}\ndelete table ip {t}\nadd table inet {t}\ndelete table inet {t}\n",
            t = self.table
        ))
    }

    fn name(&self) -> &'static str {
        "nftables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_render_as_one_script() {
        let rules = Ruleset {
            bridges: vec![
                BridgeRules {
                    bridge: "berth0".into(),
                    subnet: "172.17.0.0/16".parse().unwrap(),
                    subnet6: None,
                    internal: false,
                },
                BridgeRules {
                    bridge: "br-a".into(),
                    subnet: "172.18.0.0/16".parse().unwrap(),
                    subnet6: Some("fd00:18::/64".parse().unwrap()),
                    internal: false,
                },
                BridgeRules {
                    bridge: "br-i".into(),
                    subnet: "172.19.0.0/16".parse().unwrap(),
                    subnet6: Some("fd00:19::/64".parse().unwrap()),
                    internal: true,
                },
            ],
            ports: vec![PortRule {
                proto: Proto::Tcp,
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: 8080,
                container_ip: Ipv4Addr::new(172, 18, 0, 2),
                container_port: 80,
                bridge: "br-a".into(),
            }],
        };
        let s = render_nft("berth", &rules);
        let has = |line: &str| assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
        has("add table inet berth");
        has("delete table ip berth");
        has("flush chain inet berth forward");
        has("add rule inet berth forward jump user");
        has("add rule inet berth publish ip daddr 127.0.0.1 iifname != \"br-a\" tcp dport 8080 dnat ip to 172.18.0.2:80");
        has("add rule inet berth postrouting ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade");
        has("add rule inet berth postrouting ip6 saddr fd00:18::/64 oifname != \"br-a\" masquerade");
        // Isolation by interface holds for both families.
        has("add rule inet berth isolation iifname \"berth0\" oifname { \"br-a\", \"br-i\" } drop");
        has("add rule inet berth isolation iifname \"br-i\" oifname != \"br-i\" drop");
        assert!(!s.contains("saddr 172.19.0.0/16"), "an internal network is not masqueraded");
        assert!(!s.contains("saddr fd00:19::/64"), "nor its IPv6 subnet");
        assert!(!s.contains("flush chain inet berth user"), "the user chain is the user's");
        let empty = render_nft("b2", &Ruleset::default());
        assert!(!empty.contains("isolation iifname"));
    }
}
