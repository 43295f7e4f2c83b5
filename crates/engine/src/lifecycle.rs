//! start, stop, kill, restart, pause, unpause, wait, rename, update.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use berth_api::models::ContainerUpdateBody;
use berth_api::record::Convert;
use berth_records::RestartPolicyName;

use super::record::Status;
use super::{blocking, Container, Engine};
use crate::error::{EngineError, Result};

/// How long a kill with SIGKILL waits to see the exit (Docker's 10 s).
const KILL_WAIT: Duration = Duration::from_secs(10);

/// `SIGTERM`, `TERM`, `15` → 15.
pub fn parse_signal(s: &str) -> Result<i32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        if n > 0 && n <= 64 {
            return Ok(n);
        }
    }
    let up = t.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up.clone() } else { format!("SIG{up}") };
    if let Some(rest) = name.strip_prefix("SIGRTMIN") {
        let base = libc::SIGRTMIN();
        let off: i32 = if rest.is_empty() { 0 } else { rest.trim_start_matches('+').parse().unwrap_or(-1) };
        if (0..=(libc::SIGRTMAX() - base)).contains(&off) {
            return Ok(base + off);
        }
    }
    nix::sys::signal::Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| EngineError::InvalidArgument(format!("Invalid signal: {s}")))
}

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<WaitCondition> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::InvalidArgument(format!(
                "invalid condition: \"{other}\": use not-running, next-exit or removed"
            ))),
        }
    }
}

/// Docker's conversion of `NanoCpus` to a CFS quota over a 100 ms period.
pub(crate) fn nano_cpus_quota(nano: i64) -> (i64, u64) {
    (nano * 100_000 / 1_000_000_000, 100_000)
}

impl Engine {
    pub async fn start(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let started = {
            let _g = c.op.lock().await;
            // A live container has its shim: answer before waiting for a shim to go. A
            // restarting one counts as running, as on Docker: its policy starts it.
            let rec = c.snapshot();
            if rec.state.status == Status::Restarting {
                return Err(EngineError::NotModified("container already started".into()));
            }
            Self::startable(&rec)?;
            self.await_shim(c).await;
            let (e, c2) = (self.clone(), c.clone());
            blocking(move || e.start_blocking(&c2)).await
        };
        match started {
            Ok(()) => {
                *c.backoff.lock().unwrap_or_else(|e| e.into_inner()) = Duration::ZERO;
                self.after_start(c);
                Ok(())
            }
            Err(EngineError::NotModified(m)) => Err(EngineError::NotModified(m)),
            Err(err) => {
                // Waiters (`docker run` waits before it starts) learn of the failure as an exit.
                let code = c.rec().state.exit_code;
                c.watch.send_modify(|w| {
                    w.exits += 1;
                    w.exit_code = code;
                });
                if c.rec().host_config.auto_remove == Some(true) {
                    let _ = self.remove(c, true, true).await;
                }
                Err(err)
            }
        }
    }

