//! `docker pull`: a reference resolved for the platform at its registry, the config fetched,
//! the missing layers downloaded in parallel (`max-concurrent-downloads`) and each extracted as
//! its bytes arrive, in order, on its parent (a layer's blob is written to its ingest file by a
//! writer thread and read back as it grows by the extractor), each blob verified whole at its
//! commit; then the image recorded with its manifest, tag and repository digest. Everything
//! is written in one image-store session: a failure (a broken download, a digest mismatch, a
//! killed daemon) leaves no partial blob, layer or image behind. Progress is reported in
//! Docker's steps, per layer.

use std::io::Read;
use std::sync::Arc;

use berth_content::{BlobInfo, Digest, GrowingReader, Growth, Ingest};
use berth_distribution::{Credentials, Operation, Registry, Resolved};
use berth_image::{PulledLayer, WriteSession};
use berth_metadata::LayerRecord;
use berth_oci::{Platform, Reference};
use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};

use crate::{Engine, EngineError, Result};

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// A tagged or digested reference; a bare name pulls every tag (`pull -a`).
    pub reference: Reference,
    /// The platform asked for (`--platform`); the host's when none.
    pub platform: Option<Platform>,
    pub credentials: Credentials,
}

/// One step of a pull or a push, as Docker's progress stream shows it: a status for an ID (a
/// layer's short digest, the tag), with bytes done of a total while it moves; or an `aux`
/// record (a pushed tag's digest and size).
#[derive(Debug, Clone, PartialEq)]
pub struct PullEvent {
    pub id: String,
    pub status: String,
    pub progress: Option<(u64, u64)>,
    pub aux: Option<serde_json::Value>,
}

/// Where a pull's or push's steps go.
pub(crate) type Events = mpsc::UnboundedSender<PullEvent>;

/// A step that moves: `current` bytes of `total`.
pub(crate) fn moved(events: &Events, id: &str, status: &str, current: u64, total: u64) {
    let _ = events.send(PullEvent {
        id: id.to_string(),
        status: status.to_string(),
        progress: Some((current, total)),
        aux: None,
    });
}

/// A step without progress.
pub(crate) fn say(events: &Events, id: &str, status: impl Into<String>) {
    let _ = events.send(PullEvent { id: id.to_string(), status: status.into(), progress: None, aux: None });
}

fn short(d: &str) -> String {
    d.split_once(':').map(|(_, h)| h).unwrap_or(d).chars().take(12).collect()
}

/// A layer being downloaded: where its bytes go and how far they are.
struct Download {
    path: std::path::PathBuf,
    growth: Growth,
    /// The ingest, back from its writer once the last byte is written.
    done: std::sync::mpsc::Receiver<std::result::Result<Ingest, String>>,
}

impl Engine {
    /// Pulls `req` (see the module's documentation); `events` hears each step. A name without
    /// a tag or digest pulls every tag of its repository, in the registry's order.
    pub async fn image_pull(self: &Arc<Self>, req: PullRequest, events: Events) -> Result<()> {
        if req.reference.tag().is_some() || req.reference.digest().is_some() {
            let newer = self.pull_one(&req, &events).await?;
            say(&events, "", status(newer, &req.reference.familiar()));
            return Ok(());
        }
        let registry = Registry::new(self.config().registries().map_err(EngineError::InvalidArgument)?);
        let tags = registry.session(&req.reference, &req.credentials, Operation::Pull).await?.tags().await?;
        let mut newer = false;
        for t in tags {
            let one = PullRequest { reference: req.reference.with_tag(&t), ..req.clone() };
            newer |= self.pull_one(&one, &events).await?;
        }
        say(&events, "", status(newer, &req.reference.familiar_name()));
        Ok(())
    }

