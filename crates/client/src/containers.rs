//! `/containers/…` and `/exec/…` as typed operations: `client.containers().start("web")`.
//!
//! What callers act on comes back typed ([`Created`], [`ContainerInfo`], [`WaitExit`], [`Top`],
//! [`Change`], [`ExecInfo`]); what they only show (lists, a whole inspect for `--format`, stats)
//! comes back as Docker's JSON, which is what Docker's templates are written against.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::{nullable, Body, Client, ClientError, Hijacked, Method, Response};

type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The operations on containers.
pub struct Containers<'a>(pub(crate) &'a Client);

/// `GET /containers/json`'s parameters.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub all: bool,
    pub size: bool,
    pub limit: Option<i64>,
    /// Docker's filters JSON (`{"status":["exited"]}`).
    pub filters: Option<String>,
}

/// A created container.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub warnings: Vec<String>,
}

/// What clients act on in a container's inspect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub state: ContainerState,
    pub config: ContainerConfig,
    pub network_settings: NetworkSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub exit_code: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub tty: bool,
    pub open_stdin: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    /// `"80/tcp"` → its host bindings (none when the port is exposed but not published).
    #[serde(deserialize_with = "nullable")]
    pub ports: BTreeMap<String, Option<Vec<PortBinding>>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// How a wait ended.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitExit {
    pub status_code: i64,
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WaitError {
    pub message: String,
}

/// A wait registered with the daemon (its headers are in, so no exit after this is missed);
/// the exit comes with the body.
pub struct PendingWait(Response);

impl PendingWait {
    pub async fn exit(self) -> Result<WaitExit> {
        let body = self.0.bytes().await?;
        Ok(serde_json::from_slice(&body).unwrap_or_default())
    }
}

/// `attach`'s parameters.
#[derive(Debug, Clone, Default)]
pub struct AttachQuery {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Replay the log before the live streams.
    pub logs: bool,
    pub detach_keys: Option<String>,
}

/// `logs`' parameters (both streams are always asked for).
#[derive(Debug, Clone, Default)]
pub struct LogsQuery {
    pub follow: bool,
    pub timestamps: bool,
    pub details: bool,
    /// `all` or a number of lines.
    pub tail: String,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// `rm`'s parameters.
#[derive(Debug, Clone, Default)]
pub struct RemoveQuery {
    pub force: bool,
    pub volumes: bool,
    pub link: bool,
}

/// `commit`'s parameters.
#[derive(Debug, Clone, Default)]
pub struct CommitQuery {
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// Dockerfile instructions to apply (`CMD ["sh"]`).
    pub changes: Vec<String>,
    pub pause: bool,
}

/// `top`'s table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Top {
    pub titles: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub processes: Vec<Vec<String>>,
}

/// One change of `diff`: kind 0 modified, 1 added, 2 deleted.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub path: String,
    pub kind: u8,
}

fn flag(on: bool) -> String {
    if on { "1" } else { "0" }.to_string()
}

