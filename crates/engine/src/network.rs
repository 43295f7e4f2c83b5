//! Networks: the built-in `bridge`, `host` and `none`, user-defined bridge networks, and what a
//! container's start and stop do with them. A container on bridge networks gets a network
//! namespace of its own (a bind-mounted file under `<exec-root>/netns/`), one veth per network
//! with an address from the network's pool, published ports (a userland proxy, and DNAT rules
//! in berth's firewall table), and on user-defined networks the embedded DNS resolver at
//! `127.0.0.11`. Network records live in the daemon's database; the firewall's rules are
//! recomputed from the records and the running containers whenever either changes.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use berth_metadata::Reader;
use berth_network::firewall::{BridgeRules, FirewallDriver, Iptables, Nftables, PortRule, Proto, Ruleset};
use berth_network::{dns, ipam, link, proxy};
use ipnet::{Ipv4Net, Ipv6Net};

use super::record::ContainerRecord;
use super::{Container, Engine};
pub use berth_records::{EndpointRecord, NetworkRecord, PublishedPort, MTU_OPTION};

use crate::error::{EngineError, Result};

impl NetState {
    /// Marks an endpoint's addresses taken (running containers, after a restart).
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
        self.pools.insert(n.id.clone(), pool_of(n)?);
        if n.ipv6() {
            let subnet = ipam::parse_subnet6(&n.subnet6)?;
            let gw = (!n.gateway6.is_empty()).then(|| ipam::parse_ip6(&n.gateway6)).transpose()?;
            self.pools6.insert(n.id.clone(), ipam::Pool6::new(subnet, None, gw)?);
        }
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct NetState {
    pools: HashMap<String, ipam::Pool>,
    pools6: HashMap<String, ipam::Pool6>,
    proxies: HashMap<String, Vec<tokio::task::JoinHandle<()>>>,
    resolvers: HashMap<String, tokio::task::JoinHandle<()>>,
    ports: HashMap<String, Vec<PortRule>>,
}

pub(crate) struct Networking {
    state: Mutex<NetState>,
    /// Held from reading the state to the firewall's apply: two applies may not interleave,
    /// or the older ruleset could land last.
    apply: Mutex<()>,
    firewall: Box<dyn FirewallDriver>,
    /// The overlap warnings last logged (each is logged once while it lasts).
    told: Mutex<Vec<String>>,
    prefix: Option<String>,
}

impl Networking {
    pub(crate) fn new(prefix: Option<String>, backend: &str) -> Result<Networking> {
        if let Some(p) = &prefix {
            if p.is_empty() || p.len() > 6 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(EngineError::InvalidArgument(format!(
                    "invalid bridge-prefix {p:?}: use 1 to 6 letters or digits"
                )));
            }
        }
        let table = prefix.clone().unwrap_or_else(|| "berth".into());
        let firewall: Box<dyn FirewallDriver> = match backend {
            "nftables" => Box::new(Nftables::new(&table)),
            "iptables" => Box::new(Iptables { prefix: table }),
            other => {
                return Err(EngineError::InvalidArgument(format!(
                    "invalid firewall-backend {other:?}: use nftables or iptables"
                )))
            }
        };
        Ok(Networking {
            state: Mutex::new(NetState::default()),
            apply: Mutex::new(()),
            firewall,
            told: Mutex::new(Vec::new()),
            prefix,
        })
    }

    /// `nftables` or `iptables` (`/info`'s `FirewallBackend`).
    /// The firewall's look at the host's other firewalls, between applies.
    pub(crate) fn recheck_firewall(&self) {
        let _g = self.apply.lock().unwrap_or_else(|e| e.into_inner());
        self.firewall.recheck();
    }

    /// Of the overlap warnings `now`, those not told before (each is told once while it lasts).
    pub(crate) fn newly_told(&self, now: Vec<String>) -> Vec<String> {
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        let new = now.iter().filter(|w| !told.contains(w)).cloned().collect();
        *told = now;
        new
    }

    pub(crate) fn firewall_name(&self) -> &'static str {
        self.firewall.name()
    }

    fn lock(&self) -> MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn default_bridge(&self) -> String {
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
}

/// The host's IPv4 routes other than the default one (subnets a new network must not take).
fn host_routes() -> Vec<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    berth_network::coexist::parse_routes(&text).into_iter().map(|(_, net)| net).collect()
}

fn new_hex(n: usize) -> String {
    super::create::new_id()[..n].to_string()
}

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

impl Engine {
    /// A `network` event with Docker's attributes (`name`, `type`, and `container` for
    /// connect and disconnect).
    fn network_event(&self, action: &str, n: &NetworkRecord, container: Option<&str>) {
        let mut attrs: BTreeMap<String, String> =
            [("name".to_string(), n.name.clone()), ("type".to_string(), n.driver.clone())].into();
        if let Some(c) = container {
            attrs.insert("container".into(), c.to_string());
        }
        self.events.publish("network", action, &n.id, attrs);
    }

    /// Gives an endpoint's address back to its network's pool.
    fn release_ip(&self, ep: &EndpointRecord) {
        self.net.lock().release(ep);
    }

