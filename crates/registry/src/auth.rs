//! Who may do what: none (an open registry), Basic auth against an htpasswd file (bcrypt), or
//! bearer tokens from the registry's own token endpoint, scoped per repository and action.
//!
//! Tokens are opaque to clients: `base64url(claims).base64url(HMAC-SHA256(claims))` under a key
//! kept in the storage root, so tokens outlive a restart. Refresh tokens (asked for with
//! `offline_token=true` or `access_type=offline`) are tokens of their own kind, good only at
//! the token endpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{io_err, Result};
use crate::records::now;

/// What a request needs: a resource and the actions on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    pub fn repository(name: &str, actions: &[&str]) -> Scope {
        Scope {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    pub fn catalog() -> Scope {
        Scope { kind: "registry".into(), name: "catalog".into(), actions: vec!["*".into()] }
    }

    /// `repository:name:pull,push` (a name may hold a port's colon: the actions follow the last).
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some(Scope {
            kind: kind.into(),
            name: name.into(),
            actions: actions.split(',').filter(|a| !a.is_empty()).map(str::to_string).collect(),
        })
    }

    pub fn to_header(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// One rule of who may do what. `account`: a user, `*` (anyone logged in) or `anonymous`;
/// `name`: a repository, or a pattern with `*` (`*` alone is every repository, and the catalog).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Rule {
    pub account: String,
    pub name: String,
    pub actions: Vec<String>,
}

fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// The actions `account` (`None`: anonymous) is granted on `scope` by `rules` (with none, anyone
/// logged in may do everything and the anonymous nothing).
pub fn granted(rules: &[Rule], account: Option<&str>, scope: &Scope) -> Vec<String> {
    let default = [Rule { account: "*".into(), name: "*".into(), actions: vec!["*".into()] }];
    let rules = if rules.is_empty() { &default[..] } else { rules };
    let mut allowed: Vec<&str> = Vec::new();
    for r in rules {
        let who = match account {
            None => r.account == "anonymous",
            Some(a) => r.account == "*" || r.account == a,
        };
        let what = match scope.kind.as_str() {
            "repository" => glob(&r.name, &scope.name),
            "registry" => r.name == "*",
            _ => false,
        };
        if who && what {
            allowed.extend(r.actions.iter().map(String::as_str));
        }
    }
    scope
        .actions
        .iter()
        .filter(|a| allowed.contains(&"*") || allowed.contains(&a.as_str()))
        .cloned()
        .collect()
}

/// An htpasswd file of bcrypt hashes, read again when it changes. Checked passwords are
/// remembered (as hashes) until then: bcrypt is slow by design, and clients send Basic
/// credentials with every request.
pub struct Htpasswd {
    path: PathBuf,
    state: Mutex<HtpasswdState>,
}

#[derive(Default)]
struct HtpasswdState {
    mtime: Option<std::time::SystemTime>,
    users: HashMap<String, String>,
    checked: HashMap<(String, [u8; 32]), bool>,
}

impl Htpasswd {
    pub fn open(path: &Path) -> Result<Htpasswd> {
        let h = Htpasswd { path: path.to_path_buf(), state: Mutex::new(HtpasswdState::default()) };
        h.reload(&mut h.state.lock().unwrap_or_else(|e| e.into_inner()))?;
        Ok(h)
    }

    fn reload(&self, s: &mut HtpasswdState) -> Result<()> {
        let mtime =
            std::fs::metadata(&self.path).and_then(|m| m.modified()).map_err(io_err("read", &self.path))?;
        if s.mtime == Some(mtime) {
            return Ok(());
        }
        let text = std::fs::read_to_string(&self.path).map_err(io_err("read", &self.path))?;
        s.users = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(u, h)| (u.trim().to_string(), h.trim().to_string()))
            .collect();
        s.checked.clear();
        s.mtime = Some(mtime);
        Ok(())
    }

    pub fn verify(&self, user: &str, password: &str) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = self.reload(&mut s) {
            tracing::warn!(error = %e, "htpasswd file unreadable: refusing logins");
            return false;
        }
        let key = (user.to_string(), <Sha256 as sha2::Digest>::digest(password.as_bytes()).into());
        if let Some(ok) = s.checked.get(&key) {
            return *ok;
        }
        let ok = s.users.get(user).is_some_and(|h| bcrypt::verify(password, h).unwrap_or(false));
        s.checked.insert(key, ok);
        ok
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: Option<String>,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(default)]
    pub access: Vec<Scope>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh: bool,
}

/// Signs and checks tokens.
pub struct Signer {
    key: Vec<u8>,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Signer {
    /// The key in `path` (made, readable by its owner only, when missing).
    pub fn open(path: &Path) -> Result<Signer> {
        if let Ok(key) = std::fs::read(path) {
            if key.len() >= 32 {
                return Ok(Signer { key });
            }
        }
        let key = rand::random::<[u8; 32]>().to_vec();
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err("create", path))?;
        std::io::Write::write_all(&mut f, &key).map_err(io_err("write", path))?;
        Ok(Signer { key })
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("hmac takes any key");
        m.update(data);
        m
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let body = b64(&serde_json::to_vec(claims).expect("claims serialise"));
        let sig = self.mac(body.as_bytes()).finalize().into_bytes();
        format!("{body}.{}", b64(&sig))
    }

