//! `POST /build`, Docker's classic builder path: the context (a tar, plain or compressed)
//! unpacked into a directory of the data root, the Dockerfile parsed and planned by
//! `berth-build` (the target and the stages it needs), and each stage's steps run in order:
//! metadata steps derive an image with a new config, RUN steps run in a container made by the
//! engine's own create/start path (so a step gets what `docker run` gives) and are committed,
//! COPY and ADD write the context's files into a container that is committed. Every step's
//! result is cached under its key (parent, expanded instruction, source files), and a step
//! that misses says why. The context and every intermediate container go when the build ends,
//! whatever way it ends.

mod copy;
mod mounts;
mod remote;
mod stage;
mod step;
mod usage;

use stage::StageRun;

pub use usage::{BuildCacheItem, BuildPruneReport};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_build::classic;
use berth_build::lex::Lexer;
use berth_build::plan::{Platform, Request};
use berth_image::{CacheLink, ContainerConfig};
use tokio::sync::mpsc;

use crate::error::{EngineError, Result};
use crate::pull::{PullEvent, PullRequest};
use crate::Engine;

/// What `POST /build` asks.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// `t`: the references to tag the result with.
    pub tags: Vec<String>,
    /// `dockerfile`: its path in the context.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub no_cache: bool,
    /// `pull`: pull base images even when they are here.
    pub pull: bool,
    /// `platform`: what the build is for (TARGETPLATFORM, and the stages' bases); the
    /// daemon's when none.
    pub platform: Option<String>,
    /// `cachefrom`: images whose build steps serve as cache (pulled when missing).
    pub cache_from: Vec<String>,
    /// Stages (by name or index) that take nothing from the cache (`--no-cache-filter`).
    pub no_cache_filter: Vec<String>,
    /// `q`: only the image ID is told.
    pub quiet: bool,
    /// `networkmode` for RUN steps (`default` is the default bridge).
    pub network_mode: Option<String>,
    /// Say why each step that is not taken from the cache was rebuilt (berth's own).
    pub explain: bool,
    /// Tell each step's start, end and output as they happen (berth's own), besides the
    /// classic stream.
    pub live: bool,
    /// Credentials by registry (`X-Registry-Config`), for base images' pulls.
    pub registry_credentials: BTreeMap<String, berth_distribution::Credentials>,
    /// `extrahosts`, `shmsize`, `ulimits`: what RUN steps' containers get.
    pub extra_hosts: Vec<String>,
    pub shm_size: Option<i64>,
    pub ulimits: Vec<berth_api::models::ResourcesUlimits>,
    /// Secrets by id, for `RUN --mount=type=secret` (berth's `X-Berth-Build-Secrets`).
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// SSH agent sockets on this host by id, for `RUN --mount=type=ssh`.
    pub ssh: BTreeMap<String, String>,
    /// `remote`: the context is fetched from this URL (a git repository, a tar, or a
    /// Dockerfile), not sent.
    pub remote: Option<String>,
    /// `buildid`: the name `POST /build/cancel` knows the build by while it runs.
    pub build_id: Option<String>,
    /// Turns true when the client goes away: the build stops and its leftovers go.
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

impl BuildRequest {
    /// `SOURCE_DATE_EPOCH` (a build arg, as BuildKit takes it): the time of everything the
    /// build makes, for reproducible images.
    pub fn epoch(&self) -> Option<i64> {
        self.build_args.get("SOURCE_DATE_EPOCH").and_then(|v| v.trim().parse().ok())
    }

    /// The credentials given for `domain` (a client keys Docker Hub by its v1 address, and
    /// may key any registry by a URL).
    fn credentials_for(&self, domain: &str) -> berth_distribution::Credentials {
        let hub = |d: &str| matches!(d, "docker.io" | "index.docker.io" | "registry-1.docker.io");
        self.registry_credentials
            .iter()
            .find(|(key, _)| {
                let k = key.trim_start_matches("https://").trim_start_matches("http://");
                let k = k.split('/').next().unwrap_or(k);
                k == domain || (hub(k) && hub(domain))
            })
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }
}

