//! IP address management, pure: subnets for new networks from Docker's default pools (never
//! one that overlaps a network or a host route), and addresses within a network's subnet (or
//! its `--ip-range`), never the network, broadcast or gateway address. MAC addresses are
//! derived from IPv4 addresses as Docker does (`02:42:` and the four bytes).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::NetworkError;

/// Docker's default address pools: `172.17.0.0/16` … `172.31.0.0/16`, then `192.168.0.0/16`
/// cut into `/20`s.
pub fn default_pools() -> Vec<(Ipv4Net, u8)> {
    let mut pools: Vec<(Ipv4Net, u8)> = (17..=31)
        .map(|b| (Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("a /16 is valid"), 16))
        .collect();
    pools.push((Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("a /16 is valid"), 20));
    pools
}

pub fn parse_subnet(s: &str) -> Result<Ipv4Net, NetworkError> {
    let net: Ipv4Net =
        s.parse().map_err(|_| NetworkError::InvalidArgument(format!("invalid CIDR address: {s}")))?;
    Ok(net)
}

pub fn parse_ip(s: &str) -> Result<Ipv4Addr, NetworkError> {
    s.parse().map_err(|_| NetworkError::InvalidArgument(format!("invalid IP address: {s}")))
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first subnet of `pools` that overlaps none of `taken`.
pub fn choose_subnet(pools: &[(Ipv4Net, u8)], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    for (base, size) in pools {
        let Ok(subnets) = base.subnets(*size) else { continue };
        for s in subnets {
            if !taken.iter().any(|t| overlaps(t, &s)) {
                return Some(s);
            }
        }
    }
    None
}

/// Whether `subnet` overlaps one of `taken` (a user's `--subnet` is refused then, as Docker
/// refuses "Pool overlaps with other one on this address space").
pub fn overlapping(subnet: &Ipv4Net, taken: &[Ipv4Net]) -> bool {
    taken.iter().any(|t| overlaps(t, subnet))
}

/// One network's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub range: Ipv4Net,
    pub gateway: Ipv4Addr,
    used: BTreeSet<Ipv4Addr>,
}

impl Pool {
    /// The gateway is the subnet's first host address unless given; it and the range must lie
    /// within the subnet.
    pub fn new(
        subnet: Ipv4Net,
        range: Option<Ipv4Net>,
        gateway: Option<Ipv4Addr>,
    ) -> Result<Pool, NetworkError> {
        let subnet = subnet.trunc();
        if subnet.prefix_len() > 30 {
            return Err(NetworkError::InvalidArgument(format!(
                "subnet {subnet} is too small for a network: give a prefix of /30 or shorter"
            )));
        }
        let range = range.map(|r| r.trunc()).unwrap_or(subnet);
        if !subnet.contains(&range) {
            return Err(NetworkError::InvalidArgument(format!(
                "ip-range {range} is not within subnet {subnet}"
            )));
        }
        let gateway = gateway.unwrap_or_else(|| first_host(&subnet));
        if !subnet.contains(&gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
            return Err(NetworkError::InvalidArgument(format!(
                "gateway {gateway} is not a host address of subnet {subnet}"
            )));
        }
        Ok(Pool { subnet, range, gateway, used: BTreeSet::new() })
    }

    /// Takes `want`, or the lowest free address of the range.
    pub fn allocate(&mut self, want: Option<Ipv4Addr>) -> Result<Ipv4Addr, NetworkError> {
        if let Some(ip) = want {
            if !self.subnet.contains(&ip) || ip == self.subnet.network() || ip == self.subnet.broadcast() {
                return Err(NetworkError::InvalidArgument(format!(
                    "invalid address {ip}: it does not belong to the network's subnet {}",
                    self.subnet
                )));
            }
            if ip == self.gateway || !self.used.insert(ip) {
                return Err(NetworkError::Conflict(format!("Address already in use: {ip}")));
            }
            return Ok(ip);
        }
        let start = u32::from(self.range.network());
        let end = u32::from(self.range.broadcast());
        for n in start..=end {
            let ip = Ipv4Addr::from(n);
            if ip == self.subnet.network() || ip == self.subnet.broadcast() || ip == self.gateway {
                continue;
            }
            if self.used.insert(ip) {
                return Ok(ip);
            }
        }
        Err(NetworkError::Conflict(format!(
            "no available IPv4 addresses on this network's address pools: {}",
            self.range
        )))
    }

