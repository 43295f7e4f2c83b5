//! `/images/…`. Image names contain slashes, so the name is everything between `images/` and
//! the action.

use berth_api::ApiError;
use berth_image::{DeleteItem, ImportOptions};
use hyper::Method;
use serde_json::json;
use tokio::sync::mpsc;

use super::{json, not_found_page, stream, Ctx, HResult};
use berth_engine::fs::ChanWriter;
use berth_engine::pull::{PullEvent, PullRequest};
use berth_engine::push::PushRequest;
use berth_engine::Images;
use berth_engine::{blocking, Registries};

fn delete_items(items: &[DeleteItem]) -> Vec<serde_json::Value> {
    items
        .iter()
        .map(|i| match i {
            DeleteItem::Untagged(r) => json!({"Untagged": r}),
            DeleteItem::Deleted(d) => json!({"Deleted": d}),
        })
        .collect()
}

/// `POST /images/create?fromImage=…&tag=…&platform=…`: the pull's steps as Docker's JSON
/// messages. A failure before the first step (an unknown host, a refused login, an unknown
/// manifest) is the answer's status; a later one ends the stream with an error message.
async fn pull<B: Registries>(ctx: &Ctx<B>, from: &str) -> HResult {
    // A reference that cannot be one is the client's mistake, as on Docker.
    let tag = ctx.q("tag").filter(|t| !t.is_empty());
    let full = match tag {
        Some(t) if t.starts_with("sha256:") => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    // Without a tag, every tag is pulled (the docker CLI's `pull -a`; it names `latest` itself).
    let reference = berth_image::Reference::parse(&full).map_err(|e| ApiError::invalid(e.to_string()))?;
    let platform = match ctx.q("platform").filter(|p| !p.is_empty()) {
        Some(p) => Some(berth_oci::Platform::parse(p).map_err(|e| ApiError::invalid(e.to_string()))?),
        None => None,
    };
    let req = PullRequest { reference, platform, credentials: credentials(ctx)? };
    let backend = ctx.backend.clone();
    transfer(move |events| async move { backend.image_pull(req, events).await }).await
}

/// The registry credentials a request carries (`X-Registry-Auth`).
fn credentials<B>(ctx: &Ctx<B>) -> Result<berth_distribution::Credentials, ApiError> {
    let auth = berth_api::auth::registry_auth(
        ctx.parts.headers.get("x-registry-auth").and_then(|v| v.to_str().ok()),
    )?;
    Ok(to_credentials(auth))
}

/// A client's `AuthConfig` as the engine's credentials.
pub(super) fn to_credentials(auth: berth_api::auth::AuthConfig) -> berth_distribution::Credentials {
    let (username, password) = auth.user_password();
    berth_distribution::Credentials {
        username,
        password,
        registry_token: auth.registrytoken,
        identity_token: auth.identitytoken,
    }
}

/// `GET /distribution/{name}/json`: what a reference names at its registry, without pulling it.
pub async fn distribution<B: Registries>(ctx: Ctx<B>, name: &str) -> HResult {
    let reference =
        berth_image::Reference::parse(name).map_err(|e| ApiError::invalid(e.to_string()))?.with_default_tag();
    let d = ctx.backend.distribution_inspect(reference, credentials(&ctx)?).await?;
    let platforms: Vec<serde_json::Value> = d
        .platforms
        .iter()
        .map(|p| {
            let mut v = json!({"architecture": p.architecture, "os": p.os});
            if !p.variant.is_empty() {
                v["variant"] = p.variant.clone().into();
            }
            v
        })
        .collect();
    Ok(json(
        200,
        &json!({
            "Descriptor": {"mediaType": d.media_type, "digest": d.digest, "size": d.size},
            "Platforms": platforms,
        }),
    ))
}

/// `GET /images/search?term=…&limit=…&filters=…`: repositories of a registry, as Docker finds
/// them (`is-official`, `is-automated` and `stars` filters applied here).
async fn search<B: Registries>(ctx: &Ctx<B>) -> HResult {
    let term = ctx.q("term").unwrap_or_default().to_string();
    let limit = match ctx.q("limit").filter(|l| !l.is_empty()) {
        None => 25,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n as usize,
            Ok(n) => return Err(ApiError::invalid(format!("limit {n} is outside the range of [1, 100]"))),
            Err(_) => {
                return Err(ApiError::invalid(format!("invalid limit {l:?}: give a number from 1 to 100")))
            }
        },
    };
    let f = ctx.filters()?;
    f.validate(&["is-official", "is-automated", "stars"])?;
    let official = f.bool_value("is-official")?;
    let automated = f.bool_value("is-automated")?;
    let stars = match f.get("stars").last() {
        None => 0,
        Some(s) => s.parse::<u64>().map_err(|_| ApiError::invalid(format!("invalid filter 'stars={s}'")))?,
    };
    let found = ctx.backend.image_search(term, limit, credentials(ctx)?).await?;
    let kept: Vec<_> = found
        .into_iter()
        .filter(|r| official.is_none_or(|o| r.is_official == o))
        .filter(|r| automated.is_none_or(|a| r.is_automated == a))
        .filter(|r| r.star_count >= stars)
        .collect();
    Ok(json(200, &kept))
}

