//! `berth compose`: the project found and loaded as docker compose finds and loads it (files
//! from `-f`, `COMPOSE_FILE`, or walking up from the working directory; variables from the
//! environment, then `--env-file`s or the project's `.env`; the name from `-p`,
//! `COMPOSE_PROJECT_NAME`, `name:` or the directory; profiles from `--profile` or
//! `COMPOSE_PROFILES`), through `berth-compose`'s passes. So far `config`, which needs no
//! daemon.

use std::path::{Path, PathBuf};

use berth_compose::tree::{Node, Value};
use clap::{Args, Subcommand};

use crate::Failure;

type Result<T = ()> = std::result::Result<T, Failure>;

#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", value_name = "stringArray")]
    pub file: Vec<String>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify a profile to enable
    #[arg(long = "profile", value_name = "stringArray")]
    pub profile: Vec<String>,
    /// Specify an alternate environment file
    #[arg(long = "env-file", value_name = "stringArray")]
    pub env_file: Vec<String>,
    /// Specify an alternate working directory (default: the path of the first Compose file)
    #[arg(long = "project-directory")]
    pub project_directory: Option<String>,
    #[command(subcommand)]
    pub command: ComposeCmd,
}

#[derive(Subcommand, Debug)]
pub enum ComposeCmd {
    /// Parse, resolve and render compose file in canonical format
    Config(ConfigArgs),
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format the output. Values: [yaml | json]
    #[arg(long, default_value = "yaml")]
    pub format: String,
}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::new(1, e.to_string())
}

/// A loaded project: its name, directory, tree (profiles applied) and every profile it names.
struct Loaded {
    name: String,
    dir: String,
    tree: Node,
    all_profiles: Vec<String>,
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

fn load(a: &ComposeArgs) -> Result<Loaded> {
    let process = |k: &str| std::env::var(k).ok();
    // The project directory's .env may set COMPOSE_FILE and the rest, so it is read first
    // from where the files will be (the working directory when they are not named).
    let files = find_files(a, process("COMPOSE_FILE").as_deref())?;
    let first = &files[0];
    let dir: PathBuf = match &a.project_directory {
        Some(d) => PathBuf::from(d),
        None if first.as_os_str() == "-" => std::env::current_dir().map_err(fail)?,
        None => first.parent().map(Path::to_path_buf).unwrap_or_default(),
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
        } else {
            f.to_string_lossy().into_owned()
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
    berth_compose::profiles::apply(&mut tree, &active, &[]).map_err(fail)?;
    Ok(Loaded { name, dir: dir.to_string_lossy().into_owned(), tree, all_profiles })
}

pub fn run(a: &ComposeArgs) -> Result {
    match &a.command {
        ComposeCmd::Config(c) => config(a, c),
    }
}

fn config(a: &ComposeArgs, c: &ConfigArgs) -> Result {
    let loaded = load(a)?;
    let project = berth_compose::model::decode(&loaded.tree, &loaded.name, &loaded.dir).map_err(fail)?;
    if c.quiet {
        return Ok(());
    }
    let lines = |mut v: Vec<String>| {
        v.sort();
        for l in v {
            println!("{l}");
        }
    };
    if c.services {
        lines(project.services.iter().map(|s| s.name.clone()).collect());
    } else if c.volumes {
        lines(project.volumes.iter().map(|(n, _)| n.clone()).collect());
    } else if c.profiles {
        lines(loaded.all_profiles);
    } else if c.images {
        lines(
            project
                .services
                .iter()
                .map(|s| s.image.clone().unwrap_or_else(|| format!("{}-{}", project.name, s.name)))
                .collect(),
        );
    } else {
        let mut tree = loaded.tree;
        if let Value::Map(entries) = &mut tree.value {
            entries.retain(|(k, _)| k != "name");
            let at = Node {
                value: Value::Scalar { text: loaded.name.clone(), plain: false },
                tag: None,
                line: 1,
                col: 1,
            };
            entries.insert(0, ("name".into(), at));
        }
        match c.format.as_str() {
            "json" => {
                println!("{}", serde_json::to_string_pretty(&berth_compose::emit::json(&tree)).map_err(fail)?)
            }
            "yaml" => print!("{}", berth_compose::emit::yaml(&tree)),
            other => return Err(Failure::new(1, format!("unsupported format {other:?}: use yaml or json"))),
        }
    }
    Ok(())
}
