//! Profiles, as docker compose applies them: a service without `profiles` is always in the
//! project; one with profiles only when one of them is active (`--profile`, else
//! `COMPOSE_PROFILES`; `*` activates all), or when the command names it. A service brought in
//! brings in what it needs (`depends_on`, `links`, `network_mode`/`ipc`/`pid: service:…`,
//! `volumes_from`), and a service that needs one left out is an error.

use crate::tree::{Node, Value};
use crate::ComposeError;

/// The active profiles: `--profile` flags when given, else `COMPOSE_PROFILES` (comma-separated).
pub fn active(flags: &[String], env: Option<&str>) -> Vec<String> {
    if !flags.is_empty() {
        return flags.to_vec();
    }
    env.map(|e| e.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// The services a service needs, each with whether it is required (a `depends_on` entry may
/// say `required: false`).
pub fn needs(service: &Node) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    match service.get("depends_on").map(|d| &d.value) {
        Some(Value::Seq(items)) => {
            out.extend(items.iter().filter_map(|i| Some((i.text()?.to_string(), true))))
        }
        Some(Value::Map(entries)) => {
            for (name, spec) in entries {
                let required = spec.get("required").and_then(Node::text).is_none_or(|r| r != "false");
                out.push((name.clone(), required));
            }
        }
        _ => {}
    }
    if let Some(Value::Seq(links)) = service.get("links").map(|l| &l.value) {
        for l in links.iter().filter_map(Node::text) {
            out.push((l.split(':').next().unwrap_or(l).to_string(), true));
        }
    }
    for key in ["network_mode", "ipc", "pid"] {
        if let Some(s) = service.get(key).and_then(Node::text).and_then(|v| v.strip_prefix("service:")) {
            out.push((s.to_string(), true));
        }
    }
    if let Some(Value::Seq(from)) = service.get("volumes_from").map(|v| &v.value) {
        for f in from.iter().filter_map(Node::text) {
            if !f.starts_with("container:") {
                out.push((f.split(':').next().unwrap_or(f).to_string(), true));
            }
        }
    }
    out
}

/// The services of the project (by name, in the file's order) given the active profiles and
/// the services the command names; the others are taken out of `tree`.
pub fn apply(tree: &mut Node, active: &[String], named: &[String]) -> Result<Vec<String>, ComposeError> {
    let Some(Value::Map(services)) = tree.get("services").map(|s| &s.value) else { return Ok(Vec::new()) };
    for n in named {
        if !services.iter().any(|(k, _)| k == n) {
            return Err(ComposeError::Project { why: format!("no such service: {n}") });
        }
    }
    let all = active.iter().any(|p| p == "*");
    let by_profile = |node: &Node| match node.get("profiles").map(|p| &p.value) {
        Some(Value::Seq(profiles)) if !profiles.is_empty() => {
            all || profiles.iter().filter_map(Node::text).any(|p| active.iter().any(|a| a == p))
        }
        _ => true,
    };
    let mut enabled: Vec<String> =
        services.iter().filter(|(_, s)| by_profile(s)).map(|(k, _)| k.clone()).collect();
    // What the named services need comes in with them.
    let mut queue: Vec<String> = named.to_vec();
    while let Some(name) = queue.pop() {
        if !enabled.contains(&name) {
            enabled.push(name.clone());
        }
        if let Some((_, s)) = services.iter().find(|(k, _)| *k == name) {
            for (dep, _) in needs(s) {
                if !enabled.contains(&dep) && services.iter().any(|(k, _)| *k == dep) {
                    queue.push(dep);
                }
            }
        }
    }
    for (name, s) in services.iter().filter(|(k, _)| enabled.contains(k)) {
        for (dep, required) in needs(s) {
            if !required || enabled.contains(&dep) {
                continue;
            }
            let why = if services.iter().any(|(k, _)| *k == dep) {
                format!("service {name:?} depends on service {dep:?}, which is in none of the active profiles: activate one of its profiles")
            } else {
                format!("service {name:?} depends on undefined service {dep:?}: invalid compose project")
            };
            return Err(ComposeError::Project { why });
        }
    }
    let order: Vec<String> =
        services.iter().map(|(k, _)| k.clone()).filter(|k| enabled.contains(k)).collect();
    if let Some(Value::Map(entries)) = tree.get_mut("services").map(|s| &mut s.value) {
        entries.retain(|(k, _)| order.contains(k));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    const PROJECT: &str = "services:
  web:
    image: web
    depends_on: [db]
  db:
    image: db
  debug:
    image: debug
    profiles: [debug]
    links: ['web:w']
  tools:
    image: tools
    profiles: [tools, ops]
    depends_on: {cache: {condition: service_started}}
  cache:
    image: cache
    profiles: [ops]
";

    fn enabled(active: &[&str], named: &[&str]) -> Result<Vec<String>, String> {
        let mut tree = parse(PROJECT, "c.yml").unwrap();
        let active: Vec<String> = active.iter().map(|s| s.to_string()).collect();
        let named: Vec<String> = named.iter().map(|s| s.to_string()).collect();
        apply(&mut tree, &active, &named).map_err(|e| e.to_string())
    }

    #[test]
    fn services_are_in_the_project_by_profile_or_by_name() {
        assert_eq!(enabled(&[], &[]).unwrap(), ["web", "db"]);
        assert_eq!(enabled(&["debug"], &[]).unwrap(), ["web", "db", "debug"]);
        assert_eq!(enabled(&["ops"], &[]).unwrap(), ["web", "db", "tools", "cache"]);
        assert_eq!(enabled(&["*"], &[]).unwrap(), ["web", "db", "debug", "tools", "cache"]);
        // Named, a service comes in with what it needs.
        assert_eq!(enabled(&[], &["tools"]).unwrap(), ["web", "db", "tools", "cache"]);
        assert_eq!(
            enabled(&["tools"], &[]).unwrap_err(),
            "service \"tools\" depends on service \"cache\", which is in none of the active profiles: activate one of its profiles"
        );
        assert_eq!(enabled(&[], &["nope"]).unwrap_err(), "no such service: nope");
        let mut tree = parse("services:\n  a:\n    image: a\n    depends_on: [ghost]\n", "c.yml").unwrap();
        assert_eq!(
            apply(&mut tree, &[], &[]).unwrap_err().to_string(),
            "service \"a\" depends on undefined service \"ghost\": invalid compose project"
        );
    }

    #[test]
    fn active_profiles_come_from_flags_else_the_environment() {
        assert_eq!(active(&["a".into()], Some("b,c")), ["a"]);
        assert_eq!(active(&[], Some("b, c,")), ["b", "c"]);
        assert!(active(&[], None).is_empty());
    }
}