/// What a build tells as it goes.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// Text for the classic stream (`{"stream": …}`).
    Text(String),
    /// A base image's pull.
    Pull(PullEvent),
    /// The result's ID (`{"aux": {"ID": …}}`).
    Built(String),
    /// A step began or ended (only with `live`, told as it happens whatever the stage).
    Step(StepEvent),
    /// Output of a step's command (only with `live`).
    Log(BuildLog),
}

pub use berth_api::jsonmessage::{BuildLog, BuildStep as StepEvent, BuildStepState as StepState};

/// The state a stage has reached: its image (none from scratch, before a step) and config.
#[derive(Clone)]
pub(crate) struct State {
    pub image: Option<String>,
    pub config: ContainerConfig,
    pub os: String,
    pub arch: String,
    /// The cache key of the step that made it (none for a base image): the next step's
    /// parent, so that keys chain the same wherever the steps' images were made.
    pub key: Option<String>,
    /// The steps of this build the image is made of, which the target's image carries.
    pub links: Vec<CacheLink>,
    /// How many layers and history lines the image has.
    pub depth: (usize, usize),
}

/// What the steps of one build share.
pub(crate) struct Build<'a> {
    /// The build's ID: its directory's name and its containers' label.
    pub id: &'a str,
    pub engine: &'a Arc<Engine>,
    pub req: &'a BuildRequest,
    pub context: &'a Path,
    /// Room for the build's own files (heredoc files, copy tars), beside the context.
    pub scratch: &'a Path,
    pub events: &'a mpsc::UnboundedSender<BuildEvent>,
    pub lexer: Lexer,
    /// The states the stages ended with (each with an image), by stage index.
    pub stage_images: BTreeMap<usize, State>,
    /// The steps `--cache-from` images carry: by cache key, the image and the step.
    pub cache_from: &'a BTreeMap<String, (String, CacheLink)>,
    /// The current stage takes nothing from the cache (`--no-cache`, `--no-cache-filter`).
    pub no_cache: bool,
    /// Where live events go (the build's own channel, not the stage's), with `req.live`.
    pub live: Option<&'a mpsc::UnboundedSender<BuildEvent>>,
    /// The platform the current stage is for (its bases', and `COPY --from` images').
    pub platform: Platform,
    /// The stage and step running, for live output; whether the last step came from a cache.
    pub at: (usize, usize),
    pub cached: bool,
    /// The current stage set CMD (an ENTRYPOINT after it keeps it).
    pub cmd_set: bool,
    /// The stages' names (`AS name`), by index.
    pub stage_names: Vec<Option<String>>,
}

impl Build<'_> {
    pub fn say(&self, text: impl Into<String>) {
        if !self.req.quiet {
            let _ = self.events.send(BuildEvent::Text(text.into()));
        }
    }

    /// Tells a live client what a step's command wrote.
    pub fn tell_log(&self, text: &str) {
        if let Some(live) = self.live {
            let (stage, step) = self.at;
            let _ = live.send(BuildEvent::Log(BuildLog { stage, step, text: text.to_string() }));
        }
    }

    /// Tells a live client where a step is.
    pub fn tell_step(&self, e: StepEvent) {
        if let Some(live) = self.live {
            let _ = live.send(BuildEvent::Step(e));
        }
    }
}

/// A context tar ended as a tar reader expects: the docker CLI appends the Dockerfile (and
/// `.dockerignore`) of a `-f` outside the context without padding the last entry or ending the
/// archive, which Go's reader accepts. Zeros complete the last block and end the archive.
struct Padded<R> {
    inner: R,
    count: u64,
    /// Zeros left to give once the stream ended.
    tail: Option<u64>,
}

impl<R: Read> Read for Padded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(left) = self.tail.as_mut() {
            let n = (*left).min(buf.len() as u64) as usize;
            buf[..n].fill(0);
            *left -= n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.tail = Some((512 - self.count % 512) % 512 + 1024);
            return self.read(buf);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// A build its client named, known by that name while it runs.
struct NamedBuild {
    engine: Arc<Engine>,
    name: String,
}

impl Drop for NamedBuild {
    fn drop(&mut self) {
        self.engine.builds.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.name);
    }
}