    /// Pulls one tagged or digested image; whether it brought a newer image.
    async fn pull_one(self: &Arc<Self>, req: &PullRequest, events: &Events) -> Result<bool> {
        let events = events.clone();
        let cfg = self.config();
        let registries = cfg.registries().map_err(EngineError::InvalidArgument)?;
        let candidates = registries.candidates(&req.reference);
        let registry = Registry::new(registries);
        let reference = req.reference.clone();
        let tag_id = reference.tag().or(reference.digest()).unwrap_or("latest").to_string();
        let platform = req.platform.clone().unwrap_or_else(Platform::host);
        // Docker Hub's mirrors first, then the registry itself: the first that has the image.
        let mut found = None;
        let last = candidates.len() - 1;
        for (i, candidate) in candidates.iter().enumerate() {
            let attempt = async {
                let remote = registry.session(candidate, &req.credentials, Operation::Pull).await?;
                let resolved = remote.resolve(&platform).await?;
                Ok::<_, EngineError>((remote, resolved))
            };
            match attempt.await {
                Ok(r) => {
                    found = Some(r);
                    break;
                }
                Err(e) if i == last => return Err(e),
                Err(e) => {
                    tracing::info!(mirror = %candidate, error = %e, "pulling through a mirror failed; trying the next")
                }
            }
        }
        let (remote, resolved) = found.expect("the last candidate answers or fails the pull");
        let remote = Arc::new(remote);
        say(&events, &tag_id, format!("Pulling from {}", reference.path()));
        let config = remote.blob_bytes(&resolved.config).await?;
        let limit = if cfg.max_concurrent_downloads == 0 { 3 } else { cfg.max_concurrent_downloads };
        // Store work blocks: this worker hands its other tasks on while the downloads run on
        // the others.
        let outcome = tokio::task::block_in_place(|| {
            let before = self.images.resolve(&reference.to_string()).ok().map(|i| i.id);
            let session = self.images.session()?;
            let attempts = cfg.max_download_attempts.max(1);
            let id =
                pull_into(&session, &remote, &resolved, &config, (limit, attempts), &events, &reference)?;
            session.finish()?;
            Ok::<_, EngineError>(before != Some(id))
        })?;
        say(&events, "", format!("Digest: {}", resolved.digest));
        let id = self.images.resolve(&reference.to_string()).map(|i| i.id.to_string()).unwrap_or_default();
        self.image_event("pull", &id, &reference.to_string());
        Ok(outcome)
    }
}

/// The last line of a pull.
fn status(newer: bool, familiar: &str) -> String {
    if newer {
        format!("Status: Downloaded newer image for {familiar}")
    } else {
        format!("Status: Image is up to date for {familiar}")
    }
}