    /// The pools new subnets come from: `default-address-pools`, else Docker's defaults.
    fn address_pools(&self) -> Result<Vec<(Ipv4Net, u8)>> {
        let cfg = self.config();
        if cfg.default_address_pools.is_empty() {
            return Ok(ipam::default_pools());
        }
        cfg.default_address_pools
            .iter()
            .map(|p| {
                let base = ipam::parse_subnet(&p.base)?;
                if p.size < base.prefix_len() || p.size > 30 {
                    return Err(EngineError::InvalidArgument(format!(
                        "default-address-pools: size {} does not fit base {}: give a size from {} to 30",
                        p.size,
                        p.base,
                        base.prefix_len()
                    )));
                }
                Ok((base.trunc(), p.size))
            })
            .collect()
    }

    pub(crate) fn net_records(&self) -> Result<Vec<NetworkRecord>> {
        Ok(self.db.read(|tx| tx.all::<NetworkRecord>())?.into_iter().map(|(_, r)| r).collect())
    }

    /// Finds a network by name, full ID or unique ID prefix.
    pub fn network(&self, name: &str) -> Result<NetworkRecord> {
        let all = self.net_records()?;
        if let Some(n) = all.iter().find(|n| n.name == name || n.id == name) {
            return Ok(n.clone());
        }
        let mut found = all.iter().filter(|n| !name.is_empty() && n.id.starts_with(name));
        match (found.next(), found.next()) {
            (Some(n), None) => Ok(n.clone()),
            (Some(_), Some(_)) => Err(EngineError::NotFound(format!("network {name} is ambiguous"))),
            _ => Err(EngineError::NotFound(format!("network {name} not found"))),
        }
    }

