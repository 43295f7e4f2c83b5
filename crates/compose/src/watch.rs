//! `watch`, the pure part: which rule of `develop.watch` a changed host path falls under, and
//! what that asks for. A path belongs to the first rule of its service whose `path` holds it
//! and whose `ignore` patterns (`.dockerignore`'s syntax, relative to the rule's path) leave it;
//! `.git` and editors' swap files are always ignored, as Compose ignores them. A sync maps the
//! path below the rule's `target`; a path that no longer exists is deleted there.

use berth_build::ignore::Ignore;

use crate::model::{Service, WatchRule};
use crate::ComposeError;

/// What a batch of changes asks of one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    pub service: String,
    /// Files to copy in: host path → container path.
    pub copy: Vec<(String, String)>,
    /// Container paths to delete.
    pub delete: Vec<String>,
    pub rebuild: bool,
    pub restart: bool,
    /// Commands to run in the containers after the sync (`sync+exec`).
    pub exec: Vec<Vec<String>>,
}

/// A rule's ignore patterns, compiled.
struct Compiled<'a> {
    rule: &'a WatchRule,
    ignore: Ignore,
}

fn always_ignored(rel: &str) -> bool {
    rel.split('/').any(|part| part == ".git")
        || rel.ends_with('~')
        || rel.ends_with(".swp")
        || rel.ends_with(".swx")
        || rel.rsplit('/').next().is_some_and(|f| f.starts_with(".#"))
}

/// `path` relative to `root`, when it is `root` or below it.
fn below(root: &str, path: &str) -> Option<String> {
    let root = root.trim_end_matches('/');
    if path == root {
        return Some(String::new());
    }
    path.strip_prefix(root).and_then(|r| r.strip_prefix('/')).map(String::from)
}

/// The changes of `paths` (host paths, absolute) for the services' rules; `exists` tells a
/// changed path from a removed one.
pub fn changes(
    services: &[Service],
    paths: &[String],
    exists: &dyn Fn(&str) -> bool,
) -> Result<Vec<Changes>, ComposeError> {
    let mut out = Vec::new();
    for s in services {
        let rules = s
            .watch
            .iter()
            .map(|rule| {
                Ignore::parse(&rule.ignore.join("\n")).map(|ignore| Compiled { rule, ignore }).map_err(|e| {
                    ComposeError::Project { why: format!("service {:?}: develop.watch ignore: {e}", s.name) }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut c = Changes { service: s.name.clone(), ..Changes::default() };
        for path in paths {
            let Some((rule, rel)) = rules.iter().find_map(|r| {
                let rel = below(&r.rule.path, path)?;
                (!always_ignored(&rel) && (rel.is_empty() || !r.ignore.excludes(&rel)))
                    .then_some((r.rule, rel))
            }) else {
                continue;
            };
            match rule.action.as_str() {
                "rebuild" => c.rebuild = true,
                "restart" => c.restart = true,
                action => {
                    let Some(target) = &rule.target else { continue };
                    let dest = if rel.is_empty() {
                        target.clone()
                    } else {
                        format!("{}/{rel}", target.trim_end_matches('/'))
                    };
                    if exists(path) {
                        if !c.copy.iter().any(|(h, _)| h == path) {
                            c.copy.push((path.clone(), dest));
                        }
                    } else if !c.delete.contains(&dest) {
                        c.delete.push(dest);
                    }
                    if action == "sync+restart" {
                        c.restart = true;
                    }
                    if action == "sync+exec" {
                        if let Some(cmd) = rule.exec.as_ref().filter(|x| !c.exec.contains(x)) {
                            c.exec.push(cmd.clone());
                        }
                    }
                }
            }
        }
        if !c.copy.is_empty() || !c.delete.is_empty() || c.rebuild || c.restart {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::decode;
    use crate::tree::parse;

    const YAML: &str = "services:
  web:
    image: web
    develop:
      watch:
        - {path: ./src, action: sync, target: /app/src, ignore: ['*.tmp', 'cache/']}
        - {path: ./conf, action: sync+restart, target: /etc/web}
        - {path: ./hooks, action: sync+exec, target: /hooks, exec: {command: reload}}
        - {path: ./package.json, action: rebuild}
  api:
    image: api
    develop:
      watch: [{path: ./src, action: restart}]
";

    fn services() -> Vec<Service> {
        decode(&parse(YAML, "f").unwrap(), "p", "/w").unwrap().services
    }

    #[test]
    fn each_change_follows_its_rule() {
        let exists = |p: &str| !p.ends_with("gone.txt");
        let cases: Vec<(&[&str], Vec<Changes>)> = vec![
            (
                &[
                    "/w/src/a.js",
                    "/w/src/gone.txt",
                    "/w/src/x.tmp",
                    "/w/src/cache/c",
                    "/w/src/.git/HEAD",
                    "/w/src/b.js~",
                ],
                vec![
                    Changes {
                        service: "web".into(),
                        copy: vec![("/w/src/a.js".into(), "/app/src/a.js".into())],
                        delete: vec!["/app/src/gone.txt".into()],
                        ..Changes::default()
                    },
                    Changes { service: "api".into(), restart: true, ..Changes::default() },
                ],
            ),
            (
                &["/w/conf/web.conf", "/w/hooks/h"],
                vec![Changes {
                    service: "web".into(),
                    copy: vec![
                        ("/w/conf/web.conf".into(), "/etc/web/web.conf".into()),
                        ("/w/hooks/h".into(), "/hooks/h".into()),
                    ],
                    restart: true,
                    exec: vec![vec!["reload".into()]],
                    ..Changes::default()
                }],
            ),
            (
                &["/w/package.json"],
                vec![Changes { service: "web".into(), rebuild: true, ..Changes::default() }],
            ),
            (&["/w/other/file", "/w/srcfoo"], vec![]),
        ];
        for (paths, want) in cases {
            let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            assert_eq!(changes(&services(), &paths, &exists).unwrap(), want, "{paths:?}");
        }
    }
}
