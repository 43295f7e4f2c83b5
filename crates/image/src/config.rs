//! Docker's image config (a superset of OCI's), chain IDs, and `--change` instructions.

use std::collections::BTreeMap;

use berth_content::Digest;
use serde::{Deserialize, Serialize};

use crate::ImageError;

/// The container defaults an image carries (`config` in the image config).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The image config blob. Loaded configs are kept byte for byte (the ID is their digest); this
/// type reads them and writes new ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub os: String,
    #[serde(default, rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default)]
    pub rootfs: RootFs,
    /// The steps of the build that made this image, by cache key, so that the image serves as
    /// `--cache-from` wherever it is pulled. Not inherited by images made from it.
    #[serde(default, rename = "berth.build.cache.v0", skip_serializing_if = "Vec::is_empty")]
    pub build_cache: Vec<CacheLink>,
}

/// One step of the build that made an image: the step's cache key, and how many of the image's
/// layers and history lines the step's result had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLink {
    pub key: String,
    pub layers: usize,
    pub history: usize,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ImageError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ImageError::InvalidArchive(format!("invalid image config: {e}")))
    }
}

/// Chain IDs of a layer stack: `chain[0] = diff[0]`, `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Applies `--change` instructions (Dockerfile syntax, the instructions `docker import` and
/// `docker commit` accept) to a container config.
pub fn apply_changes(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ImageError> {
    for change in changes {
        let line = change.trim();
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let bad = |why: &str| ImageError::InvalidArgument(format!("invalid change {line:?}: {why}"));
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => config.cmd = Some(exec_or_shell(rest, config)),
            "ENTRYPOINT" => config.entrypoint = Some(exec_or_shell(rest, config)),
            "SHELL" => config.shell = Some(json_array(rest).ok_or_else(|| bad("SHELL needs a JSON array"))?),
            "WORKDIR" => {
                if rest.is_empty() {
                    return Err(bad("WORKDIR needs a path"));
                }
                let base = config.working_dir.clone().unwrap_or_else(|| "/".into());
                config.working_dir = Some(if rest.starts_with('/') {
                    rest.to_string()
                } else {
                    format!("{}/{rest}", base.trim_end_matches('/'))
                });
            }
            "USER" => config.user = Some(rest.to_string()),
            "STOPSIGNAL" => config.stop_signal = Some(rest.to_string()),
            "ENV" => {
                let env = config.env.get_or_insert_with(Vec::new);
                for (k, v) in key_values(rest).ok_or_else(|| bad("ENV needs key=value or key value"))? {
                    env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                let labels = config.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in key_values(rest).ok_or_else(|| bad("LABEL needs key=value"))? {
                    labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in rest.split_whitespace() {
                    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                    if port.parse::<u16>().is_err() || !["tcp", "udp", "sctp"].contains(&proto) {
                        return Err(bad("EXPOSE needs port[/protocol]"));
                    }
                    ports.insert(format!("{port}/{proto}"), serde_json::json!({}));
                }
            }
            "VOLUME" => {
                let vols = config.volumes.get_or_insert_with(BTreeMap::new);
                let list =
                    json_array(rest).unwrap_or_else(|| rest.split_whitespace().map(str::to_string).collect());
                if list.is_empty() {
                    return Err(bad("VOLUME needs a path"));
                }
                for v in list {
                    vols.insert(v, serde_json::json!({}));
                }
            }
            "ONBUILD" => config.on_build.get_or_insert_with(Vec::new).push(rest.to_string()),
            "HEALTHCHECK" => {
                if rest.eq_ignore_ascii_case("NONE") {
                    config.healthcheck = Some(serde_json::json!({"Test": ["NONE"]}));
                } else {
                    let cmd = rest
                        .strip_prefix("CMD")
                        .or_else(|| rest.strip_prefix("cmd"))
                        .ok_or_else(|| bad("HEALTHCHECK needs CMD or NONE"))?;
                    let test = match json_array(cmd.trim()) {
                        Some(args) => [vec!["CMD".to_string()], args].concat(),
                        None => vec!["CMD-SHELL".to_string(), cmd.trim().to_string()],
                    };
                    config.healthcheck = Some(serde_json::json!({ "Test": test }));
                }
            }
            other => {
                return Err(ImageError::InvalidArgument(format!("{other} is not a valid change command")));
            }
        }
    }
    Ok(())
}

fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str(s).ok()
}

fn exec_or_shell(s: &str, config: &ContainerConfig) -> Vec<String> {
    json_array(s).unwrap_or_else(|| {
        let mut shell = config.shell.clone().unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        shell.push(s.to_string());
        shell
    })
}

/// `k=v k2="v 2"` or the legacy `k v`.
fn key_values(s: &str) -> Option<Vec<(String, String)>> {
    let first = s.split_whitespace().next()?;
    if !first.contains('=') {
        let (k, v) = s.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        let mut value = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, '"') | (None, '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => break,
                (_, '\\') => {
                    chars.next();
                    if let Some(n) = chars.peek() {
                        value.push(*n);
                    }
                }
                _ => value.push(c),
            }
            chars.next();
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let chain = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chain[0], a);
        assert_eq!(chain[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn changes_table() {
        type Check = Box<dyn Fn(&ContainerConfig) -> bool>;
        let cases: Vec<(&str, Check)> = vec![
            (
                r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
                Box::new(|c| {
                    c.cmd.as_deref() == Some(&["/bin/sh".into(), "-c".into(), "echo hi".into()][..])
                }),
            ),
            (
                "CMD echo hi",
                Box::new(|c| {
                    c.cmd.as_deref() == Some(&["/bin/sh".into(), "-c".into(), "echo hi".into()][..])
                }),
            ),
            (r#"ENTRYPOINT ["/init"]"#, Box::new(|c| c.entrypoint.as_deref() == Some(&["/init".into()][..]))),
            (
                "ENV A=1 B=\"two words\"",
                Box::new(|c| c.env.as_deref() == Some(&["A=1".into(), "B=two words".into()][..])),
            ),
            (
                "ENV LEGACY some value",
                Box::new(|c| c.env.as_deref() == Some(&["LEGACY=some value".into()][..])),
            ),
            ("WORKDIR /srv", Box::new(|c| c.working_dir.as_deref() == Some("/srv"))),
            (
                "EXPOSE 80 53/udp",
                Box::new(|c| {
                    c.exposed_ports.as_ref().unwrap().keys().cloned().collect::<Vec<_>>()
                        == ["53/udp", "80/tcp"]
                }),
            ),
            ("LABEL a=b c=d", Box::new(|c| c.labels.as_ref().unwrap().len() == 2)),
            ("USER 1000:1000", Box::new(|c| c.user.as_deref() == Some("1000:1000"))),
            (r#"VOLUME ["/data", "/logs"]"#, Box::new(|c| c.volumes.as_ref().unwrap().len() == 2)),
            ("VOLUME /data", Box::new(|c| c.volumes.as_ref().unwrap().contains_key("/data"))),
            ("STOPSIGNAL SIGINT", Box::new(|c| c.stop_signal.as_deref() == Some("SIGINT"))),
            (
                "HEALTHCHECK CMD true",
                Box::new(|c| c.healthcheck == Some(serde_json::json!({"Test": ["CMD-SHELL", "true"]}))),
            ),
        ];
        for (change, check) in cases {
            let mut c = ContainerConfig::default();
            apply_changes(&mut c, &[change.to_string()]).unwrap_or_else(|e| panic!("{change}: {e}"));
            assert!(check(&c), "{change}: {c:?}");
        }
        for bad in ["ADD . /", "RUN true", "EXPOSE http", "WORKDIR", "ENV =x"] {
            let err = apply_changes(&mut ContainerConfig::default(), &[bad.to_string()]);
            assert!(err.is_err(), "{bad}");
        }
        let err = apply_changes(&mut ContainerConfig::default(), &["ADD . /".into()]).unwrap_err();
        assert_eq!(err.to_string(), "ADD is not a valid change command");
    }
}
