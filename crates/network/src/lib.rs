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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    InvalidArgument,
    Conflict,
    /// Docker's 403: what the network's state forbids (an overlapping pool, a second `host`).
    Forbidden,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Internal(String),
}

impl NetworkError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            NetworkError::NotFound(_) => ErrorKind::NotFound,
            NetworkError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            NetworkError::Conflict(_) => ErrorKind::Conflict,
            NetworkError::Forbidden(_) => ErrorKind::Forbidden,
            NetworkError::Internal(_) => ErrorKind::Internal,
        }
    }
}
