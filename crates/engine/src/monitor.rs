//! Watching a running container's shim until the container exits, then recording the exit,
//! cleaning up (root filesystem unmounted, bundle removed) and applying the restart policy
//! (Docker's back-off: 100 ms doubling to a minute, reset after 10 s of running) or auto-remove.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_records::RestartPolicyName;
use berth_shim::{ExitStatus, Response};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::record::{ContainerRecord, Status};
use super::{Container, Engine};

/// Waits on the shim's socket; when the shim is gone, its exit record is the answer. With the
/// exit comes the connection, which ends when the shim does (after the runtime's `delete`).
pub(crate) async fn wait_shim(state_dir: &Path) -> (Option<ExitStatus>, Option<BufReader<UnixStream>>) {
    let sock = state_dir.join(berth_shim::status::SOCKET);
    if let Ok(mut s) = UnixStream::connect(&sock).await {
        if s.write_all(b"{\"op\":\"wait\"}\n").await.is_ok() {
            let mut line = String::new();
            let mut r = BufReader::new(s);
            if r.read_line(&mut line).await.is_ok() && !line.is_empty() {
                if let Ok(Response { exit: Some(e), .. }) = serde_json::from_str::<Response>(&line) {
                    return (Some(e), Some(r));
                }
            }
        }
    }
    // The shim writes its exit record before it goes; give a dying one a moment.
    for _ in 0..50 {
        if let Ok(Some(e)) =
            berth_shim::status::read_json::<ExitStatus>(state_dir, berth_shim::status::EXIT_RECORD)
        {
            return (Some(e), None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (None, None)
}

/// Waits for a shim's connection to end (the shim has exited), for at most half a minute.
async fn shim_gone(conn: Option<BufReader<UnixStream>>) {
    if let Some(mut r) = conn {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), r.read_to_end(&mut rest)).await;
    }
}

/// Whether the policy restarts a container that exited with `code`.
pub fn should_restart(rec: &ContainerRecord, code: i64) -> bool {
    if rec.manually_stopped || rec.host_config.auto_remove == Some(true) {
        return false;
    }
    let rp = rec.host_config.restart_policy.clone().unwrap_or_default();
    match rp.name.unwrap_or(RestartPolicyName::No) {
        RestartPolicyName::Always | RestartPolicyName::UnlessStopped => true,
        RestartPolicyName::OnFailure => {
            let max = rp.maximum_retry_count.unwrap_or(0);
            code != 0 && (max == 0 || rec.restart_count < max)
        }
        _ => false,
    }
}

/// The next back-off delay after a run of `ran` with the previous delay `prev`.
pub fn next_delay(prev: Duration, ran: Duration) -> Duration {
    if ran >= Duration::from_secs(10) || prev.is_zero() {
        Duration::from_millis(100)
    } else {
        (prev * 2).min(Duration::from_secs(60))
    }
}

impl Engine {
    /// Follows a running container until it exits. The container's `shim` flag is up until
    /// its shim has exited: see [`Engine::await_shim`].
    pub(crate) fn watch_exit(self: &Arc<Self>, c: Arc<Container>) {
        let engine = self.clone();
        let dir = self.run_dir(&c.id).join("state");
        c.watch.send_modify(|w| w.shim = true);
        tokio::spawn(async move {
            let (st, conn) = wait_shim(&dir).await;
            let c2 = c.clone();
            tokio::spawn(async move {
                shim_gone(conn).await;
                c2.watch.send_modify(|w| w.shim = false);
            });
            engine.on_exit(c, st).await;
        });
    }

    /// Waits (at most half a minute) until the container's last shim has exited, so that its
    /// runtime state is gone: before the container starts again or is reported removed.
    pub(crate) async fn await_shim(&self, c: &Container) {
        let mut rx = c.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|w| !w.shim)).await;
    }

    /// Records an exit and does what follows it.
    pub(crate) async fn on_exit(self: Arc<Self>, c: Arc<Container>, st: Option<ExitStatus>) {
        let st = st.unwrap_or(ExitStatus {
            exit_code: 255,
            finished_at: berth_shim::now_rfc3339(),
            ..Default::default()
        });
        self.stop_health(&c);
        let code = st.exit_code as i64;
        let removing = c.rec().state.status == Status::Removing;
        // A container that goes away on exit (`--rm`) is not recorded as exited: its removal
        // follows at once (the run directory goes with it), and a crash before the removal is
        // done finds the record running and the shim gone, which leads here again.
        let auto_remove = !removing && c.rec().host_config.auto_remove == Some(true);
        let ran = {
            let started = berth_api::time::nanos_of(&c.rec().state.started_at);
            let finished = berth_api::time::nanos_of(&st.finished_at);
            Duration::from_nanos((finished - started).max(0) as u64)
        };
        // Cleaned up while the record still says running, so a start cannot slip in between
        // and have its fresh mount taken away.
        let t0 = std::time::Instant::now();
        let engine = self.clone();
        let c2 = c.clone();
        let _ = super::blocking(move || {
            if auto_remove {
                engine.release_run(&c2);
            } else {
                engine.cleanup_run(&c2.id);
            }
            Ok(())
        })
        .await;
        let cleaned = t0.elapsed();
        let exited = |r: &mut ContainerRecord| {
            if auto_remove {
                r.state.status = Status::Removing;
            } else if !removing {
                r.state.status = Status::Exited;
            }
            r.state.pid = 0;
            r.state.exit_code = code;
            r.state.oom_killed = st.oom_killed;
            r.state.finished_at =
                if st.finished_at.is_empty() { berth_shim::now_rfc3339() } else { st.finished_at.clone() };
        };
        if auto_remove {
            exited(&mut c.rec());
        } else {
            let _ = self.update(&c, exited);
        }
        if st.oom_killed {
            self.event(&c, "oom", &[]);
        }
        self.event(&c, "die", &[("exitCode", code.to_string())]);
        tracing::debug!(id = %c.id, ?cleaned, recorded = ?t0.elapsed(), "exit timings");
        c.watch.send_modify(|w| {
            w.exits += 1;
            w.exit_code = code;
        });
        if removing {
            return;
        }
        let rec = c.snapshot();
        if should_restart(&rec, code) {
            let delay = {
                let mut d = c.backoff.lock().unwrap_or_else(|e| e.into_inner());
                *d = next_delay(*d, ran);
                *d
            };
            let _ = self.update(&c, |r| {
                r.state.status = Status::Restarting;
                r.restart_count += 1;
            });
            let engine = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _g = c.op.lock().await;
                let rec = c.snapshot();
                if rec.state.status != Status::Restarting || rec.manually_stopped {
                    return;
                }
                engine.await_shim(&c).await;
                let (e2, c2) = (engine.clone(), c.clone());
                match super::blocking(move || e2.start_blocking(&c2)).await {
                    Ok(()) => engine.after_start(&c),
                    Err(e) => {
                        tracing::warn!(id = %c.id, error = %e, "restart failed");
                        let _ = engine.update(&c, |r| {
                            r.state.status = Status::Exited;
                            r.state.error = e.to_string();
                        });
                    }
                }
            });
        } else if auto_remove {
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.remove(&c, true, true).await {
                    tracing::warn!(id = %c.id, error = %e, "auto-remove failed");
                }
            });
        }
    }

    /// What a stopped container held: its share of the host ([`Engine::release_run`]) and its
    /// run directory ([`Engine::remove_run_dir`]).
    pub(crate) fn cleanup_run(&self, id: &str) {
        if let Ok(c) = self.container(id) {
            self.release_run(&c);
        }
        self.remove_run_dir(id);
    }

    /// A stopped container's share of the host: its network endpoints (addresses, published
    /// ports, namespace) and its volumes' mounts.
    pub(crate) fn release_run(&self, c: &Container) {
        self.teardown_networking(c);
        self.unmount_volumes(&c.snapshot());
    }

    /// Unmounts a stopped container's root filesystem and removes its bundle and shim state.
    pub(crate) fn remove_run_dir(&self, id: &str) {
        let run = self.run_dir(id);
        super::rootfs::unmount(&run.join("rootfs"));
        let _ = std::fs::remove_dir_all(&run);
    }

    /// What follows a successful start: the exit watch and the healthcheck.
    pub(crate) fn after_start(self: &Arc<Self>, c: &Arc<Container>) {
        self.watch_exit(c.clone());
        self.start_health(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_records::{HostConfig, RestartPolicy};

    fn rec(policy: RestartPolicyName, max: i64, count: i64, stopped: bool) -> ContainerRecord {
        ContainerRecord {
            id: "x".into(),
            name: "x".into(),
            created: String::new(),
            image: String::new(),
            image_id: String::new(),
            config: Default::default(),
            host_config: HostConfig {
                restart_policy: Some(RestartPolicy { name: Some(policy), maximum_retry_count: Some(max) }),
                ..Default::default()
            },
            path: String::new(),
            args: vec![],
            state: Default::default(),
            restart_count: count,
            manually_stopped: stopped,
            runtime: String::new(),
            mounts: None,
            networks: Default::default(),
            ports: Vec::new(),
        }
    }

    #[test]
    fn restart_policies_decide_as_dockers() {
        use RestartPolicyName::*;
        let cases = [
            (rec(No, 0, 0, false), 1, false),
            (rec(Always, 0, 0, false), 0, true),
            (rec(Always, 0, 0, true), 0, false),
            (rec(UnlessStopped, 0, 5, false), 0, true),
            (rec(UnlessStopped, 0, 0, true), 1, false),
            (rec(OnFailure, 0, 9, false), 1, true),
            (rec(OnFailure, 0, 0, false), 0, false),
            (rec(OnFailure, 2, 1, false), 1, true),
            (rec(OnFailure, 2, 2, false), 1, false),
        ];
        for (i, (r, code, want)) in cases.into_iter().enumerate() {
            assert_eq!(should_restart(&r, code), want, "case {i}");
        }
    }

    #[test]
    fn back_off_doubles_to_a_minute_and_resets() {
        let ms = Duration::from_millis;
        assert_eq!(next_delay(Duration::ZERO, ms(1)), ms(100));
        assert_eq!(next_delay(ms(100), ms(1)), ms(200));
        assert_eq!(next_delay(Duration::from_secs(40), ms(1)), Duration::from_secs(60));
        assert_eq!(next_delay(Duration::from_secs(60), Duration::from_secs(11)), ms(100));
    }
}
