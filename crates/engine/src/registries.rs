//! Asking registries what is there without moving images: `docker login`'s check,
//! `docker search`, and `GET /distribution/{name}/json`. Pulls and pushes are `pull.rs` and
//! `push.rs`.

use std::sync::Arc;

use berth_distribution::{Credentials, Operation, Registry};
use berth_oci::Reference;

use crate::{Engine, EngineError, Result};

impl Engine {
    /// `docker login`: checks the credentials against the registry at `host` (Docker Hub's
    /// when empty).
    /// Gives the identity token the registry's token service issued, if it did.
    pub async fn registry_login(
        self: &Arc<Self>,
        host: String,
        credentials: Credentials,
    ) -> Result<Option<String>> {
        let cfg = self.config().registries().map_err(EngineError::InvalidArgument)?;
        let host = berth_distribution::registry::login_host(&host);
        Ok(berth_distribution::login(&cfg, &host, &credentials).await?)
    }

    /// Repositories the registry `term` names finds for it (`docker search`).
    pub async fn image_search(
        self: &Arc<Self>,
        term: String,
        limit: usize,
        credentials: Credentials,
    ) -> Result<Vec<berth_distribution::SearchResult>> {
        let cfg = self.config().registries().map_err(EngineError::InvalidArgument)?;
        Ok(berth_distribution::search(&cfg, &term, limit, &credentials).await?)
    }

    /// What `reference` names at its registry, without pulling it.
    pub async fn distribution_inspect(
        self: &Arc<Self>,
        reference: Reference,
        credentials: Credentials,
    ) -> Result<berth_distribution::Described> {
        let registry = Registry::new(self.config().registries().map_err(EngineError::InvalidArgument)?);
        Ok(registry.session(&reference, &credentials, Operation::Pull).await?.describe().await?)
    }
}
