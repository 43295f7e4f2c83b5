//! Merging a compose file over the ones before it, as compose-go merges: mappings merge key
//! by key, sequences are appended, scalars replaced; with the spec's special rules by path
//! (`command`, `entrypoint` and `healthcheck.test` replaced whole; `environment`, `labels`,
//! `build.args`, `sysctls`, `dns`… merged as `key=value` lists; `depends_on` and `networks`
//! merged as mappings whatever their form; `build` as a mapping even when a string;
//! `extra_hosts` without duplicates; `logging` replaced when the driver differs; an `ulimits`
//! entry replaced; IPAM configs merged by subnet). Then [`enforce_unicity`] keeps one entry a
//! key in the lists whose entries are keyed (ports, volumes by target, secrets…), the last one
//! given winning. `!reset` and `!override` in a later file ([`resets`]) drop or replace what
//! the earlier files set there.

use crate::tree::{Node, Value};
use crate::ComposeError;

type Path = [String];

/// Whether `path` matches `pattern` (`*` for any one element).
fn matches(path: &Path, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('.').collect();
    parts.len() == path.len() && parts.iter().zip(path).all(|(p, e)| *p == "*" || p == e)
}

#[derive(Clone, Copy)]
enum Rule {
    Override,
    ToSequence,
    ExtraHosts,
    Build,
    DependsOn,
    AsMapping,
    Logging,
    Ulimit,
    IpamConfig,
}

const RULES: &[(&str, Rule)] = &[
    ("networks.*.ipam.config", Rule::IpamConfig),
    ("networks.*.labels", Rule::ToSequence),
    ("volumes.*.labels", Rule::ToSequence),
    ("services.*.annotations", Rule::ToSequence),
    ("services.*.build", Rule::Build),
    ("services.*.build.args", Rule::ToSequence),
    ("services.*.build.additional_contexts", Rule::ToSequence),
    ("services.*.build.extra_hosts", Rule::ExtraHosts),
    ("services.*.build.labels", Rule::ToSequence),
    ("services.*.command", Rule::Override),
    ("services.*.depends_on", Rule::DependsOn),
    ("services.*.deploy.labels", Rule::ToSequence),
    ("services.*.dns", Rule::ToSequence),
    ("services.*.dns_opt", Rule::ToSequence),
    ("services.*.dns_search", Rule::ToSequence),
    ("services.*.entrypoint", Rule::Override),
    ("services.*.env_file", Rule::ToSequence),
    ("services.*.label_file", Rule::ToSequence),
    ("services.*.environment", Rule::ToSequence),
    ("services.*.extra_hosts", Rule::ExtraHosts),
    ("services.*.healthcheck.test", Rule::Override),
    ("services.*.labels", Rule::ToSequence),
    ("services.*.volumes.*.volume.labels", Rule::ToSequence),
    ("services.*.logging", Rule::Logging),
    ("services.*.models", Rule::AsMapping),
    ("services.*.networks", Rule::AsMapping),
    ("services.*.sysctls", Rule::ToSequence),
    ("services.*.tmpfs", Rule::ToSequence),
    ("services.*.ulimits.*", Rule::Ulimit),
];

fn node_like(at: &Node, value: Value) -> Node {
    Node { value, tag: None, line: at.line, col: at.col }
}

fn scalar(at: &Node, text: String) -> Node {
    node_like(at, Value::Scalar { text, plain: false })
}

/// `over` merged over `base` (the whole files: call with an empty path).
pub fn merge(base: Node, over: Node) -> Result<Node, ComposeError> {
    merge_at(base, over, &mut Vec::new())
}

/// The resource `key.name` of an including file merged over the one an included project
/// defines.
pub fn merge_resource(key: &str, name: &str, imported: Node, mine: Node) -> Result<Node, ComposeError> {
    merge_at(imported, mine, &mut vec![key.to_string(), name.to_string()])
}

/// A service merged over the service it extends, with the rules of a service's keys.
pub fn merge_service(base: Node, over: Node) -> Result<Node, ComposeError> {
    merge_at(base, over, &mut vec!["services".to_string(), "x".to_string()])
}

