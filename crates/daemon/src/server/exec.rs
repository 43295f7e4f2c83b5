//! `/exec/{id}/start`, `/exec/{id}/resize`, `/exec/{id}/json`.

use berth_api::models::ExecStartConfig;
use hyper::Method;

use super::containers::hijack;
use super::{empty, json, not_found_page, Ctx, HResult};
use berth_engine::attach::{proxy, StdinMode};
use berth_engine::blocking;
use berth_engine::Execs;

/// How long a failed exec's message waits after the 101 (see its use).
const GLUE_GAP: std::time::Duration = std::time::Duration::from_millis(50);

pub async fn route<B: Execs>(mut ctx: Ctx<B>, segs: &[&str]) -> HResult {
    let e = ctx.backend.clone();
    match (&ctx.method.clone(), &segs[1..]) {
        (&Method::POST, [id, "start"]) => {
            let body: ExecStartConfig = ctx.json().await?;
            let detach = body.detach.unwrap_or(false);
            let id = id.to_string();
            if detach {
                let (e2, id2) = (e.clone(), id.clone());
                blocking(move || e2.exec_start(&id2, true)).await?;
                return Ok(empty(200));
            }
            // Checked now, so a bad exec is an HTTP error; started once the connection is the
            // client's, so no output can arrive glued to the response headers (docker-py would
            // lose it).
            let entry = e.exec_check(&id)?;
            let tty = entry.config.tty.unwrap_or(false);
            let stdin = entry.config.attach_stdin.unwrap_or(false);
            let keys = entry.config.detach_keys.clone().filter(|k| !k.is_empty());
            let detach = match keys {
                Some(k) if tty => berth_api::detachkeys::parse(&k)?,
                None if tty => berth_api::detachkeys::parse(berth_api::detachkeys::DEFAULT)?,
                _ => Vec::new(),
            };
            let ct = super::containers::stream_type(&ctx, tty);
            Ok(hijack(&mut ctx, ct, move |mut conn, probe| async move {
                let (e2, id2) = (e.clone(), id.clone());
                match blocking(move || e2.exec_start(&id2, false)).await {
                    Ok((entry, Some(attached))) => {
                        let mode = StdinMode { forward: stdin, close_on_eof: true, detach };
                        proxy(conn, attached, mode, true, probe, |exit| {
                            e.exec_finished(&entry, exit.map(|x| x.exit_code as i64))
                        })
                        .await;
                    }
                    Ok((_, None)) => {}
                    Err(err) => {
                        // As Docker: the message on the stream, raw on a TTY, else a stdout frame.
                        // A failure found before the shim is asked (an unknown user, a missing
                        // working directory) comes within microseconds of the 101: bytes that
                        // arrive with the headers are lost by clients that read the headers
                        // through a buffer (the Python SDK), so it waits as long as a start
                        // through the shim takes.
                        tokio::time::sleep(GLUE_GAP).await;
                        use tokio::io::AsyncWriteExt;
                        let msg = format!("{err}\r\n");
                        let mut out = Vec::new();
                        if !tty {
                            out.extend_from_slice(&berth_shim::protocol::frame_header(1, msg.len()));
                        }
                        out.extend_from_slice(msg.as_bytes());
                        let _ = conn.write_all(&out).await;
                        let _ = conn.shutdown().await;
                    }
                }
            }))
        }
        (&Method::POST, [id, "resize"]) => {
            let (h, w) = (ctx.int("h")?.unwrap_or(0), ctx.int("w")?.unwrap_or(0));
            let id = id.to_string();
            blocking(move || e.exec_resize(&id, h as u16, w as u16)).await?;
            Ok(empty(200))
        }
        (&Method::GET, [id, "json"]) => Ok(json(200, &e.exec_inspect(id)?)),
        _ => Err(not_found_page()),
    }
}
