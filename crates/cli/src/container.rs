//! Container commands.

use std::collections::BTreeMap;
use std::io::Write;

use berth_client::containers::{AttachQuery, ListQuery, LogsQuery, RemoveQuery};
use berth_client::run::{RunError, RunOptions, RunOutcome};
use berth_client::{ClientError, ErrorKind, Kinded};
use serde_json::{json, Value};

use crate::cmd::*;
use crate::common::{ellipsis, filters, for_each, short_id};
use crate::template::{render_rows, Format, Row};
use crate::units::{ago, go_time, human_size};
use crate::{invalid_flag, Ctx, Failure, Result};

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Docker's `DisplayablePorts`: sorted by private port, address, public port and type;
/// unpublished ports (and ports published on the same number) grouped into ranges
/// (`8000-8002/tcp`), then the host mappings (`127.0.0.1:8080->80/tcp`).
pub(crate) fn ports(list: &Value) -> String {
    struct P {
        private: i64,
        public: i64,
        ip: String,
        kind: String,
    }
    let mut ps: Vec<P> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| P {
            private: p["PrivatePort"].as_i64().unwrap_or(0),
            public: p["PublicPort"].as_i64().unwrap_or(0),
            ip: p["IP"].as_str().unwrap_or("").to_string(),
            kind: p["Type"].as_str().unwrap_or("tcp").to_string(),
        })
        .collect();
    ps.sort_by(|a, b| (a.private, &a.ip, a.public, &a.kind).cmp(&(b.private, &b.ip, b.public, &b.kind)));
    let mut groups: Vec<(String, i64, i64)> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let mut mappings: Vec<String> = Vec::new();
    let form = |key: &str, first: i64, last: i64| {
        let range = if first == last { first.to_string() } else { format!("{first}-{last}") };
        match key.rsplit_once('/') {
            Some((ip, kind)) if !ip.is_empty() => {
                let ip = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
                format!("{ip}:{range}->{range}/{kind}")
            }
            _ => format!("{range}/{}", key.trim_start_matches('/')),
        }
    };
    for p in &ps {
        let key = if p.ip.is_empty() {
            format!("/{}", p.kind)
        } else if p.public != p.private {
            let ip = if p.ip.contains(':') { format!("[{}]", p.ip) } else { p.ip.clone() };
            let m = format!("{ip}:{}->{}/{}", p.public, p.private, p.kind);
            if !mappings.contains(&m) {
                mappings.push(m);
            }
            continue;
        } else {
            format!("{}/{}", p.ip, p.kind)
        };
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) if p.private == g.2 + 1 => g.2 = p.private,
            Some(g) if p.private == g.2 => {}
            Some(g) => {
                done.push(form(&g.0, g.1, g.2));
                g.1 = p.private;
                g.2 = p.private;
            }
            None => groups.push((key, p.private, p.private)),
        }
    }
    let mut out = done;
    out.extend(groups.iter().map(|g| form(&g.0, g.1, g.2)));
    out.extend(mappings);
    out.join(", ")
}

