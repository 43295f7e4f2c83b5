//! The shim outlives whoever started it; a new process reconnects; logs rotate; nothing is left.

use std::time::Duration;

use berth_tests::*;

#[test]
fn container_survives_the_daemon_side_and_a_new_client_gets_its_exit() {
    let c =
        TestContainer::create(sh("mkfifo /tmp/go; echo up; read line < /tmp/go; exit 23"), Extra::default())
            .unwrap();
    // The "daemon side": a separate process that asks the shim to start the container, then is
    // killed with SIGKILL.
    let sock = c.client.state_dir().join("shim.sock");
    let daemon_side = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_UNIX); s.connect({:?}); s.sendall(b'{{\"op\":\"start\"}}\\n'); s.recv(100)\n\
         w = socket.socket(socket.AF_UNIX); w.connect({:?}); w.sendall(b'{{\"op\":\"wait\"}}\\n')\n\
         time.sleep(60)\n",
        sock.display().to_string(),
        sock.display().to_string()
    );
    let mut daemon = std::process::Command::new("python3").arg("-c").arg(daemon_side).spawn().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || read(&c.log_file()).contains("up")),
        "started through the daemon side"
    );
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(process_alive(c.shim_pid) && process_alive(c.pid), "shim and container outlive the daemon side");

    // A new client reconnects through the control socket.
    let fresh = ShimClient::new(c.client.state_dir());
    let state = fresh.request(&berth_shim::Request::State).unwrap();
    assert_eq!(state.status.as_deref(), Some("running"));
    let waiter = std::thread::spawn(move || fresh.wait().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let (code, _, _) = c.exec(&["sh", "-c", "echo go > /tmp/go"]);
    assert_eq!(code, 0);
    let st = waiter.join().unwrap();
    assert_eq!(st.exit_code, 23);
    assert!(!st.finished_at.is_empty() && !st.started_at.is_empty());
    // After the shim is gone, the durable record still answers.
    assert!(eventually(Duration::from_secs(5), || !process_alive(c.shim_pid)));
    assert_eq!(ShimClient::new(c.client.state_dir()).wait().unwrap().exit_code, 23);
}

#[test]
fn logs_rotate_to_max_file_files_of_about_max_size() {
    let rotation = berth_shim::logfile::Rotation { max_size: 4096, max_file: 3 };
    let c = TestContainer::create(
        sh("i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done"),
        Extra { rotation: Some(rotation), ..Default::default() },
    )
    .unwrap();
    c.client.start().unwrap();
    assert_eq!(c.client.wait().unwrap().exit_code, 0);
    let dir = c.log_file().parent().unwrap().to_path_buf();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("container-json.log"))
        .collect();
    files.sort();
    assert_eq!(files, ["container-json.log", "container-json.log.1", "container-json.log.2"]);
    for f in &files {
        assert!(std::fs::metadata(dir.join(f)).unwrap().len() <= 4096, "{f} is about max-size");
    }
    let last = read(&c.log_file()).lines().last().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["log"], "line 1999\n");
    assert_eq!(v["stream"], "stdout");
}

#[test]
fn nothing_is_left_behind() {
    let (shim_pid, dir, cgroup) = {
        let c = TestContainer::create(sh("sleep 30"), Extra::default()).unwrap();
        c.client.start().unwrap();
        assert!(c.cgroup_dir("memory").exists() || c.cgroup_dir("pids").exists());
        (c.shim_pid, c.dir.clone(), c.cgroup_dir("pids"))
    };
    assert!(!process_alive(shim_pid), "shim gone");
    assert!(!dir.exists(), "bundle and state gone");
    assert!(!cgroup.exists(), "cgroup gone");
    let mounts = read(std::path::Path::new("/proc/self/mountinfo"));
    assert!(!mounts.contains(dir.to_str().unwrap()), "no mount left");
}

/// The shim's children whose command line holds `word`.
fn children_running(shim: i32, word: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)?.parse::<i32>().ok());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(shim)
                && process_alive(*pid)
                && cmdline.split(|b| *b == 0).any(|a| a == word.as_bytes())
        })
        .collect()
}

#[test]
fn berth_runc_stays_to_start_the_container() {
    // Created: berth-runc's `create` waits under the shim for the start; it starts the container
    // when asked (no `start` process) and leaves.
    let c = TestContainer::create(sh("echo hi; exit 3"), Extra::default()).unwrap();
    let waiting = children_running(c.shim_pid, "create");
    assert_eq!(waiting.len(), 1, "one waiting create under the shim");
    let exe = std::fs::read_link(format!("/proc/{}/exe", waiting[0])).unwrap();
    assert!(exe.ends_with("berth-runc"), "{}", exe.display());
    c.client.start().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !process_alive(waiting[0])),
        "the create left once it started the container"
    );
    let st = c.client.wait().unwrap();
    assert_eq!(st.exit_code, 3);
    assert_eq!(read(&c.log_file()).matches(r#""log":"hi\n""#).count(), 1);
    // Never started: killing the container makes the shim close the socket; the waiting create
    // leaves and nothing of the container is left.
    let (shim_pid, dir, waiting) = {
        let c = TestContainer::create(sh("sleep 30"), Extra::default()).unwrap();
        let waiting = children_running(c.shim_pid, "create");
        assert_eq!(waiting.len(), 1);
        c.client.signal(9, false).unwrap();
        assert!(eventually(Duration::from_secs(5), || !process_alive(c.shim_pid)), "the shim finished");
        assert!(!process_alive(waiting[0]), "the waiting create left with it");
        (c.shim_pid, c.dir.clone(), waiting[0])
    };
    assert!(!process_alive(shim_pid) && !process_alive(waiting) && !dir.exists());
}

#[test]
fn runc_is_selectable_as_the_shims_runtime() {
    let Some(runc) =
        ["/usr/sbin/runc", "/usr/bin/runc"].into_iter().find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("runc is not installed: skipped");
        return;
    };
    let extra = Extra { runtime: Some(runc.into()), ..Default::default() };
    let (st, out, _) = TestContainer::run(sh("echo via-runc; exit 4"), extra);
    assert_eq!((st.exit_code, out.as_str()), (4, "via-runc\n"));
}

#[test]
fn an_idle_shim_stays_under_2_mib() {
    if !env().bin_dir.ends_with("release") {
        eprintln!("debug build: the memory goal is checked on release builds (make test)");
        return;
    }
    let c = TestContainer::create(sh("sleep 30"), Extra::default()).unwrap();
    c.client.start().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = read(std::path::Path::new(&format!("/proc/{}/status", c.shim_pid)));
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    assert!(rss_kib < 2048, "shim resident memory {rss_kib} KiB");
}

#[test]
fn the_launcher_reports_into_a_closed_pipe_without_panicking() {
    // A daemon killed while a shim starts leaves the launcher writing its report into a pipe
    // nobody reads: the launcher must exit with its status, not panic.
    let state = env().run_root.join(format!("closed-pipe-{}", seq()));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env().bin_dir.join("berth-shim"))
        .args(["start", "--id", "closed-pipe", "--bundle", "/nonexistent-bundle", "--state-dir"])
        .arg(&state)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&state);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "the launcher panicked: {err}");
    assert_eq!(out.status.code(), Some(1), "a failed create is exit 1: {err}");
}
