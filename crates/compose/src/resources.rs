//! The project's networks and volumes, typed: what the engine is asked to create for them
//! (their engine names, `<project>_<key>` unless `name:` says otherwise), or, when `external`,
//! what must already be there. A service attached to no network is on `default`, which every
//! project has unless it declares its own.

use crate::model::{boolean, text};
use crate::tree::{Node, Value};
use crate::values::pairs;
use crate::ComposeError;

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Subnet {
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct NetworkDef {
    /// The key in the file.
    pub key: String,
    /// The engine's name for it.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: Vec<(String, String)>,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub labels: Vec<(String, String)>,
    pub ipam_driver: Option<String>,
    pub subnets: Vec<Subnet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct VolumeDef {
    pub key: String,
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
}

fn strings(n: Option<&Node>) -> Vec<(String, String)> {
    n.map(pairs).unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
}

/// The engine's name for the project's resource `key`: its `name:`, else `<project>_<key>`
/// (an external one is its own name).
fn engine_name(project: &str, key: &str, node: &Node, external: bool) -> String {
    match text(node.get("name")) {
        Some(n) => n,
        None if external => key.to_string(),
        None => format!("{project}_{key}"),
    }
}

/// The networks the file declares, with `default` added when a service needs it.
pub fn networks(
    project: &str,
    declared: &[(String, Node)],
    default_used: bool,
) -> Result<Vec<NetworkDef>, ComposeError> {
    let mut out = Vec::new();
    for (key, node) in declared {
        let path = format!("networks.{key}");
        let external = boolean(node.get("external"), &format!("{path}.external"))?;
        let ipam = node.get("ipam");
        let subnets = match ipam.and_then(|i| i.get("config")).map(|c| &c.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .map(|c| Subnet {
                    subnet: text(c.get("subnet")),
                    gateway: text(c.get("gateway")),
                    ip_range: text(c.get("ip_range")),
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(NetworkDef {
            key: key.clone(),
            name: engine_name(project, key, node, external),
            external,
            driver: text(node.get("driver")),
            driver_opts: strings(node.get("driver_opts")),
            internal: boolean(node.get("internal"), &format!("{path}.internal"))?,
            attachable: boolean(node.get("attachable"), &format!("{path}.attachable"))?,
            enable_ipv6: boolean(node.get("enable_ipv6"), &format!("{path}.enable_ipv6"))?,
            labels: strings(node.get("labels")),
            ipam_driver: ipam.and_then(|i| text(i.get("driver"))),
            subnets,
        });
    }
    if default_used && !out.iter().any(|n| n.key == "default") {
        out.push(NetworkDef {
            key: "default".into(),
            name: format!("{project}_default"),
            ..NetworkDef::default()
        });
    }
    Ok(out)
}

/// The volumes the file declares.
pub fn volumes(project: &str, declared: &[(String, Node)]) -> Result<Vec<VolumeDef>, ComposeError> {
    declared
        .iter()
        .map(|(key, node)| {
            let external = boolean(node.get("external"), &format!("volumes.{key}.external"))?;
            Ok(VolumeDef {
                key: key.clone(),
                name: engine_name(project, key, node, external),
                external,
                driver: text(node.get("driver")),
                driver_opts: strings(node.get("driver_opts")),
                labels: strings(node.get("labels")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    fn entries(yaml: &str) -> Vec<(String, Node)> {
        match parse(yaml, "f").unwrap().value {
            Value::Map(e) => e,
            _ => Vec::new(),
        }
    }

    #[test]
    fn networks_get_their_engine_names() {
        let declared = entries(
            "front: {}\nback: {internal: true, driver_opts: {mtu: 1400}, ipam: {config: [{subnet: 10.9.0.0/24}]}}\nshared: {external: true}\nnamed: {name: custom}\nold: {external: true, name: real}",
        );
        let got = networks("app", &declared, true).unwrap();
        let names: Vec<(&str, &str, bool)> =
            got.iter().map(|n| (n.key.as_str(), n.name.as_str(), n.external)).collect();
        assert_eq!(
            names,
            [
                ("front", "app_front", false),
                ("back", "app_back", false),
                ("shared", "shared", true),
                ("named", "custom", false),
                ("old", "real", true),
                ("default", "app_default", false),
            ]
        );
        assert!(got[1].internal);
        assert_eq!(got[1].driver_opts, [("mtu".to_string(), "1400".to_string())]);
        assert_eq!(got[1].subnets[0].subnet.as_deref(), Some("10.9.0.0/24"));
        assert_eq!(networks("app", &declared, false).unwrap().len(), 5);
    }

    #[test]
    fn volumes_get_their_engine_names() {
        let declared = entries("data: {}\nkeep: {external: true}\nnamed: {name: pinned, labels: [a=b]}");
        let got = volumes("app", &declared).unwrap();
        let names: Vec<(&str, bool)> = got.iter().map(|v| (v.name.as_str(), v.external)).collect();
        assert_eq!(names, [("app_data", false), ("keep", true), ("pinned", false)]);
        assert_eq!(got[2].labels, [("a".to_string(), "b".to_string())]);
        assert!(volumes("app", &entries("bad: {external: maybe}")).is_err());
    }
}
