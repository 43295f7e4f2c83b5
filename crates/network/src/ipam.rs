//! IP address management, pure: subnets for new networks from Docker's default pools (never
//! one that overlaps a network or a host route), and addresses within a network's subnet (or
//! its `--ip-range`), never the network, broadcast or gateway address. MAC addresses are
//! derived from IPv4 addresses as Docker does (`02:42:` and the four bytes).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

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
    let net: Ipv4Net = s.parse().map_err(|_| NetworkError::Invalid(format!("invalid CIDR address: {s}")))?;
    Ok(net)
}

pub fn parse_ip(s: &str) -> Result<Ipv4Addr, NetworkError> {
    s.parse().map_err(|_| NetworkError::Invalid(format!("invalid IP address: {s}")))
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

/// An address family's arithmetic, for [`Pool`]: IPv4 reserves a subnet's first and last
/// addresses (network, broadcast), IPv6 only the first (the subnet-router anycast).
pub trait Family: Copy + Ord + std::fmt::Display + std::fmt::Debug {
    type Net: Copy + Eq + std::fmt::Display + std::fmt::Debug;
    const NAME: &'static str;
    /// The longest prefix a network may have.
    const MAX_PREFIX: u8;
    fn bits(self) -> u128;
    fn from_bits(b: u128) -> Self;
    fn trunc(net: Self::Net) -> Self::Net;
    fn prefix(net: &Self::Net) -> u8;
    fn first(net: &Self::Net) -> Self;
    fn last(net: &Self::Net) -> Self;
    fn contains(net: &Self::Net, ip: &Self) -> bool;
    fn net_contains(net: &Self::Net, other: &Self::Net) -> bool;
    /// Whether `ip` is one no host may take (besides the gateway).
    fn reserved(net: &Self::Net, ip: Self) -> bool;
}

impl Family for Ipv4Addr {
    type Net = Ipv4Net;
    const NAME: &'static str = "IPv4";
    const MAX_PREFIX: u8 = 30;
    fn bits(self) -> u128 {
        u32::from(self) as u128
    }
    fn from_bits(b: u128) -> Self {
        Ipv4Addr::from(b as u32)
    }
    fn trunc(net: Ipv4Net) -> Ipv4Net {
        net.trunc()
    }
    fn prefix(net: &Ipv4Net) -> u8 {
        net.prefix_len()
    }
    fn first(net: &Ipv4Net) -> Self {
        net.network()
    }
    fn last(net: &Ipv4Net) -> Self {
        net.broadcast()
    }
    fn contains(net: &Ipv4Net, ip: &Self) -> bool {
        net.contains(ip)
    }
    fn net_contains(net: &Ipv4Net, other: &Ipv4Net) -> bool {
        net.contains(other)
    }
    fn reserved(net: &Ipv4Net, ip: Self) -> bool {
        ip == net.network() || ip == net.broadcast()
    }
}

impl Family for Ipv6Addr {
    type Net = Ipv6Net;
    const NAME: &'static str = "IPv6";
    const MAX_PREFIX: u8 = 126;
    fn bits(self) -> u128 {
        u128::from(self)
    }
    fn from_bits(b: u128) -> Self {
        Ipv6Addr::from(b)
    }
    fn trunc(net: Ipv6Net) -> Ipv6Net {
        net.trunc()
    }
    fn prefix(net: &Ipv6Net) -> u8 {
        net.prefix_len()
    }
    fn first(net: &Ipv6Net) -> Self {
        net.network()
    }
    fn last(net: &Ipv6Net) -> Self {
        net.broadcast()
    }
    fn contains(net: &Ipv6Net, ip: &Self) -> bool {
        net.contains(ip)
    }
    fn net_contains(net: &Ipv6Net, other: &Ipv6Net) -> bool {
        net.contains(other)
    }
    fn reserved(net: &Ipv6Net, ip: Self) -> bool {
        ip == net.network()
    }
}

/// One network's addresses of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool<A: Family = Ipv4Addr> {
    pub subnet: A::Net,
    pub range: A::Net,
    pub gateway: A,
    used: BTreeSet<A>,
}

