//! `POST /build`: Docker's classic builder path, as the docker CLI (`DOCKER_BUILDKIT=0`), the
//! Python SDK and docker-compose call it. The body is the context tar; the answer streams the
//! build's classic messages, then the image ID (`aux`) or an error (with a failed command's
//! exit code).

use std::collections::BTreeMap;

use berth_api::ApiError;
use berth_engine::build::{BuildEvent, BuildRequest};
use berth_engine::Builds;
use tokio::sync::mpsc;

use super::{Ctx, HResult};

/// A JSON object of strings given as a query parameter (`buildargs`, `labels`); a `null`
/// value takes the variable from nowhere (Docker's `--build-arg NAME` with NAME unset).
fn string_map<B>(ctx: &Ctx<B>, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(text) = ctx.q(key).filter(|t| !t.is_empty()) else { return Ok(BTreeMap::new()) };
    let v: BTreeMap<String, Option<String>> =
        serde_json::from_str(text).map_err(|e| ApiError::invalid(format!("invalid {key}: {e}")))?;
    Ok(v.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

/// A JSON array of strings given as a query parameter (`cachefrom`).
fn string_list<B>(ctx: &Ctx<B>, key: &str) -> Result<Vec<String>, ApiError> {
    let Some(text) = ctx.q(key).filter(|t| !t.is_empty()) else { return Ok(Vec::new()) };
    serde_json::from_str(text)
        .map_err(|e| ApiError::invalid(format!("invalid {key}: {e}: give a JSON array of strings")))
}

/// The credentials a build's client sent, by registry (`X-Registry-Config`).
fn registry_credentials<B>(
    ctx: &Ctx<B>,
) -> Result<BTreeMap<String, berth_distribution::Credentials>, ApiError> {
    let header = ctx.parts.headers.get("x-registry-config").and_then(|v| v.to_str().ok());
    Ok(berth_api::auth::registry_config(header)?
        .into_iter()
        .map(|(registry, auth)| (registry, super::images::to_credentials(auth)))
        .collect())
}

/// A berth header carrying base64url JSON (`X-Berth-Build-Secrets`, `X-Berth-Build-Ssh`).
fn json_header<B, T: serde::de::DeserializeOwned>(ctx: &Ctx<B>, name: &str) -> Result<Option<T>, ApiError> {
    use base64::Engine as _;
    let Some(v) = ctx.parts.headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(v.trim())
        .map_err(|_| ApiError::invalid(format!("invalid {name} header: it is not base64url-encoded JSON")))?;
    serde_json::from_slice(&raw)
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("invalid {name} header: {e}")))
}

/// The build's secrets, by id: their values base64-encoded in `X-Berth-Build-Secrets`.
fn secrets<B>(ctx: &Ctx<B>) -> Result<BTreeMap<String, Vec<u8>>, ApiError> {
    use base64::Engine as _;
    let encoded: BTreeMap<String, String> = json_header(ctx, "x-berth-build-secrets")?.unwrap_or_default();
    encoded
        .into_iter()
        .map(|(id, v)| {
            let value = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| ApiError::invalid(format!("invalid secret {id:?}: its value is not base64")))?;
            Ok((id, value))
        })
        .collect()
}

