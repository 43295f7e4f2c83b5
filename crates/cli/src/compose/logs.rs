//! The containers' output, as Compose shows it: each line after its container's name (padded
//! to the longest, in the service's colour on a terminal), the streams of every container
//! read at once. `logs` prints what was logged (and follows with `-f`); `up` follows what it
//! started until they all stop, one stops (`--abort-on-container-exit`) or the user
//! interrupts, and then stops them.

use std::io::Write;
use std::sync::Arc;

use berth_client::containers::LogsQuery;
use futures::future::join_all;
use serde_json::Value;

use super::args::LogsArgs;
use super::engine::{self, event};
use super::load::Session;
use crate::{Ctx, Failure};

type Result<T = ()> = std::result::Result<T, Failure>;

/// Compose's colours, given to services in turn.
const COLOURS: [&str; 12] = ["36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91"];

/// How each line is introduced.
struct Printer {
    width: usize,
    colour: bool,
    prefix: bool,
}

impl Printer {
    fn new(names: &[String], ansi: &str, no_colour: bool, no_prefix: bool) -> Printer {
        let colour = !no_colour
            && match ansi {
                "never" => false,
                "always" => true,
                _ => berth_client::terminal::is_tty(1) && std::env::var_os("NO_COLOR").is_none(),
            };
        // Compose pads names to one more than the longest.
        Printer { width: names.iter().map(String::len).max().unwrap_or(0) + 1, colour, prefix: !no_prefix }
    }

    fn line(&self, name: &str, colour: &str, line: &[u8]) {
        let mut out = std::io::stdout().lock();
        if self.prefix {
            let p = format!("{name:<w$} | ", w = self.width);
            let _ = if self.colour { write!(out, "\x1b[{colour}m{p}\x1b[0m") } else { write!(out, "{p}") };
        }
        let _ = out.write_all(line);
        if !line.ends_with(b"\n") {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }
}

/// The colour of a service: by its place in the project.
fn colour_of(s: &Session, service: &str) -> &'static str {
    let i = s.project.services.iter().position(|x| x.name == service).unwrap_or(0);
    COLOURS[i % COLOURS.len()]
}

/// Streams one container's log through the printer until it ends.
async fn stream(ctx: &Ctx, p: &Printer, name: &str, colour: &str, q: &LogsQuery) -> Result {
    let containers = ctx.client.containers();
    let tty = containers.inspect(name).await?.config.tty;
    let mut r = containers.logs(name, q).await?;
    let (mut pending, mut line) = (Vec::new(), Vec::new());
    let emit = |data: &[u8], line: &mut Vec<u8>| {
        for b in data {
            line.push(*b);
            if *b == b'\n' {
                p.line(name, colour, line);
                line.clear();
            }
        }
    };
    while let Some(chunk) = r.chunk().await? {
        if tty {
            emit(&chunk, &mut line);
            continue;
        }
        pending.extend_from_slice(&chunk);
        for f in berth_client::demux(&mut pending) {
            emit(&f.data, &mut line);
        }
    }
    if !line.is_empty() {
        p.line(name, colour, &line);
    }
    Ok(())
}

/// `logs`.
pub async fn logs(ctx: &Ctx, s: &Session, a: &LogsArgs) -> Result {
    let services = s.services(&a.services)?;
    let mut rows = engine::service_containers(ctx, &s.project.name, &services, true, false).await?;
    if a.index > 0 {
        rows.retain(|r| engine::label(r, berth_compose::spec::NUMBER) == a.index.to_string());
    }
    let names: Vec<String> = rows.iter().map(engine::row_name).collect();
    let printer = Printer::new(&names, &s.ansi, a.no_color, a.no_log_prefix);
    let q = LogsQuery {
        follow: a.follow,
        timestamps: a.timestamps,
        details: false,
        tail: a.tail.clone(),
        since: a.since.clone(),
        until: a.until.clone(),
    };
    let streams = rows.iter().map(|r| {
        let name = engine::row_name(r);
        let colour = colour_of(s, engine::label(r, berth_compose::spec::SERVICE));
        let (printer, q) = (&printer, &q);
        async move { stream(ctx, printer, &name, colour, q).await }
    });
    join_all(streams).await.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}

