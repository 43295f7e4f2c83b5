//! Living beside another engine's firewall. Docker sets the filter table's `FORWARD` policy to
//! DROP (and loads `br_netfilter`, which sends bridged traffic through it too); a packet must
//! pass every base chain of a hook, so berth's own accepting table is not enough. As libvirt and
//! LXD do, berth then keeps a chain of its own in the iptables filter table (`<PREFIX>-ALLOW`)
//! that accepts its bridges' traffic, jumped to from Docker's `DOCKER-USER` (the place Docker
//! documents for rules of others, evaluated first) or, without it, from the top of `FORWARD`.
//! Nothing is added where the host's policy accepts and Docker is absent. berth's isolation
//! between its networks stays in berth's own rules, which still drop.
//!
//! [`allow_rules`] and [`needed`] are pure; [`Beside`] runs the tools.

use std::net::Ipv4Addr;
use std::sync::Mutex;

use ipnet::Ipv4Net;

use crate::rules::BridgeRules;
use crate::tool::run_tool as tool;
use crate::NetworkError;

/// The accept rules for berth's bridges, as `iptables` rule specifications appended to `chain`
/// (pure): all that leaves a bridge, and what enters it in answer or as a published port's
/// DNAT; within an internal bridge, only its own traffic.
pub fn allow_rules(chain: &str, bridges: &[BridgeRules], v6: bool) -> Vec<String> {
    let mut out = Vec::new();
    for b in bridges.iter().filter(|b| !v6 || b.subnet6.is_some()) {
        let n = &b.bridge;
        if b.internal {
            out.push(format!("-A {chain} -i {n} -o {n} -j ACCEPT"));
            continue;
        }
        out.push(format!("-A {chain} -i {n} -j ACCEPT"));
        out.push(format!("-A {chain} -o {n} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT"));
    }
    out
}

/// Whether berth must open the way: `iptables -S FORWARD`'s listing shows a DROP (or REJECT)
/// policy, or Docker's `DOCKER-USER` chain exists (pure).
pub fn needed(forward_listing: &str, docker_user: bool) -> bool {
    docker_user
        || forward_listing.lines().any(|l| matches!(l.trim(), "-P FORWARD DROP" | "-P FORWARD REJECT"))
}

/// The IPv4 routes of `/proc/net/route`'s text: (interface, destination), the default route
/// left out (pure).
pub fn parse_routes(text: &str) -> Vec<(String, Ipv4Net)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Addresses in network byte order, printed as a little-endian number.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            let net = Ipv4Net::new(Ipv4Addr::from(dest.to_le_bytes()), mask.count_ones() as u8).ok()?;
            Some((f.first()?.to_string(), net))
        })
        .collect()
}

/// What to warn of when a subnet of berth's bridges is also routed to another interface (a
/// `docker0` made after berth took the same subnet): both engines' containers then lose their
/// way to that subnet (pure). `ours` are berth's bridges and their subnets; `routes` the host's.
pub fn overlaps(ours: &[(String, Ipv4Net)], routes: &[(String, Ipv4Net)]) -> Vec<String> {
    let mut out = Vec::new();
    for (bridge, subnet) in ours {
        for (iface, net) in routes {
            if ours.iter().any(|(b, _)| b == iface) {
                continue;
            }
            if net.contains(&subnet.network()) || subnet.contains(&net.network()) {
                out.push(format!(
                    "berth's bridge {bridge} ({subnet}) overlaps {net} on {iface}: containers on either cannot reach the other's addresses; give berth another bip or default-address-pools, or the other interface another subnet"
                ));
            }
        }
    }
    out
}

/// The `iptables-restore --noflush` input that makes `chain` hold exactly `rules`.
fn restore_input(chain: &str, rules: &[String]) -> String {
    let mut s = format!("*filter\n:{chain} - [0:0]\n");
    for r in rules {
        s += r;
        s.push('\n');
    }
    s + "COMMIT\n"
}

/// Keeps berth's allow chain in step with its bridges beside the nftables backend.
pub struct Beside {
    chain: String,
    /// The bridges last made way for, and whether the way was needed (per family).
    last: Mutex<Option<(Vec<BridgeRules>, [bool; 2])>>,
}

impl Beside {
    /// For the bridges of the daemon whose prefix is `prefix` (`berth` → `BERTH-ALLOW`).
    pub fn new(prefix: &str) -> Beside {
        Beside { chain: format!("{}-ALLOW", prefix.to_ascii_uppercase()), last: Mutex::new(None) }
    }

