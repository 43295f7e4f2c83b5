//! berthd driven by the real docker CLI (28.2.2): the scenario a user goes through, asserting
//! on what the CLI prints and its exit codes.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::daemon::{now_arg, Berthd};

#[test]
fn one_daemon_per_data_root_runtimes_and_reload() {
    let d = Berthd::start();
    // A second daemon on the same data root refuses to start, and says why.
    let other = berth_tests::env().run_root.join("second");
    let out = std::process::Command::new(berth_tests::env().bin_dir.join("berthd"))
        .arg("--data-root")
        .arg(&d.data_root)
        .arg("--exec-root")
        .arg(&other)
        .arg("-H")
        .arg(format!("unix://{}/s.sock", other.display()))
        .arg("--config-file")
        .arg(&d.config)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&other);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("is using the data root {}", d.data_root.display())), "{err}");
    assert_eq!(
        d.ok(&["version", "--format", "{{.Server.Version}}"]).trim(),
        env!("CARGO_PKG_VERSION"),
        "the first one still serves"
    );
    // Another OCI runtime by name: runc creates the container (its own state proves it).
    let id = d.ok(&["run", "-d", "--runtime", "runc", "busybox", "sleep", "100"]);
    let id = id.trim();
    assert_eq!(d.inspect(id, "{{.HostConfig.Runtime}}"), "runc");
    let state = std::process::Command::new("runc")
        .arg("--root")
        .arg(d.exec_root.join("runtime"))
        .args(["state", id])
        .output()
        .unwrap();
    assert!(
        state.status.success(),
        "runc does not know the container: {}",
        String::from_utf8_lossy(&state.stderr)
    );
    d.ok(&["rm", "-f", id]);
    let (_, err) = d.fails(&["run", "--rm", "--runtime", "nope", "busybox", "true"]);
    assert!(err.contains("unknown or invalid runtime name: nope"), "{err}");
    // SIGHUP reloads daemon.json (debug here).
    assert_eq!(d.ok(&["info", "--format", "{{.Debug}}"]).trim(), "false");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&d.config).unwrap()).unwrap();
    cfg["debug"] = serde_json::json!(true);
    std::fs::write(&d.config, serde_json::to_vec(&cfg).unwrap()).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.pid()), nix::sys::signal::Signal::SIGHUP).unwrap();
    d.wait_for(10, "the reload", || d.ok(&["info", "--format", "{{.Debug}}"]).trim() == "true");
}

