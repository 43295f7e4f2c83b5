//! Healthchecks: while a container with a healthcheck runs, a task probes it (an exec through
//! the shim) every interval (`StartInterval` during the start period), with a timeout, keeps
//! the last five results, counts failures against `Retries` (not during the start period),
//! and publishes `health_status: healthy|unhealthy` when the status changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_api::models::ExecConfig;
use berth_api::shape::{Health, HealthLog};
use berth_records::HealthConfig;

use super::{Container, Engine};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;
const MAX_OUTPUT: usize = 4096;
const KEEP: usize = 5;

pub(crate) fn enabled(h: &HealthConfig) -> bool {
    h.test.as_ref().and_then(|t| t.first()).is_some_and(|t| t != "NONE")
}

fn dur(ns: Option<i64>, default: Duration) -> Duration {
    match ns {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// The probe's command.
fn probe_args(h: &HealthConfig) -> Vec<String> {
    let t = h.test.clone().unwrap_or_default();
    match t.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), t[1..].join(" ")],
        Some("CMD") => t[1..].to_vec(),
        _ => Vec::new(),
    }
}

/// The next health after a probe; `in_start_period` failures do not count.
pub fn next_health(prev: &Health, result: HealthLog, retries: i64, in_start_period: bool) -> Health {
    let mut h = prev.clone();
    let ok = result.exit_code == 0;
    h.log.push(result);
    if h.log.len() > KEEP {
        let drop = h.log.len() - KEEP;
        h.log.drain(..drop);
    }
    if ok {
        h.failing_streak = 0;
        h.status = "healthy".into();
    } else if !in_start_period {
        h.failing_streak += 1;
        if h.failing_streak >= retries {
            h.status = "unhealthy".into();
        }
    }
    h
}

impl Engine {
    pub(crate) fn start_health(self: &Arc<Self>, c: &Arc<Container>) {
        let Some(h) = c.rec().config.healthcheck.clone().filter(enabled) else { return };
        let engine = self.clone();
        let c2 = c.clone();
        let task = tokio::spawn(async move { engine.health_loop(c2, h).await });
        if let Some(old) = c.health.lock().unwrap_or_else(|e| e.into_inner()).replace(task.abort_handle()) {
            old.abort();
        }
    }

    pub(crate) fn stop_health(&self, c: &Container) {
        if let Some(t) = c.health.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }

    async fn health_loop(self: Arc<Self>, c: Arc<Container>, h: HealthConfig) {
        let interval = dur(h.interval, DEFAULT_INTERVAL);
        let timeout = dur(h.timeout, DEFAULT_TIMEOUT);
        let start_period = dur(h.start_period, Duration::ZERO);
        let start_interval = dur(h.start_interval, DEFAULT_START_INTERVAL);
        let retries = h.retries.filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES);
        let started = Instant::now();
        let args = probe_args(&h);
        loop {
            let in_start = started.elapsed() < start_period;
            tokio::time::sleep(if in_start && h.start_interval.is_some() {
                start_interval
            } else {
                interval
            })
            .await;
            if !c.rec().state.status.is_live() {
                return;
            }
            if c.rec().state.status == super::Status::Paused {
                continue;
            }
            let in_start = started.elapsed() < start_period;
            let result = self.probe(&c, &args, timeout).await;
            let prev = c
                .rec()
                .state
                .health
                .clone()
                .unwrap_or(Health { status: "starting".into(), ..Default::default() });
            let next = next_health(&prev, result, retries, in_start);
            let changed = next.status != prev.status;
            let status = next.status.clone();
            let _ = self.update(&c, |r| r.state.health = Some(next));
            if changed {
                self.event(&c, &format!("health_status: {status}"), &[]);
            }
        }
    }

    async fn probe(self: &Arc<Self>, c: &Arc<Container>, args: &[String], timeout: Duration) -> HealthLog {
        let start = berth_shim::now_rfc3339();
        let exec_id = format!("health-{}", &berth_sys::new_id()[..16]);
        let engine = self.clone();
        let c2 = c.clone();
        let cfg = ExecConfig { cmd: Some(args.to_vec()), ..Default::default() };
        let run = tokio::task::spawn_blocking(move || -> Result<(i64, String), String> {
            let p = engine.exec_process(&c2, &cfg).map_err(|e| e.to_string())?;
            let mut a = engine.shim(&c2.id).exec(&exec_id, p, false, false).map_err(|e| e.to_string())?;
            let (code, out) = super::exec::drain_exec(&mut a.stream, MAX_OUTPUT);
            Ok((code.unwrap_or(-1), String::from_utf8_lossy(&out).into_owned()))
        });
        let (exit_code, output) = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(r))) => r,
            Ok(Ok(Err(e))) => (-1, e),
            Ok(Err(e)) => (-1, e.to_string()),
            Err(_) => (-1, format!("Health check exceeded timeout ({}s)", timeout.as_secs_f64())),
        };
        HealthLog { start, end: berth_shim::now_rfc3339(), exit_code, output }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(code: i64) -> HealthLog {
        HealthLog { exit_code: code, ..Default::default() }
    }

    #[test]
    fn health_follows_dockers_rules() {
        let start = Health { status: "starting".into(), ..Default::default() };
        let h = next_health(&start, log(1), 2, true);
        assert_eq!(
            (h.status.as_str(), h.failing_streak),
            ("starting", 0),
            "start period failures do not count"
        );
        let h = next_health(&h, log(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        let h = next_health(&h, log(1), 2, false);
        assert_eq!(h.status, "unhealthy");
        let h = next_health(&h, log(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        let mut h = h;
        for _ in 0..10 {
            h = next_health(&h, log(0), 2, false);
        }
        assert_eq!(h.log.len(), 5);
        let cfg =
            HealthConfig { test: Some(vec!["CMD-SHELL".into(), "exit 1".into()]), ..Default::default() };
        assert_eq!(probe_args(&cfg), vec!["/bin/sh", "-c", "exit 1"]);
        assert!(!enabled(&HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() }));
    }
}