    /// After a change of berth's rules: only a change of its bridges is looked at again.
    pub fn follow(&self, bridges: &[BridgeRules]) -> Result<(), NetworkError> {
        let same =
            self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|(b, _)| b == bridges);
        if same {
            return Ok(());
        }
        self.check(bridges)
    }

    /// Looks at the host again (another engine may have started since): opens or closes the
    /// way for `bridges` as the host's firewall now needs.
    pub fn check(&self, bridges: &[BridgeRules]) -> Result<(), NetworkError> {
        let mut state = [false; 2];
        for (i, (iptables, restore)) in
            [("iptables", "iptables-restore"), ("ip6tables", "ip6tables-restore")].into_iter().enumerate()
        {
            let v6 = i == 1;
            if v6 && !bridges.iter().any(|b| b.subnet6.is_some()) {
                continue;
            }
            // No iptables on the host: no other engine's chains to live beside.
            let Ok(listing) = tool(iptables, &["-w", "-S", "FORWARD"], None) else { continue };
            if !listing.status.success() {
                continue;
            }
            let docker_user =
                tool(iptables, &["-w", "-S", "DOCKER-USER"], None).is_ok_and(|o| o.status.success());
            let on = needed(&String::from_utf8_lossy(&listing.stdout), docker_user);
            state[i] = on;
            let from = if docker_user { "DOCKER-USER" } else { "FORWARD" };
            if on {
                let rules = allow_rules(&self.chain, bridges, v6);
                let out = tool(restore, &["-w", "--noflush"], Some(&restore_input(&self.chain, &rules)))?;
                if !out.status.success() {
                    return Err(NetworkError::host(
                        format!("opening {from} for berth's bridges with {restore}"),
                        String::from_utf8_lossy(&out.stderr).trim(),
                    ));
                }
                let jump = ["-j", self.chain.as_str()];
                if !tool(iptables, &[&["-w", "-C", from][..], &jump].concat(), None)?.status.success() {
                    let out = tool(iptables, &[&["-w", "-I", from, "1"][..], &jump].concat(), None)?;
                    if !out.status.success() {
                        return Err(NetworkError::host(
                            format!("adding the jump to {} in {from}", self.chain),
                            String::from_utf8_lossy(&out.stderr).trim(),
                        ));
                    }
                    tracing::info!(chain = %self.chain, from, "another firewall drops forwarded traffic: berth's bridges are let through");
                }
            }
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((bridges.to_vec(), state));
        Ok(())
    }

    /// [`Beside::check`] for the bridges last applied (none yet: nothing to do).
    pub fn recheck(&self) -> Result<(), NetworkError> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|(b, _)| b.clone());
        match last {
            Some(bridges) => self.check(&bridges),
            None => Ok(()),
        }
    }

    /// Removes the chain and its jumps (the daemon's firewall is being removed).
    pub fn remove(&self) {
        for iptables in ["iptables", "ip6tables"] {
            for from in ["DOCKER-USER", "FORWARD"] {
                while tool(iptables, &["-w", "-D", from, "-j", &self.chain], None)
                    .is_ok_and(|o| o.status.success())
                {}
            }
            let _ = tool(iptables, &["-w", "-F", &self.chain], None);
            let _ = tool(iptables, &["-w", "-X", &self.chain], None);
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(name: &str, internal: bool, v6: bool) -> BridgeRules {
        BridgeRules {
            bridge: name.into(),
            subnet: "172.18.0.0/16".parse().unwrap(),
            subnet6: v6.then(|| "fd00::/64".parse().unwrap()),
            internal,
        }
    }

    #[test]
    fn overlapping_subnets_on_other_interfaces_are_told() {
        let text = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                    eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n\
                    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n\
                    berth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n\
                    br-1\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
        let routes = parse_routes(text);
        assert_eq!(routes.len(), 3, "the default route is left out: {routes:?}");
        assert_eq!(routes[0], ("docker0".to_string(), "172.17.0.0/16".parse().unwrap()));
        let ours = vec![
            ("berth0".to_string(), "172.17.0.0/16".parse().unwrap()),
            ("br-1".to_string(), "172.18.0.0/16".parse().unwrap()),
        ];
        let w = overlaps(&ours, &routes);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("berth's bridge berth0 (172.17.0.0/16) overlaps 172.17.0.0/16 on docker0"),
            "{w:?}"
        );
        // A narrower route inside one of ours counts too; none at all, nothing to say.
        let inner = vec![("eth1".to_string(), "172.18.5.0/24".parse().unwrap())];
        assert_eq!(overlaps(&ours, &inner).len(), 1);
        assert!(overlaps(&ours, &[]).is_empty());
    }

    #[test]
    fn the_way_is_opened_only_where_another_firewall_closes_it() {
        let table = [
            ("-P FORWARD ACCEPT\n", false, false),
            ("-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n", false, true),
            ("-P FORWARD ACCEPT\n", true, true),
            ("-P FORWARD REJECT\n", false, true),
            ("", false, false),
        ];
        for (listing, docker_user, want) in table {
            assert_eq!(needed(listing, docker_user), want, "{listing:?} {docker_user}");
        }
    }

    #[test]
    fn bridges_get_accepts_and_internal_ones_only_their_own_traffic() {
        let bridges = [b("berth0", false, false), b("br-i", true, false), b("br-6", false, true)];
        assert_eq!(
            allow_rules("BERTH-ALLOW", &bridges, false),
            [
                "-A BERTH-ALLOW -i berth0 -j ACCEPT",
                "-A BERTH-ALLOW -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
                "-A BERTH-ALLOW -i br-i -o br-i -j ACCEPT",
                "-A BERTH-ALLOW -i br-6 -j ACCEPT",
                "-A BERTH-ALLOW -o br-6 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
            ]
        );
        assert_eq!(allow_rules("X", &bridges, true).len(), 2, "IPv6 rules only for IPv6 bridges");
        let input = restore_input("X", &allow_rules("X", &bridges[..1], false));
        assert!(
            input.starts_with("*filter\n:X - [0:0]\n-A X -i berth0 -j ACCEPT\n")
                && input.ends_with("COMMIT\n")
        );
    }
}
