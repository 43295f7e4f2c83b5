//! What the compose commands ask of the engine, over the typed client: the project's
//! containers read back from their labels, its networks and volumes made when missing, its
//! images pulled or built, a replica created (or made again in place of another) and started
//! once what it depends on is ready.

use std::time::Duration;

use berth_client::containers::{ListQuery, RemoveQuery};
use berth_client::{ClientError, ErrorKind, Kinded};
use berth_compose::model::Service;
use berth_compose::plan::Observed;
use berth_compose::spec::{self, Replica};
use serde_json::{json, Value};

use super::load::Session;
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

fn missing(e: &ClientError) -> bool {
    e.kind() == ErrorKind::NotFound
}

/// `--progress quiet`: no progress lines.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// One line of progress, as Compose prints it without a terminal: ` Container app-web-1  Started`.
pub fn event(kind: &str, name: &str, status: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!(" {kind} {name}  {status}");
    }
}

/// A label of a container's list row or inspect.
pub fn label<'a>(c: &'a Value, key: &str) -> &'a str {
    c["Labels"][key].as_str().or_else(|| c["Config"]["Labels"][key].as_str()).unwrap_or_default()
}

/// A list row's name, without its slash.
pub fn row_name(c: &Value) -> String {
    c["Names"][0].as_str().unwrap_or_default().trim_start_matches('/').to_string()
}

/// The project's containers (stopped ones too with `all`), ordered by service and number.
pub async fn containers(ctx: &Ctx, project: &str, all: bool) -> Result<Vec<Value>> {
    let filters = json!({"label": [format!("{}={project}", spec::PROJECT)]}).to_string();
    let mut rows = ctx
        .client
        .containers()
        .list(&ListQuery { all, filters: Some(filters), ..ListQuery::default() })
        .await?;
    rows.sort_by_key(|c| {
        (label(c, spec::SERVICE).to_string(), label(c, spec::NUMBER).parse::<u32>().unwrap_or(0), row_name(c))
    });
    Ok(rows)
}

/// The containers of `services` (all the project's when empty), one-off ones left out unless
/// asked for.
pub async fn service_containers(
    ctx: &Ctx,
    project: &str,
    services: &[String],
    all: bool,
    oneoff: bool,
) -> Result<Vec<Value>> {
    let rows = containers(ctx, project, all).await?;
    Ok(rows
        .into_iter()
        .filter(|c| oneoff || label(c, spec::ONEOFF) != "True")
        .filter(|c| services.is_empty() || services.iter().any(|s| s == label(c, spec::SERVICE)))
        .collect())
}

/// A list row as the planner sees it.
pub fn observed(c: &Value) -> Observed {
    Observed {
        id: c["Id"].as_str().unwrap_or_default().to_string(),
        name: row_name(c),
        service: label(c, spec::SERVICE).to_string(),
        number: label(c, spec::NUMBER).parse().unwrap_or(0),
        oneoff: label(c, spec::ONEOFF) == "True",
        config_hash: label(c, spec::CONFIG_HASH).to_string(),
        image: label(c, spec::IMAGE).to_string(),
        network_mode: c["HostConfig"]["NetworkMode"].as_str().unwrap_or_default().to_string(),
        running: c["State"] == "running",
    }
}

