//! Which stages a build runs and in what order: the target (`--target`, else the last stage),
//! every stage it needs (its `FROM` stage, `COPY --from`, `RUN --mount=from=`), each stage's
//! base resolved (`scratch`, an earlier stage by name, or an image, with the global `ARG`s and
//! the platform args expanded in `FROM`), and the images other than bases that steps read.
//! Stages the target does not need are left out; stages that do not depend on each other can
//! run side by side. Pure.

use std::collections::BTreeMap;

use crate::instructions::{Dockerfile, Instruction};
use crate::lex::Lexer;
use crate::mount::Mount;
use crate::scope::Scope;

/// Why a Dockerfile cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("target stage {0:?} could not be found")]
    NoTarget(String),
    #[error("base name ({0}) should not be blank")]
    BlankBase(String),
    #[error("circular dependency detected on stage: {0}")]
    Cycle(String),
    #[error("dockerfile parse error on line {line}: {message}")]
    Expansion { line: usize, message: String },
}

impl berth_kind::Kinded for PlanError {
    fn kind(&self) -> berth_kind::Kind {
        berth_kind::Kind::InvalidArgument
    }
}

/// A platform as `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// What the build was asked.
#[derive(Debug, Clone)]
pub struct Request {
    /// `--build-arg`s.
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub build_platform: Platform,
    pub target_platform: Platform,
}

/// Where a stage starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Scratch,
    Image(String),
    Stage(usize),
}

/// One stage the build runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePlan {
    /// Its index among the Dockerfile's stages.
    pub index: usize,
    pub base: Base,
    /// Its `--platform`, expanded.
    pub platform: Option<String>,
    /// The stages it needs done first (its base among them).
    pub needs: Vec<usize>,
    /// Images its steps read from (`COPY --from=image`, `RUN --mount=from=image`).
    pub images: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The stages to run, each after those it needs.
    pub stages: Vec<StagePlan>,
    /// The stage whose result is the image.
    pub target: usize,
    /// The global scope: meta args and the platform args, as `FROM` lines see them.
    pub globals: BTreeMap<String, String>,
    /// How many steps Docker's classic output numbers (a `FROM` and each instruction of the
    /// stages run).
    pub steps: usize,
}

/// The platform args BuildKit defines in the global scope.
pub fn platform_args(build: &Platform, target: &Platform) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (prefix, p) in [("BUILD", build), ("TARGET", target)] {
        out.insert(format!("{prefix}PLATFORM"), p.to_string());
        out.insert(format!("{prefix}OS"), p.os.clone());
        out.insert(format!("{prefix}ARCH"), p.arch.clone());
        out.insert(format!("{prefix}VARIANT"), p.variant.clone().unwrap_or_default());
    }
    out
}

/// Plans the build of `df` as `req` asks.
/// The stages that can run at once: groups of positions in `stages` (which lists each stage
/// after those it needs), each group needing only the groups before it, in order.
pub fn waves(stages: &[StagePlan]) -> Vec<Vec<usize>> {
    let mut wave_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (pos, sp) in stages.iter().enumerate() {
        let w = sp.needs.iter().filter_map(|n| wave_of.get(n)).map(|w| w + 1).max().unwrap_or(0);
        wave_of.insert(sp.index, w);
        if waves.len() <= w {
            waves.resize(w + 1, Vec::new());
        }
        waves[w].push(pos);
    }
    waves
}

