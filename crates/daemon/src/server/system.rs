//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::Method;
use tokio::sync::mpsc;

use super::{json, not_found_page, stream, Body, Ctx, HResult};
use berth_engine::events;
use berth_engine::System;

pub async fn route<B: System>(ctx: Ctx<B>, segs: &[&str]) -> HResult {
    match (&ctx.method, segs) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => {
            let head = ctx.method == Method::HEAD;
            let mut r = hyper::Response::new(if head { Body::Empty } else { Body::full("OK") });
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
            h.insert("Pragma", HeaderValue::from_static("no-cache"));
            Ok(r)
        }
        (&Method::GET, ["version"]) => Ok(json(200, &ctx.backend.version())),
        (&Method::GET, ["info"]) => {
            let e = ctx.backend.clone();
            Ok(json(200, &berth_engine::blocking(move || e.info()).await?))
        }
        (&Method::GET, ["system", "df"]) => {
            let e = ctx.backend.clone();
            Ok(json(200, &berth_engine::blocking(move || e.disk_usage()).await?))
        }
        (&Method::GET, ["events"]) => events(ctx),
        _ => Err(not_found_page()),
    }
}

fn events<B: System>(ctx: Ctx<B>) -> HResult {
    let f = ctx.filters()?;
    f.validate(events::FILTERS)?;
    let now = chrono::Utc::now();
    let since = ctx
        .q("since")
        .filter(|s| !s.is_empty())
        .map(|s| berth_api::time::parse_timestamp(s, now))
        .transpose()?;
    let until = ctx
        .q("until")
        .filter(|s| !s.is_empty())
        .map(|s| berth_api::time::parse_timestamp(s, now))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            return Err(berth_api::ApiError::invalid("`since` time must be before `until`"));
        }
    }
    let mut events = ctx.backend.events_watch(f, since, until);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            // A client that has gone ends the watch at once (dropping `events` ends its task).
            let e = tokio::select! {
                e = events.recv() => e,
                _ = tx.closed() => return,
            };
            let Some(e) = e else { return };
            let mut line = serde_json::to_vec(&berth_api::shape::event(&e)).unwrap_or_default();
            line.push(b'\n');
            if tx.send(line).await.is_err() {
                return;
            }
        }
    });
    Ok(stream(200, "application/json", rx))
}
