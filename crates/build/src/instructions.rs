//! Parsed nodes typed and checked as BuildKit's `instructions` package checks them: each
//! instruction's arguments and flags, `ARG`s before the first `FROM` (the meta args), stages
//! (`FROM image [AS name]`, names checked and unique) holding their commands, and BuildKit's
//! error messages, with the line. Values are not expanded yet: that needs the build's args and
//! the stage's environment, which the planner has. Pure.

use std::time::Duration;

use crate::flags::{go_duration, Flags, Kind};
use crate::parser::{self, Heredoc, Node, ParseError};

/// A Dockerfile as stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: parser::Directives,
    /// The `ARG`s before the first `FROM`: usable in `FROM` lines only (unless redeclared).
    pub meta_args: Vec<ArgDef>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The image (or earlier stage) it starts from, as written.
    pub base: String,
    /// `AS name`, lower-case.
    pub name: Option<String>,
    /// `--platform=`, as written.
    pub platform: Option<String>,
    pub line: usize,
    /// The `FROM` line as written.
    pub source: String,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: usize,
    pub end_line: usize,
    /// The instruction's line(s) as written (continuations joined).
    pub original: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Maintainer(String),
    Add(Transfer),
    Copy(Transfer),
    /// The trigger instruction, as written.
    Onbuild(String),
    Workdir(String),
    Run(Run),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Healthcheck(Health),
    Expose(Vec<String>),
    User(String),
    Volume(Vec<String>),
    StopSignal(String),
    Arg(Vec<ArgDef>),
    Shell(Vec<String>),
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDef {
    pub name: String,
    pub default: Option<String>,
}

/// RUN, CMD and ENTRYPOINT's command: exec form, or shell form (run by the stage's SHELL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub args: Vec<String>,
    /// Shell form: `args` is one string given to the shell.
    pub shell: bool,
    /// Heredocs of the line (for RUN, the script or files it reads).
    pub files: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: CommandLine,
    /// `--mount` values as written (parsed by [`crate::mount::Mount`] once expanded).
    pub mounts: Vec<String>,
    /// `--network=none|host|default`.
    pub network: Option<String>,
    /// `--security=sandbox|insecure`.
    pub security: Option<String>,
    pub devices: Vec<String>,
}

/// A file a COPY or ADD writes from its own line (a heredoc source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    pub name: String,
    pub data: String,
    pub expand: bool,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transfer {
    pub sources: Vec<String>,
    pub inline: Vec<InlineFile>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    /// ADD's `--checksum`.
    pub checksum: Option<String>,
    /// ADD's `--keep-git-dir`.
    pub keep_git_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// `HEALTHCHECK NONE`: the base image's check is turned off.
    None,
    Check {
        /// `["CMD", args…]` or `["CMD-SHELL", command]`, as Docker stores it.
        test: Vec<String>,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}

/// Parses and types a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let ast = parser::parse(text)?;
    let (mut meta_args, mut stages) = (Vec::new(), Vec::<Stage>::new());
    for node in &ast.nodes {
        let fail = |m: String| ParseError::new(node.start_line, m);
        if node.keyword == "from" {
            let stage = stage(node).map_err(fail)?;
            if let Some(name) = &stage.name {
                if stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                    return Err(fail(format!("duplicate stage name {name:?}")));
                }
            }
            stages.push(stage);
            continue;
        }
        let instruction = instruction(node).map_err(fail)?;
        match (stages.last_mut(), instruction) {
            (None, Instruction::Arg(args)) => meta_args.extend(args),
            (None, _) => {
                return Err(fail(
                    "no build stage in current context: start with FROM (ARG may come before it)".into(),
                ))
            }
            (Some(stage), instruction) => stage.commands.push(Command {
                line: node.start_line,
                end_line: node.end_line,
                original: node.original.trim().to_string(),
                instruction,
            }),
        }
    }
    if stages.is_empty() {
        return Err(ParseError::new(
            ast.nodes.last().map_or(1, |n| n.end_line),
            "no build stage in current context: the Dockerfile has no FROM",
        ));
    }
    Ok(Dockerfile { directives: ast.directives, meta_args, stages, warnings: ast.warnings })
}

fn stage(node: &Node) -> Result<Stage, String> {
    let flags = Flags::parse(&node.flags, &[("platform", Kind::Text)])?;
    let name = match node.args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols"));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Stage {
        base: node.args[0].clone(),
        name,
        platform: flags.text("platform"),
        line: node.start_line,
        source: node.original.trim().to_string(),
        commands: Vec::new(),
    })
}

