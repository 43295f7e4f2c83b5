//! `docker search`: a term is split into the registry it names and what to look for, as Docker
//! splits it (`127.0.0.1:5000/busy` asks that registry for `busy`; a term without a registry
//! asks Docker Hub), and the registry's `/v1/search` is asked, reached as a login reaches it
//! (TLS, or for an insecure registry TLS without verification, then plain HTTP).

use berth_kind::{Kind, Kinded};
use serde::{Deserialize, Serialize};

use crate::registry::RegistryConfig;
use crate::Credentials;

/// One repository found, in the shape Docker's API gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: u64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<SearchResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("Get \"{url}\": {detail}")]
    Unreachable { url: String, detail: String },
    #[error("Unexpected status code {status} from {url}")]
    Status { url: String, status: u16 },
    #[error("invalid search answer from {url}: {detail}")]
    Invalid { url: String, detail: String },
}

impl Kinded for SearchError {
    fn kind(&self) -> Kind {
        match self {
            SearchError::Status { status: 401, .. } => Kind::Unauthorized,
            _ => Kind::Internal,
        }
    }
}

/// The registry host a search term names (Docker Hub's index when none) and the term left.
pub fn split_term(term: &str) -> (String, String) {
    if let Some((first, rest)) = term.split_once('/') {
        if first.contains('.') || first.contains(':') || first == "localhost" {
            return (first.to_ascii_lowercase(), rest.to_string());
        }
    }
    ("index.docker.io".to_string(), term.to_string())
}

/// Asks the registry `term` names for up to `limit` repositories matching the rest of it.
pub async fn search(
    config: &RegistryConfig,
    term: &str,
    limit: usize,
    creds: &Credentials,
) -> Result<Vec<SearchResult>, SearchError> {
    let (host, query) = split_term(term);
    let n = limit.to_string();
    let ask = |c: &reqwest::Client, url: &str| {
        let r = c.get(url).query(&[("q", query.as_str()), ("n", n.as_str())]);
        match creds.username.is_empty() {
            true => r,
            false => r.basic_auth(&creds.username, Some(&creds.password)),
        }
    };
    let (_, url, answer) = crate::reach(config, &host, "/v1/search", ask)
        .await
        .map_err(|(url, detail)| SearchError::Unreachable { url, detail })?;
    if !answer.status().is_success() {
        return Err(SearchError::Status { url, status: answer.status().as_u16() });
    }
    let body = answer
        .bytes()
        .await
        .map_err(|e| SearchError::Unreachable { url: url.clone(), detail: crate::chain(&e) })?;
    let a: Answer = serde_json::from_slice(&body)
        .map_err(|e| SearchError::Invalid { url: url.clone(), detail: e.to_string() })?;
    Ok(a.results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_name_their_registry_as_docker_splits_them() {
        for (term, host, rest) in [
            ("busybox", "index.docker.io", "busybox"),
            ("library/busybox", "index.docker.io", "library/busybox"),
            ("127.0.0.1:5000/busy", "127.0.0.1:5000", "busy"),
            ("localhost/a/b", "localhost", "a/b"),
            ("Reg.Example/x", "reg.example", "x"),
        ] {
            assert_eq!(split_term(term), (host.to_string(), rest.to_string()), "{term}");
        }
    }
}
