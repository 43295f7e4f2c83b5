//! `up` and `create`: the project's resources made, its images pulled or built, then the
//! planner's actions carried out level by level (a level's services at once), each service
//! started once its dependencies are as `depends_on` asks. `up` without `-d` then follows the
//! containers' output until they stop or the user interrupts.

use berth_compose::plan::{self, Action, Options};
use berth_compose::spec::Replica;
use futures::future::join_all;

use super::args::UpArgs;
use super::engine::{self, event};
use super::load::Session;
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// `--scale SERVICE=NUM` applied to the project.
pub fn apply_scale(s: &mut Session, scale: &[String]) -> Result {
    for item in scale {
        let (name, n) = item
            .split_once('=')
            .ok_or_else(|| Failure::new(1, format!("invalid --scale {item:?}: use SERVICE=NUM")))?;
        let n: u64 =
            n.parse().map_err(|_| Failure::new(1, format!("invalid --scale {item:?}: use SERVICE=NUM")))?;
        let svc = s
            .project
            .services
            .iter_mut()
            .find(|x| x.name == name)
            .ok_or_else(|| Failure::new(1, format!("no such service: {name}")))?;
        svc.replicas = n;
    }
    Ok(())
}

/// The services named and, unless `no_deps`, every service they need, transitively.
pub fn with_dependencies(s: &Session, names: &[String], no_deps: bool) -> Result<Vec<String>> {
    let mut out = s.services(names)?;
    if no_deps || names.is_empty() {
        return Ok(out);
    }
    let mut i = 0;
    while i < out.len() {
        for d in plan::needs(s.service(&out[i])?) {
            if !out.contains(&d) && s.project.services.iter().any(|x| x.name == d) {
                out.push(d);
            }
        }
        i += 1;
    }
    Ok(out)
}

/// What `up` and `create` share: everything made, nothing started unless `start`.
pub async fn converge(ctx: &Ctx, s: &Session, a: &UpArgs, start: bool) -> Result<Vec<String>> {
    let services = with_dependencies(s, &a.services, a.no_deps)?;
    // Every container's request is worked out first: a bad project fails before anything is made.
    for name in &services {
        let svc = s.service(name)?;
        let r = Replica { number: 1, env: s.environment(svc)?, ..Replica::default() };
        engine::prepare(s, svc, &r)?;
    }
    engine::ensure_resources(ctx, s).await?;
    let images =
        engine::ensure_images(ctx, s, &services, a.build, a.no_build, a.pull.as_deref(), a.quiet_pull)
            .await?;
    let rows = engine::containers(ctx, &s.project.name, true).await?;
    let observed: Vec<_> = rows.iter().map(engine::observed).collect();
    let opts = Options {
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans || env_flag("COMPOSE_REMOVE_ORPHANS"),
        services: services.clone(),
        compatibility: s.compatibility,
        images: images.clone(),
    };
    let plan = plan::plan(&s.project, &observed, &opts).map_err(super::load::fail)?;
    if !plan.orphans.is_empty() {
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            plan.orphans.join(" ")
        );
    }
    let image_of =
        |svc: &str| images.iter().find(|(n, _)| n == svc).map(|(_, i)| i.clone()).unwrap_or_default();
    let limit = parallel_limit(s);
    for level in &plan.levels {
        for chunk in level.chunks(limit) {
            let done = join_all(
                chunk.iter().map(|action| apply(ctx, s, action, &image_of, start, a.timeout, &services)),
            )
            .await;
            done.into_iter().collect::<Result<Vec<()>>>()?;
        }
    }
    // Running containers that the plan left alone are reported as Compose reports them.
    if start {
        for row in rows.iter().filter(|r| r["State"] == "running") {
            let o = engine::observed(row);
            let touched = plan.levels.iter().flatten().any(|act| match act {
                Action::Recreate { container, .. }
                | Action::Remove { container, .. }
                | Action::Restart { container, .. } => *container == o.id,
                _ => false,
            });
            if !touched && !o.oneoff && services.contains(&o.service) {
                event("Container", &o.name, "Running");
            }
        }
    }
    Ok(services)
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// `--parallel`, else `COMPOSE_PARALLEL_LIMIT`: how many containers are worked on at once
/// (`-1`, or nothing said: no limit).
fn parallel_limit(s: &Session) -> usize {
    let n = s.parallel.or_else(|| std::env::var("COMPOSE_PARALLEL_LIMIT").ok().and_then(|v| v.parse().ok()));
    match n {
        Some(n) if n > 0 => n as usize,
        _ => usize::MAX,
    }
}

