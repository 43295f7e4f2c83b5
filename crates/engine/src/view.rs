//! What users see of containers: `inspect` and the list with its filters.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::shape::{self, ContainerDetails, ContainerRow};
use berth_api::Filters;

use super::record::{ContainerRecord, Status};
use super::{Container, Engine};
use crate::error::{EngineError, Result};

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub size: bool,
    pub filters: Filters,
}

const FILTERS: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "exited",
    "ancestor",
    "before",
    "since",
    "health",
    "network",
    "volume",
    "publish",
    "expose",
    "isolation",
    "is-task",
];

/// `sh -c 'echo hi'`: the command as Docker shows it in the list.
pub fn command_text(path: &str, args: &[String]) -> String {
    let quote = |a: &str| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    std::iter::once(path.to_string()).chain(args.iter().map(|a| quote(a))).collect::<Vec<_>>().join(" ")
}

pub(crate) fn state_view(rec: &ContainerRecord) -> shape::State {
    let s = &rec.state;
    shape::State {
        status: s.status.as_str().into(),
        running: s.status.is_live(),
        paused: s.status == Status::Paused,
        restarting: s.status == Status::Restarting,
        oom_killed: s.oom_killed,
        dead: s.status == Status::Dead,
        pid: s.pid,
        exit_code: s.exit_code,
        error: s.error.clone(),
        started_at: if s.started_at.is_empty() {
            "0001-01-01T00:00:00Z".into()
        } else {
            s.started_at.clone()
        },
        finished_at: if s.finished_at.is_empty() {
            "0001-01-01T00:00:00Z".into()
        } else {
            s.finished_at.clone()
        },
        health: s.health.clone(),
    }
}

impl Engine {
    pub fn inspect(&self, c: &Arc<Container>, size: bool) -> Result<serde_json::Value> {
        let rec = c.snapshot();
        let run = self.run_dir(&rec.id);
        let dir = self.data_dir(&rec.id);
        let mut graph = BTreeMap::new();
        graph.insert("MergedDir".to_string(), run.join("rootfs").display().to_string());
        let sizes = if size { Some(self.sizes(&rec)) } else { None };
        let mounts = self.mount_views(&rec);
        let d = ContainerDetails {
            id: rec.id.clone(),
            created: rec.created.clone(),
            path: rec.path.clone(),
            args: rec.args.clone(),
            state: state_view(&rec),
            image: rec.image_id.clone(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            log_path: if rec.host_config.log_config.as_ref().and_then(|l| l.typ.as_deref()) == Some("none") {
                String::new()
            } else {
                self.log_path(&rec).display().to_string()
            },
            name: format!("/{}", rec.name),
            restart_count: rec.restart_count,
            driver: self.images.snapshotter().to_string(),
            exec_ids: c.exec_ids.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            host_config: rec.host_config.clone(),
            graph_driver: graph,
            mounts,
            config: rec.config.clone(),
            sandbox_id: String::new(),
            sandbox_key: self.sandbox_key(&rec),
            endpoints: self.endpoint_views(&rec),
            ports: self.port_views(&rec),
            size: sizes,
        };
        Ok(shape::container_inspect(&d))
    }

    /// (SizeRw, SizeRootFs).
    fn sizes(&self, rec: &ContainerRecord) -> (i64, i64) {
        let rw = self.images.rootfs_usage(&rec.id).unwrap_or(0) as i64;
        let image = self.images.resolve(&rec.image_id).map(|i| i.size as i64).unwrap_or(0);
        (rw, rw + image)
    }

    pub fn list(&self, o: &ListOptions) -> Result<Vec<serde_json::Value>> {
        let f = &o.filters;
        f.validate(FILTERS)?;
        for s in f.get("status") {
            if !["created", "restarting", "running", "removing", "paused", "exited", "dead"]
                .contains(&s.as_str())
            {
                return Err(EngineError::InvalidArgument(format!("invalid filter 'status={s}'")));
            }
        }
        for h in f.get("health") {
            if !["starting", "healthy", "unhealthy", "none"].contains(&h.as_str()) {
                return Err(EngineError::InvalidArgument(format!(
                    "Unrecognised filter value for health: {h}"
                )));
            }
        }
        let mut recs: Vec<ContainerRecord> = self.containers().iter().map(|c| c.snapshot()).collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let created_of = |name: &str| -> Result<String> { Ok(self.container(name)?.rec().created.clone()) };
        let before = f.get("before").first().map(|n| created_of(n)).transpose()?;
        let since = f.get("since").first().map(|n| created_of(n)).transpose()?;
        let ancestors: Vec<String> = f
            .get("ancestor")
            .iter()
            .filter_map(|a| self.images.resolve(a).ok().map(|i| i.id.to_string()))
            .collect();
        let now = crate::events::now_nanos();
        let all = o.all
            || o.limit.is_some()
            || f.contains("status")
            || f.contains("exited")
            || before.is_some()
            || since.is_some();
        let mut out = Vec::new();
        for rec in recs {
            let st = rec.state.status;
            if !all && !st.is_live() && st != Status::Restarting {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            let health = rec.state.health.as_ref().map(|h| h.status.as_str()).unwrap_or("none");
            let keep = f.any("id", |v| rec.id.starts_with(v))
                && f.any("name", |v| rec.name.contains(v.trim_start_matches('/')))
                && f.match_labels("label", |k| labels.get(k).map(String::as_str))
                && f.any("status", |v| v == st.as_str())
                && f.any("exited", |v| {
                    st == Status::Exited && v.parse::<i64>().ok() == Some(rec.state.exit_code)
                })
                && (f.get("ancestor").is_empty()
                    || ancestors.contains(&rec.image_id)
                    || f.get("ancestor").contains(&rec.image))
                && before.as_ref().is_none_or(|b| rec.created < *b)
                && since.as_ref().is_none_or(|s| rec.created > *s)
                && f.any("health", |v| v == health)
                && f.any("network", |v| rec.host_config.network_mode.as_deref() == Some(v));
            if !keep {
                continue;
            }
            let row = ContainerRow {
                id: rec.id.clone(),
                names: vec![format!("/{}", rec.name)],
                image: rec.image.clone(),
                image_id: rec.image_id.clone(),
                command: command_text(&rec.path, &rec.args),
                created: berth_api::time::nanos_of(&rec.created) / 1_000_000_000,
                labels: labels.into_iter().collect(),
                state: st.as_str().into(),
                status: shape::status_text(&state_view(&rec), now),
                network_mode: rec.host_config.network_mode.clone().unwrap_or_default(),
                endpoints: self.endpoint_views(&rec),
                ports: self.port_views(&rec),
                mounts: self.mount_views(&rec),
                size: if o.size { Some(self.sizes(&rec)) } else { None },
            };
            out.push(shape::container_row(&row));
            if o.limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn commands_are_quoted_as_docker_shows_them() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("sh", &["-c", "echo hi"], "sh -c 'echo hi'"),
            ("sleep", &["100"], "sleep 100"),
            ("true", &[], "true"),
            ("echo", &["it's"], "echo 'it'\\''s'"),
            ("echo", &[""], "echo ''"),
        ];
        for (p, a, want) in cases {
            let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            assert_eq!(super::command_text(p, &args), *want);
        }
    }
}
