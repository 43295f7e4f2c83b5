//! Network drivers: what makes a network of a kind exist on the host and connects a
//! container's namespace to it. `bridge` is a Linux bridge per network with a veth pair per
//! endpoint; `host` and `null` are the built-in networks without endpoints (a container on
//! them shares the host's namespace or has only loopback). Overlay comes with swarm.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use berth_records::NetworkRecord;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::firewall::BridgeRules;
use crate::{link, NetworkError};

type Result<T> = std::result::Result<T, NetworkError>;

/// One kind of network (netavark's driver seam: set up, tear down, attach, detach).
pub trait NetworkDriver: Send + Sync {
    /// Docker's name for it (`bridge`, `host`, `null`).
    fn name(&self) -> &'static str;
    /// Whether users create networks of it; `host` and `null` have one built-in instance each.
    fn creatable(&self) -> bool;
    /// Whether containers on it get endpoints (an address and an interface in their namespace).
    fn has_endpoints(&self) -> bool;
    /// Makes the network exist on the host (again, if something removed it): at create and at
    /// every start.
    fn set_up(&self, n: &NetworkRecord) -> Result<()>;
    /// Removes what `set_up` made.
    fn tear_down(&self, n: &NetworkRecord) -> Result<()>;
    /// Connects the namespace `netns` to the network as the endpoint `spec` says.
    fn attach(&self, netns: &Path, n: &NetworkRecord, spec: &link::EndpointSpec) -> Result<()>;
    /// Disconnects an endpoint (its interface in the namespace goes).
    fn detach(&self, netns: &Path, ifname: &str) -> Result<()>;
    /// Puts a live endpoint's host side back on a network made again (`SIGHUP`).
    fn reattach(&self, n: &NetworkRecord, host_ifname: &str) -> Result<()>;
    /// What the firewall must do for the network.
    fn rules(&self, n: &NetworkRecord) -> Option<BridgeRules>;
}

/// A Linux bridge per network (`<prefix>0` for the default one), addressed as its gateway.
pub struct Bridge;

impl NetworkDriver for Bridge {
    fn name(&self) -> &'static str {
        "bridge"
    }
    fn creatable(&self) -> bool {
        true
    }
    fn has_endpoints(&self) -> bool {
        true
    }

    fn set_up(&self, n: &NetworkRecord) -> Result<()> {
        let bad = |what: &str| {
            NetworkError::host(format!("network {}", n.name), format!("bad {what} in its record"))
        };
        let subnet: Ipv4Net = n.subnet.parse().map_err(|_| bad("subnet"))?;
        let gw: Ipv4Addr = n.gateway.parse().map_err(|_| bad("gateway"))?;
        let v6 = if n.ipv6() {
            let subnet6: Ipv6Net = n.subnet6.parse().map_err(|_| bad("IPv6 subnet"))?;
            let gw6: Ipv6Addr = n.gateway6.parse().map_err(|_| bad("IPv6 gateway"))?;
            Some((gw6, subnet6.prefix_len()))
        } else {
            None
        };
        link::ensure_bridge(&n.bridge, gw, subnet.prefix_len(), v6, n.mtu())
    }

    fn tear_down(&self, n: &NetworkRecord) -> Result<()> {
        link::delete_link(&n.bridge)
    }

    fn attach(&self, netns: &Path, n: &NetworkRecord, spec: &link::EndpointSpec) -> Result<()> {
        // The bridge is set up at start and at create; made again here only if it went away.
        if !link::exists(&n.bridge) {
            self.set_up(n)?;
        }
        link::attach(netns, spec)
    }

    fn detach(&self, netns: &Path, ifname: &str) -> Result<()> {
        link::detach(netns, ifname)
    }

    fn reattach(&self, n: &NetworkRecord, host_ifname: &str) -> Result<()> {
        link::reattach(host_ifname, &n.bridge)
    }

    fn rules(&self, n: &NetworkRecord) -> Option<BridgeRules> {
        Some(BridgeRules {
            subnet: n.subnet.parse().ok()?,
            subnet6: n.subnet6.parse().ok(),
            bridge: n.bridge.clone(),
            internal: n.internal,
        })
    }
}

/// `host` and `null`: nothing to make, nothing to attach.
pub struct Builtin(pub &'static str);

impl NetworkDriver for Builtin {
    fn name(&self) -> &'static str {
        self.0
    }
    fn creatable(&self) -> bool {
        false
    }
    fn has_endpoints(&self) -> bool {
        false
    }
    fn set_up(&self, _: &NetworkRecord) -> Result<()> {
        Ok(())
    }
    fn tear_down(&self, _: &NetworkRecord) -> Result<()> {
        Ok(())
    }
    fn attach(&self, _: &Path, n: &NetworkRecord, _: &link::EndpointSpec) -> Result<()> {
        Err(NetworkError::Refused(format!("network {} has no endpoints to attach", n.name)))
    }
    fn detach(&self, _: &Path, _: &str) -> Result<()> {
        Ok(())
    }
    fn reattach(&self, _: &NetworkRecord, _: &str) -> Result<()> {
        Ok(())
    }
    fn rules(&self, _: &NetworkRecord) -> Option<BridgeRules> {
        None
    }
}

/// The drivers berth has, by Docker's name.
pub fn find(name: &str) -> Option<&'static dyn NetworkDriver> {
    static BRIDGE: Bridge = Bridge;
    static HOST: Builtin = Builtin("host");
    static NULL: Builtin = Builtin("null");
    match name {
        "bridge" => Some(&BRIDGE),
        "host" => Some(&HOST),
        "null" => Some(&NULL),
        _ => None,
    }
}

/// The driver a create names, with Docker's errors for one that cannot be created: an unknown
/// name is a plugin Docker would look for, `host` and `null` exist once.
pub fn for_create(name: &str) -> Result<&'static dyn NetworkDriver> {
    match find(name) {
        Some(d) if d.creatable() => Ok(d),
        Some(d) => {
            Err(NetworkError::Refused(format!("only one instance of \"{}\" network is allowed", d.name())))
        }
        None => Err(NetworkError::UnknownDriver { driver: name.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_by_name_and_dockers_errors_for_the_rest() {
        let cases: Vec<(&str, std::result::Result<&str, &str>)> = vec![
            ("bridge", Ok("bridge")),
            ("host", Err("only one instance of \"host\" network is allowed")),
            ("null", Err("only one instance of \"null\" network is allowed")),
            ("overlay", Err("could not find plugin overlay in v1 plugin registry: plugin not found")),
            ("macvlan", Err("could not find plugin macvlan")),
        ];
        for (name, want) in cases {
            match (for_create(name), want) {
                (Ok(d), Ok(w)) => assert_eq!(d.name(), w),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{name}: {e}"),
                (got, want) => panic!("{name}: {:?} vs {want:?}", got.map(|d| d.name())),
            }
        }
        assert!(find("bridge").unwrap().has_endpoints());
        assert!(!find("host").unwrap().has_endpoints() && !find("null").unwrap().has_endpoints());
    }
}