/// The store side of a pull, in a session; the image's ID.
fn pull_into(
    session: &WriteSession<'_>,
    remote: &Arc<berth_distribution::Session>,
    resolved: &Resolved,
    config: &[u8],
    (limit, attempts): (usize, usize),
    events: &Events,
    reference: &Reference,
) -> Result<Digest> {
    // The config, verified against its descriptor before anything trusts it.
    let want = Digest::parse(resolved.config.digest().as_ref())?;
    let mut ingest = session.ingest(Some((want, Some(resolved.config.size()))))?;
    std::io::Write::write_all(&mut ingest, config).map_err(|e| EngineError::internal("write config", e))?;
    session.commit_blob(ingest)?;
    let plan = session.pull_plan(config, resolved.layers.len())?;
    let mut downloads: Vec<Option<Download>> = Vec::new();
    let gate = Arc::new(Semaphore::new(limit));
    let mut tasks = Vec::new();
    let handle = tokio::runtime::Handle::current();
    for (i, desc) in resolved.layers.iter().enumerate() {
        let id = short(desc.digest().as_ref());
        if plan.present[i].is_some() {
            say(events, &id, "Already exists");
            downloads.push(None);
            continue;
        }
        say(events, &id, "Pulling fs layer");
        let digest = Digest::parse(desc.digest().as_ref())?;
        let ingest = session.ingest(Some((digest, Some(desc.size()))))?;
        let growth = Growth::new();
        let (done_tx, done) = std::sync::mpsc::channel();
        downloads.push(Some(Download { path: ingest.path().to_path_buf(), growth: growth.clone(), done }));
        let (chunks_tx, chunks) = mpsc::channel::<bytes::Bytes>(2);
        // The writer: chunks into the ingest file, flushed and published as they come.
        let writer_growth = growth.clone();
        std::thread::spawn(move || write_blob(ingest, chunks, writer_growth, done_tx));
        let (remote, gate, events, desc) = (remote.clone(), gate.clone(), events.clone(), desc.clone());
        // Beyond the first `limit` downloads, a layer waits for a slot.
        if tasks.len() >= limit {
            say(&events, &id, "Waiting");
        }
        tasks.push(handle.spawn(async move {
            let _permit = gate.acquire_owned().await;
            if let Err(e) = download(&remote, &desc, &chunks_tx, &events, &id, attempts).await {
                growth.fail(e);
            }
        }));
    }
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let result = extract(session, resolved, &plan, downloads, limit, events);
    if result.is_err() {
        for a in aborts {
            a.abort();
        }
    }
    let layers = result?;
    let manifest_digest = session.put_bytes(&resolved.manifest)?;
    let manifest = berth_metadata::Descriptor {
        digest: manifest_digest,
        media_type: resolved.manifest_media_type.clone(),
        size: resolved.manifest.len() as u64,
    };
    let id = plan.id.clone();
    let repo_digest = format!("{}@{}", reference.name(), resolved.digest);
    let tag = reference.tag().map(|_| reference.clone());
    plan.record(session, resolved.config.media_type().as_ref(), manifest, layers, tag, Some(repo_digest))?;
    Ok(id)
}

/// Downloads one layer into `chunks`, as Docker does: a broken connection or a failing
/// registry is tried again (up to `attempts` times in all, waiting longer each time, and
/// saying so), resuming where the bytes stopped with a range request; what the registry
/// refuses (a missing blob, a denied pull) fails at once.
async fn download(
    remote: &berth_distribution::Session,
    desc: &berth_oci::manifest::Descriptor,
    chunks: &mpsc::Sender<bytes::Bytes>,
    events: &Events,
    id: &str,
    attempts: usize,
) -> std::result::Result<(), String> {
    use berth_kind::Kinded;
    let total = desc.size();
    let (mut current, mut last, mut tried) = (0u64, 0u64, 0usize);
    loop {
        tried += 1;
        let failure = match remote.blob_from(desc, current).await {
            Err(e) if !matches!(e.kind(), berth_kind::Kind::Internal | berth_kind::Kind::Unavailable) => {
                return Err(e.to_string())
            }
            Err(e) => e.to_string(),
            Ok(mut stream) => loop {
                match stream.next().await {
                    Some(Ok(b)) => {
                        current += b.len() as u64;
                        if chunks.send(b).await.is_err() {
                            return Ok(());
                        }
                        if current - last >= 512 * 1024 || current == total {
                            last = current;
                            moved(events, id, "Downloading", current, total);
                        }
                    }
                    Some(Err(e)) => break e.to_string(),
                    None if current < total => {
                        break format!("the registry ended the layer at {current} of {total} bytes")
                    }
                    None => {
                        say(events, id, "Verifying Checksum");
                        say(events, id, "Download complete");
                        return Ok(());
                    }
                }
            },
        };
        if tried >= attempts {
            return Err(failure);
        }
        let wait = retry_delay(tried);
        tracing::info!(layer = %desc.digest(), error = %failure, attempt = tried, "layer download failed; retrying");
        say(
            events,
            id,
            format!("Retrying in {} second{}", wait.as_secs(), if wait.as_secs() == 1 { "" } else { "s" }),
        );
        tokio::time::sleep(wait).await;
    }
}

/// How long to wait before the next try of a download that failed `tried` times: 1 s, 2 s, 4 s,
/// up to 10 s.
fn retry_delay(tried: usize) -> std::time::Duration {
    std::time::Duration::from_secs((1u64 << (tried - 1).min(4)).min(10))
}