/// `POST /auth`: checks the credentials in the body against their registry.
pub async fn auth<B: Registries>(mut ctx: Ctx<B>) -> HResult {
    let body: serde_json::Value = ctx.json().await?;
    let auth: berth_api::auth::AuthConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::invalid(format!("invalid auth configuration: {e}")))?;
    let (username, password) = auth.user_password();
    let credentials = berth_distribution::Credentials {
        username,
        password,
        registry_token: auth.registrytoken,
        identity_token: auth.identitytoken,
    };
    let token = ctx.backend.registry_login(auth.serveraddress, credentials).await?;
    Ok(json(200, &json!({"Status": "Login Succeeded", "IdentityToken": token.unwrap_or_default()})))
}

/// `POST /images/{name}/push?tag=…`: the push's steps as Docker's JSON messages.
async fn push<B: Registries>(ctx: &Ctx<B>, name: &str) -> HResult {
    let tag = ctx.q("tag").filter(|t| !t.is_empty());
    let full = match tag {
        Some(t) => format!("{name}:{t}"),
        None => name.to_string(),
    };
    let reference = berth_image::Reference::parse(&full).map_err(|e| ApiError::invalid(e.to_string()))?;
    let req = PushRequest { reference, credentials: credentials(ctx)? };
    let backend = ctx.backend.clone();
    transfer(move |events| async move { backend.image_push(req, events).await }).await
}

/// Runs a pull or push, streaming its steps as Docker's JSON messages (see
/// [`super::progress::answer`]).
async fn transfer<F, Fut>(run: F) -> HResult
where
    F: FnOnce(mpsc::UnboundedSender<PullEvent>) -> Fut,
    Fut: std::future::Future<Output = berth_engine::Result<()>> + Send + 'static,
{
    let (events_tx, events) = mpsc::unbounded_channel();
    let running = tokio::spawn(run(events_tx));
    super::progress::answer(events, running, super::progress::pull_event, || {}).await
}