pub fn plan(df: &Dockerfile, req: &Request) -> Result<Plan, PlanError> {
    let lexer = Lexer::new(df.directives.escape);
    // Global scope: the platform args, then meta args (a build arg overrides a default).
    let mut globals = platform_args(&req.build_platform, &req.target_platform);
    for def in &df.meta_args {
        let value = match (req.build_args.get(&def.name), &def.default) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(d)) => Some(expand(&lexer, d, &globals, df.stages[0].line)?),
            (None, None) => None,
        };
        match value {
            Some(v) => globals.insert(def.name.clone(), v),
            None => globals.remove(&def.name),
        };
    }
    let by_name = |name: &str, before: usize| -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        df.stages[..before].iter().position(|s| s.name.as_deref() == Some(lower.as_str()))
    };
    let mut all = Vec::new();
    for (i, stage) in df.stages.iter().enumerate() {
        let base_text = expand(&lexer, &stage.base, &globals, stage.line)?;
        if base_text.is_empty() {
            return Err(PlanError::BlankBase(stage.base.clone()));
        }
        let base = if base_text.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(j) = by_name(&base_text, i) {
            Base::Stage(j)
        } else {
            Base::Image(base_text)
        };
        let platform =
            stage.platform.as_ref().map(|p| expand(&lexer, p, &globals, stage.line)).transpose()?;
        let mut needs: Vec<usize> = match base {
            Base::Stage(j) => vec![j],
            _ => Vec::new(),
        };
        let mut images = Vec::new();
        // What steps read from: names expanded with the stage's ARGs as they are declared.
        let mut scope = Scope::new(&globals, &[]);
        for c in &stage.commands {
            let sources: Vec<String> = match &c.instruction {
                Instruction::Arg(defs) => {
                    for d in defs {
                        scope.declare(d, &req.build_args, &lexer).map_err(|m| at(c.line, m))?;
                    }
                    continue;
                }
                Instruction::Env(pairs) => {
                    for (k, v) in pairs {
                        let (k, v) = (scope.word(&lexer, k), scope.word(&lexer, v));
                        scope.set_env(&k.map_err(|m| at(c.line, m))?, &v.map_err(|m| at(c.line, m))?);
                    }
                    continue;
                }
                Instruction::Copy(t) => t.from.iter().cloned().collect(),
                Instruction::Run(r) => r
                    .mounts
                    .iter()
                    .filter_map(|m| scope.word(&lexer, m).ok())
                    .filter_map(|m| Mount::parse(&m, 0).ok()?.from)
                    .collect(),
                _ => continue,
            };
            for s in sources {
                let s = scope.word(&lexer, &s).map_err(|m| at(c.line, m))?;
                let stage_ref = match s.parse::<usize>() {
                    Ok(n) if n < df.stages.len() => Some(n),
                    _ => df
                        .stages
                        .iter()
                        .position(|st| st.name.as_deref() == Some(s.to_ascii_lowercase().as_str())),
                };
                match stage_ref {
                    Some(j) if !needs.contains(&j) => needs.push(j),
                    Some(_) => {}
                    None if !images.contains(&s) => images.push(s),
                    None => {}
                }
            }
        }
        all.push(StagePlan { index: i, base, platform, needs, images });
    }
    let target = match &req.target {
        None => df.stages.len() - 1,
        Some(t) => by_name(t, df.stages.len()).ok_or_else(|| PlanError::NoTarget(t.clone()))?,
    };
    // The stages the target needs, each after what it needs (depth first; a stage met again
    // on the current path is a cycle).
    let (mut order, mut state) = (Vec::new(), vec![0u8; all.len()]);
    visit(target, &all, df, &mut state, &mut order)?;
    let steps = order.iter().map(|&i| 1 + df.stages[i].commands.len()).sum();
    let stages = order.into_iter().map(|i| all[i].clone()).collect();
    Ok(Plan { stages, target, globals, steps })
}

fn visit(
    i: usize,
    all: &[StagePlan],
    df: &Dockerfile,
    state: &mut [u8],
    order: &mut Vec<usize>,
) -> Result<(), PlanError> {
    match state[i] {
        2 => return Ok(()),
        1 => return Err(PlanError::Cycle(df.stages[i].name.clone().unwrap_or_else(|| i.to_string()))),
        _ => {}
    }
    state[i] = 1;
    for &j in &all[i].needs {
        visit(j, all, df, state, order)?;
    }
    state[i] = 2;
    order.push(i);
    Ok(())
}

fn at(line: usize, message: String) -> PlanError {
    PlanError::Expansion { line, message }
}

fn expand(
    lexer: &Lexer,
    text: &str,
    vars: &BTreeMap<String, String>,
    line: usize,
) -> Result<String, PlanError> {
    lexer.word(text, &|n| vars.get(n).cloned()).map_err(|e| at(line, e.to_string()))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