/// Writes a downloaded blob's chunks into its ingest, publishing progress for the extractor.
fn write_blob(
    mut ingest: Ingest,
    mut chunks: mpsc::Receiver<bytes::Bytes>,
    growth: Growth,
    done: std::sync::mpsc::Sender<std::result::Result<Ingest, String>>,
) {
    use std::io::Write;
    while let Some(b) = chunks.blocking_recv() {
        if let Err(e) = ingest.write_all(&b).and_then(|_| ingest.flush()) {
            growth.fail(format!("writing the layer: {e}"));
            let _ = done.send(Err(e.to_string()));
            return;
        }
        growth.advance(ingest.written());
    }
    growth.finish();
    let _ = done.send(Ok(ingest));
}

/// Extracts the layers as their bytes arrive and commits each blob (verifying it); records
/// the layers in order, each as soon as those below it are. Where a layer's directory stands
/// alone (overlayfs), `limit` layers are extracted side by side (as many as are downloaded at
/// once), in order; else each on its parent, in order. The first failure stops the others
/// and is the one returned.
fn extract(
    session: &WriteSession<'_>,
    resolved: &Resolved,
    plan: &berth_image::PullPlan,
    downloads: Vec<Option<Download>>,
    limit: usize,
    events: &Events,
) -> Result<Vec<PulledLayer>> {
    let mut order = InOrder { resolved, plan, events, layers: Vec::new(), parent: None };
    if !session.layers_extract_apart() {
        for (i, d) in downloads.into_iter().enumerate() {
            let Some(d) = d else {
                order.present(i)?;
                continue;
            };
            let (desc, diff_id, parent) = (&resolved.layers[i], &plan.diff_ids[i], order.parent.clone());
            let (layer, blob) = follow(session, d, desc, events, |r| {
                session.unpack_layer(parent.as_ref(), Some(diff_id), r)
            })?;
            order.pulled(i, layer, blob);
        }
        return Ok(order.layers);
    }
    let growths: Vec<Growth> = downloads.iter().flatten().map(|d| d.growth.clone()).collect();
    let workers = limit.max(1).min(growths.len());
    let mut ready: Vec<Option<(berth_image::Extracted, BlobInfo)>> = downloads.iter().map(|_| None).collect();
    let queue = std::sync::Mutex::new(
        downloads
            .into_iter()
            .enumerate()
            .filter_map(|(i, d)| Some((i, d?)))
            .collect::<std::collections::VecDeque<_>>(),
    );
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        for _ in 0..workers {
            let (done_tx, queue) = (done_tx.clone(), &queue);
            scope.spawn(move || loop {
                let Some((i, d)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
                    return;
                };
                let (desc, diff_id) = (&resolved.layers[i], &plan.diff_ids[i]);
                let r = follow(session, d, desc, events, |r| session.extract_layer(Some(diff_id), r));
                let failed = r.is_err();
                if done_tx.send((i, r)).is_err() || failed {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut next = 0;
        let mut record = |i: usize, r: Result<_>| -> Result<()> {
            ready[i] = Some(r?);
            while next < ready.len() {
                match ready[next].take() {
                    Some((e, blob)) => {
                        let layer = session.attach(e, order.parent.as_ref())?;
                        order.pulled(next, layer, blob);
                    }
                    None if plan.present[next].is_some() => order.present(next)?,
                    None => break,
                }
                next += 1;
            }
            Ok(())
        };
        for (i, r) in done_rx {
            if let Err(e) = record(i, r) {
                // The others stop at their next read; nothing more is taken from the queue.
                queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
                growths.iter().for_each(|g| g.fail("another layer of the pull failed"));
                return Err(e);
            }
        }
        // Layers above the last pulled one that were here already.
        for i in next..ready.len() {
            order.present(i)?;
        }
        Ok(order.layers)
    })
}

/// The layers of a pull recorded bottom up, each on its parent.
struct InOrder<'a> {
    resolved: &'a Resolved,
    plan: &'a berth_image::PullPlan,
    events: &'a Events,
    layers: Vec<PulledLayer>,
    parent: Option<LayerRecord>,
}

impl InOrder<'_> {
    /// Layer `i`, which was here already.
    fn present(&mut self, i: usize) -> Result<()> {
        let desc = &self.resolved.layers[i];
        let layer = self.plan.present[i].clone().expect("planned as present");
        // The blob an image here keeps for it; else the registry's, by name only.
        let (blob, media_type) = match &self.plan.present_blobs[i] {
            Some((b, t)) => (b.clone(), t.clone()),
            None => (
                BlobInfo { digest: Digest::parse(desc.digest().as_ref())?, size: desc.size() },
                desc.media_type().to_string(),
            ),
        };
        self.layers.push(PulledLayer { blob, media_type, layer: layer.clone() });
        self.parent = Some(layer);
        Ok(())
    }

    /// Layer `i`, pulled and recorded.
    fn pulled(&mut self, i: usize, layer: LayerRecord, blob: BlobInfo) {
        let desc = &self.resolved.layers[i];
        let media_type = desc.media_type().to_string();
        self.layers.push(PulledLayer { blob, media_type, layer: layer.clone() });
        say(self.events, &short(desc.digest().as_ref()), "Pull complete");
        self.parent = Some(layer);
    }
}

