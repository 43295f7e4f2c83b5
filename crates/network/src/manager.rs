//! The network manager: network records (in the daemon's database), their address pools,
//! endpoints attached through each network's driver, published ports (the userland proxy and
//! the firewall's DNAT), the embedded resolver, and the firewall made to match all of it. What
//! a container is and who may see whom by name is the engine's business: it hands over the
//! endpoints and a lookup.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_metadata::{Db, Reader};
use berth_records::{EndpointRecord, NetworkRecord, PublishedPort, MTU_OPTION};
use berth_sys::new_id;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::driver::{self, NetworkDriver};
use crate::firewall::{FirewallDriver, Iptables, Nftables, PortRule, Proto, Ruleset};
use crate::{dns, ipam, link, proxy, NetworkError};

type Result<T> = std::result::Result<T, NetworkError>;

/// What `POST /networks/create` asks for.
#[derive(Debug, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub ipv6: bool,
    pub subnet: Option<String>,
    pub ip_range: Option<String>,
    pub gateway: Option<String>,
    /// The IPv6 entry of `IPAM.Config`.
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// What a container asks of a network when it is connected (`--network-alias`, `--ip`, `--ip6`).
#[derive(Debug, Default, Clone)]
pub struct EndpointRequest {
    pub aliases: Vec<String>,
    pub ip: String,
    pub ip6: String,
}

/// A port to publish: `80/tcp`, and the host address and port asked for (empty: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub port: String,
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Default)]
struct State {
    pools: HashMap<String, ipam::Pool>,
    pools6: HashMap<String, ipam::Pool6>,
    proxies: HashMap<String, Vec<tokio::task::JoinHandle<()>>>,
    resolvers: HashMap<String, tokio::task::JoinHandle<()>>,
    ports: HashMap<String, Vec<PortRule>>,
}

impl State {
    fn reserve(&mut self, ep: &EndpointRecord) {
        if let (Some(p), Ok(ip)) = (self.pools.get_mut(&ep.network_id), ep.ip.parse()) {
            p.reserve(ip);
        }
        if let (Some(p), Ok(ip)) = (self.pools6.get_mut(&ep.network_id), ep.ip6.parse()) {
            p.reserve(ip);
        }
    }

    fn release(&mut self, ep: &EndpointRecord) {
        if let (Some(p), Ok(ip)) = (self.pools.get_mut(&ep.network_id), ep.ip.parse()) {
            p.release(ip);
        }
        if let (Some(p), Ok(ip)) = (self.pools6.get_mut(&ep.network_id), ep.ip6.parse()) {
            p.release(ip);
        }
    }

    fn insert_pools(&mut self, n: &NetworkRecord) -> Result<()> {
        let subnet = ipam::parse_subnet(&n.subnet)?;
        let range = (!n.ip_range.is_empty()).then(|| ipam::parse_subnet(&n.ip_range)).transpose()?;
        let gw = (!n.gateway.is_empty()).then(|| ipam::parse_ip(&n.gateway)).transpose()?;
        self.pools.insert(n.id.clone(), ipam::Pool4::new(subnet, range, gw)?);
        if n.ipv6() {
            let subnet = ipam::parse_subnet6(&n.subnet6)?;
            let gw = (!n.gateway6.is_empty()).then(|| ipam::parse_ip6(&n.gateway6)).transpose()?;
            self.pools6.insert(n.id.clone(), ipam::Pool6::new(subnet, None, gw)?);
        }
        Ok(())
    }
}

pub struct NetworkManager {
    db: Arc<Db>,
    state: Mutex<State>,
    /// Held from reading the state to the firewall's apply: two applies may not interleave,
    /// or the older ruleset could land last.
    apply: Mutex<()>,
    /// Serializes creation (names and subnets are checked, then taken).
    create: Mutex<()>,
    firewall: Box<dyn FirewallDriver>,
    /// The overlap warnings last logged (each is logged once while it lasts).
    told: Mutex<Vec<String>>,
    prefix: Option<String>,
    /// Where containers' namespaces are kept (bind-mounted files).
    netns_dir: PathBuf,
}

