//! `include`, as compose-go applies it to a file after its substitution: each entry (a path,
//! or `{path, project_directory, env_file}`) is loaded as a project of its own, its variables
//! from the environment and its `.env` (or the `env_file`s given), its relative paths made
//! relative to the including file's directory; its services, networks, volumes, secrets,
//! configs and models are imported, and where the including file defines one of the same name
//! that file's keys merge over the imported one. A file that includes itself, however far
//! round, is an error that shows the circle.

use crate::dotenv;
use crate::extends::{dir_of, join, rebase, ReadFile};
use crate::tree::{Node, Value};
use crate::ComposeError;

const RESOURCES: [&str; 6] = ["services", "networks", "volumes", "secrets", "configs", "models"];

fn include_error(why: String) -> ComposeError {
    ComposeError::Include { why }
}

fn strings(n: &Node) -> Vec<String> {
    match &n.value {
        Value::Scalar { text, .. } => vec![text.clone()],
        Value::Seq(items) => items.iter().filter_map(|i| i.text().map(String::from)).collect(),
        Value::Map(_) => Vec::new(),
    }
}

/// Applies the `include` of `file` (named `name`); `chain` is the files including it.
pub fn apply_include(
    file: &mut Node,
    name: &str,
    read: ReadFile<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    chain: &mut Vec<String>,
) -> Result<(), ComposeError> {
    let Some(include) = file.get("include").cloned() else { return Ok(()) };
    let Value::Seq(entries) = &include.value else {
        return Err(include_error("`include` must be a list".into()));
    };
    let here = dir_of(name);
    for entry in entries {
        let (paths, project_dir, env_files) = match &entry.value {
            Value::Scalar { text, .. } => (vec![text.clone()], None, None),
            Value::Map(_) => (
                entry.get("path").map(strings).unwrap_or_default(),
                entry.get("project_directory").and_then(Node::text).map(String::from),
                entry.get("env_file").map(strings),
            ),
            Value::Seq(_) => return Err(include_error("an `include` entry is a path or a mapping".into())),
        };
        let paths: Vec<String> = paths.iter().map(|p| join(here, p)).collect();
        let Some(main) = paths.first() else {
            return Err(include_error("an `include` entry needs a path".into()));
        };
        if chain.iter().any(|c| c == main) || main == name {
            let mut lines: Vec<String> = chain.clone();
            lines.push(name.to_string());
            lines.push(main.clone());
            return Err(include_error(format!(
                "include cycle detected:\n{}\n include {}",
                lines[0],
                lines[1..].join("\n include ")
            )));
        }
        let project_dir = match project_dir {
            Some(d) => join(here, &d),
            None => dir_of(main).to_string(),
        };
        // The included project's variables: the environment, then its .env or env files.
        let mut vars: Vec<(String, String)> = Vec::new();
        let env_files: Vec<(String, bool)> = match env_files {
            Some(list) => list.iter().filter(|f| *f != "/dev/null").map(|f| (join(here, f), true)).collect(),
            None => vec![(join(&project_dir, ".env"), false)],
        };
        for (path, required) in env_files {
            match read(&path) {
                Ok(text) => vars.extend(dotenv::parse(&text, &path, env)?),
                Err(e) if required => return Err(include_error(format!("cannot read {path}: {e}"))),
                Err(_) => {}
            }
        }
        let lookup =
            |k: &str| env(k).or_else(|| vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
        let mut texts = Vec::new();
        for p in &paths {
            let text = read(p).map_err(|e| include_error(format!("cannot read {p}: {e}")))?;
            texts.push((p.clone(), text));
        }
        chain.push(name.to_string());
        let loaded = crate::load::load_chain(&texts, &lookup, read, chain);
        chain.pop();
        let (mut imported, _) = loaded?;
        // Its paths were relative to its project directory; they become relative to ours.
        relocate(&mut imported, &relative(here, &project_dir));
        import(file, imported)?;
    }
    if let Value::Map(entries) = &mut file.value {
        entries.retain(|(k, _)| k != "include");
    }
    Ok(())
}

/// The path of directory `to` from directory `from` (both as [`join`] makes them).
fn relative(from: &str, to: &str) -> String {
    if to.starts_with('/') {
        return to.to_string();
    }
    let parts = |p: &str| -> Vec<String> {
        p.split('/').filter(|c| !c.is_empty() && *c != ".").map(String::from).collect()
    };
    let (f, t) = (parts(from), parts(to));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out: Vec<String> = vec!["..".to_string(); f.len() - common];
    out.extend(t[common..].iter().cloned());
    out.join("/")
}

/// Makes the relative paths of an included project relative to `prefix`.
fn relocate(project: &mut Node, prefix: &str) {
    if let Some(Value::Map(services)) = project.get_mut("services").map(|s| &mut s.value) {
        for (_, s) in services.iter_mut() {
            rebase(s, prefix);
        }
    }
    for key in ["secrets", "configs"] {
        if let Some(Value::Map(items)) = project.get_mut(key).map(|s| &mut s.value) {
            for (_, item) in items.iter_mut() {
                if let Some(Node { value: Value::Scalar { text, .. }, .. }) = item.get_mut("file") {
                    if !text.starts_with('/') {
                        *text = join(prefix, text);
                    }
                }
            }
        }
    }
}

/// Imports the resources of `imported` into `file`; the file's own keys win.
fn import(file: &mut Node, imported: Node) -> Result<(), ComposeError> {
    let Value::Map(sections) = imported.value else { return Ok(()) };
    for (key, section) in sections {
        if !RESOURCES.contains(&key.as_str()) {
            continue;
        }
        let Value::Map(items) = section.value else { continue };
        let Value::Map(top) = &mut file.value else { return Ok(()) };
        if !top.iter().any(|(k, _)| *k == key) {
            top.push((
                key.clone(),
                Node { value: Value::Map(Vec::new()), tag: None, line: section.line, col: section.col },
            ));
        }
        let Some((_, target)) = top.iter_mut().find(|(k, _)| *k == key) else { continue };
        let Value::Map(targets) = &mut target.value else { continue };
        for (name, item) in items {
            match targets.iter().position(|(k, _)| *k == name) {
                None => targets.push((name, item)),
                Some(i) => {
                    let (_, mine) = targets.remove(i);
                    let merged = crate::merge::merge_resource(&key, &name, item, mine)?;
                    targets.insert(i, (name, merged));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    fn run(main: &str, others: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Node, ComposeError> {
        let others: Vec<(String, String)> =
            others.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let read = |p: &str| -> Result<String, String> {
            others.iter().find(|(n, _)| n == p).map(|(_, t)| t.clone()).ok_or_else(|| "no such file".into())
        };
        let env: Vec<(String, String)> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let mut tree = parse(main, "app/compose.yaml")?;
        apply_include(&mut tree, "app/compose.yaml", &read, &lookup, &mut Vec::new())?;
        Ok(tree)
    }

    #[test]
    fn included_projects_are_imported_with_their_own_variables_and_paths() {
        let db_file = "services:\n  db:\n    image: db:${DB_TAG}\n    volumes: ['./data:/data']\n    env_file: ./db.env\nsecrets:\n  pw: {file: ./pw.txt}\n";
        let tree = run(
            "include:\n  - ../db/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n",
            &[("db/compose.yaml", db_file), ("db/.env", "DB_TAG=15\n")],
            &[],
        )
        .unwrap();
        assert!(tree.get("include").is_none());
        let db = tree.get("services").unwrap().get("db").unwrap();
        assert_eq!(db.get("image").unwrap().text(), Some("db:15"));
        let volumes = db.get("volumes").unwrap();
        let Value::Seq(v) = &volumes.value else { panic!() };
        assert_eq!(v[0].text(), Some("../db/data:/data"));
        assert_eq!(
            tree.get("secrets").unwrap().get("pw").unwrap().get("file").unwrap().text(),
            Some("../db/pw.txt")
        );
        // The environment wins over the included .env; the including file's keys over the
        // imported ones.
        let tree = run(
            "include:\n  - path: ../db/compose.yaml\nservices:\n  db:\n    restart: always\n",
            &[("db/compose.yaml", db_file), ("db/.env", "DB_TAG=15\n")],
            &[("DB_TAG", "16")],
        )
        .unwrap();
        let db = tree.get("services").unwrap().get("db").unwrap();
        assert_eq!(db.get("image").unwrap().text(), Some("db:16"));
        assert_eq!(db.get("restart").unwrap().text(), Some("always"));
    }

    #[test]
    fn relative_paths_between_directories() {
        for (from, to, want) in [
            ("app", "db", "../db"),
            ("app", "app/sub", "sub"),
            ("", "x/y", "x/y"),
            ("a/b", "a", ".."),
            ("a", "a", ""),
        ] {
            assert_eq!(relative(from, to), want, "{from} -> {to}");
        }
    }

    #[test]
    fn says_what_cannot_be_included() {
        let err = run("include: [missing.yaml]\n", &[], &[]).unwrap_err();
        assert_eq!(err.to_string(), "cannot read app/missing.yaml: no such file");
        let a = "include: [b.yaml]\nservices: {}\n";
        let b = "include: [compose.yaml]\nservices: {}\n";
        let err = run(a, &[("app/b.yaml", b), ("app/compose.yaml", a)], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "include cycle detected:\napp/compose.yaml\n include app/b.yaml\n include app/compose.yaml"
        );
        let err = run(
            "include:\n  - path: x.yaml\n    env_file: nope.env\n",
            &[("app/x.yaml", "services: {}\n")],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "cannot read app/nope.env: no such file");
    }
}