/// A network's IPv6 addresses (`--ipv6`).
pub type Pool6 = Pool<Ipv6Addr>;
/// A network's IPv4 addresses.
pub type Pool4 = Pool<Ipv4Addr>;

impl<A: Family> Pool<A> {
    /// The gateway is the subnet's first host address unless given; it and the range must lie
    /// within the subnet.
    pub fn new(subnet: A::Net, range: Option<A::Net>, gateway: Option<A>) -> Result<Self, NetworkError> {
        let subnet = A::trunc(subnet);
        if A::prefix(&subnet) > A::MAX_PREFIX {
            return Err(NetworkError::Invalid(format!(
                "subnet {subnet} is too small for a network: give a prefix of /{} or shorter",
                A::MAX_PREFIX
            )));
        }
        let range = range.map(A::trunc).unwrap_or(subnet);
        if !A::net_contains(&subnet, &range) {
            return Err(NetworkError::Invalid(format!("ip-range {range} is not within subnet {subnet}")));
        }
        let gateway = gateway.unwrap_or_else(|| A::from_bits(A::first(&subnet).bits() + 1));
        if !A::contains(&subnet, &gateway) || A::reserved(&subnet, gateway) {
            return Err(NetworkError::Invalid(format!(
                "gateway {gateway} is not a host address of subnet {subnet}"
            )));
        }
        Ok(Pool { subnet, range, gateway, used: BTreeSet::new() })
    }

    /// Takes `want`, or the lowest free address of the range.
    pub fn allocate(&mut self, want: Option<A>) -> Result<A, NetworkError> {
        if let Some(ip) = want {
            if !A::contains(&self.subnet, &ip) || A::reserved(&self.subnet, ip) {
                return Err(NetworkError::Invalid(format!(
                    "invalid address {ip}: it does not belong to the network's subnet {}",
                    self.subnet
                )));
            }
            if ip == self.gateway || !self.used.insert(ip) {
                return Err(NetworkError::Taken(format!("Address already in use: {ip}")));
            }
            return Ok(ip);
        }
        // Taken addresses are few: the walk from the range's start ends after at most
        // `used.len() + 3` steps.
        let (start, end) = (A::first(&self.range).bits(), A::last(&self.range).bits());
        let mut n = start;
        loop {
            let ip = A::from_bits(n);
            if !A::reserved(&self.subnet, ip) && ip != self.gateway && self.used.insert(ip) {
                return Ok(ip);
            }
            if n == end {
                break;
            }
            n += 1;
        }
        Err(NetworkError::Taken(format!(
            "no available {} addresses on this network's address pools: {}",
            A::NAME,
            self.range
        )))
    }

    /// Marks an address taken (addresses recorded before a restart).
    pub fn reserve(&mut self, ip: A) {
        self.used.insert(ip);
    }

    pub fn release(&mut self, ip: A) {
        self.used.remove(&ip);
    }
}

pub fn parse_subnet6(s: &str) -> Result<Ipv6Net, NetworkError> {
    s.parse().map_err(|_| NetworkError::Invalid(format!("invalid CIDR address: {s}")))
}

pub fn parse_ip6(s: &str) -> Result<Ipv6Addr, NetworkError> {
    s.parse().map_err(|_| NetworkError::Invalid(format!("invalid IPv6 address: {s}")))
}