pub async fn route<B: Images + Registries>(mut ctx: Ctx<B>, segs: &[&str]) -> HResult {
    let e = ctx.backend.clone();
    let m = ctx.method.clone();
    match (&m, &segs[1..]) {
        (&Method::GET, ["json"]) => {
            let (all, f) = (ctx.flag("all"), ctx.filters()?);
            Ok(json(200, &blocking(move || e.image_list(all, &f)).await?))
        }
        (&Method::GET, ["search"]) => search(&ctx).await,
        (&Method::POST, ["load"]) => {
            let quiet = ctx.flag("quiet");
            let mut body = ctx.body_reader()?;
            let (tx, rx) = mpsc::channel(16);
            tokio::task::spawn_blocking(move || {
                // Docker's "Loading layer" lines, by the layer's short diff ID, unless quiet.
                let mut progress = |p: berth_image::LayerProgress<'_>| {
                    if !quiet {
                        let detail = berth_api::jsonmessage::Progress { current: p.current, total: p.total };
                        let id = &p.diff_id.hex()[..12];
                        let _ =
                            tx.blocking_send(berth_api::jsonmessage::progress(id, "Loading layer", detail));
                    }
                };
                let loaded = e.image_load(&mut body, &mut progress);
                body.drain();
                let out = match loaded {
                    Ok(msgs) => msgs
                        .iter()
                        .map(|m| berth_api::jsonmessage::stream(&format!("{m}\n")))
                        .collect::<Vec<_>>(),
                    Err(err) => vec![berth_api::jsonmessage::error(&err.to_string())],
                };
                for line in out {
                    if tx.blocking_send(line).is_err() {
                        return;
                    }
                }
            });
            Ok(stream(200, "application/json", rx))
        }
        (&Method::GET, ["get"]) => save(ctx, None),
        (&Method::POST, ["create"]) => {
            if let Some(from) = ctx.q("fromImage").filter(|i| !i.is_empty()) {
                return pull(&ctx, from).await;
            }
            let src = ctx.q("fromSrc").unwrap_or_default().to_string();
            if src != "-" {
                return Err(ApiError::invalid(format!(
                    "importing from {src:?} is not supported: send the tar in the request body (fromSrc=-)"
                )));
            }
            let repo = ctx.q("repo").unwrap_or_default().to_string();
            let tag = ctx.q("tag").unwrap_or_default().to_string();
            let opts = ImportOptions {
                changes: ctx.query_all("changes"),
                message: ctx.q("message").filter(|m| !m.is_empty()).map(String::from),
                reference: (!repo.is_empty()).then(|| {
                    if tag.is_empty() {
                        repo.clone()
                    } else {
                        format!("{repo}:{tag}")
                    }
                }),
                source: src,
                platform: match ctx.q("platform").filter(|p| !p.is_empty()) {
                    Some(p) => {
                        Some(berth_oci::Platform::parse(p).map_err(|e| ApiError::invalid(e.to_string()))?)
                    }
                    None => None,
                },
            };
            let mut body = ctx.body_reader()?;
            let (tx, rx) = mpsc::channel(4);
            tokio::task::spawn_blocking(move || {
                let imported = e.image_import(&mut body, &opts);
                body.drain();
                let line = match imported {
                    Ok(id) => berth_api::jsonmessage::status(&id),
                    Err(err) => berth_api::jsonmessage::error(&err.to_string()),
                };
                let _ = tx.blocking_send(line);
            });
            Ok(stream(200, "application/json", rx))
        }
        (&Method::POST, ["prune"]) => {
            let f = ctx.filters()?;
            let r = blocking(move || e.image_prune(&f)).await?;
            let deleted =
                if r.deleted.is_empty() { serde_json::Value::Null } else { json!(delete_items(&r.deleted)) };
            Ok(json(200, &json!({"ImagesDeleted": deleted, "SpaceReclaimed": r.space_reclaimed})))
        }
        (&Method::DELETE, name) if !name.is_empty() => {
            let name = name.join("/");
            let force = ctx.flag("force");
            let items = blocking(move || e.image_remove(&name, force)).await?;
            Ok(json(200, &delete_items(&items)))
        }
        (_, [name @ .., action]) if !name.is_empty() => {
            let name = name.join("/");
            match (&m, *action) {
                (&Method::GET, "json") => Ok(json(200, &blocking(move || e.image_inspect(&name)).await?)),
                (&Method::GET, "history") => Ok(json(200, &blocking(move || e.image_history(&name)).await?)),
                (&Method::POST, "tag") => {
                    let repo = ctx.q("repo").unwrap_or_default().to_string();
                    let tag = ctx.q("tag").unwrap_or_default().to_string();
                    if repo.is_empty() {
                        return Err(ApiError::invalid("repository name must have at least one component"));
                    }
                    blocking(move || e.image_tag(&name, &repo, &tag)).await?;
                    Ok(super::empty(201))
                }
                (&Method::GET, "get") => save(ctx, Some(name)),
                (&Method::POST, "push") => push(&ctx, &name).await,
                _ => Err(not_found_page()),
            }
        }
        _ => Err(not_found_page()),
    }
}

fn save<B: Images>(ctx: Ctx<B>, one: Option<String>) -> HResult {
    let e = ctx.backend.clone();
    let names = match one {
        Some(n) => vec![n],
        None => ctx.query_all("names"),
    };
    // Check before the 200 goes out, so a missing image is a 404.
    e.images_present(&names)?;
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        if let Err(err) = e.image_save(&names, ChanWriter(tx)) {
            tracing::warn!(error = %err, "save failed");
        }
    });
    Ok(stream(200, "application/x-tar", rx))
}
