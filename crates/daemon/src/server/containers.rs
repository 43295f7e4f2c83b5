//! `/containers/…` and `/commit`.

use std::sync::Arc;

use berth_api::models::{ContainerConfig, ContainerUpdateBody};
use berth_api::ApiError;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::mpsc;

use super::{empty, json, not_found_page, stream, Body, Ctx, HResult, Resp};
use berth_engine::attach::{proxy, HangupProbe, StdinMode};
use berth_engine::lifecycle::WaitCondition;
use berth_engine::{
    blocking, AttachOptions, Container, Containers, Execs, Lifecycle, ListOptions, LogOptions,
};

const RAW: &str = "application/vnd.docker.raw-stream";
const MUX: &str = "application/vnd.docker.multiplexed-stream";

pub async fn route<B: Containers + Lifecycle + Execs>(mut ctx: Ctx<B>, segs: &[&str]) -> HResult {
    let e = ctx.backend.clone();
    let m = ctx.method.clone();
    if segs == ["commit"] && m == Method::POST {
        return commit(ctx).await;
    }
    match (&m, &segs[1..]) {
        (&Method::POST, ["create"]) => {
            let body = berth_api::request::container_create(ctx.json().await?)?;
            let name = ctx.q("name").map(String::from);
            let created = blocking(move || e.create(name.as_deref(), body)).await?;
            Ok(json(201, &json!({"Id": created.id, "Warnings": created.warnings})))
        }
        (&Method::GET, ["json"]) => {
            let o = ListOptions {
                all: ctx.flag("all"),
                limit: ctx.int("limit")?.filter(|l| *l > 0).map(|l| l as usize),
                size: ctx.flag("size"),
                filters: ctx.filters()?,
            };
            let rows = blocking(move || e.list(&o)).await?;
            Ok(json(200, &rows))
        }
        (&Method::POST, ["prune"]) => {
            let f = ctx.filters()?;
            let r = e.prune(&f).await?;
            let deleted = if r.deleted.is_empty() { serde_json::Value::Null } else { json!(r.deleted) };
            Ok(json(200, &json!({"ContainersDeleted": deleted, "SpaceReclaimed": r.reclaimed})))
        }
        (_, [id, rest @ ..]) => {
            let c = e.container(id)?;
            one(ctx, c, rest).await
        }
        _ => Err(not_found_page()),
    }
}

async fn one<B: Containers + Lifecycle + Execs>(
    mut ctx: Ctx<B>,
    c: Arc<Container>,
    rest: &[&str],
) -> HResult {
    let e = ctx.backend.clone();
    let m = ctx.method.clone();
    match (&m, rest) {
        (&Method::GET, ["json"]) => {
            let size = ctx.flag("size");
            Ok(json(200, &blocking(move || e.inspect(&c, size)).await?))
        }
        (&Method::DELETE, []) => {
            e.remove(&c, ctx.flag("force"), ctx.flag("v")).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["start"]) => {
            e.start(&c).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["stop"]) => {
            let t = ctx.int("t")?.or(ctx.int("timeout")?);
            e.stop(&c, ctx.q("signal"), t).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["restart"]) => {
            let t = ctx.int("t")?.or(ctx.int("timeout")?);
            e.restart(&c, ctx.q("signal"), t).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["kill"]) => {
            e.kill(&c, ctx.q("signal")).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["pause"]) => {
            e.pause(&c).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["unpause"]) => {
            e.unpause(&c).await?;
            Ok(empty(204))
        }
        (&Method::POST, ["rename"]) => {
            let name = ctx.q("name").unwrap_or_default().to_string();
            e.rename(&c, &name)?;
            Ok(empty(204))
        }
        (&Method::POST, ["update"]) => {
            let u: ContainerUpdateBody = ctx.json().await?;
            let warnings = e.update_container(&c, u).await?;
            Ok(json(200, &json!({"Warnings": warnings})))
        }
        (&Method::POST, ["resize"]) => {
            let (h, w) = (ctx.int("h")?.unwrap_or(0), ctx.int("w")?.unwrap_or(0));
            let shim_dir = c.id.clone();
            blocking(move || e.resize(&shim_dir, h as u16, w as u16)).await?;
            Ok(empty(200))
        }
        (&Method::POST, ["wait"]) => {
            let cond = WaitCondition::parse(ctx.q("condition"))?;
            let (tx, rx) = mpsc::channel(1);
            // Subscribed before the headers go out, so an exit right after is not missed.
            let waiter = {
                let e = e.clone();
                let c = c.clone();
                async move { e.wait(&c, cond).await }
            };
            tokio::spawn(async move {
                let v = match waiter.await {
                    Ok(code) => json!({"StatusCode": code, "Error": null}),
                    Err(err) => json!({"StatusCode": -1, "Error": {"Message": err.to_string()}}),
                };
                let mut b = serde_json::to_vec(&v).unwrap_or_default();
                b.push(b'\n');
                let _ = tx.send(b).await;
            });
            tokio::task::yield_now().await;
            Ok(stream(200, "application/json", rx))
        }
        (&Method::GET, ["logs"]) => logs(ctx, c),
        (&Method::POST, ["attach"]) => attach(ctx, c).await,
        (&Method::GET, ["top"]) => {
            let args = ctx.q("ps_args").unwrap_or_default().to_string();
            Ok(json(200, &blocking(move || e.top(&c, &args)).await?))
        }
        (&Method::GET, ["changes"]) => Ok(json(200, &blocking(move || e.changes(&c)).await?)),
        (&Method::GET, ["stats"]) => {
            let streaming = ctx.flag_or("stream", true);
            let one_shot = ctx.flag("one-shot");
            let (tx, rx) = mpsc::channel(4);
            tokio::spawn(async move { e.stats(c, streaming, one_shot, tx).await });
            Ok(stream(200, "application/json", rx))
        }
        (&Method::GET, ["export"]) => {
            let (tx, rx) = mpsc::channel(16);
            tokio::task::spawn_blocking(move || {
                let w = berth_engine::fs::ChanWriter(tx);
                if let Err(err) = e.export(&c, w) {
                    tracing::warn!(error = %err, "export failed");
                }
            });
            Ok(stream(200, "application/x-tar", rx))
        }
        (&Method::HEAD | &Method::GET | &Method::PUT, ["archive"]) => archive(ctx, c).await,
        (&Method::POST, ["exec"]) => {
            let cfg = berth_api::request::exec_create(ctx.json().await?)?;
            let id = e.exec_create(&c, cfg)?;
            Ok(json(201, &json!({"Id": id})))
        }
        _ => Err(not_found_page()),
    }
}