const NO_FLAGS: &[(&str, Kind)] = &[];
const COPY_FLAGS: &[(&str, Kind)] = &[
    ("chown", Kind::Text),
    ("from", Kind::Text),
    ("chmod", Kind::Text),
    ("link", Kind::Bool),
    ("parents", Kind::Bool),
    ("exclude", Kind::List),
];
const ADD_FLAGS: &[(&str, Kind)] = &[
    ("chown", Kind::Text),
    ("chmod", Kind::Text),
    ("link", Kind::Bool),
    ("exclude", Kind::List),
    ("checksum", Kind::Text),
    ("keep-git-dir", Kind::Bool),
];
const RUN_FLAGS: &[(&str, Kind)] =
    &[("mount", Kind::List), ("network", Kind::Text), ("security", Kind::Text), ("device", Kind::List)];
const HEALTH_FLAGS: &[(&str, Kind)] = &[
    ("interval", Kind::Text),
    ("timeout", Kind::Text),
    ("start-period", Kind::Text),
    ("start-interval", Kind::Text),
    ("retries", Kind::Text),
];

fn accepted(keyword: &str) -> &'static [(&'static str, Kind)] {
    match keyword {
        "copy" => COPY_FLAGS,
        "add" => ADD_FLAGS,
        "run" => RUN_FLAGS,
        "healthcheck" => HEALTH_FLAGS,
        _ => NO_FLAGS,
    }
}

/// An `ONBUILD` trigger a base image carries, read as the instruction it runs when a build
/// starts from that image (FROM, ONBUILD and MAINTAINER cannot be triggers).
pub fn trigger(text: &str) -> Result<Instruction, String> {
    let ast = parser::parse(text).map_err(|e| format!("invalid ONBUILD trigger {text:?}: {e}"))?;
    let [node] = ast.nodes.as_slice() else {
        return Err(format!("invalid ONBUILD trigger {text:?}: it must be one instruction"));
    };
    if matches!(node.keyword.as_str(), "from" | "onbuild" | "maintainer") {
        return Err(format!("{} isn't allowed as an ONBUILD trigger", node.keyword.to_ascii_uppercase()));
    }
    instruction(node)
}

/// One node (not FROM) typed.
pub fn instruction(node: &Node) -> Result<Instruction, String> {
    let upper = node.keyword.to_ascii_uppercase();
    let known = matches!(
        node.keyword.as_str(),
        "env"
            | "label"
            | "maintainer"
            | "add"
            | "copy"
            | "onbuild"
            | "workdir"
            | "run"
            | "cmd"
            | "entrypoint"
            | "healthcheck"
            | "expose"
            | "user"
            | "volume"
            | "stopsignal"
            | "arg"
            | "shell"
    );
    if !known {
        return Err(format!("unknown instruction: {upper}"));
    }
    let flags = Flags::parse(&node.flags, accepted(&node.keyword))?;
    let args = &node.args;
    let exactly_one = || match args.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("{upper} requires exactly one argument")),
    };
    let at_least_one =
        || if args.is_empty() { Err(format!("{upper} requires at least one argument")) } else { Ok(()) };
    Ok(match node.keyword.as_str() {
        "env" | "label" => {
            at_least_one()?;
            let pairs: Vec<(String, String)> =
                args.chunks(2).map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default())).collect();
            if pairs.iter().any(|(k, _)| k.is_empty()) {
                return Err(format!("{upper} names can not be blank"));
            }
            if node.keyword == "env" {
                Instruction::Env(pairs)
            } else {
                Instruction::Label(pairs)
            }
        }
        "maintainer" => Instruction::Maintainer(exactly_one()?),
        "add" | "copy" => {
            let t = transfer(node, &upper, &flags)?;
            if node.keyword == "add" {
                Instruction::Add(t)
            } else {
                Instruction::Copy(t)
            }
        }
        "onbuild" => {
            at_least_one()?;
            match args[0].to_ascii_uppercase().as_str() {
                "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
                t @ ("MAINTAINER" | "FROM") => {
                    return Err(format!("{t} isn't allowed as an ONBUILD trigger"))
                }
                _ => {}
            }
            let original = node.original.trim_start();
            let mut expression = original[original.find(char::is_whitespace).unwrap_or(original.len())..]
                .trim_start()
                .to_string();
            for doc in &node.heredocs {
                expression.push('\n');
                expression.push_str(&doc.content);
                expression.push_str(&doc.name);
            }
            Instruction::Onbuild(expression)
        }
        "workdir" => Instruction::Workdir(exactly_one()?),
        "run" => Instruction::Run(Run {
            command: command_line(node),
            mounts: flags.list("mount"),
            network: match flags.text("network") {
                Some(n) if !matches!(n.as_str(), "none" | "host" | "default") => {
                    return Err(format!("unsupported network mode {n:?}: use none, host or default"))
                }
                n => n,
            },
            security: match flags.text("security") {
                Some(s) if !matches!(s.as_str(), "sandbox" | "insecure") => {
                    return Err(format!("unsupported security mode {s:?}: use sandbox or insecure"))
                }
                s => s,
            },
            devices: flags.list("device"),
        }),
        "cmd" => Instruction::Cmd(command_line(node)),
        "entrypoint" => Instruction::Entrypoint(command_line(node)),
        "healthcheck" => Instruction::Healthcheck(health(node, &flags)?),
        "expose" => {
            at_least_one()?;
            let mut ports = args.clone();
            ports.sort();
            Instruction::Expose(ports)
        }
        "user" => Instruction::User(exactly_one()?),
        "volume" => {
            at_least_one()?;
            let volumes: Vec<String> = args.iter().map(|v| v.trim().to_string()).collect();
            if volumes.iter().any(String::is_empty) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Instruction::Volume(volumes)
        }
        "stopsignal" => Instruction::StopSignal(exactly_one()?),
        "arg" => {
            at_least_one()?;
            let mut defs = Vec::new();
            for a in args {
                let def = match a.split_once('=') {
                    Some(("", _)) => return Err("ARG names can not be blank".into()),
                    Some((k, v)) => ArgDef { name: k.to_string(), default: Some(v.to_string()) },
                    None => ArgDef { name: a.clone(), default: None },
                };
                defs.push(def);
            }
            Instruction::Arg(defs)
        }
        _ => {
            // SHELL
            if args.is_empty() {
                return Err("SHELL requires at least one argument".into());
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            Instruction::Shell(args.clone())
        }
    })
}

