//! Image references, parsed and normalised as Docker does (pure).
//!
//! `busybox` → `docker.io/library/busybox:latest`; `localhost:5000/a/b:t`; `name@sha256:…`.

use std::fmt;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_MAX: usize = 255;

/// A normalised reference: a domain, a path, and a tag and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a reference was refused, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Format,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than 255 characters")]
    TooLong,
    #[error("invalid reference format")]
    Empty,
}

impl Reference {
    /// Parses `s` as Docker's `ParseNormalizedNamed` does.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if is_full_hex(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(ReferenceError::Format);
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (name, tag) = split_tag(rest);
        let tag = tag.map(str::to_string);
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Format);
            }
        }
        let (domain, path) = split_domain(name);
        if !valid_domain(&domain) {
            return Err(ReferenceError::Format);
        }
        if path.is_empty() || !path.split('/').all(valid_component) {
            if path.chars().any(|c| c.is_ascii_uppercase())
                && path.to_ascii_lowercase().split('/').all(valid_component)
            {
                return Err(ReferenceError::Uppercase(remote_for_message(name)));
            }
            return Err(ReferenceError::Format);
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_MAX {
            return Err(ReferenceError::TooLong);
        }
        let r = Reference { domain, path, tag, digest };
        // `library/<64 hex>` would show as a bare ID; refuse it as Docker refuses the bare form.
        if is_full_hex(&r.familiar_name()) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        Ok(r)
    }

    /// Like [`parse`](Reference::parse), adding the `latest` tag when neither a tag nor a
    /// digest is given (Docker's `TagNameOnly`).
    pub fn parse_tagged(s: &str) -> Result<Reference, ReferenceError> {
        Ok(Reference::parse(s)?.with_default_tag())
    }

    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name as Docker shows it (`busybox`, `user/app`, `localhost:5000/app`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            // `library/` goes only when one component remains (`library/a/b` stays as it is).
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker shows it (`busybox:latest`, `app@sha256:…`).
    pub fn familiar(&self) -> String {
        self.render(&self.familiar_name())
    }

    /// A reference to the same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference { tag: Some(tag.to_string()), digest: None, ..self.clone() }
    }

    /// A reference to the same repository by digest only.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference { tag: None, digest: Some(digest.to_string()), ..self.clone() }
    }

    fn render(&self, name: &str) -> String {
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// `name[:tag]` split where Docker splits it: a tag follows the last `:` that comes after the
/// last `/` (`localhost:5000/app` has none). Nothing is validated.
pub fn split_tag(s: &str) -> (&str, Option<&str>) {
    let last_slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], Some(&s[last_slash + i + 1..])),
        None => (s, None),
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&self.name()))
    }
}

fn remote_for_message(name: &str) -> String {
    let (domain, path) = split_domain(name);
    if domain == DEFAULT_DOMAIN {
        path
    } else {
        format!("{domain}/{path}")
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_PREFIX}{path}");
    }
    (domain, path)
}

fn is_full_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Host names (`a.b-c`), IPv4, `[ipv6]`, each with an optional port.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else { return false };
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return false;
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return false,
        };
        (None, port)
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|label| {
                    let b = label.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
                })
        }
    }
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

/// `algorithm:hex` with at least 32 hex digits.
fn valid_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else { return false };
    let alg_ok = !alg.is_empty()
        && alg.as_bytes()[0].is_ascii_alphabetic()
        && alg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_+.".contains(&b));
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_last_colon_after_the_last_slash() {
        let cases = [
            ("busybox", ("busybox", None)),
            ("busybox:1", ("busybox", Some("1"))),
            ("localhost:5000/app", ("localhost:5000/app", None)),
            ("localhost:5000/app:v2", ("localhost:5000/app", Some("v2"))),
            ("a/b:c:d", ("a/b:c", Some("d"))),
            ("app:", ("app", Some(""))),
        ];
        for (s, want) in cases {
            assert_eq!(split_tag(s), want, "{s}");
        }
    }

    const D: &str = "sha256:f0c87c51aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn normalisation_table() {
        let d = D.to_string();
        let (by_digest, tag_and_digest) = (format!("busybox@{d}"), format!("busybox:1@{d}"));
        let cases: Vec<(&str, String, String)> = vec![
            ("busybox", "docker.io/library/busybox:latest".into(), "busybox:latest".into()),
            ("busybox:1.36", "docker.io/library/busybox:1.36".into(), "busybox:1.36".into()),
            ("library/busybox", "docker.io/library/busybox:latest".into(), "busybox:latest".into()),
            ("docker.io/busybox", "docker.io/library/busybox:latest".into(), "busybox:latest".into()),
            ("index.docker.io/user/app:v1", "docker.io/user/app:v1".into(), "user/app:v1".into()),
            ("user/app", "docker.io/user/app:latest".into(), "user/app:latest".into()),
            ("localhost/app", "localhost/app:latest".into(), "localhost/app:latest".into()),
            ("localhost:5000/a/b:t", "localhost:5000/a/b:t".into(), "localhost:5000/a/b:t".into()),
            (
                "registry.example.com:443/x/y/z",
                "registry.example.com:443/x/y/z:latest".into(),
                "registry.example.com:443/x/y/z:latest".into(),
            ),
            ("[::1]:5000/app:v2", "[::1]:5000/app:v2".into(), "[::1]:5000/app:v2".into()),
            (&by_digest, format!("docker.io/library/busybox@{d}"), format!("busybox@{d}")),
            (&tag_and_digest, format!("docker.io/library/busybox:1@{d}"), format!("busybox:1@{d}")),
            ("library/a/b:t", "docker.io/library/a/b:t".into(), "library/a/b:t".into()),
            (
                "a_b.c__d-e---f:T_1.x-y",
                "docker.io/library/a_b.c__d-e---f:T_1.x-y".into(),
                "a_b.c__d-e---f:T_1.x-y".into(),
            ),
        ];
        for (input, full, familiar) in cases {
            let r = Reference::parse_tagged(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
    }

    #[test]
    fn refusals_use_dockers_messages() {
        let hex = "a".repeat(64);
        let library_hex = format!("library/{hex}");
        let long = format!("a/{}", "b".repeat(260));
        let cases: Vec<(&str, &str)> = vec![
            ("", "invalid reference format"),
            ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
            ("user/App:1", "invalid reference format: repository name (user/App) must be lowercase"),
            (&hex, "cannot specify 64-byte hexadecimal strings"),
            (&library_hex, "cannot specify 64-byte hexadecimal strings"),
            ("busybox:", "invalid reference format"),
            ("busybox:-x", "invalid reference format"),
            ("-busybox", "invalid reference format"),
            ("busy..box", "invalid reference format"),
            ("busy___box", "invalid reference format"),
            ("a//b", "invalid reference format"),
            ("busybox@sha256:short", "invalid reference format"),
            ("host:port/app", "invalid reference format"),
            ("has space", "invalid reference format"),
            (&long, "must not be more than 255 characters"),
        ];
        for (input, want) in cases {
            let err = Reference::parse(input).expect_err(input).to_string();
            assert!(err.contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn accessors() {
        let r = Reference::parse("localhost:5000/a/b").unwrap();
        assert_eq!((r.domain(), r.path(), r.tag(), r.digest()), ("localhost:5000", "a/b", None, None));
        assert_eq!(r.with_tag("v1").familiar(), "localhost:5000/a/b:v1");
        assert_eq!(Reference::parse("busybox:1").unwrap().with_digest(D).familiar(), format!("busybox@{D}"));
    }
}
