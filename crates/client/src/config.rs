//! The client's configuration file, Docker's `config.json` (in `DOCKER_CONFIG`, else
//! `~/.docker`), shared with the docker CLI: registry credentials (`auths`, with a
//! `credsStore` or per-registry `credHelpers` keeping them in `docker-credential-<name>`
//! helpers instead), `detachKeys`, `psFormat`, `currentContext`. Keys berth does not know are
//! kept as they are when the file is written; it is written whole, to a temporary file renamed
//! into place, readable by its owner only (it may hold passwords).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

/// The configuration directory: `DOCKER_CONFIG`, else `~/.docker`.
pub fn dir() -> PathBuf {
    match std::env::var("DOCKER_CONFIG") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".docker"),
    }
}

/// A registry login.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub username: String,
    /// The password, or an identity token when `username` is `<token>`.
    pub secret: String,
}

impl Credentials {
    /// The `X-Registry-Auth` header for these credentials at `registry` (base64url JSON).
    pub fn registry_auth(&self, registry: &str) -> String {
        base64::engine::general_purpose::URL_SAFE.encode(self.auth_config(registry).to_string())
    }

    /// Docker's `AuthConfig` JSON of these credentials at `registry`.
    fn auth_config(&self, registry: &str) -> Value {
        if self.username == "<token>" {
            serde_json::json!({ "identitytoken": self.secret, "serveraddress": registry })
        } else {
            serde_json::json!({ "username": self.username, "password": self.secret, "serveraddress": registry })
        }
    }
}

/// The `X-Registry-Config` header of a build: each registry's credentials, base64url JSON.
pub fn registry_config(all: &[(String, Credentials)]) -> String {
    let mut m = Map::new();
    for (registry, c) in all {
        m.insert(registry.clone(), c.auth_config(registry));
    }
    base64::engine::general_purpose::URL_SAFE.encode(Value::Object(m).to_string())
}

/// The `X-Registry-Auth` header of anonymous access.
pub const ANONYMOUS_AUTH: &str = "e30=";

/// Where Docker keeps Docker Hub's credentials (`auths` key and helper argument).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The key a registry's credentials are kept under: its host, or Docker Hub's URL.
pub fn auth_key(domain: &str) -> &str {
    if domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io" {
        DOCKER_HUB_KEY
    } else {
        domain
    }
}

/// Why the configuration or a credential helper failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("loading the client configuration {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("saving the client configuration {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("credential helper docker-credential-{helper}: {reason}")]
    Helper { helper: String, reason: String },
}

