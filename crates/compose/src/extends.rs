//! `extends`, as compose-go applies it to one file before that file is merged with the others:
//! a service with `extends: base` (or `{service: base}`) or `{file: other.yml, service: base}`
//! starts from that service (itself extended first), and its own keys merge over it with the
//! merge rules of a service. A base from another file has its relative paths (`build`'s
//! context, bind sources, `env_file`s, its own `extends.file`) made relative to the extending
//! file's directory. A service that extends itself, however far round, is an error that shows
//! the circle.

use crate::interpolate::interpolate_tree;
use crate::tree::{self, Node, Value};
use crate::ComposeError;

/// Reads a file that `extends.file` names (its path as joined to the naming file's directory).
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Applies `extends` to every service of `file` (named `name`).
pub fn apply_extends(
    file: &mut Node,
    name: &str,
    read: ReadFile<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ComposeError> {
    let Some(services) = file.get("services").cloned() else { return Ok(()) };
    let Value::Map(entries) = &services.value else { return Ok(()) };
    let mut done = Vec::new();
    for (service, _) in entries {
        let merged = resolve(service, &services, name, read, lookup, &mut Vec::new())?;
        done.push((service.clone(), merged));
    }
    if let Some(Value::Map(slots)) = file.get_mut("services").map(|s| &mut s.value) {
        for (service, merged) in done {
            if let Some(slot) = slots.iter_mut().find(|(k, _)| *k == service) {
                slot.1 = merged;
            }
        }
    }
    Ok(())
}

fn extends_error(why: String) -> ComposeError {
    ComposeError::Extends { why }
}

/// The service `name` of `services` (in `file`) with its `extends` applied.
fn resolve(
    name: &str,
    services: &Node,
    file: &str,
    read: ReadFile<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
    trail: &mut Vec<(String, String)>,
) -> Result<Node, ComposeError> {
    let service = services.get(name).cloned().ok_or_else(|| {
        extends_error(format!("cannot extend service {name:?} in {file}: service {name:?} not found"))
    })?;
    let Some(ext) = service.get("extends") else { return Ok(service) };
    let (base_name, other) = match &ext.value {
        Value::Scalar { text, .. } => (text.clone(), None),
        Value::Map(_) => {
            let base = ext
                .get("service")
                .and_then(Node::text)
                .ok_or_else(|| extends_error(format!("extends.{name}.service is required")))?;
            (base.to_string(), ext.get("file").and_then(Node::text).map(str::to_string))
        }
        Value::Seq(_) => {
            return Err(extends_error(format!("services.{name}.extends must be a string or a mapping")))
        }
    };
    if trail.iter().any(|(f, s)| f == file && s == name) {
        let mut lines = vec!["Circular reference:".to_string()];
        lines.push(format!("  {} in {}", trail[0].1, trail[0].0));
        for (f, s) in trail.iter().skip(1).chain(std::iter::once(&(file.to_string(), name.to_string()))) {
            lines.push(format!("  extends {s} in {f}"));
        }
        return Err(extends_error(lines.join("\n")));
    }
    trail.push((file.to_string(), name.to_string()));
    let base = match &other {
        None => {
            if services.get(&base_name).is_none() {
                return Err(extends_error(format!(
                    "cannot extend service {name:?} in {file}: service {base_name:?} not found"
                )));
            }
            resolve(&base_name, services, file, read, lookup, trail)?
        }
        Some(rel) => {
            let path = join(dir_of(file), rel);
            let text = read(&path).map_err(|e| extends_error(format!("cannot read {path}: {e}")))?;
            let mut tree = tree::parse(&text, &path)?;
            interpolate_tree(&mut tree, lookup)?;
            let their = tree.get("services").cloned().ok_or_else(|| {
                extends_error(format!("cannot extend service {name:?} in {path}: no services section"))
            })?;
            if their.get(&base_name).is_none() {
                return Err(extends_error(format!(
                    "cannot extend service {name:?} in {file}: service {base_name:?} not found in {rel}"
                )));
            }
            let mut base = resolve(&base_name, &their, &path, read, lookup, trail)?;
            rebase(&mut base, dir_of(rel));
            base
        }
    };
    trail.pop();
    let mut merged = crate::merge::merge_service(base, service)?;
    if let Value::Map(entries) = &mut merged.value {
        entries.retain(|(k, _)| k != "extends");
    }
    Ok(merged)
}

pub(crate) fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// `rel` joined to `dir` (`./` and `../` elements resolved where they can be).
pub(crate) fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') || dir.is_empty() {
        return rel.to_string();
    }
    let mut parts: Vec<&str> = dir.split('/').collect();
    for p in rel.split('/') {
        match p {
            "." | "" => {}
            ".." if parts.last().is_some_and(|l| !l.is_empty() && *l != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn is_relative(p: &str) -> bool {
    p == "." || p == ".." || p.starts_with("./") || p.starts_with("../")
}

/// Makes the service's relative paths relative to `dir` instead.
pub(crate) fn rebase(service: &mut Node, dir: &str) {
    if dir.is_empty() {
        return;
    }
    let fix = |text: &mut String| {
        if is_relative(text) {
            *text = join(dir, text);
        }
    };
    let Value::Map(entries) = &mut service.value else { return };
    for (key, value) in entries.iter_mut() {
        match (key.as_str(), &mut value.value) {
            ("build", Value::Scalar { text, .. }) => fix(text),
            ("build", Value::Map(b)) => {
                if let Some((_, Node { value: Value::Scalar { text, .. }, .. })) =
                    b.iter_mut().find(|(k, _)| k == "context")
                {
                    fix(text);
                }
            }
            ("env_file" | "label_file", Value::Scalar { text, .. }) => fix(text),
            ("env_file" | "label_file", Value::Seq(items)) => {
                for item in items {
                    match &mut item.value {
                        Value::Scalar { text, .. } => fix(text),
                        Value::Map(m) => {
                            if let Some((_, Node { value: Value::Scalar { text, .. }, .. })) =
                                m.iter_mut().find(|(k, _)| k == "path")
                            {
                                fix(text);
                            }
                        }
                        Value::Seq(_) => {}
                    }
                }
            }
            ("volumes", Value::Seq(items)) => {
                for item in items {
                    match &mut item.value {
                        Value::Scalar { text, .. } => {
                            if let Some((source, rest)) = text.split_once(':') {
                                if is_relative(source) {
                                    *text = format!("{}:{rest}", join(dir, source));
                                }
                            }
                        }
                        Value::Map(m) => {
                            if let Some((_, Node { value: Value::Scalar { text, .. }, .. })) =
                                m.iter_mut().find(|(k, _)| k == "source")
                            {
                                fix(text);
                            }
                        }
                        Value::Seq(_) => {}
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::show;

    fn extended(text: &str, others: &[(&str, &str)]) -> Result<String, ComposeError> {
        let others: Vec<(String, String)> =
            others.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let read = |path: &str| -> Result<String, String> {
            others
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| "no such file".to_string())
        };
        let mut tree = tree::parse(text, "proj/compose.yaml")?;
        apply_extends(&mut tree, "proj/compose.yaml", &read, &|_| None)?;
        Ok(show(tree.get("services").unwrap()))
    }

    #[test]
    fn services_extend_others_in_this_file_and_others() {
        let text = "services:\n  base:\n    image: busybox\n    environment: {A: 1}\n    command: [a]\n  mid:\n    extends: base\n    environment: [B=2]\n  web:\n    extends: {service: mid}\n    command: b\n";
        assert_eq!(
            extended(text, &[]).unwrap(),
            "{base: {image: busybox, environment: {A: 1}, command: [a]}, mid: {image: busybox, environment: [A=1, B=2], command: [a]}, web: {image: busybox, environment: [A=1, B=2], command: b}}"
        );
        let other = "services:\n  common:\n    build: ./app\n    env_file: [./common.env]\n    volumes: ['./data:/data', 'named:/n']\n";
        let text =
            "services:\n  web:\n    extends: {file: ../shared/base.yml, service: common}\n    image: web\n";
        assert_eq!(
            extended(text, &[("shared/base.yml", other)]).unwrap(),
            "{web: {build: ../shared/app, env_file: [../shared/common.env], volumes: [../shared/data:/data, named:/n], image: web}}"
        );
    }

    #[test]
    fn says_what_cannot_be_extended() {
        let cases = [
            ("services:\n  web:\n    extends: nothing\n", "cannot extend service \"web\" in proj/compose.yaml: service \"nothing\" not found"),
            ("services:\n  a:\n    extends: b\n  b:\n    extends: a\n", "Circular reference:\n  a in proj/compose.yaml\n  extends b in proj/compose.yaml\n  extends a in proj/compose.yaml"),
            ("services:\n  web:\n    extends: {file: missing.yml, service: x}\n", "cannot read proj/missing.yml: no such file"),
            ("services:\n  web:\n    extends: {file: other.yml}\n", "extends.web.service is required"),
        ];
        for (text, want) in cases {
            assert_eq!(extended(text, &[]).unwrap_err().to_string(), want, "{text:?}");
        }
    }
}
