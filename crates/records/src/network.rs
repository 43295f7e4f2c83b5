//! A network's record, and a container's endpoints and published ports on networks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The network option that sets its interfaces' MTU, as Docker names it.
pub const MTU_OPTION: &str = "com.docker.network.driver.mtu";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: String,
    #[serde(default)]
    pub subnet: String,
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub ip_range: String,
    /// The subnet was the user's (`--subnet`): only then may containers ask for an address.
    #[serde(default)]
    pub user_subnet: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The bridge's interface name; empty for `host` and `none`.
    #[serde(default)]
    pub bridge: String,
    /// The IPv6 subnet and gateway of an `--ipv6` network; empty otherwise.
    #[serde(default)]
    pub subnet6: String,
    #[serde(default)]
    pub gateway6: String,
}

impl NetworkRecord {
    /// Whether the network has IPv6 (`--ipv6`).
    pub fn ipv6(&self) -> bool {
        !self.subnet6.is_empty()
    }

    /// The MTU the network's interfaces get (`com.docker.network.driver.mtu`).
    pub fn mtu(&self) -> Option<u32> {
        self.options.get(MTU_OPTION).and_then(|m| m.parse().ok())
    }

    pub fn builtin(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }
}

/// A container's place on one network: asked for at create, filled in at start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub network_id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default)]
    pub ipv4_requested: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub prefix: u8,
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub endpoint_id: String,
    #[serde(default)]
    pub ifname: String,
    #[serde(default)]
    pub host_ifname: String,
    /// `--ip6`.
    #[serde(default)]
    pub ipv6_requested: String,
    #[serde(default)]
    pub ip6: String,
    #[serde(default)]
    pub prefix6: u8,
    #[serde(default)]
    pub gateway6: String,
}

/// A published port as it was bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub proto: String,
    pub container_port: u16,
    pub host_ip: String,
    pub host_port: u16,
}