fn command_line(node: &Node) -> CommandLine {
    let args = if node.json || node.args.is_empty() { node.args.clone() } else { vec![node.args.join(" ")] };
    CommandLine { args, shell: !node.json, files: node.heredocs.clone() }
}

fn transfer(node: &Node, upper: &str, flags: &Flags) -> Result<Transfer, String> {
    let Some((dest, sources)) = node.args.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!("{upper} requires at least two arguments, but only one was provided. Destination could not be determined"));
    };
    if parser::heredoc_word(dest)?.is_some() {
        return Err(format!("{upper} cannot accept a heredoc as a destination"));
    }
    let mut t = Transfer { dest: dest.clone(), ..Transfer::default() };
    for src in sources {
        match parser::heredoc_word(src)? {
            Some(doc) if !node.json => {
                let found = node.heredocs.iter().find(|h| h.name == doc.name);
                let data =
                    found.map(|h| Heredoc { chomp: doc.chomp, ..h.clone() }.text()).unwrap_or_default();
                t.inline.push(InlineFile { name: doc.name, data, expand: doc.expand });
            }
            _ => t.sources.push(src.clone()),
        }
    }
    t.from = flags.text("from");
    t.chown = flags.text("chown");
    t.chmod = flags.text("chmod");
    t.link = flags.bool("link");
    t.parents = flags.bool("parents");
    t.exclude = flags.list("exclude");
    t.checksum = flags.text("checksum");
    t.keep_git_dir = flags.bool("keep-git-dir");
    Ok(t)
}

fn health(node: &Node, flags: &Flags) -> Result<Health, String> {
    let Some((kind, rest)) = node.args.split_first() else {
        return Err("HEALTHCHECK requires at least one argument".into());
    };
    let kind = kind.to_ascii_uppercase();
    if kind == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Health::None);
    }
    if kind != "CMD" {
        return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"));
    }
    if rest.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let test = match node.json {
        true => std::iter::once("CMD".to_string()).chain(rest.iter().cloned()).collect(),
        false => vec!["CMD-SHELL".to_string(), rest.join(" ")],
    };
    let interval = |name: &str| -> Result<Option<Duration>, String> {
        let Some(v) = flags.text(name) else { return Ok(None) };
        let d = go_duration(&v)?;
        if d < Duration::from_millis(1) {
            return Err(format!("Interval {name:?} cannot be less than 1ms"));
        }
        Ok(Some(d))
    };
    let retries = match flags.text("retries") {
        None => None,
        Some(v) => {
            let n: i64 = v.parse().map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
            if n < 1 {
                return Err(format!("--retries must be at least 1 (not {n})"));
            }
            Some(n as u32)
        }
    };
    Ok(Health::Check {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })
}

#[cfg(test)]
#[path = "instructions_tests.rs"]
mod tests;