pub(super) fn stream_type<B>(ctx: &Ctx<B>, tty: bool) -> &'static str {
    if tty || ctx.version < berth_api::ApiVersion(1, 42) {
        RAW
    } else {
        MUX
    }
}

fn logs<B: Containers + Lifecycle + Execs>(ctx: Ctx<B>, c: Arc<Container>) -> HResult {
    let now = chrono::Utc::now();
    let time = |k: &str| -> Result<Option<i64>, ApiError> {
        match ctx.q(k).filter(|v| !v.is_empty() && *v != "0") {
            Some(v) => berth_api::time::parse_timestamp(v, now).map(Some),
            None => Ok(None),
        }
    };
    let o =
        LogOptions {
            stdout: ctx.flag("stdout"),
            stderr: ctx.flag("stderr"),
            follow: ctx.flag("follow"),
            since: time("since")?,
            until: time("until")?,
            timestamps: ctx.flag("timestamps"),
            tail: match ctx.q("tail").unwrap_or("all") {
                "all" | "" => None,
                n => Some(n.parse::<i64>().map(|n| if n < 0 { usize::MAX } else { n as usize }).map_err(
                    |_| ApiError::invalid(format!("invalid value for tail: {n:?}: use a number or all")),
                )?)
                .filter(|n| *n != usize::MAX),
            },
        };
    let (rx, tty) = ctx.backend.logs(c, o)?;
    Ok(stream(200, stream_type(&ctx, tty), rx))
}

