//! `/networks/…`.

use std::collections::BTreeMap;

use berth_api::shape;
use hyper::Method;
use serde_json::json;

use super::{empty, json, not_found_page, Ctx, HResult};
use berth_engine::Networks;
use berth_engine::{blocking, NetworkCreate};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    subnet: Option<String>,
    #[serde(rename = "IPRange")]
    ip_range: Option<String>,
    gateway: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    config: Option<Vec<IpamConfig>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    driver: Option<String>,
    internal: Option<bool>,
    attachable: Option<bool>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    endpoint_config: Option<berth_api::models::EndpointSettings>,
}

pub async fn route<B: Networks>(mut ctx: Ctx<B>, segs: &[&str]) -> HResult {
    let e = ctx.backend.clone();
    let m = ctx.method.clone();
    match (&m, &segs[1..]) {
        (&Method::GET, []) => {
            let f = ctx.filters()?;
            let list = blocking(move || e.network_list(&f)).await?;
            Ok(json(200, &list.iter().map(shape::network).collect::<Vec<_>>()))
        }
        (&Method::POST, ["create"]) => {
            let b: CreateBody = ctx.json().await?;
            // One IPAM entry per family; an IPv6 one is told by its subnet (or gateway).
            let configs = b.ipam.and_then(|i| i.config).unwrap_or_default();
            let is_v6 = |c: &IpamConfig| {
                c.subnet.as_deref().or(c.gateway.as_deref()).is_some_and(|s| s.contains(':'))
            };
            let (v6, v4): (Vec<IpamConfig>, Vec<IpamConfig>) = configs.into_iter().partition(is_v6);
            let ipam = v4.into_iter().next().unwrap_or_default();
            let ipam6 = v6.into_iter().next().unwrap_or_default();
            let req = NetworkCreate {
                name: b.name,
                driver: b.driver.unwrap_or_default(),
                internal: b.internal.unwrap_or(false),
                attachable: b.attachable.unwrap_or(false),
                ipv6: b.enable_ipv6.unwrap_or(false),
                subnet: ipam.subnet.filter(|s| !s.is_empty()),
                ip_range: ipam.ip_range.filter(|s| !s.is_empty()),
                gateway: ipam.gateway.filter(|s| !s.is_empty()),
                subnet6: ipam6.subnet.filter(|s| !s.is_empty()),
                gateway6: ipam6.gateway.filter(|s| !s.is_empty()),
                labels: b.labels.unwrap_or_default(),
                options: b.options.unwrap_or_default(),
            };
            let n = blocking(move || e.network_create(req)).await?;
            Ok(json(201, &json!({"Id": n.id, "Warning": ""})))
        }
        (&Method::POST, ["prune"]) => {
            let f = ctx.filters()?;
            let names = blocking(move || e.network_prune(&f)).await?;
            let deleted = if names.is_empty() { serde_json::Value::Null } else { json!(names) };
            Ok(json(200, &json!({"NetworksDeleted": deleted})))
        }
        (&Method::GET, [name]) => {
            let name = name.to_string();
            let v = blocking(move || {
                let n = e.network(&name)?;
                Ok(e.network_view(&n))
            })
            .await?;
            Ok(json(200, &shape::network(&v)))
        }
        (&Method::DELETE, [name]) => {
            let name = name.to_string();
            blocking(move || e.network_remove(&name)).await?;
            Ok(empty(204))
        }
        (&Method::POST, [name, "connect"]) => {
            let name = name.to_string();
            let b: ConnectBody = ctx.json().await?;
            let cfg = b.endpoint_config.unwrap_or_default();
            blocking(move || e.network_connect(&name, &b.container, cfg)).await?;
            Ok(empty(200))
        }
        (&Method::POST, [name, "disconnect"]) => {
            let name = name.to_string();
            let b: ConnectBody = ctx.json().await?;
            blocking(move || e.network_disconnect(&name, &b.container)).await?;
            Ok(empty(200))
        }
        _ => Err(not_found_page()),
    }
}
