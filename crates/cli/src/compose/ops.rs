//! The commands that act on a project's containers, networks, volumes and images as a whole:
//! `down`, `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `unpause`, `wait`, `scale`,
//! `build`, `pull` and `push`. Containers stop in the reverse of their start order, start in it.

use berth_client::containers::RemoveQuery;
use berth_compose::spec;
use futures::future::join_all;
use serde_json::{json, Value};

use super::args::{
    BuildArgs, DownArgs, KillArgs, PullArgs, RmArgs, ScaleArgs, Services, Timed, UpArgs, WaitArgs,
};
use super::engine::{self, event, label, row_name};
use super::load::Session;
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// The rows in the order their services start (or, `reverse`, stop).
fn ordered(s: &Session, mut rows: Vec<Value>, reverse: bool) -> Vec<Vec<Value>> {
    let levels = berth_compose::plan::levels(&s.project).unwrap_or_default();
    let mut out: Vec<Vec<Value>> = Vec::new();
    for level in &levels {
        let (mine, rest): (Vec<Value>, Vec<Value>) =
            rows.into_iter().partition(|r| level.iter().any(|l| l == label(r, spec::SERVICE)));
        rows = rest;
        if !mine.is_empty() {
            out.push(mine);
        }
    }
    if !rows.is_empty() {
        out.push(rows);
    }
    if reverse {
        out.reverse();
    }
    out
}

/// Runs `op` on every container, level by level, a level's at once.
async fn each<'a, F, Fut>(levels: &'a [Vec<Value>], op: F) -> Result
where
    F: Fn(&'a Value) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    for level in levels {
        join_all(level.iter().map(&op)).await.into_iter().collect::<Result<Vec<()>>>()?;
    }
    Ok(())
}

async fn stop_one(ctx: &Ctx, s: &Session, r: &Value, timeout: Option<i64>) -> Result {
    let name = row_name(r);
    let t = timeout.or_else(|| s.service(label(r, spec::SERVICE)).ok().and_then(engine::stop_timeout));
    event("Container", &name, "Stopping");
    ctx.client.containers().stop(&name, None, t).await?;
    event("Container", &name, "Stopped");
    Ok(())
}

async fn remove_one(ctx: &Ctx, r: &Value, volumes: bool) -> Result {
    let name = row_name(r);
    event("Container", &name, "Removing");
    ctx.client.containers().remove(&name, &RemoveQuery { force: true, volumes, link: false }).await?;
    event("Container", &name, "Removed");
    Ok(())
}

/// `down`.
pub async fn down(ctx: &Ctx, s: &Session, a: &DownArgs) -> Result {
    let all = engine::containers(ctx, &s.project.name, true).await?;
    let known = |r: &Value| {
        s.known_by_labels_only() || s.project.services.iter().any(|x| x.name == label(r, spec::SERVICE))
    };
    let named = |r: &Value| a.services.is_empty() || a.services.iter().any(|x| x == label(r, spec::SERVICE));
    let orphans: Vec<String> = all.iter().filter(|r| !known(r)).map(row_name).collect();
    let rows: Vec<Value> = all.into_iter().filter(|r| named(r) && (known(r) || a.remove_orphans)).collect();
    if !orphans.is_empty() && !a.remove_orphans {
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            orphans.join(" ")
        );
    }
    let levels = ordered(s, rows, true);
    each(&levels, |r| async move {
        if r["State"] == "running" || r["State"] == "paused" || r["State"] == "restarting" {
            stop_one(ctx, s, r, a.timeout).await?;
        }
        remove_one(ctx, r, a.volumes).await
    })
    .await?;
    if !a.services.is_empty() {
        return Ok(());
    }
    for n in s.nets.iter().filter(|n| !n.external) {
        match ctx.client.networks().inspect_json(&n.name).await {
            // Only a network made for this project: one of the same name made otherwise stays.
            Ok(found) if found["Labels"][spec::PROJECT] == json!(s.project.name) => {
                event("Network", &n.name, "Removing");
                ctx.client.networks().remove(&n.name).await?;
                event("Network", &n.name, "Removed");
            }
            _ => {}
        }
    }
    if a.volumes {
        for v in s.vols.iter().filter(|v| !v.external) {
            // Only a volume made for this project.
            let ours = ctx.client.volumes().inspect_json(&v.name).await.ok();
            if ours.is_some_and(|found| found["Labels"][spec::PROJECT] == json!(s.project.name)) {
                event("Volume", &v.name, "Removing");
                ctx.client.volumes().remove(&v.name, false).await?;
                event("Volume", &v.name, "Removed");
            }
        }
    }
    if let Some(which) = &a.rmi {
        if !matches!(which.as_str(), "all" | "local") {
            return Err(Failure::new(1, format!("invalid --rmi {which:?}: use all or local")));
        }
        for svc in &s.project.services {
            // `local`: only the images the project builds under its own names.
            if which == "local" && svc.image.is_some() {
                continue;
            }
            let image = spec::image_name(&s.project.name, svc);
            if engine::image_id(ctx, &image).await?.is_some() {
                event("Image", &image, "Removing");
                ctx.client.images().remove(&image, false, false).await?;
                event("Image", &image, "Removed");
            }
        }
    }
    Ok(())
}

