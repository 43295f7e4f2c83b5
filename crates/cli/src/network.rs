//! Network commands.

use serde_json::{json, Value};

use crate::cmd::*;
use crate::common::{filters, for_each, short_id};
use crate::template::{render_rows, Format, Row};
use crate::{Ctx, Failure, Result};

const NETWORKS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
const NETWORKS_HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

fn network_row(n: &Value, trunc: bool) -> Row {
    let s = |k: &str| n[k].as_str().unwrap_or("").to_string();
    let b = |k: &str| n[k].as_bool().unwrap_or(false).to_string();
    let labels: std::collections::BTreeMap<String, String> = n["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let id = s("Id");
    Row {
        fields: vec![
            ("CreatedAt", go_time_nanos(&s("Created"))),
            ("Driver", s("Driver")),
            ("ID", if trunc { short_id(&id) } else { id }),
            ("IPv4", n["EnableIPv4"].as_bool().unwrap_or(true).to_string()),
            ("IPv6", b("EnableIPv6")),
            ("Internal", b("Internal")),
            ("Labels", labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
            ("Name", s("Name")),
            ("Scope", s("Scope")),
        ],
        nulls: &[],
        labels,
    }
}

/// Go's `time.Time.String()` with its fraction (trailing zeros dropped), for an RFC 3339 time.
fn go_time_nanos(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else { return String::new() };
    let t = t.with_timezone(&chrono::Utc);
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{}{dot}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

fn key_values(items: &[String]) -> Value {
    Value::Object(crate::opts::key_values(items))
}

pub async fn create(ctx: &Ctx, a: NetworkCreateArgs) -> Result {
    // As Docker's CLI pairs them: each gateway and ip-range goes with the subnet holding it
    // (with one subnet, that one).
    let within = |subnet: &str, ip: &str| -> bool {
        let (Ok(net), Ok(addr)) =
            (subnet.parse::<ipnet::IpNet>(), ip.split('/').next().unwrap_or(ip).parse::<std::net::IpAddr>())
        else {
            return false;
        };
        net.contains(&addr)
    };
    let mut config = Vec::new();
    for subnet in &a.subnet {
        let pick = |items: &[String]| -> Option<String> {
            if a.subnet.len() == 1 {
                return items.first().cloned();
            }
            items.iter().find(|i| within(subnet, i)).cloned()
        };
        let mut c = json!({"Subnet": subnet});
        if let Some(r) = pick(&a.ip_range) {
            c["IPRange"] = json!(r);
        }
        if let Some(g) = pick(&a.gateway) {
            c["Gateway"] = json!(g);
        }
        config.push(c);
    }
    if a.subnet.is_empty() && (!a.gateway.is_empty() || !a.ip_range.is_empty()) {
        return Err(Failure::new(1, "Error: every ip-range or gateway must have a corresponding subnet"));
    }
    let body = json!({
        "Name": a.name,
        "Driver": a.driver,
        "Internal": a.internal,
        "Attachable": a.attachable,
        "EnableIPv6": a.ipv6,
        "IPAM": {"Driver": "default", "Config": config, "Options": {}},
        "Options": key_values(&a.opt),
        "Labels": key_values(&a.label),
    });
    println!("{}", ctx.client.networks().create(&body).await?);
    Ok(())
}

pub async fn ls(ctx: &Ctx, a: NetworkLsArgs) -> Result {
    let mut items = ctx.client.networks().list(filters(&a.filter)?).await?;
    items.sort_by(|x, y| x["Name"].as_str().cmp(&y["Name"].as_str()));
    let trunc = !a.no_trunc;
    if a.quiet {
        for n in &items {
            let id = n["Id"].as_str().unwrap_or("");
            println!("{}", if trunc { short_id(id) } else { id.to_string() });
        }
        return Ok(());
    }
    let rows: Vec<Row> = items.iter().map(|n| network_row(n, trunc)).collect();
    let format = match a.format.or_else(|| crate::common::config_key("networksFormat")) {
        Some(f) => Format::parse(&f),
        None => Format::Table(None),
    };
    print!(
        "{}",
        render_rows(&format, NETWORKS_TABLE, NETWORKS_HEADERS, &rows).map_err(|e| Failure::new(1, e))?
    );
    Ok(())
}

pub async fn rm(ctx: &Ctx, a: NetworkRmArgs) -> Result {
    let force = a.force;
    for_each(&a.names, |name| async move {
        match ctx.client.networks().remove(name).await {
            Err(e) if force && berth_client::Kinded::kind(&e) == berth_client::ErrorKind::NotFound => {
                Ok(String::new())
            }
            Err(e) => Err(e),
            Ok(_) => Ok(name.to_string()),
        }
    })
    .await
    // The docker CLI ends a failed `network rm` with this line.
    .map_err(|_| Failure::new(1, "exit status 1"))
}

pub async fn prune(ctx: &Ctx, a: NetworkPruneArgs) -> Result {
    if !a.force {
        crate::common::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
        .map_err(|_| Failure::exit(1))?;
    }
    let (_, out) =
        crate::common::prune_section(ctx, berth_client::system::Prunable::Networks, &a.filter).await?;
    if !out.is_empty() {
        println!("{out}");
    }
    Ok(())
}

pub async fn connect(ctx: &Ctx, a: NetworkConnectArgs) -> Result {
    let mut ep = json!({});
    if !a.alias.is_empty() {
        ep["Aliases"] = json!(a.alias);
    }
    if let Some(ipam) = crate::opts::ipam_config(a.ip.as_deref(), a.ip6.as_deref()) {
        ep["IPAMConfig"] = ipam;
    }
    ctx.client.networks().connect(&a.network, &a.container, &ep).await?;
    Ok(())
}

pub async fn disconnect(ctx: &Ctx, a: NetworkDisconnectArgs) -> Result {
    ctx.client.networks().disconnect(&a.network, &a.container, a.force).await?;
    Ok(())
}