fn merge_at(base: Node, over: Node, path: &mut Vec<String>) -> Result<Node, ComposeError> {
    if let Some((_, rule)) = RULES.iter().find(|(p, _)| matches(path, p)) {
        return special(*rule, base, over, path);
    }
    if over.is_null() {
        return Ok(base);
    }
    match (base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let entries = merge_entries(b, o, path)?;
            Ok(Node { value: Value::Map(entries), tag: over.tag, line: over.line, col: over.col })
        }
        (Value::Seq(mut b), Value::Seq(o)) => {
            b.extend(o);
            Ok(Node { value: Value::Seq(b), tag: over.tag, line: over.line, col: over.col })
        }
        (Value::Map(_) | Value::Seq(_), _) => Err(cannot_override(path)),
        (_, value) => Ok(Node { value, tag: over.tag, line: over.line, col: over.col }),
    }
}

fn cannot_override(path: &Path) -> ComposeError {
    ComposeError::Merge {
        path: path.join("."),
        why: "cannot override it with a value of another kind".into(),
    }
}

fn merge_entries(
    mut base: Vec<(String, Node)>,
    over: Vec<(String, Node)>,
    path: &mut Vec<String>,
) -> Result<Vec<(String, Node)>, ComposeError> {
    for (k, v) in over {
        match base.iter().position(|(b, _)| *b == k) {
            None => base.push((k, v)),
            Some(i) => {
                let (_, old) = base.remove(i);
                path.push(k.clone());
                let merged = merge_at(old, v, path);
                path.pop();
                base.insert(i, (k, merged?));
            }
        }
    }
    Ok(base)
}

fn special(rule: Rule, base: Node, over: Node, path: &mut Vec<String>) -> Result<Node, ComposeError> {
    let at = over.clone();
    match rule {
        Rule::Override => Ok(over),
        Rule::ToSequence => {
            let mut seq = to_sequence(&base);
            seq.extend(to_sequence(&over));
            Ok(node_like(&at, Value::Seq(seq)))
        }
        Rule::ExtraHosts => {
            let mut seq = to_sequence(&base);
            for item in to_sequence(&over) {
                if !seq.iter().any(|s| s.value == item.value) {
                    seq.push(item);
                }
            }
            Ok(node_like(&at, Value::Seq(seq)))
        }
        Rule::Build => {
            let as_map = |n: Node| match n.value {
                Value::Scalar { .. } => {
                    let context = n.clone();
                    node_like(&n, Value::Map(vec![("context".into(), context)]))
                }
                _ => n,
            };
            merge_maps(as_map(base), as_map(over), path)
        }
        Rule::DependsOn => {
            let started = |at: &Node| {
                node_like(
                    at,
                    Value::Map(vec![
                        ("condition".into(), scalar(at, "service_started".into())),
                        (
                            "required".into(),
                            node_like(at, Value::Scalar { text: "true".into(), plain: true }),
                        ),
                    ]),
                )
            };
            merge_maps(to_mapping(base, &started), to_mapping(over, &started), path)
        }
        Rule::AsMapping => {
            let null = |at: &Node| node_like(at, Value::Scalar { text: String::new(), plain: true });
            merge_maps(to_mapping(base, &null), to_mapping(over, &null), path)
        }
        Rule::Logging => {
            let driver = |n: &Node| n.get("driver").and_then(|d| d.text().map(String::from));
            match (driver(&base), driver(&over)) {
                (Some(a), Some(b)) if a != b => Ok(over),
                _ => merge_maps(base, over, path),
            }
        }
        Rule::Ulimit => Ok(over),
        Rule::IpamConfig => merge_ipam(base, over, path),
    }
}

fn merge_maps(base: Node, over: Node, path: &mut Vec<String>) -> Result<Node, ComposeError> {
    if over.is_null() {
        return Ok(base);
    }
    match (base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let entries = merge_entries(b, o, path)?;
            Ok(Node { value: Value::Map(entries), tag: over.tag, line: over.line, col: over.col })
        }
        _ => Err(cannot_override(path)),
    }
}