    /// At open: the built-in networks exist, the bridges are up, the pools know the addresses
    /// running containers hold, and the firewall matches.
    pub(crate) fn open_networks(&self, recs: &[ContainerRecord]) -> Result<()> {
        self.db.ensure::<NetworkRecord>()?;
        let existing = self.net_records()?;
        let now = berth_shim::now_rfc3339();
        let mut all = existing.clone();
        let cfg = self.config();
        let pools = if cfg.default_address_pools.is_empty() { None } else { Some(self.address_pools()?) };
        let mut taken = host_routes();
        taken.extend(
            existing.iter().filter(|n| n.name != "bridge").filter_map(|n| n.subnet.parse::<Ipv4Net>().ok()),
        );
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if existing.iter().any(|n| n.name == name) {
                continue;
            }
            let mut n = NetworkRecord {
                id: super::create::new_id(),
                name: name.into(),
                driver: driver.into(),
                created: now.clone(),
                ..Default::default()
            };
            if name == "bridge" {
                let want = super::bridgeconf::plan(None, cfg.bip.as_deref(), pools.as_deref(), &taken)?;
                n.subnet = want.subnet.to_string();
                n.gateway = want.gateway.to_string();
                n.bridge = self.net.default_bridge();
                n.options.insert("com.docker.network.bridge.default_bridge".into(), "true".into());
                n.options.insert("com.docker.network.bridge.name".into(), n.bridge.clone());
            }
            self.db.write(|tx| tx.put(&n.id, &n))?;
            all.push(n);
        }
        if let Some(b) = all.iter_mut().find(|n| n.name == "bridge") {
            self.reconcile_default_bridge(b, recs, pools.as_deref(), &taken)?;
        }
        {
            let mut st = self.net.lock();
            for n in all.iter().filter(|n| n.driver == "bridge") {
                st.insert_pools(n)?;
            }
            for rec in recs.iter().filter(|r| r.state.status.is_live()) {
                for ep in rec.networks.values() {
                    st.reserve(ep);
                }
            }
        }
        for n in all.iter().filter(|n| n.driver == "bridge") {
            if let Err(e) = self.bring_up(n) {
                tracing::warn!(network = %n.name, error = %e, "setting up a bridge failed");
            }
        }
        if let Err(e) = self.apply_firewall() {
            tracing::warn!(error = %e, "applying the firewall failed");
        }
        for w in self.network_warnings() {
            tracing::warn!("{w}");
        }
        Ok(())
    }

    fn bring_up(&self, n: &NetworkRecord) -> Result<()> {
        let subnet: Ipv4Net =
            n.subnet.parse().map_err(|_| EngineError::Internal(format!("network {}: bad subnet", n.name)))?;
        let gw: Ipv4Addr = n
            .gateway
            .parse()
            .map_err(|_| EngineError::Internal(format!("network {}: bad gateway", n.name)))?;
        let v6 = if n.ipv6() {
            let bad = |what: &str| EngineError::Internal(format!("network {}: bad IPv6 {what}", n.name));
            let subnet6: Ipv6Net = n.subnet6.parse().map_err(|_| bad("subnet"))?;
            Some((n.gateway6.parse().map_err(|_| bad("gateway"))?, subnet6.prefix_len()))
        } else {
            None
        };
        link::ensure_bridge(&n.bridge, gw, subnet.prefix_len(), v6, n.mtu())?;
        Ok(())
    }

    /// Brings every bridge up (recreating missing ones) and rewrites the firewall (`SIGHUP`).
    pub(crate) fn reapply_networks(&self) -> Result<()> {
        let nets = self.net_records()?;
        for n in nets.iter().filter(|n| n.driver == "bridge") {
            self.bring_up(n)?;
        }
        // A bridge deleted and made again has lost its ports: running containers' veths go back.
        for c in self.containers() {
            let rec = c.snapshot();
            for ep in rec.networks.values().filter(|e| !e.host_ifname.is_empty()) {
                if let Some(n) = nets.iter().find(|n| n.id == ep.network_id && n.driver == "bridge") {
                    if let Err(e) = link::reattach(&ep.host_ifname, &n.bridge) {
                        tracing::warn!(container = %rec.id, error = %e, "putting a veth back on its bridge failed");
                    }
                }
            }
        }
        self.apply_firewall()
    }

    /// Makes the firewall match the networks and the ports of running containers.
    pub(crate) fn apply_firewall(&self) -> Result<()> {
        let _serial = self.net.apply.lock().unwrap_or_else(|e| e.into_inner());
        let bridges = self
            .net_records()?
            .into_iter()
            .filter(|n| n.driver == "bridge")
            .filter_map(|n| {
                Some(BridgeRules {
                    subnet: n.subnet.parse().ok()?,
                    subnet6: n.subnet6.parse().ok(),
                    bridge: n.bridge,
                    internal: n.internal,
                })
            })
            .collect();
        let ports = self.net.lock().ports.values().flatten().cloned().collect();
        self.net.firewall.apply(&Ruleset { bridges, ports })?;
        Ok(())
    }

    pub fn network_create(&self, req: NetworkCreate) -> Result<NetworkRecord> {
        if req.name.is_empty() {
            return Err(EngineError::InvalidArgument(
                "network name is required: give the network a name".into(),
            ));
        }
        if let Some(m) = req.options.get(MTU_OPTION) {
            if !m.parse::<u32>().is_ok_and(|m| (68..=65_535).contains(&m)) {
                return Err(EngineError::InvalidArgument(format!(
                    "invalid {MTU_OPTION} {m:?}: give an MTU from 68 to 65535"
                )));
            }
        }
        let driver = if req.driver.is_empty() { "bridge".to_string() } else { req.driver.clone() };
        if driver != "bridge" {
            return Err(EngineError::NotFound(format!(
                "could not find plugin {driver} in v1 plugin registry: plugin not found"
            )));
        }
        if !req.ipv6 && (req.subnet6.is_some() || req.gateway6.is_some()) {
            return Err(EngineError::InvalidArgument(
                "an IPv6 subnet or gateway was given for a network without IPv6: add --ipv6".into(),
            ));
        }
        let _g = self.net_create_lock.lock().unwrap_or_else(|e| e.into_inner());
        let all = self.net_records()?;
        if all.iter().any(|n| n.name == req.name) {
            return Err(EngineError::Conflict(format!("network with name {} already exists", req.name)));
        }
        let taken: Vec<Ipv4Net> = all.iter().filter_map(|n| n.subnet.parse().ok()).collect();
        let subnet = match &req.subnet {
            Some(s) => {
                let s = ipam::parse_subnet(s)?;
                if ipam::overlapping(&s, &taken) {
                    return Err(EngineError::Forbidden(
                        "invalid pool request: Pool overlaps with other one on this address space".into(),
                    ));
                }
                s
            }
            None => {
                let mut t = taken.clone();
                t.extend(host_routes());
                ipam::choose_subnet(&self.address_pools()?, &t).ok_or_else(|| {
                    EngineError::Forbidden(
                        "all predefined address pools have been fully subnetted: give the network a --subnet"
                            .into(),
                    )
                })?
            }
        };
        let range = req.ip_range.as_deref().map(ipam::parse_subnet).transpose()?;
        let gateway = req.gateway.as_deref().map(ipam::parse_ip).transpose()?;
        let pool = ipam::Pool4::new(subnet, range, gateway)?;
        let pool6 = if req.ipv6 { Some(self.new_pool6(&req, &all)?) } else { None };
        let id = super::create::new_id();
        let bridge = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| self.net.bridge_for(&id));
        if bridge.len() > 15 {
            return Err(EngineError::InvalidArgument(format!(
                "bridge name {bridge:?} is longer than 15 characters"
            )));
        }
        // Never take over an interface of the host's (removing the network deletes its bridge).
        if link::exists(&bridge) || all.iter().any(|n| n.bridge == bridge) {
            return Err(EngineError::Conflict(format!(
                "bridge name {bridge} is already in use on this host: choose another com.docker.network.bridge.name"
            )));
        }
        let n = NetworkRecord {
            id: id.clone(),
            name: req.name.clone(),
            driver,
            created: berth_shim::now_rfc3339(),
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
        self.bring_up(&n)?;
        self.db.write(|tx| tx.put(&id, &n))?;
        {
            let mut st = self.net.lock();
            st.pools.insert(id.clone(), pool);
            if let Some(p) = pool6 {
                st.pools6.insert(id.clone(), p);
            }
        }
        self.apply_firewall()?;
        self.network_event("create", &n, None);
        Ok(n)
    }

    /// A new network's IPv6 addresses: the user's subnet unless it overlaps another network's,
    /// else a `/64` of a unique local prefix the engine's ID picks (as Docker does).
    fn new_pool6(&self, req: &NetworkCreate, all: &[NetworkRecord]) -> Result<ipam::Pool6> {
        let taken: Vec<Ipv6Net> = all.iter().filter_map(|n| n.subnet6.parse().ok()).collect();
        let subnet = match &req.subnet6 {
            Some(s) => {
                let s = ipam::parse_subnet6(s)?;
                if taken.iter().any(|t| t.contains(&s) || s.contains(t)) {
                    return Err(EngineError::Forbidden(
                        "invalid pool request: Pool overlaps with other one on this address space".into(),
                    ));
                }
                s
            }
            None => ipam::choose_subnet6(self.daemon_id().as_bytes(), &taken).ok_or_else(|| {
                EngineError::Forbidden("no free IPv6 subnet left: give the network an IPv6 --subnet".into())
            })?,
        };
        let gateway = req.gateway6.as_deref().map(ipam::parse_ip6).transpose()?;
        Ok(ipam::Pool6::new(subnet, None, gateway)?)
    }

    /// The containers attached to a network (recorded endpoints), with their endpoints.
    pub fn network_users(&self, id: &str) -> Vec<(ContainerRecord, EndpointRecord)> {
        self.containers()
            .iter()
            .filter_map(|c| {
                let rec = c.snapshot();
                let ep = rec.networks.values().find(|e| e.network_id == id).cloned()?;
                Some((rec, ep))
            })
            .collect()
    }

    pub fn network_remove(&self, name: &str) -> Result<()> {
        let n = self.network(name)?;
        if n.builtin() {
            return Err(EngineError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if !self.network_users(&n.id).is_empty() {
            return Err(EngineError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        self.db.write(|tx| tx.delete::<NetworkRecord>(&n.id))?;
        {
            let mut st = self.net.lock();
            st.pools.remove(&n.id);
            st.pools6.remove(&n.id);
        }
        link::delete_link(&n.bridge)?;
        self.apply_firewall()?;
        self.network_event("destroy", &n, None);
        Ok(())
    }

    /// A network as the API shows it, with the containers on it that run.
    pub fn network_view(&self, n: &NetworkRecord) -> berth_api::shape::NetworkView {
        let containers = self
            .network_users(&n.id)
            .into_iter()
            .filter(|(r, e)| r.state.status.is_live() && !e.ip.is_empty())
            .map(|(r, e)| {
                (
                    r.id.clone(),
                    r.name.clone(),
                    e.endpoint_id.clone(),
                    e.mac.clone(),
                    format!("{}/{}", e.ip, e.prefix),
                    if e.ip6.is_empty() { String::new() } else { format!("{}/{}", e.ip6, e.prefix6) },
                )
            })
            .collect();
        berth_api::shape::NetworkView {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            driver: n.driver.clone(),
            subnet: n.subnet.clone(),
            gateway: n.gateway.clone(),
            ip_range: n.ip_range.clone(),
            ipv6: n.ipv6(),
            subnet6: n.subnet6.clone(),
            gateway6: n.gateway6.clone(),
            internal: n.internal,
            attachable: n.attachable,
            options: n.options.clone(),
            labels: n.labels.clone(),
            containers,
        }
    }

    /// `GET /networks` with Docker's filters: `name`, `id`, `driver`, `label`, `type`
    /// (`custom`, `builtin`), `dangling`.
    pub fn network_list(&self, f: &berth_api::Filters) -> Result<Vec<berth_api::shape::NetworkView>> {
        f.validate(&["name", "id", "driver", "label", "type", "dangling"])?;
        let dangling = f.bool_value("dangling")?;
        let mut out = Vec::new();
        for n in self.net_records()? {
            let kind = if n.builtin() { "builtin" } else { "custom" };
            if !f.any("name", |v| n.name.contains(v))
                || !f.any("id", |v| n.id.starts_with(v))
                || !f.any("driver", |v| n.driver == v)
                || !f.any("type", |v| v == kind)
                || !f.match_labels("label", |k| n.labels.get(k).map(String::as_str))
            {
                continue;
            }
            if dangling.is_some_and(|d| d != (!n.builtin() && self.network_users(&n.id).is_empty())) {
                continue;
            }
            out.push(self.network_view(&n));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes the user-defined networks no container uses (made before `until`, with the
    /// labels asked for).
    pub fn network_prune(&self, f: &berth_api::Filters) -> Result<Vec<String>> {
        f.validate(&["label", "label!", "until"])?;
        let until = f.timestamp("until", chrono::Utc::now())?;
        let mut out = Vec::new();
        for n in self.net_records()? {
            if n.builtin() || !self.network_users(&n.id).is_empty() {
                continue;
            }
            // Only networks made before `until`.
            if until.is_some_and(|u| berth_api::time::nanos_of(&n.created) >= u) {
                continue;
            }
            if !f.match_prune_labels(|k| n.labels.get(k).map(String::as_str)) {
                continue;
            }
            if self.network_remove(&n.id).is_ok() {
                out.push(n.name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The endpoints a new container asks for: its network mode's network (with the
    /// request's endpoint settings), or none for `host`, `none` and `container:`.
    pub(crate) fn plan_endpoints(
        &self,
        hc: &berth_records::HostConfig,
        nc: Option<&berth_api::models::NetworkingConfig>,
    ) -> Result<BTreeMap<String, EndpointRecord>> {
        let mode = hc.network_mode.clone().unwrap_or_default();
        let mut out = BTreeMap::new();
        if matches!(mode.as_str(), "host" | "none") || mode.starts_with("container:") {
            return Ok(out);
        }
        let wanted = if mode.is_empty() || mode == "default" { "bridge" } else { &mode };
        let n = match self.network(wanted) {
            Ok(n) => n,
            // As on Docker, a missing network is an error of the start, not of the create.
            Err(EngineError::NotFound(_)) => {
                out.insert(wanted.to_string(), EndpointRecord::default());
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        if n.driver != "bridge" {
            return Ok(out);
        }
        let cfg = nc
            .and_then(|c| c.endpoints_config.as_ref())
            .and_then(|m| m.get(&mode).or_else(|| m.get(&n.name)).or_else(|| m.get(&n.id)))
            .cloned()
            .unwrap_or_default();
        out.insert(n.name.clone(), self.endpoint_request(&n, &cfg)?);
        Ok(out)
    }

    fn endpoint_request(
        &self,
        n: &NetworkRecord,
        cfg: &berth_api::models::EndpointSettings,
    ) -> Result<EndpointRecord> {
        let aliases = cfg.aliases.clone().unwrap_or_default();
        let ip = cfg.ipam_config.as_ref().and_then(|i| i.ipv4_address.clone()).unwrap_or_default();
        let ip6 = cfg.ipam_config.as_ref().and_then(|i| i.ipv6_address.clone()).unwrap_or_default();
        if n.name == "bridge" && !aliases.is_empty() {
            return Err(EngineError::InvalidArgument(
                "network-scoped alias is supported only for containers in user defined networks".into(),
            ));
        }
        if !ip.is_empty() {
            if !n.user_subnet {
                return Err(EngineError::InvalidArgument(
                    "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
                ));
            }
            ipam::parse_ip(&ip)?;
        }
        if !ip6.is_empty() {
            if !n.ipv6() {
                return Err(EngineError::InvalidArgument(format!(
                    "network {} has no IPv6: --ip6 needs a network created with --ipv6",
                    n.name
                )));
            }
            ipam::parse_ip6(&ip6)?;
        }
        Ok(EndpointRecord {
            network_id: n.id.clone(),
            aliases,
            ipv4_requested: ip,
            ipv6_requested: ip6,
            ..Default::default()
        })
    }

    /// `--add-host name:host-gateway`: the default bridge's gateway, as on Docker.
    pub(crate) fn host_gateway(&self) -> String {
        self.network("bridge").map(|n| n.gateway).unwrap_or_default()
    }

    fn netns_path(&self, id: &str) -> PathBuf {
        self.config().exec_root.join("netns").join(&id[..12])
    }

    /// At start: the container's namespace, its endpoints, ports and resolver. Returns the
    /// namespace's path for the spec (`None`: the container has no bridge networks).
    pub(crate) fn setup_networking(self: &Arc<Self>, c: &Arc<Container>) -> Result<Option<PathBuf>> {
        let rec = c.snapshot();
        if rec.networks.is_empty() {
            return Ok(None);
        }
        let ns = self.netns_path(&rec.id);
        let t0 = std::time::Instant::now();
        link::remove_netns(&ns);
        link::create_netns(&ns)?;
        let t1 = t0.elapsed();
        let result = self.attach_all(c, &ns);
        if let Err(e) = result {
            self.teardown_networking(c);
            return Err(e);
        }
        tracing::debug!(id = %rec.id, netns = ?t1, attached = ?t0.elapsed(), "network timings");
        Ok(Some(ns))
    }

    pub(crate) fn ordered_endpoints(rec: &ContainerRecord) -> Vec<String> {
        let mode = rec.host_config.network_mode.clone().unwrap_or_default();
        let mut names: Vec<String> = rec.networks.keys().cloned().collect();
        names.sort_by_key(|n| (*n != mode && !(mode == "default" && n == "bridge"), n.clone()));
        names
    }

    fn attach_all(self: &Arc<Self>, c: &Arc<Container>, ns: &std::path::Path) -> Result<()> {
        let rec = c.snapshot();
        for (i, name) in Self::ordered_endpoints(&rec).iter().enumerate() {
            self.attach_one(c, ns, name, i)?;
        }
        self.publish_ports(c)?;
        self.start_resolver(c, ns)?;
        if c.rec().ports.is_empty() {
            return Ok(());
        }
        self.apply_firewall()
    }

    /// Connects the running (or starting) container to the network `name` as `eth<i>`.
    fn attach_one(&self, c: &Arc<Container>, ns: &std::path::Path, name: &str, i: usize) -> Result<()> {
        let rec = c.snapshot();
        let Some(ep) = rec.networks.get(name).cloned() else { return Ok(()) };
        let n = self.network(if ep.network_id.is_empty() { name } else { &ep.network_id })?;
        let want =
            (!ep.ipv4_requested.is_empty()).then(|| ep.ipv4_requested.parse()).transpose().ok().flatten();
        let (ip, gateway, prefix) = {
            let mut st = self.net.lock();
            let pool = st
                .pools
                .get_mut(&n.id)
                .ok_or_else(|| EngineError::NotFound(format!("network {name} not found")))?;
            (pool.allocate(want)?, pool.gateway, pool.subnet.prefix_len())
        };
        let v6 = if n.ipv6() {
            let want6: Option<Ipv6Addr> = ep.ipv6_requested.parse().ok();
            let mut st = self.net.lock();
            let got = match st.pools6.get_mut(&n.id) {
                Some(p) => p.allocate(want6).map(|a| (a, p.subnet.prefix_len(), p.gateway)),
                None => {
                    Err(berth_network::NetworkError::NotFound(format!("network {name} has no IPv6 pool")))
                }
            };
            match got {
                Ok(v) => Some(v),
                Err(e) => {
                    if let Some(p) = st.pools.get_mut(&n.id) {
                        p.release(ip);
                    }
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        let mac = ipam::mac_for(ip);
        let spec = link::EndpointSpec {
            bridge: n.bridge.clone(),
            host_ifname: format!("veth{}", new_hex(7)),
            ifname: format!("eth{i}"),
            ip,
            prefix,
            gateway,
            mac,
            v6,
            // An internal network has no way out, not even a default route.
            default_route: i == 0 && !n.internal,
            mtu: n.mtu(),
        };
        // The bridge is brought up at open and at create; recreated here only if it went away.
        let up = if link::exists(&n.bridge) { Ok(()) } else { self.bring_up(&n) };
        let attached = up.and_then(|()| link::attach(ns, &spec).map_err(EngineError::from));
        if let Err(e) = attached {
            let mut st = self.net.lock();
            if let Some(p) = st.pools.get_mut(&n.id) {
                p.release(ip);
            }
            if let (Some(p), Some((ip6, _, _))) = (st.pools6.get_mut(&n.id), v6) {
                p.release(ip6);
            }
            return Err(e);
        }
        self.update(c, |r| {
            if let Some(e) = r.networks.get_mut(name) {
                e.ip = ip.to_string();
                e.prefix = prefix;
                e.gateway = gateway.to_string();
                e.mac = ipam::mac_text(&mac);
                e.endpoint_id = super::create::new_id();
                e.ifname = spec.ifname.clone();
                e.host_ifname = spec.host_ifname.clone();
                if let Some((ip6, prefix6, gw6)) = v6 {
                    e.ip6 = ip6.to_string();
                    e.prefix6 = prefix6;
                    e.gateway6 = gw6.to_string();
                }
            }
        })?;
        Ok(())
    }

    /// The ports of `-p` and `-P`, bound on the host and relayed to the container's address on
    /// its first network.
    fn publish_ports(&self, c: &Arc<Container>) -> Result<()> {
        let rec = c.snapshot();
        let Some(first) = Self::ordered_endpoints(&rec).first().and_then(|n| rec.networks.get(n)).cloned()
        else {
            return Ok(());
        };
        let Ok(cip) = first.ip.parse::<Ipv4Addr>() else { return Ok(()) };
        let bridge = self.network(&first.network_id)?.bridge;
        let mut wanted: Vec<(String, String, String)> = Vec::new();
        for (port, bindings) in rec.host_config.port_bindings.clone().unwrap_or_default() {
            for b in bindings.unwrap_or_default() {
                wanted.push((port.clone(), b.host_ip.unwrap_or_default(), b.host_port.unwrap_or_default()));
            }
        }
        if rec.host_config.publish_all_ports == Some(true) {
            for port in rec.config.exposed_ports.clone().unwrap_or_default() {
                if !wanted.iter().any(|(p, _, _)| *p == port) {
                    wanted.push((port, String::new(), String::new()));
                }
            }
        }
        let mut published = Vec::new();
        let mut rules = Vec::new();
        let mut tasks = Vec::new();
        let result = (|| -> Result<()> {
            for (port, host_ip, host_port) in &wanted {
                let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                let cport: u16 =
                    num.parse().map_err(|_| EngineError::InvalidArgument(format!("invalid port {port}")))?;
                let proto = if proto == "udp" { Proto::Udp } else { Proto::Tcp };
                let hip = if host_ip.is_empty() || host_ip == "0.0.0.0" {
                    None
                } else {
                    Some(ipam::parse_ip(host_ip)?)
                };
                let hport: u16 = if host_port.is_empty() {
                    0
                } else {
                    host_port
                        .parse()
                        .map_err(|_| EngineError::InvalidArgument(format!("invalid host port {host_port}")))?
                };
                let reserved = proxy::reserve(proto, hip, hport).map_err(|e| {
                    if hport != 0 && self.port_taken(proto, hport) {
                        EngineError::Conflict(format!(
                            "driver failed programming external connectivity on endpoint {}: Bind for {}:{hport} failed: port is already allocated",
                            rec.name,
                            hip.unwrap_or(Ipv4Addr::UNSPECIFIED)
                        ))
                    } else {
                        e.into()
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
                    bridge: bridge.clone(),
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
        {
            let mut st = self.net.lock();
            st.proxies.insert(rec.id.clone(), tasks);
            st.ports.insert(rec.id.clone(), rules);
        }
        self.update(c, |r| r.ports = published)?;
        Ok(())
    }

    fn port_taken(&self, proto: Proto, port: u16) -> bool {
        self.net.lock().ports.values().flatten().any(|r| r.proto == proto && r.host_port == port)
    }

    /// The resolver at 127.0.0.11 for a container on user-defined networks.
    fn start_resolver(self: &Arc<Self>, c: &Arc<Container>, ns: &std::path::Path) -> Result<()> {
        let rec = c.snapshot();
        if !rec.networks.keys().any(|n| n != "bridge") || self.net.lock().resolvers.contains_key(&rec.id) {
            return Ok(());
        }
        let sock = link::in_netns(ns, || {
            let s = std::net::UdpSocket::bind("127.0.0.11:53")?;
            s.set_nonblocking(true)?;
            Ok(s)
        })?;
        let sock =
            tokio::net::UdpSocket::from_std(sock).map_err(|e| EngineError::internal("resolver socket", e))?;
        let weak: Weak<Engine> = Arc::downgrade(self);
        let id = rec.id.clone();
        // Several containers under one name: each answer starts one further along (round robin).
        let turn = std::sync::atomic::AtomicUsize::new(0);
        let lookup: dns::Lookup = Arc::new(move |name: &str| {
            let mut ips = weak.upgrade()?.resolve(&id, name)?;
            let n = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let len = ips.len();
            ips.rotate_left(n % len);
            Some(ips)
        });
        let upstreams = dns::upstreams(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
        let task = tokio::spawn(dns::serve(sock, lookup, upstreams));
        if let Some(old) = self.net.lock().resolvers.insert(rec.id.clone(), task) {
            old.abort();
        }
        Ok(())
    }

    /// Addresses of `name` on the user-defined networks container `id` is on: container names,
    /// aliases and short IDs of the running containers there.
    fn resolve(&self, id: &str, name: &str) -> Option<Vec<IpAddr>> {
        let me = self.container(id).ok()?.snapshot();
        let nets: Vec<String> =
            me.networks.iter().filter(|(n, _)| *n != "bridge").map(|(_, e)| e.network_id.clone()).collect();
        let mut out = Vec::new();
        for c in self.containers() {
            let rec = c.snapshot();
            if !rec.state.status.is_live() {
                continue;
            }
            for ep in rec.networks.values().filter(|e| nets.contains(&e.network_id)) {
                let matches = rec.name.eq_ignore_ascii_case(name)
                    || rec.id[..12].eq_ignore_ascii_case(name)
                    || ep.aliases.iter().any(|a| a.eq_ignore_ascii_case(name));
                if matches {
                    out.extend(ep.ip.parse::<IpAddr>().ok());
                    out.extend(ep.ip6.parse::<IpAddr>().ok());
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// At stop: ports, resolver, addresses and the namespace (its veths go with it).
    pub(crate) fn teardown_networking(&self, c: &Container) {
        let rec = c.snapshot();
        if rec.networks.is_empty() {
            return;
        }
        let had_ports = {
            let mut st = self.net.lock();
            for t in st.proxies.remove(&rec.id).unwrap_or_default() {
                t.abort();
            }
            if let Some(t) = st.resolvers.remove(&rec.id) {
                t.abort();
            }
            for ep in rec.networks.values() {
                st.release(ep);
            }
            st.ports.remove(&rec.id).is_some_and(|p| !p.is_empty())
        };
        // The namespace goes when its last user does (the container has exited, the resolver's
        // socket closes with its task), and its veths with it: the kernel tears them down in
        // the background, where deleting each one here would wait ~20 ms for an RCU grace.
        link::remove_netns(&self.netns_path(&rec.id));
        if had_ports {
            if let Err(e) = self.apply_firewall() {
                tracing::warn!(error = %e, "applying the firewall failed");
            }
        }
        // In memory only: every caller writes the record next (the exit, a failed start's
        // error, a removal), and a crash before that leaves a record restore corrects.
        {
            let mut r = c.rec();
            r.ports.clear();
            for e in r.networks.values_mut() {
                *e = EndpointRecord {
                    network_id: std::mem::take(&mut e.network_id),
                    aliases: std::mem::take(&mut e.aliases),
                    ipv4_requested: std::mem::take(&mut e.ipv4_requested),
                    ipv6_requested: std::mem::take(&mut e.ipv6_requested),
                    ..Default::default()
                };
            }
        }
    }

    /// After a restart: a running container's ports and resolver are served again.
    pub(crate) fn restore_networking(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        if rec.networks.is_empty() {
            return;
        }
        let ns = self.netns_path(&rec.id);
        {
            let mut st = self.net.lock();
            for ep in rec.networks.values() {
                st.reserve(ep);
            }
        }
        let ports = rec.ports.clone();
        let first = Self::ordered_endpoints(&rec).first().and_then(|n| rec.networks.get(n)).cloned();
        if let (Some(ep), false) = (first, ports.is_empty()) {
            let bridge = self.network(&ep.network_id).map(|n| n.bridge).unwrap_or_default();
            if let Ok(cip) = ep.ip.parse::<Ipv4Addr>() {
                let mut tasks = Vec::new();
                let mut rules = Vec::new();
                for p in &ports {
                    let proto = if p.proto == "udp" { Proto::Udp } else { Proto::Tcp };
                    let hip = p.host_ip.parse().ok().filter(|ip: &Ipv4Addr| !ip.is_unspecified());
                    match proxy::reserve(proto, hip, p.host_port) {
                        Ok(r) => tasks.push(proxy::spawn(r, SocketAddr::from((cip, p.container_port)))),
                        Err(e) => {
                            tracing::warn!(id = %rec.id, error = %e, "re-binding a published port failed")
                        }
                    }
                    rules.push(PortRule {
                        proto,
                        host_ip: hip,
                        host_port: p.host_port,
                        container_ip: cip,
                        container_port: p.container_port,
                        bridge: bridge.clone(),
                    });
                }
                let mut st = self.net.lock();
                st.proxies.insert(rec.id.clone(), tasks);
                st.ports.insert(rec.id.clone(), rules);
            }
        }
        if let Err(e) = self.start_resolver(c, &ns) {
            tracing::warn!(id = %rec.id, error = %e, "restarting the resolver failed");
        }
    }

    /// `network connect`: records the endpoint, and attaches it now when the container runs.
    pub fn network_connect(
        self: &Arc<Self>,
        name: &str,
        container: &str,
        cfg: berth_api::models::EndpointSettings,
    ) -> Result<()> {
        let n = self.network(name)?;
        let c = self.container(container)?;
        let rec = c.snapshot();
        let mode = rec.host_config.network_mode.clone().unwrap_or_default();
        if n.driver != "bridge" || matches!(mode.as_str(), "host" | "none") || mode.starts_with("container:")
        {
            return Err(EngineError::Forbidden(
                "container cannot be disconnected from host network or connected to host network".into(),
            ));
        }
        if rec.networks.values().any(|e| e.network_id == n.id) {
            return Err(EngineError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                rec.name, n.name
            )));
        }
        let ep = self.endpoint_request(&n, &cfg)?;
        self.update(&c, |r| {
            r.networks.insert(n.name.clone(), ep);
        })?;
        if rec.state.status.is_live() {
            let ns = self.netns_path(&rec.id);
            let i =
                (0..).find(|k| !rec.networks.values().any(|e| e.ifname == format!("eth{k}"))).unwrap_or(0);
            let attached = self.attach_one(&c, &ns, &n.name, i).and_then(|()| self.start_resolver(&c, &ns));
            if let Err(e) = attached {
                if let Some(ep) = c.snapshot().networks.get(&n.name).filter(|e| !e.ifname.is_empty()) {
                    let _ = link::detach(&ns, &ep.ifname);
                    self.release_ip(ep);
                }
                let _ = self.update(&c, |r| {
                    r.networks.remove(&n.name);
                });
                return Err(e);
            }
            let now = c.snapshot();
            self.write_hosts(&now)?;
            self.write_resolv(&now)?;
        }
        self.network_event("connect", &n, Some(&rec.id));
        Ok(())
    }

    /// `network disconnect`.
    pub fn network_disconnect(&self, name: &str, container: &str) -> Result<()> {
        let n = self.network(name)?;
        let c = self.container(container)?;
        let rec = c.snapshot();
        let Some((key, ep)) =
            rec.networks.iter().find(|(_, e)| e.network_id == n.id).map(|(k, e)| (k.clone(), e.clone()))
        else {
            return Err(EngineError::Forbidden(format!(
                "container {} is not connected to network {}",
                rec.id, n.name
            )));
        };
        if rec.state.status.is_live() && !ep.ifname.is_empty() {
            link::detach(&self.netns_path(&rec.id), &ep.ifname)?;
            self.release_ip(&ep);
        }
        self.update(&c, |r| {
            r.networks.remove(&key);
        })?;
        self.network_event("disconnect", &n, Some(&rec.id));
        Ok(())
    }
}

impl Engine {
    /// `NetworkSettings.Networks` of a container: its endpoints, or the `host`/`none` network.
    pub(crate) fn endpoint_views(&self, rec: &ContainerRecord) -> Vec<berth_api::shape::Endpoint> {
        if rec.networks.is_empty() {
            let mode = rec.host_config.network_mode.clone().unwrap_or_default();
            if mode.is_empty() || mode.starts_with("container:") {
                return Vec::new();
            }
            let id = self.network(&mode).map(|n| n.id).unwrap_or_default();
            return vec![berth_api::shape::Endpoint { network: mode, network_id: id, ..Default::default() }];
        }
        rec.networks
            .iter()
            .map(|(name, ep)| {
                let dns_names = if name == "bridge" {
                    Vec::new()
                } else {
                    std::iter::once(rec.name.clone())
                        .chain(ep.aliases.iter().cloned())
                        .chain(std::iter::once(rec.id[..12].to_string()))
                        .collect()
                };
                berth_api::shape::Endpoint {
                    network: name.clone(),
                    network_id: ep.network_id.clone(),
                    endpoint_id: ep.endpoint_id.clone(),
                    gateway: ep.gateway.clone(),
                    ip_address: ep.ip.clone(),
                    ip_prefix_len: if ep.ip.is_empty() { 0 } else { ep.prefix as i64 },
                    mac_address: ep.mac.clone(),
                    aliases: ep.aliases.clone(),
                    ipv4_requested: ep.ipv4_requested.clone(),
                    ipv6_requested: ep.ipv6_requested.clone(),
                    ipv6: ep.ip6.clone(),
                    ipv6_prefix_len: if ep.ip6.is_empty() { 0 } else { ep.prefix6 as i64 },
                    ipv6_gateway: ep.gateway6.clone(),
                    dns_names,
                }
            })
            .collect()
    }

    /// Exposed and published ports, while the container runs.
    pub(crate) fn port_views(&self, rec: &ContainerRecord) -> Vec<berth_api::shape::PortView> {
        use berth_api::shape::PortView;
        if !rec.state.status.is_live() {
            return Vec::new();
        }
        let mut out: Vec<PortView> = rec
            .ports
            .iter()
            .map(|p| PortView {
                private: p.container_port,
                proto: p.proto.clone(),
                host: Some((p.host_ip.clone(), p.host_port)),
            })
            .collect();
        for port in rec.config.exposed_ports.clone().unwrap_or_default() {
            let (num, proto) = port.split_once('/').unwrap_or((&port, "tcp"));
            let Ok(private) = num.parse() else { continue };
            if !out.iter().any(|p| p.private == private && p.proto == proto) {
                out.push(PortView { private, proto: proto.into(), host: None });
            }
        }
        out.sort();
        out
    }

    pub(crate) fn sandbox_key(&self, rec: &ContainerRecord) -> String {
        if !rec.state.status.is_live() {
            return String::new();
        }
        if rec.networks.is_empty() {
            return if rec.state.pid > 0 { format!("/proc/{}/ns/net", rec.state.pid) } else { String::new() };
        }
        self.netns_path(&rec.id).display().to_string()
    }
}

fn pool_of(n: &NetworkRecord) -> Result<ipam::Pool> {
    let subnet = ipam::parse_subnet(&n.subnet)?;
    let range = (!n.ip_range.is_empty()).then(|| ipam::parse_subnet(&n.ip_range)).transpose()?;
    let gw = (!n.gateway.is_empty()).then(|| ipam::parse_ip(&n.gateway)).transpose()?;
    Ok(ipam::Pool4::new(subnet, range, gw)?)
}
