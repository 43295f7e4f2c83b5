//! Bridge networking for berth: [`ipam`] (pure address management), [`link`] (bridges, veths
//! and network namespaces over netlink), [`firewall`] (the rules berth owns, behind the
//! [`firewall::FirewallDriver`] trait, with nftables and iptables drivers), [`coexist`] (the way
//! through another engine's firewall that drops forwarded traffic), [`dns`] (the embedded resolver of
//! user-defined networks) and [`proxy`] (the userland proxy of published ports). What networks
//! exist and who is attached is the daemon's business; this crate does what it is told.

pub mod coexist;
pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod proxy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    InvalidArgument,
    Conflict,
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
    Internal(String),
}

impl NetworkError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            NetworkError::NotFound(_) => ErrorKind::NotFound,
            NetworkError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            NetworkError::Conflict(_) => ErrorKind::Conflict,
            NetworkError::Internal(_) => ErrorKind::Internal,
        }
    }
}
