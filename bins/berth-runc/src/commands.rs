use std::collections::HashMap;
use std::io::Read;

use anyhow::{bail, Context, Result};
use berth_runtime::{CreateOptions, ExecOptions, ResourceFlags, Runtime};
use liboci_cli::{CommonCmd, StandardCmd};
use oci_spec::runtime::LinuxResources;

use crate::{foreground, Cmd};

/// A `create` the shim asked to stay ([`berth_sys::handoff`]): the container's stdio is let go
/// (the shim sees its end when the container's is), then the start comes as a message.
fn stay_to_start(rt: &Runtime, id: &str, mut sock: std::os::unix::net::UnixStream) -> Result<i32> {
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    for fd in 0..=2 {
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd)?;
    }
    let init = berth_sys::pidfd_open(rt.init_pid(id)?)?;
    if !berth_sys::handoff::created_await_start(&mut sock, &init)? {
        return Ok(0);
    }
    let started = rt.start(id);
    berth_sys::handoff::reply(&mut sock, started.as_ref().map(|_| ()).map_err(|e| format!("{e:#}")))?;
    started?;
    Ok(0)
}

/// Runs one subcommand; returns the process exit code.
pub fn dispatch(rt: &Runtime, cmd: Cmd) -> Result<i32> {
    match cmd {
        Cmd::Standard(c) => match *c {
            StandardCmd::Create(a) => {
                let handoff = berth_sys::handoff::runtime_end();
                rt.create(
                    &a.container_id,
                    &CreateOptions {
                        bundle: a.bundle,
                        console_socket: a.console_socket,
                        pid_file: a.pid_file,
                        preserve_fds: a.preserve_fds,
                        no_pivot: a.no_pivot,
                    },
                )?;
                match handoff {
                    Some(sock) => stay_to_start(rt, &a.container_id, sock),
                    None => Ok(0),
                }
            }
            StandardCmd::Start(a) => rt.start(&a.container_id).map(|_| 0).map_err(Into::into),
            StandardCmd::State(a) => {
                println!("{}", serde_json::to_string_pretty(&rt.state(&a.container_id)?)?);
                Ok(0)
            }
            StandardCmd::Kill(a) => {
                rt.kill(&a.container_id, &a.signal, a.all)?;
                Ok(0)
            }
            StandardCmd::Delete(a) => rt.delete(&a.container_id, a.force).map(|_| 0).map_err(Into::into),
        },
        Cmd::Common(c) => common(rt, *c),
    }
}

fn common(rt: &Runtime, cmd: CommonCmd) -> Result<i32> {
    match cmd {
        CommonCmd::Run(a) => foreground::run(rt, a),
        CommonCmd::Exec(a) => {
            let opts = ExecOptions {
                process: a.process,
                args: a.command,
                env: a.env.into_iter().collect::<HashMap<_, _>>(),
                cwd: a.cwd,
                user: a.user,
                additional_gids: a.additional_gids,
                caps: a.cap,
                no_new_privs: a.no_new_privs,
                console_socket: a.console_socket,
                pid_file: a.pid_file,
                detach: a.detach,
                preserve_fds: a.preserve_fds,
                ignore_paused: a.ignore_paused,
                cgroup: a.cgroup,
            };
            if a.tty && opts.console_socket.is_none() && !opts.detach && opts.process.is_none() {
                bail!("exec --tty in the foreground needs --console-socket");
            }
            Ok(rt.exec(&a.container_id, &opts)?.unwrap_or(0))
        }
        CommonCmd::Ps(a) => {
            match a.format.as_str() {
                "json" => println!("{}", serde_json::to_string(&rt.pids(&a.container_id)?)?),
                "table" => print!("{}", rt.ps_table(&a.container_id, &a.ps_options)?),
                f => bail!("invalid format option {f:?}: use table or json"),
            }
            Ok(0)
        }
        CommonCmd::List(a) => {
            let states = rt.list()?;
            if a.quiet {
                states.iter().for_each(|s| println!("{}", s.id));
            } else {
                match a.format.as_str() {
                    "json" => println!("{}", serde_json::to_string(&states)?),
                    "table" => print!("{}", berth_runtime::format_table(&states)),
                    f => bail!("invalid format option {f:?}: use table or json"),
                }
            }
            Ok(0)
        }
        CommonCmd::Pause(a) => rt.pause(&a.container_id).map(|_| 0).map_err(Into::into),
        CommonCmd::Resume(a) => rt.resume(&a.container_id).map(|_| 0).map_err(Into::into),
        CommonCmd::Update(a) => {
            let doc = match &a.resources {
                None => LinuxResources::default(),
                Some(p) => {
                    let mut text = String::new();
                    if p.as_os_str() == "-" {
                        std::io::stdin().read_to_string(&mut text)?;
                    } else {
                        text = std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?;
                    }
                    serde_json::from_str(&text)
                        .context("decode resources: want the JSON of linux.resources")?
                }
            };
            let flags = ResourceFlags {
                cpu_period: a.cpu_period,
                cpu_quota: a.cpu_quota.map(|q| q as i64),
                cpu_shares: a.cpu_share,
                cpuset_cpus: a.cpuset_cpus,
                cpuset_mems: a.cpuset_mems,
                memory: a.memory.map(|m| m as i64),
                memory_reservation: a.memory_reservation.map(|m| m as i64),
                memory_swap: a.memory_swap,
                pids_limit: a.pids_limit,
            };
            rt.update(&a.container_id, berth_runtime::merge_resources(doc, &flags))?;
            Ok(0)
        }
        CommonCmd::Events(a) => loop {
            println!("{}", rt.stats_event(&a.container_id)?);
            if a.stats {
                return Ok(0);
            }
            std::thread::sleep(std::time::Duration::from_secs(u64::from(a.interval.max(1))));
        },
        CommonCmd::Spec(a) => {
            let dir = a.bundle.unwrap_or_else(|| ".".into());
            let path = dir.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            let spec = berth_runtime::default_spec();
            std::fs::write(&path, serde_json::to_string_pretty(&spec)?)
                .with_context(|| format!("write {}", path.display()))?;
            Ok(0)
        }
        CommonCmd::Features(_) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "ociVersionMin": "1.0.0",
                    "ociVersionMax": "1.2.0",
                    "linux": {"cgroup": {"v1": true, "v2": true, "systemd": true}, "seccomp": {"enabled": true}},
                }))?
            );
            Ok(0)
        }
        CommonCmd::Checkpointt(_) => bail!("checkpoint is not supported by berth-runc"),
    }
}
