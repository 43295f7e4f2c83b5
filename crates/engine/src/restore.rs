//! Finding containers again when the daemon starts: every record is checked against its shim.
//! A live shim's container is adopted (watched, healthchecked); a container whose shim is gone
//! gets the exit its shim recorded (true code and time); a start or removal cut short by a
//! crash is finished or undone; then restart policies apply.

use std::sync::Arc;

use super::record::Status;
use super::{blocking, Container, Engine};

impl Engine {
    /// Reconnects to running containers and settles the rest. Call once after `open`.
    pub async fn restore(self: &Arc<Self>) {
        self.watch_other_firewalls();
        for c in self.containers() {
            let rec = c.snapshot();
            if rec.state.status == Status::Removing {
                tracing::info!(id = %rec.id, "finishing a removal cut short");
                let (e, c2) = (self.clone(), c.clone());
                let _ = blocking(move || {
                    let _ = e.shim(&c2.id).signal(libc::SIGKILL, true);
                    e.cleanup_run(&c2.id);
                    e.remove_files(&c2.id)?;
                    e.forget_record(&c2.id)
                })
                .await;
                let mut reg = self.reg();
                reg.by_id.remove(&rec.id);
                reg.names.remove(&rec.name);
                continue;
            }
            let shim = self.shim(&rec.id);
            let state = shim.request(&berth_shim::Request::State).ok().and_then(|r| r.status);
            match state.as_deref() {
                Some("running") => {
                    let pid =
                        shim.record().ok().flatten().map(|r| r.init_pid as i64).unwrap_or(rec.state.pid);
                    if !rec.state.status.is_live() {
                        // Started just before a crash, not yet recorded.
                        let _ = self.update(&c, |r| {
                            r.state.status = Status::Running;
                            r.state.pid = pid;
                            if r.state.started_at.is_empty() {
                                r.state.started_at = berth_shim::now_rfc3339();
                            }
                        });
                    }
                    tracing::info!(id = %rec.id, "restored a running container");
                    self.restore_networking(&c);
                    self.after_start(&c);
                }
                Some(_) => {
                    // Created but never started (a crash between the shim's create and start).
                    let _ = shim.signal(libc::SIGKILL, true);
                    let _ = berth_shim::ShimClient::wait(&shim);
                    self.cleanup_run(&rec.id);
                    if rec.state.status.is_live() {
                        let _ = self.update(&c, |r| {
                            r.state.status = Status::Exited;
                            r.state.pid = 0;
                        });
                    }
                }
                None if rec.state.status.is_live() || rec.state.status == Status::Restarting => {
                    // It ended while we were away: its shim's record says how.
                    let st = shim.exit_record().ok().flatten();
                    if rec.state.status == Status::Restarting {
                        self.cleanup_run(&rec.id);
                        let _ = self.update(&c, |r| r.state.status = Status::Exited);
                        self.restart_at_boot(&c).await;
                        continue;
                    }
                    tracing::info!(id = %rec.id, exit = ?st.as_ref().map(|s| s.exit_code), "container exited while the daemon was down");
                    self.clone().on_exit(c.clone(), st).await;
                }
                None => {
                    self.cleanup_run(&rec.id);
                    self.restart_at_boot(&c).await;
                }
            }
        }
        // The published ports of the containers adopted above.
        if let Err(e) = self.apply_firewall() {
            tracing::warn!(error = %e, "applying the firewall failed");
        }
        // Builds do not survive the daemon: what they left goes, once the containers are adopted.
        self.clear_build_leftovers().await;
    }

    /// `always` and `unless-stopped` containers start with the daemon.
    async fn restart_at_boot(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        let name = rec.host_config.restart_policy_name();
        let wanted = match name {
            berth_records::RestartPolicyName::Always => true,
            berth_records::RestartPolicyName::UnlessStopped => !rec.manually_stopped,
            _ => false,
        };
        if wanted && !rec.state.status.is_live() && rec.state.status != Status::Created {
            if let Err(e) = self.start(c).await {
                tracing::warn!(id = %rec.id, error = %e, "could not start the container with the daemon");
            }
        }
    }

    /// Looks at the host's other firewalls every 15 s, so that an engine started after berth
    /// (Docker, whose FORWARD policy drops) does not cut berth's bridges off for longer.
    fn watch_other_firewalls(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(e) = weak.upgrade() else { return };
                let _ = blocking(move || {
                    e.recheck_firewall();
                    Ok(())
                })
                .await;
            }
        });
    }

    /// Stops every running container (daemon shutdown without live restore).
    pub async fn shutdown(self: &Arc<Self>) {
        if self.config().live_restore {
            return;
        }
        let live: Vec<Arc<Container>> =
            self.containers().into_iter().filter(|c| c.rec().state.status.is_live()).collect();
        let mut tasks = Vec::new();
        for c in live {
            let e = self.clone();
            tasks.push(tokio::spawn(async move {
                let _g = c.op.lock().await;
                let manually = c.rec().manually_stopped;
                let _ = e.stop_locked(&c, None, None).await;
                // A daemon shutdown is not a user's stop: unless-stopped containers come back.
                let _ = e.update(&c, |r| r.manually_stopped = manually);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}
