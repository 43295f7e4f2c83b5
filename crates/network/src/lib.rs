//! Networking for berth: the [`manager::NetworkManager`] (network records, address pools,
//! endpoints, published ports, the resolver, the firewall to match) over network drivers
//! ([`driver`]: `bridge`; `host` and `null`); [`ipam`] (pure address management), [`link`] (bridges, veths
//! and network namespaces over netlink), [`firewall`] (the rules berth owns, behind the
//! [`firewall::FirewallDriver`] trait, with nftables and iptables drivers), [`coexist`] (the way
//! through another engine's firewall that drops forwarded traffic), [`dns`] (the embedded resolver of
//! user-defined networks) and [`proxy`] (the userland proxy of published ports). Which
//! containers there are, and what their names resolve to, is the engine's business.

pub mod coexist;
pub mod dns;
pub mod driver;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod manager;
pub mod proxy;
pub mod rules;
mod tool;

use berth_kind::{Kind, Kinded};

/// What went wrong in networking; [`Kinded::kind`] says how the API answers it.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A bad request: a malformed address, option or name (the message names it).
    #[error("{0}")]
    Invalid(String),
    #[error("network {name} not found")]
    NoSuchNetwork { name: String },
    #[error("network {name} is ambiguous")]
    Ambiguous { name: String },
    #[error("network {name} has no IPv6 pool")]
    NoIpv6Pool { name: String },
    #[error("link {name} not found")]
    NoSuchLink { name: String },
    /// A driver no plugin provides (Docker's words: it would look for a plugin).
    #[error("could not find plugin {driver} in v1 plugin registry: plugin not found")]
    UnknownDriver { driver: String },
    /// Something the request wants is taken: a name, an address, a host port, a device.
    #[error("{0}")]
    Taken(String),
    /// What the network's kind or state never allows: a second `host`, an overlapping pool.
    #[error("{0}")]
    Refused(String),
    /// The host failed us: netlink, the firewall tools, a socket.
    #[error("{what}: {detail}")]
    Host { what: String, detail: String },
    #[error("network records: {0}")]
    Records(#[from] berth_metadata::MetadataError),
}

impl Kinded for NetworkError {
    fn kind(&self) -> Kind {
        match self {
            NetworkError::Invalid(_) => Kind::InvalidArgument,
            NetworkError::NoSuchNetwork { .. }
            | NetworkError::Ambiguous { .. }
            | NetworkError::NoIpv6Pool { .. }
            | NetworkError::NoSuchLink { .. }
            | NetworkError::UnknownDriver { .. } => Kind::NotFound,
            NetworkError::Taken(_) => Kind::Conflict,
            NetworkError::Refused(_) => Kind::Forbidden,
            NetworkError::Host { .. } => Kind::Internal,
            NetworkError::Records(e) => e.kind(),
        }
    }
}

impl NetworkError {
    /// The host failed at `what`.
    pub fn host(what: impl std::fmt::Display, detail: impl std::fmt::Display) -> NetworkError {
        NetworkError::Host { what: what.to_string(), detail: detail.to_string() }
    }
}
