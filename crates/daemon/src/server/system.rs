//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::Method;
use tokio::sync::{broadcast, mpsc};

use super::{json, not_found_page, stream, Body, Ctx, HResult};
use berth_engine::events;

pub async fn route(ctx: Ctx, segs: &[&str]) -> HResult {
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
        (&Method::GET, ["version"]) => Ok(json(200, &ctx.engine.version())),
        (&Method::GET, ["info"]) => {
            let e = ctx.engine.clone();
            Ok(json(200, &berth_engine::blocking(move || e.info()).await?))
        }
        (&Method::GET, ["system", "df"]) => {
            let e = ctx.engine.clone();
            Ok(json(200, &berth_engine::blocking(move || e.disk_usage()).await?))
        }
        (&Method::GET, ["events"]) => events(ctx),
        _ => Err(not_found_page()),
    }
}

fn events(ctx: Ctx) -> HResult {
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
    let (past, mut live) = ctx.engine.events.subscribe(since);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let line = |e: &berth_api::shape::Event| {
            let mut b = serde_json::to_vec(&berth_api::shape::event(e)).unwrap_or_default();
            b.push(b'\n');
            b
        };
        for e in past.iter().filter(|e| events::matches(&f, e) && until.is_none_or(|u| e.time_nano <= u)) {
            if tx.send(line(e)).await.is_err() {
                return;
            }
        }
        loop {
            let wait = match until {
                Some(u) => {
                    let left = u - events::now_nanos();
                    if left <= 0 {
                        return;
                    }
                    std::time::Duration::from_nanos(left as u64)
                }
                None => std::time::Duration::from_secs(3600),
            };
            let e = tokio::select! {
                e = live.recv() => e,
                _ = tokio::time::sleep(wait) => { if until.is_some() { return; } continue; }
                _ = tx.closed() => return,
            };
            match e {
                Ok(e) if events::matches(&f, &e) && until.is_none_or(|u| e.time_nano <= u) => {
                    if tx.send(line(&e)).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Ok(stream(200, "application/json", rx))
}
