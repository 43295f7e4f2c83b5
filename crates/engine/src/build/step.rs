//! One step of a stage: its cache key, and on a miss its work: a new config (metadata
//! steps), a command run in a container and committed (RUN), or files written into a
//! container and committed (COPY, ADD). Intermediate containers are removed however the step
//! ends.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::models::{ContainerCreateBody, HostConfig};
use berth_build::cache::{diagnose, explain, Miss, StepInputs};
use berth_build::classic;
use berth_build::history::{self, created_by};
use berth_build::instructions::{CommandLine, Health, Instruction};
use berth_build::perms::{resolve_chown, Chmod};
use berth_build::scope::Scope;
use berth_image::{BuildCacheRecord, CacheLink, CommitOptions, ContainerConfig, Digest};

use super::mounts::{MountPlan, Prepared};
use super::{copy, Build, State};
use crate::error::{EngineError, Result};
use crate::lifecycle::WaitCondition;
use crate::{Container, LogOptions};

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

impl Build<'_> {
    /// Runs (or finds in the cache) one expanded instruction on `state`.
    pub(crate) async fn step(
        &mut self,
        i: &Instruction,
        state: State,
        scope: &Scope,
        n: usize,
        first: bool,
    ) -> Result<State> {
        let shell: Vec<String> = state
            .config
            .shell
            .clone()
            .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect());
        let parent = (state.key.clone().or(state.image.clone()))
            .unwrap_or_else(|| format!("scratch:{}/{}", state.os, state.arch));
        let copy_plan = match i {
            Instruction::Copy(t) | Instruction::Add(t) => Some(self.plan_copy(i, t).await?),
            _ => None,
        };
        let mount_plan = match i {
            Instruction::Run(r) if !r.mounts.is_empty() => Some(self.plan_mounts(&r.mounts, &state).await?),
            _ => None,
        };
        let mut files = copy_plan.as_ref().map(|p| p.digests.clone()).unwrap_or_default();
        files.extend(mount_plan.iter().flat_map(|p| p.digests.clone()));
        let instruction = match i {
            Instruction::Run(_) => format!("{i:?} shell={shell:?} args={:?}", scope.declared()),
            Instruction::Entrypoint(_) => format!("{i:?} shell={shell:?} cmd_set={}", self.cmd_set),
            _ => format!("{i:?} shell={shell:?}"),
        };
        // A reproducible build's images differ from others' by their times.
        let instruction = match self.req.epoch() {
            Some(e) => format!("{instruction} epoch={e}"),
            None => instruction,
        };
        let inputs = StepInputs { parent, instruction, files };
        let key = inputs.key();
        // From the cache: a step made here before, or the same step of a `--cache-from`
        // image's build (a step without a layer is made anew: it costs nothing).
        let elsewhere = if self.no_cache { None } else { self.cache_from.get(&key) };
        if !self.no_cache {
            if let Some(id) = self.engine.images.cache_lookup(&key)? {
                self.cached = true;
                self.say(classic::using_cache());
                return self.next_state(&id.to_string(), &state, key);
            }
            if let (Some((source, link)), Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_)) =
                (elsewhere, i)
            {
                let id = self.engine.images.graft(source, link, state.config.clone())?;
                self.cached = true;
                self.say(classic::using_cache());
                self.remember(&key, &inputs, &id)?;
                return self.next_state(&id.to_string(), &state, key);
            }
        }
        if elsewhere.is_some() {
            self.cached = true;
            self.say(classic::using_cache());
        } else if self.req.explain {
            let miss = if self.no_cache {
                Miss::NoCache
            } else {
                let earlier: Vec<StepInputs> = self
                    .engine
                    .images
                    .cache_entries()?
                    .into_iter()
                    .map(|r| StepInputs { parent: r.parent, instruction: r.instruction, files: r.files })
                    .collect();
                diagnose(&inputs, &earlier, first)
            };
            self.say(format!(" ---> {}\n", explain(n, &miss)));
        }
        let id = match i {
            Instruction::Run(r) => {
                self.run(&r.command, mount_plan.as_ref(), r.network.as_deref(), &state, scope, &shell, i)
                    .await?
            }
            Instruction::Copy(_) | Instruction::Add(_) => {
                let plan = copy_plan.expect("planned above");
                self.copy(plan, &state, &shell, i).await?
            }
            other => {
                let mut next = state.clone();
                let cmd_before = next.config.cmd.clone();
                let shown = apply_metadata(&mut next.config, other, &shell);
                match other {
                    Instruction::Cmd(_) => self.cmd_set = true,
                    // An ENTRYPOINT drops the base image's CMD, not one this stage set.
                    Instruction::Entrypoint(_) if self.cmd_set => next.config.cmd = cmd_before,
                    _ => {}
                }
                let shell_after = next.config.shell.clone().unwrap_or(shell.clone());
                self.derive(&next, &created_by(&shown, &shell_after, &[], ""))?.to_string()
            }
        };
        self.remember(&key, &inputs, &Digest::parse(&id)?)?;
        self.next_state(&id, &state, key)
    }

    /// Records in the build cache that the step of `key` made `image`.
    fn remember(&self, key: &str, inputs: &StepInputs, image: &Digest) -> Result<()> {
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let record = BuildCacheRecord {
            image: image.clone(),
            parent: inputs.parent.clone(),
            instruction: inputs.instruction.clone(),
            files: inputs.files.clone(),
            created,
        };
        Ok(self.engine.images.cache_store(key, &record)?)
    }

    /// The state the step of `key` reached with image `id`, from `before`.
    fn next_state(&self, id: &str, before: &State, key: String) -> Result<State> {
        let mut next = self.engine.state_of(id)?;
        let (layers, history) = next.depth;
        next.links = before.links.clone();
        next.links.push(CacheLink { key: key.clone(), layers, history });
        next.key = Some(key);
        Ok(next)
    }

    /// A new image from `state` without a layer.
    pub(crate) fn derive(&self, state: &State, created_by: &str) -> Result<Digest> {
        Ok(self.engine.images.derive(
            state.image.as_deref(),
            state.config.clone(),
            created_by,
            (&state.os, &state.arch),
            self.req.epoch(),
        )?)
    }

    /// The image a container runs from: `state`'s, or an empty one made for `FROM scratch`.
    fn image_for(&self, state: &State) -> Result<String> {
        match &state.image {
            Some(id) => Ok(id.clone()),
            None => Ok(self.derive(state, "")?.to_string()),
        }
    }

    pub(super) async fn create(
        &self,
        image: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        state: &State,
        network: Option<&str>,
        mounts: &RunMounts,
    ) -> Result<Arc<Container>> {
        let network = match network.or(self.req.network_mode.as_deref()) {
            None | Some("default") => None,
            Some(n) => Some(n.to_string()),
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd),
            entrypoint: Some(Vec::new()),
            env: Some(env),
            working_dir: state.config.working_dir.clone().filter(|w| !w.is_empty()),
            user: state.config.user.clone().filter(|u| !u.is_empty()),
            labels: Some([(super::BUILD_LABEL.to_string(), self.id.to_string())].into_iter().collect()),
            host_config: Some(HostConfig {
                network_mode: network,
                extra_hosts: Some(self.req.extra_hosts.clone()).filter(|h| !h.is_empty()),
                shm_size: self.req.shm_size,
                ulimits: Some(self.req.ulimits.clone()).filter(|u| !u.is_empty()),
                binds: Some(mounts.binds.clone()).filter(|b| !b.is_empty()),
                tmpfs: Some(mounts.tmpfs.clone()).filter(|t| !t.is_empty()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let engine = self.engine.clone();
        let created = crate::blocking(move || engine.create(None, body)).await?;
        self.engine.container(&created.id)
    }

    /// Commits a step's container as the next image: the stage's config (not the step's
    /// command) and the step's history line.
    async fn commit(&self, c: &Arc<Container>, state: &State, created_by: String) -> Result<String> {
        let rec = c.snapshot();
        let opts = CommitOptions {
            config: state.config.clone(),
            changes: Vec::new(),
            comment: None,
            author: None,
            reference: None,
            container: rec.id.clone(),
            created_by,
            epoch: self.req.epoch(),
        };
        let engine = self.engine.clone();
        let id = crate::blocking(move || Ok(engine.images.commit(&rec.id, &rec.image_id, &opts)?)).await?;
        Ok(id.to_string())
    }

    /// Removes an intermediate container, whatever state it is in.
    pub(super) async fn discard(&self, c: &Arc<Container>) {
        if let Err(e) = self.engine.remove(c, true, true).await {
            tracing::warn!(container = %c.id, error = %e, "removing a build's intermediate container");
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        command: &CommandLine,
        mounts: Option<&MountPlan>,
        network: Option<&str>,
        state: &State,
        scope: &Scope,
        shell: &[String],
        i: &Instruction,
    ) -> Result<String> {
        let mut prepared = match mounts {
            Some(plan) => self.prepare_mounts(plan, state).await?,
            None => Prepared::default(),
        };
        let cmd = self.heredoc_command(command, shell, &mut prepared.mounts)?;
        let image = self.image_for(state)?;
        let mut env = scope.run_env();
        env.extend(prepared.env.iter().cloned());
        let c = self.create(&image, cmd.clone(), env, state, network, &prepared.mounts).await?;
        let committed = async {
            // The mount points the run makes in the image go before the commit.
            let stubs = self.mount_points(&c, &prepared.targets).await?;
            self.say(classic::running_in(&c.id));
            let ran = self.run_in(&c, &cmd).await;
            drop(prepared);
            ran?;
            self.remove_mount_points(&c, stubs).await?;
            self.commit(&c, state, created_by(i, shell, &scope.declared(), "")).await
        }
        .await;
        self.discard(&c).await;
        self.say(classic::removing(&c.id));
        Ok(committed?.to_string())
    }

    /// A RUN's command line with its heredocs, as BuildKit runs them: a heredoc that is the
    /// whole command is the script (one starting with `#!` is a file of its own, mounted at
    /// `/dev/pipes/<name>` and run); otherwise the heredocs are put back after the line and
    /// the shell reads them.
    fn heredoc_command(
        &self,
        command: &CommandLine,
        shell: &[String],
        mounts: &mut RunMounts,
    ) -> Result<Vec<String>> {
        let with_shell = |script: String| shell.iter().cloned().chain([script]).collect::<Vec<_>>();
        match (command.files.as_slice(), command.args.as_slice()) {
            ([], _) => Ok(history::command(&command.args, command.shell, shell)),
            (docs, [line]) if command.shell => {
                let whole = berth_build::parser::heredoc_word(line.trim())
                    .ok()
                    .flatten()
                    .is_some_and(|d| d.name == docs[0].name);
                if !whole {
                    let mut script = line.clone();
                    for d in docs {
                        script.push('\n');
                        script.push_str(&d.content);
                        script.push_str(&d.name);
                    }
                    return Ok(with_shell(script));
                }
                let data = docs[0].text();
                if !data.starts_with("#!") {
                    return Ok(with_shell(data));
                }
                let file = self.scratch.join(format!("pipe-{}", &berth_sys::new_id()[..12]));
                std::fs::write(&file, data.as_bytes())?;
                std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
                let inside = format!("/dev/pipes/{}", docs[0].name);
                mounts.binds.push(format!("{}:{inside}:ro", file.display()));
                Ok(with_shell(inside))
            }
            _ => Err(EngineError::InvalidArgument(format!(
                "parsing produced an invalid run command: {:?}",
                command.args
            ))),
        }
    }

    /// Starts the container, tells its output as it comes, and fails on a non-zero exit.
    async fn run_in(&self, c: &Arc<Container>, cmd: &[String]) -> Result<()> {
        self.engine.start(c).await?;
        let (mut rx, _) = self.engine.logs(
            c.clone(),
            LogOptions { stdout: true, stderr: true, follow: true, ..LogOptions::default() },
        )?;
        let mut pending = Vec::new();
        while let Some(chunk) = rx.recv().await {
            pending.extend(chunk);
            let (frames, used) = berth_stdcopy::parse_frames(&pending);
            for (stream, data) in frames {
                let text = classic::output(data, stream == 2);
                self.tell_log(&text);
                self.say(text);
            }
            pending.drain(..used);
        }
        let code = self.engine.wait(c, WaitCondition::NotRunning).await?;
        if code != 0 {
            return Err(EngineError::CommandFailed { message: classic::failed_command(cmd, code), code });
        }
        Ok(())
    }

    async fn plan_copy(&self, i: &Instruction, t: &berth_build::instructions::Transfer) -> Result<CopyPlan> {
        let select = copy::Selection::new(t.parents, &t.exclude)?;
        if !t.inline.is_empty() && t.from.is_some() {
            return Err(EngineError::InvalidArgument(
                "a heredoc source cannot be copied --from another stage or image: copy it from its own line"
                    .into(),
            ));
        }
        let add = matches!(i, Instruction::Add(_));
        // ADD's URLs are downloaded now: their content is in the key, as Docker keys them.
        let mut downloaded = Vec::new();
        let mut names = Vec::new();
        for s in &t.sources {
            if add && super::remote::is_git(s) {
                let dir = self.scratch.join(format!("git-{}", &berth_sys::new_id()[..12]));
                let path = super::remote::git_checkout(s, &dir, t.keep_git_dir).await?;
                downloaded.push(copy::Source {
                    path,
                    shown: s.clone(),
                    is_dir: true,
                    archive: false,
                    keep: None,
                });
            } else if add && super::remote::is_url(s) {
                let dir = self.scratch.join(format!("url-{}", &berth_sys::new_id()[..12]));
                let path = super::remote::download(s, &dir, t.checksum.as_deref()).await?;
                downloaded.push(copy::Source {
                    path,
                    shown: s.clone(),
                    is_dir: false,
                    archive: false,
                    keep: None,
                });
            } else {
                names.push(s.clone());
            }
        }
        if t.checksum.is_some() && downloaded.iter().all(|d| d.is_dir) {
            return Err(EngineError::InvalidArgument("ADD --checksum is for an http(s) URL source".into()));
        }
        let chmod = t.chmod.as_deref().map(Chmod::parse).transpose().map_err(EngineError::InvalidArgument)?;
        let plan = |found: Vec<copy::Source>, digests: Vec<(String, String)>, from: Option<String>| {
            let description = copy::describe(&found, &digests);
            CopyPlan {
                found,
                digests,
                description,
                dest: t.dest.clone(),
                chown: t.chown.clone(),
                chmod: chmod.clone(),
                from,
                names: t.sources.clone(),
                select: select.clone(),
            }
        };
        // From another stage or an image: its files are found when the copy runs; the key
        // holds the image's ID (its content's digest).
        if let Some(from) = &t.from {
            let id = match self.stage_by_ref(from) {
                Some(id) => id,
                None => self.engine.base_image(from, self, &self.platform).await?,
            };
            let digests = vec![("from".to_string(), id.clone())];
            return Ok(plan(Vec::new(), digests, Some(id)));
        }
        let context = self.context.to_path_buf();
        let inline = t.inline.clone();
        let inline_dir = self.scratch.join(format!("inline-{}", &berth_sys::new_id()[..12]));
        let selected = select.clone();
        let (found, digests) = crate::blocking(move || {
            let select = selected;
            let mut found =
                if names.is_empty() { Vec::new() } else { copy::sources(&context, &names, &select)? };
            if add {
                copy::mark_archives(&mut found);
            }
            found.extend(downloaded);
            if !inline.is_empty() {
                found.extend(copy::inline_sources(&inline_dir, &inline)?);
            }
            let digests = copy::digests(&found, &select)?;
            Ok((found, digests))
        })
        .await?;
        Ok(plan(found, digests, None))
    }

    /// The image a stage named (or numbered) `name` ended with, when it was built.
    pub(super) fn stage_by_ref(&self, name: &str) -> Option<String> {
        let index = match name.parse::<usize>() {
            Ok(n) => n,
            Err(_) => self
                .stage_names
                .iter()
                .position(|s| s.as_deref() == Some(name.to_ascii_lowercase().as_str()))?,
        };
        self.stage_images.get(&index).and_then(|s| s.image.clone())
    }

    async fn copy(&self, plan: CopyPlan, state: &State, shell: &[String], i: &Instruction) -> Result<String> {
        let image = self.image_for(state)?;
        let none = RunMounts::default();
        let c = self.create(&image, vec!["true".into()], Vec::new(), state, Some("none"), &none).await?;
        let engine = self.engine.clone();
        let c2 = c.clone();
        let workdir = state.config.working_dir.clone().unwrap_or_default();
        let tar_path = self.scratch.join(format!("copy-{}.tar", &berth_sys::new_id()[..8]));
        let plan2 = (
            plan.found.clone(),
            plan.dest.clone(),
            plan.chown.clone(),
            plan.chmod.clone(),
            tar_path.clone(),
            plan.select.clone(),
        );
        // A source stage or image is read through a container of its own, never started.
        let source = match &plan.from {
            Some(id) => {
                Some(self.create(id, vec!["true".into()], Vec::new(), state, Some("none"), &none).await?)
            }
            None => None,
        };
        let (source2, names) = (source.clone(), plan.names.clone());
        let written = crate::blocking(move || {
            let (found, dest, chown, chmod, tar_path, select) = plan2;
            let copy_in = |found: Vec<copy::Source>| {
                engine.with_files(&c2, false, |root| {
                    // No passwd or group file: names cannot be resolved, numbers still can.
                    let read = |p: &str| -> String {
                        crate::fs::host_path(root, p)
                            .ok()
                            .and_then(|h| std::fs::read_to_string(h).ok())
                            .unwrap_or_default()
                    };
                    let (passwd, group) = (read("/etc/passwd"), read("/etc/group"));
                    let is_dir = |p: &str| crate::fs::host_path(root, p).is_ok_and(|h| h.is_dir());
                    let items = copy::destinations(&found, &dest, &workdir, is_dir)?;
                    let owner = chown
                        .as_deref()
                        .map(|c| resolve_chown(c, &passwd, &group))
                        .transpose()
                        .map_err(EngineError::InvalidArgument)?;
                    let file = std::fs::File::create(&tar_path)?;
                    let meta = copy::Meta { owner, chmod: chmod.clone(), select: select.clone() };
                    copy::write_tar(&items, &meta, std::io::BufWriter::new(file))?;
                    berth_archive::apply(
                        root,
                        std::io::BufReader::new(std::fs::File::open(&tar_path)?),
                        &berth_archive::ApplyOptions {
                            whiteouts: berth_archive::Whiteouts::Delete,
                            same_owner: true,
                        },
                    )
                    .map_err(|e| EngineError::InvalidArgument(format!("copying into the image: {e}")))?;
                    copy::extract_archives(root, &items)
                })
            };
            match &source2 {
                None => copy_in(found),
                Some(s) => {
                    engine.with_files(s, false, |src_root| copy_in(copy::sources(src_root, &names, &select)?))
                }
            }
        })
        .await;
        if let Some(s) = &source {
            self.discard(s).await;
        }
        let _ = std::fs::remove_file(&tar_path);
        let committed = match written {
            Ok(()) => self.commit(&c, state, created_by(i, shell, &[], &plan.description)).await,
            Err(e) => Err(e),
        };
        self.discard(&c).await;
        Ok(committed?.to_string())
    }
}

/// What a step's container mounts besides its image: `host:container[:ro]` binds, and tmpfs
/// mounts by path (with their options).
#[derive(Debug, Default)]
pub(crate) struct RunMounts {
    pub binds: Vec<String>,
    pub tmpfs: std::collections::HashMap<String, String>,
}

/// A COPY's sources, found and digested, and what to do with them.
pub(crate) struct CopyPlan {
    found: Vec<copy::Source>,
    digests: Vec<(String, String)>,
    description: String,
    dest: String,
    chown: Option<String>,
    chmod: Option<Chmod>,
    /// The image a `--from` names, whose files are copied instead of the context's.
    from: Option<String>,
    /// The sources as written (resolved in the `--from` image when the copy runs).
    names: Vec<String>,
    /// `--parents` and `--exclude`.
    select: copy::Selection,
}

/// Applies a metadata instruction to `config`; the instruction as history shows it.
fn apply_metadata(config: &mut ContainerConfig, i: &Instruction, shell: &[String]) -> Instruction {
    match i {
        Instruction::Env(pairs) => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
        }
        Instruction::Label(pairs) => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs {
                labels.insert(k.clone(), v.clone());
            }
        }
        Instruction::Expose(ports) => {
            let exposed = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in ports {
                let key = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
                exposed.insert(key, serde_json::json!({}));
            }
        }
        Instruction::Workdir(w) => {
            let base = config.working_dir.clone().unwrap_or_else(|| "/".into());
            let path =
                if w.starts_with('/') { w.clone() } else { format!("{}/{w}", base.trim_end_matches('/')) };
            config.working_dir = Some(berth_build::ignore::clean(&path));
        }
        Instruction::User(u) => config.user = Some(u.clone()),
        Instruction::Volume(v) => {
            let vols = config.volumes.get_or_insert_with(BTreeMap::new);
            for p in v {
                vols.insert(p.clone(), serde_json::json!({}));
            }
        }
        Instruction::StopSignal(s) => config.stop_signal = Some(s.clone()),
        Instruction::Shell(s) => config.shell = Some(s.clone()),
        Instruction::Onbuild(e) => config.on_build.get_or_insert_with(Vec::new).push(e.clone()),
        Instruction::Healthcheck(h) => config.healthcheck = Some(health_json(h)),
        Instruction::Cmd(c) | Instruction::Entrypoint(c) => {
            let args = history::command(&c.args, c.shell, shell);
            let shown = CommandLine { args: args.clone(), shell: false, files: Vec::new() };
            if matches!(i, Instruction::Cmd(_)) {
                config.cmd = Some(args);
                return Instruction::Cmd(shown);
            }
            config.entrypoint = Some(args);
            // A new ENTRYPOINT drops the CMD the base image had, as Docker does.
            config.cmd = None;
            return Instruction::Entrypoint(shown);
        }
        Instruction::Maintainer(_) | Instruction::Arg(_) => {}
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) => {}
    }
    i.clone()
}

fn health_json(h: &Health) -> serde_json::Value {
    match h {
        Health::None => serde_json::json!({"Test": ["NONE"]}),
        Health::Check { test, interval, timeout, start_period, start_interval, retries } => {
            let mut v = serde_json::json!({"Test": test});
            for (k, d) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if let Some(d) = d {
                    v[k] = (d.as_nanos() as u64).into();
                }
            }
            if let Some(r) = retries {
                v["Retries"] = (*r).into();
            }
            v
        }
    }
}
