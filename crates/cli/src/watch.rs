//! Live views: `stats` and `events`.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;

use crate::cmd::{EventsArgs, StatsArgs};
use crate::common::{filters, short_id};
use crate::template::{render_rows, Format, Row, Tmpl};
use crate::units::{bytes_size, human_size};
use crate::{Ctx, Failure, Result};

const STATS_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const STATS_HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// One `stats` row from one sample, computed as the docker CLI computes it.
fn stats_row(name_or_id: &str, s: &Value, trunc: bool) -> Row {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let cpu =
        f(&s["cpu_stats"]["cpu_usage"]["total_usage"]) - f(&s["precpu_stats"]["cpu_usage"]["total_usage"]);
    let system = f(&s["cpu_stats"]["system_cpu_usage"]) - f(&s["precpu_stats"]["system_cpu_usage"]);
    let online = match s["cpu_stats"]["online_cpus"].as_f64() {
        Some(n) if n > 0.0 => n,
        _ => s["cpu_stats"]["cpu_usage"]["percpu_usage"].as_array().map_or(1.0, |a| a.len().max(1) as f64),
    };
    let cpu_perc = if system > 0.0 && cpu > 0.0 { cpu / system * online * 100.0 } else { 0.0 };
    let mem = &s["memory_stats"];
    let usage = f(&mem["usage"]);
    let inactive = mem["stats"]["total_inactive_file"].as_f64().or(mem["stats"]["inactive_file"].as_f64());
    let used = match inactive {
        Some(i) if i < usage => usage - i,
        _ => usage,
    };
    let limit = f(&mem["limit"]);
    let mem_perc = if limit > 0.0 { used / limit * 100.0 } else { 0.0 };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s["networks"].as_object().into_iter().flatten().map(|(_, v)| v) {
        rx += f(&n["rx_bytes"]);
        tx += f(&n["tx_bytes"]);
    }
    let (mut read, mut write) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"].as_array().into_iter().flatten() {
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += f(&e["value"]),
            Some("write") => write += f(&e["value"]),
            _ => {}
        }
    }
    let id = s["id"].as_str().unwrap_or("");
    Row {
        fields: vec![
            ("Container", name_or_id.to_string()),
            ("ID", if trunc { short_id(id) } else { id.to_string() }),
            ("Name", s["name"].as_str().unwrap_or("").trim_start_matches('/').to_string()),
            ("CPUPerc", format!("{cpu_perc:.2}%")),
            ("MemUsage", format!("{} / {}", bytes_size(used), bytes_size(limit))),
            ("MemPerc", format!("{mem_perc:.2}%")),
            ("NetIO", format!("{} / {}", human_size(rx), human_size(tx))),
            ("BlockIO", format!("{} / {}", human_size(read), human_size(write))),
            ("PIDs", s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string()),
        ],
        nulls: &[],
        labels: BTreeMap::new(),
    }
}

pub async fn stats(ctx: &Ctx, a: StatsArgs) -> Result {
    let names: Vec<String> = if a.containers.is_empty() {
        let q = berth_client::containers::ListQuery { all: a.all, ..Default::default() };
        let list = ctx.client.containers().list(&q).await?;
        list.iter().filter_map(|c| c["Id"].as_str().map(str::to_string)).collect()
    } else {
        a.containers.clone()
    };
    let format = a.format.as_deref().map(Format::parse).unwrap_or(Format::Table(None));
    loop {
        let mut rows = Vec::new();
        let mut failed = false;
        for n in &names {
            match ctx.client.containers().stats_once(n).await {
                Ok(s) => rows.push(stats_row(n, &s, !a.no_trunc)),
                Err(e) => {
                    eprintln!("{e}");
                    failed = true;
                }
            }
        }
        let text = render_rows(&format, STATS_TABLE, STATS_HEADERS, &rows).map_err(|e| Failure::new(1, e))?;
        if a.no_stream {
            print!("{text}");
            return if failed { Err(Failure::exit(1)) } else { Ok(()) };
        }
        // A live view: the screen is redrawn with each sample.
        print!("\x1b[2J\x1b[H{text}");
        let _ = std::io::stdout().flush();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The docker CLI's event time: RFC 3339 with all nine digits of nanoseconds, UTC.
fn event_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let base = chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    format!("{base}.{frac:09}Z")
}

/// The docker CLI's line for an event: time, type, action, actor and its sorted attributes.
fn event_line(e: &Value) -> String {
    let nanos = e["timeNano"].as_i64().unwrap_or_else(|| e["time"].as_i64().unwrap_or(0) * 1_000_000_000);
    let attrs: BTreeMap<String, String> = e["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let mut line = format!(
        "{} {} {} {}",
        event_time(nanos),
        e["Type"].as_str().unwrap_or(""),
        e["Action"].as_str().unwrap_or(""),
        e["Actor"]["ID"].as_str().unwrap_or("")
    );
    if !attrs.is_empty() {
        let list: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str(&format!(" ({})", list.join(", ")));
    }
    line
}

pub async fn events(ctx: &Ctx, a: EventsArgs) -> Result {
    let mut q = vec![];
    if let Some(s) = &a.since {
        q.push(("since", s.clone()));
    }
    if let Some(u) = &a.until {
        q.push(("until", u.clone()));
    }
    if let Some(f) = filters(&a.filter)? {
        q.push(("filters", f));
    }
    let tmpl = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Tmpl::new("{{json .}}").map_err(|e| Failure::new(1, e))?),
        Some(f) => Some(Tmpl::new(f).map_err(|e| Failure::new(1, e))?),
    };
    let mut r = ctx.client.system().events(&q).await?;
    let mut rest = Vec::new();
    while let Some(chunk) = r.chunk().await? {
        rest.extend_from_slice(&chunk);
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = rest.drain(..=i).collect();
            let Ok(e) = serde_json::from_slice::<Value>(&line) else { continue };
            let text = match &tmpl {
                Some(t) => t.render(&crate::template::from_json(&e)).map_err(|e| Failure::new(1, e))?,
                None => event_line(&e),
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_as_the_docker_cli_computes_them() {
        let s = json!({
            "id": "0123456789abcdef", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 1000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 600},
            "memory_stats": {"usage": 3 << 20, "limit": 64 << 20, "stats": {"total_inactive_file": 1 << 20}},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 0}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
            "pids_stats": {"current": 3}
        });
        let f: BTreeMap<_, _> = stats_row("web", &s, true).fields.into_iter().collect();
        assert_eq!(f["CPUPerc"], "100.00%");
        assert_eq!(f["MemUsage"], "2MiB / 64MiB");
        assert_eq!(f["MemPerc"], "3.12%");
        assert_eq!(f["NetIO"], "1.5kB / 0B");
        assert_eq!(f["BlockIO"], "4.1kB / 0B");
        assert_eq!((f["PIDs"].as_str(), f["Name"].as_str(), f["ID"].as_str()), ("3", "web", "0123456789ab"));
    }

    #[test]
    fn event_lines() {
        let e = json!({"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}, "timeNano": 1_700_000_000_500_000_000i64});
        assert_eq!(
            event_line(&e),
            "2023-11-14T22:13:20.500000000Z container start abc (image=busybox, name=web)"
        );
        assert_eq!(event_time(1_000_000_000), "1970-01-01T00:00:01.000000000Z");
    }
}
