//! The daemon's networks against the host and its configuration: the default bridge made to
//! follow `bip`, `default-address-pools` and `mtu` at every start, and the looks at the host's
//! other firewalls and routes (an engine beside berth, a subnet routed elsewhere) that
//! `berth_network::coexist` decides on.

use ipnet::Ipv4Net;

use super::bridgeconf;
use super::network::{NetworkRecord, MTU_OPTION};
use super::record::ContainerRecord;
use super::Engine;
use crate::error::Result;

/// The default bridge's MTU when `mtu` is not configured (Docker shows it so).
const DEFAULT_MTU: u32 = 1500;

impl Engine {
    /// Applies a changed `bip`, `default-address-pools` or `mtu` to the default bridge, as
    /// Docker does at its next start; while containers run on it (a live restore) its subnet
    /// stays, with a warning, until they have stopped.
    pub(crate) fn reconcile_default_bridge(
        &self,
        b: &mut NetworkRecord,
        recs: &[ContainerRecord],
        pools: Option<&[(Ipv4Net, u8)]>,
        taken: &[Ipv4Net],
    ) -> Result<()> {
        let cfg = self.config();
        let current = match (b.subnet.parse(), b.gateway.parse()) {
            (Ok(subnet), Ok(gateway)) => Some(bridgeconf::Addressing { subnet, gateway }),
            _ => None,
        };
        let want = bridgeconf::plan(current, cfg.bip.as_deref(), pools, taken)?;
        let mut changed = false;
        if Some(want) != current {
            let in_use = recs.iter().any(|r| r.state.status.is_live() && r.networks.contains_key("bridge"));
            if in_use {
                tracing::warn!(
                    now = %b.subnet,
                    configured = %want.subnet,
                    "the default bridge keeps its subnet while containers run on it; the configured one applies once they have stopped"
                );
            } else {
                tracing::info!(from = %b.subnet, to = %want.subnet, gateway = %want.gateway, "the default bridge follows the configuration");
                b.subnet = want.subnet.to_string();
                b.gateway = want.gateway.to_string();
                changed = true;
            }
        }
        let mtu = cfg.mtu.unwrap_or(DEFAULT_MTU).to_string();
        if b.options.get(MTU_OPTION) != Some(&mtu) {
            b.options.insert(MTU_OPTION.into(), mtu);
            changed = true;
        }
        if changed {
            self.net.put(b)?;
        }
        Ok(())
    }

    /// Looks at the host's other firewalls again (see `berth_network::coexist`), and warns
    /// once of each new overlap of berth's subnets with another interface's.
    pub(crate) fn recheck_firewall(&self) {
        self.net.recheck_firewall();
        for w in self.net.newly_told(self.network_warnings()) {
            tracing::warn!("{w}");
        }
    }

    /// Overlaps of berth's bridges' subnets with routes to other interfaces (`info`'s warnings).
    pub(crate) fn network_warnings(&self) -> Vec<String> {
        let ours: Vec<(String, Ipv4Net)> = self
            .net_records()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| self.net.has_endpoints(n))
            .filter_map(|n| Some((n.bridge.clone(), n.subnet.parse::<Ipv4Net>().ok()?)))
            .collect();
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        berth_network::coexist::overlaps(&ours, &berth_network::coexist::parse_routes(&routes))
    }
}
