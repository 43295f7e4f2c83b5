//! `/images/…` as typed operations: `client.images().load(body, quiet)`.

use serde::Deserialize;
use serde_json::Value;

use crate::{Body, Client, ClientError, Method, Response};

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The operations on images.
pub struct Images<'a>(pub(crate) &'a Client);

/// One line of `rmi`'s answer.
#[derive(Debug, Clone, Deserialize)]
pub enum Deleted {
    Untagged(String),
    Deleted(String),
}

/// `import`'s parameters.
#[derive(Debug, Clone, Default)]
pub struct ImportQuery {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub message: Option<String>,
    /// Dockerfile instructions to apply.
    pub changes: Vec<String>,
}

impl Images<'_> {
    /// The rows of `images`, as Docker's JSON.
    pub async fn list(&self, all: bool, filters: Option<String>) -> Result<Vec<Value>> {
        let mut q = vec![];
        if all {
            q.push(("all", "1".to_string()));
        }
        if let Some(f) = filters {
            q.push(("filters", f));
        }
        Ok(self.0.get("/images/json", &q).await?.as_array().cloned().unwrap_or_default())
    }

    /// The whole inspect, as Docker's JSON.
    pub async fn inspect_json(&self, name: &str) -> Result<Value> {
        self.0.get(&format!("/images/{name}/json"), &[]).await
    }

    /// The layers' history, newest first, as Docker's JSON.
    pub async fn history(&self, name: &str) -> Result<Vec<Value>> {
        Ok(self.0.get(&format!("/images/{name}/history"), &[]).await?.as_array().cloned().unwrap_or_default())
    }

    pub async fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let q = [("repo", repo.to_string()), ("tag", tag.to_string())];
        self.0.post(&format!("/images/{source}/tag"), &q, Body::Empty).await.map(drop)
    }

    pub async fn remove(&self, name: &str, force: bool, no_prune: bool) -> Result<Vec<Deleted>> {
        let mut q = vec![];
        if force {
            q.push(("force", "1".to_string()));
        }
        if no_prune {
            q.push(("noprune", "1".to_string()));
        }
        let v = self.0.delete(&format!("/images/{name}"), &q).await?;
        if v.is_null() {
            return Ok(Vec::new());
        }
        crate::decode(v)
    }

    /// Pulls `name` at `tag` (or digest) for `platform` (the daemon's when `None`), with the
    /// registry credentials `auth` (an `X-Registry-Auth` value): the JSON-message stream of its
    /// progress.
    pub async fn pull(&self, name: &str, tag: &str, platform: Option<&str>, auth: &str) -> Result<Response> {
        let mut q = vec![("fromImage", name.to_string()), ("tag", tag.to_string())];
        if let Some(p) = platform {
            q.push(("platform", p.to_string()));
        }
        let headers = [("X-Registry-Auth", auth.to_string())];
        self.0.request_with(Method::POST, "/images/create", &q, &headers, Body::Empty).await
    }

    /// Repositories the registry `term` names finds (`docker search`), with the registry
    /// credentials `auth`.
    pub async fn search(
        &self,
        term: &str,
        limit: Option<u32>,
        filters: Option<String>,
        auth: &str,
    ) -> Result<Vec<Value>> {
        let mut q = vec![("term", term.to_string())];
        if let Some(n) = limit {
            q.push(("limit", n.to_string()));
        }
        if let Some(f) = filters {
            q.push(("filters", f));
        }
        let headers = [("X-Registry-Auth", auth.to_string())];
        let bytes = self
            .0
            .request_with(Method::GET, "/images/search", &q, &headers, Body::Empty)
            .await?
            .bytes()
            .await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| crate::ClientError::Protocol(format!("the daemon's answer is not JSON: {e}")))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Pushes `name` (every local tag of the repository when `tag` is empty) with the registry
    /// credentials `auth`: the JSON-message stream of its progress.
    pub async fn push(&self, name: &str, tag: &str, auth: &str) -> Result<Response> {
        let q = [("tag", tag.to_string())];
        let headers = [("X-Registry-Auth", auth.to_string())];
        self.0.request_with(Method::POST, &format!("/images/{name}/push"), &q, &headers, Body::Empty).await
    }

    /// Imports the tar `data` as an image: the JSON-message stream.
    pub async fn import(&self, q: &ImportQuery, data: Body) -> Result<Response> {
        let mut query = vec![("fromSrc", "-".to_string())];
        if let Some(repo) = &q.repo {
            query.push(("repo", repo.clone()));
            query.push(("tag", q.tag.clone().unwrap_or_default()));
        }
        if let Some(m) = &q.message {
            query.push(("message", m.clone()));
        }
        query.extend(q.changes.iter().map(|c| ("changes", c.clone())));
        self.0.request(Method::POST, "/images/create", &query, data).await
    }

    /// Loads a `docker save` (or OCI layout) archive: the JSON-message stream.
    pub async fn load(&self, data: Body, quiet: bool) -> Result<Response> {
        let q = if quiet { vec![("quiet", "1".to_string())] } else { vec![] };
        self.0.request(Method::POST, "/images/load", &q, data).await
    }

    /// `names` as one `docker save` archive, streamed.
    pub async fn save(&self, names: &[String]) -> Result<Response> {
        let q: Vec<(&str, String)> = names.iter().map(|n| ("names", n.clone())).collect();
        self.0.request(Method::GET, "/images/get", &q, Body::Empty).await
    }
}
