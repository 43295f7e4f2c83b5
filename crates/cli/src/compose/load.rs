//! Finding and loading the project as docker compose does: files from `-f`, `COMPOSE_FILE`,
//! or walking up from the working directory; variables from the environment, then
//! `--env-file`s or the project's `.env`; the name from `-p`, `COMPOSE_PROJECT_NAME`, `name:`
//! or the directory; profiles from `--profile` or `COMPOSE_PROFILES`. Then decoded into the
//! [`Session`] the commands work on.

use std::path::{Path, PathBuf};

use berth_compose::model::Project;
use berth_compose::resources::{NetworkDef, VolumeDef};
use berth_compose::tree::{Node, Value};

use super::args::ComposeArgs;
use crate::Failure;

type Result<T = ()> = std::result::Result<T, Failure>;

pub(super) fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::new(1, e.to_string())
}

/// A loaded project: its name, directory, tree (profiles applied) and every profile it names.
pub(super) struct Loaded {
    pub name: String,
    pub dir: String,
    pub tree: Node,
    pub all_profiles: Vec<String>,
    /// The files read, absolute.
    pub files: Vec<String>,
    /// The variables of the environment, then of the env files.
    pub vars: Vec<(String, String)>,
}

fn read(path: &str) -> std::result::Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| crate::common::io_text(&e))
}