/// What `up` follows, and how it ends.
pub struct Follow {
    pub services: Vec<String>,
    pub abort: bool,
    pub exit_code_from: Option<String>,
    pub no_color: bool,
    pub no_prefix: bool,
    pub timestamps: bool,
    pub timeout: Option<i64>,
}

/// `up` in the foreground.
pub async fn follow_up(ctx: &Ctx, s: &Session, f: &Follow) -> Result {
    let rows = engine::service_containers(ctx, &s.project.name, &f.services, true, false).await?;
    let names: Vec<String> = rows.iter().map(engine::row_name).collect();
    let printer = Arc::new(Printer::new(&names, &s.ansi, f.no_color, f.no_prefix));
    println!("Attaching to {}", names.join(", "));
    let q = LogsQuery { follow: true, timestamps: f.timestamps, tail: "all".into(), ..LogsQuery::default() };
    // Each container's stream, ending with its exit code.
    let mut tasks = futures::stream::FuturesUnordered::new();
    let abort = f.abort;
    for r in &rows {
        let name = engine::row_name(r);
        let service = engine::label(r, berth_compose::spec::SERVICE).to_string();
        let colour = colour_of(s, &service);
        let (printer, q) = (printer.clone(), q.clone());
        tasks.push(async move {
            let mut q = q;
            loop {
                let streamed = stream(ctx, &printer, &name, colour, &q).await;
                let code = match ctx.client.containers().wait(&name, Some("not-running")).await {
                    Ok(w) => w.exit().await.map(|e| e.status_code).unwrap_or(-1),
                    Err(_) => -1,
                };
                // A container its restart policy brings back is followed on, from its new output.
                let back = !abort
                    && streamed.is_ok()
                    && ctx
                        .client
                        .containers()
                        .inspect_json(&name, false)
                        .await
                        .is_ok_and(|c| c["State"]["Restarting"] == true || c["State"]["Running"] == true);
                if !back {
                    return (name, service, code, streamed);
                }
                println!("{name} exited with code {code}");
                // Followed again once it runs (a stopped container's log would end at once).
                while ctx
                    .client
                    .containers()
                    .inspect_json(&name, false)
                    .await
                    .is_ok_and(|c| c["State"]["Restarting"] == true)
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                q.tail = "0".into();
            }
        });
    }
    use futures::StreamExt as _;
    let mut exit = 0i64;
    let mut aborting = false;
    loop {
        tokio::select! {
            next = tasks.next() => {
                let Some((name, service, code, streamed)) = next else { break };
                streamed?;
                println!("{name} exited with code {code}");
                if aborting {
                    continue;
                }
                if f.exit_code_from.as_deref().is_none_or(|s| s == service) && (f.abort || f.exit_code_from.is_some()) {
                    exit = code;
                }
                if f.abort {
                    // The others are stopped; their output is still shown to its end.
                    println!("Aborting on container exit...");
                    aborting = true;
                    stop_all(ctx, &rows, f.timeout).await;
                }
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                stop_all(ctx, &rows, f.timeout).await;
                return Err(Failure::exit(130));
            }
        }
    }
    if let Some(from) = &f.exit_code_from {
        // The code of that service's container, whichever stopped first.
        if let Some(r) = rows.iter().find(|r| engine::label(r, berth_compose::spec::SERVICE) == from) {
            let c = ctx.client.containers().inspect_json(&engine::row_name(r), false).await?;
            exit = c["State"]["ExitCode"].as_i64().unwrap_or(exit);
        }
    }
    if exit != 0 {
        return Err(Failure::exit(exit as i32));
    }
    Ok(())
}

async fn stop_all(ctx: &Ctx, rows: &[Value], timeout: Option<i64>) {
    let stops = rows.iter().map(|r| async move {
        let name = engine::row_name(r);
        event("Container", &name, "Stopping");
        let _ = ctx.client.containers().stop(&name, None, timeout).await;
        event("Container", &name, "Stopped");
    });
    join_all(stops).await;
}
