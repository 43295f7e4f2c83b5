//! `/version`, `/info`, `/system/df`, `/events` and the prunes, as typed operations.

use serde_json::Value;

use crate::{Body, Client, ClientError, Method, Response};

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// What a prune removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prunable {
    Containers,
    Images,
    Networks,
    Volumes,
    BuildCache,
}

impl Prunable {
    fn path(self) -> &'static str {
        match self {
            Prunable::Containers => "/containers/prune",
            Prunable::Images => "/images/prune",
            Prunable::Networks => "/networks/prune",
            Prunable::Volumes => "/volumes/prune",
            Prunable::BuildCache => "/build/prune",
        }
    }
}

/// The operations on the daemon itself.
pub struct System<'a>(pub(crate) &'a Client);

impl System<'_> {
    /// The daemon's version, as Docker's JSON.
    pub async fn version(&self) -> Result<Value> {
        self.0.get("/version", &[]).await
    }

    /// The daemon's information, as Docker's JSON.
    pub async fn info(&self) -> Result<Value> {
        self.0.get("/info", &[]).await
    }

    /// Disk usage, as Docker's JSON.
    pub async fn df(&self) -> Result<Value> {
        self.0.get("/system/df", &[]).await
    }

    /// The events (`since`, `until`, `filters` as Docker takes them): one JSON object a line.
    pub async fn events(&self, q: &[(&str, String)]) -> Result<Response> {
        self.0.request(Method::GET, "/events", q, Body::Empty).await
    }

    /// Checks credentials for the registry `server` (`docker login`); the daemon's status.
    /// Checks credentials at a registry: the daemon's status and the identity token the
    /// registry issued, if any (kept instead of the password).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        server: &str,
    ) -> Result<(String, Option<String>)> {
        let body = serde_json::json!({"username": username, "password": password, "serveraddress": server});
        let v = self.0.post("/auth", &[], Body::Json(body)).await?;
        let token = v["IdentityToken"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
        Ok((v["Status"].as_str().unwrap_or("Login Succeeded").to_string(), token))
    }

    /// Removes what is unused of `what`, with `query` (`filters`, `all`): Docker's report.
    pub async fn prune(&self, what: Prunable, query: &[(&str, String)]) -> Result<Value> {
        self.0.post(what.path(), query, Body::Empty).await
    }
}