impl NetworkManager {
    /// A manager over the `networks` table of `db`, naming its bridges and firewall table after
    /// `prefix` (`bridge-prefix`) and writing rules with `backend` (`nftables` or `iptables`).
    pub fn new(
        db: Arc<Db>,
        prefix: Option<String>,
        backend: &str,
        netns_dir: PathBuf,
    ) -> Result<NetworkManager> {
        if let Some(p) = &prefix {
            if p.is_empty() || p.len() > 6 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(NetworkError::Invalid(format!(
                    "invalid bridge-prefix {p:?}: use 1 to 6 letters or digits"
                )));
            }
        }
        let table = prefix.clone().unwrap_or_else(|| "berth".into());
        let firewall: Box<dyn FirewallDriver> = match backend {
            "nftables" => Box::new(Nftables::new(&table)),
            "iptables" => Box::new(Iptables { prefix: table }),
            other => {
                return Err(NetworkError::Invalid(format!(
                    "invalid firewall-backend {other:?}: use nftables or iptables"
                )))
            }
        };
        db.ensure::<NetworkRecord>()?;
        Ok(NetworkManager {
            db,
            state: Mutex::new(State::default()),
            apply: Mutex::new(()),
            create: Mutex::new(()),
            firewall,
            told: Mutex::new(Vec::new()),
            prefix,
            netns_dir,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The driver of a network.
    pub fn driver(&self, n: &NetworkRecord) -> Result<&'static dyn NetworkDriver> {
        driver::find(&n.driver).ok_or_else(|| {
            NetworkError::host(
                format!("network {}", n.name),
                format!("its record names the unknown driver {}", n.driver),
            )
        })
    }

    /// Whether containers on the network get endpoints.
    pub fn has_endpoints(&self, n: &NetworkRecord) -> bool {
        driver::find(&n.driver).is_some_and(|d| d.has_endpoints())
    }

    /// `nftables` or `iptables` (`/info`'s `FirewallBackend`).
    pub fn firewall_name(&self) -> &'static str {
        self.firewall.name()
    }

    /// The firewall's look at the host's other firewalls, between applies.
    pub fn recheck_firewall(&self) {
        let _g = self.apply.lock().unwrap_or_else(|e| e.into_inner());
        self.firewall.recheck();
    }

    /// Of the overlap warnings `now`, those not told before (each is told once while it lasts).
    pub fn newly_told(&self, now: Vec<String>) -> Vec<String> {
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        let new = now.iter().filter(|w| !told.contains(w)).cloned().collect();
        *told = now;
        new
    }

