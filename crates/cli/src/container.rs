//! Container commands.

use std::collections::BTreeMap;
use std::io::Write;

use berth_client::run::{RunError, RunOptions, RunOutcome};
use berth_client::{Body, ClientError, ErrorKind, Kinded, Method};
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
fn ports(list: &Value) -> String {
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
    let mut q = vec![];
    let limit = if a.latest { 1 } else { a.last };
    if a.all || limit > 0 {
        q.push(("all", "1".to_string()));
    }
    if limit > 0 {
        q.push(("limit", limit.to_string()));
    }
    // Like the docker CLI, a template that shows `.Size` asks the daemon for sizes.
    if a.size || format_text.as_deref().is_some_and(|f| f.contains(".Size") || f.contains("json .")) {
        q.push(("size", "1".to_string()));
    }
    if let Some(f) = filters(&a.filter)? {
        q.push(("filters", f));
    }
    let list = ctx.client.get("/containers/json", &q).await?;
    let items = list.as_array().cloned().unwrap_or_default();
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

/// A reference as `fromImage` and `tag` of a pull: the name made whole as Docker does
/// (`busybox` → `docker.io/library/busybox`), and the tag (`latest` when none) or the digest.
/// A reference that does not parse goes as it is, for the daemon to refuse in Docker's words.
fn split_reference(image: &str) -> (String, String) {
    match berth_oci::Reference::parse_tagged(image) {
        Ok(r) => (r.name(), r.digest().or(r.tag()).unwrap_or_default().to_string()),
        Err(_) => crate::files::repo_tag(image),
    }
}

async fn pull(ctx: &Ctx, image: &str, quiet: bool) -> std::result::Result<(), ClientError> {
    let (name, tag) = split_reference(image);
    let r = ctx
        .client
        .request(Method::POST, "/images/create", &[("fromImage", name), ("tag", tag)], Body::Empty)
        .await?;
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
    let mut q = vec![];
    if let Some(n) = &a.name {
        q.push(("name", n.clone()));
    }
    if let Some(p) = &a.platform {
        q.push(("platform", p.clone()));
    }
    let image_ref = if a.image.contains(':') || a.image.contains('@') {
        a.image.clone()
    } else {
        format!("{}:latest", a.image)
    };
    if a.pull == "always" {
        pull(ctx, &a.image, a.quiet).await.map_err(|e| run_failure(ctx, path, &e, 125))?;
    }
    let created = match ctx.client.post("/containers/create", &q, Body::Json(body.clone())).await {
        // A 404 is a missing image when the image is indeed missing (another 404, such as a
        // `--volumes-from` container, is reported as it is).
        Err(e)
            if e.kind() == ErrorKind::NotFound
                && a.pull != "never"
                && !image_present(ctx, &image_ref).await =>
        {
            eprintln!("Unable to find image '{image_ref}' locally");
            pull(ctx, &a.image, a.quiet).await.map_err(|e| run_failure(ctx, path, &e, 125))?;
            ctx.client.post("/containers/create", &q, Body::Json(body.clone())).await
        }
        other => other,
    }
    .map_err(|e| run_failure(ctx, path, &e, 125))?;
    for w in created["Warnings"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        eprintln!("WARNING: {w}");
    }
    Ok((str_of(&created["Id"]).to_string(), body))
}

/// Whether the daemon has the image `reference`.
async fn image_present(ctx: &Ctx, reference: &str) -> bool {
    match ctx.client.get(&format!("/images/{reference}/json"), &[]).await {
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
    match berth_client::run::run(&ctx.client, &id, &opts).await {
        Ok(RunOutcome::Started) => {
            println!("{id}");
            Ok(())
        }
        Ok(RunOutcome::Detached) | Ok(RunOutcome::Exited(0)) => Ok(()),
        Ok(RunOutcome::Exited(code)) => Err(Failure::exit(code as i32)),
        Err(e) => {
            let code = e.exit_code();
            match e {
                RunError::Wait(m) => Err(Failure::new(code, format!("{}: {m}", ctx.prog))),
                RunError::Start { error, .. } | RunError::Setup(error) => {
                    Err(run_failure(ctx, path, &error, code))
                }
            }
        }
    }
}

pub async fn start(ctx: &Ctx, a: StartArgs) -> Result {
    if a.attach || a.interactive {
        let [name] = a.containers.as_slice() else {
            return Err(Failure::new(1, "you cannot start and attach multiple containers at once"));
        };
        let info = ctx.client.get(&format!("/containers/{name}/json"), &[]).await?;
        let tty = info["Config"]["Tty"] == true;
        let mut q = vec![("stream", "1".to_string()), ("stdout", "1".into()), ("stderr", "1".into())];
        if a.interactive {
            q.push(("stdin", "1".into()));
        }
        let keys_text = a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys"));
        if let Some(k) = &keys_text {
            q.push(("detachKeys", k.clone()));
        }
        let conn = ctx.client.hijack(&format!("/containers/{name}/attach"), &q, Body::Empty).await?;
        let raw = if tty && a.interactive { berth_client::terminal::RawMode::enter() } else { None };
        let wq = [("condition", "next-exit".to_string())];
        let wait =
            ctx.client.request(Method::POST, &format!("/containers/{name}/wait"), &wq, Body::Empty).await?;
        ctx.client.post(&format!("/containers/{name}/start"), &[], Body::Empty).await?;
        let keys = berth_client::relay::detach_sequence(keys_text.as_deref());
        let ended = berth_client::relay::join(conn, tty, a.interactive, &keys).await;
        drop(raw);
        if matches!(ended, Ok(berth_client::relay::Ended::Detached)) {
            return Ok(());
        }
        let status: Value = serde_json::from_slice(&wait.bytes().await?).unwrap_or_default();
        let code = status["StatusCode"].as_i64().unwrap_or(0) as i32;
        return if code == 0 { Ok(()) } else { Err(Failure::exit(code)) };
    }
    let mut failed = vec![];
    for n in &a.containers {
        match ctx.client.post(&format!("/containers/{n}/start"), &[], Body::Empty).await {
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

pub async fn stop(ctx: &Ctx, a: StopArgs, verb: &str) -> Result {
    let mut q = vec![];
    if let Some(s) = &a.signal {
        q.push(("signal", s.clone()));
    }
    if let Some(t) = a.timeout {
        q.push(("t", t.to_string()));
    }
    let q = &q;
    for_each(&a.containers, |n| async move {
        ctx.client.post(&format!("/containers/{n}/{verb}"), q, Body::Empty).await.map(|_| n.to_string())
    })
    .await
}

pub async fn kill(ctx: &Ctx, a: KillArgs) -> Result {
    let q = a.signal.iter().map(|s| ("signal", s.clone())).collect::<Vec<_>>();
    let q = &q;
    for_each(&a.containers, |n| async move {
        ctx.client.post(&format!("/containers/{n}/kill"), q, Body::Empty).await.map(|_| n.to_string())
    })
    .await
}

pub async fn each(ctx: &Ctx, a: Names, verb: &'static str) -> Result {
    for_each(&a.containers, |n| async move {
        ctx.client.post(&format!("/containers/{n}/{verb}"), &[], Body::Empty).await.map(|_| n.to_string())
    })
    .await
}

pub async fn rm(ctx: &Ctx, a: RmArgs) -> Result {
    let mut q = vec![];
    if a.force {
        q.push(("force", "1".to_string()));
    }
    if a.volumes {
        q.push(("v", "1".to_string()));
    }
    if a.link {
        q.push(("link", "1".to_string()));
    }
    let q = &q;
    for_each(&a.containers, |n| async move {
        ctx.client.delete(&format!("/containers/{n}"), q).await.map(|_| n.to_string())
    })
    .await
}

pub async fn wait(ctx: &Ctx, a: Names) -> Result {
    for_each(&a.containers, |n| async move {
        let v = ctx.client.post(&format!("/containers/{n}/wait"), &[], Body::Empty).await?;
        Ok(v["StatusCode"].as_i64().unwrap_or(0).to_string())
    })
    .await
}

pub async fn rename(ctx: &Ctx, a: RenameArgs) -> Result {
    let new = a.new_name.trim();
    if new.is_empty() || a.container.trim().is_empty() {
        return Err(Failure::new(1, "Error: neither old nor new names may be empty"));
    }
    ctx.client
        .post(&format!("/containers/{}/rename", a.container), &[("name", new.to_string())], Body::Empty)
        .await?;
    Ok(())
}

pub async fn top(ctx: &Ctx, a: TopArgs) -> Result {
    let mut q = vec![];
    if !a.ps_args.is_empty() {
        q.push(("ps_args", a.ps_args.join(" ")));
    }
    let v = ctx.client.get(&format!("/containers/{}/top", a.container), &q).await?;
    let mut text = String::new();
    let titles: Vec<&str> = v["Titles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    text.push_str(&titles.join("\t"));
    text.push('\n');
    for p in v["Processes"].as_array().into_iter().flatten() {
        let cells: Vec<&str> = p.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    print!("{}", crate::tabwriter::TabWriter::wide().format(&text));
    Ok(())
}

pub async fn port(ctx: &Ctx, a: PortArgs) -> Result {
    let v = ctx.client.get(&format!("/containers/{}/json", a.container), &[]).await?;
    let mut lines = Vec::new();
    let want = a.port.as_ref().map(|p| if p.contains('/') { p.clone() } else { format!("{p}/tcp") });
    let mut found = false;
    if let Some(ports) = v["NetworkSettings"]["Ports"].as_object() {
        let mut keys: Vec<&String> = ports.keys().collect();
        keys.sort_by_key(|k| {
            (k.split('/').next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0), k.to_string())
        });
        for k in keys {
            if want.as_ref().is_some_and(|w| w != k) {
                continue;
            }
            for b in ports[k].as_array().into_iter().flatten() {
                found = true;
                let ip = str_of(&b["HostIp"]);
                let ip = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
                let addr = format!("{ip}:{}", str_of(&b["HostPort"]));
                lines.push(if want.is_some() { addr } else { format!("{k} -> {addr}") });
            }
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
    let info = ctx.client.get(&format!("/containers/{}/json", a.container), &[]).await?;
    let tty = info["Config"]["Tty"] == true;
    let mut q = vec![("stdout", "1".to_string()), ("stderr", "1".to_string()), ("tail", a.tail.clone())];
    if a.follow {
        q.push(("follow", "1".into()));
    }
    if a.timestamps {
        q.push(("timestamps", "1".into()));
    }
    if a.details {
        q.push(("details", "1".into()));
    }
    if let Some(s) = &a.since {
        q.push(("since", s.clone()));
    }
    if let Some(u) = &a.until {
        q.push(("until", u.clone()));
    }
    let mut r = ctx
        .client
        .request(Method::GET, &format!("/containers/{}/logs", a.container), &q, Body::Empty)
        .await?;
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
    let created =
        ctx.client.post(&format!("/containers/{}/exec", a.container), &[], Body::Json(body)).await?;
    let id = str_of(&created["Id"]).to_string();
    if a.detach {
        ctx.client
            .post(&format!("/exec/{id}/start"), &[], Body::Json(json!({"Detach": true, "Tty": a.tty})))
            .await?;
        return Ok(());
    }
    let conn = ctx
        .client
        .hijack(&format!("/exec/{id}/start"), &[], Body::Json(json!({"Detach": false, "Tty": a.tty})))
        .await?;
    let raw = if a.tty && a.interactive { berth_client::terminal::RawMode::enter() } else { None };
    if a.tty {
        berth_client::run::resize(&ctx.client, &format!("/exec/{id}")).await;
    }
    let keys = berth_client::relay::detach_sequence(
        a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys")).as_deref(),
    );
    let ended = berth_client::relay::join(conn, a.tty, a.interactive, &keys).await;
    drop(raw);
    if matches!(ended, Ok(berth_client::relay::Ended::Detached)) {
        return Ok(());
    }
    let info = ctx.client.get(&format!("/exec/{id}/json"), &[]).await?;
    let code = info["ExitCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 {
        return Err(Failure::exit(code));
    }
    Ok(())
}

pub async fn attach(ctx: &Ctx, a: AttachArgs) -> Result {
    let info = ctx.client.get(&format!("/containers/{}/json", a.container), &[]).await?;
    if info["State"]["Running"] != true {
        return Err(Failure::new(1, "You cannot attach to a stopped container, start it first"));
    }
    if info["State"]["Paused"] == true {
        return Err(Failure::new(1, "You cannot attach to a paused container, unpause it first"));
    }
    let tty = info["Config"]["Tty"] == true;
    let stdin = !a.no_stdin && info["Config"]["OpenStdin"] == true;
    let mut q = vec![("stream", "1".to_string()), ("stdout", "1".into()), ("stderr", "1".into())];
    if stdin {
        q.push(("stdin", "1".into()));
    }
    let keys_text = a.detach_keys.clone().or_else(|| crate::common::config_key("detachKeys"));
    if let Some(k) = &keys_text {
        q.push(("detachKeys", k.clone()));
    }
    let cpath = format!("/containers/{}", a.container);
    let conn = ctx.client.hijack(&format!("{cpath}/attach"), &q, Body::Empty).await?;
    let raw = if tty && stdin { berth_client::terminal::RawMode::enter() } else { None };
    if tty {
        berth_client::run::resize(&ctx.client, &cpath).await;
    }
    let keys = berth_client::relay::detach_sequence(keys_text.as_deref());
    let ended = tokio::select! {
        e = berth_client::relay::join(conn, tty, stdin, &keys) => e,
        _ = berth_client::run::proxy_signals(&ctx.client, &cpath, a.sig_proxy && !tty) => Ok(berth_client::relay::Ended::Closed),
    };
    drop(raw);
    if matches!(ended, Ok(berth_client::relay::Ended::Detached)) {
        return Ok(());
    }
    let status = ctx.client.post(&format!("{cpath}/wait"), &[], Body::Empty).await?;
    match status["StatusCode"].as_i64().unwrap_or(0) as i32 {
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
        ctx.client
            .post(&format!("/containers/{n}/update"), &[], Body::Json(body.clone()))
            .await
            .map(|_| n.to_string())
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
        assert_eq!(split_reference("busybox"), ("docker.io/library/busybox".into(), "latest".into()));
        assert_eq!(split_reference("me/app:2"), ("docker.io/me/app".into(), "2".into()));
        assert_eq!(split_reference("reg:5000/x:1"), ("reg:5000/x".into(), "1".into()));
        assert_eq!(split_reference("reg:5000/x"), ("reg:5000/x".into(), "latest".into()));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(split_reference(&format!("me/app@{d}")), ("docker.io/me/app".into(), d));
    }
}
