//! Docker's registry credentials as clients send them: `X-Registry-Auth`, a base64url JSON
//! `AuthConfig` (`e30=`, `{}`, is anonymous), and the body of `POST /auth`. Pure.

use base64::Engine as _;
use serde::Deserialize;

use crate::ApiError;

/// Docker's `AuthConfig` (its JSON keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub username: String,
    pub password: String,
    /// `base64(username:password)`, as config.json keeps it.
    pub auth: String,
    pub email: String,
    pub serveraddress: String,
    /// A refresh token a registry's token service issued at login.
    pub identitytoken: String,
    /// A bearer token to send to the registry as it is.
    pub registrytoken: String,
}

impl AuthConfig {
    /// The user and password, from `auth` when they are not given apart.
    pub fn user_password(&self) -> (String, String) {
        if self.username.is_empty() && !self.auth.is_empty() {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(self.auth.trim()) {
                if let Some((u, p)) = String::from_utf8_lossy(&raw).split_once(':') {
                    return (u.to_string(), p.to_string());
                }
            }
        }
        (self.username.clone(), self.password.clone())
    }
}

/// Decodes an `X-Registry-Auth` header (base64url, padded or not; standard base64 is taken
/// too, as Docker's daemon does); an absent or empty header is anonymous.
pub fn registry_auth(header: Option<&str>) -> Result<AuthConfig, ApiError> {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else { return Ok(AuthConfig::default()) };
    decode("X-Registry-Auth", h, "an AuthConfig")
}

/// Decodes a build's `X-Registry-Config` header: credentials by registry (as the client's
/// configuration keys them). An absent or empty header gives none.
pub fn registry_config(
    header: Option<&str>,
) -> Result<std::collections::BTreeMap<String, AuthConfig>, ApiError> {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else { return Ok(Default::default()) };
    decode("X-Registry-Config", h, "a map of AuthConfigs")
}

fn decode<T: serde::de::DeserializeOwned>(name: &str, h: &str, what: &str) -> Result<T, ApiError> {
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let raw = engines.iter().find_map(|e| e.decode(h).ok()).ok_or_else(|| {
        ApiError::invalid(format!("invalid {name} header: it is not base64url-encoded JSON"))
    })?;
    serde_json::from_slice(&raw)
        .map_err(|e| ApiError::invalid(format!("invalid {name} header: its JSON is not {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_headers_decode_as_dockers() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        let table: &[(Option<String>, AuthConfig)] = &[
            (None, AuthConfig::default()),
            (Some("e30=".into()), AuthConfig::default()),
            (Some("e30".into()), AuthConfig::default()),
            (
                Some(b64(r#"{"username":"u","password":"p?>","serveraddress":"127.0.0.1:5000"}"#)),
                AuthConfig {
                    username: "u".into(),
                    password: "p?>".into(),
                    serveraddress: "127.0.0.1:5000".into(),
                    ..Default::default()
                },
            ),
            (
                Some(b64(r#"{"registrytoken":"tok"}"#)),
                AuthConfig { registrytoken: "tok".into(), ..Default::default() },
            ),
        ];
        for (header, want) in table {
            assert_eq!(&registry_auth(header.as_deref()).unwrap(), want, "{header:?}");
        }
        assert!(registry_auth(Some("!!!")).is_err());
        assert!(registry_auth(Some(&b64("[1]"))).is_err());
        let packed = AuthConfig { auth: "dTpwOng=".into(), ..Default::default() };
        assert_eq!(packed.user_password(), ("u".to_string(), "p:x".to_string()));
    }

    #[test]
    fn a_builds_registry_config_maps_registries_to_credentials() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE.encode(s);
        assert!(registry_config(None).unwrap().is_empty());
        assert!(registry_config(Some("e30=")).unwrap().is_empty());
        let all = registry_config(Some(&b64(
            r#"{"127.0.0.1:5000":{"username":"u","password":"p"},"https://index.docker.io/v1/":{"auth":"dTpwOng="}}"#,
        )))
        .unwrap();
        assert_eq!(all["127.0.0.1:5000"].user_password(), ("u".into(), "p".into()));
        assert_eq!(all["https://index.docker.io/v1/"].user_password(), ("u".into(), "p:x".into()));
        let e = registry_config(Some(&b64("[]"))).unwrap_err();
        assert!(e.to_string().starts_with("invalid X-Registry-Config header"), "{e}");
    }
}
