//! The commands that show a project: `ps`, `top`, `port`, `images`, `events`, and `ls` (every
//! project the engine's containers are labelled with) and `version`.

use std::collections::BTreeMap;

use berth_compose::spec;
use serde_json::{json, Value};

use super::args::{EventsArgs, ImagesArgs, LsArgs, PortArgs, PsArgs, Services, VersionArgs};
use super::engine::{self, label, row_name};
use super::load::Session;
use crate::template::{render_rows, Format, Row};
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

const PS_TABLE: &str =
    "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";
const PS_HEADERS: &[(&str, &str)] = &[
    ("Name", "NAME"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("Service", "SERVICE"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("Ports", "PORTS"),
];

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `ps`.
pub async fn ps(ctx: &Ctx, s: &Session, a: &PsArgs) -> Result {
    let services = s.services(&a.names)?;
    let mut rows = engine::service_containers(ctx, &s.project.name, &services, true, true).await?;
    rows.retain(|r| {
        let state = r["State"].as_str().unwrap_or_default();
        // Running ones by default (one-off ones only with -a), or those of the states asked.
        let shown = if !a.status.is_empty() {
            a.status.iter().any(|st| st == state)
        } else {
            a.all
                || (matches!(state, "running" | "paused" | "restarting") && label(r, spec::ONEOFF) != "True")
        };
        shown
    });
    if a.services {
        let mut names: Vec<&str> = rows.iter().map(|r| label(r, spec::SERVICE)).collect();
        names.dedup();
        for n in names {
            println!("{n}");
        }
        return Ok(());
    }
    if a.quiet {
        for r in &rows {
            let id = r["Id"].as_str().unwrap_or_default();
            println!("{}", if a.no_trunc { id.to_string() } else { crate::common::short_id(id) });
        }
        return Ok(());
    }
    let now = now();
    let table: Vec<Row> = rows
        .iter()
        .map(|r| {
            let mut row = crate::container::ps_row(r, !a.no_trunc, now);
            row.fields.retain(|(k, _)| !matches!(*k, "Names" | "Size"));
            row.fields.push(("Name", row_name(r)));
            row.fields.push(("Names", row_name(r)));
            row.fields.push(("Service", label(r, spec::SERVICE).to_string()));
            row.fields.push(("Project", label(r, spec::PROJECT).to_string()));
            let status = r["Status"].as_str().unwrap_or_default();
            let health = ["healthy", "unhealthy", "starting"]
                .into_iter()
                .find(|h| status.contains(&format!("({h})")) || status.contains(&format!("(health: {h})")))
                .unwrap_or_default();
            row.fields.push(("Health", health.to_string()));
            let code =
                status.strip_prefix("Exited (").and_then(|t| t.split(')').next()).unwrap_or("0").to_string();
            row.fields.push(("ExitCode", code));
            row.fields.sort_by(|x, y| x.0.cmp(y.0));
            row
        })
        .collect();
    let format = Format::parse(&a.format);
    print!("{}", render_rows(&format, PS_TABLE, PS_HEADERS, &table).map_err(|e| Failure::new(1, e))?);
    Ok(())
}

/// `top`: each container's processes under its name.
pub async fn top(ctx: &Ctx, s: &Session, a: &Services) -> Result {
    let services = s.services(&a.services)?;
    let rows = engine::service_containers(ctx, &s.project.name, &services, false, false).await?;
    for r in rows {
        let name = row_name(&r);
        let top = ctx.client.containers().top(&name, None).await?;
        let mut text = String::new();
        for row in std::iter::once(&top.titles).chain(&top.processes) {
            text.push_str(&row.join("\t"));
            text.push('\n');
        }
        println!("{name}");
        println!("{}", crate::tabwriter::TabWriter::wide().format(&text));
    }
    Ok(())
}

/// `port`: the public address of a replica's private port.
pub async fn port(ctx: &Ctx, s: &Session, a: &PortArgs) -> Result {
    let svc = s.service(&a.service)?;
    let name = s.container_name(svc, a.index);
    let info = ctx.client.containers().inspect(&name).await?;
    let key = format!("{}/{}", a.private_port, a.protocol);
    let binding = info.network_settings.ports.get(&key).cloned().flatten().and_then(|b| b.into_iter().next());
    match binding {
        Some(b) => {
            println!("{}:{}", if b.host_ip.is_empty() { "0.0.0.0" } else { &b.host_ip }, b.host_port);
            Ok(())
        }
        None => Err(Failure::new(1, format!("no port {key} for container {name}"))),
    }
}

/// `images`: the images of the project's containers.
pub async fn images(ctx: &Ctx, s: &Session, a: &ImagesArgs) -> Result {
    let services = s.services(&a.services)?;
    let rows = engine::service_containers(ctx, &s.project.name, &services, true, false).await?;
    let mut table = String::from("CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE\n");
    let mut json_rows = Vec::new();
    for r in &rows {
        let id = r["ImageID"].as_str().unwrap_or_default().to_string();
        if a.quiet {
            println!("{}", crate::common::short_id(&id));
            continue;
        }
        let image = ctx.client.images().inspect_json(&id).await?;
        let reference = r["Image"].as_str().unwrap_or_default();
        let (repo, tag) = crate::common::split_reference(reference);
        let size = image["Size"].as_i64().unwrap_or(0);
        table.push_str(&format!(
            "{}\t{repo}\t{tag}\t{}\t{}\n",
            row_name(r),
            crate::common::short_id(&id),
            crate::units::human_size(size as f64)
        ));
        json_rows.push(
            json!({"ID": id, "ContainerName": row_name(r), "Repository": repo, "Tag": tag, "Size": size}),
        );
    }
    if a.quiet {
        return Ok(());
    }
    if a.format == "json" {
        println!("{}", Value::Array(json_rows));
    } else {
        print!("{}", crate::tabwriter::TabWriter::wide().format(&table));
    }
    Ok(())
}

/// `ls`: the projects the engine's containers name, with their states and files.
pub async fn ls(ctx: &Ctx, a: &LsArgs) -> Result {
    let filters = json!({"label": [spec::PROJECT]}).to_string();
    let q = berth_client::containers::ListQuery { all: true, filters: Some(filters), ..Default::default() };
    let rows = ctx.client.containers().list(&q).await?;
    let mut projects: BTreeMap<String, (BTreeMap<String, u32>, String)> = BTreeMap::new();
    for r in &rows {
        let p = projects.entry(label(r, spec::PROJECT).to_string()).or_default();
        *p.0.entry(r["State"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        p.1 = label(r, spec::CONFIG_FILES).to_string();
    }
    let name_filter: Vec<String> =
        a.filter.iter().filter_map(|f| f.strip_prefix("name=").map(String::from)).collect();
    let mut table = String::from("NAME\tSTATUS\tCONFIG FILES\n");
    let mut out = Vec::new();
    for (name, (states, files)) in &projects {
        if !a.all && !states.contains_key("running") {
            continue;
        }
        if !name_filter.is_empty() && !name_filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let status = states.iter().map(|(s, n)| format!("{s}({n})")).collect::<Vec<_>>().join(", ");
        if a.quiet {
            println!("{name}");
            continue;
        }
        table.push_str(&format!("{name}\t{status}\t{files}\n"));
        out.push(json!({"Name": name, "Status": status, "ConfigFiles": files}));
    }
    if a.quiet {
        return Ok(());
    }
    if a.format == "json" {
        println!("{}", Value::Array(out));
    } else {
        print!("{}", crate::tabwriter::TabWriter::wide().format(&table));
    }
    Ok(())
}

/// `version`.
pub fn version(a: &VersionArgs) -> Result {
    let v = format!("v{}", spec::COMPOSE_VERSION);
    match (a.short, a.format.as_str()) {
        (true, _) => println!("{}", spec::COMPOSE_VERSION),
        (false, "json") => println!("{}", json!({"version": v})),
        _ => println!("Docker Compose version {v} (berth {})", env!("CARGO_PKG_VERSION")),
    }
    Ok(())
}

/// `events`: the engine's container events for the project, as Compose prints them.
pub async fn events(ctx: &Ctx, s: &Session, a: &EventsArgs) -> Result {
    let services = s.services(&a.services)?;
    let filters = json!({"label": [format!("{}={}", spec::PROJECT, s.project.name)], "type": ["container"]});
    let mut r = ctx.client.system().events(&[("filters", filters.to_string())]).await?;
    let mut pending = Vec::new();
    while let Some(chunk) = r.chunk().await? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(e) = serde_json::from_slice::<Value>(&line) else { continue };
            let attrs = &e["Actor"]["Attributes"];
            let service = attrs[spec::SERVICE].as_str().unwrap_or_default();
            if !services.iter().any(|x| x == service) {
                continue;
            }
            let nanos = e["timeNano"].as_i64().unwrap_or(0);
            let time = berth_api::time::rfc3339_nanos(nanos);
            let id = e["Actor"]["ID"].as_str().unwrap_or_default();
            let action = e["Action"].as_str().unwrap_or_default();
            let mut extra: Vec<(String, String)> = attrs
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !k.starts_with("com.docker.compose."))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            extra.sort();
            if a.json {
                let attributes: serde_json::Map<String, Value> =
                    extra.into_iter().map(|(k, v)| (k, json!(v))).collect();
                println!(
                    "{}",
                    json!({"time": time, "type": "container", "action": action, "id": id, "service": service, "attributes": attributes})
                );
            } else {
                let attrs = extra.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                println!("{time} container {action} {id} ({attrs})");
            }
        }
    }
    Ok(())
}