async fn rows_of(ctx: &Ctx, s: &Session, services: &[String], all: bool) -> Result<Vec<Value>> {
    let services = s.services(services)?;
    engine::service_containers(ctx, &s.project.name, &services, all, false).await
}

/// `start`.
pub async fn start(ctx: &Ctx, s: &Session, a: &Services) -> Result {
    let rows = rows_of(ctx, s, &a.services, true).await?;
    let levels = ordered(s, rows, false);
    each(&levels, |r| async move {
        let name = row_name(r);
        event("Container", &name, "Starting");
        ctx.client.containers().start(&name).await?;
        event("Container", &name, "Started");
        Ok(())
    })
    .await
}

/// `stop`.
pub async fn stop(ctx: &Ctx, s: &Session, a: &Timed) -> Result {
    let rows = rows_of(ctx, s, &a.services, false).await?;
    each(&ordered(s, rows, true), |r| stop_one(ctx, s, r, a.timeout)).await
}

/// `restart`.
pub async fn restart(ctx: &Ctx, s: &Session, a: &Timed) -> Result {
    let rows = rows_of(ctx, s, &a.services, true).await?;
    each(&ordered(s, rows, false), |r| async move {
        let name = row_name(r);
        event("Container", &name, "Restarting");
        ctx.client.containers().restart(&name, None, a.timeout).await?;
        event("Container", &name, "Started");
        Ok(())
    })
    .await
}

/// `kill`.
pub async fn kill(ctx: &Ctx, s: &Session, a: &KillArgs) -> Result {
    let rows = rows_of(ctx, s, &a.services, false).await?;
    each(&[rows], |r| async move {
        let name = row_name(r);
        event("Container", &name, "Killing");
        ctx.client.containers().kill(&name, Some(&a.signal)).await?;
        event("Container", &name, "Killed");
        Ok(())
    })
    .await
}

/// `pause` and `unpause`.
pub async fn pause(ctx: &Ctx, s: &Session, a: &Services, unpause: bool) -> Result {
    let rows = rows_of(ctx, s, &a.services, false).await?;
    each(&[rows], |r| async move {
        let name = row_name(r);
        if unpause {
            ctx.client.containers().unpause(&name).await?;
            event("Container", &name, "Unpaused");
        } else {
            ctx.client.containers().pause(&name).await?;
            event("Container", &name, "Paused");
        }
        Ok(())
    })
    .await
}

