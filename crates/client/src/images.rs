//! `/images/…` as typed operations: `client.images().load(body, quiet)`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::{Body, Client, ClientError, Method, Response};

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// `POST /build`'s parameters, as the docker CLI's classic builder path sends them.
#[derive(Debug, Clone, Default)]
pub struct BuildQuery {
    pub tags: Vec<String>,
    /// The Dockerfile's path in the context.
    pub dockerfile: Option<String>,
    /// `None` for a `--build-arg NAME` whose variable is not set.
    pub build_args: BTreeMap<String, Option<String>>,
    pub labels: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub quiet: bool,
    /// Remove intermediate containers (`rm`, Docker's default) even after a failure (`forcerm`).
    pub rm: bool,
    pub force_rm: bool,
    pub network: Option<String>,
    /// `host:ip` each.
    pub extra_hosts: Vec<String>,
    pub shm_size: Option<i64>,
    /// `{"Name", "Soft", "Hard"}` each.
    pub ulimits: Vec<Value>,
    pub cache_from: Vec<String>,
    /// berth's own: stages that take nothing from the cache (`--no-cache-filter`).
    pub no_cache_filter: Vec<String>,
    pub platform: Option<String>,
    /// berth's own: say why each step missed the cache.
    pub explain: bool,
    /// berth's own: tell each step's start, end and output as they happen, for a live view.
    pub live: bool,
    /// A context the daemon fetches (a git repository, a tar or a Dockerfile by URL).
    pub remote: Option<String>,
}

impl BuildQuery {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q: Vec<(&'static str, String)> = self.tags.iter().map(|t| ("t", t.clone())).collect();
        let mut opt = |k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        };
        opt("dockerfile", &self.dockerfile);
        opt("target", &self.target);
        opt("networkmode", &self.network);
        opt("platform", &self.platform);
        opt("remote", &self.remote);
        let json = |v: Value| v.to_string();
        if !self.build_args.is_empty() {
            q.push(("buildargs", json(serde_json::json!(self.build_args))));
        }
        if !self.labels.is_empty() {
            q.push(("labels", json(serde_json::json!(self.labels))));
        }
        if !self.cache_from.is_empty() {
            q.push(("cachefrom", json(serde_json::json!(self.cache_from))));
        }
        if !self.no_cache_filter.is_empty() {
            q.push(("nocachefilter", json(serde_json::json!(self.no_cache_filter))));
        }
        if !self.ulimits.is_empty() {
            q.push(("ulimits", json(Value::Array(self.ulimits.clone()))));
        }
        if !self.extra_hosts.is_empty() {
            q.push(("extrahosts", self.extra_hosts.join(",")));
        }
        if let Some(n) = self.shm_size {
            q.push(("shmsize", n.to_string()));
        }
        for (k, on) in [
            ("nocache", self.no_cache),
            ("pull", self.pull),
            ("q", self.quiet),
            ("forcerm", self.force_rm),
            ("explain", self.explain),
            ("berthprogress", self.live),
        ] {
            if on {
                q.push((k, "1".into()));
            }
        }
        q.push(("rm", if self.rm { "1" } else { "0" }.into()));
        q
    }
}

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
    pub platform: Option<String>,
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
        if let Some(p) = &q.platform {
            query.push(("platform", p.clone()));
        }
        self.0.request(Method::POST, "/images/create", &query, data).await
    }

    /// Loads a `docker save` (or OCI layout) archive: the JSON-message stream.
    pub async fn load(&self, data: Body, quiet: bool) -> Result<Response> {
        let q = if quiet { vec![("quiet", "1".to_string())] } else { vec![] };
        self.0.request(Method::POST, "/images/load", &q, data).await
    }

    /// Builds from the context tar `context`, with the registry credentials `registry_config`
    /// (an `X-Registry-Config` value): the JSON-message stream of the build.
    /// `extra` are more headers (berth's, carrying a build's secrets).
    pub async fn build(
        &self,
        q: &BuildQuery,
        registry_config: &str,
        extra: &[(&'static str, String)],
        context: Body,
    ) -> Result<Response> {
        let mut headers = vec![("X-Registry-Config", registry_config.to_string())];
        headers.extend(extra.iter().cloned());
        self.0.request_with(Method::POST, "/build", &q.query(), &headers, context).await
    }

    /// `names` as one `docker save` archive, streamed.
    pub async fn save(&self, names: &[String]) -> Result<Response> {
        let q: Vec<(&str, String)> = names.iter().map(|n| ("names", n.clone())).collect();
        self.0.request(Method::GET, "/images/get", &q, Body::Empty).await
    }
}