/// The file, as read: every key kept.
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl Config {
    /// Reads `config.json` from `dir` (an absent file is an empty configuration).
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let path = dir.join("config.json");
        let doc = match std::fs::read_to_string(&path) {
            Ok(t) if t.trim().is_empty() => Map::new(),
            Ok(t) => match serde_json::from_str::<Value>(&t) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(ConfigError::Read { path, reason: "not a JSON object".into() }),
                Err(e) => return Err(ConfigError::Read { path, reason: e.to_string() }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(ConfigError::Read { path, reason: e.to_string() }),
        };
        Ok(Config { path, doc })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A string key (`detachKeys`, `psFormat`, `currentContext`); empty counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.doc.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// Sets (or, with `None`, removes) a string key.
    pub fn set(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.doc.insert(key.into(), Value::String(v.into())),
            None => self.doc.remove(key),
        };
    }

    /// The helper that keeps `registry`'s credentials: its `credHelpers` entry (an empty one
    /// means this file), else `credsStore`.
    pub fn helper_for(&self, registry: &str) -> Option<String> {
        self.doc
            .get("credHelpers")
            .and_then(|h| h.get(registry))
            .and_then(Value::as_str)
            .or_else(|| self.get("credsStore"))
            .filter(|h| !h.is_empty())
            .map(str::to_string)
    }

    /// Every registry's credentials this file or its per-registry helpers give (a build's
    /// `X-Registry-Config`); a helper that fails leaves its registry out.
    pub fn all_credentials(&self) -> Vec<(String, Credentials)> {
        let mut names: Vec<String> = Vec::new();
        for key in ["auths", "credHelpers"] {
            if let Some(m) = self.doc.get(key).and_then(Value::as_object) {
                names.extend(m.keys().cloned());
            }
        }
        names.sort();
        names.dedup();
        names.into_iter().filter_map(|n| Some((n.clone(), self.credentials(&n).ok()??))).collect()
    }

    /// Whether credentials saved for `registry` would go to this file in plain text.
    pub fn stores_in_file(&self, registry: &str) -> bool {
        self.helper_for(registry).is_none()
    }

    /// `registry`'s credentials, from its helper or from `auths` (`auth` is base64 of
    /// `user:password`; `identitytoken` stands for the password under `<token>`).
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, ConfigError> {
        if let Some(h) = self.helper_for(registry) {
            return helper_get(&h, registry);
        }
        let Some(entry) = self.doc.get("auths").and_then(|a| a.get(registry)) else { return Ok(None) };
        if let Some(token) = entry.get("identitytoken").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials { username: "<token>".into(), secret: token.into() }));
        }
        let Some(auth) = entry.get("auth").and_then(Value::as_str).filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let bad = |reason: &str| ConfigError::Read {
            path: self.path.clone(),
            reason: format!("auths.{registry}: {reason}"),
        };
        let raw =
            base64::engine::general_purpose::STANDARD.decode(auth).map_err(|_| bad("auth is not base64"))?;
        let text = String::from_utf8(raw).map_err(|_| bad("auth is not text"))?;
        let (u, p) = text.split_once(':').ok_or_else(|| bad("auth is not user:password"))?;
        Ok(Some(Credentials { username: u.into(), secret: p.into() }))
    }

    /// Saves `registry`'s credentials: to its helper, else into `auths`. The file is written
    /// either way (an `auths` entry without credentials tells the docker CLI a helper has them).
    pub fn store_credentials(&mut self, registry: &str, c: &Credentials) -> Result<(), ConfigError> {
        let entry = match self.helper_for(registry) {
            Some(h) => {
                helper_store(&h, registry, c)?;
                Value::Object(Map::new())
            }
            // An identity token is kept as Docker keeps it, on its own.
            None if c.username == "<token>" => serde_json::json!({ "identitytoken": c.secret }),
            None => {
                let auth =
                    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.secret));
                serde_json::json!({ "auth": auth })
            }
        };
        self.auths().insert(registry.into(), entry);
        self.save()
    }

    /// Forgets `registry`'s credentials (its helper's and the file's). Says whether there were
    /// any in the file.
    pub fn erase_credentials(&mut self, registry: &str) -> Result<bool, ConfigError> {
        if let Some(h) = self.helper_for(registry) {
            helper_erase(&h, registry)?;
        }
        let had = self.auths().remove(registry).is_some();
        self.save()?;
        Ok(had)
    }

    fn auths(&mut self) -> &mut Map<String, Value> {
        let v = self.doc.entry("auths").or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v.as_object_mut().expect("an object")
    }

    /// Writes the file: to a temporary file beside it (mode 0600), then renamed over it.
    pub fn save(&self) -> Result<(), ConfigError> {
        let bad = |e: std::io::Error| ConfigError::Write { path: self.path.clone(), reason: e.to_string() };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(bad)?;
        let tmp = dir.join(format!(".config.json.{}", std::process::id()));
        let text = serde_json::to_string_pretty(&Value::Object(self.doc.clone())).expect("JSON");
        let written = (|| {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f =
                std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(bad)
    }
}

/// Runs `docker-credential-<helper> <verb>` with `input` on its stdin.
fn helper(helper: &str, verb: &str, input: &[u8]) -> Result<(bool, String), ConfigError> {
    let fail = |reason: String| ConfigError::Helper { helper: helper.into(), reason };
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it ({e}): install it, or remove it from config.json")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((
        out.status.success(),
        if text.is_empty() { String::from_utf8_lossy(&out.stderr).trim().into() } else { text },
    ))
}