    /// The default bridge's interface name (`berth0`, `<prefix>0`).
    pub fn default_bridge(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}0"),
            None => "berth0".into(),
        }
    }

    fn bridge_for(&self, id: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}-{}", &id[..8]),
            None => format!("br-{}", &id[..12]),
        }
    }

    /// A running container's network namespace (a bind-mounted file).
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.netns_dir.join(&id[..12])
    }

    // ---- records ----

    pub fn records(&self) -> Result<Vec<NetworkRecord>> {
        let all = self.db.read(|tx| tx.all::<NetworkRecord>()).map_err(NetworkError::from)?;
        Ok(all.into_iter().map(|(_, r)| r).collect())
    }

    /// Writes a network's record as it is (the built-in networks, the default bridge's
    /// addressing at start).
    pub fn put(&self, n: &NetworkRecord) -> Result<()> {
        self.db.write(|tx| tx.put(&n.id, n)).map_err(NetworkError::from)
    }

    /// Finds a network by name, full ID or unique ID prefix.
    pub fn get(&self, name: &str) -> Result<NetworkRecord> {
        let all = self.records()?;
        if let Some(n) = all.iter().find(|n| n.name == name || n.id == name) {
            return Ok(n.clone());
        }
        let mut found = all.iter().filter(|n| !name.is_empty() && n.id.starts_with(name));
        match (found.next(), found.next()) {
            (Some(n), None) => Ok(n.clone()),
            (Some(_), Some(_)) => Err(NetworkError::Ambiguous { name: name.to_string() }),
            _ => Err(NetworkError::NoSuchNetwork { name: name.to_string() }),
        }
    }

    /// At start: every network's pools, knowing the addresses `live` endpoints (running
    /// containers') hold; every network set up on the host; the firewall made to match.
    pub fn open<'a>(&self, live: impl IntoIterator<Item = &'a EndpointRecord>) -> Result<()> {
        let all = self.records()?;
        {
            let mut st = self.lock();
            for n in all.iter().filter(|n| self.has_endpoints(n)) {
                st.insert_pools(n)?;
            }
            for ep in live {
                st.reserve(ep);
            }
        }
        for n in &all {
            if let Err(e) = self.driver(n).and_then(|d| d.set_up(n)) {
                tracing::warn!(network = %n.name, error = %e, "setting up a network failed");
            }
        }
        if let Err(e) = self.apply_firewall() {
            tracing::warn!(error = %e, "applying the firewall failed");
        }
        Ok(())
    }

    /// Sets every network up again (recreating a bridge someone deleted), puts the live
    /// endpoints' host sides back on them, and rewrites the firewall (`SIGHUP`).
    pub fn reapply<'a>(&self, live: impl IntoIterator<Item = &'a EndpointRecord>) -> Result<()> {
        let nets = self.records()?;
        for n in &nets {
            self.driver(n)?.set_up(n)?;
        }
        for ep in live.into_iter().filter(|e| !e.host_ifname.is_empty()) {
            if let Some(n) = nets.iter().find(|n| n.id == ep.network_id) {
                if let Err(e) = self.driver(n)?.reattach(n, &ep.host_ifname) {
                    tracing::warn!(network = %n.name, error = %e, "putting an endpoint back on its network failed");
                }
            }
        }
        self.apply_firewall()
    }

    /// Makes the firewall match the networks and the published ports.
    pub fn apply_firewall(&self) -> Result<()> {
        let _serial = self.apply.lock().unwrap_or_else(|e| e.into_inner());
        let bridges =
            self.records()?.iter().filter_map(|n| driver::find(&n.driver).and_then(|d| d.rules(n))).collect();
        let ports = self.lock().ports.values().flatten().cloned().collect();
        self.firewall.apply(&Ruleset { bridges, ports })
    }

    /// Creates a network: its driver's checks, a subnet (the request's, else one from `pools`
    /// that overlaps no network and none of `routes`), IPv6 from the request or a unique local
    /// `/64` that `unique` (the engine's ID) picks; set up, recorded, in the firewall.
    pub fn create(
        &self,
        req: NetworkCreate,
        pools: &[(Ipv4Net, u8)],
        routes: &[Ipv4Net],
        unique: &[u8],
    ) -> Result<NetworkRecord> {
        if req.name.is_empty() {
            return Err(NetworkError::Invalid("network name is required: give the network a name".into()));
        }
        if let Some(m) = req.options.get(MTU_OPTION) {
            if !m.parse::<u32>().is_ok_and(|m| (68..=65_535).contains(&m)) {
                return Err(NetworkError::Invalid(format!(
                    "invalid {MTU_OPTION} {m:?}: give an MTU from 68 to 65535"
                )));
            }
        }
        let driver = driver::for_create(if req.driver.is_empty() { "bridge" } else { &req.driver })?;
        if !req.ipv6 && (req.subnet6.is_some() || req.gateway6.is_some()) {
            return Err(NetworkError::Invalid(
                "an IPv6 subnet or gateway was given for a network without IPv6: add --ipv6".into(),
            ));
        }
        let _g = self.create.lock().unwrap_or_else(|e| e.into_inner());
        let all = self.records()?;
        if all.iter().any(|n| n.name == req.name) {
            return Err(NetworkError::Taken(format!("network with name {} already exists", req.name)));
        }
        let taken: Vec<Ipv4Net> = all.iter().filter_map(|n| n.subnet.parse().ok()).collect();
        let subnet = match &req.subnet {
            Some(s) => {
                let s = ipam::parse_subnet(s)?;
                if ipam::overlapping(&s, &taken) {
                    return Err(NetworkError::Refused(
                        "invalid pool request: Pool overlaps with other one on this address space".into(),
                    ));
                }
                s
            }
            None => {
                let mut t = taken.clone();
                t.extend_from_slice(routes);
                ipam::choose_subnet(pools, &t).ok_or_else(|| {
                    NetworkError::Refused(
                        "all predefined address pools have been fully subnetted: give the network a --subnet"
                            .into(),
                    )
                })?
            }
        };
        let range = req.ip_range.as_deref().map(ipam::parse_subnet).transpose()?;
        let gateway = req.gateway.as_deref().map(ipam::parse_ip).transpose()?;
        let pool = ipam::Pool4::new(subnet, range, gateway)?;
        let pool6 = if req.ipv6 { Some(new_pool6(&req, &all, unique)?) } else { None };
        let id = new_id();
        let bridge = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| self.bridge_for(&id));
        if bridge.len() > 15 {
            return Err(NetworkError::Invalid(format!(
                "bridge name {bridge:?} is longer than 15 characters"
            )));
        }
        // Never take over an interface of the host's (removing the network deletes its bridge).
        if link::exists(&bridge) || all.iter().any(|n| n.bridge == bridge) {
            return Err(NetworkError::Taken(format!(
                "bridge name {bridge} is already in use on this host: choose another com.docker.network.bridge.name"
            )));
        }
        let n = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver: driver.name().into(),
            created: now_rfc3339(),
            subnet: pool.subnet.to_string(),
            gateway: pool.gateway.to_string(),
            ip_range: range.map(|r| r.to_string()).unwrap_or_default(),
            user_subnet: req.subnet.is_some(),
            internal: req.internal,
            attachable: req.attachable,
            labels: req.labels,
            options: req.options,
            bridge,
            subnet6: pool6.as_ref().map(|p| p.subnet.to_string()).unwrap_or_default(),
            gateway6: pool6.as_ref().map(|p| p.gateway.to_string()).unwrap_or_default(),
        };
        driver.set_up(&n)?;
        self.put(&n)?;
        {
            let mut st = self.lock();
            st.pools.insert(id.clone(), pool);
            if let Some(p) = pool6 {
                st.pools6.insert(id, p);
            }
        }
        self.apply_firewall()?;
        Ok(n)
    }

    /// Removes a network no container is attached to (the caller knows the containers).
    pub fn remove(&self, n: &NetworkRecord) -> Result<()> {
        if n.builtin() {
            return Err(NetworkError::Refused(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        self.db.write(|tx| tx.delete::<NetworkRecord>(&n.id)).map_err(NetworkError::from)?;
        {
            let mut st = self.lock();
            st.pools.remove(&n.id);
            st.pools6.remove(&n.id);
        }
        self.driver(n)?.tear_down(n)?;
        self.apply_firewall()
    }

    // ---- endpoints ----

    /// A container's endpoint on `n` as asked for, checked as Docker checks it (aliases only on
    /// user-defined networks, `--ip` only on a user's subnet, `--ip6` only with IPv6).
    pub fn endpoint(&self, n: &NetworkRecord, req: EndpointRequest) -> Result<EndpointRecord> {
        if n.name == "bridge" && !req.aliases.is_empty() {
            return Err(NetworkError::Invalid(
                "network-scoped alias is supported only for containers in user defined networks".into(),
            ));
        }
        if !req.ip.is_empty() {
            if !n.user_subnet {
                return Err(NetworkError::Invalid(
                    "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
                ));
            }
            ipam::parse_ip(&req.ip)?;
        }
        if !req.ip6.is_empty() {
            if !n.ipv6() {
                return Err(NetworkError::Invalid(format!(
                    "network {} has no IPv6: --ip6 needs a network created with --ipv6",
                    n.name
                )));
            }
            ipam::parse_ip6(&req.ip6)?;
        }
        Ok(EndpointRecord {
            network_id: n.id.clone(),
            aliases: req.aliases,
            ipv4_requested: req.ip,
            ipv6_requested: req.ip6,
            ..Default::default()
        })
    }

    /// Attaches the endpoint `ep` of network `n` to the namespace `netns` as `eth<index>`:
    /// addresses from the pools (the ones asked for, if any), the driver's attach, the
    /// endpoint returned filled in. On failure the addresses go back.
    pub fn attach(
        &self,
        netns: &Path,
        n: &NetworkRecord,
        ep: &EndpointRecord,
        index: usize,
    ) -> Result<EndpointRecord> {
        let want: Option<Ipv4Addr> =
            (!ep.ipv4_requested.is_empty()).then(|| ep.ipv4_requested.parse().ok()).flatten();
        let (ip, gateway, prefix) = {
            let mut st = self.lock();
            let pool = st
                .pools
                .get_mut(&n.id)
                .ok_or_else(|| NetworkError::NoSuchNetwork { name: n.name.clone() })?;
            (pool.allocate(want)?, pool.gateway, pool.subnet.prefix_len())
        };
        let v6 = if n.ipv6() {
            let want6: Option<Ipv6Addr> = ep.ipv6_requested.parse().ok();
            let mut st = self.lock();
            let got = match st.pools6.get_mut(&n.id) {
                Some(p) => p.allocate(want6).map(|a| (a, p.subnet.prefix_len(), p.gateway)),
                None => Err(NetworkError::NoIpv6Pool { name: n.name.clone() }),
            };
            match got {
                Ok(v) => Some(v),
                Err(e) => {
                    if let Some(p) = st.pools.get_mut(&n.id) {
                        p.release(ip);
                    }
                    return Err(e);
                }
            }
        } else {
            None
        };
        let mac = ipam::mac_for(ip);
        let spec = link::EndpointSpec {
            bridge: n.bridge.clone(),
            host_ifname: format!("veth{}", &new_id()[..7]),
            ifname: format!("eth{index}"),
            ip,
            prefix,
            gateway,
            mac,
            v6,
            // An internal network has no way out, not even a default route.
            default_route: index == 0 && !n.internal,
            mtu: n.mtu(),
        };
        if let Err(e) = self.driver(n).and_then(|d| d.attach(netns, n, &spec)) {
            let mut st = self.lock();
            if let Some(p) = st.pools.get_mut(&n.id) {
                p.release(ip);
            }
            if let (Some(p), Some((ip6, _, _))) = (st.pools6.get_mut(&n.id), v6) {
                p.release(ip6);
            }
            return Err(e);
        }
        let mut out = ep.clone();
        out.ip = ip.to_string();
        out.prefix = prefix;
        out.gateway = gateway.to_string();
        out.mac = ipam::mac_text(&mac);
        out.endpoint_id = new_id();
        out.ifname = spec.ifname;
        out.host_ifname = spec.host_ifname;
        if let Some((ip6, prefix6, gw6)) = v6 {
            out.ip6 = ip6.to_string();
            out.prefix6 = prefix6;
            out.gateway6 = gw6.to_string();
        }
        Ok(out)
    }

    /// Detaches a live endpoint and gives its addresses back.
    pub fn detach(&self, netns: &Path, n: &NetworkRecord, ep: &EndpointRecord) -> Result<()> {
        if !ep.ifname.is_empty() {
            self.driver(n)?.detach(netns, &ep.ifname)?;
        }
        self.release(ep);
        Ok(())
    }

    /// Gives an endpoint's addresses back to its network's pools.
    pub fn release(&self, ep: &EndpointRecord) {
        self.lock().release(ep);
    }

    /// Marks the addresses of a live endpoint taken (a running container, after a restart).
    pub fn reserve(&self, ep: &EndpointRecord) {
        self.lock().reserve(ep);
    }

    // ---- published ports ----

    /// Publishes container `id`'s ports on the host, relayed to `cip` on `n` (its first
    /// network): each host port is bound (which reserves it) and served by the proxy, and DNAT
    /// rules go to the firewall at the next apply. A port already taken is Docker's error,
    /// naming the container (`name`). All or nothing.
    pub fn publish(
        &self,
        id: &str,
        name: &str,
        n: &NetworkRecord,
        cip: Ipv4Addr,
        wanted: &[PortRequest],
    ) -> Result<Vec<PublishedPort>> {
        let mut published = Vec::new();
        let mut rules = Vec::new();
        let mut tasks = Vec::new();
        let result = (|| -> Result<()> {
            for w in wanted {
                let (num, proto) = w.port.split_once('/').unwrap_or((&w.port, "tcp"));
                let cport: u16 =
                    num.parse().map_err(|_| NetworkError::Invalid(format!("invalid port {}", w.port)))?;
                let proto = if proto == "udp" { Proto::Udp } else { Proto::Tcp };
                let hip = if w.host_ip.is_empty() || w.host_ip == "0.0.0.0" {
                    None
                } else {
                    Some(ipam::parse_ip(&w.host_ip)?)
                };
                let hport: u16 = if w.host_port.is_empty() {
                    0
                } else {
                    w.host_port
                        .parse()
                        .map_err(|_| NetworkError::Invalid(format!("invalid host port {}", w.host_port)))?
                };
                let reserved = proxy::reserve(proto, hip, hport).map_err(|e| {
                    if hport != 0 && self.port_taken(proto, hport) {
                        NetworkError::Taken(format!(
                            "driver failed programming external connectivity on endpoint {name}: Bind for {}:{hport} failed: port is already allocated",
                            hip.unwrap_or(Ipv4Addr::UNSPECIFIED)
                        ))
                    } else {
                        e
                    }
                })?;
                let hport = reserved.port();
                tasks.push(proxy::spawn(reserved, SocketAddr::from((cip, cport))));
                rules.push(PortRule {
                    proto,
                    host_ip: hip,
                    host_port: hport,
                    container_ip: cip,
                    container_port: cport,
                    bridge: n.bridge.clone(),
                });
                published.push(PublishedPort {
                    proto: proto.as_str().into(),
                    container_port: cport,
                    host_ip: hip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
                    host_port: hport,
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            for t in tasks {
                t.abort();
            }
            return Err(e);
        }
        let mut st = self.lock();
        st.proxies.insert(id.to_string(), tasks);
        st.ports.insert(id.to_string(), rules);
        Ok(published)
    }

    /// After a restart: a running container's published ports served again as recorded.
    pub fn republish(&self, id: &str, n: &NetworkRecord, cip: Ipv4Addr, ports: &[PublishedPort]) {
        let mut tasks = Vec::new();
        let mut rules = Vec::new();
        for p in ports {
            let proto = if p.proto == "udp" { Proto::Udp } else { Proto::Tcp };
            let hip = p.host_ip.parse().ok().filter(|ip: &Ipv4Addr| !ip.is_unspecified());
            match proxy::reserve(proto, hip, p.host_port) {
                Ok(r) => tasks.push(proxy::spawn(r, SocketAddr::from((cip, p.container_port)))),
                Err(e) => tracing::warn!(id, error = %e, "re-binding a published port failed"),
            }
            rules.push(PortRule {
                proto,
                host_ip: hip,
                host_port: p.host_port,
                container_ip: cip,
                container_port: p.container_port,
                bridge: n.bridge.clone(),
            });
        }
        let mut st = self.lock();
        st.proxies.insert(id.to_string(), tasks);
        st.ports.insert(id.to_string(), rules);
    }

    fn port_taken(&self, proto: Proto, port: u16) -> bool {
        self.lock().ports.values().flatten().any(|r| r.proto == proto && r.host_port == port)
    }

    // ---- the resolver ----

    /// Whether container `id` has its resolver.
    pub fn has_resolver(&self, id: &str) -> bool {
        self.lock().resolvers.contains_key(id)
    }

    /// Serves the resolver at `127.0.0.11:53` in container `id`'s namespace: names `lookup`
    /// knows, anything else forwarded to the host's `resolv.conf` servers.
    pub fn serve_dns(&self, id: &str, netns: &Path, lookup: dns::Lookup) -> Result<()> {
        let sock = link::in_netns(netns, || {
            let s = std::net::UdpSocket::bind("127.0.0.11:53")?;
            s.set_nonblocking(true)?;
            Ok(s)
        })?;
        let sock =
            tokio::net::UdpSocket::from_std(sock).map_err(|e| NetworkError::host("resolver socket", e))?;
        let upstreams = dns::upstreams(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
        let task = tokio::spawn(dns::serve(sock, lookup, upstreams));
        if let Some(old) = self.lock().resolvers.insert(id.to_string(), task) {
            old.abort();
        }
        Ok(())
    }

    /// At a container's stop: its proxies and resolver end, its endpoints' addresses go back.
    /// Says whether it had published ports (the firewall then wants applying).
    pub fn release_container<'a>(
        &self,
        id: &str,
        endpoints: impl IntoIterator<Item = &'a EndpointRecord>,
    ) -> bool {
        let mut st = self.lock();
        for t in st.proxies.remove(id).unwrap_or_default() {
            t.abort();
        }
        if let Some(t) = st.resolvers.remove(id) {
            t.abort();
        }
        for ep in endpoints {
            st.release(ep);
        }
        st.ports.remove(id).is_some_and(|p| !p.is_empty())
    }
}

/// A new network's IPv6 addresses: the user's subnet unless it overlaps another network's,
/// else a `/64` of a unique local prefix `unique` picks (as Docker does).
fn new_pool6(req: &NetworkCreate, all: &[NetworkRecord], unique: &[u8]) -> Result<ipam::Pool6> {
    let taken: Vec<Ipv6Net> = all.iter().filter_map(|n| n.subnet6.parse().ok()).collect();
    let subnet = match &req.subnet6 {
        Some(s) => {
            let s = ipam::parse_subnet6(s)?;
            if taken.iter().any(|t| t.contains(&s) || s.contains(t)) {
                return Err(NetworkError::Refused(
                    "invalid pool request: Pool overlaps with other one on this address space".into(),
                ));
            }
            s
        }
        None => ipam::choose_subnet6(unique, &taken).ok_or_else(|| {
            NetworkError::Refused("no free IPv6 subnet left: give the network an IPv6 --subnet".into())
        })?,
    };
    let gateway = req.gateway6.as_deref().map(ipam::parse_ip6).transpose()?;
    ipam::Pool6::new(subnet, None, gateway)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
