//! The default bridge under the daemon's configuration, decided at every start as Docker does:
//! `bip` names its address and subnet; without it, the subnet it has is kept while it lies in
//! the configured `default-address-pools` (any subnet, with Docker's own pools), and a new one
//! is chosen from the pools otherwise. Pure: the host's routes and the other networks' subnets
//! come in as `taken`.

use std::net::Ipv4Addr;

use berth_network::ipam;
use ipnet::Ipv4Net;

use crate::error::{EngineError, Result};

/// The default bridge's addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressing {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
}

/// What the default bridge's addressing is to be. `current` is what it has (none at the first
/// start); `pools` are the configured ones (`None`: Docker's defaults).
pub fn plan(
    current: Option<Addressing>,
    bip: Option<&str>,
    pools: Option<&[(Ipv4Net, u8)]>,
    taken: &[Ipv4Net],
) -> Result<Addressing> {
    if let Some(bip) = bip {
        let net: Ipv4Net = bip.parse().map_err(|_| {
            EngineError::InvalidArgument(format!(
                "invalid bip {bip:?}: give an address and prefix such as 172.17.0.1/16"
            ))
        })?;
        return Ok(Addressing { subnet: net.trunc(), gateway: net.addr() });
    }
    let in_pools = |a: &Addressing| pools.is_none_or(|p| p.iter().any(|(base, _)| base.contains(&a.subnet)));
    if let Some(a) = current.filter(in_pools) {
        return Ok(a);
    }
    let default_pools = ipam::default_pools();
    let s = ipam::choose_subnet(pools.unwrap_or(&default_pools), taken).ok_or_else(|| {
        EngineError::Internal("no free subnet for the default bridge: set bip in daemon.json".into())
    })?;
    Ok(Addressing { subnet: s, gateway: Ipv4Addr::from(u32::from(s.network()) + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(subnet: &str, gw: &str) -> Addressing {
        Addressing { subnet: subnet.parse().unwrap(), gateway: gw.parse().unwrap() }
    }

    #[test]
    fn the_configuration_decides_at_every_start() {
        let pools: Vec<(Ipv4Net, u8)> = vec![("10.50.0.0/16".parse().unwrap(), 24)];
        let taken: Vec<Ipv4Net> = vec!["172.17.0.0/16".parse().unwrap(), "10.50.0.0/24".parse().unwrap()];
        // (what the bridge has, bip, the configured pools, what it is to have)
        type Row<'a> = (Option<Addressing>, Option<&'a str>, Option<&'a [(Ipv4Net, u8)]>, Addressing);
        let table: Vec<Row> = vec![
            // The first start: Docker's first free pool.
            (None, None, None, a("172.18.0.0/16", "172.18.0.1")),
            // bip names it, at the first start and after.
            (None, Some("10.9.0.1/24"), None, a("10.9.0.0/24", "10.9.0.1")),
            (Some(a("172.18.0.0/16", "172.18.0.1")), Some("10.9.0.1/24"), None, a("10.9.0.0/24", "10.9.0.1")),
            (Some(a("10.9.0.0/24", "10.9.0.1")), Some("10.9.0.254/24"), None, a("10.9.0.0/24", "10.9.0.254")),
            // bip gone: the subnet it had stays (Docker's pools take any).
            (Some(a("10.9.0.0/24", "10.9.0.1")), None, None, a("10.9.0.0/24", "10.9.0.1")),
            // Pools changed: a subnet outside them is replaced by a free one inside.
            (Some(a("172.18.0.0/16", "172.18.0.1")), None, Some(&pools), a("10.50.1.0/24", "10.50.1.1")),
            (Some(a("10.50.7.0/24", "10.50.7.1")), None, Some(&pools), a("10.50.7.0/24", "10.50.7.1")),
        ];
        for (current, bip, pools, want) in table {
            assert_eq!(plan(current, bip, pools, &taken).unwrap(), want, "{current:?} {bip:?} {pools:?}");
        }
        assert!(plan(None, Some("nope"), None, &taken).unwrap_err().to_string().contains("invalid bip"));
    }
}