/// Removes the unpacked context when the build ends.
struct ContextDir(PathBuf);

impl Drop for ContextDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The label of a build's intermediate containers.
pub(crate) const BUILD_LABEL: &str = "org.berth.build";

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn host_platform() -> Platform {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    Platform { os: "linux".into(), arch: arch.into(), variant: None }
}

/// A platform a build names (`--platform`, `FROM --platform`), as the plan has them.
pub(crate) fn build_platform(text: &str) -> Result<Platform> {
    let p = berth_oci::Platform::parse(text)
        .map_err(|e| EngineError::InvalidArgument(format!("invalid platform {text:?}: {e}")))?;
    Ok(Platform { os: p.os, arch: p.architecture, variant: Some(p.variant).filter(|v| !v.is_empty()) })
}

/// Unpacks a context tar (plain or compressed) into `dir`, and reads what follows it, so the
/// client has sent all before the answer starts (the docker CLI tells the context's size then).
fn unpack_context(dir: &Path, mut context: Box<dyn Read + Send>) -> Result<()> {
    let opts = berth_archive::ApplyOptions { whiteouts: berth_archive::Whiteouts::Delete, same_owner: false };
    let plain = berth_archive::decompress_any(&mut context)?;
    berth_archive::apply(dir, Padded { inner: plain, count: 0, tail: None }, &opts)
        .map_err(|e| EngineError::InvalidArgument(format!("reading the build context: {e}")))?;
    std::io::copy(&mut context, &mut std::io::sink())?;
    Ok(())
}