fn helper_get(name: &str, registry: &str) -> Result<Option<Credentials>, ConfigError> {
    let (ok, text) = helper(name, "get", registry.as_bytes())?;
    if !ok {
        // The helpers' protocol: this text means there is nothing stored.
        if text.contains("credentials not found in native keychain") {
            return Ok(None);
        }
        return Err(ConfigError::Helper { helper: name.into(), reason: text });
    }
    let v: BTreeMap<String, Value> = serde_json::from_str(&text).map_err(|e| ConfigError::Helper {
        helper: name.into(),
        reason: format!("unreadable answer: {e}"),
    })?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(Some(Credentials { username: s("Username"), secret: s("Secret") }))
}

fn helper_store(name: &str, registry: &str, c: &Credentials) -> Result<(), ConfigError> {
    let input = serde_json::json!({"ServerURL": registry, "Username": c.username, "Secret": c.secret});
    match helper(name, "store", input.to_string().as_bytes())? {
        (true, _) => Ok(()),
        (false, text) => Err(ConfigError::Helper { helper: name.into(), reason: text }),
    }
}

fn helper_erase(name: &str, registry: &str) -> Result<(), ConfigError> {
    match helper(name, "erase", registry.as_bytes())? {
        (true, _) => Ok(()),
        (false, text) => Err(ConfigError::Helper { helper: name.into(), reason: text }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_round_trip_and_unknown_keys_stay() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"psFormat": "{{.ID}}", "plugins": {"x": {"y": 1}}, "auths": {"old.example": {"auth": "dTpw"}}}"#,
        )
        .unwrap();
        let mut c = Config::load(dir.path()).unwrap();
        assert_eq!(
            c.credentials("old.example").unwrap(),
            Some(Credentials { username: "u".into(), secret: "p".into() })
        );
        assert_eq!(c.credentials("other.example").unwrap(), None);
        assert!(c.stores_in_file("localhost:5000"));
        let me = Credentials { username: "me".into(), secret: "s3:cr3t".into() };
        c.store_credentials("localhost:5000", &me).unwrap();
        let again = Config::load(dir.path()).unwrap();
        assert_eq!(again.credentials("localhost:5000").unwrap(), Some(me));
        assert_eq!(again.get("psFormat"), Some("{{.ID}}"));
        assert_eq!(again.doc["plugins"]["x"]["y"], 1, "an unknown key is kept");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(again.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut again = again;
        assert!(again.erase_credentials("localhost:5000").unwrap());
        assert!(!Config::load(dir.path()).unwrap().erase_credentials("localhost:5000").unwrap());
        std::fs::write(dir.path().join("config.json"), "[1]").unwrap();
        assert!(Config::load(dir.path()).unwrap_err().to_string().contains("not a JSON object"));
    }

    #[test]
    fn identity_tokens_and_helpers_are_chosen_as_docker_chooses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"credsStore": "desktop", "credHelpers": {"gcr.example": "gcloud", "plain.example": ""},
                "auths": {"tok.example": {"identitytoken": "abc"}}}"#,
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.helper_for("gcr.example").as_deref(), Some("gcloud"));
        assert_eq!(c.helper_for("any.example").as_deref(), Some("desktop"));
        // An empty entry names the file itself, whatever credsStore says (as Docker reads it).
        assert_eq!(c.helper_for("plain.example"), None);
        assert!(!c.stores_in_file("any.example"));
        let err = c.credentials("any.example").unwrap_err().to_string();
        assert!(err.contains("docker-credential-desktop") && err.contains("cannot run it"), "{err}");
        let mut no_store = c.clone();
        no_store.set("credsStore", None);
        assert_eq!(
            no_store.credentials("tok.example").unwrap(),
            Some(Credentials { username: "<token>".into(), secret: "abc".into() })
        );
    }
}