    /// Marks an address taken (addresses recorded before a restart).
    pub fn reserve(&mut self, ip: Ipv4Addr) {
        self.used.insert(ip);
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&ip);
    }
}

fn first_host(net: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + 1)
}

/// Docker's MAC for an IPv4 address: `02:42:` and its four bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_come_from_the_pools_around_what_is_taken() {
        let pools = default_pools();
        let table: &[(&[&str], &str)] = &[
            (&[], "172.17.0.0/16"),
            (&["172.17.0.0/16"], "172.18.0.0/16"),
            (&["172.17.0.0/16", "172.18.5.0/24"], "172.19.0.0/16"),
            (&["172.16.0.0/12"], "192.168.0.0/20"),
            (&["172.16.0.0/12", "192.168.0.0/20", "192.168.16.0/24"], "192.168.32.0/20"),
        ];
        for (taken, want) in table {
            let taken: Vec<Ipv4Net> = taken.iter().map(|t| net(t)).collect();
            assert_eq!(choose_subnet(&pools, &taken), Some(net(want)), "{taken:?}");
        }
        assert!(overlapping(&net("10.1.0.0/16"), &[net("10.0.0.0/8")]));
        assert!(!overlapping(&net("10.1.0.0/16"), &[net("10.2.0.0/16")]));
        assert_eq!(parse_subnet("10.0.0.0/33").unwrap_err().to_string(), "invalid CIDR address: 10.0.0.0/33");
    }

    #[test]
    fn addresses_skip_network_gateway_and_broadcast() {
        let mut p = Pool::new(net("10.9.0.0/29"), None, None).unwrap();
        assert_eq!(p.gateway, Ipv4Addr::new(10, 9, 0, 1));
        let got: Vec<Ipv4Addr> = (0..5).map(|_| p.allocate(None).unwrap()).collect();
        assert_eq!(got, (2..=6).map(|n| Ipv4Addr::new(10, 9, 0, n)).collect::<Vec<_>>());
        assert!(p.allocate(None).unwrap_err().to_string().contains("no available IPv4 addresses"));
        p.release(Ipv4Addr::new(10, 9, 0, 4));
        assert_eq!(p.allocate(None).unwrap(), Ipv4Addr::new(10, 9, 0, 4));
        let mut p =
            Pool::new(net("10.9.0.0/24"), Some(net("10.9.0.128/25")), Some(Ipv4Addr::new(10, 9, 0, 254)))
                .unwrap();
        assert_eq!(p.allocate(None).unwrap(), Ipv4Addr::new(10, 9, 0, 128));
        assert_eq!(p.allocate(Some(Ipv4Addr::new(10, 9, 0, 7))).unwrap(), Ipv4Addr::new(10, 9, 0, 7));
        assert_eq!(
            p.allocate(Some(Ipv4Addr::new(10, 9, 0, 7))).unwrap_err().to_string(),
            "Address already in use: 10.9.0.7"
        );
        assert!(p.allocate(Some(Ipv4Addr::new(10, 9, 0, 254))).is_err());
        assert!(p.allocate(Some(Ipv4Addr::new(10, 8, 0, 7))).is_err());
        assert!(Pool::new(net("10.9.0.0/24"), Some(net("10.10.0.0/25")), None).is_err());
        assert!(Pool::new(net("10.9.0.0/24"), None, Some(Ipv4Addr::new(10, 9, 1, 1))).is_err());
        assert!(Pool::new(net("10.9.0.0/31"), None, None).is_err());
    }

    #[test]
    fn macs_follow_the_address() {
        assert_eq!(mac_text(&mac_for(Ipv4Addr::new(172, 17, 0, 2))), "02:42:ac:11:00:02");
    }
}