/// A switching-protocols answer; the connection is the caller's afterwards.
pub fn upgraded(content_type: &'static str) -> Resp {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Hands the hijacked (or, for clients that do not upgrade, the response body's) byte stream
/// to `run`.
pub fn hijack<F, Fut, B>(ctx: &mut Ctx<B>, content_type: &'static str, run: F) -> Resp
where
    F: FnOnce(Box<dyn Conn>, Option<HangupProbe>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if ctx.wants_upgrade() {
        let on = ctx.upgrade.take();
        let probe = ctx.parts.extensions.get::<super::PeerFd>().map(|p| HangupProbe(p.0));
        tokio::spawn(async move {
            let Some(on) = on else { return };
            match on.await {
                Ok(up) => run(Box::new(TokioIo::new(up)), probe).await,
                Err(e) => tracing::debug!(error = %e, "upgrade failed"),
            }
        });
        return upgraded(content_type);
    }
    // No upgrade asked for: the output goes in the response body; there is no input.
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut theirs = theirs;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match theirs.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(run(Box::new(ours), None));
    stream(200, content_type, rx)
}

/// A hijacked connection.
pub trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Conn for T {}

async fn attach<B: Containers + Lifecycle + Execs>(mut ctx: Ctx<B>, c: Arc<Container>) -> HResult {
    let opts =
        AttachOptions { stdin: ctx.flag("stdin"), stdout: ctx.flag("stdout"), stderr: ctx.flag("stderr") };
    let (streaming, logs) = (ctx.flag("stream"), ctx.flag("logs"));
    let rec = c.snapshot();
    let tty = rec.config.tty.unwrap_or(false);
    let e = ctx.backend.clone();
    let source = if streaming { Some(e.attach(&c, opts)?) } else { None };
    // What the log holds so far, when asked for (`logs`), before the live streams.
    let replay = if logs {
        let o = LogOptions { stdout: opts.stdout, stderr: opts.stderr, ..Default::default() };
        Some(e.logs(c.clone(), o)?.0)
    } else {
        None
    };
    let stdin_once = rec.config.stdin_once.unwrap_or(false);
    let keys = ctx.q("detachKeys").filter(|k| !k.is_empty()).unwrap_or(berth_api::detachkeys::DEFAULT);
    let detach = if tty { berth_api::detachkeys::parse(keys)? } else { Vec::new() };
    let ct = stream_type(&ctx, tty);
    Ok(hijack(&mut ctx, ct, move |mut conn, probe| async move {
        use tokio::io::AsyncWriteExt;
        if let Some(mut rx) = replay {
            while let Some(b) = rx.recv().await {
                if conn.write_all(&b).await.is_err() {
                    return;
                }
            }
        }
        let Some(source) = source else {
            let _ = conn.shutdown().await;
            return;
        };
        match source.get().await {
            Ok(a) => {
                let mode = StdinMode { forward: opts.stdin, close_on_eof: stdin_once, detach };
                proxy(conn, a, mode, false, probe, |_| ()).await;
            }
            Err(err) => {
                tracing::debug!(error = %err, "attach ended before the container started");
                let _ = conn.shutdown().await;
            }
        }
    }))
}

async fn archive<B: Containers + Lifecycle + Execs>(mut ctx: Ctx<B>, c: Arc<Container>) -> HResult {
    let e = ctx.backend.clone();
    let path = ctx
        .q("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("path is required: name a path in the container"))?
        .to_string();
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    match ctx.method.clone() {
        Method::PUT => {
            let no_overwrite = ctx.flag("noOverwriteDirNonDir");
            let mut body = ctx.body_reader()?;
            blocking(move || {
                let r = e.archive_put(&c, &path, no_overwrite, &mut body);
                body.drain();
                r
            })
            .await?;
            Ok(empty(200))
        }
        m => {
            let (e2, c2, p2) = (e.clone(), c.clone(), path.clone());
            let st = blocking(move || e2.archive_stat(&c2, &p2)).await?;
            use base64::Engine as _;
            let header =
                base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&st).unwrap_or_default());
            let mut r = if m == Method::HEAD {
                empty(200)
            } else {
                let (tx, rx) = mpsc::channel(16);
                tokio::task::spawn_blocking(move || {
                    if let Err(err) = e.archive_get(&c, &path, berth_engine::fs::ChanWriter(tx)) {
                        tracing::warn!(error = %err, "archive failed");
                    }
                });
                stream(200, "application/x-tar", rx)
            };
            if let Ok(v) = HeaderValue::from_str(&header) {
                r.headers_mut().insert("X-Docker-Container-Path-Stat", v);
            }
            if m == Method::HEAD {
                r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
            }
            Ok(r)
        }
    }
}

async fn commit<B: Containers + Lifecycle + Execs>(mut ctx: Ctx<B>) -> HResult {
    let e = ctx.backend.clone();
    let cname = ctx.q("container").unwrap_or_default().to_string();
    let c = e.container(&cname)?;
    let repo = ctx.q("repo").unwrap_or_default().to_string();
    let tag = ctx.q("tag").unwrap_or_default().to_string();
    let reference = match (repo.is_empty(), tag.is_empty()) {
        (true, _) => None,
        (false, true) => Some(repo),
        (false, false) => Some(format!("{repo}:{tag}")),
    };
    let comment = ctx.q("comment").map(String::from);
    let author = ctx.q("author").map(String::from);
    let pause = ctx.flag_or("pause", true);
    let changes = ctx
        .query_all("changes")
        .into_iter()
        .flat_map(|c| c.lines().map(String::from).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    let config: Option<ContainerConfig> = {
        let v: serde_json::Value = ctx.json().await?;
        if v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) {
            None
        } else {
            Some(
                serde_json::from_value(v)
                    .map_err(|err| ApiError::invalid(format!("invalid config: {err}")))?,
            )
        }
    };
    let id = blocking(move || e.commit(&c, reference, comment, author, changes, pause, config)).await?;
    Ok(json(201, &json!({"Id": id})))
}
