//! `docker login`'s check: the registry's `/v2/` asked with the credentials, as Docker asks it:
//! a registry that needs none accepts anyone; one that challenges for Basic auth gets it; one
//! that challenges for a bearer token has its token service asked with them.

use berth_kind::{Kind, Kinded};

use crate::registry::RegistryConfig;
use crate::Credentials;

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("login attempt to {url} failed with status: {status}")]
    Refused { url: String, status: String },
    #[error("Get \"{url}\": {detail}")]
    Unreachable { url: String, detail: String },
}

impl Kinded for LoginError {
    fn kind(&self) -> Kind {
        match self {
            LoginError::Refused { .. } => Kind::Unauthorized,
            LoginError::Unreachable { .. } => Kind::Internal,
        }
    }
}

/// A `WWW-Authenticate` challenge: its scheme and parameters. Pure.
pub fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        params.push((key.trim().to_ascii_lowercase(), value.to_string()));
        rest = tail.trim_start_matches([',', ' ']);
    }
    (scheme.to_ascii_lowercase(), params)
}

/// Checks `creds` against the registry at `host` (`name[:port]`).
pub async fn login(
    config: &RegistryConfig,
    host: &str,
    creds: &Credentials,
) -> Result<Option<String>, LoginError> {
    let (http, url, first) = crate::reach(config, host, "/v2/", |c, u| c.get(u))
        .await
        .map_err(|(url, detail)| LoginError::Unreachable { url, detail })?;
    if first.status().is_success() {
        return Ok(None);
    }
    let refused =
        |status: reqwest::StatusCode| LoginError::Refused { url: url.clone(), status: status_text(status) };
    let challenge = first
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(parse_challenge);
    let answer = match challenge {
        Some((s, _)) if s == "basic" => {
            http.get(&url).basic_auth(&creds.username, Some(&creds.password)).send().await
        }
        Some((s, params)) if s == "bearer" => {
            let get =
                |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone()).unwrap_or_default();
            let realm = get("realm");
            // As Docker asks: with `offline_token`, a token service that keeps sessions gives a
            // refresh token, which clients keep as an identity token instead of the password.
            let mut q = vec![
                ("account", creds.username.clone()),
                ("client_id", "berth".to_string()),
                ("offline_token", "true".to_string()),
            ];
            let service = get("service");
            if !service.is_empty() {
                q.push(("service", service));
            }
            http.get(&realm).query(&q).basic_auth(&creds.username, Some(&creds.password)).send().await
        }
        _ => return Err(refused(first.status())),
    };
    let answer = answer.map_err(|e| unreachable(&url, &e))?;
    if !answer.status().is_success() {
        return Err(refused(answer.status()));
    }
    let body: serde_json::Value =
        answer.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    Ok(body.get("refresh_token").and_then(|t| t.as_str()).filter(|t| !t.is_empty()).map(str::to_string))
}

/// Trades an identity token (a refresh token a login kept) for an access token to
/// `repository` at `host`, as Docker does: the registry's bearer challenge names the token
/// service, asked with OAuth2's `refresh_token` grant for the repository's scope.
pub(crate) async fn exchange(
    config: &RegistryConfig,
    host: &str,
    repository: &str,
    push: bool,
    refresh: &str,
) -> Result<String, String> {
    let (http, url, first) = crate::reach(config, host, "/v2/", |c, u| c.get(u))
        .await
        .map_err(|(url, e)| format!("Get \"{url}\": {e}"))?;
    let challenge = first
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(parse_challenge);
    let Some((scheme, params)) = challenge.filter(|(s, _)| s == "bearer") else {
        return Err(format!("{url} asks for no token: the identity token cannot be used; log in again"));
    };
    let get = |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let _ = scheme;
    let scope = format!("repository:{repository}:{}", if push { "pull,push" } else { "pull" });
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", refresh)
        .append_pair("service", &get("service"))
        .append_pair("scope", &scope)
        .append_pair("client_id", "berth")
        .finish();
    let realm = get("realm");
    let answer = http
        .post(&realm)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("Post \"{realm}\": {}", crate::chain(&e)))?;
    if !answer.status().is_success() {
        return Err(format!(
            "the token service refused the identity token ({}): log in again",
            status_text(answer.status())
        ));
    }
    let bytes =
        answer.bytes().await.map_err(|e| format!("the token service's answer: {}", crate::chain(&e)))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("the token service's answer is not JSON: {e}"))?;
    v.get("access_token")
        .or_else(|| v.get("token"))
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| "the token service gave no token".to_string())
}

fn status_text(s: reqwest::StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

fn unreachable(url: &str, e: &reqwest::Error) -> LoginError {
    LoginError::Unreachable { url: url.to_string(), detail: crate::chain(e) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_registries_send_them() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(
            p,
            vec![
                ("realm".to_string(), "https://auth.example/token".to_string()),
                ("service".to_string(), "registry.example".to_string()),
                ("scope".to_string(), "repository:a/b:pull,push".to_string()),
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!((s.as_str(), p), ("basic", vec![("realm".to_string(), "basic-realm".to_string())]));
        assert_eq!(parse_challenge("Basic").0, "basic");
    }
}