/// The project's networks and volumes, created when missing; external ones must exist.
pub async fn ensure_resources(ctx: &Ctx, s: &Session) -> Result {
    for n in &s.nets {
        match ctx.client.networks().inspect_json(&n.name).await {
            Ok(found) => {
                let owner = found["Labels"][spec::PROJECT].as_str().unwrap_or_default();
                if !n.external && !owner.is_empty() && owner != s.project.name {
                    eprintln!(
                        "WARN[0000] a network with name {} exists but was not created for project {:?}",
                        n.name, s.project.name
                    );
                }
            }
            Err(e) if missing(&e) && n.external => {
                return Err(Failure::new(
                    1,
                    format!("network {} declared as external, but could not be found", n.name),
                ))
            }
            Err(e) if missing(&e) => {
                event("Network", &n.name, "Creating");
                ctx.client.networks().create(&spec::network_body(&s.project.name, n)).await?;
                event("Network", &n.name, "Created");
            }
            Err(e) => return Err(e.into()),
        }
    }
    for v in &s.vols {
        match ctx.client.volumes().inspect_json(&v.name).await {
            Ok(_) => {}
            Err(e) if missing(&e) && v.external => {
                return Err(Failure::new(
                    1,
                    format!(
                        "external volume {:?} not found: create it first (docker volume create {})",
                        v.name, v.name
                    ),
                ))
            }
            Err(e) if missing(&e) => {
                event("Volume", &format!("{:?}", v.name), "Creating");
                ctx.client.volumes().create(&spec::volume_body(&s.project.name, v)).await?;
                event("Volume", &format!("{:?}", v.name), "Created");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Parses `argv` as the arguments of one of the CLI's own commands.
pub fn command_args<T: clap::Args>(argv: &[String]) -> Result<T> {
    #[derive(clap::Parser)]
    struct Wrap<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    let all = std::iter::once("berth".to_string()).chain(argv.iter().cloned());
    <Wrap<T> as clap::Parser>::try_parse_from(all)
        .map(|w| w.inner)
        .map_err(|e| Failure::new(1, e.to_string()))
}

/// The ID of the image `name`, if the engine has it.
pub async fn image_id(ctx: &Ctx, name: &str) -> Result<Option<String>> {
    match ctx.client.images().inspect_json(name).await {
        Ok(v) => Ok(v["Id"].as_str().map(String::from)),
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `docker build` of a service's `build` section, tagged with its image name.
pub async fn build(
    ctx: &Ctx,
    s: &Session,
    svc: &Service,
    no_cache: bool,
    pull: bool,
    quiet: bool,
    args: &[String],
) -> Result {
    let Some(b) = &svc.build else { return Ok(()) };
    let mut argv = vec!["-t".to_string(), spec::image_name(&s.project.name, svc)];
    if let Some(f) = &b.dockerfile {
        let path = std::path::Path::new(&b.context).join(f);
        argv.extend(["-f".into(), path.to_string_lossy().into_owned()]);
    }
    for (k, v) in &b.args {
        match v.clone().or_else(|| s.lookup(k)) {
            Some(v) => argv.extend(["--build-arg".into(), format!("{k}={v}")]),
            None => argv.extend(["--build-arg".into(), k.clone()]),
        }
    }
    for a in args {
        argv.extend(["--build-arg".into(), a.clone()]);
    }
    for (k, v) in &b.labels {
        argv.extend(["--label".into(), format!("{k}={}", v.clone().unwrap_or_default())]);
    }
    for c in &b.cache_from {
        argv.extend(["--cache-from".into(), c.clone()]);
    }
    for (flag, v) in [("--target", &b.target), ("--network", &b.network), ("--platform", &svc.platform)] {
        if let Some(v) = v {
            argv.extend([flag.into(), v.clone()]);
        }
    }
    for (flag, on) in [("--no-cache", no_cache), ("--pull", pull), ("-q", quiet)] {
        if on {
            argv.push(flag.into());
        }
    }
    argv.extend(["--progress".into(), "plain".into(), b.context.clone()]);
    crate::build::build(ctx, command_args(&argv)?).await
}

/// Pulls an image, its progress on stderr as Compose shows it (stdout stays the commands').
pub async fn pull(ctx: &Ctx, image: &str, platform: Option<&str>, quiet: bool) -> Result {
    if !quiet {
        eprintln!(" Image {image}  Pulling");
    }
    crate::container::pull(ctx, image, platform, quiet).await?;
    if !quiet {
        eprintln!(" Image {image}  Pulled");
    }
    Ok(())
}

/// The image each service runs, built or pulled as its policy and `--build`/`--pull` say;
/// their IDs.
pub async fn ensure_images(
    ctx: &Ctx,
    s: &Session,
    services: &[String],
    force_build: bool,
    no_build: bool,
    pull_policy: Option<&str>,
    quiet_pull: bool,
) -> Result<Vec<(String, String)>> {
    let mut ids = Vec::new();
    for name in services {
        let svc = s.service(name)?;
        let image = spec::image_name(&s.project.name, svc);
        let policy = pull_policy.or(svc.pull_policy.as_deref()).unwrap_or("missing");
        let mut have = image_id(ctx, &image).await?;
        let wants_build =
            svc.build.is_some() && !no_build && (force_build || policy == "build" || have.is_none());
        if wants_build {
            build(ctx, s, svc, false, false, false, &[]).await?;
        } else if policy == "always" || (have.is_none() && policy != "never") {
            if let Err(e) = pull(ctx, &image, svc.platform.as_deref(), quiet_pull).await {
                if svc.build.is_none() || no_build {
                    return Err(e);
                }
                build(ctx, s, svc, false, false, false, &[]).await?;
            }
        }
        if wants_build || have.is_none() || policy == "always" {
            have = image_id(ctx, &image).await?;
        }
        let id = have.ok_or_else(|| {
            Failure::new(1, format!("image {image} of service {name:?} is not here: pull or build it"))
        })?;
        ids.push((name.clone(), id));
    }
    Ok(ids)
}

/// Copies secrets and configs given inline or by the environment into a created container.
async fn copy_files(ctx: &Ctx, id: &str, files: &[spec::FileCopy]) -> Result {
    if files.is_empty() {
        return Ok(());
    }
    let mut tar = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for f in files {
        let rel = f.target.trim_start_matches('/');
        let mut parent = std::path::Path::new(rel).parent();
        let mut chain = Vec::new();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            chain.push(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
        for d in chain.into_iter().rev() {
            if !dirs.contains(&d) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                tar.append_data(&mut h, &d, std::io::empty()).map_err(|e| Failure::new(1, e.to_string()))?;
                dirs.push(d);
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(f.mode);
        h.set_uid(f.uid.into());
        h.set_gid(f.gid.into());
        h.set_size(f.content.len() as u64);
        tar.append_data(&mut h, rel, &f.content[..]).map_err(|e| Failure::new(1, e.to_string()))?;
    }
    let bytes = tar.into_inner().map_err(|e| Failure::new(1, e.to_string()))?;
    ctx.client.containers().archive_put(id, "/", false, berth_client::Body::Tar(bytes.into())).await?;
    Ok(())
}

/// A container's create request, its other networks and the files to copy in: everything
/// worked out before the engine is asked for anything, so that a bad project fails early.
pub struct Prepared {
    pub body: Value,
    platform: Option<String>,
    more: Vec<(String, Value)>,
    files: Vec<spec::FileCopy>,
}

/// The container IDs of the services `svc` shares namespaces or volumes with (their first
/// replicas), for its create request.
pub async fn peers(ctx: &Ctx, s: &Session, svc: &Service) -> Result<Vec<(String, String)>> {
    let shared = berth_compose::plan::shares_with(svc);
    if shared.is_empty() {
        return Ok(Vec::new());
    }
    let rows = service_containers(ctx, &s.project.name, &shared, true, false).await?;
    Ok(rows
        .iter()
        .filter(|r| label(r, spec::NUMBER) == "1")
        .map(|r| (label(r, spec::SERVICE).to_string(), r["Id"].as_str().unwrap_or_default().to_string()))
        .collect())
}

pub fn prepare(s: &Session, svc: &Service, replica: &Replica) -> Result<Prepared> {
    let (body, more) = spec::container_body(&s.project, &s.nets, &s.vols, svc, replica, &s.context)
        .map_err(super::load::fail)?;
    let read = |path: &str| std::fs::read(path).map_err(|e| crate::common::io_text(&e));
    let files = spec::file_copies(&s.project, svc, &|k| s.lookup(k), &read).map_err(super::load::fail)?;
    Ok(Prepared { body, more, files, platform: svc.platform.clone() })
}

/// Creates a prepared container named `name` (in place of `replaces`, whose anonymous
/// volumes it takes over); its ID. A container that cannot be set up is removed again.
pub async fn create(ctx: &Ctx, mut p: Prepared, name: &str, replaces: Option<&Value>) -> Result<String> {
    if let (Some(old), Some(mounts)) = (replaces, p.body["HostConfig"]["Mounts"].as_array_mut()) {
        for m in mounts.iter_mut().filter(|m| m["Type"] == "volume" && m["Source"] == "") {
            let kept =
                old["Mounts"].as_array().into_iter().flatten().find(|o| o["Destination"] == m["Target"]);
            if let Some(name) = kept.and_then(|o| o["Name"].as_str()) {
                m["Source"] = json!(name);
            }
        }
    }
    let containers = ctx.client.containers();
    let created = containers.create(Some(name), p.platform.as_deref(), &p.body).await?;
    for w in created.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let set_up = async {
        for (net, endpoint) in p.more {
            ctx.client.networks().connect(&net, &created.id, &endpoint).await?;
        }
        copy_files(ctx, &created.id, &p.files).await
    };
    if let Err(e) = set_up.await {
        let _ =
            containers.remove(&created.id, &RemoveQuery { force: true, volumes: true, link: false }).await;
        return Err(e);
    }
    Ok(created.id)
}

/// Makes container `old` of a service again: stopped, renamed out of the way, its successor
/// created under its name, then removed.
pub async fn recreate(
    ctx: &Ctx,
    s: &Session,
    svc: &Service,
    mut replica: Replica,
    name: &str,
    old: &str,
    timeout: Option<i64>,
) -> Result<String> {
    let containers = ctx.client.containers();
    let info = containers.inspect_json(old, false).await?;
    let id = info["Id"].as_str().unwrap_or(old).to_string();
    replica.replaces = Some(id.clone());
    replica.peers = peers(ctx, s, svc).await?;
    let prepared = prepare(s, svc, &replica)?;
    event("Container", name, "Recreate");
    containers.stop(&id, None, timeout.or(stop_timeout(svc))).await?;
    let aside = format!("{}_{name}", crate::common::short_id(&id));
    containers.rename(&id, &aside).await?;
    let new = create(ctx, prepared, name, Some(&info)).await;
    let new = match new {
        Ok(n) => n,
        Err(e) => {
            // Put the old one back, so that nothing is lost with the failure.
            let _ = containers.rename(&id, name).await;
            return Err(e);
        }
    };
    containers.remove(&id, &RemoveQuery { force: true, volumes: false, link: false }).await?;
    event("Container", name, "Recreated");
    Ok(new)
}

/// The service's `stop_grace_period`, in seconds.
pub fn stop_timeout(svc: &Service) -> Option<i64> {
    svc.stop_grace_period.as_deref().and_then(berth_api::time::parse_duration).map(|n| n / 1_000_000_000)
}

/// Waits for what `svc` depends on to be as its `depends_on` conditions ask; a required
/// dependency that fails is the error, an optional one a warning.
pub async fn await_dependencies(ctx: &Ctx, s: &Session, svc: &Service, services: &[String]) -> Result {
    for (dep, d) in &svc.depends_on {
        if !services.contains(dep) && d.condition == "service_started" {
            continue;
        }
        let rows = service_containers(ctx, &s.project.name, std::slice::from_ref(dep), true, false).await?;
        for row in rows {
            let name = row_name(&row);
            let outcome = match d.condition.as_str() {
                "service_healthy" => wait_healthy(ctx, &name).await,
                "service_completed_successfully" => wait_completed(ctx, &name, dep).await,
                _ => Ok(()),
            };
            match outcome {
                Err(e) if !d.required => {
                    eprintln!("WARN[0000] optional dependency {dep:?} failed: {}", e.message)
                }
                other => other?,
            }
        }
    }
    Ok(())
}

/// Polls a container's health until it is healthy.
pub async fn wait_healthy(ctx: &Ctx, name: &str) -> Result {
    event("Container", name, "Waiting");
    loop {
        let c = ctx.client.containers().inspect_json(name, false).await?;
        let state = &c["State"];
        match state["Health"]["Status"].as_str() {
            Some("healthy") => {
                event("Container", name, "Healthy");
                return Ok(());
            }
            Some("unhealthy") => {
                return Err(Failure::new(
                    1,
                    format!("dependency failed to start: container {name} is unhealthy"),
                ))
            }
            None if c["Config"]["Healthcheck"].is_null()
                || c["Config"]["Healthcheck"]["Test"][0] == "NONE" =>
            {
                return Err(Failure::new(
                    1,
                    format!("dependency failed to start: container {name} has no healthcheck configured"),
                ))
            }
            _ => {}
        }
        if state["Running"] == false && state["Restarting"] != true {
            return Err(Failure::new(
                1,
                format!("dependency failed to start: container {name} exited ({})", state["ExitCode"]),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_completed(ctx: &Ctx, name: &str, service: &str) -> Result {
    event("Container", name, "Waiting");
    let exit = ctx.client.containers().wait(name, Some("not-running")).await?.exit().await?;
    if exit.status_code != 0 {
        return Err(Failure::new(
            1,
            format!("service {service:?} didn't complete successfully: exit {}", exit.status_code),
        ));
    }
    event("Container", name, "Exited");
    Ok(())
}