/// A list as compose-go makes one of a mapping: `key=value` items (`key` for a null value,
/// one item per value of a list), sorted.
fn to_sequence(n: &Node) -> Vec<Node> {
    match &n.value {
        Value::Seq(items) => items.clone(),
        Value::Scalar { .. } if n.is_null() => Vec::new(),
        Value::Scalar { .. } => vec![n.clone()],
        Value::Map(entries) => {
            let mut items: Vec<Node> = Vec::new();
            for (k, v) in entries {
                match &v.value {
                    _ if v.is_null() => items.push(scalar(v, k.clone())),
                    Value::Scalar { text, .. } => items.push(scalar(v, format!("{k}={text}"))),
                    Value::Seq(values) => {
                        for x in values {
                            items.push(scalar(x, format!("{k}={}", x.text().unwrap_or_default())));
                        }
                    }
                    Value::Map(_) => items.push(scalar(v, k.clone())),
                }
            }
            items.sort_by(|a, b| a.text().cmp(&b.text()));
            items
        }
    }
}

/// A mapping as compose-go makes one of a list of names, each given `default`.
fn to_mapping(n: Node, default: &dyn Fn(&Node) -> Node) -> Node {
    match &n.value {
        Value::Seq(items) => {
            let entries = items.iter().filter_map(|i| Some((i.text()?.to_string(), default(i)))).collect();
            node_like(&n, Value::Map(entries))
        }
        _ => n,
    }
}

fn merge_ipam(base: Node, over: Node, path: &mut Vec<String>) -> Result<Node, ComposeError> {
    let (Value::Seq(configs), Value::Seq(overrides)) = (&base.value, &over.value) else {
        return Err(cannot_override(path));
    };
    let subnet = |n: &Node| n.get("subnet").and_then(|s| s.text().map(String::from));
    let mut out: Vec<Node> = Vec::new();
    for original in configs {
        for o in overrides {
            if subnet(o) != subnet(original) {
                if !out.iter().any(|c| subnet(c) == subnet(o)) {
                    out.push(o.clone());
                }
                continue;
            }
            let merged = merge_maps(original.clone(), o.clone(), path)?;
            match out.iter().position(|c| subnet(c) == subnet(&merged)) {
                Some(i) => out[i] = merged,
                None => out.push(merged),
            }
        }
    }
    Ok(node_like(&over, Value::Seq(out)))
}

/// How a list's entries are keyed for [`enforce_unicity`].
#[derive(Clone, Copy)]
enum Index {
    KeyValue,
    Volume,
    Device,
    Expose,
    Mount(&'static str),
    Port,
    EnvFile,
}

const UNIQUE: &[(&str, Index)] = &[
    ("networks.*.labels", Index::KeyValue),
    ("networks.*.ipam.options", Index::KeyValue),
    ("services.*.annotations", Index::KeyValue),
    ("services.*.build.args", Index::KeyValue),
    ("services.*.build.additional_contexts", Index::KeyValue),
    ("services.*.build.platform", Index::KeyValue),
    ("services.*.build.tags", Index::KeyValue),
    ("services.*.build.labels", Index::KeyValue),
    ("services.*.cap_add", Index::KeyValue),
    ("services.*.cap_drop", Index::KeyValue),
    ("services.*.configs", Index::Mount("")),
    ("services.*.deploy.labels", Index::KeyValue),
    ("services.*.dns", Index::KeyValue),
    ("services.*.dns_opt", Index::KeyValue),
    ("services.*.dns_search", Index::KeyValue),
    ("services.*.environment", Index::KeyValue),
    ("services.*.env_file", Index::EnvFile),
    ("services.*.expose", Index::Expose),
    ("services.*.labels", Index::KeyValue),
    ("services.*.links", Index::KeyValue),
    ("services.*.networks.*.aliases", Index::KeyValue),
    ("services.*.networks.*.link_local_ips", Index::KeyValue),
    ("services.*.ports", Index::Port),
    ("services.*.profiles", Index::KeyValue),
    ("services.*.secrets", Index::Mount("/run/secrets")),
    ("services.*.sysctls", Index::KeyValue),
    ("services.*.tmpfs", Index::KeyValue),
    ("services.*.volumes", Index::Volume),
    ("services.*.devices", Index::Device),
];

/// Keeps one entry a key in the keyed lists, where the first of them was, with the last
/// value given.
pub fn enforce_unicity(node: &mut Node) -> Result<(), ComposeError> {
    unicity_at(node, &mut Vec::new())
}

fn unicity_at(node: &mut Node, path: &mut Vec<String>) -> Result<(), ComposeError> {
    match &mut node.value {
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(k.clone());
                let r = unicity_at(v, path);
                path.pop();
                r?;
            }
        }
        Value::Seq(items) => {
            if let Some((_, index)) = UNIQUE.iter().find(|(p, _)| matches(path, p)) {
                let mut kept: Vec<(String, Node)> = Vec::new();
                for item in std::mem::take(items) {
                    let key = key_of(*index, &item, path)?;
                    match kept.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = item,
                        None => kept.push((key, item)),
                    }
                }
                *items = kept.into_iter().map(|(_, n)| n).collect();
            }
        }
        Value::Scalar { .. } => {}
    }
    Ok(())
}

