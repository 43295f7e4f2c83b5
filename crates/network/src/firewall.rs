//! The firewall: what berth needs (masquerade out of each bridge, isolation between bridges,
//! internal networks sealed, published ports DNATed) as a [`Ruleset`], and a
//! [`FirewallDriver`] that makes the kernel's rules match it. The nftables driver owns one
//! table (`inet berth` by default: IPv4 and IPv6 alike) and nothing else; every change rewrites its chains in one
//! `nft -f` transaction, so the rules are never half applied. The `user` chain is jumped to
//! first from `forward` and never touched: the place for a user's own rules (Docker's
//! `DOCKER-USER`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::NetworkError;

pub use crate::rules::{BridgeRules, PortRule, Proto, Ruleset};
pub(crate) use crate::tool::run_tool;

/// Makes the kernel's rules match a [`Ruleset`].
pub trait FirewallDriver: Send + Sync {
    /// Replaces every rule berth owns with `rules`, atomically.
    fn apply(&self, rules: &Ruleset) -> Result<(), NetworkError>;
    /// Removes everything berth owns (the user chain too).
    fn remove_all(&self) -> Result<(), NetworkError>;
    fn name(&self) -> &'static str;
    /// Looks at the host's other firewalls again (an engine started since may drop forwarded
    /// traffic), for the bridges last applied.
    fn recheck(&self) {}
}

/// The nftables driver: the `nft` command, one transaction per change; beside a firewall that
/// drops forwarded traffic (Docker's), the way is opened for berth's bridges
/// ([`crate::coexist`]).
pub struct Nftables {
    pub table: String,
    beside: crate::coexist::Beside,
}

