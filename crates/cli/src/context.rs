//! Contexts, stored as Docker stores them: `<config dir>/contexts/meta/<sha256 of the name>/
//! meta.json` (`{"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host",
//! "SkipTLSVerify"}}}`), the endpoint's TLS material in `contexts/tls/<sha256 of the name>/
//! docker/{ca,cert,key}.pem`, and the current one in `config.json`'s `currentContext`. The
//! docker CLI and berth read each other's contexts.
//!
//! Where TLS comes from: a named context's own material, or, for the `default` context
//! (`-H`, `DOCKER_HOST`), the `--tls*` flags with Docker's environment ([`default_tls`]).

use std::path::{Path, PathBuf};

use berth_client::config::Config as ClientConfig;
use berth_client::TlsFiles;

use serde_json::{json, Value};
use sha2::Digest;

use crate::cmd::{ContextCmd, ContextCreateArgs};
use crate::common::config_dir;
use crate::template::{render_rows, Format, Row};
use crate::{Failure, Result};

fn context_id(name: &str) -> String {
    hex::encode(sha2::Sha256::digest(name.as_bytes()))
}

fn meta_dir(name: &str) -> PathBuf {
    config_dir().join("contexts").join("meta").join(context_id(name))
}

/// Where a context keeps its docker endpoint's `ca.pem`, `cert.pem` and `key.pem`.
fn tls_dir(name: &str) -> PathBuf {
    config_dir().join("contexts").join("tls").join(context_id(name)).join("docker")
}

/// TLS for the daemon: the PEM files and whether the daemon's certificate is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub files: TlsFiles,
    pub verify: bool,
}

