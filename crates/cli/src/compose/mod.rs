//! `berth compose`: the project found and loaded as docker compose finds and loads it
//! ([`load`]), through `berth-compose`'s passes, then driven on the engine over the typed
//! client: [`up`] converges the engine to the project, [`ops`] acts on its containers as a
//! whole, [`show`] reports, [`logs`] follows output, [`oneoff`] runs and enters containers, [`watch`] follows `develop.watch`.
//! [`engine`] holds what they share. `config` and `version` need no daemon.

mod args;
mod engine;
mod load;
mod logs;
mod oneoff;
mod ops;
mod show;
mod up;
mod watch;

pub use args::ComposeArgs;
use args::{ComposeCmd, ConfigArgs};
use berth_compose::tree::{Node, Value};
use load::{fail, load, Session};

use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// Whether the command runs without a daemon.
pub fn offline(a: &ComposeArgs) -> bool {
    a.command.offline()
}

/// The commands that need no daemon.
pub fn run_offline(a: &ComposeArgs) -> Result {
    match &a.command {
        ComposeCmd::Config(c) => config(a, c),
        ComposeCmd::Version(v) => show::version(v),
        _ => unreachable!("only offline commands come here"),
    }
}

/// The commands that drive the engine.
pub async fn run(ctx: &Ctx, a: ComposeArgs) -> Result {
    if let ComposeCmd::Ls(l) = &a.command {
        return show::ls(ctx, l).await;
    }
    match a.progress.as_deref() {
        None | Some("auto" | "tty" | "plain") => {}
        Some("quiet") => engine::set_quiet(true),
        Some(other) => {
            return Err(Failure::new(
                1,
                format!("unsupported --progress {other:?}: use auto, tty, plain or quiet"),
            ))
        }
    }
    let s = match Session::from_labels(ctx, &a).await? {
        Some(s) => s,
        None => Session::open(&a)?,
    };
    match &a.command {
        ComposeCmd::Up(u) => up::up(ctx, s, u).await,
        ComposeCmd::Create(c) => {
            let u = args::UpArgs {
                build: c.build,
                no_build: c.no_build,
                force_recreate: c.force_recreate,
                no_recreate: c.no_recreate,
                pull: c.pull.clone(),
                services: c.services.clone(),
                ..args::UpArgs::default()
            };
            up::converge(ctx, &s, &u, false).await.map(drop)
        }
        ComposeCmd::Down(d) => ops::down(ctx, &s, d).await,
        ComposeCmd::Ps(p) => show::ps(ctx, &s, p).await,
        ComposeCmd::Logs(l) => logs::logs(ctx, &s, l).await,
        ComposeCmd::Exec(e) => oneoff::exec(ctx, &s, e).await,
        ComposeCmd::Run(r) => oneoff::run(ctx, s, r).await,
        ComposeCmd::Cp(c) => oneoff::cp(ctx, &s, c).await,
        ComposeCmd::Build(b) => ops::build(ctx, &s, b).await,
        ComposeCmd::Pull(p) => ops::pull(ctx, &s, p).await,
        ComposeCmd::Push(p) => ops::push(ctx, &s, p).await,
        ComposeCmd::Start(x) => ops::start(ctx, &s, x).await,
        ComposeCmd::Stop(x) => ops::stop(ctx, &s, x).await,
        ComposeCmd::Restart(x) => ops::restart(ctx, &s, x).await,
        ComposeCmd::Kill(k) => ops::kill(ctx, &s, k).await,
        ComposeCmd::Rm(r) => ops::rm(ctx, &s, r).await,
        ComposeCmd::Pause(x) => ops::pause(ctx, &s, x, false).await,
        ComposeCmd::Unpause(x) => ops::pause(ctx, &s, x, true).await,
        ComposeCmd::Top(x) => show::top(ctx, &s, x).await,
        ComposeCmd::Port(p) => show::port(ctx, &s, p).await,
        ComposeCmd::Images(i) => show::images(ctx, &s, i).await,
        ComposeCmd::Events(e) => show::events(ctx, &s, e).await,
        ComposeCmd::Wait(w) => ops::wait(ctx, &s, w).await,
        ComposeCmd::Scale(x) => ops::scale(ctx, s, x).await,
        ComposeCmd::Watch(w) => watch::watch(ctx, &s, w).await,
        ComposeCmd::Config(_) | ComposeCmd::Version(_) | ComposeCmd::Ls(_) => unreachable!("handled above"),
    }
}

fn config(a: &ComposeArgs, c: &ConfigArgs) -> Result {
    let loaded = load(a)?;
    let project = berth_compose::model::decode(&loaded.tree, &loaded.name, &loaded.dir).map_err(fail)?;
    if c.quiet {
        return Ok(());
    }
    if let Some(which) = &c.hash {
        // The hashes `up` labels containers with: over the service as `up` sees it.
        let s = Session::open(a)?;
        let names: Vec<String> = if which == "*" {
            s.project.services.iter().map(|x| x.name.clone()).collect()
        } else {
            which.split(',').map(|n| n.trim().to_string()).collect()
        };
        for n in names {
            println!("{n} {}", berth_compose::plan::config_hash(s.service(&n)?));
        }
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
