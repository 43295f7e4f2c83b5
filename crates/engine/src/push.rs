//! `docker push`: each local tag of the repository (or the one asked for) sent to its registry:
//! the layers the registry lacks uploaded from the store as they are stored (up to five at
//! once), mounted from another repository of the same registry when the image came from there,
//! or found there already; then the config and the manifest. Progress in Docker's steps;
//! the image gets the repository digest the push gives it.

use std::sync::Arc;

use berth_content::Digest;
use berth_distribution::{Credentials, Operation, Registry};
use berth_image::{PushBlob, PushPlan};
use berth_oci::Reference;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use crate::pull::{moved, say, Events, PullEvent};
use crate::{Engine, EngineError, Result};

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The repository, with the tag to push (all the repository's tags when it has none).
    pub reference: Reference,
    pub credentials: Credentials,
}

fn short(d: &Digest) -> String {
    d.hex().chars().take(12).collect()
}

impl Engine {
    /// Pushes `req` (see the module's documentation); `events` hears each step.
    pub async fn image_push(self: &Arc<Self>, req: PushRequest, events: Events) -> Result<()> {
        let cfg = self.config();
        let registry = Registry::new(cfg.registries().map_err(EngineError::InvalidArgument)?);
        let tags = match req.reference.tag() {
            Some(_) => vec![req.reference.clone()],
            None => self.images.repository_tags(&req.reference)?,
        };
        let plans: Vec<(Reference, PushPlan)> = tags
            .into_iter()
            .map(|t| self.images.push_plan(&t.to_string()).map(|p| (t, p)))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                EngineError::NotFound(format!(
                    "An image does not exist locally with the tag: {}",
                    req.reference.familiar_name()
                ))
            })?;
        if plans.is_empty() {
            return Err(EngineError::NotFound(format!(
                "An image does not exist locally with the tag: {}",
                req.reference.familiar_name()
            )));
        }
        say(&events, "", format!("The push refers to repository [{}]", req.reference.name()));
        for (tag, plan) in plans {
            let remote = Arc::new(registry.session(&tag, &req.credentials, Operation::Push).await?);
            let limit = if cfg.max_concurrent_uploads == 0 { 5 } else { cfg.max_concurrent_uploads };
            let gate = Arc::new(Semaphore::new(limit));
            let mut tasks = Vec::new();
            // Docker lists a push's layers from the top one down.
            let id = |layer: &PushBlob| short(layer.diff_id.as_ref().unwrap_or(&layer.digest));
            for layer in plan.layers.iter().rev() {
                say(&events, &id(layer), "Preparing");
            }
            // Plain tars go gzip-compressed, as Docker pushes them (once: the compressed blobs
            // are kept for the next push).
            let name = tag.to_string();
            tokio::task::block_in_place(|| self.images.compress_for_push(&name))?;
            let plan = self.images.push_plan(&name)?;
            for (n, layer) in plan.layers.iter().rev().enumerate() {
                let id = id(layer);
                if n >= limit {
                    say(&events, &id, "Waiting");
                }
                let (remote, gate, events, blob) =
                    (remote.clone(), gate.clone(), events.clone(), layer.clone());
                let sources: Vec<Reference> = plan
                    .sources
                    .iter()
                    .filter(|s| s.domain() == tag.domain() && s.name() != tag.name())
                    .cloned()
                    .collect();
                let path = self.images.blob_path(&layer.digest);
                tasks.push(tokio::spawn(async move {
                    let _permit = gate.acquire_owned().await;
                    push_layer(&remote, &blob, &path, &sources, &id, &events).await
                }));
            }
            for t in tasks {
                t.await.map_err(|e| EngineError::internal("push", e))??;
            }
            let config_path = self.images.blob_path(&plan.config.digest);
            if !remote.has_blob(&plan.config.digest.to_string()).await? {
                let stream = file_stream(config_path, plan.config.size, None);
                remote.push_blob(&plan.config.digest.to_string(), plan.config.size, stream).await?;
            }
            remote.push_manifest(plan.manifest.clone(), &plan.manifest_media_type).await?;
            let digest = Digest::of(&plan.manifest);
            let size = plan.manifest.len();
            let tag_name = tag.tag().unwrap_or("latest").to_string();
            say(&events, "", format!("{tag_name}: digest: {digest} size: {size}"));
            let _ = events.send(PullEvent {
                id: String::new(),
                status: String::new(),
                progress: None,
                aux: Some(serde_json::json!({"Tag": tag_name, "Digest": digest.to_string(), "Size": size})),
            });
            let repo_digest = format!("{}@{digest}", tag.name());
            tokio::task::block_in_place(|| self.images.add_repo_digest(&plan.image, &repo_digest))?;
            self.image_event("push", &tag.to_string(), &tag.to_string());
        }
        Ok(())
    }
}

/// One layer: already there, or uploaded with progress.
async fn push_layer(
    remote: &berth_distribution::Session,
    blob: &PushBlob,
    path: &std::path::Path,
    sources: &[Reference],
    id: &str,
    events: &Events,
) -> Result<()> {
    let digest = blob.digest.to_string();
    if remote.has_blob(&digest).await? {
        say(events, id, "Layer already exists");
        return Ok(());
    }
    // A repository of the same registry the image came from may lend it.
    for source in sources {
        if remote.mount_blob(&digest, source).await {
            say(events, id, format!("Mounted from {}", source.path()));
            return Ok(());
        }
    }
    let stream = file_stream(path.to_path_buf(), blob.size, Some((id.to_string(), events.clone())));
    remote.push_blob(&digest, blob.size, stream).await?;
    say(events, id, "Pushed");
    Ok(())
}

/// A stored blob as a stream of chunks, its progress reported as Docker's `Pushing`.
fn file_stream(
    path: std::path::PathBuf,
    total: u64,
    progress: Option<(String, Events)>,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    enum State {
        Start(std::path::PathBuf),
        Reading(tokio::fs::File),
        Done,
    }
    futures::stream::unfold((State::Start(path), 0u64, 0u64), move |(state, sent, last)| {
        let progress = progress.clone();
        async move {
            let mut f = match state {
                State::Done => return None,
                State::Reading(f) => f,
                State::Start(p) => match tokio::fs::File::open(&p).await {
                    Ok(f) => f,
                    Err(e) => return Some((Err(e), (State::Done, sent, last))),
                },
            };
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let sent = sent + n as u64;
                    let mut last = last;
                    if let Some((id, events)) = &progress {
                        if sent - last >= 512 * 1024 || sent == total {
                            last = sent;
                            moved(events, id, "Pushing", sent, total);
                        }
                    }
                    Some((Ok(bytes::Bytes::from(buf)), (State::Reading(f), sent, last)))
                }
                Err(e) => Some((Err(e), (State::Done, sent, last))),
            }
        }
    })
}