async fn apply(
    ctx: &Ctx,
    s: &Session,
    action: &Action,
    image_of: &dyn Fn(&str) -> String,
    start: bool,
    timeout: Option<i64>,
    services: &[String],
) -> Result {
    let containers = ctx.client.containers();
    let replica = |svc: &str, number: u32| -> Result<Replica> {
        let service = s.service(svc)?;
        Ok(Replica {
            number,
            image_id: image_of(svc),
            env: s.environment(service)?,
            config_hash: plan::config_hash(service),
            ..Replica::default()
        })
    };
    let (service, id, name) = match action {
        Action::Create { service, number, name } => {
            event("Container", name, "Creating");
            let svc = s.service(service)?;
            let mut r = replica(service, *number)?;
            r.peers = engine::peers(ctx, s, svc).await?;
            let id = engine::create(ctx, engine::prepare(s, svc, &r)?, name, None).await?;
            event("Container", name, "Created");
            (service, id, name.clone())
        }
        Action::Recreate { service, number, container, name } => {
            let svc = s.service(service)?;
            let id =
                engine::recreate(ctx, s, svc, replica(service, *number)?, name, container, timeout).await?;
            (service, id, name.clone())
        }
        Action::Start { service, container } => {
            let name = containers.inspect(container).await?.name.trim_start_matches('/').to_string();
            (service, container.clone(), name)
        }
        Action::Restart { container, .. } => {
            let name = containers.inspect(container).await?.name.trim_start_matches('/').to_string();
            event("Container", &name, "Restarting");
            containers.restart(container, None, timeout).await?;
            event("Container", &name, "Started");
            return Ok(());
        }
        Action::Remove { container, .. } => {
            let name = containers.inspect(container).await?.name.trim_start_matches('/').to_string();
            event("Container", &name, "Stopping");
            containers.stop(container, None, timeout).await?;
            event("Container", &name, "Stopped");
            event("Container", &name, "Removing");
            containers.remove(container, &Default::default()).await?;
            event("Container", &name, "Removed");
            return Ok(());
        }
    };
    if !start {
        return Ok(());
    }
    let svc = s.service(service)?;
    engine::await_dependencies(ctx, s, svc, services).await?;
    event("Container", &name, "Starting");
    containers.start(&id).await?;
    event("Container", &name, "Started");
    Ok(())
}

/// `up`.
pub async fn up(ctx: &Ctx, mut s: Session, a: &UpArgs) -> Result {
    apply_scale(&mut s, &a.scale)?;
    if a.detach && (a.abort_on_container_exit || a.exit_code_from.is_some()) {
        return Err(Failure::new(1, "--abort-on-container-exit and --detach are incompatible"));
    }
    let services = converge(ctx, &s, a, !a.no_start).await?;
    if a.no_start {
        return Ok(());
    }
    if a.wait {
        return wait_ready(ctx, &s, &services, a.wait_timeout).await;
    }
    if a.detach {
        return Ok(());
    }
    // The services asked for, else those that do not say `attach: false`.
    let attach: Vec<String> = if a.attach.is_empty() {
        services.iter().filter(|n| s.service(n).is_ok_and(|x| x.attach)).cloned().collect()
    } else {
        a.attach.clone()
    };
    let opts = super::logs::Follow {
        services: attach,
        abort: a.abort_on_container_exit || a.exit_code_from.is_some(),
        exit_code_from: a.exit_code_from.clone(),
        no_color: a.no_color,
        no_prefix: a.no_log_prefix,
        timestamps: a.timestamps,
        timeout: a.timeout,
    };
    super::logs::follow_up(ctx, &s, &opts).await
}

/// `--wait`: until every container is running (healthy, when it has a healthcheck), or one
/// stops.
async fn wait_ready(ctx: &Ctx, s: &Session, services: &[String], timeout_secs: u64) -> Result {
    let deadline =
        (timeout_secs > 0).then(|| std::time::Instant::now() + std::time::Duration::from_secs(timeout_secs));
    let rows = engine::service_containers(ctx, &s.project.name, services, true, false).await?;
    for row in rows {
        let name = engine::row_name(&row);
        loop {
            let c = ctx.client.containers().inspect_json(&name, false).await?;
            let st = &c["State"];
            let health = st["Health"]["Status"].as_str();
            if st["Running"] == true && matches!(health, None | Some("healthy")) {
                event("Container", &name, "Healthy");
                break;
            }
            if health == Some("unhealthy") {
                return Err(Failure::new(1, format!("container {name} is unhealthy")));
            }
            if st["Running"] == false && st["Restarting"] != true {
                if st["ExitCode"] == 0 {
                    // A one-shot job that ended well does not fail the wait.
                    break;
                }
                return Err(Failure::new(1, format!("container {name} exited ({})", st["ExitCode"])));
            }
            if deadline.is_some_and(|d| std::time::Instant::now() > d) {
                return Err(Failure::new(1, "timeout waiting for the project to be running and healthy"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