/// A `/64` for an IPv6 network given no subnet, as Docker makes one: inside a unique local
/// `/48` that `seed` (the engine's ID) picks, the first `/64` none of `taken` overlaps.
pub fn choose_subnet6(seed: &[u8], taken: &[Ipv6Net]) -> Option<Ipv6Net> {
    let mut g = [0u8; 5];
    for (i, b) in seed.iter().enumerate() {
        g[i % 5] = g[i % 5].wrapping_mul(31).wrapping_add(*b);
    }
    let base = u128::from_be_bytes([0xfd, g[0], g[1], g[2], g[3], g[4], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    (0..=u16::MAX as u128)
        .map(|i| Ipv6Net::new(Ipv6Addr::from(base | (i << 64)), 64).expect("a /64 is valid"))
        .find(|s| !taken.iter().any(|t| t.contains(s) || s.contains(t)))
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
        let mut p = Pool4::new(net("10.9.0.0/29"), None, None).unwrap();
        assert_eq!(p.gateway, Ipv4Addr::new(10, 9, 0, 1));
        let got: Vec<Ipv4Addr> = (0..5).map(|_| p.allocate(None).unwrap()).collect();
        assert_eq!(got, (2..=6).map(|n| Ipv4Addr::new(10, 9, 0, n)).collect::<Vec<_>>());
        assert!(p.allocate(None).unwrap_err().to_string().contains("no available IPv4 addresses"));
        p.release(Ipv4Addr::new(10, 9, 0, 4));
        assert_eq!(p.allocate(None).unwrap(), Ipv4Addr::new(10, 9, 0, 4));
        let mut p =
            Pool4::new(net("10.9.0.0/24"), Some(net("10.9.0.128/25")), Some(Ipv4Addr::new(10, 9, 0, 254)))
                .unwrap();
        assert_eq!(p.allocate(None).unwrap(), Ipv4Addr::new(10, 9, 0, 128));
        assert_eq!(p.allocate(Some(Ipv4Addr::new(10, 9, 0, 7))).unwrap(), Ipv4Addr::new(10, 9, 0, 7));
        assert_eq!(
            p.allocate(Some(Ipv4Addr::new(10, 9, 0, 7))).unwrap_err().to_string(),
            "Address already in use: 10.9.0.7"
        );
        assert!(p.allocate(Some(Ipv4Addr::new(10, 9, 0, 254))).is_err());
        assert!(p.allocate(Some(Ipv4Addr::new(10, 8, 0, 7))).is_err());
        assert!(Pool4::new(net("10.9.0.0/24"), Some(net("10.10.0.0/25")), None).is_err());
        assert!(Pool4::new(net("10.9.0.0/24"), None, Some(Ipv4Addr::new(10, 9, 1, 1))).is_err());
        assert!(Pool4::new(net("10.9.0.0/31"), None, None).is_err());
    }

    #[test]
    fn ipv6_addresses_skip_only_the_anycast_and_the_gateway() {
        let n6 = |s: &str| -> Ipv6Net { s.parse().unwrap() };
        let ip6 = |s: &str| -> Ipv6Addr { s.parse().unwrap() };
        let mut p = Pool6::new(n6("fd00:1:2:3::/64"), None, None).unwrap();
        assert_eq!(p.gateway, ip6("fd00:1:2:3::1"));
        assert_eq!(p.allocate(None).unwrap(), ip6("fd00:1:2:3::2"));
        assert_eq!(p.allocate(Some(ip6("fd00:1:2:3::99"))).unwrap(), ip6("fd00:1:2:3::99"));
        assert_eq!(p.allocate(None).unwrap(), ip6("fd00:1:2:3::3"));
        assert!(p.allocate(Some(ip6("fd00:1:2:4::9"))).is_err());
        assert!(p.allocate(Some(ip6("fd00:1:2:3::"))).is_err(), "the subnet-router anycast");
        let mut tiny = Pool6::new(n6("fd00::/126"), None, None).unwrap();
        let got: Vec<Ipv6Addr> = (0..2).map(|_| tiny.allocate(None).unwrap()).collect();
        assert_eq!(got, [ip6("fd00::2"), ip6("fd00::3")], "no broadcast in IPv6");
        assert!(tiny.allocate(None).unwrap_err().to_string().contains("no available IPv6 addresses"));
        assert!(Pool6::new(n6("fd00::/127"), None, None).is_err());
        // Generated subnets: a ULA /64 the seed picks, never one already taken.
        let a = choose_subnet6(b"engine-a", &[]).unwrap();
        assert_eq!(a.prefix_len(), 64);
        assert_eq!(a.network().octets()[0], 0xfd);
        assert_eq!(choose_subnet6(b"engine-a", &[]), Some(a), "the same seed, the same subnet");
        let b = choose_subnet6(b"engine-a", &[a]).unwrap();
        assert_ne!(a, b);
        assert_ne!(choose_subnet6(b"engine-b", &[]), Some(a));
    }

    #[test]
    fn macs_follow_the_address() {
        assert_eq!(mac_text(&mac_for(Ipv4Addr::new(172, 17, 0, 2))), "02:42:ac:11:00:02");
    }
}