/// The `--tls*` flags, as given.
#[derive(Debug, Clone, Default)]
pub struct TlsFlags {
    pub tls: Option<bool>,
    pub verify: Option<bool>,
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// The default context's TLS, by Docker's rules: `--tlsverify` (else `DOCKER_TLS_VERIFY`
/// set) verifies; `--tlsverify` given at all, even `=false`, turns TLS on, and so do `--tls`
/// and `DOCKER_TLS`. The files default to `ca.pem`, `cert.pem` and `key.pem` in
/// `DOCKER_CERT_PATH` (else the configuration directory). A default certificate or key that
/// does not exist is left out; the CA is not, so verifying without one fails on the missing
/// file, as Docker's does. `None` when TLS is off.
pub fn default_tls(
    flags: &TlsFlags,
    env: impl Fn(&str) -> Option<String>,
    config_dir: &Path,
    exists: impl Fn(&Path) -> bool,
) -> Option<Tls> {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let verify = flags.verify.unwrap_or_else(|| set("DOCKER_TLS_VERIFY"));
    let on = verify || flags.verify.is_some() || flags.tls.unwrap_or_else(|| set("DOCKER_TLS"));
    if !on {
        return None;
    }
    let dir =
        env("DOCKER_CERT_PATH").filter(|d| !d.is_empty()).map(PathBuf::from).unwrap_or(config_dir.into());
    let pick = |flag: &Option<String>, name: &str| match flag {
        Some(f) => Some(PathBuf::from(f)),
        None => Some(dir.join(name)).filter(|p| exists(p)),
    };
    Some(Tls {
        files: TlsFiles {
            ca: Some(flags.ca.as_ref().map(PathBuf::from).unwrap_or_else(|| dir.join("ca.pem"))),
            cert: pick(&flags.cert, "cert.pem"),
            key: pick(&flags.key, "key.pem"),
        },
        verify,
    })
}

/// A named context's TLS: on when it holds TLS material or skips verification (Docker's
/// rule), verifying unless `SkipTLSVerify`.
pub fn context_tls(name: &str) -> std::result::Result<Option<Tls>, Failure> {
    if name == "default" {
        return Ok(None);
    }
    let meta = load(name).ok_or_else(|| not_found(name))?;
    let skip = meta["Endpoints"]["docker"]["SkipTLSVerify"].as_bool().unwrap_or(false);
    let dir = tls_dir(name);
    let file = |n: &str| Some(dir.join(n)).filter(|p| p.is_file());
    let files = TlsFiles { ca: file("ca.pem"), cert: file("cert.pem"), key: file("key.pem") };
    if files == TlsFiles::default() && !skip {
        return Ok(None);
    }
    Ok(Some(Tls { files, verify: !skip }))
}

/// The client's `config.json` (a damaged one reads as empty here, as the docker CLI warns and
/// goes on).
fn read_config() -> ClientConfig {
    ClientConfig::load(&config_dir()).unwrap_or_default()
}

/// Sets (or removes) `currentContext`, every other key kept.
fn set_current(name: Option<&str>) -> Result {
    let mut cfg = ClientConfig::load(&config_dir()).map_err(|e| Failure::new(1, e.to_string()))?;
    cfg.set("currentContext", name);
    cfg.save().map_err(|e| Failure::new(1, e.to_string()))
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
        .or_else(|| read_config().get("currentContext").map(str::to_string))
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

/// PEM files to store with a context: `ca.pem`, `cert.pem` or `key.pem`, and where each
/// comes from.
type Pems = Vec<(&'static str, PathBuf)>;

/// `--docker host=…,ca=…,cert=…,key=…,skip-tls-verify=…`: the endpoint's document, and the
/// PEM files to store with it.
fn endpoint(spec: &str) -> std::result::Result<(Value, Pems), Failure> {
    let mut host = None;
    let mut skip = false;
    let mut files = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        match field.split_once('=') {
            Some(("host", h)) => host = Some(h.to_string()),
            Some(("skip-tls-verify", v)) => skip = v == "true",
            Some(("ca", p)) => files.push(("ca.pem", PathBuf::from(p))),
            Some(("cert", p)) => files.push(("cert.pem", PathBuf::from(p))),
            Some(("key", p)) => files.push(("key.pem", PathBuf::from(p))),
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
    Ok((json!({"Host": host, "SkipTLSVerify": skip}), files))
}

fn create(a: ContextCreateArgs) -> Result {
    if !valid_name(&a.name) || a.name == "default" {
        return Err(Failure::new(1, format!("context name {:?} is invalid, names are validated against regexp \"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$\"", a.name)));
    }
    if load(&a.name).is_some() {
        return Err(Failure::new(1, format!("context \"{}\" already exists", a.name)));
    }
    let (docker, files) = endpoint(a.docker.as_deref().unwrap_or(""))?;
    let meta = json!({
        "Name": a.name,
        "Metadata": {"Description": a.description.clone().unwrap_or_default()},
        "Endpoints": {"docker": docker},
    });
    // The TLS material is copied in, as Docker does: the context keeps working when the
    // originals move.
    let mut pems = Vec::new();
    for (name, from) in files {
        let text = std::fs::read(&from)
            .map_err(|e| Failure::new(1, format!("unable to read {name} from {}: {e}", from.display())))?;
        pems.push((name, text));
    }
    if !pems.is_empty() {
        let dir = tls_dir(&a.name);
        std::fs::create_dir_all(&dir).map_err(|e| Failure::new(1, e.to_string()))?;
        for (name, text) in pems {
            write_private(&dir.join(name), &text)?;
        }
    }
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
            set_current(if name == "default" { None } else { Some(&name) })?;
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
                if let Some(tls) = tls_dir(&n).parent() {
                    let _ = std::fs::remove_dir_all(tls);
                }
                if read_config().get("currentContext") == Some(n.as_str()) {
                    set_current(None)?;
                }
                println!("{n}");
            }
            if failed {
                Err(Failure::exit(1))
            } else {
                Ok(())
            }
        }
        ContextCmd::Inspect { format, names: list } => {
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
                let pems: Vec<&str> = ["ca.pem", "cert.pem", "key.pem"]
                    .into_iter()
                    .filter(|f| tls_dir(&n).join(f).is_file())
                    .collect();
                meta["TLSMaterial"] =
                    if n == "default" || pems.is_empty() { json!({}) } else { json!({"docker": pems}) };
                meta["Storage"] = json!({"MetadataPath": meta_path, "TLSPath": tls_path});
                out.push(meta);
            }
            match format.as_deref().filter(|f| !f.is_empty() && *f != "json") {
                None => println!("{}", crate::common::pretty(&Value::Array(out))),
                Some(f) => {
                    let tmpl = crate::template::Tmpl::new(f).map_err(|e| Failure::new(1, e))?;
                    for meta in &out {
                        println!(
                            "{}",
                            tmpl.render(&crate::template::from_json(meta)).map_err(|e| Failure::new(1, e))?
                        );
                    }
                }
            }
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

/// Writes a file only its owner can read (a private key may be among them).
fn write_private(path: &Path, bytes: &[u8]) -> Result {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| Failure::new(1, format!("write {}: {e}", path.display())))
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
    fn the_default_contexts_tls_follows_dockers_rules() {
        let exists = |p: &Path| p.starts_with("/certs") || p.starts_with("/home/.docker/ca.pem");
        let files = |ca: Option<&str>, cert: Option<&str>, key: Option<&str>| TlsFiles {
            ca: ca.map(PathBuf::from),
            cert: cert.map(PathBuf::from),
            key: key.map(PathBuf::from),
        };
        let flags = |tls: Option<bool>, verify: Option<bool>, ca: Option<&str>| TlsFlags {
            tls,
            verify,
            ca: ca.map(str::to_string),
            ..Default::default()
        };
        type Env = Vec<(&'static str, &'static str)>;
        let cases: Vec<(TlsFlags, Env, Option<Tls>)> = vec![
            // Nothing asks for TLS.
            (TlsFlags::default(), vec![], None),
            (TlsFlags::default(), vec![("DOCKER_CERT_PATH", "/certs")], None),
            (flags(None, None, None), vec![("DOCKER_TLS_VERIFY", "")], None),
            // DOCKER_TLS_VERIFY with DOCKER_CERT_PATH: all three files from there.
            (
                TlsFlags::default(),
                vec![("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs")],
                Some(Tls {
                    files: files(Some("/certs/ca.pem"), Some("/certs/cert.pem"), Some("/certs/key.pem")),
                    verify: true,
                }),
            ),
            // --tlsverify=false beats the environment's verification, but still means TLS.
            (
                flags(None, Some(false), None),
                vec![("DOCKER_TLS_VERIFY", "1")],
                Some(Tls { files: files(Some("/home/.docker/ca.pem"), None, None), verify: false }),
            ),
            // A CA that is only a default stays, so verifying without one says it is missing.
            (
                TlsFlags::default(),
                vec![("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/nothing")],
                Some(Tls { files: files(Some("/nothing/ca.pem"), None, None), verify: true }),
            ),
            // --tls alone: the config directory's files that exist; no verification.
            (
                flags(Some(true), None, None),
                vec![],
                Some(Tls { files: files(Some("/home/.docker/ca.pem"), None, None), verify: false }),
            ),
            // A file named by a flag is kept even if missing (loading it will say so).
            (
                flags(None, Some(true), Some("/elsewhere/ca.pem")),
                vec![],
                Some(Tls { files: files(Some("/elsewhere/ca.pem"), None, None), verify: true }),
            ),
        ];
        for (f, env, want) in cases {
            let got = default_tls(
                &f,
                |k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()),
                Path::new("/home/.docker"),
                exists,
            );
            assert_eq!(got, want, "{f:?} {env:?}");
        }
    }

    #[test]
    fn names_and_endpoints() {
        for (n, ok) in [("prod", true), ("a.b-c_d+e", true), ("-x", false), ("", false), ("a/b", false)] {
            assert_eq!(valid_name(n), ok, "{n}");
        }
        assert_eq!(
            endpoint("host=unix:///x.sock").unwrap().0,
            json!({"Host": "unix:///x.sock", "SkipTLSVerify": false})
        );
        let (doc, files) =
            endpoint("host=tcp://h:2376,ca=/p/ca,cert=/p/c,key=/p/k,skip-tls-verify=true").unwrap();
        assert_eq!(doc, json!({"Host": "tcp://h:2376", "SkipTLSVerify": true}));
        assert_eq!(
            files,
            vec![("ca.pem", "/p/ca".into()), ("cert.pem", "/p/c".into()), ("key.pem", "/p/k".into())]
        );
        assert!(endpoint("hots=x").is_err());
        assert!(endpoint("host=udp://x").is_err());
    }
}
