//! Contexts, stored as Docker stores them: `<config dir>/contexts/meta/<sha256 of the name>/
//! meta.json` (`{"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host",
//! "SkipTLSVerify"}}}`) and the current one in `config.json`'s `currentContext`. The docker CLI
//! and berth read each other's contexts.

use std::path::PathBuf;

use serde_json::{json, Value};
use sha2::Digest;

use crate::cmd::{ContextCmd, ContextCreateArgs};
use crate::template::{render_rows, Format, Row};
use crate::{Failure, Result};

/// The client's configuration directory: `--config`, `DOCKER_CONFIG`, or `~/.docker`.
pub fn config_dir() -> PathBuf {
    match std::env::var("DOCKER_CONFIG") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".docker"),
    }
}

fn meta_dir(name: &str) -> PathBuf {
    config_dir().join("contexts").join("meta").join(hex::encode(sha2::Sha256::digest(name.as_bytes())))
}

fn read_config() -> Value {
    std::fs::read_to_string(config_dir().join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({}))
}

fn write_config(v: &Value) -> Result {
    let dir = config_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Failure::new(1, e.to_string()))?;
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(dir.join("config.json"), text).map_err(|e| Failure::new(1, e.to_string()))
}

/// Docker's words for a context that is not stored.
fn not_found(name: &str) -> Failure {
    let path = meta_dir(name).join("meta.json");
    Failure::new(
        1,
        format!("context \"{name}\": context not found: open {}: no such file or directory", path.display()),
    )
}