impl Containers<'_> {
    fn path(name: &str, action: &str) -> String {
        if action.is_empty() {
            format!("/containers/{name}")
        } else {
            format!("/containers/{name}/{action}")
        }
    }

    async fn post(&self, name: &str, action: &str, q: &[(&str, String)]) -> Result<Value> {
        self.0.post(&Self::path(name, action), q, Body::Empty).await
    }

    /// The rows of `ps`, as Docker's JSON.
    pub async fn list(&self, q: &ListQuery) -> Result<Vec<Value>> {
        let mut query = vec![];
        if q.all {
            query.push(("all", flag(true)));
        }
        if q.size {
            query.push(("size", flag(true)));
        }
        if let Some(n) = q.limit {
            query.push(("limit", n.to_string()));
        }
        if let Some(f) = &q.filters {
            query.push(("filters", f.clone()));
        }
        let v = self.0.get("/containers/json", &query).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Creates a container from Docker's create body.
    pub async fn create(&self, name: Option<&str>, platform: Option<&str>, body: &Value) -> Result<Created> {
        let mut q = vec![];
        if let Some(n) = name {
            q.push(("name", n.to_string()));
        }
        if let Some(p) = platform {
            q.push(("platform", p.to_string()));
        }
        let v = self.0.post("/containers/create", &q, Body::Json(body.clone())).await?;
        crate::decode(v)
    }

    pub async fn inspect(&self, name: &str) -> Result<ContainerInfo> {
        crate::decode(self.inspect_json(name, false).await?)
    }

    /// The whole inspect, as Docker's JSON (what `--format` templates see).
    pub async fn inspect_json(&self, name: &str, size: bool) -> Result<Value> {
        let q = if size { vec![("size", flag(true))] } else { vec![] };
        self.0.get(&Self::path(name, "json"), &q).await
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        self.post(name, "start", &[]).await.map(drop)
    }

    /// `stop` or `restart` (`verb`), with the signal and the seconds to wait for it.
    async fn halt(&self, name: &str, verb: &str, signal: Option<&str>, timeout: Option<i64>) -> Result<()> {
        let mut q = vec![];
        if let Some(s) = signal {
            q.push(("signal", s.to_string()));
        }
        if let Some(t) = timeout {
            q.push(("t", t.to_string()));
        }
        self.post(name, verb, &q).await.map(drop)
    }

    pub async fn stop(&self, name: &str, signal: Option<&str>, timeout: Option<i64>) -> Result<()> {
        self.halt(name, "stop", signal, timeout).await
    }

    pub async fn restart(&self, name: &str, signal: Option<&str>, timeout: Option<i64>) -> Result<()> {
        self.halt(name, "restart", signal, timeout).await
    }

    pub async fn kill(&self, name: &str, signal: Option<&str>) -> Result<()> {
        let q: Vec<_> = signal.map(|s| ("signal", s.to_string())).into_iter().collect();
        self.post(name, "kill", &q).await.map(drop)
    }

    pub async fn pause(&self, name: &str) -> Result<()> {
        self.post(name, "pause", &[]).await.map(drop)
    }

    pub async fn unpause(&self, name: &str) -> Result<()> {
        self.post(name, "unpause", &[]).await.map(drop)
    }

    pub async fn remove(&self, name: &str, q: &RemoveQuery) -> Result<()> {
        let mut query = vec![];
        for (k, on) in [("force", q.force), ("v", q.volumes), ("link", q.link)] {
            if on {
                query.push((k, flag(true)));
            }
        }
        self.0.delete(&Self::path(name, ""), &query).await.map(drop)
    }

    pub async fn rename(&self, name: &str, new: &str) -> Result<()> {
        self.post(name, "rename", &[("name", new.to_string())]).await.map(drop)
    }

    /// The terminal size of the container's process.
    pub async fn resize(&self, name: &str, h: u16, w: u16) -> Result<()> {
        self.post(name, "resize", &[("h", h.to_string()), ("w", w.to_string())]).await.map(drop)
    }

    /// Changes resources or the restart policy; the daemon's warnings.
    pub async fn update(&self, name: &str, body: &Value) -> Result<Vec<String>> {
        let v = self.0.post(&Self::path(name, "update"), &[], Body::Json(body.clone())).await?;
        Ok(v["Warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(String::from))
            .collect())
    }

    /// Registers a wait for `condition` (`next-exit`, `removed`; the daemon's default
    /// `not-running` when none).
    pub async fn wait(&self, name: &str, condition: Option<&str>) -> Result<PendingWait> {
        let q: Vec<_> = condition.map(|c| ("condition", c.to_string())).into_iter().collect();
        let r = self.0.request(Method::POST, &Self::path(name, "wait"), &q, Body::Empty).await?;
        Ok(PendingWait(r))
    }

    /// Takes the connection over for the container's streams.
    pub async fn attach(&self, name: &str, q: &AttachQuery) -> Result<Hijacked> {
        let mut query = vec![("stream", flag(true))];
        for (k, on) in [("stdin", q.stdin), ("stdout", q.stdout), ("stderr", q.stderr), ("logs", q.logs)] {
            if on {
                query.push((k, flag(true)));
            }
        }
        if let Some(k) = &q.detach_keys {
            query.push(("detachKeys", k.clone()));
        }
        self.0.hijack(&Self::path(name, "attach"), &query, Body::Empty).await
    }

    /// The log as it streams (framed unless the container has a TTY).
    pub async fn logs(&self, name: &str, q: &LogsQuery) -> Result<Response> {
        let mut query = vec![("stdout", flag(true)), ("stderr", flag(true)), ("tail", q.tail.clone())];
        for (k, on) in [("follow", q.follow), ("timestamps", q.timestamps), ("details", q.details)] {
            if on {
                query.push((k, flag(true)));
            }
        }
        if let Some(s) = &q.since {
            query.push(("since", s.clone()));
        }
        if let Some(u) = &q.until {
            query.push(("until", u.clone()));
        }
        self.0.request(Method::GET, &Self::path(name, "logs"), &query, Body::Empty).await
    }

    pub async fn top(&self, name: &str, ps_args: Option<&str>) -> Result<Top> {
        let q: Vec<_> = ps_args.map(|a| ("ps_args", a.to_string())).into_iter().collect();
        crate::decode(self.0.get(&Self::path(name, "top"), &q).await?)
    }

    /// One sample of the container's stats, as Docker's JSON.
    pub async fn stats_once(&self, name: &str) -> Result<Value> {
        self.0.get(&Self::path(name, "stats"), &[("stream", "false".into())]).await
    }

    pub async fn changes(&self, name: &str) -> Result<Vec<Change>> {
        let v = self.0.get(&Self::path(name, "changes"), &[]).await?;
        if v.is_null() {
            return Ok(Vec::new());
        }
        crate::decode(v)
    }

    /// The container's filesystem as a tar stream.
    pub async fn export(&self, name: &str) -> Result<Response> {
        self.0.request(Method::GET, &Self::path(name, "export"), &[], Body::Empty).await
    }

    /// The stat of `path` in the container (the daemon's `X-Docker-Container-Path-Stat`, as
    /// JSON); a missing path is not found.
    pub async fn archive_stat(&self, name: &str, path: &str) -> Result<Option<Value>> {
        use base64::Engine;
        let r = self
            .0
            .request(Method::HEAD, &Self::path(name, "archive"), &[("path", path.to_string())], Body::Empty)
            .await?;
        let header = r.header("x-docker-container-path-stat").unwrap_or("");
        let raw = base64::engine::general_purpose::STANDARD.decode(header).unwrap_or_default();
        Ok(serde_json::from_slice(&raw).ok())
    }

    /// `path` in the container as a tar stream.
    pub async fn archive_get(&self, name: &str, path: &str) -> Result<Response> {
        self.0
            .request(Method::GET, &Self::path(name, "archive"), &[("path", path.to_string())], Body::Empty)
            .await
    }

    /// Unpacks the tar `body` into the directory `dir` of the container.
    pub async fn archive_put(
        &self,
        name: &str,
        dir: &str,
        no_overwrite_dir_non_dir: bool,
        body: Body,
    ) -> Result<()> {
        let q = [("path", dir.to_string()), ("noOverwriteDirNonDir", no_overwrite_dir_non_dir.to_string())];
        self.0.request(Method::PUT, &Self::path(name, "archive"), &q, body).await.map(drop)
    }

    /// Creates an exec from Docker's exec body; its ID.
    pub async fn exec(&self, name: &str, body: &Value) -> Result<String> {
        let v = self.0.post(&Self::path(name, "exec"), &[], Body::Json(body.clone())).await?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }

    /// Commits the container `name` as an image; its ID.
    pub async fn commit(&self, name: &str, c: &CommitQuery) -> Result<String> {
        let mut q = vec![("container", name.to_string()), ("pause", c.pause.to_string())];
        if let Some(repo) = &c.repo {
            q.push(("repo", repo.clone()));
            q.push(("tag", c.tag.clone().unwrap_or_default()));
        }
        if let Some(m) = &c.comment {
            q.push(("comment", m.clone()));
        }
        if let Some(a) = &c.author {
            q.push(("author", a.clone()));
        }
        q.extend(c.changes.iter().map(|ch| ("changes", ch.clone())));
        let v = self.0.post("/commit", &q, Body::Json(serde_json::json!({}))).await?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }
}

/// The operations on execs.
pub struct Execs<'a>(pub(crate) &'a Client);

/// What clients act on in an exec's inspect.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInfo {
    pub running: bool,
    pub exit_code: Option<i64>,
}

impl Execs<'_> {
    fn body(detach: bool, tty: bool) -> Body {
        Body::Json(serde_json::json!({"Detach": detach, "Tty": tty}))
    }

    /// Starts the exec and returns at once.
    pub async fn start_detached(&self, id: &str, tty: bool) -> Result<()> {
        self.0.post(&format!("/exec/{id}/start"), &[], Self::body(true, tty)).await.map(drop)
    }

    /// Starts the exec with its streams on the connection, which the daemon takes over.
    pub async fn start_attached(&self, id: &str, tty: bool) -> Result<Hijacked> {
        self.0.hijack(&format!("/exec/{id}/start"), &[], Self::body(false, tty)).await
    }

    pub async fn inspect(&self, id: &str) -> Result<ExecInfo> {
        crate::decode(self.0.get(&format!("/exec/{id}/json"), &[]).await?)
    }

    pub async fn resize(&self, id: &str, h: u16, w: u16) -> Result<()> {
        let q = [("h", h.to_string()), ("w", w.to_string())];
        self.0.post(&format!("/exec/{id}/resize"), &q, Body::Empty).await.map(drop)
    }
}
