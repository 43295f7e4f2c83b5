//! `/networks/…` and `/volumes/…` as typed operations.

use serde_json::Value;

use crate::{Body, Client, ClientError};

type Result<T, E = ClientError> = std::result::Result<T, E>;

fn filters_query(filters: Option<String>) -> Vec<(&'static str, String)> {
    filters.map(|f| ("filters", f)).into_iter().collect()
}

/// The operations on networks.
pub struct Networks<'a>(pub(crate) &'a Client);

impl Networks<'_> {
    /// Creates a network from Docker's create body; its ID.
    pub async fn create(&self, body: &Value) -> Result<String> {
        let v = self.0.post("/networks/create", &[], Body::Json(body.clone())).await?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }

    /// The networks, as Docker's JSON.
    pub async fn list(&self, filters: Option<String>) -> Result<Vec<Value>> {
        Ok(self.0.get("/networks", &filters_query(filters)).await?.as_array().cloned().unwrap_or_default())
    }

    pub async fn inspect_json(&self, name: &str) -> Result<Value> {
        self.0.get(&format!("/networks/{name}"), &[]).await
    }

    pub async fn remove(&self, name: &str) -> Result<()> {
        self.0.delete(&format!("/networks/{name}"), &[]).await.map(drop)
    }

    /// Connects `container` with Docker's endpoint settings.
    pub async fn connect(&self, name: &str, container: &str, endpoint: &Value) -> Result<()> {
        let body = serde_json::json!({"Container": container, "EndpointConfig": endpoint});
        self.0.post(&format!("/networks/{name}/connect"), &[], Body::Json(body)).await.map(drop)
    }

    pub async fn disconnect(&self, name: &str, container: &str, force: bool) -> Result<()> {
        let body = serde_json::json!({"Container": container, "Force": force});
        self.0.post(&format!("/networks/{name}/disconnect"), &[], Body::Json(body)).await.map(drop)
    }
}

/// The operations on volumes.
pub struct Volumes<'a>(pub(crate) &'a Client);

impl Volumes<'_> {
    /// Creates a volume from Docker's create body; its name.
    pub async fn create(&self, body: &Value) -> Result<String> {
        let v = self.0.post("/volumes/create", &[], Body::Json(body.clone())).await?;
        Ok(v["Name"].as_str().unwrap_or_default().to_string())
    }

    /// The volumes, as Docker's JSON.
    pub async fn list(&self, filters: Option<String>) -> Result<Vec<Value>> {
        let v = self.0.get("/volumes", &filters_query(filters)).await?;
        Ok(v["Volumes"].as_array().cloned().unwrap_or_default())
    }

    pub async fn inspect_json(&self, name: &str) -> Result<Value> {
        self.0.get(&format!("/volumes/{name}"), &[]).await
    }

    pub async fn remove(&self, name: &str, force: bool) -> Result<()> {
        let q = if force { vec![("force", "1".to_string())] } else { vec![] };
        self.0.delete(&format!("/volumes/{name}"), &q).await.map(drop)
    }
}