/// What the client sent only for the build's sake: `.dockerignore` and the Dockerfile leave
/// the context when `.dockerignore` excludes them, so no COPY sees them (the client sends them
/// whatever it excludes; the docker CLI names a Dockerfile from outside the context there).
fn remove_ignored_build_files(context: &Path, dockerfile: &str) -> Result<()> {
    let Ok(path) = crate::fs::host_path(context, ".dockerignore") else { return Ok(()) };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(EngineError::InvalidArgument(format!("reading the context's .dockerignore: {e}")))
        }
    };
    let ignore = berth_build::ignore::Ignore::parse(&text).map_err(EngineError::InvalidArgument)?;
    for file in [".dockerignore", dockerfile] {
        if ignore.excludes(file) {
            if let Ok(p) = crate::fs::host_path(context, file) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    Ok(())
}

impl Engine {
    /// Builds `req` from the context tar `context`; `events` hears each step. The image ID.
    /// Cancelled (`req.cancel`, or `build_cancel` of its `build_id`), it stops where it is and
    /// removes what it made meanwhile.
    pub async fn build(
        self: &Arc<Self>,
        req: BuildRequest,
        context: Box<dyn Read + Send>,
        events: mpsc::UnboundedSender<BuildEvent>,
    ) -> Result<String> {
        let id = berth_sys::new_id()[..16].to_string();
        let mut watched: Vec<_> = req.cancel.clone().into_iter().collect();
        let named = req.build_id.clone().map(|name| {
            let (tx, rx) = tokio::sync::watch::channel(false);
            watched.push(rx);
            self.builds.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone(), tx);
            NamedBuild { engine: self.clone(), name }
        });
        if watched.is_empty() {
            return self.build_as(&id, req, context, events).await;
        }
        let cancelled = futures::future::select_all(watched.into_iter().map(|mut w| {
            Box::pin(async move {
                while !*w.borrow_and_update() {
                    if w.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            })
        }));
        let result = tokio::select! {
            r = self.build_as(&id, req, context, events) => r,
            _ = cancelled => {
                self.remove_build_containers(&id).await;
                Err(EngineError::InvalidArgument("the build was cancelled".into()))
            }
        };
        drop(named);
        result
    }

    /// `POST /build/cancel`: cancels the running build named `name`. Nothing when there is
    /// none (it may have ended), as Docker answers.
    pub async fn build_cancel(self: &Arc<Self>, name: String) -> Result<()> {
        if let Some(tx) = self.builds.lock().unwrap_or_else(|e| e.into_inner()).get(&name) {
            let _ = tx.send(true);
        }
        Ok(())
    }

    /// The containers a build made (labelled with its ID), removed whatever their state.
    async fn remove_build_containers(self: &Arc<Self>, build: &str) {
        for c in self.containers() {
            let mine =
                c.rec().config.labels.as_ref().and_then(|l| l.get(BUILD_LABEL)).is_some_and(|v| v == build);
            if mine {
                if let Err(e) = self.remove(&c, true, true).await {
                    tracing::warn!(id = %c.id, error = %e, "removing a cancelled build's container");
                }
            }
        }
    }

    async fn build_as(
        self: &Arc<Self>,
        build_id: &str,
        req: BuildRequest,
        context: Box<dyn Read + Send>,
        events: mpsc::UnboundedSender<BuildEvent>,
    ) -> Result<String> {
        // The build's own directory: the unpacked context, and scratch room (heredoc files,
        // copy tars), all removed when the build ends.
        let own = self.images.root().join("tmp").join(format!("build-{build_id}"));
        let guard = ContextDir(own.clone());
        let (dir, scratch) = (own.join("context"), own.join("scratch"));
        std::fs::create_dir_all(&scratch)?;
        let name = if req.dockerfile.is_empty() { "Dockerfile".to_string() } else { req.dockerfile.clone() };
        // A fetched context leaves the request's body to drain, which blocks.
        let context = match req.remote {
            Some(_) => {
                crate::blocking(move || {
                    drop(context);
                    Ok(())
                })
                .await?;
                None
            }
            None => Some(context),
        };
        let dir = match req.remote.as_deref() {
            None => {
                let unpack_dir = dir.clone();
                crate::blocking(move || {
                    std::fs::create_dir_all(&unpack_dir)?;
                    unpack_context(&unpack_dir, context.expect("the body is the context"))
                })
                .await?;
                dir
            }
            Some(url) if remote::is_git(url) => remote::git_checkout(url, &dir, false).await?,
            Some(url) if remote::is_url(url) => {
                let file = remote::download(url, &scratch.join("remote"), None).await?;
                let (d, n) = (dir.clone(), name.clone());
                crate::blocking(move || {
                    std::fs::create_dir_all(&d)?;
                    if copy::is_archive(&file) {
                        unpack_context(&d, Box::new(std::fs::File::open(&file)?))
                    } else {
                        // Not an archive: the file is the Dockerfile, the context nothing else.
                        std::fs::rename(&file, crate::fs::host_path(&d, &n)?)?;
                        Ok(())
                    }
                })
                .await?;
                dir
            }
            Some(url) => {
                return Err(EngineError::InvalidArgument(format!(
                    "unable to prepare context: unsupported remote context {url:?}: give an http(s) URL or a git repository"
                )))
            }
        };
        let path = crate::fs::host_path(&dir, &name).map_err(|_| {
            EngineError::InvalidArgument(format!("Cannot locate specified Dockerfile: {name}"))
        })?;
        let text = std::fs::read_to_string(&path).map_err(|_| {
            EngineError::InvalidArgument(format!("Cannot locate specified Dockerfile: {name}"))
        })?;
        remove_ignored_build_files(&dir, &name)?;
        let df = berth_build::parse(&text)?;
        let target_platform = match req.platform.as_deref() {
            Some(p) => build_platform(p)?,
            None => host_platform(),
        };
        let plan = berth_build::plan::plan(
            &df,
            &Request {
                build_args: req.build_args.clone(),
                target: req.target.clone(),
                build_platform: host_platform(),
                target_platform: target_platform.clone(),
            },
        )?;
        let platform = target_platform;
        let cache_from = self.cache_sources(&req, &events).await;
        let mut build = Build {
            id: build_id,
            engine: self,
            req: &req,
            context: &dir,
            scratch: &scratch,
            events: &events,
            lexer: Lexer::new(df.directives.escape),
            stage_images: BTreeMap::new(),
            cache_from: &cache_from,
            no_cache: req.no_cache,
            live: req.live.then_some(&events),
            platform: platform.clone(),
            at: (0, 0),
            cached: false,
            cmd_set: false,
            stage_names: df.stages.iter().map(|s| s.name.clone()).collect(),
        };
        // Labels given to the build are one more step at the end, as Docker adds them.
        let total = plan.steps + usize::from(!req.labels.is_empty());
        let mut used = std::collections::BTreeSet::new();
        used.extend(df.meta_args.iter().map(|a| a.name.clone()));
        // Each stage's first step number, as the classic output numbers them in plan order.
        let mut starts = Vec::new();
        let mut n = 0;
        for sp in &plan.stages {
            starts.push(n + 1);
            n += 1 + df.stages[sp.index].commands.len();
            n += usize::from(sp.index == plan.target && !req.labels.is_empty());
        }
        // Stages that need nothing of each other run at once; their output is told stage by
        // stage, in plan order (the first live, the others once those before them end).
        for wave in berth_build::plan::waves(&plan.stages) {
            let channels: Vec<_> = wave.iter().map(|_| mpsc::unbounded_channel()).collect();
            let (senders, receivers): (Vec<_>, Vec<_>) = channels.into_iter().unzip();
            let runs = wave.iter().zip(senders).map(|(&pos, tx)| {
                let sp = &plan.stages[pos];
                let stage_images = build.stage_images.clone();
                let first_step = starts[pos];
                let (build_ref, df, platform, plan) = (&build, &df, &platform, &plan);
                async move {
                    let mut b = build_ref.for_stage(&tx, stage_images);
                    let is_target = sp.index == plan.target;
                    let run =
                        StageRun { plan: sp, stage: &df.stages[sp.index], first_step, total, is_target };
                    b.run_stage(&run, &plan.globals, platform).await
                }
            });
            let forward = async {
                for mut rx in receivers {
                    while let Some(e) = rx.recv().await {
                        let _ = events.send(e);
                    }
                }
            };
            let (results, ()) = tokio::join!(futures::future::join_all(runs), forward);
            for (pos, result) in wave.iter().zip(results) {
                let (state, args) = result?;
                build.stage_images.insert(plan.stages[*pos].index, state);
                used.extend(args);
            }
        }
        let target = build.stage_images.remove(&plan.target).expect("the target was built");
        let id = target.image.expect("a stage ends with an image");
        // The result carries its steps' keys, so that it serves as cache wherever it goes.
        let id = self.images.with_cache_links(&id, target.links)?.to_string();
        let unused: Vec<&String> = req
            .build_args
            .keys()
            .filter(|k| !used.contains(*k))
            .filter(|k| !berth_build::scope::PROXY_ARGS.contains(&k.as_str()) && *k != "SOURCE_DATE_EPOCH")
            .collect();
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            build.say(format!("[Warning] One or more build-args [{}] were not consumed\n", names.join(" ")));
        }
        let _ = events.send(BuildEvent::Built(id.clone()));
        if req.quiet {
            let _ = events.send(BuildEvent::Text(format!("{id}\n")));
        } else {
            build.say(classic::built(&id));
        }
        for t in &req.tags {
            self.image_tag(&id, t, "")?;
            let reference = berth_image::Reference::parse(t)
                .map_err(|e| EngineError::InvalidArgument(e.to_string()))?
                .with_default_tag();
            build.say(classic::tagged(&reference.familiar()));
        }
        drop(guard);
        Ok(id)
    }

    /// A base image's ID for `platform`, pulled when it is missing, is for another platform,
    /// or always with `pull`.
    pub(crate) async fn base_image(
        self: &Arc<Self>,
        name: &str,
        build: &Build<'_>,
        platform: &Platform,
    ) -> Result<String> {
        let reference = berth_image::Reference::parse(name)
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))?
            .with_default_tag();
        let wanted =
            berth_oci::Platform::new(&platform.os, &platform.arch, platform.variant.as_deref().unwrap_or(""));
        let fits = |id: &str| -> Result<Option<String>> {
            let (rec, conf) = self.images.image_config(id)?;
            let offered =
                berth_oci::Platform::new(&conf.os, &conf.architecture, conf.variant.as_deref().unwrap_or(""));
            Ok(wanted.accepts(&offered).then(|| rec.id.to_string()).or_else(|| {
                tracing::debug!(image = %name, %offered, "a base image here is for another platform");
                None
            }))
        };
        let here = self.images.resolve(&reference.to_string()).ok();
        if let (Some(img), false) = (&here, build.req.pull) {
            if let Some(id) = fits(&img.id.to_string())? {
                return Ok(id);
            }
        }
        self.pull_for_build(reference.clone(), Some(wanted.clone()), build.req, Some(build.events)).await?;
        let id = self.images.resolve(&reference.to_string())?.id.to_string();
        fits(&id)?.ok_or_else(|| {
            EngineError::NotFound(format!(
                "image with reference {name} was found but does not match the specified platform: wanted {wanted}"
            ))
        })
    }

    /// What builds cut short by the daemon's end left: their contexts and copy tars (the data
    /// root's `image/tmp`) and their intermediate containers (labelled as such). Called when
    /// the daemon starts, once its containers are adopted (a running one is killed through its
    /// shim then).
    pub(crate) async fn clear_build_leftovers(self: &Arc<Self>) {
        let _ = std::fs::remove_dir_all(self.images.root().join("tmp"));
        let _ = std::fs::remove_dir_all(self.config().exec_root.join("build-secrets"));
        for c in self.containers() {
            let leftover = c.rec().config.labels.as_ref().is_some_and(|l| l.contains_key(BUILD_LABEL));
            if leftover {
                tracing::info!(id = %c.id, "removing a build's intermediate container left by a daemon that stopped");
                if let Err(e) = self.remove(&c, true, true).await {
                    tracing::warn!(id = %c.id, error = %e, "could not remove a build's intermediate container");
                }
            }
        }
    }

    fn state_of(&self, id: &str) -> Result<State> {
        let (rec, conf) = self.images.image_config(id)?;
        Ok(State {
            image: Some(rec.id.to_string()),
            config: conf.config.unwrap_or_default(),
            os: conf.os,
            arch: conf.architecture,
            key: None,
            links: Vec::new(),
            depth: (conf.rootfs.diff_ids.len(), conf.history.len()),
        })
    }

    /// The steps the `--cache-from` images carry, by cache key. An image that is not here is
    /// pulled; one that cannot be had is skipped with a warning, as BuildKit skips it.
    async fn cache_sources(
        self: &Arc<Self>,
        req: &BuildRequest,
        events: &mpsc::UnboundedSender<BuildEvent>,
    ) -> BTreeMap<String, (String, CacheLink)> {
        let mut steps = BTreeMap::new();
        for name in &req.cache_from {
            let found = match self.images.cache_links(name) {
                Ok(found) => Ok(found),
                Err(_) => {
                    self.pull_quietly(name, req).await.and_then(|()| Ok(self.images.cache_links(name)?))
                }
            };
            match found {
                Ok((id, links)) => {
                    for link in links {
                        steps.entry(link.key.clone()).or_insert((id.to_string(), link));
                    }
                }
                Err(e) => {
                    let _ = events.send(BuildEvent::Text(format!(
                        "[Warning] the cache image {name} was not used: {e}\n"
                    )));
                }
            }
        }
        steps
    }

    async fn pull_quietly(self: &Arc<Self>, name: &str, req: &BuildRequest) -> Result<()> {
        let reference = berth_image::Reference::parse(name)
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))?
            .with_default_tag();
        self.pull_for_build(reference, None, req, None).await
    }

    /// Pulls an image a build needs with the credentials its client sent, telling the pull's
    /// progress to `events` when given.
    async fn pull_for_build(
        self: &Arc<Self>,
        reference: berth_image::Reference,
        platform: Option<berth_oci::Platform>,
        req: &BuildRequest,
        events: Option<&mpsc::UnboundedSender<BuildEvent>>,
    ) -> Result<()> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let events = events.cloned();
        let forward = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if let Some(events) = &events {
                    let _ = events.send(BuildEvent::Pull(e));
                }
            }
        });
        let credentials = req.credentials_for(reference.domain());
        let pulled = self.image_pull(PullRequest { reference, platform, credentials }, tx).await;
        let _ = forward.await;
        pulled
    }
}