/// `rm`: the stopped containers (all with `-s`, stopped first).
pub async fn rm(ctx: &Ctx, s: &Session, a: &RmArgs) -> Result {
    let rows = rows_of(ctx, s, &a.services, true).await?;
    if a.stop {
        let running: Vec<Value> = rows.iter().filter(|r| r["State"] == "running").cloned().collect();
        each(&ordered(s, running, true), |r| stop_one(ctx, s, r, None)).await?;
    }
    let rows = rows_of(ctx, s, &a.services, true).await?;
    let stopped: Vec<Value> = rows.into_iter().filter(|r| r["State"] != "running").collect();
    if stopped.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    if !a.force {
        let names: Vec<String> = stopped.iter().map(row_name).collect();
        eprintln!("Going to remove {}", names.join(", "));
        crate::common::confirm("Are you sure you want to continue?")?;
    }
    each(&[stopped], |r| remove_one(ctx, r, a.volumes)).await
}

/// `wait`: until the services' containers stop; their first exit code.
pub async fn wait(ctx: &Ctx, s: &Session, a: &WaitArgs) -> Result {
    let rows = rows_of(ctx, s, &a.services, true).await?;
    let mut waits = futures::stream::FuturesUnordered::new();
    for r in &rows {
        let name = row_name(r);
        waits.push(async move {
            let w = ctx.client.containers().wait(&name, Some("not-running")).await?;
            Ok::<i64, Failure>(w.exit().await?.status_code)
        });
    }
    use futures::StreamExt as _;
    let mut code = 0;
    if let Some(first) = waits.next().await {
        code = first?;
        if a.down_project {
            let down = DownArgs {
                volumes: false,
                rmi: None,
                remove_orphans: false,
                timeout: None,
                services: vec![],
            };
            super::ops::down(ctx, s, &down).await?;
            return if code == 0 { Ok(()) } else { Err(Failure::exit(code as i32)) };
        }
    }
    while let Some(next) = waits.next().await {
        let c = next?;
        if code == 0 {
            code = c;
        }
    }
    if code != 0 {
        return Err(Failure::exit(code as i32));
    }
    Ok(())
}

/// `scale SERVICE=N…`: `up -d` with those counts, for those services.
pub async fn scale(ctx: &Ctx, mut s: Session, a: &ScaleArgs) -> Result {
    super::up::apply_scale(&mut s, &a.scale)?;
    let services: Vec<String> =
        a.scale.iter().filter_map(|x| x.split('=').next().map(String::from)).collect();
    let up = UpArgs { detach: true, no_deps: a.no_deps, services, ..UpArgs::default() };
    super::up::converge(ctx, &s, &up, true).await.map(drop)
}

/// `build`.
pub async fn build(ctx: &Ctx, s: &Session, a: &BuildArgs) -> Result {
    for name in s.services(&a.services)? {
        let svc = s.service(&name)?;
        if svc.build.is_some() {
            engine::build(ctx, s, svc, a.no_cache, a.pull, a.quiet, &a.build_arg).await?;
        }
    }
    Ok(())
}

/// `pull`: the images of the services that name one (built ones are skipped).
pub async fn pull(ctx: &Ctx, s: &Session, a: &PullArgs) -> Result {
    for name in s.services(&a.services)? {
        let svc = s.service(&name)?;
        let Some(image) = &svc.image else { continue };
        if svc.build.is_some() && engine::image_id(ctx, image).await?.is_some() {
            continue;
        }
        if let Err(e) = engine::pull(ctx, image, svc.platform.as_deref(), a.quiet).await {
            if !a.ignore_pull_failures {
                return Err(e);
            }
            eprintln!("WARN[0000] {name}: {}", e.message);
        }
    }
    Ok(())
}

/// `push`: the images of the services that build one.
pub async fn push(ctx: &Ctx, s: &Session, a: &Services) -> Result {
    for name in s.services(&a.services)? {
        let svc = s.service(&name)?;
        if svc.build.is_none() {
            continue;
        }
        let image = spec::image_name(&s.project.name, svc);
        crate::image::push(ctx, engine::command_args(&[image])?).await?;
    }
    Ok(())
}