impl Nftables {
    pub fn new(table: &str) -> Nftables {
        Nftables { table: table.to_string(), beside: crate::coexist::Beside::new(table) }
    }
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
            "add rule {t} postrouting iifname \"{}\" ip saddr {ip} ip daddr {ip} {proto} dport {} masquerade\n",
            p.bridge,
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
        // Scoped by the bridge it came in on: another engine's bridge with an overlapping
        // subnet (a docker0 made after berth took the same one) is not masqueraded.
        s += &format!(
            "add rule {t} postrouting iifname \"{name}\" ip saddr {} oifname != \"{name}\" masquerade\n",
            b.subnet
        );
        if let Some(v6) = b.subnet6 {
            s += &format!(
                "add rule {t} postrouting iifname \"{name}\" ip6 saddr {v6} oifname != \"{name}\" masquerade\n"
            );
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
        .map_err(|e| NetworkError::host("run nft (install nftables)", e))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(script.as_bytes())
        .map_err(|e| NetworkError::host("write to nft", e))?;
    let out = child.wait_with_output().map_err(|e| NetworkError::host("nft", e))?;
    if !out.status.success() {
        return Err(NetworkError::host(
            "applying firewall rules",
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(())
}

impl FirewallDriver for Nftables {
    fn apply(&self, rules: &Ruleset) -> Result<(), NetworkError> {
        nft(&render_nft(&self.table, rules))?;
        if let Err(e) = self.beside.follow(&rules.bridges) {
            tracing::warn!(error = %e, "letting berth's bridges through another firewall failed");
        }
        Ok(())
    }

    fn recheck(&self) {
        if let Err(e) = self.beside.recheck() {
            tracing::warn!(error = %e, "letting berth's bridges through another firewall failed");
        }
    }

    fn remove_all(&self) -> Result<(), NetworkError> {
        self.beside.remove();
        nft(&format!(
            "add table ip {t}\ndelete table ip {t}\nadd table inet {t}\ndelete table inet {t}\n",
            t = self.table
        ))
    }

    fn name(&self) -> &'static str {
        "nftables"
    }
}

/// The iptables driver (`firewall-backend: iptables`): chains of berth's own (`BERTH-PUBLISH`,
/// `-POSTROUTING`, `-FORWARD`, `-ISOLATION`, `-USER`; the upper-cased bridge prefix instead of
/// `BERTH` when one is set), each table's rewritten with one `iptables-restore --noflush`, and
/// one jump to them from each built-in chain they serve (added once, at the top). IPv6 rules go
/// through `ip6tables` when a network has IPv6.
pub struct Iptables {
    pub prefix: String,
}

/// Where berth's chains are entered from: (table, built-in chain, match, own chain).
fn iptables_jumps(p: &str, v6: bool) -> Vec<(&'static str, &'static str, String, String)> {
    let mut j = vec![
        ("nat", "POSTROUTING", String::new(), format!("{p}-POSTROUTING")),
        ("filter", "FORWARD", String::new(), format!("{p}-FORWARD")),
    ];
    if !v6 {
        j.push(("nat", "PREROUTING", "-m addrtype --dst-type LOCAL".into(), format!("{p}-PUBLISH")));
        j.push((
            "nat",
            "OUTPUT",
            "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL".into(),
            format!("{p}-PUBLISH"),
        ));
    }
    j
}

/// The `iptables-restore --noflush` input that makes berth's chains hold `rules`, for IPv4 or
/// (`v6`) IPv6 (pure). Declaring a chain flushes it; the user chain is never declared.
pub fn render_iptables(p: &str, rules: &Ruleset, v6: bool) -> String {
    let mut s = String::from("*nat\n");
    if !v6 {
        s += &format!(":{p}-PUBLISH - [0:0]\n");
    }
    s += &format!(":{p}-POSTROUTING - [0:0]\n");
    if !v6 {
        for r in &rules.ports {
            let daddr = r.host_ip.map(|ip| format!("-d {ip}/32 ")).unwrap_or_default();
            let proto = r.proto.as_str();
            s += &format!(
                "-A {p}-PUBLISH {daddr}! -i {} -p {proto} -m {proto} --dport {} -j DNAT --to-destination {}:{}\n",
                r.bridge, r.host_port, r.container_ip, r.container_port
            );
            s += &format!(
                "-A {p}-POSTROUTING -s {ip}/32 -d {ip}/32 -p {proto} -m {proto} --dport {} -j MASQUERADE\n",
                r.container_port,
                ip = r.container_ip
            );
        }
    }
    for b in rules.bridges.iter().filter(|b| !b.internal) {
        let subnet = if v6 { b.subnet6.map(|n| n.to_string()) } else { Some(b.subnet.to_string()) };
        if let Some(subnet) = subnet {
            s += &format!("-A {p}-POSTROUTING -s {subnet} ! -o {} -j MASQUERADE\n", b.bridge);
        }
    }
    s += "COMMIT\n*filter\n";
    s += &format!(":{p}-FORWARD - [0:0]\n:{p}-ISOLATION - [0:0]\n");
    s += &format!("-A {p}-FORWARD -j {p}-USER\n-A {p}-FORWARD -j {p}-ISOLATION\n");
    // What isolation let pass is accepted, so that a DROP policy (Docker's) does not cut it.
    for r in crate::coexist::allow_rules(&format!("{p}-FORWARD"), &rules.bridges, v6) {
        s += &r;
        s.push('\n');
    }
    for b in &rules.bridges {
        let name = &b.bridge;
        if b.internal {
            s += &format!("-A {p}-ISOLATION -i {name} ! -o {name} -j DROP\n");
            s += &format!("-A {p}-ISOLATION -o {name} ! -i {name} -j DROP\n");
            continue;
        }
        for o in rules.bridges.iter().filter(|o| o.bridge != *name) {
            s += &format!("-A {p}-ISOLATION -i {name} -o {} -j DROP\n", o.bridge);
        }
    }
    s + "COMMIT\n"
}

impl Iptables {
    fn chain_prefix(&self) -> String {
        self.prefix.to_ascii_uppercase()
    }

    fn apply_family(&self, rules: &Ruleset, v6: bool) -> Result<(), NetworkError> {
        let (tool, restore) =
            if v6 { ("ip6tables", "ip6tables-restore") } else { ("iptables", "iptables-restore") };
        let p = self.chain_prefix();
        // The user's chain: made once, never flushed.
        let _ = run_tool(tool, &["-w", "-t", "filter", "-N", &format!("{p}-USER")], None)?;
        let out = run_tool(restore, &["-w", "--noflush"], Some(&render_iptables(&p, rules, v6)))?;
        if !out.status.success() {
            return Err(NetworkError::host(
                format!("applying firewall rules with {restore}"),
                String::from_utf8_lossy(&out.stderr).trim(),
            ));
        }
        for (table, chain, m, target) in iptables_jumps(&p, v6) {
            let spec: Vec<&str> = m.split_whitespace().chain(["-j", target.as_str()]).collect();
            let check = [&["-w", "-t", table, "-C", chain][..], &spec].concat();
            if run_tool(tool, &check, None)?.status.success() {
                continue;
            }
            let insert = [&["-w", "-t", table, "-I", chain, "1"][..], &spec].concat();
            let out = run_tool(tool, &insert, None)?;
            if !out.status.success() {
                return Err(NetworkError::host(
                    format!("adding the jump to {target} in {chain}"),
                    String::from_utf8_lossy(&out.stderr).trim(),
                ));
            }
        }
        Ok(())
    }

    fn remove_family(&self, v6: bool) {
        let tool = if v6 { "ip6tables" } else { "iptables" };
        let p = self.chain_prefix();
        for (table, chain, m, target) in iptables_jumps(&p, v6) {
            let spec: Vec<&str> = m.split_whitespace().chain(["-j", target.as_str()]).collect();
            let del = [&["-w", "-t", table, "-D", chain][..], &spec].concat();
            while run_tool(tool, &del, None).is_ok_and(|o| o.status.success()) {}
        }
        for (table, chain) in [
            ("nat", "PUBLISH"),
            ("nat", "POSTROUTING"),
            ("filter", "FORWARD"),
            ("filter", "ISOLATION"),
            ("filter", "USER"),
        ] {
            let c = format!("{p}-{chain}");
            let _ = run_tool(tool, &["-w", "-t", table, "-F", &c], None);
            let _ = run_tool(tool, &["-w", "-t", table, "-X", &c], None);
        }
    }
}

impl FirewallDriver for Iptables {
    fn apply(&self, rules: &Ruleset) -> Result<(), NetworkError> {
        self.apply_family(rules, false)?;
        if rules.bridges.iter().any(|b| b.subnet6.is_some()) {
            self.apply_family(rules, true)?;
        }
        Ok(())
    }

    fn remove_all(&self) -> Result<(), NetworkError> {
        self.remove_family(false);
        self.remove_family(true);
        Ok(())
    }

    fn name(&self) -> &'static str {
        "iptables"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

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
        has("add rule inet berth postrouting iifname \"berth0\" ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade");
        has("add rule inet berth postrouting iifname \"br-a\" ip6 saddr fd00:18::/64 oifname != \"br-a\" masquerade");
        // Isolation by interface holds for both families.
        has("add rule inet berth isolation iifname \"berth0\" oifname { \"br-a\", \"br-i\" } drop");
        has("add rule inet berth isolation iifname \"br-i\" oifname != \"br-i\" drop");
        assert!(!s.contains("saddr 172.19.0.0/16"), "an internal network is not masqueraded");
        assert!(!s.contains("saddr fd00:19::/64"), "nor its IPv6 subnet");
        assert!(!s.contains("flush chain inet berth user"), "the user chain is the user's");
        let empty = render_nft("b2", &Ruleset::default());
        assert!(!empty.contains("isolation iifname"));

        // The same rules for iptables, IPv4 and IPv6.
        let s = render_iptables("BERTH", &rules, false);
        let has = |line: &str| assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
        has("*nat");
        has(":BERTH-PUBLISH - [0:0]");
        has("-A BERTH-PUBLISH -d 127.0.0.1/32 ! -i br-a -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80");
        has("-A BERTH-POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE");
        has("-A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o berth0 -j MASQUERADE");
        has("-A BERTH-FORWARD -j BERTH-USER");
        has("-A BERTH-ISOLATION -i berth0 -o br-a -j DROP");
        has("-A BERTH-ISOLATION -i br-i ! -o br-i -j DROP");
        assert!(!s.contains(":BERTH-USER"), "declaring the user chain would flush it");
        assert!(!s.contains("-s 172.19.0.0/16"), "an internal network is not masqueraded");
        assert_eq!(s.matches("COMMIT").count(), 2);
        let s6 = render_iptables("BERTH", &rules, true);
        assert!(
            s6.lines().any(|l| l == "-A BERTH-POSTROUTING -s fd00:18::/64 ! -o br-a -j MASQUERADE"),
            "{s6}"
        );
        assert!(!s6.contains("PUBLISH") && !s6.contains("172."), "ports are IPv4 only: {s6}");
        assert!(s6.contains("-A BERTH-ISOLATION -i berth0 -o br-a -j DROP"), "{s6}");
        let jumps = iptables_jumps("BERTH", false);
        assert!(jumps.iter().any(|(t, c, m, j)| (*t, *c, m.as_str(), j.as_str())
            == ("nat", "OUTPUT", "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL", "BERTH-PUBLISH")));
    }
}