/// Runs `unpack` over a downloading layer's bytes as they arrive, then commits its blob. As
/// Docker checks a layer before extracting it, a failure is told in this order: a broken
/// download, then a blob that is not the one the manifest names (Docker's "verification
/// failed", whatever its extraction made of it), then the extraction's own failure.
fn follow<T>(
    session: &WriteSession<'_>,
    d: Download,
    desc: &berth_oci::manifest::Descriptor,
    events: &Events,
    unpack: impl FnOnce(&mut dyn Read) -> berth_image::Result<T>,
) -> Result<(T, BlobInfo)> {
    let id = short(desc.digest().as_ref());
    let reader = GrowingReader::open(&d.path, d.growth.clone())
        .map_err(|e| EngineError::internal("follow the layer download", e))?;
    let counted =
        Progressed { inner: reader, id: id.clone(), current: 0, last: 0, total: desc.size(), events };
    let unpacked = unpack(&mut std::io::BufReader::new(counted));
    let written = written(&d);
    if let Some(why) = d.growth.failure().or(written.as_ref().err().cloned()) {
        return Err(EngineError::Internal(format!("downloading layer {id}: {why}")));
    }
    let ingest = written.map_err(EngineError::Internal)?;
    if ingest.verify().is_err() {
        return Err(EngineError::InvalidArgument(format!(
            "filesystem layer verification failed for digest {}",
            desc.digest()
        )));
    }
    let out = unpacked?;
    Ok((out, session.commit_blob(ingest)?))
}

/// The ingest back from a layer's writer once its download ends, or why not; a download
/// that fails (or is stopped) meanwhile is not waited for.
fn written(d: &Download) -> std::result::Result<Ingest, String> {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        match d.done.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(w) => return w,
            Err(RecvTimeoutError::Disconnected) => return Err("its writer ended".into()),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(why) = d.growth.failure() {
                    return Err(why);
                }
            }
        }
    }
}

/// A layer's bytes read by the extractor, reported as Docker's `Extracting` progress.
struct Progressed<'a, R> {
    inner: R,
    id: String,
    current: u64,
    last: u64,
    total: u64,
    events: &'a Events,
}

impl<R: Read> Read for Progressed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.current += n as u64;
        if self.current - self.last >= 512 * 1024 || (n == 0 && self.current > self.last) {
            self.last = self.current;
            moved(self.events, &self.id, "Extracting", self.current, self.total);
        }
        Ok(n)
    }
}