    /// Sends `signal`, waits up to `timeout` for the exit, then kills. With the op lock held.
    pub(crate) async fn stop_locked(
        self: &Arc<Self>,
        c: &Arc<Container>,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let rec = c.snapshot();
        if rec.state.status == Status::Restarting {
            self.update(c, |r| {
                r.manually_stopped = true;
                r.state.status = Status::Exited;
            })?;
            return Ok(());
        }
        if !rec.state.status.is_live() {
            return Err(EngineError::NotModified("container already stopped".into()));
        }
        self.update(c, |r| r.manually_stopped = true)?;
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None => match rec.config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
                Some(s) => parse_signal(s)?,
                None => libc::SIGTERM,
            },
        };
        let timeout = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        let mut rx = c.subscribe();
        let exits = rx.borrow().exits;
        let shim = self.shim(&c.id);
        if rec.state.status == Status::Paused {
            let _ = shim.resume();
            let _ = self.update(c, |r| r.state.status = Status::Running);
        }
        let exited = |rx: &mut tokio::sync::watch::Receiver<super::Watch>, limit: Option<Duration>| {
            let mut rx = rx.clone();
            async move {
                let wait = rx.wait_for(|w| w.exits > exits);
                match limit {
                    Some(d) => tokio::time::timeout(d, wait).await.map(|r| r.is_ok()).unwrap_or(false),
                    None => wait.await.is_ok(),
                }
            }
        };
        if sig != libc::SIGKILL && timeout != 0 {
            let s2 = shim.clone();
            let sent = blocking(move || Ok(s2.signal(sig, false)?)).await;
            if sent.is_ok() {
                self.event(c, "kill", &[("signal", sig.to_string())]);
            }
            let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
            if sent.is_ok() && exited(&mut rx, limit).await {
                self.event(c, "stop", &[]);
                return Ok(());
            }
        }
        let s2 = shim.clone();
        let _ = blocking(move || Ok(s2.signal(libc::SIGKILL, true)?)).await;
        self.event(c, "kill", &[("signal", "9".into())]);
        if !exited(&mut rx, Some(Duration::from_secs(30))).await {
            return Err(EngineError::Internal(format!("container {} did not exit after SIGKILL", c.id)));
        }
        self.event(c, "stop", &[]);
        Ok(())
    }

    pub async fn stop(
        self: &Arc<Self>,
        c: &Arc<Container>,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let _g = c.op.lock().await;
        self.stop_locked(c, signal, timeout).await
    }

    pub async fn kill(self: &Arc<Self>, c: &Arc<Container>, signal: Option<&str>) -> Result<()> {
        let sig = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("KILL"))?;
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(EngineError::Conflict(format!(
                "Cannot kill container: {}: Container {} is not running",
                rec.name, rec.id
            )));
        }
        if sig == libc::SIGKILL || sig == libc::SIGTERM || sig == libc::SIGINT {
            self.update(c, |r| r.manually_stopped = true)?;
        }
        let shim = self.shim(&c.id);
        let paused = rec.state.status == Status::Paused;
        let mut rx = c.subscribe();
        let exits = rx.borrow().exits;
        blocking(move || {
            shim.signal(sig, false)?;
            if paused && sig == libc::SIGKILL {
                let _ = shim.resume();
            }
            Ok(())
        })
        .await?;
        self.event(c, "kill", &[("signal", sig.to_string())]);
        // As Docker: a SIGKILL is answered once the container is seen to have exited, so that
        // `kill` then `inspect` shows it exited.
        if sig == libc::SIGKILL {
            let waited = tokio::time::timeout(KILL_WAIT, rx.wait_for(|w| w.exits > exits)).await;
            if !matches!(waited, Ok(Ok(_))) {
                return Err(EngineError::Internal(format!(
                    "container {} did not exit within {} s of SIGKILL",
                    c.id,
                    KILL_WAIT.as_secs()
                )));
            }
        }
        Ok(())
    }

    pub async fn restart(
        self: &Arc<Self>,
        c: &Arc<Container>,
        signal: Option<&str>,
        timeout: Option<i64>,
    ) -> Result<()> {
        let _g = c.op.lock().await;
        match self.stop_locked(c, signal, timeout).await {
            Ok(()) | Err(EngineError::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        self.await_shim(c).await;
        let (e, c2) = (self.clone(), c.clone());
        blocking(move || e.start_blocking(&c2)).await?;
        self.after_start(c);
        self.event(c, "restart", &[]);
        Ok(())
    }

    pub async fn pause(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let _g = c.op.lock().await;
        let rec = c.snapshot();
        match rec.state.status {
            Status::Paused => {
                return Err(EngineError::Conflict(format!("Container {} is already paused", rec.id)))
            }
            Status::Running => {}
            _ => return Err(EngineError::Conflict(format!("Container {} is not running", rec.id))),
        }
        let shim = self.shim(&c.id);
        blocking(move || Ok(shim.pause()?)).await?;
        self.update(c, |r| r.state.status = Status::Paused)?;
        self.event(c, "pause", &[]);
        Ok(())
    }

    pub async fn unpause(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let _g = c.op.lock().await;
        let rec = c.snapshot();
        if rec.state.status != Status::Paused {
            return Err(EngineError::Conflict(format!("Container {} is not paused", rec.id)));
        }
        let shim = self.shim(&c.id);
        blocking(move || Ok(shim.resume()?)).await?;
        self.update(c, |r| r.state.status = Status::Running)?;
        self.event(c, "unpause", &[]);
        Ok(())
    }

    /// Waits for the condition; returns the exit code.
    pub async fn wait(&self, c: &Arc<Container>, cond: WaitCondition) -> Result<i64> {
        let mut rx = c.subscribe();
        let start = rx.borrow().clone();
        let status = c.rec().state.status;
        match cond {
            WaitCondition::NotRunning if !status.is_live() && status != Status::Restarting => {
                return Ok(c.rec().state.exit_code)
            }
            WaitCondition::NotRunning | WaitCondition::NextExit => {
                let w = rx
                    .wait_for(|w| w.exits > start.exits || w.removed)
                    .await
                    .map_err(|_| EngineError::Internal("the container went away".into()))?;
                Ok(w.exit_code)
            }
            WaitCondition::Removed => {
                let w = rx
                    .wait_for(|w| w.removed)
                    .await
                    .map_err(|_| EngineError::Internal("the container went away".into()))?;
                Ok(w.exit_code)
            }
        }
    }

    pub fn rename(&self, c: &Arc<Container>, new: &str) -> Result<()> {
        let new = super::create::validate_name(new)?;
        let old = c.name();
        if old == new {
            return Err(EngineError::Conflict(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        {
            let mut reg = self.reg();
            if let Some(other) = reg.names.get(&new) {
                return Err(EngineError::Conflict(format!(
                    "Conflict. The container name \"/{new}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            reg.names.remove(&old);
            reg.names.insert(new.clone(), c.id.clone());
        }
        self.update(c, |r| r.name = new.clone())?;
        self.event(c, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    /// `docker update`: resources and restart policy.
    pub async fn update_container(
        self: &Arc<Self>,
        c: &Arc<Container>,
        u: ContainerUpdateBody,
    ) -> Result<Vec<String>> {
        let _g = c.op.lock().await;
        let mut hc = c.rec().host_config.clone();
        macro_rules! take {
            ($($f:ident),*) => { $( if u.$f.is_some() { hc.$f = u.$f.clone().convert(); } )* };
        }
        take!(
            memory,
            memory_reservation,
            memory_swap,
            nano_cpus,
            cpu_shares,
            cpu_quota,
            cpu_period,
            cpuset_cpus,
            cpuset_mems,
            pids_limit,
            blkio_weight
        );
        if let Some(rp) = &u.restart_policy {
            let rp: berth_records::RestartPolicy = rp.clone().convert();
            let name = rp.name.unwrap_or(RestartPolicyName::Empty);
            if hc.auto_remove == Some(true)
                && !matches!(name, RestartPolicyName::No | RestartPolicyName::Empty)
            {
                return Err(EngineError::InvalidArgument(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
                ));
            }
            hc.restart_policy = Some(rp);
        }
        super::validate::host_config(&hc, &super::validate::HostFacts::read())?;
        let rec = c.snapshot();
        if rec.state.status.is_live() {
            let mut res = serde_json::json!({});
            let mut mem = serde_json::Map::new();
            if let Some(m) = u.memory.filter(|m| *m > 0) {
                mem.insert("limit".into(), m.into());
            }
            if let Some(m) = u.memory_reservation.filter(|m| *m > 0) {
                mem.insert("reservation".into(), m.into());
            }
            if let Some(m) = u.memory_swap.filter(|m| *m != 0) {
                mem.insert("swap".into(), m.into());
            } else if let Some(m) = u.memory.filter(|m| *m > 0) {
                // Docker keeps swap at twice the memory when only memory changes and swap was unset.
                if rec.host_config.memory_swap.unwrap_or(0) == 0 {
                    mem.insert("swap".into(), (m * 2).into());
                }
            }
            if !mem.is_empty() {
                res["memory"] = mem.into();
            }
            let mut cpu = serde_json::Map::new();
            if let Some(n) = u.nano_cpus.filter(|n| *n > 0) {
                let (q, p) = nano_cpus_quota(n);
                cpu.insert("quota".into(), q.into());
                cpu.insert("period".into(), p.into());
            }
            if let Some(v) = u.cpu_shares.filter(|v| *v > 0) {
                cpu.insert("shares".into(), v.into());
            }
            if let Some(v) = u.cpu_quota.filter(|v| *v != 0) {
                cpu.insert("quota".into(), v.into());
            }
            if let Some(v) = u.cpu_period.filter(|v| *v > 0) {
                cpu.insert("period".into(), v.into());
            }
            if let Some(v) = u.cpuset_cpus.clone().filter(|v| !v.is_empty()) {
                cpu.insert("cpus".into(), v.into());
            }
            if let Some(v) = u.cpuset_mems.clone().filter(|v| !v.is_empty()) {
                cpu.insert("mems".into(), v.into());
            }
            if !cpu.is_empty() {
                res["cpu"] = cpu.into();
            }
            if let Some(p) = u.pids_limit {
                res["pids"] = serde_json::json!({"limit": if p <= 0 { -1 } else { p }});
            }
            if res.as_object().is_some_and(|o| !o.is_empty()) {
                let shim = self.shim(&c.id);
                blocking(move || Ok(shim.update(res)?)).await.map_err(|e| {
                    EngineError::InvalidArgument(format!("Cannot update container {}: {e}", c.id))
                })?;
            }
        }
        self.update(c, |r| r.host_config = hc)?;
        self.event(c, "update", &[]);
        Ok(Vec::new())
    }
}

impl Engine {
    pub fn resize(&self, id: &str, h: u16, w: u16) -> crate::error::Result<()> {
        let c = self.container(id)?;
        if !c.rec().state.status.is_live() {
            return Err(crate::error::EngineError::Conflict(format!("Container {id} is not running")));
        }
        Ok(self.shim(id).resize(h, w, None)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        let cases = [
            ("SIGTERM", 15),
            ("TERM", 15),
            ("term", 15),
            ("9", 9),
            ("SIGKILL", 9),
            ("SIGUSR1", 10),
            ("HUP", 1),
        ];
        for (s, n) in cases {
            assert_eq!(parse_signal(s).unwrap(), n, "{s}");
        }
        assert_eq!(parse_signal("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(parse_signal("NOPE").unwrap_err().to_string(), "Invalid signal: NOPE");
        assert!(parse_signal("0").is_err());
        assert!(WaitCondition::parse(Some("bogus")).is_err());
        assert_eq!(WaitCondition::parse(None).unwrap(), WaitCondition::NotRunning);
        assert_eq!(nano_cpus_quota(1_500_000_000), (150_000, 100_000));
    }
}