/// A stored context's document.
pub fn load(name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(meta_dir(name).join("meta.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The context in force: `--context`, else `DOCKER_CONTEXT`, else `currentContext`.
pub fn current(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("DOCKER_CONTEXT").ok().filter(|s| !s.is_empty()))
        .or_else(|| read_config()["currentContext"].as_str().map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// The daemon address a named context points at (`None` for `default`).
pub fn host_of(name: &str) -> std::result::Result<Option<String>, Failure> {
    if name == "default" {
        return Ok(None);
    }
    let meta = load(name).ok_or_else(|| not_found(name))?;
    Ok(meta["Endpoints"]["docker"]["Host"].as_str().map(str::to_string))
}

/// Docker's rule for context names.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
}

/// `--docker host=…,skip-tls-verify=…`.
fn endpoint(spec: &str) -> std::result::Result<Value, Failure> {
    let mut host = None;
    let mut skip = false;
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        match field.split_once('=') {
            Some(("host", h)) => host = Some(h.to_string()),
            Some(("skip-tls-verify", v)) => skip = v == "true",
            Some(("ca" | "cert" | "key", _)) => {}
            _ => {
                return Err(Failure::new(
                    1,
                    format!("unable to parse docker endpoint: unrecognized config key: {field}"),
                ))
            }
        }
    }
    let host = host.unwrap_or_else(|| berth_client::DEFAULT_HOST.to_string());
    berth_client::Host::parse(&host).map_err(|e| Failure::new(1, e.to_string()))?;
    Ok(json!({"Host": host, "SkipTLSVerify": skip}))
}

fn create(a: ContextCreateArgs) -> Result {
    if !valid_name(&a.name) || a.name == "default" {
        return Err(Failure::new(1, format!("context name {:?} is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\"", a.name)));
    }
    if load(&a.name).is_some() {
        return Err(Failure::new(1, format!("context \"{}\" already exists", a.name)));
    }
    let meta = json!({
        "Name": a.name,
        "Metadata": {"Description": a.description.clone().unwrap_or_default()},
        "Endpoints": {"docker": endpoint(a.docker.as_deref().unwrap_or(""))?},
    });
    let dir = meta_dir(&a.name);
    std::fs::create_dir_all(&dir).map_err(|e| Failure::new(1, e.to_string()))?;
    std::fs::write(dir.join("meta.json"), serde_json::to_vec(&meta).unwrap_or_default())
        .map_err(|e| Failure::new(1, e.to_string()))?;
    println!("{}", a.name);
    eprintln!("Successfully created context \"{}\"", a.name);
    Ok(())
}

fn names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(config_dir().join("contexts").join("meta"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("meta.json")).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .filter_map(|m| m["Name"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

pub fn run(cmd: ContextCmd, flag: Option<&str>) -> Result {
    match cmd {
        ContextCmd::Create(a) => create(a),
        ContextCmd::Use { name } => {
            if name != "default" && load(&name).is_none() {
                return Err(not_found(&name));
            }
            let mut cfg = read_config();
            cfg["currentContext"] = if name == "default" { json!(null) } else { json!(name) };
            if let Some(o) = cfg.as_object_mut() {
                o.retain(|k, v| !(k == "currentContext" && v.is_null()));
            }
            write_config(&cfg)?;
            println!("{name}");
            eprintln!("Current context is now \"{name}\"");
            Ok(())
        }
        ContextCmd::Show => {
            println!("{}", current(flag));
            Ok(())
        }
        ContextCmd::Rm { names: list, force: _ } => {
            let mut failed = false;
            for n in list {
                if n == "default" || load(&n).is_none() {
                    eprintln!("context \"{n}\" does not exist");
                    failed = true;
                    continue;
                }
                let _ = std::fs::remove_dir_all(meta_dir(&n));
                if read_config()["currentContext"] == n.as_str() {
                    let mut cfg = read_config();
                    if let Some(o) = cfg.as_object_mut() {
                        o.remove("currentContext");
                    }
                    write_config(&cfg)?;
                }
                println!("{n}");
            }
            if failed {
                Err(Failure::exit(1))
            } else {
                Ok(())
            }
        }
        ContextCmd::Inspect { names: list } => {
            let list = if list.is_empty() { vec![current(flag)] } else { list };
            let mut out = Vec::new();
            for n in list {
                let mut meta = if n == "default" {
                    json!({"Name": "default", "Metadata": {}, "Endpoints": {"docker": {"Host": default_endpoint(), "SkipTLSVerify": false}}})
                } else {
                    load(&n).ok_or_else(|| not_found(&n))?
                };
                let id =
                    meta_dir(&n).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                let (meta_path, tls_path) = if n == "default" {
                    ("<IN MEMORY>".to_string(), "<IN MEMORY>".to_string())
                } else {
                    let root = config_dir().join("contexts");
                    (
                        root.join("meta").join(&id).display().to_string(),
                        root.join("tls").join(&id).display().to_string(),
                    )
                };
                meta["TLSMaterial"] = json!({});
                meta["Storage"] = json!({"MetadataPath": meta_path, "TLSPath": tls_path});
                out.push(meta);
            }
            println!("{}", crate::system::pretty(&Value::Array(out)));
            Ok(())
        }
        ContextCmd::Ls { format, quiet } => {
            if std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty()) {
                eprintln!("Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.");
            }
            let cur = current(flag);
            // Sorted by name, `default` among them, as the docker CLI lists them.
            let mut all = vec!["default".to_string()];
            all.extend(names());
            all.sort();
            if quiet {
                for n in all {
                    println!("{n}");
                }
                return Ok(());
            }
            let rows: Vec<Row> = all
                .iter()
                .map(|n| {
                    let (desc, host) = if n == "default" {
                        ("Current DOCKER_HOST based configuration".to_string(), default_endpoint())
                    } else {
                        let m = load(n).unwrap_or_default();
                        (
                            m["Metadata"]["Description"].as_str().unwrap_or("").to_string(),
                            m["Endpoints"]["docker"]["Host"].as_str().unwrap_or("").to_string(),
                        )
                    };
                    let name = if *n == cur && format.is_none() { format!("{n} *") } else { n.clone() };
                    Row {
                        fields: vec![
                            ("Name", name),
                            ("Current", (*n == cur).to_string()),
                            ("Description", desc),
                            ("DockerEndpoint", host),
                            ("Error", String::new()),
                        ],
                        nulls: &[],
                        labels: Default::default(),
                    }
                })
                .collect();
            let headers = [
                ("Name", "NAME"),
                ("Description", "DESCRIPTION"),
                ("DockerEndpoint", "DOCKER ENDPOINT"),
                ("Error", "ERROR"),
            ];
            let format = format.as_deref().map(Format::parse).unwrap_or(Format::Table(None));
            let text = render_rows(
                &format,
                "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
                &headers,
                &rows,
            )
            .map_err(|e| Failure::new(1, e))?;
            print!("{text}");
            Ok(())
        }
    }
}

/// Where the `default` context points: `DOCKER_HOST`, else berthd's socket.
fn default_endpoint() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| berth_client::DEFAULT_HOST.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_endpoints() {
        for (n, ok) in [("prod", true), ("a.b-c_d+e", true), ("-x", false), ("", false), ("a/b", false)] {
            assert_eq!(valid_name(n), ok, "{n}");
        }
        assert_eq!(
            endpoint("host=unix:///x.sock").unwrap(),
            json!({"Host": "unix:///x.sock", "SkipTLSVerify": false})
        );
        assert!(endpoint("hots=x").is_err());
        assert!(endpoint("host=udp://x").is_err());
    }
}