fn key_of(index: Index, n: &Node, path: &Path) -> Result<String, ComposeError> {
    let text = n.text().map(str::to_string);
    let field = |name: &str| n.get(name).and_then(|f| f.text().map(str::to_string));
    let missing = |what: &str| ComposeError::Merge {
        path: path.join("."),
        why: format!("an entry is missing its {what}"),
    };
    Ok(match index {
        Index::KeyValue | Index::Expose | Index::EnvFile if text.is_some() => {
            let t = text.unwrap_or_default();
            match index {
                Index::KeyValue => t.split_once('=').map_or(t.clone(), |(k, _)| k.to_string()),
                _ => t,
            }
        }
        Index::EnvFile => field("path").ok_or_else(|| missing("path"))?,
        Index::KeyValue | Index::Expose => return Err(missing("value")),
        Index::Volume | Index::Device => match text {
            Some(t) => {
                let parts: Vec<&str> = t.split(':').collect();
                match (index, parts.as_slice()) {
                    (Index::Device, [one]) => one.to_string(),
                    (Index::Device, [_, target, ..]) => target.to_string(),
                    (_, [one]) => one.to_string(),
                    (_, [_, target, ..]) => target.to_string(),
                    _ => t.clone(),
                }
            }
            None => field("target").ok_or_else(|| missing("target"))?,
        },
        Index::Mount(default) => match text {
            Some(t) => format!("{default}/{t}"),
            None => match field("target") {
                Some(t) => t,
                None => format!("{default}/{}", field("source").unwrap_or_default()),
            },
        },
        Index::Port => match text {
            Some(t) => t,
            None => {
                let target = field("target").ok_or_else(|| missing("target port"))?;
                format!(
                    "{}:{}:{target}/{}",
                    field("host_ip").unwrap_or_else(|| "0.0.0.0".into()),
                    field("published").unwrap_or_default(),
                    field("protocol").unwrap_or_else(|| "tcp".into())
                )
            }
        },
    })
}

/// The paths a later file tags `!reset` or `!override`; `!reset` nodes are taken out of it
/// (a `!reset` key is as if the file did not set it).
pub fn resets(node: &mut Node) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    collect_resets(node, &mut Vec::new(), &mut found);
    found
}

fn collect_resets(node: &mut Node, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    if let Value::Map(entries) = &mut node.value {
        entries.retain(|(k, v)| {
            if v.tag.as_deref() == Some("reset") {
                let mut p = path.clone();
                p.push(k.clone());
                found.push(p);
                return false;
            }
            true
        });
        for (k, v) in entries.iter_mut() {
            path.push(k.clone());
            if v.tag.as_deref() == Some("override") {
                found.push(path.clone());
            } else {
                collect_resets(v, path, found);
            }
            path.pop();
        }
    }
}

/// Takes out of `node` (the files merged so far) what a later file resets or overrides.
pub fn apply_resets(node: &mut Node, paths: &[Vec<String>]) {
    for p in paths {
        remove(node, p);
    }
}

fn remove(node: &mut Node, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    if let Value::Map(entries) = &mut node.value {
        if rest.is_empty() {
            entries.retain(|(k, _)| k != first);
        } else if let Some((_, child)) = entries.iter_mut().find(|(k, _)| k == first) {
            remove(child, rest);
        }
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