/// What the query and headers ask of the build.
fn request<B>(ctx: &Ctx<B>) -> Result<BuildRequest, ApiError> {
    let shm_size = match ctx.q("shmsize").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse()
                .map_err(|_| ApiError::invalid(format!("invalid shmsize {s:?}: give a number of bytes")))?,
        ),
        None => None,
    };
    let ulimits = match ctx.q("ulimits").filter(|u| !u.is_empty()) {
        Some(u) => serde_json::from_str(u).map_err(|e| ApiError::invalid(format!("invalid ulimits: {e}")))?,
        None => Vec::new(),
    };
    Ok(BuildRequest {
        tags: ctx.query_all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        dockerfile: ctx.q("dockerfile").unwrap_or_default().to_string(),
        build_args: string_map(ctx, "buildargs")?,
        target: ctx.q("target").filter(|t| !t.is_empty()).map(String::from),
        labels: string_map(ctx, "labels")?,
        no_cache: ctx.flag("nocache"),
        cache_from: string_list(ctx, "cachefrom")?,
        platform: ctx.q("platform").filter(|p| !p.is_empty()).map(String::from),
        no_cache_filter: string_list(ctx, "nocachefilter")?,
        pull: ctx.flag("pull"),
        quiet: ctx.flag("q"),
        network_mode: ctx.q("networkmode").filter(|n| !n.is_empty()).map(String::from),
        explain: ctx.flag("explain"),
        live: ctx.flag("berthprogress"),
        registry_credentials: registry_credentials(ctx)?,
        extra_hosts: ctx
            .q("extrahosts")
            .map(|h| h.split(',').map(str::trim).filter(|h| !h.is_empty()).map(String::from).collect())
            .unwrap_or_default(),
        shm_size,
        ulimits,
        secrets: secrets(ctx)?,
        ssh: json_header(ctx, "x-berth-build-ssh")?.unwrap_or_default(),
        remote: ctx.q("remote").filter(|r| !r.is_empty()).map(String::from),
        build_id: ctx.q("buildid").filter(|b| !b.is_empty()).map(String::from),
        cancel: None,
    })
}

pub async fn build<B: Builds>(mut ctx: Ctx<B>) -> HResult {
    let mut req = request(&ctx)?;
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    req.cancel = Some(cancelled);
    for t in &req.tags {
        berth_image::Reference::parse(t)
            .map_err(|e| ApiError::invalid(format!("invalid reference format: {e}")))?;
    }
    let (events_tx, events) = mpsc::unbounded_channel();
    let backend = ctx.backend.clone();
    let body = ctx.body_reader()?;
    let running =
        tokio::spawn(async move { backend.build(req, Box::new(DrainOnDrop(body)), events_tx).await });
    // A client that goes away (Ctrl-C) cancels the build, whose leftovers go.
    super::progress::answer(events, running, render, move || {
        let _ = cancel.send(true);
    })
    .await
}

fn render(e: BuildEvent) -> Vec<u8> {
    match e {
        BuildEvent::Text(t) => berth_api::jsonmessage::stream(&t),
        BuildEvent::Built(id) => berth_api::jsonmessage::aux(&serde_json::json!({ "ID": id })),
        BuildEvent::Pull(p) => super::progress::pull_event(p),
        BuildEvent::Step(step) => berth_api::jsonmessage::aux_with_id("berth.build.step", &step),
        BuildEvent::Log(log) => berth_api::jsonmessage::aux_with_id("berth.build.log", &log),
    }
}

/// The request body as the build reads it; what the build leaves unread is drained, so the
/// connection stays usable.
struct DrainOnDrop(super::BodyReader);

impl std::io::Read for DrainOnDrop {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        self.0.drain();
    }
}

/// `POST /build/prune`: the build cache's unused items (`all`: every one), and the bytes freed.
pub async fn prune<B: Builds>(ctx: Ctx<B>) -> HResult {
    let report = ctx.backend.build_cache_prune(ctx.flag("all")).await?;
    let deleted = (!report.deleted.is_empty()).then_some(report.deleted);
    Ok(super::json(200, &serde_json::json!({"CachesDeleted": deleted, "SpaceReclaimed": report.reclaimed})))
}

/// `POST /build/cancel?id=…`: cancels the build started with that `buildid`.
pub async fn cancel<B: Builds>(ctx: Ctx<B>) -> HResult {
    let id =
        ctx.q("id").filter(|i| !i.is_empty()).ok_or_else(|| ApiError::invalid("build ID not provided"))?;
    ctx.backend.build_cancel(id.to_string()).await?;
    Ok(super::empty(200))
}
