//! `exec`, `run` and `cp`: one container of a service, by index, or a one-off one made from
//! the service's configuration (`<project>-<service>-run-<slug>`, labelled `oneoff`), its
//! dependencies brought up first.

use berth_client::run::RunOptions;
use berth_compose::spec::{self, Replica};
use serde_json::json;

use super::args::{CpArgs, ExecArgs, RunArgs, UpArgs};
use super::engine::{self, command_args};
use super::load::Session;
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// The name of replica `index` of `service`, which must exist.
async fn replica(ctx: &Ctx, s: &Session, service: &str, index: u32) -> Result<String> {
    let rows =
        engine::service_containers(ctx, &s.project.name, &[s.service(service)?.name.clone()], true, false)
            .await?;
    rows.iter()
        .find(|r| engine::label(r, spec::NUMBER) == index.to_string())
        .map(engine::row_name)
        .ok_or_else(|| Failure::new(1, format!("service {service:?} is not running")))
}

/// `exec`: a terminal unless `-T` (or stdin is not one).
pub async fn exec(ctx: &Ctx, s: &Session, a: &ExecArgs) -> Result {
    let name = replica(ctx, s, &a.service, a.index).await?;
    let tty = !a.no_tty && !a.detach && berth_client::terminal::is_tty(0);
    let mut argv: Vec<String> = Vec::new();
    if !a.detach {
        argv.push("-i".into());
    }
    for (flag, on) in [("-t", tty), ("-d", a.detach), ("--privileged", a.privileged)] {
        if on {
            argv.push(flag.into());
        }
    }
    for (flag, v) in [("-u", &a.user), ("-w", &a.workdir)] {
        if let Some(v) = v {
            argv.extend([flag.to_string(), v.clone()]);
        }
    }
    for e in &a.env {
        argv.extend(["-e".into(), e.clone()]);
    }
    argv.push(name);
    argv.extend(a.command.iter().cloned());
    crate::container::exec(ctx, command_args(&argv)?).await
}

fn slug() -> String {
    let mut b = [0u8; 6];
    let _ = random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// `run`.
pub async fn run(ctx: &Ctx, mut s: Session, a: &RunArgs) -> Result {
    let mut svc = s.service(&a.service)?.clone();
    // Its dependencies come up first, as `up -d` would bring them.
    if !a.no_deps {
        let deps: Vec<String> = berth_compose::plan::needs(&svc)
            .into_iter()
            .filter(|d| s.project.services.iter().any(|x| x.name == *d))
            .collect();
        if !deps.is_empty() {
            let up = UpArgs { detach: true, services: deps, ..UpArgs::default() };
            super::up::converge(ctx, &s, &up, true).await?;
        }
    }
    let images =
        engine::ensure_images(ctx, &s, std::slice::from_ref(&svc.name), a.build, false, None, false).await?;
    if !a.command.is_empty() {
        svc.command = Some(a.command.clone());
    }
    if let Some(e) = &a.entrypoint {
        svc.entrypoint = Some(berth_compose::values::shell_split(e).map_err(super::load::fail)?);
    }
    if !a.service_ports {
        svc.ports.clear();
    }
    for p in &a.publish {
        svc.ports.extend(berth_compose::short::parse_port(p).map_err(super::load::fail)?);
    }
    for v in &a.volume {
        let mut vol = berth_compose::short::parse_volume(v).map_err(super::load::fail)?;
        if vol.kind == "bind" {
            vol.source = vol.source.map(|src| {
                let p = std::path::Path::new(&src);
                if p.is_absolute() {
                    src
                } else {
                    std::env::current_dir().map(|d| d.join(p).to_string_lossy().into_owned()).unwrap_or(src)
                }
            });
        }
        svc.volumes.push(vol);
    }
    for (field, v) in [(&mut svc.user, &a.user), (&mut svc.working_dir, &a.workdir)] {
        if v.is_some() {
            *field = v.clone();
        }
    }
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        svc.labels.push((k.to_string(), v.to_string()));
    }
    // One-off containers never restart and have no name of their service's.
    svc.restart = None;
    svc.container_name = None;
    let tty = !a.no_tty && !a.detach && berth_client::terminal::is_tty(0);
    svc.tty = tty;
    svc.stdin_open = a.interactive && !a.detach;
    let mut env = s.environment(&svc)?;
    for e in &a.env {
        match e.split_once('=') {
            Some(_) => env.push(e.clone()),
            None => env.extend(s.lookup(e).map(|v| format!("{e}={v}"))),
        }
    }
    let slug = slug();
    let name = a.name.clone().unwrap_or_else(|| format!("{}-{}-run-{slug}", s.project.name, svc.name));
    let r = Replica {
        number: 1,
        oneoff: Some(slug),
        image_id: images.first().map(|(_, i)| i.clone()).unwrap_or_default(),
        env,
        config_hash: berth_compose::plan::config_hash(&svc),
        ..Replica::default()
    };
    // The run's own service stands in for the project's in the body.
    if let Some(slot) = s.project.services.iter_mut().find(|x| x.name == svc.name) {
        *slot = svc.clone();
    }
    let mut prepared = engine::prepare(&s, &svc, &r)?;
    let body = &mut prepared.body;
    body["AttachStdin"] = json!(svc.stdin_open);
    body["StdinOnce"] = json!(svc.stdin_open);
    if a.rm {
        body["HostConfig"]["AutoRemove"] = json!(true);
    }
    let id = engine::create(ctx, prepared, &name, None).await?;
    let opts = RunOptions {
        stdin: svc.stdin_open,
        stdout: !a.detach,
        stderr: !a.detach,
        tty,
        interactive: svc.stdin_open && tty,
        detach: a.detach,
        auto_remove: a.rm,
        sig_proxy: !tty,
        detach_keys: crate::common::config_key("detachKeys"),
    };
    crate::container::run_created(ctx, &id, &name, &opts, |error, code| Failure::new(code, error.to_string()))
        .await
}

/// `cp`: `SERVICE:PATH` on either side names replica `--index`.
pub async fn cp(ctx: &Ctx, s: &Session, a: &CpArgs) -> Result {
    let resolve = |side: &str| {
        let side = side.to_string();
        async move {
            match side.split_once(':') {
                Some((svc, path)) if !svc.contains('/') && !svc.is_empty() => {
                    let name = replica(ctx, s, svc, a.index).await?;
                    Ok::<String, Failure>(format!("{name}:{path}"))
                }
                _ => Ok(side),
            }
        }
    };
    let source = resolve(&a.source).await?;
    let destination = resolve(&a.destination).await?;
    let mut argv = Vec::new();
    for (flag, on) in [("-a", a.archive), ("-L", a.follow_link)] {
        if on {
            argv.push(flag.to_string());
        }
    }
    argv.extend([source, destination]);
    crate::files::cp(ctx, command_args(&argv)?).await
}