    /// The claims of a token this signer made that has not expired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let (body, sig) = token.split_once('.')?;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).ok()?;
        self.mac(body.as_bytes()).verify_slice(&sig).ok()?;
        let claims: Claims =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).ok()?)
                .ok()?;
        (claims.exp > now()).then_some(claims)
    }
}

/// The user and password of a `Basic` authorization.
pub fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let v = authorization?.strip_prefix("Basic ").or_else(|| authorization?.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    authorization?.strip_prefix("Bearer ").map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_and_write_as_docker_sends_them() {
        let s = Scope::parse("repository:localhost:5000/a/b:pull,push").unwrap();
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("repository", "localhost:5000/a/b"));
        assert_eq!(s.actions, ["pull", "push"]);
        assert_eq!(s.to_header(), "repository:localhost:5000/a/b:pull,push");
        assert_eq!(Scope::parse("registry:catalog:*").unwrap(), Scope::catalog());
        assert!(Scope::parse("nonsense").is_none());
    }

    #[test]
    fn rules_grant_actions_per_account_and_repository() {
        let rule = |a: &str, n: &str, acts: &[&str]| Rule {
            account: a.into(),
            name: n.into(),
            actions: acts.iter().map(|s| s.to_string()).collect(),
        };
        let rules = [
            rule("alice", "alice/*", &["*"]),
            rule("*", "*", &["pull"]),
            rule("anonymous", "public/*", &["pull"]),
        ];
        let pp = |n: &str| Scope::repository(n, &["pull", "push"]);
        for (account, scope, want) in [
            (Some("alice"), pp("alice/app"), vec!["pull", "push"]),
            (Some("alice"), pp("bob/app"), vec!["pull"]),
            (Some("bob"), pp("alice/app"), vec!["pull"]),
            (None, pp("public/x"), vec!["pull"]),
            (None, pp("alice/app"), vec![]),
            (Some("bob"), Scope::catalog(), vec![]),
        ] {
            assert_eq!(granted(&rules, account, &scope), want, "{account:?} {scope:?}");
        }
        // No rules: anyone logged in may do everything, the anonymous nothing.
        assert_eq!(granted(&[], Some("x"), &pp("a")), ["pull", "push"]);
        assert_eq!(granted(&[], Some("x"), &Scope::catalog()), ["*"]);
        assert!(granted(&[], None, &pp("a")).is_empty());
    }

    #[test]
    fn globs_match_names() {
        for (p, s, want) in [
            ("*", "a/b", true),
            ("a/*", "a/b", true),
            ("a/*", "b/a", false),
            ("a", "a", true),
            ("*/x", "a/b/x", true),
            ("a*b", "ab", true),
            ("a*b", "ac", false),
        ] {
            assert_eq!(glob(p, s), want, "{p} {s}");
        }
    }

    #[test]
    fn tokens_are_checked_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        let signer = Signer::open(&key).unwrap();
        let claims = Claims {
            iss: "berth".into(),
            sub: Some("alice".into()),
            aud: "svc".into(),
            exp: now() + 60,
            iat: now(),
            access: vec![Scope::repository("a", &["pull"])],
            refresh: false,
        };
        let t = signer.sign(&claims);
        // The same key after a restart.
        assert_eq!(Signer::open(&key).unwrap().verify(&t), Some(claims.clone()));
        let mut forged = t.clone();
        forged.insert(3, 'x');
        assert_eq!(signer.verify(&forged), None);
        let other = Signer::open(&dir.path().join("other")).unwrap();
        assert_eq!(other.verify(&t), None);
        let expired = Claims { exp: now() - 1, ..claims };
        assert_eq!(signer.verify(&signer.sign(&expired)), None);
    }

    #[test]
    fn htpasswd_checks_bcrypt_and_notices_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, format!("alice:{}\n", bcrypt::hash("secret", 4).unwrap())).unwrap();
        let h = Htpasswd::open(&path).unwrap();
        assert!(h.verify("alice", "secret"));
        assert!(!h.verify("alice", "wrong"));
        assert!(!h.verify("bob", "secret"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, format!("bob:{}\n", bcrypt::hash("pw", 4).unwrap())).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
        assert!(h.verify("bob", "pw"));
        assert!(!h.verify("alice", "secret"));
    }

    #[test]
    fn basic_credentials_are_read() {
        assert_eq!(basic_credentials(Some("Basic YWxpY2U6czpl")), Some(("alice".into(), "s:e".into())));
        assert_eq!(basic_credentials(Some("Bearer x")), None);
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
    }
}
