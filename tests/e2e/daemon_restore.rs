//! berthd's promises when things go wrong: live restore after `kill -9`, restart policies with
//! their back-off, healthchecks, auto-remove, OOM reporting, and a truthful state after the
//! daemon is killed at any point of create/start/remove loops.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::daemon::{now_arg, Berthd};

fn alive(pid: &str) -> bool {
    pid.parse::<i32>().is_ok_and(|p| p > 0 && std::path::Path::new(&format!("/proc/{p}")).exists())
}

#[test]
fn live_restore_after_kill_9() {
    let mut d = Berthd::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "keep",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ]);
    d.ok(&["run", "-d", "--name", "brief", "busybox", "sh", "-c", "sleep 1; exit 7"]);
    d.ok(&["run", "-d", "-i", "--name", "talk", "busybox", "cat"]);
    let pid = d.inspect("keep", "{{.State.Pid}}");
    d.kill9();
    std::thread::sleep(Duration::from_millis(2500));
    let restarted = Instant::now();
    d.launch();
    // Still running, same process; the one that ended while we were away has its true exit.
    assert_eq!(d.inspect("keep", "{{.State.Status}} {{.State.Pid}}"), format!("running {pid}"));
    assert!(alive(&pid));
    assert_eq!(d.inspect("brief", "{{.State.Status}} {{.State.ExitCode}}"), "exited 7");
    assert_eq!(d.ok(&["wait", "brief"]).trim(), "7");
    let started = d.inspect("brief", "{{.State.StartedAt}}");
    let finished = d.inspect("brief", "{{.State.FinishedAt}}");
    let secs = |t: &str| chrono_secs(t);
    let ran = secs(&finished) - secs(&started);
    assert!(
        (0.9..2.0).contains(&ran),
        "brief ran {ran}s ({started} → {finished}): the exit time is the real one"
    );
    assert!(restarted.elapsed() < Duration::from_secs(10));
    // exec, logs -f, attach on the restored containers; then stop and wait.
    assert_eq!(d.ok(&["exec", "keep", "echo", "restored"]), "restored\n");
    let mut follow = d.command(["logs", "-f", "--tail", "1", "keep"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    assert!(first.starts_with("tick ") && second.starts_with("tick "), "{first} {second}");
    let mut attach =
        d.command(["attach", "talk"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(attach.stdout.take().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    attach.stdin.as_mut().unwrap().write_all(b"echoed back\n").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "echoed back\n");
    let _ = attach.kill();
    let _ = attach.wait();
    let waiter = d.command(["wait", "keep"]).stdout(Stdio::piped()).spawn().unwrap();
    d.ok(&["stop", "-t", "1", "keep", "talk"]);
    assert_eq!(String::from_utf8_lossy(&waiter.wait_with_output().unwrap().stdout).trim(), "137");
    let _ = follow.wait();
    d.ok(&["rm", "keep", "brief", "talk"]);
    d.assert_nothing_left();
}

fn chrono_secs(t: &str) -> f64 {
    // 2024-01-02T03:04:05.123456789Z → seconds within the day are enough for differences.
    let time = t.split('T').nth(1).unwrap_or_default().trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap_or("0").parse().unwrap_or(0.0);
    let m: f64 = parts.next().unwrap_or("0").parse().unwrap_or(0.0);
    let s: f64 = parts.next().unwrap_or("0").parse().unwrap_or(0.0);
    h * 3600.0 + m * 60.0 + s
}

#[test]
fn restart_policies_and_daemon_restarts() {
    let mut d = Berthd::start();
    d.ok(&["run", "-d", "--name", "fails", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1"]);
    d.wait_for(20, "two restarts then rest", || {
        d.inspect("fails", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(d.inspect("fails", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"), "2 exited 1");
    d.ok(&["run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2"]);
    d.wait_for(20, "always to restart", || {
        d.inspect("always", "{{.RestartCount}}").parse::<i32>().unwrap_or(0) >= 2
    });
    // Back-off: the delays double (100, 200, 400 ms…), so restarts slow down.
    d.ok(&["stop", "-t", "1", "always"]);
    let count = d.inspect("always", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        d.inspect("always", "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {count}"),
        "docker stop is respected"
    );
    // At daemon start: always and unless-stopped start, unless stopped by hand.
    d.ok(&["run", "-d", "--name", "al", "--restart", "always", "busybox", "sleep", "1000"]);
    d.ok(&["run", "-d", "--name", "us", "--restart", "unless-stopped", "busybox", "sleep", "1000"]);
    d.ok(&["run", "-d", "--name", "us-stopped", "--restart", "unless-stopped", "busybox", "sleep", "1000"]);
    d.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    d.ok(&["stop", "-t", "0", "us-stopped"]);
    d.stop();
    assert!(d.shims().is_empty(), "without live restore the daemon stops its containers");
    d.launch();
    let state = |n: &str| d.inspect(n, "{{.State.Status}}");
    assert_eq!(state("al"), "running");
    assert_eq!(state("us"), "running");
    assert_eq!(state("us-stopped"), "exited");
    assert_eq!(state("plain"), "exited");
    // It exits every 0.2 s, so it is running or between restarts; never left stopped.
    assert!(
        ["running", "restarting"].contains(&state("always").as_str()),
        "always restarts with the daemon even after docker stop"
    );
    d.ok(&["rm", "-f", "al", "us", "us-stopped", "plain", "always", "fails"]);
}

#[test]
fn healthchecks_autoremove_and_oom() {
    let d = Berthd::start();
    let since = now_arg();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(d.inspect("hc", "{{.State.Health.Status}}"), "starting");
    d.wait_for(10, "unhealthy", || d.inspect("hc", "{{.State.Health.Status}}") == "unhealthy");
    assert!(d.ok(&["ps", "--format", "{{.Status}}"]).contains("(unhealthy)"));
    d.ok(&["exec", "hc", "touch", "/tmp/ok"]);
    d.wait_for(10, "healthy", || d.inspect("hc", "{{.State.Health.Status}}") == "healthy");
    assert_eq!(
        d.ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}"])
            .trim()
            .split(' ')
            .next(),
        Some("hc")
    );
    assert!(d.ok(&["ps", "--format", "{{.Status}}"]).contains("(healthy)"));
    let log: serde_json::Value =
        serde_json::from_str(&d.inspect("hc", "{{json .State.Health.Log}}")).unwrap();
    let log = log.as_array().unwrap();
    assert!((1..=5).contains(&log.len()), "{log:?}");
    assert_eq!(log.last().unwrap()["ExitCode"], 0);
    assert_eq!(log[0]["ExitCode"], 1, "{log:?}");
    let until = now_arg();
    let ev = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(ev.lines().collect::<Vec<_>>(), ["health_status: unhealthy", "health_status: healthy"]);
    d.ok(&["rm", "-f", "hc"]);
    // --rm: gone once it exits.
    d.ok(&["run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "0.3"]);
    d.wait_for(10, "auto-remove", || d.ok(&["ps", "-aq", "--filter", "name=gone"]).is_empty());
    // OOM: killed, reported in inspect and as an event.
    let since = now_arg();
    let out = d.docker(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "8m",
        "--memory-swap",
        "8m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo ${#x}",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(d.inspect("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}"), "true 137");
    let ev = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &now_arg(),
        "--filter",
        "event=oom",
        "--format",
        "{{.Actor.Attributes.name}}",
    ]);
    assert_eq!(ev.trim(), "oom");
    d.ok(&["rm", "oom"]);
}

#[test]
fn kill_9_during_create_start_remove_loops() {
    let mut d = Berthd::start();
    let host = d.host();
    for round in 0..6 {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let host = host.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let docker = |args: &[&str]| {
                        Command::new("docker")
                            .env("DOCKER_HOST", &host)
                            .args(args)
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                    };
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let name = format!("c{round}-{w}-{i}");
                        let _ = docker(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
                        if i % 2 == 0 {
                            let _ = docker(&["rm", "-f", &name]);
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + 170 * round));
        d.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            let _ = w.join();
        }
        d.launch();
        // Truthful: running means a live process with a shim; everything else has neither.
        let rows = d.ok(&["ps", "-a", "--format", "{{.ID}} {{.State}}"]);
        let mut running = 0;
        for row in rows.lines() {
            let (id, state) = row.split_once(' ').unwrap();
            let pid = d.inspect(id, "{{.State.Pid}}");
            match state {
                "running" => {
                    running += 1;
                    assert!(alive(&pid), "round {round}: {id} running with a dead pid {pid}");
                }
                "created" | "exited" => assert_eq!(pid, "0", "round {round}: {id} {state} with pid {pid}"),
                other => panic!("round {round}: {id} is {other}"),
            }
        }
        assert_eq!(d.shims().len(), running, "round {round}: one shim per running container\n{rows}");
        let (netns, roots): (Vec<String>, Vec<String>) =
            d.mounts().into_iter().partition(|m| m.contains("/netns/"));
        assert_eq!(roots.len(), running, "round {round}: one root mount per running container: {roots:?}");
        assert_eq!(
            netns.len(),
            running,
            "round {round}: one network namespace per running container: {netns:?}"
        );
    }
    let all = d.ok(&["ps", "-aq"]);
    let ids: Vec<&str> = all.lines().collect();
    if !ids.is_empty() {
        d.ok(&[&["rm", "-f"][..], &ids].concat());
    }
    d.assert_nothing_left();
    d.stop();
    // The image store agrees with itself: no stray layer, snapshot or lease.
    let out = Command::new(env!("CARGO_BIN_EXE_berth-store"))
        .arg("--root")
        .arg(d.data_root.join("image"))
        .arg("verify")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A removal is reported once the container's record is gone; its files follow. What a crash
/// leaves of them (a run directory with its root still mounted, a data directory) is removed at
/// the next start, and only that: the directories of containers that still exist stay.
#[test]
fn leftovers_of_removals_are_swept_at_start() {
    let mut d = Berthd::start();
    d.ok(&["run", "-d", "--name", "keep", "--network", "none", "busybox", "sleep", "1000"]);
    d.ok(&["create", "--name", "idle", "--network", "none", "busybox", "true"]);
    d.kill9();
    let run = d.exec_root.join("containers").join("0123456789abcdef01234567");
    let data = d.data_root.join("containers").join("0123456789abcdef".repeat(4));
    std::fs::create_dir_all(run.join("rootfs")).unwrap();
    std::fs::create_dir_all(run.join("state")).unwrap();
    std::fs::write(run.join("config.json"), "{}").unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &run.join("rootfs"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("container.log"), "x").unwrap();
    assert!(d.mounts().iter().any(|m| m.starts_with(&run.display().to_string())));
    d.launch();
    assert!(!run.exists(), "the orphaned run directory is removed");
    assert!(!data.exists(), "the orphaned data directory is removed");
    assert!(!d.mounts().iter().any(|m| m.starts_with(&run.display().to_string())), "its root is unmounted");
    assert!(d.log_text().contains("removing the run directory of a removed container"));
    // The containers that exist kept theirs.
    assert_eq!(d.ok(&["exec", "keep", "echo", "still here"]).trim(), "still here");
    d.ok(&["start", "-a", "idle"]);
    assert_eq!(d.inspect("idle", "{{.State.ExitCode}}"), "0");
    d.ok(&["rm", "-f", "keep", "idle"]);
    d.assert_nothing_left();
}