/// The files `-f` or `COMPOSE_FILE` name, else the first directory up from here with one.
fn find_files(a: &ComposeArgs, env_files: Option<&str>) -> Result<Vec<PathBuf>> {
    let given: Vec<String> = if !a.file.is_empty() {
        a.file.clone()
    } else {
        env_files
            .map(|f| f.split(':').filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    };
    if !given.is_empty() {
        return Ok(given.iter().map(PathBuf::from).collect());
    }
    let here = std::env::current_dir().map_err(fail)?;
    for dir in here.ancestors() {
        if let Some((main, over, warning)) = berth_compose::project::choose_files(|f| dir.join(f).is_file()) {
            if let Some(w) = warning {
                eprintln!("WARN[0000] {w}");
            }
            let mut files = vec![dir.join(main)];
            files.extend(over.map(|o| dir.join(o)));
            return Ok(files);
        }
    }
    Err(Failure::new(1, "no configuration file provided: not found"))
}

pub(super) fn load(a: &ComposeArgs) -> Result<Loaded> {
    let process = |k: &str| std::env::var(k).ok();
    // The project directory's .env may set COMPOSE_FILE and the rest, so it is read first
    // from where the files will be (the working directory when they are not named).
    let files = find_files(a, process("COMPOSE_FILE").as_deref())?;
    let first = &files[0];
    let dir: PathBuf = match &a.project_directory {
        Some(d) => PathBuf::from(d),
        None if first.as_os_str() == "-" => std::env::current_dir().map_err(fail)?,
        // The first file's directory; a relative file is the working directory's.
        None => std::env::current_dir()
            .map_err(fail)?
            .join(first)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let env_files: Vec<(PathBuf, bool)> = if a.env_file.is_empty() {
        vec![(dir.join(".env"), false)]
    } else {
        a.env_file.iter().map(|f| (PathBuf::from(f), true)).collect()
    };
    let mut vars: Vec<(String, String)> = Vec::new();
    for (path, required) in env_files {
        match std::fs::read_to_string(&path) {
            Ok(text) => vars.extend(
                berth_compose::dotenv::parse(&text, &path.to_string_lossy(), &process).map_err(fail)?,
            ),
            Err(e) if required => {
                return Err(fail(format!("reading {}: {}", path.display(), crate::common::io_text(&e))))
            }
            Err(_) => {}
        }
    }
    let lookup =
        |k: &str| process(k).or_else(|| vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
    let mut texts = Vec::new();
    for f in &files {
        let text = if f.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).map_err(fail)?
        } else {
            let abs =
                if f.is_absolute() { f.clone() } else { std::env::current_dir().map_err(fail)?.join(f) };
            std::fs::read_to_string(&abs)
                .map_err(|e| fail(format!("open {}: {}", abs.display(), crate::common::io_text(&e))))?
        };
        let name = if f.as_os_str() == "-" {
            dir.join("-").to_string_lossy().into_owned()
        } else if f.is_absolute() {
            f.to_string_lossy().into_owned()
        } else {
            std::env::current_dir().map_err(fail)?.join(f).to_string_lossy().into_owned()
        };
        texts.push((name, text));
    }
    let (mut tree, warnings) = berth_compose::load::load(&texts, &lookup, &read).map_err(fail)?;
    for w in warnings {
        eprintln!("WARN[0000] {w}");
    }
    if tree.get("version").is_some() {
        eprintln!("WARN[0000] {}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion", texts[0].0);
        if let Value::Map(entries) = &mut tree.value {
            entries.retain(|(k, _)| k != "version");
        }
    }
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let given = a.project_name.clone().or_else(|| lookup("COMPOSE_PROJECT_NAME"));
    let in_file = tree.get("name").and_then(Node::text).map(String::from);
    let name = berth_compose::project::project_name(given.as_deref(), in_file.as_deref(), &dir_name)
        .map_err(fail)?;
    let mut all_profiles: Vec<String> = Vec::new();
    if let Some(Value::Map(services)) = tree.get("services").map(|s| &s.value) {
        for (_, s) in services {
            if let Some(Value::Seq(p)) = s.get("profiles").map(|p| &p.value) {
                all_profiles.extend(p.iter().filter_map(|x| x.text().map(String::from)));
            }
        }
    }
    all_profiles.sort();
    all_profiles.dedup();
    let active = berth_compose::profiles::active(&a.profile, lookup("COMPOSE_PROFILES").as_deref());
    berth_compose::profiles::apply(&mut tree, &active, &a.command.named_services()).map_err(fail)?;
    let files = texts.iter().map(|(n, _)| n.clone()).collect();
    let dir = dir.to_string_lossy().into_owned();
    Ok(Loaded { name, dir, tree, all_profiles, files, vars })
}

/// A decoded project and what its commands need besides: its networks and volumes with their
/// engine names, the labels' context, and the variables (the environment's, then the env
/// files') that `environment: [NAME]` and secrets from the environment read.
pub(super) struct Session {
    pub project: Project,
    pub nets: Vec<NetworkDef>,
    pub vols: Vec<VolumeDef>,
    pub context: berth_compose::spec::Context,
    pub vars: Vec<(String, String)>,
    pub compatibility: bool,
    /// `--parallel`: how many containers are worked on at once (`-1`: no limit).
    pub parallel: Option<i64>,
    /// `--ansi`: `never`, `always` or `auto` (colours on a terminal).
    pub ansi: String,
}

impl Session {
    pub fn open(a: &ComposeArgs) -> Result<Session> {
        let loaded = load(a)?;
        let project = berth_compose::model::decode(&loaded.tree, &loaded.name, &loaded.dir).map_err(fail)?;
        for w in berth_compose::model::unsupported(&loaded.tree) {
            eprintln!("WARN[0000] {w}");
        }
        let default_used = berth_compose::spec::uses_default_network(&project);
        let nets = berth_compose::resources::networks(&project.name, &project.networks, default_used)
            .map_err(fail)?;
        let vols = berth_compose::resources::volumes(&project.name, &project.volumes).map_err(fail)?;
        let context = berth_compose::spec::Context {
            working_dir: loaded.dir.clone(),
            config_files: loaded.files.clone(),
            home: std::env::var("HOME").unwrap_or_default(),
        };
        let compatibility = a.compatibility;
        let parallel = a.parallel;
        let ansi = a.ansi.clone();
        let mut s =
            Session { project, nets, vols, context, vars: loaded.vars, compatibility, parallel, ansi };
        // Environments are resolved once, as Compose resolves them when it loads: what a
        // container gets (its env files' contents, the variables it names) is part of its
        // configuration, and a change of it recreates the container.
        for i in 0..s.project.services.len() {
            let env = s.environment(&s.project.services[i])?;
            let svc = &mut s.project.services[i];
            svc.environment = env
                .into_iter()
                .map(|e| match e.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (e, None),
                })
                .collect();
            svc.env_files.clear();
        }
        Ok(s)
    }

    /// The project `name` as the engine's labels describe it, without its files: no
    /// services (the commands then act on every container labelled with the project), its
    /// networks and volumes found by their labels.
    pub async fn from_labels(ctx: &crate::Ctx, a: &ComposeArgs) -> Result<Option<Session>> {
        let Some(name) = a.project_name.clone().or_else(|| std::env::var("COMPOSE_PROJECT_NAME").ok()) else {
            return Ok(None);
        };
        if !a.command.works_from_labels()
            || !a.file.is_empty()
            || find_files(a, std::env::var("COMPOSE_FILE").ok().as_deref()).is_ok()
        {
            return Ok(None);
        }
        let name = berth_compose::project::project_name(Some(&name), None, "").map_err(fail)?;
        let filter =
            serde_json::json!({"label": [format!("{}={name}", berth_compose::spec::PROJECT)]}).to_string();
        let nets = ctx.client.networks().list(Some(filter.clone())).await?;
        let vols = ctx.client.volumes().list(Some(filter)).await?;
        let label =
            |v: &serde_json::Value, key: &str| v["Labels"][key].as_str().unwrap_or_default().to_string();
        let project = Project { name, ..Project::default() };
        Ok(Some(Session {
            nets: nets
                .iter()
                .map(|n| NetworkDef {
                    key: label(n, berth_compose::spec::NETWORK),
                    name: n["Name"].as_str().unwrap_or_default().to_string(),
                    ..NetworkDef::default()
                })
                .collect(),
            vols: vols
                .iter()
                .map(|v| VolumeDef {
                    key: label(v, berth_compose::spec::VOLUME),
                    name: v["Name"].as_str().unwrap_or_default().to_string(),
                    ..VolumeDef::default()
                })
                .collect(),
            project,
            context: berth_compose::spec::Context::default(),
            vars: Vec::new(),
            compatibility: a.compatibility,
            parallel: a.parallel,
            ansi: a.ansi.clone(),
        }))
    }

    /// Whether the session knows the project only from the engine's labels.
    pub fn known_by_labels_only(&self) -> bool {
        self.project.services.is_empty() && self.context.config_files.is_empty()
    }

    /// A variable of the environment, else of the env files.
    pub fn lookup(&self, k: &str) -> Option<String> {
        std::env::var(k).ok().or_else(|| self.vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    pub fn service(&self, name: &str) -> Result<&berth_compose::model::Service> {
        self.project
            .services
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Failure::new(1, format!("no such service: {name}")))
    }

    /// The services named (checked), or all.
    pub fn services(&self, names: &[String]) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(self.project.services.iter().map(|s| s.name.clone()).collect());
        }
        names.iter().map(|n| self.service(n).map(|s| s.name.clone())).collect()
    }

    /// A service's environment: its `env_file`s read (a missing required one is an error),
    /// then its `environment`.
    pub fn environment(&self, s: &berth_compose::model::Service) -> Result<Vec<String>> {
        let mut from_files = Vec::new();
        for (path, required) in &s.env_files {
            match std::fs::read_to_string(path) {
                Ok(text) => from_files.extend(
                    berth_compose::dotenv::parse(&text, path, &|k: &str| self.lookup(k)).map_err(fail)?,
                ),
                Err(e) if *required => {
                    return Err(fail(format!("env file {path} not found: {}", crate::common::io_text(&e))))
                }
                Err(_) => {}
            }
        }
        Ok(berth_compose::spec::environment(s, &from_files, &|k| self.lookup(k)))
    }

    pub fn container_name(&self, s: &berth_compose::model::Service, number: u32) -> String {
        berth_compose::plan::container_name(&self.project.name, s, number, self.compatibility)
    }
}
