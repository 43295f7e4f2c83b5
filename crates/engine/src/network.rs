//! Networks from the containers' side: the built-in `bridge`, `host` and `none` made at open,
//! user-defined networks created and removed (with Docker's events), and what a container's
//! start and stop do with its networks. A container on networks with endpoints gets a network
//! namespace of its own (a bind-mounted file under `<exec-root>/netns/`), an endpoint per
//! network (`berth_network`'s manager and the network's driver), published ports, and on
//! user-defined networks the embedded DNS resolver at `127.0.0.11`, answering with the
//! containers the engine knows there.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use berth_network::manager::{EndpointRequest, PortRequest};
use berth_network::{dns, ipam, link};
use ipnet::Ipv4Net;

use super::record::ContainerRecord;
use super::{Container, Engine};
pub use berth_network::manager::NetworkCreate;
pub use berth_records::{EndpointRecord, NetworkRecord, PublishedPort, MTU_OPTION};

use crate::error::{EngineError, Result};
use berth_api::Kinded;

/// The host's IPv4 routes other than the default one (subnets a new network must not take).
fn host_routes() -> Vec<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    berth_network::coexist::parse_routes(&text).into_iter().map(|(_, net)| net).collect()
}

/// A request's endpoint settings as the network manager takes them.
fn endpoint_request(cfg: &berth_api::models::EndpointSettings) -> EndpointRequest {
    EndpointRequest {
        aliases: cfg.aliases.clone().unwrap_or_default(),
        ip: cfg.ipam_config.as_ref().and_then(|i| i.ipv4_address.clone()).unwrap_or_default(),
        ip6: cfg.ipam_config.as_ref().and_then(|i| i.ipv6_address.clone()).unwrap_or_default(),
    }
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
        Ok(self.net.records()?)
    }

    /// Finds a network by name, full ID or unique ID prefix.
    pub fn network(&self, name: &str) -> Result<NetworkRecord> {
        Ok(self.net.get(name)?)
    }

    /// The endpoints of running containers (their addresses are taken).
    fn live_endpoints(recs: &[ContainerRecord]) -> Vec<EndpointRecord> {
        recs.iter().filter(|r| r.state.status.is_live()).flat_map(|r| r.networks.values().cloned()).collect()
    }

    /// At open: the built-in networks exist, the default bridge follows the configuration, the
    /// networks are set up, the pools know the addresses running containers hold, and the
    /// firewall matches.
    pub(crate) fn open_networks(&self, recs: &[ContainerRecord]) -> Result<()> {
        let existing = self.net_records()?;
        let now = berth_shim::now_rfc3339();
        let cfg = self.config();
        let pools = if cfg.default_address_pools.is_empty() { None } else { Some(self.address_pools()?) };
        let mut taken = host_routes();
        taken.extend(
            existing.iter().filter(|n| n.name != "bridge").filter_map(|n| n.subnet.parse::<Ipv4Net>().ok()),
        );
        let mut bridge = existing.iter().find(|n| n.name == "bridge").cloned();
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if existing.iter().any(|n| n.name == name) {
                continue;
            }
            let mut n = NetworkRecord {
                id: berth_sys::new_id(),
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
                bridge = Some(n.clone());
            }
            self.net.put(&n)?;
        }
        if let Some(mut b) = bridge {
            self.reconcile_default_bridge(&mut b, recs, pools.as_deref(), &taken)?;
        }
        self.net.open(&Self::live_endpoints(recs))?;
        for w in self.network_warnings() {
            tracing::warn!("{w}");
        }
        Ok(())
    }

    /// Sets every network up again (recreating missing bridges), puts running containers'
    /// endpoints back, and rewrites the firewall (`SIGHUP`).
    pub(crate) fn reapply_networks(&self) -> Result<()> {
        let recs: Vec<ContainerRecord> = self.containers().iter().map(|c| c.snapshot()).collect();
        Ok(self.net.reapply(&Self::live_endpoints(&recs))?)
    }

    /// Makes the firewall match the networks and the ports of running containers.
    pub(crate) fn apply_firewall(&self) -> Result<()> {
        Ok(self.net.apply_firewall()?)
    }

    pub fn network_create(&self, req: NetworkCreate) -> Result<NetworkRecord> {
        let n = self.net.create(req, &self.address_pools()?, &host_routes(), self.daemon_id().as_bytes())?;
        self.network_event("create", &n, None);
        Ok(n)
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
        if !n.builtin() && !self.network_users(&n.id).is_empty() {
            return Err(EngineError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        self.net.remove(&n)?;
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
            Err(e) if e.kind() == berth_api::ErrorKind::NotFound => {
                out.insert(wanted.to_string(), EndpointRecord::default());
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        if !self.net.has_endpoints(&n) {
            return Ok(out);
        }
        let cfg = nc
            .and_then(|c| c.endpoints_config.as_ref())
            .and_then(|m| m.get(&mode).or_else(|| m.get(&n.name)).or_else(|| m.get(&n.id)))
            .cloned()
            .unwrap_or_default();
        out.insert(n.name.clone(), self.net.endpoint(&n, endpoint_request(&cfg))?);
        Ok(out)
    }

    /// `--add-host name:host-gateway`: the default bridge's gateway, as on Docker.
    pub(crate) fn host_gateway(&self) -> String {
        self.network("bridge").map(|n| n.gateway).unwrap_or_default()
    }

    fn netns_path(&self, id: &str) -> PathBuf {
        self.net.netns_path(id)
    }

    /// At start: the container's namespace, its endpoints, ports and resolver. Returns the
    /// namespace's path for the spec (`None`: the container has no networks with endpoints).
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
        let attached = self.net.attach(ns, &n, &ep, i)?;
        self.update(c, |r| {
            if let Some(e) = r.networks.get_mut(name) {
                *e = attached;
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
        let n = self.network(&first.network_id)?;
        let mut wanted: Vec<PortRequest> = Vec::new();
        for (port, bindings) in rec.host_config.port_bindings.clone().unwrap_or_default() {
            for b in bindings.unwrap_or_default() {
                wanted.push(PortRequest {
                    port: port.clone(),
                    host_ip: b.host_ip.unwrap_or_default(),
                    host_port: b.host_port.unwrap_or_default(),
                });
            }
        }
        if rec.host_config.publish_all_ports == Some(true) {
            for port in rec.config.exposed_ports.clone().unwrap_or_default() {
                if !wanted.iter().any(|w| w.port == port) {
                    wanted.push(PortRequest { port, host_ip: String::new(), host_port: String::new() });
                }
            }
        }
        let published = self.net.publish(&rec.id, &rec.name, &n, cip, &wanted)?;
        self.update(c, |r| r.ports = published)?;
        Ok(())
    }

    /// The resolver at 127.0.0.11 for a container on user-defined networks.
    fn start_resolver(self: &Arc<Self>, c: &Arc<Container>, ns: &std::path::Path) -> Result<()> {
        let rec = c.snapshot();
        if !rec.networks.keys().any(|n| n != "bridge") || self.net.has_resolver(&rec.id) {
            return Ok(());
        }
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
        Ok(self.net.serve_dns(&rec.id, ns, lookup)?)
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
        let had_ports = self.net.release_container(&rec.id, rec.networks.values());
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

    /// After a restart: a running container's addresses taken, its ports and resolver served
    /// again.
    pub(crate) fn restore_networking(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        if rec.networks.is_empty() {
            return;
        }
        for ep in rec.networks.values() {
            self.net.reserve(ep);
        }
        let first = Self::ordered_endpoints(&rec).first().and_then(|n| rec.networks.get(n)).cloned();
        if let (Some(ep), false) = (first, rec.ports.is_empty()) {
            if let (Ok(n), Ok(cip)) = (self.network(&ep.network_id), ep.ip.parse::<Ipv4Addr>()) {
                self.net.republish(&rec.id, &n, cip, &rec.ports);
            }
        }
        if let Err(e) = self.start_resolver(c, &self.netns_path(&rec.id)) {
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
        if !self.net.has_endpoints(&n)
            || matches!(mode.as_str(), "host" | "none")
            || mode.starts_with("container:")
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
        let ep = self.net.endpoint(&n, endpoint_request(&cfg))?;
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
                    let _ = self.net.detach(&ns, &n, ep);
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
            self.net.detach(&self.netns_path(&rec.id), &n, &ep)?;
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