/// One row of `ps` from one item of `GET /containers/json`.
pub(crate) fn ps_row(c: &Value, trunc: bool, now: i64) -> Row {
    let id = str_of(&c["Id"]);
    let mut image = str_of(&c["Image"]).to_string();
    if trunc && image.starts_with("sha256:") {
        image = short_id(&image);
    }
    let command = str_of(&c["Command"]);
    let command = if trunc { ellipsis(command, 20) } else { command.to_string() };
    let names: Vec<String> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|n| !trunc || n.split('/').count() == 2)
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let labels: BTreeMap<String, String> = c["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), str_of(v).to_string()))
        .collect();
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = if str_of(&m["Name"]).is_empty() { str_of(&m["Source"]) } else { str_of(&m["Name"]) };
            if trunc {
                ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect();
    let local_volumes =
        c["Mounts"].as_array().into_iter().flatten().filter(|m| m["Driver"] == "local").count();
    let mut networks: Vec<&String> =
        c["NetworkSettings"]["Networks"].as_object().into_iter().flatten().map(|(k, _)| k).collect();
    networks.sort();
    let created = c["Created"].as_i64().unwrap_or(0);
    let size = {
        let rw = human_size(c["SizeRw"].as_i64().unwrap_or(0) as f64);
        match c["SizeRootFs"].as_i64() {
            Some(r) if r > 0 => format!("{rw} (virtual {})", human_size(r as f64)),
            _ => rw,
        }
    };
    Row {
        fields: vec![
            ("ID", if trunc { short_id(id) } else { id.to_string() }),
            ("Image", image),
            ("Command", format!("{command:?}")),
            ("CreatedAt", go_time(created)),
            ("RunningFor", ago(now, created)),
            ("Ports", ports(&c["Ports"])),
            ("State", str_of(&c["State"]).to_string()),
            ("Status", str_of(&c["Status"]).to_string()),
            ("Size", size),
            ("Names", names.join(",")),
            ("Labels", labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")),
            ("Mounts", mounts.join(",")),
            ("Networks", networks.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")),
            ("LocalVolumes", local_volumes.to_string()),
        ],
        nulls: &["Platform"],
        labels,
    }
}

pub async fn ps(ctx: &Ctx, a: PsArgs) -> Result {
    let format_text = a.format.clone().or_else(|| crate::common::config_key("psFormat"));
    let limit = if a.latest { 1 } else { a.last };
    let q = ListQuery {
        all: a.all || limit > 0,
        limit: (limit > 0).then_some(limit),
        // Like the docker CLI, a template that shows `.Size` asks the daemon for sizes.
        size: a.size || format_text.as_deref().is_some_and(|f| f.contains(".Size") || f.contains("json .")),
        filters: filters(&a.filter)?,
    };
    let items = ctx.client.containers().list(&q).await?;
    let trunc = !a.no_trunc;
    if a.quiet {
        for c in &items {
            let id = str_of(&c["Id"]);
            println!("{}", if trunc { short_id(id) } else { id.to_string() });
        }
        return Ok(());
    }
    let now = now();
    let rows: Vec<Row> = items.iter().map(|c| ps_row(c, trunc, now)).collect();
    let format = match format_text {
        Some(f) => Format::parse(&f),
        None => Format::Table(None),
    };
    let default = if a.size { format!("{PS_TABLE}\t{{{{.Size}}}}") } else { PS_TABLE.to_string() };
    let out = render_rows(&format, &default, PS_HEADERS, &rows).map_err(|e| Failure::new(1, e))?;
    print!("{out}");
    Ok(())
}

fn run_failure(ctx: &Ctx, path: &str, e: &ClientError, code: i32) -> Failure {
    Failure::new(code, format!("{}: {e}\n\nRun '{} {path} --help' for more information", ctx.prog, ctx.prog))
}

/// `run`'s (and compose's) pull of a missing image: its steps on stderr, line by line.
pub(crate) async fn pull(
    ctx: &Ctx,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
) -> std::result::Result<(), ClientError> {
    let (name, tag) = crate::common::split_reference(image);
    let auth = crate::common::registry_auth(image);
    let r = ctx.client.images().pull(&name, &tag, platform, &auth).await?;
    let mut messages = berth_client::Messages::new(r);
    while let Some(m) = messages.next().await? {
        if let Some(e) = m.error_message() {
            return Err(ClientError::Daemon { status: 500, message: e.to_string() });
        }
        if !quiet && !m.status.is_empty() {
            match m.id.as_str() {
                "" => eprintln!("{}", m.status),
                id => eprintln!("{id}: {}", m.status),
            }
        }
    }
    Ok(())
}

/// Creates the container (pulling its image first when it is missing): its ID, and the create
/// request that says what to attach.
async fn create(ctx: &Ctx, a: &RunArgs, path: &str) -> Result<(String, Value)> {
    let body = crate::opts::create_body(a, &crate::opts::Real)
        .map_err(|b| invalid_flag(&ctx.prog, path, &b.value, b.flag, &b.why))?;
    let image_ref = if a.image.contains(':') || a.image.contains('@') {
        a.image.clone()
    } else {
        format!("{}:latest", a.image)
    };
    if a.pull == "always" {
        pull(ctx, &a.image, a.platform.as_deref(), a.quiet)
            .await
            .map_err(|e| run_failure(ctx, path, &e, 125))?;
    }
    let containers = ctx.client.containers();
    let created = match containers.create(a.name.as_deref(), a.platform.as_deref(), &body).await {
        // A 404 is a missing image when the image is indeed missing (another 404, such as a
        // `--volumes-from` container, is reported as it is).
        Err(e)
            if e.kind() == ErrorKind::NotFound
                && a.pull != "never"
                && !image_present(ctx, &image_ref).await =>
        {
            eprintln!("Unable to find image '{image_ref}' locally");
            pull(ctx, &a.image, a.platform.as_deref(), a.quiet)
                .await
                .map_err(|e| run_failure(ctx, path, &e, 125))?;
            containers.create(a.name.as_deref(), a.platform.as_deref(), &body).await
        }
        other => other,
    }
    .map_err(|e| run_failure(ctx, path, &e, 125))?;
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok((created.id, body))
}

/// Whether the daemon has the image `reference`.
async fn image_present(ctx: &Ctx, reference: &str) -> bool {
    match ctx.client.images().inspect_json(reference).await {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::NotFound,
    }
}

pub async fn run(ctx: &Ctx, a: RunArgs, run: bool) -> Result {
    let path = if run { "run" } else { "create" };
    if a.tty && a.interactive && !berth_client::terminal::is_tty(0) && run && !a.detach {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    let (id, body) = create(ctx, &a, path).await?;
    if !run {
        println!("{id}");
        return Ok(());
    }
    let opts = RunOptions {
        stdin: body["AttachStdin"] == true,
        stdout: body["AttachStdout"] == true,
        stderr: body["AttachStderr"] == true,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        auto_remove: a.rm,
        sig_proxy: a.sig_proxy,
        detach_keys: a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys")),
    };
    run_created(ctx, &id, &id, &opts, |error, code| run_failure(ctx, path, error, code)).await
}

/// Runs a created container (see `berth_client::run`) and turns how it ended into the CLI's
/// result: `shown` printed when it was started detached, a failed setup or start told by
/// `failure` (with the exit code Docker gives for it).
pub(crate) async fn run_created(
    ctx: &Ctx,
    id: &str,
    shown: &str,
    opts: &RunOptions,
    failure: impl Fn(&ClientError, i32) -> Failure,
) -> Result {
    match berth_client::run::run(&ctx.client, id, opts).await {
        Ok(RunOutcome::Started) => {
            println!("{shown}");
            Ok(())
        }
        Ok(RunOutcome::Detached) | Ok(RunOutcome::Exited(0)) => Ok(()),
        Ok(RunOutcome::Exited(code)) => Err(Failure::exit(code as i32)),
        Err(e) => {
            let code = e.exit_code();
            match e {
                RunError::Wait(m) => Err(Failure::new(code, format!("{}: {m}", ctx.prog))),
                RunError::Start { error, .. } | RunError::Setup(error) => Err(failure(&error, code)),
            }
        }
    }
}

pub async fn start(ctx: &Ctx, a: StartArgs) -> Result {
    if a.attach || a.interactive {
        let [name] = a.containers.as_slice() else {
            return Err(Failure::new(1, "you cannot start and attach multiple containers at once"));
        };
        let containers = ctx.client.containers();
        let tty = containers.inspect(name).await?.config.tty;
        let keys_text = a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys"));
        let q = AttachQuery {
            stdin: a.interactive,
            stdout: true,
            stderr: true,
            logs: false,
            detach_keys: keys_text.clone(),
        };
        let conn = containers.attach(name, &q).await?;
        let raw = if tty && a.interactive { berth_client::terminal::RawMode::enter() } else { None };
        let wait = containers.wait(name, Some("next-exit")).await?;
        containers.start(name).await?;
        let keys = berth_client::relay::detach_sequence(keys_text.as_deref());
        let ended = berth_client::relay::join(conn, tty, a.interactive, &keys).await;
        drop(raw);
        if matches!(ended, Ok(berth_client::relay::Ended::Detached)) {
            return Ok(());
        }
        let code = wait.exit().await?.status_code as i32;
        return if code == 0 { Ok(()) } else { Err(Failure::exit(code)) };
    }
    let mut failed = vec![];
    for n in &a.containers {
        match ctx.client.containers().start(n).await {
            Ok(_) => println!("{n}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(n.as_str());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(1, format!("Error: failed to start containers: {}", failed.join(", "))))
    }
}

/// `stop`, or `restart` when `restart`.
pub async fn stop(ctx: &Ctx, a: StopArgs, restart: bool) -> Result {
    let (signal, timeout) = (a.signal.as_deref(), a.timeout);
    for_each(&a.containers, |n| async move {
        let containers = ctx.client.containers();
        if restart {
            containers.restart(n, signal, timeout).await?;
        } else {
            containers.stop(n, signal, timeout).await?;
        }
        Ok(n.to_string())
    })
    .await
}

pub async fn kill(ctx: &Ctx, a: KillArgs) -> Result {
    let signal = a.signal.as_deref();
    for_each(&a.containers, |n| async move {
        ctx.client.containers().kill(n, signal).await.map(|_| n.to_string())
    })
    .await
}

/// `pause`, or `unpause` when `unpause`.
pub async fn pause(ctx: &Ctx, a: Names, unpause: bool) -> Result {
    for_each(&a.containers, |n| async move {
        let containers = ctx.client.containers();
        if unpause {
            containers.unpause(n).await?;
        } else {
            containers.pause(n).await?;
        }
        Ok(n.to_string())
    })
    .await
}

pub async fn rm(ctx: &Ctx, a: RmArgs) -> Result {
    let q = &RemoveQuery { force: a.force, volumes: a.volumes, link: a.link };
    for_each(
        &a.containers,
        |n| async move { ctx.client.containers().remove(n, q).await.map(|_| n.to_string()) },
    )
    .await
}

pub async fn wait(ctx: &Ctx, a: Names) -> Result {
    for_each(&a.containers, |n| async move {
        let exit = ctx.client.containers().wait(n, None).await?.exit().await?;
        Ok(exit.status_code.to_string())
    })
    .await
}

pub async fn rename(ctx: &Ctx, a: RenameArgs) -> Result {
    let new = a.new_name.trim();
    if new.is_empty() || a.container.trim().is_empty() {
        return Err(Failure::new(1, "Error: neither old nor new names may be empty"));
    }
    ctx.client.containers().rename(&a.container, new).await?;
    Ok(())
}

pub async fn top(ctx: &Ctx, a: TopArgs) -> Result {
    let ps_args = (!a.ps_args.is_empty()).then(|| a.ps_args.join(" "));
    let top = ctx.client.containers().top(&a.container, ps_args.as_deref()).await?;
    let mut text = String::new();
    for row in std::iter::once(&top.titles).chain(&top.processes) {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    print!("{}", crate::tabwriter::TabWriter::wide().format(&text));
    Ok(())
}

pub async fn port(ctx: &Ctx, a: PortArgs) -> Result {
    let info = ctx.client.containers().inspect(&a.container).await?;
    let mut lines = Vec::new();
    let want = a.port.as_ref().map(|p| if p.contains('/') { p.clone() } else { format!("{p}/tcp") });
    let mut found = false;
    let ports = &info.network_settings.ports;
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort_by_key(|k| {
        (k.split('/').next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0), k.to_string())
    });
    for k in keys {
        if want.as_ref().is_some_and(|w| w != k) {
            continue;
        }
        for b in ports[k].iter().flatten() {
            found = true;
            let ip = if b.host_ip.contains(':') { format!("[{}]", b.host_ip) } else { b.host_ip.clone() };
            let addr = format!("{ip}:{}", b.host_port);
            lines.push(if want.is_some() { addr } else { format!("{k} -> {addr}") });
        }
    }
    if let (Some(p), false) = (&a.port, found) {
        return Err(Failure::new(
            1,
            format!(
                "Error: No public port '{}' published for {}",
                want.unwrap_or_else(|| p.clone()),
                a.container
            ),
        ));
    }
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

pub async fn logs(ctx: &Ctx, a: LogsArgs) -> Result {
    let containers = ctx.client.containers();
    let tty = containers.inspect(&a.container).await?.config.tty;
    let q = LogsQuery {
        follow: a.follow,
        timestamps: a.timestamps,
        details: a.details,
        tail: a.tail.clone(),
        since: a.since.clone(),
        until: a.until.clone(),
    };
    let mut r = containers.logs(&a.container, &q).await?;
    let mut pending = Vec::new();
    while let Some(chunk) = r.chunk().await? {
        if tty {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(&chunk);
            let _ = o.flush();
            continue;
        }
        pending.extend_from_slice(&chunk);
        for f in berth_client::demux(&mut pending) {
            if f.kind == berth_client::StreamKind::Stderr {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(&f.data);
                let _ = e.flush();
            } else {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&f.data);
                let _ = o.flush();
            }
        }
    }
    Ok(())
}

pub async fn exec(ctx: &Ctx, a: ExecArgs) -> Result {
    let env = crate::opts::environment(&a.env_file, &a.env, &crate::opts::Real)
        .map_err(|b| invalid_flag(&ctx.prog, "exec", &b.value, b.flag, &b.why))?;
    if a.tty && a.interactive && !berth_client::terminal::is_tty(0) {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    let mut body = json!({
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach,
        "AttachStderr": !a.detach,
        "Tty": a.tty,
        "Privileged": a.privileged,
        "Cmd": a.command,
    });
    if !env.is_empty() {
        body["Env"] = json!(env);
    }
    if let Some(u) = &a.user {
        body["User"] = json!(u);
    }
    if let Some(w) = &a.workdir {
        body["WorkingDir"] = json!(w);
    }
    if let Some(k) = a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys")) {
        body["DetachKeys"] = json!(k);
    }
    let id = ctx.client.containers().exec(&a.container, &body).await?;
    let execs = ctx.client.execs();
    if a.detach {
        execs.start_detached(&id, a.tty).await?;
        return Ok(());
    }
    let conn = execs.start_attached(&id, a.tty).await?;
    let raw = if a.tty && a.interactive { berth_client::terminal::RawMode::enter() } else { None };
    if let Some((h, w)) = berth_client::terminal::size().filter(|_| a.tty) {
        let _ = execs.resize(&id, h, w).await;
    }
    let keys = berth_client::relay::detach_sequence(
        a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys")).as_deref(),
    );
    let ended = berth_client::relay::join(conn, a.tty, a.interactive, &keys).await;
    drop(raw);
    if matches!(ended, Ok(berth_client::relay::Ended::Detached)) {
        return Ok(());
    }
    let code = execs.inspect(&id).await?.exit_code.unwrap_or(0) as i32;
    if code != 0 {
        return Err(Failure::exit(code));
    }
    Ok(())
}

pub async fn attach(ctx: &Ctx, a: AttachArgs) -> Result {
    let containers = ctx.client.containers();
    let info = containers.inspect(&a.container).await?;
    if !info.state.running {
        return Err(Failure::new(1, "You cannot attach to a stopped container, start it first"));
    }
    if info.state.paused {
        return Err(Failure::new(1, "You cannot attach to a paused container, unpause it first"));
    }
    let tty = info.config.tty;
    let stdin = !a.no_stdin && info.config.open_stdin;
    let keys_text = a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys"));
    let q = AttachQuery { stdin, stdout: true, stderr: true, logs: false, detach_keys: keys_text.clone() };
    let conn = containers.attach(&a.container, &q).await?;
    let raw = if tty && stdin { berth_client::terminal::RawMode::enter() } else { None };
    if tty {
        berth_client::run::resize(&ctx.client, &a.container).await;
    }
    let keys = berth_client::relay::detach_sequence(keys_text.as_deref());
    let ended = tokio::select! {
        e = berth_client::relay::join(conn, tty, stdin, &keys) => e,
        _ = berth_client::run::proxy_signals(&ctx.client, &a.container, a.sig_proxy && !tty) => Ok(berth_client::relay::Ended::Closed),
    };
    drop(raw);
    if matches!(ended, Ok(berth_client::relay::Ended::Detached)) {
        return Ok(());
    }
    match containers.wait(&a.container, None).await?.exit().await?.status_code as i32 {
        0 => Ok(()),
        code => Err(Failure::exit(code)),
    }
}

pub async fn update(ctx: &Ctx, a: UpdateArgs) -> Result {
    let body = crate::opts::resources(&a.resources)
        .map_err(|b| invalid_flag(&ctx.prog, "update", &b.value, b.flag, &b.why))?;
    if body.is_empty() {
        return Err(Failure::new(1, "you must provide one or more flags when using this command"));
    }
    let body = Value::Object(body);
    let body = &body;
    for_each(&a.containers, |n| async move {
        ctx.client.containers().update(n, body).await.map(|_| n.to_string())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_as_dockers() {
        let c = json!({
            "Id": "0123456789abcdef0123", "Names": ["/web", "/other/link"], "Image": "busybox",
            "Command": "sleep 1000000000 and more", "Created": 100, "State": "running", "Status": "Up 2 minutes",
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}, {"PrivatePort": 53, "Type": "udp"}],
            "Labels": {"b": "2", "a": "1"}, "SizeRw": 1234, "SizeRootFs": 4262912,
            "NetworkSettings": {"Networks": {"none": {}}}, "Mounts": [{"Name": "", "Source": "/a/very/long/host/path", "Driver": ""}]
        });
        let r = ps_row(&c, true, 160);
        let f: BTreeMap<_, _> = r.fields.into_iter().collect();
        assert_eq!(f["ID"], "0123456789ab");
        assert_eq!(f["Command"], "\"sleep 1000000000 an…\"");
        assert_eq!(f["Names"], "web");
        assert_eq!(f["RunningFor"], "About a minute ago");
        assert_eq!(f["Ports"], "53/udp, 127.0.0.1:8080->80/tcp");
        assert_eq!(f["Labels"], "a=1,b=2");
        assert_eq!(f["Size"], "1.23kB (virtual 4.26MB)");
        assert_eq!(f["Mounts"], "/a/very/long/h…");
        assert_eq!(f["CreatedAt"], "1970-01-01 00:01:40 +0000 UTC");
        let f: BTreeMap<_, _> = ps_row(&c, false, 160).fields.into_iter().collect();
        assert_eq!(f["Names"], "web,other/link");
        assert_eq!(f["ID"], "0123456789abcdef0123");
    }

    #[test]
    fn ports_display_as_dockers() {
        let p = |v: serde_json::Value| ports(&v);
        let table = [
            (json!([]), ""),
            (json!([{"PrivatePort": 80, "Type": "tcp"}]), "80/tcp"),
            (
                json!([{"PrivatePort": 8002, "Type": "tcp"}, {"PrivatePort": 8000, "Type": "tcp"}, {"PrivatePort": 8001, "Type": "tcp"}]),
                "8000-8002/tcp",
            ),
            (
                json!([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 80, "Type": "tcp"}, {"IP": "0.0.0.0", "PrivatePort": 81, "PublicPort": 81, "Type": "tcp"}]),
                "0.0.0.0:80-81->80-81/tcp",
            ),
            (
                json!([{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"}, {"PrivatePort": 9000, "Type": "tcp"}, {"PrivatePort": 53, "Type": "udp"}]),
                "53/udp, 9000/tcp, 127.0.0.1:32768->80/tcp",
            ),
            (
                json!([{"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]),
                "[::]:8080->80/tcp",
            ),
        ];
        for (input, want) in table {
            assert_eq!(p(input.clone()), want, "{input}");
        }
    }

    #[test]
    fn filters_and_references() {
        assert_eq!(
            filters(&["status=exited".into(), "label=a=b".into()]).unwrap().unwrap(),
            r#"{"label":{"a=b":true},"status":{"exited":true}}"#
        );
        assert!(filters(&["nonsense".into()]).is_err());
        assert_eq!(
            crate::common::split_reference("busybox"),
            ("docker.io/library/busybox".into(), "latest".into())
        );
        assert_eq!(crate::common::split_reference("me/app:2"), ("docker.io/me/app".into(), "2".into()));
        assert_eq!(crate::common::split_reference("reg:5000/x:1"), ("reg:5000/x".into(), "1".into()));
        assert_eq!(crate::common::split_reference("reg:5000/x"), ("reg:5000/x".into(), "latest".into()));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(crate::common::split_reference(&format!("me/app@{d}")), ("docker.io/me/app".into(), d));
    }
}
