//! One stage of a build: its base (scratch, an earlier stage, or an image pulled when missing),
//! the base's ONBUILD triggers, then each instruction expanded in the stage's scope and run as
//! a step, and the build's labels when it is the target. Stages that need nothing of each
//! other run at once, each with a `Build` of its own that tells its output to its own channel.

use std::collections::{BTreeMap, BTreeSet};

use berth_build::classic;
use berth_build::instructions::{Instruction, Stage};
use berth_build::plan::{Base, Platform, StagePlan};
use berth_build::scope::Scope;
use berth_image::ContainerConfig;
use tokio::sync::mpsc;

use std::time::Instant;

use super::{Build, BuildEvent, State, StepEvent, StepState, DEFAULT_PATH};
use crate::error::{EngineError, Result};

/// A stage to run and where its steps are numbered from.
pub(crate) struct StageRun<'p> {
    pub plan: &'p StagePlan,
    pub stage: &'p Stage,
    /// The number the classic output gives its FROM.
    pub first_step: usize,
    pub total: usize,
    /// It is the build's target (which the build's labels go on).
    pub is_target: bool,
}

impl<'a> Build<'a> {
    /// A `Build` for one stage: the same build, its output to `events`, the stages done so far.
    pub(crate) fn for_stage<'b>(
        &'b self,
        events: &'b mpsc::UnboundedSender<BuildEvent>,
        stage_images: BTreeMap<usize, State>,
    ) -> Build<'b> {
        Build {
            id: self.id,
            engine: self.engine,
            req: self.req,
            context: self.context,
            scratch: self.scratch,
            events,
            lexer: self.lexer,
            stage_images,
            cache_from: self.cache_from,
            no_cache: self.no_cache,
            live: self.live,
            platform: self.platform.clone(),
            at: self.at,
            cached: false,
            cmd_set: false,
            stage_names: self.stage_names.clone(),
        }
    }

    /// Tells a live client that the current step (`self.at`) began; when it began.
    fn begin(&mut self, run: &StageRun<'_>, text: &str) -> Instant {
        self.cached = false;
        self.tell_step(self.step_event(run, text, StepState::Running, None));
        Instant::now()
    }

    /// Tells a live client that the current step ended: taken from a cache, done or failed.
    fn end(&self, run: &StageRun<'_>, text: &str, began: Instant, ok: bool) {
        let state = match (ok, self.cached) {
            (false, _) => StepState::Failed,
            (true, true) => StepState::Cached,
            (true, false) => StepState::Done,
        };
        let millis = began.elapsed().as_millis() as u64;
        self.tell_step(self.step_event(run, text, state, Some(millis)));
    }

    fn step_event(&self, run: &StageRun<'_>, text: &str, state: StepState, millis: Option<u64>) -> StepEvent {
        let index = run.plan.index;
        let labels = usize::from(run.is_target && !self.req.labels.is_empty());
        StepEvent {
            stage: index,
            name: self.stage_names.get(index).cloned().flatten().unwrap_or_else(|| format!("stage-{index}")),
            step: self.at.1,
            steps: 1 + run.stage.commands.len() + labels,
            text: text.to_string(),
            state,
            millis,
        }
    }

    /// Whether `--no-cache-filter` names the stage (by name or index).
    fn filtered_from_cache(&self, index: usize) -> bool {
        let name = self.stage_names.get(index).cloned().flatten();
        self.req.no_cache_filter.iter().any(|f| {
            f.parse::<usize>().ok() == Some(index) || name.as_deref() == Some(f.to_ascii_lowercase().as_str())
        })
    }

    /// Runs a stage: the state it ends with (always with an image), and the build args its
    /// steps used.
    pub(crate) async fn run_stage(
        &mut self,
        run: &StageRun<'_>,
        globals: &BTreeMap<String, String>,
        platform: &Platform,
    ) -> Result<(State, BTreeSet<String>)> {
        let (req, total) = (self.req, run.total);
        let mut n = run.first_step;
        for t in classic::step(n, total, &run.stage.source) {
            self.say(t);
        }
        self.at = (run.plan.index, 1);
        // `FROM --platform=…` (expanded), else what the build is for.
        let stage_platform = match &run.plan.platform {
            Some(p) => super::build_platform(p)?,
            None => platform.clone(),
        };
        self.platform = stage_platform.clone();
        let from = self.begin(run, &run.stage.source);
        let mut state = match &run.plan.base {
            Base::Scratch => State {
                image: None,
                config: ContainerConfig::default(),
                os: stage_platform.os.clone(),
                arch: stage_platform.arch.clone(),
                key: None,
                links: Vec::new(),
                depth: (0, 0),
            },
            Base::Stage(j) => self.stage_images.get(j).cloned().ok_or_else(|| {
                EngineError::Internal(format!("stage {j} was not built before the stage that needs it"))
            })?,
            Base::Image(name) => {
                let id = self.engine.base_image(name, self, &stage_platform).await?;
                self.engine.state_of(&id)?
            }
        };
        self.cmd_set = false;
        self.no_cache = req.no_cache || self.filtered_from_cache(run.plan.index);
        // A base without PATH gets the default one, as Docker's builder gives it.
        let env = state.config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        let env = env.clone();
        let mut scope = Scope::new(globals, &env).with_proxies(&req.build_args);
        // The base's ONBUILD triggers run first, as Docker runs them; the image made carries
        // none of them.
        if let Some(triggers) = state.config.on_build.take().filter(|t| !t.is_empty()) {
            let s = if triggers.len() > 1 { "s" } else { "" };
            self.say(format!("# Executing {} build trigger{s}\n", triggers.len()));
            for t in &triggers {
                let i = berth_build::instructions::trigger(t).map_err(EngineError::InvalidArgument)?;
                let expanded = scope
                    .expand(&i, &self.lexer, &req.build_args)
                    .map_err(|m| EngineError::InvalidArgument(format!("ONBUILD trigger {t:?}: {m}")))?;
                state = self.step(&expanded, state, &scope, n, false).await?;
            }
        }
        // The FROM step's result, its triggers run.
        if let Some(id) = &state.image {
            self.say(classic::result(id));
        }
        self.end(run, &run.stage.source, from, true);
        let first = n;
        for c in &run.stage.commands {
            n += 1;
            for t in classic::step(n, total, &c.original) {
                self.say(t);
            }
            let expanded = scope.expand(&c.instruction, &self.lexer, &req.build_args).map_err(|m| {
                EngineError::InvalidArgument(format!("dockerfile parse error on line {}: {m}", c.line))
            })?;
            self.at.1 += 1;
            let began = self.begin(run, &c.original);
            let done = self.step(&expanded, state, &scope, n, n == first + 1).await;
            self.end(run, &c.original, began, done.is_ok());
            state = done?;
            self.say(classic::result(state.image.as_deref().unwrap_or_default()));
        }
        let used: BTreeSet<String> = scope.used_build_args().iter().cloned().collect();
        // Labels given to the build go on the target's image.
        if run.is_target && !req.labels.is_empty() {
            let labels: Vec<(String, String)> = req.labels.clone().into_iter().collect();
            n += 1;
            let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let text = format!("LABEL {}", shown.join(" "));
            for t in classic::step(n, total, &text) {
                self.say(t);
            }
            self.at.1 += 1;
            let began = self.begin(run, &text);
            let done = self.step(&Instruction::Label(labels), state, &scope, n, false).await;
            self.end(run, &text, began, done.is_ok());
            state = done?;
            self.say(classic::result(state.image.as_deref().unwrap_or_default()));
        }
        if state.image.is_none() {
            // `FROM scratch` and nothing else: an empty image, as Docker makes it.
            state.image = Some(self.derive(&state, "")?.to_string());
        }
        Ok((state, used))
    }
}