#[test]
fn version_info_and_errors() {
    let d = Berthd::start();
    assert_eq!(
        d.ok(&["version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}"]).trim(),
        "1.51 1.24"
    );
    assert_eq!(
        d.ok(&["info", "--format", "{{.Images}} {{.Containers}} {{.Driver}} {{.OSType}}"]).trim(),
        "1 0 overlayfs linux"
    );
    let (code, err) = d.fails(&["inspect", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such object: nope"), "{err}");
    let (_, err) = d.fails(&["rm", "nope"]);
    assert!(err.contains("No such container: nope"), "{err}");
    let (code, err) = d.fails(&["run", "--rm", "--network", "none", "busybox", "nope"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    let (code, err) = d.fails(&["run", "--name", "-bad", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("Invalid container name (-bad)"), "{err}");
    // Without pulling (a pull would leave loopback: the registry tests pull).
    let (_, err) = d.fails(&["run", "--pull", "never", "nosuchimage"]);
    assert!(err.contains("No such image: nosuchimage"), "{err}");
    // A version newer than berth's is refused with Docker's words.
    let out = Command::new("curl")
        .args(["-s", "--unix-socket", d.sock.to_str().unwrap(), "http://x/v1.99/version"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"message":"client version 1.99 is too new. Maximum supported API version is 1.51"}"#
    );
}

#[test]
fn run_attach_exit_codes_and_ttys() {
    let d = Berthd::start();
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(d.ok(&["ps", "-aq"]), "", "--rm removed it");
    // stdin through -i, closed at its end.
    let mut child = d
        .command(["run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\ndone\n");
    // -it through a pty (script gives docker one): the shell's prompt, its output, its exit code.
    let out = Command::new("script")
        .args(["-qec", &format!("DOCKER_HOST={} docker run -it --rm busybox sh", d.host()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            let mut i = c.stdin.take().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            i.write_all(b"echo tty=$(tty) sum=$((40+2)); exit 5\n").unwrap();
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tty=/dev/pts/0 sum=42"), "{text}");
    assert_eq!(out.status.code(), Some(5), "{text}");
}

#[test]
fn lifecycle_ps_logs_exec_inspect() {
    let d = Berthd::start();
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        "tier=front",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line $i; done; exec sleep 1000",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    d.ok(&["run", "-d", "--name", "done", "busybox", "sh", "-c", "exit 2"]);
    d.wait_for(10, "done to exit", || d.inspect("done", "{{.State.Status}}") == "exited");
    // ps, its filters and --format.
    assert_eq!(
        d.ok(&["ps", "--format", "{{.Names}} {{.Image}} {{.Command}}"]).trim(),
        "web busybox \"sh -c 'for i in 1 2…\""
    );
    assert_eq!(
        d.ok(&["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}"])
            .trim()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>(),
        ["done", "Exited", "(2)"]
    );
    assert_eq!(d.ok(&["ps", "-a", "--filter", "label=tier=front", "-q"]).trim(), &id[..12]);
    assert_eq!(d.ok(&["ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}"]).trim(), "done");
    assert_eq!(d.ok(&["ps", "-a", "--filter", "ancestor=busybox", "-q"]).lines().count(), 2);
    assert_eq!(d.ok(&["ps", "-a", "--filter", "name=we", "--format", "{{.Names}}"]).trim(), "web");
    assert_eq!(d.ok(&["ps", "-a", "-n", "1", "--format", "{{.Names}}"]).trim(), "done");
    let (_, err) = d.fails(&["ps", "--filter", "bogus=1"]);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
    // logs: all, --tail from the end, timestamps, follow until the container stops.
    d.wait_for(10, "the log", || d.ok(&["logs", "web"]).lines().count() == 5);
    assert_eq!(d.ok(&["logs", "--tail", "2", "web"]), "line 4\nline 5\n");
    assert_eq!(d.ok(&["logs", "--until", "1", "web"]), "", "nothing was logged before 1970");
    let ts = d.ok(&["logs", "-t", "--tail", "1", "web"]);
    assert!(ts.ends_with(" line 5\n") && ts.starts_with("20"), "{ts}");
    // --since now: only what comes next, however long the client takes to connect.
    let since = now_arg();
    let follow = d.command(["logs", "-f", "--since", &since, "web"]).stdout(Stdio::piped()).spawn().unwrap();
    d.ok(&["exec", "web", "sh", "-c", "echo appended > /proc/1/fd/1"]);
    std::thread::sleep(Duration::from_millis(300));
    d.ok(&["kill", "web"]);
    let out = follow.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "appended\n", "follow ends when the container does");
    assert_eq!(d.inspect("web", "{{.State.ExitCode}} {{.State.Running}}"), "137 false");
    // restart, exec (exit codes, env, user, workdir), inspect -f, top.
    d.ok(&["restart", "-t", "1", "web"]);
    assert_eq!(d.inspect("web", "{{.State.Status}} {{.RestartCount}}"), "running 0");
    let out = d.docker(&[
        "exec",
        "-e",
        "X=1",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "web",
        "sh",
        "-c",
        "echo $X $(pwd) $(id -un); exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 /tmp nobody\n");
    // The CLI reads an exec's exit code from its inspect the moment the stream ends: the
    // daemon must have recorded it by then, every time.
    let codes: Vec<_> = (1..=40)
        .map(|i| d.docker(&["exec", "web", "sh", "-c", &format!("exit {i}")]).status.code())
        .collect();
    assert_eq!(codes, (1..=40).map(Some).collect::<Vec<_>>());
    d.ok(&["exec", "-d", "web", "sh", "-c", "echo detached > /tmp/d"]);
    d.wait_for(5, "the detached exec", || {
        d.docker(&["exec", "web", "cat", "/tmp/d"]).stdout == b"detached\n"
    });
    let top = d.ok(&["top", "web", "-o", "pid,args"]);
    assert_eq!(
        top.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"],
        "{top}"
    );
    let top = d.ok(&["top", "web"]);
    assert!(top.lines().next().unwrap().contains("PID") && top.contains("sleep 1000"), "{top}");
    assert_eq!(
        d.inspect("web", "{{.Config.Labels.tier}} {{.HostConfig.NetworkMode}} {{len .Mounts}}"),
        "front bridge 0"
    );
    assert_eq!(d.inspect("web", "{{.Name}} {{.Path}} {{index .Args 0}}"), "/web sh -c");
    // pause/unpause show in ps; a paused container refuses exec.
    d.ok(&["pause", "web"]);
    assert!(d.ok(&["ps", "--format", "{{.Status}}", "-f", "name=web"]).contains("(Paused)"));
    let (_, err) = d.fails(&["exec", "web", "true"]);
    assert!(err.contains("is paused"), "{err}");
    d.ok(&["unpause", "web"]);
    // Names are unique; rename; stop; rm refuses a running container without -f.
    let (_, err) = d.fails(&["run", "-d", "--name", "web", "busybox", "true"]);
    assert!(err.contains("Conflict. The container name \"/web\" is already in use by container"), "{err}");
    d.ok(&["rename", "web", "web2"]);
    let (_, err) = d.fails(&["rm", "web2"]);
    assert!(
        err.contains("container is running: stop the container before removing or force remove"),
        "{err}"
    );
    d.ok(&["stop", "-t", "1", "web2"]);
    assert_eq!(d.inspect("web2", "{{.State.ExitCode}}"), "137");
    d.ok(&["rm", "web2"]);
    assert_eq!(d.ok(&["container", "prune", "-f"]).lines().next().unwrap(), "Deleted Containers:");
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    d.assert_nothing_left();
}

#[test]
fn files_cp_diff_commit_export_import_save_load() {
    let d = Berthd::start();
    let tmp = tempfile::tempdir().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "files",
        "busybox",
        "sh",
        "-c",
        "echo data > /root/made; rm /bin/vi; exec sleep 1000",
    ]);
    d.wait_for(5, "the file", || d.docker(&["exec", "files", "cat", "/root/made"]).status.success());
    // cp out (a file, a directory) and in; symlinks do not lead out of the container.
    d.ok(&["cp", "files:/root/made", tmp.path().to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(tmp.path().join("made")).unwrap(), "data\n");
    std::fs::write(tmp.path().join("in.txt"), "into the container\n").unwrap();
    d.ok(&["cp", tmp.path().join("in.txt").to_str().unwrap(), "files:/tmp/"]);
    assert_eq!(d.ok(&["exec", "files", "cat", "/tmp/in.txt"]), "into the container\n");
    d.ok(&["exec", "files", "ln", "-s", "/", "/tmp/escape"]);
    d.ok(&["cp", tmp.path().join("in.txt").to_str().unwrap(), "files:/tmp/escape/etc/"]);
    assert!(!std::path::Path::new("/etc/in.txt").exists(), "cp followed a symlink out of the container");
    assert_eq!(d.ok(&["exec", "files", "cat", "/etc/in.txt"]), "into the container\n");
    // diff: what the container changed.
    let diff = d.ok(&["diff", "files"]);
    for want in ["A /root/made", "D /bin/vi", "A /tmp/in.txt", "C /tmp"] {
        assert!(diff.lines().any(|l| l == want), "{want} missing from:\n{diff}");
    }
    assert!(!diff.contains("/etc/hosts"), "{diff}");
    // commit, and a container from the new image sees the change.
    let img = d.ok(&["commit", "-c", "ENV FROM_COMMIT=yes", "files", "snap:1"]);
    assert!(img.starts_with("sha256:"));
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "snap:1",
            "sh",
            "-c",
            "cat /root/made; echo $FROM_COMMIT; test -e /bin/vi || echo no-vi"
        ]),
        "data\nyes\nno-vi\n"
    );
    assert_eq!(
        d.ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", "snap:1"]).lines().next().unwrap(),
        "sh -c 'echo data > /root/made; rm /bin/vi; exec sleep 1000'"
    );
    // export → import.
    let tar = tmp.path().join("files.tar");
    d.ok(&["export", "-o", tar.to_str().unwrap(), "files"]);
    d.ok(&["import", tar.to_str().unwrap(), "flat:1"]);
    assert_eq!(d.ok(&["run", "--rm", "flat:1", "cat", "/root/made"]), "data\n");
    // save → rmi → load.
    let saved = tmp.path().join("snap.tar");
    d.ok(&["save", "-o", saved.to_str().unwrap(), "snap:1"]);
    let (_, err) = d.fails(&["rmi", "busybox"]);
    assert!(
        err.contains("conflict: unable to remove repository reference \"busybox\" (must force) - container"),
        "{err}"
    );
    d.ok(&["rm", "-f", "files"]);
    d.ok(&["rmi", "snap:1", "flat:1"]);
    let loaded = d.ok(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(loaded.trim(), "Loaded image: snap:1");
    assert_eq!(d.ok(&["run", "--rm", "snap:1", "cat", "/root/made"]), "data\n");
    d.ok(&["image", "prune", "-af"]);
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn events_stats_and_limits() {
    let d = Berthd::start();
    let since = now_arg();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ev",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "busybox",
        "sleep",
        "1000",
    ]);
    let stats = d.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "ev"]);
    assert!(stats.starts_with("ev 1 ") && stats.contains("/ 64MiB"), "{stats}");
    assert_eq!(
        d.inspect("ev", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"),
        "67108864 500000000 50"
    );
    d.ok(&["update", "--memory", "128m", "--memory-swap", "256m", "ev"]);
    let stats = d.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "ev"]);
    assert!(stats.contains("/ 128MiB"), "{stats}");
    d.ok(&["kill", "-s", "TERM", "ev"]);
    d.ok(&["rm", "-f", "ev"]);
    let until = now_arg();
    let ev = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = ev.lines().collect();
    for want in ["create", "start", "update", "kill", "die", "destroy"] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let ev = d.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "{{.Actor.Attributes.exitCode}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(ev.trim(), "137 ev");
}

/// The `cgroup.procs` file of the first cgroup of a process or thread (`/proc/<pid>` or
/// `/proc/<pid>/task/<tid>`), as the primer's helper finds its own.
fn first_cgroup(proc_dir: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("{proc_dir}/cgroup")).unwrap();
    berth_shim::prime::procs_files(&text, berth_sys::cgroup_v2()).remove(0)
}

/// Moves berthd back where it was and removes the test's cgroup, also when the test fails.
struct MovedDaemon {
    pid: i32,
    home: std::path::PathBuf,
    moved: std::path::PathBuf,
}

impl Drop for MovedDaemon {
    fn drop(&mut self) {
        let _ = std::fs::write(self.home.join("cgroup.procs"), self.pid.to_string());
        // Shims started meanwhile are in it until their containers are gone.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.moved).is_ok() || !self.moved.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("left behind: {}", self.moved.display());
    }
}

/// The daemon keeps the kernel's cgroup-migration lock primed around starts and execs (a helper
/// process migrates itself, never the daemon). A daemon its service manager moved elsewhere must
/// stay there, every thread of it.
#[test]
fn the_cgroup_primer_leaves_the_daemon_where_it_was_put() {
    let d = Berthd::start();
    d.ok(&["run", "--rm", "busybox", "true"]);
    let daemon = format!("/proc/{}", d.pid());
    let home = first_cgroup(&daemon).parent().unwrap().to_path_buf();
    let name = format!("berth-primer-test-{}", std::process::id());
    let moved = home.join(&name);
    std::fs::create_dir(&moved).unwrap();
    let _guard = MovedDaemon { pid: d.pid(), home: home.clone(), moved: moved.clone() };
    std::fs::write(moved.join("cgroup.procs"), d.pid().to_string()).unwrap();
    let want = moved.join("cgroup.procs");
    assert_eq!(first_cgroup(&daemon), want);
    // Starts and execs prime; a run, a detached container, an exec in it.
    d.ok(&["run", "--rm", "busybox", "true"]);
    let id = d.ok(&["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    assert_eq!(d.ok(&["exec", id, "echo", "in"]).trim(), "in");
    d.ok(&["restart", "-t", "0", id]);
    d.ok(&["rm", "-f", id]);
    assert_eq!(first_cgroup(&daemon), want, "the daemon was moved back");
    for t in std::fs::read_dir(format!("{daemon}/task")).unwrap() {
        let tid = t.unwrap().file_name().to_string_lossy().into_owned();
        assert_eq!(first_cgroup(&format!("{daemon}/task/{tid}")), want, "thread {tid}");
    }
}
