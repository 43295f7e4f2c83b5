//! Faults a user meets on an ordinary day, each fixed with its test here: `cp` through a
//! container's mounts, concurrent copies of one stopped container, `start` of a running or
//! paused container, `kill` answered after the exit, swarm's endpoints off swarm.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::daemon::Berthd;

/// `docker cp CONTAINER:PATH -`: the tar's single file's content.
fn cp_out(d: &Berthd, from: &str) -> String {
    let out = d.command(["cp", from, "-"]).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "docker cp {from} -: {}", String::from_utf8_lossy(&out.stderr));
    let mut a = tar::Archive::new(&out.stdout[..]);
    let mut e = a.entries().unwrap().next().expect("one entry").unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut e, &mut s).unwrap();
    s
}

/// The views' directory holds nothing once copies are done, and nothing of them is mounted. A
/// view's directory goes when its copy's thread ends, a moment after the client has read the
/// end of the stream: this waits (5 s at most) before it fails.
fn assert_no_views_left(d: &Berthd) {
    let views = || -> Vec<std::ffi::OsString> {
        std::fs::read_dir(d.exec_root.join("views"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect()
    };
    berth_tests::eventually(Duration::from_secs(5), || views().is_empty());
    let left = views();
    assert!(left.is_empty(), "views left: {left:?}");
    let rootfs_mounts: Vec<String> = d.mounts().into_iter().filter(|m| !m.ends_with("/rootfs")).collect();
    assert!(rootfs_mounts.is_empty(), "mounts left on the host: {rootfs_mounts:?}");
}

#[test]
fn cp_goes_through_volumes_binds_and_the_etc_files() {
    let d = Berthd::start();
    let bind = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("g"), "into the volume\n").unwrap();
    let bind_arg = format!("{}:/bind", bind.path().display());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "cpb",
        "-v",
        "cpvol:/data",
        "-v",
        &bind_arg,
        "-v",
        "cpro:/ro:ro",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f; sleep 1000",
    ]);
    d.wait_for(10, "the volume's file", || d.docker(&["exec", "cpb", "cat", "/data/f"]).status.success());
    // Out of a volume, and out of the files the daemon binds in.
    assert_eq!(cp_out(&d, "cpb:/data/f"), "x\n");
    let id = d.inspect("cpb", "{{.Id}}");
    assert_eq!(cp_out(&d, "cpb:/etc/hostname"), format!("{}\n", &id[..12]));
    assert!(cp_out(&d, "cpb:/etc/hosts").contains(&id[..12]), "/etc/hosts copies out with its content");
    // Into a volume and a bind: the container sees it, the host's bind source holds it.
    let g = src.path().join("g");
    d.ok(&["cp", g.to_str().unwrap(), "cpb:/data/g"]);
    assert_eq!(d.ok(&["exec", "cpb", "cat", "/data/g"]), "into the volume\n");
    d.ok(&["cp", g.to_str().unwrap(), "cpb:/bind/g"]);
    assert_eq!(std::fs::read_to_string(bind.path().join("g")).unwrap(), "into the volume\n");
    // A read-only volume refuses, as on Docker.
    let (_, err) = d.fails(&["cp", g.to_str().unwrap(), "cpb:/ro/g"]);
    assert!(err.contains("mounted volume is marked read-only"), "{err}");
    // Stopped: the same paths still reach the volume; what goes in is there at the next start.
    d.ok(&["stop", "-t", "0", "cpb"]);
    assert_eq!(cp_out(&d, "cpb:/data/g"), "into the volume\n");
    d.ok(&["cp", g.to_str().unwrap(), "cpb:/data/h"]);
    d.ok(&["start", "cpb"]);
    assert_eq!(d.ok(&["exec", "cpb", "cat", "/data/h"]), "into the volume\n");
    assert_eq!(d.ok(&["run", "--rm", "-v", "cpvol:/v", "busybox", "cat", "/v/h"]), "into the volume\n");
    d.ok(&["rm", "-f", "cpb"]);
    assert_no_views_left(&d);
}

#[test]
fn concurrent_copies_of_a_stopped_container_all_succeed_and_leave_nothing() {
    let d = Berthd::start();
    d.ok(&["create", "--name", "cps", "-v", "par:/data", "busybox", "true"]);
    d.ok(&["run", "--rm", "-v", "par:/data", "busybox", "sh", "-c", "echo p > /data/p"]);
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("in"), "in\n").unwrap();
    let host = d.host();
    let mut jobs = Vec::new();
    for i in 0..24 {
        let (host, src) = (host.clone(), src.path().join("in"));
        jobs.push(std::thread::spawn(move || {
            let docker = |args: &[&str]| {
                Command::new("docker")
                    .env("DOCKER_HOST", &host)
                    .args(args)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            };
            let out = match i % 6 {
                0 => docker(&["cp", "cps:/data/p", "-"]),
                1 => docker(&["cp", "cps:/etc/passwd", "-"]),
                2 => docker(&["export", "cps"]),
                3 => docker(&["diff", "cps"]),
                4 => docker(&["cp", src.to_str().unwrap(), &format!("cps:/tmp/in{i}")]),
                _ => docker(&["commit", "cps"]),
            };
            (i, out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
        }));
    }
    for j in jobs {
        let (i, ok, err) = j.join().unwrap();
        assert!(ok, "request {i} failed: {err}");
    }
    assert_eq!(cp_out(&d, "cps:/tmp/in4"), "in\n");
    assert_no_views_left(&d);
    assert!(d.mounts().is_empty(), "a stopped container has nothing mounted: {:?}", d.mounts());
}

#[test]
fn start_of_a_running_or_paused_container_answers_at_once() {
    let d = Berthd::start();
    d.ok(&["run", "-d", "--name", "rs", "busybox", "sleep", "1000"]);
    let t = Instant::now();
    let (code, _) = d.api("POST", "/containers/rs/start", None);
    assert_eq!(code, 304);
    d.ok(&["start", "rs"]);
    assert!(t.elapsed() < Duration::from_secs(3), "two starts of a running container took {:?}", t.elapsed());
    d.ok(&["pause", "rs"]);
    let (code, body) = d.api("POST", "/containers/rs/start", None);
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("cannot start a paused container, try unpause instead"), "{body}");
    d.ok(&["unpause", "rs"]);
    // Nothing was held meanwhile: a stop with a short timeout is quick.
    let t = Instant::now();
    d.ok(&["stop", "-t", "1", "rs"]);
    assert!(t.elapsed() < Duration::from_secs(5), "stop took {:?}", t.elapsed());
    d.ok(&["rm", "rs"]);
}

/// POST kill, then GET json at once on the same connection: the status right after the answer.
fn kill_then_inspect(d: &Berthd, name: &str) -> (u16, serde_json::Value) {
    let py = format!(
        "import http.client, json, socket\n\
         class C(http.client.HTTPConnection):\n\
         \x20   def connect(self):\n\
         \x20       self.sock = socket.socket(socket.AF_UNIX); self.sock.connect({sock:?})\n\
         c = C('x')\n\
         c.request('POST', '/containers/{name}/kill'); r = c.getresponse(); r.read(); code = r.status\n\
         c.request('GET', '/containers/{name}/json'); st = json.loads(c.getresponse().read())['State']\n\
         print(json.dumps([code, st]))",
        sock = d.sock.display().to_string(),
    );
    let out = Command::new("python3").args(["-c", &py]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (v[0].as_u64().unwrap_or(0) as u16, v[1].clone())
}

#[test]
fn kill_answers_once_the_container_has_exited() {
    let d = Berthd::start();
    for i in 0..5 {
        let name = format!("k{i}");
        d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
        let (code, st) = kill_then_inspect(&d, &name);
        assert_eq!(code, 204);
        assert_eq!(st["Status"], "exited", "right after kill: {st}");
        assert_eq!(st["ExitCode"], 137);
    }
    // A signal that does not end the container is answered at once.
    d.ok(&["run", "-d", "--name", "ku", "busybox", "sh", "-c", "trap '' USR1; sleep 1000"]);
    let t = Instant::now();
    d.ok(&["kill", "-s", "USR1", "ku"]);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(d.inspect("ku", "{{.State.Status}}"), "running");
    d.ok(&["rm", "-f", "ku", "k0", "k1", "k2", "k3", "k4"]);
}

#[test]
fn swarm_endpoints_answer_as_a_node_outside_a_swarm() {
    let d = Berthd::start();
    let manager = "This node is not a swarm manager. Use \\\"docker swarm init\\\" or \\\"docker swarm join\\\" to connect this node to swarm and try again.";
    for path in ["/swarm", "/v1.51/nodes", "/services", "/tasks", "/secrets", "/configs", "/swarm/unlockkey"]
    {
        let (code, body) = d.api("GET", path, None);
        assert_eq!(code, 503, "{path}: {body}");
        assert!(body.contains(manager), "{path}: {body}");
    }
    let (code, body) = d.api("POST", "/swarm/leave?force=1", None);
    assert_eq!((code, body.contains("This node is not part of a swarm")), (503, true), "{body}");
    // The Python SDK's tear-down idiom succeeds; the docker CLI says what Docker says.
    let py = format!(
        "import docker\nc = docker.DockerClient(base_url={:?})\nassert c.api.leave_swarm(force=True) is True\nprint('ok')",
        d.host()
    );
    let out = Command::new("python3").args(["-c", &py]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{}", String::from_utf8_lossy(&out.stderr));
    let (_, err) = d.fails(&["node", "ls"]);
    assert!(err.contains("This node is not a swarm manager"), "{err}");
}

#[test]
fn a_failing_exec_is_reported_on_its_stream_and_in_its_inspect() {
    let d = Berthd::start();
    d.ok(&["run", "-d", "--name", "exx", "busybox", "sleep", "1000"]);
    let not_found = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown";
    let no_cwd = "chdir to cwd (\"/nope\") set in config.json failed: no such file or directory";
    let no_user = "unable to find user nobodyx: no matching entries in passwd file";
    let cases: &[(&[&str], i32, &str)] = &[
        (&["exx", "nope"], 127, not_found),
        (&["-u", "nobodyx", "exx", "true"], 126, no_user),
        (&["-w", "/nope", "exx", "true"], 126, no_cwd),
    ];
    for tty in [false, true] {
        for (args, code, want) in cases {
            let mut all = vec!["exec"];
            if tty {
                all.push("-t");
            }
            all.extend_from_slice(args);
            let out = d.command(&all).stdin(Stdio::null()).output().unwrap();
            let text =
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(*code), "{all:?}: {text}");
            assert!(text.contains(want) && !text.contains("Unrecognized input header"), "{all:?}: {text}");
        }
    }
    // Through the SDK: the message decodes from the stream, and the exec is over with its code.
    let py = format!(
        "import docker, json\n\
         api = docker.APIClient(base_url={:?})\n\
         for cmd, kw in [(['nope'], {{}}), (['true'], {{'user': 'nobodyx'}}), (['true'], {{'workdir': '/nope'}})]:\n\
         \x20   for tty in (False, True):\n\
         \x20       e = api.exec_create('exx', cmd, tty=tty, **kw)\n\
         \x20       out = api.exec_start(e['Id'], tty=tty)\n\
         \x20       i = api.exec_inspect(e['Id'])\n\
         \x20       print(json.dumps([out.decode(), i['Running'], i['ExitCode']]))\n",
        d.host()
    );
    let out = Command::new("python3").args(["-c", &py]).output().unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "{}", String::from_utf8_lossy(&out.stderr));
    for (i, v) in lines.iter().enumerate() {
        let (_, code, want) = cases[i / 2];
        assert!(v[0].as_str().unwrap().contains(want), "{v}");
        assert_eq!((v[1].as_bool(), v[2].as_i64()), (Some(false), Some(code as i64)), "{v}");
    }
    d.ok(&["rm", "-f", "exx"]);
}

#[test]
fn bad_input_gets_dockers_400_at_create() {
    let d = Berthd::start();
    let create = |extra: &str| format!(r#"{{"Image":"busybox","Cmd":["true"]{extra}}}"#);
    let hc = |h: &str| create(&format!(r#","HostConfig":{{{h}}}"#));
    let cases: Vec<(String, &str)> = vec![
        (hc(r#""CpusetCpus":"abc""#), "Invalid value abc for cpuset cpus"),
        (hc(r#""CpusetCpus":"0-4095""#), "Requested CPUs are not available - requested 0-4095"),
        (hc(r#""CpusetMems":"77""#), "Requested memory nodes are not available"),
        (hc(r#""Memory":67108864,"MemorySwap":-2"#), "invalid MemorySwap -2"),
        (hc(r#""Memory":67108864,"MemorySwap":33554432"#), "Minimum memoryswap limit"),
        (hc(r#""Memory":67108864,"MemoryReservation":134217728"#), "memory reservation limit"),
        (hc(r#""OomScoreAdj":1001"#), "range for oom score adj is [-1000, 1000]"),
        (hc(r#""Ulimits":[{"Name":"nofile","Soft":-5,"Hard":10}]"#), "invalid ulimit nofile"),
        (
            hc(r#""Ulimits":[{"Name":"nofile","Soft":100,"Hard":10}]"#),
            "soft limit must be less than or equal",
        ),
        (hc(r#""BlkioWeight":5"#), "Range of blkio weight is from 10 to 1000"),
        (hc(r#""Isolation":"hyperv""#), "linux only supports 'default'"),
        (create(r#","Env":["A=b\u0000c"]"#), "contains a NUL byte"),
        (create(r#","Labels":{"a":"b\u0000c"}"#), "contains a NUL byte"),
    ];
    for (body, want) in &cases {
        let (code, resp) = d.api("POST", "/containers/create", Some(body));
        assert_eq!(code, 400, "{body}: {resp}");
        assert!(resp.contains(want), "{body}: {resp} (wanted {want:?})");
    }
    let (code, resp) = d.api("POST", "/containers/create?name=ab%00c", Some(&create("")));
    assert_eq!(code, 400, "{resp}");
    // Nothing was created by any of them.
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    // Invalid references are the client's mistake, not a missing feature.
    for from in ["%2F", "UPPER", "a%20b", "x:y:z"] {
        let (code, resp) = d.api("POST", &format!("/images/create?fromImage={from}"), None);
        assert_eq!(code, 400, "{from}: {resp}");
        assert!(resp.contains("invalid reference format"), "{from}: {resp}");
    }
    // An archive path with a NUL byte.
    d.ok(&["create", "--name", "arch", "busybox", "true"]);
    let (code, resp) = d.api("HEAD", "/containers/arch/archive?path=/a%00b", None);
    assert_eq!(code, 400, "{resp}");
    // An answer given before the body was read closes the connection, and says so: a client
    // that kept it would lose its next request.
    let out = Command::new("curl")
        .args(["-s", "-i", "-X", "POST", "-H", "Content-Type: application/json", "-d", r#"{"Memory":0}"#])
        .arg("--unix-socket")
        .arg(&d.sock)
        .arg("http://x/containers/nope/update")
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 404") && head.contains("connection: close"), "{head}");
    // Cmd and Entrypoint as JSON strings are one argument each, as Docker's StrSlice.
    let (code, resp) = d.api(
        "POST",
        "/containers/create?name=strs",
        Some(r#"{"Image":"busybox","Entrypoint":"echo","Cmd":"hi there"}"#),
    );
    assert_eq!(code, 201, "{resp}");
    d.ok(&["start", "strs"]);
    assert_eq!(d.ok(&["wait", "strs"]).trim(), "0");
    assert_eq!(d.ok(&["logs", "strs"]), "hi there\n");
    d.ok(&["rm", "arch", "strs"]);
}

/// Open descriptors of a process.
fn fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn detach_keys_end_the_connection_and_leave_the_process_running() {
    let d = Berthd::start();
    d.ok(&["run", "-dit", "--name", "dk", "busybox", "sh"]);
    // The SDK's attach_socket with detachKeys (a tty container): after the keys the daemon ends
    // the connection, the container keeps running. Bytes before the keys reach the shell.
    let py = format!(
        "import docker, socket, time\n\
         api = docker.APIClient(base_url={host:?})\n\
         s = api.attach_socket('dk', params={{'stdin': 1, 'stdout': 1, 'stream': 1, 'detachKeys': 'ctrl-x,x'}})\n\
         raw = s._sock\n\
         raw.sendall(b'echo before > /tmp/mark\\n'); time.sleep(0.5)\n\
         raw.sendall(b'\\x18x'); raw.settimeout(5)\n\
         out = b''\n\
         while True:\n\
         \x20   b = raw.recv(4096)\n\
         \x20   if not b: break\n\
         \x20   out += b\n\
         print('closed')\n\
         e = api.exec_create('dk', ['cat'], stdin=True, tty=True, detach_keys='ctrl-y')\n\
         es = api.exec_start(e['Id'], tty=True, socket=True)._sock\n\
         time.sleep(0.3); es.sendall(b'\\x19'); es.settimeout(5)\n\
         while es.recv(4096): pass\n\
         print('exec closed', api.exec_inspect(e['Id'])['Running'])\n",
        host = d.host()
    );
    let out = Command::new("timeout").args(["30", "python3", "-c", &py]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("closed\n"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("exec closed True"), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(d.inspect("dk", "{{.State.Status}}"), "running");
    assert_eq!(d.ok(&["exec", "dk", "cat", "/tmp/mark"]), "before\n");
    // Keys that are not keys are refused before anything is attached.
    let (code, body) = d.api("POST", "/containers/dk/attach?stream=1&stdin=1&detachKeys=ctrl-1", None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("Invalid detach keys (ctrl-1) provided"), "{body}");
    let (code, body) =
        d.api("POST", "/containers/dk/exec", Some(r#"{"Cmd":["true"],"Tty":true,"DetachKeys":"ctrl-"}"#));
    assert_eq!(code, 400, "{body}");
    d.ok(&["rm", "-f", "dk"]);
}

#[test]
fn an_abandoned_attach_lets_go_of_its_descriptors_when_the_client_goes() {
    let d = Berthd::start();
    d.ok(&["run", "-d", "--name", "quiet", "busybox", "sleep", "1000"]);
    std::thread::sleep(Duration::from_millis(300));
    let before = fds(d.pid());
    // Clients attach to a container that prints nothing, then go away.
    let py = format!(
        "import docker, time\n\
         api = docker.APIClient(base_url={:?})\n\
         socks = [api.attach_socket('quiet', params={{'stdout': 1, 'stderr': 1, 'stream': 1}}) for _ in range(8)]\n\
         time.sleep(0.5)\n\
         print(len(socks))\n",
        d.host()
    );
    let mut child = Command::new("python3").args(["-c", &py]).stdout(Stdio::piped()).spawn().unwrap();
    let mut during = 0;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) && during < before + 8 {
        during = during.max(fds(d.pid()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
    assert!(during >= before + 8, "the attaches were made: {before} then {during}");
    d.wait_for(5, "the attaches' descriptors to be closed", || fds(d.pid()) <= before + 1);
    d.ok(&["rm", "-f", "quiet"]);
}

/// CPU seconds a process has used (user and system).
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// `n` idle connections to the daemon's socket.
fn idle_connections(d: &Berthd, n: usize) -> Vec<std::os::unix::net::UnixStream> {
    (0..n).filter_map(|_| std::os::unix::net::UnixStream::connect(&d.sock).ok()).collect()
}

#[test]
fn request_bodies_and_connections_are_bounded() {
    let d = Berthd::start();
    // A client that sends half its headers is let go after the header timeout; meanwhile the
    // rest of the test goes on.
    let sock = d.sock.clone();
    let slow = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(45))).unwrap();
        let t = Instant::now();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(usize::MAX);
        (n, t.elapsed())
    });
    // JSON bodies over the limit are refused, announced or chunked, and never held.
    let post = |extra: &[&str], source: &str| {
        let script = format!(
            "{source} | curl -s -w ' %{{http_code}}' --unix-socket {} -XPOST -H 'Content-Type: application/json' {} --data-binary @- http://x/containers/create",
            d.sock.display(),
            extra.join(" ")
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let announced = post(&[], "head -c 20000000 /dev/zero");
    assert!(announced.ends_with(" 413") && announced.contains("limited to 8 MiB"), "{announced}");
    let chunked = post(&["-H 'Transfer-Encoding: chunked'"], "head -c 300000000 /dev/zero");
    assert!(chunked.ends_with(" 413"), "{chunked}");
    let hwm = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:").map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap())
        })
        .unwrap();
    assert!(hwm < 100 * 1024, "the daemon's peak RSS was {hwm} kB");
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    let (n, took) = slow.join().unwrap();
    assert_eq!(n, 0, "the half-sent request's connection was closed, with nothing sent");
    assert!(took >= Duration::from_secs(25) && took < Duration::from_secs(40), "closed after {took:?}");
}

#[test]
fn connections_over_the_limit_are_refused_fast_and_running_out_of_descriptors_does_not_spin() {
    // 100 descriptors: 50 connections are served at once; the rest are answered 503 at once.
    let d = Berthd::start_with_nofile(100);
    // More than the 50 it serves: those over the limit are refused and closed, the rest held.
    let held = idle_connections(&d, 60);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let (code, body) = d.api("GET", "/_ping", None);
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("too many connections"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(2), "the refusal took {:?}", t.elapsed());
    drop(held);
    d.wait_for(5, "the daemon to serve again", || d.api("GET", "/_ping", None).0 == 200);
    drop(d);
    // 40 descriptors: the daemon runs out of them before its limit; accept errors back off.
    let d = Berthd::start_with_nofile(40);
    let held = idle_connections(&d, 60);
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_seconds(d.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(d.pid()) - before;
    assert!(used < 0.3, "the daemon used {used:.2} s of CPU in 2 s with no descriptors left");
    drop(held);
    d.wait_for(10, "the daemon to serve again", || d.api("GET", "/_ping", None).0 == 200);
}

/// The IPv4 addresses of a link on the host, as `ip` prints them (`10.0.0.1/24`).
fn link_v4(name: &str) -> Vec<String> {
    let out = Command::new("ip").args(["-4", "-o", "addr", "show", "dev", name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(String::from))
        .collect()
}

#[test]
fn a_changed_bip_pools_and_mtu_apply_at_the_next_start() {
    let mut d = Berthd::start();
    // The harness gives slot k the default bridge 10.213.k.1/24; everything here stays in it.
    let k: u32 = d.prefix.trim_start_matches("bt").parse().unwrap();
    let bridge = format!("{}0", d.prefix);
    let subnet = |d: &Berthd| {
        d.inspect("bridge", "{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}")
    };
    assert_eq!(subnet(&d), format!("10.213.{k}.0/24 10.213.{k}.1"));
    let set = |d: &Berthd, f: &dyn Fn(&mut serde_json::Value)| {
        let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&d.config).unwrap()).unwrap();
        f(&mut cfg);
        std::fs::write(&d.config, serde_json::to_vec(&cfg).unwrap()).unwrap();
    };
    // A new bip and an MTU: the network, the bridge and a container's interface follow.
    d.stop();
    set(&d, &|c| {
        c["bip"] = serde_json::json!(format!("10.213.{k}.65/26"));
        c["mtu"] = serde_json::json!(1400);
    });
    d.launch();
    assert_eq!(subnet(&d), format!("10.213.{k}.64/26 10.213.{k}.65"));
    assert_eq!(d.inspect("bridge", r#"{{index .Options "com.docker.network.driver.mtu"}}"#), "1400");
    assert_eq!(link_v4(&bridge), [format!("10.213.{k}.65/26")]);
    let out =
        d.ok(&["run", "--rm", "busybox", "sh", "-c", "cat /sys/class/net/eth0/mtu; ip -4 -o addr show eth0"]);
    assert!(out.starts_with("1400\n"), "{out}");
    assert!(out.contains(&format!("10.213.{k}.66/26")), "{out}");
    // A user network's MTU option, and one that is no MTU.
    d.ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=1300",
        "--subnet",
        &format!("10.213.{k}.192/27"),
        "mtunet",
    ]);
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "mtunet", "busybox", "cat", "/sys/class/net/eth0/mtu"]),
        "1300\n"
    );
    let (_, err) = d.fails(&["network", "create", "-o", "com.docker.network.driver.mtu=abc", "badmtu"]);
    assert!(err.contains("give an MTU from 68 to 65535"), "{err}");
    d.ok(&["network", "rm", "mtunet"]);
    // Pools that no longer hold the subnet: a free one of theirs is taken.
    d.stop();
    set(&d, &|c| {
        c.as_object_mut().unwrap().remove("bip");
        c["default-address-pools"] = serde_json::json!([{"base": format!("10.213.{k}.128/26"), "size": 27}]);
    });
    d.launch();
    assert_eq!(subnet(&d), format!("10.213.{k}.128/27 10.213.{k}.129"));
    assert_eq!(link_v4(&bridge), [format!("10.213.{k}.129/27")]);
    // Unchanged configuration: nothing moves.
    d.stop();
    d.launch();
    assert_eq!(subnet(&d), format!("10.213.{k}.128/27 10.213.{k}.129"));
}

#[test]
fn berthd_finds_its_init_beside_itself_and_says_where_it_looked_when_it_cannot() {
    // As built and installed (make build, make install): berth-init beside berthd, no init-path.
    let d = Berthd::start_with(serde_json::json!({"init-path": null}), &[]);
    let pid1 = d.ok(&["run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]);
    assert!(pid1.starts_with("/sbin/docker-init"), "{pid1}");
    assert_eq!(d.ok(&["info", "-f", "{{json .Warnings}}"]).trim(), "[]");
    drop(d);
    // Missing: said at start (in info's warnings) and at run --init, naming where it looked.
    let d = Berthd::start_with(serde_json::json!({"init-path": "/nonexistent/berth-init"}), &[]);
    let warnings = d.ok(&["info", "-f", "{{json .Warnings}}"]);
    assert!(warnings.contains("berth-init was not found at /nonexistent/berth-init"), "{warnings}");
    let (code, err) = d.fails(&["run", "--rm", "--init", "busybox", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("cannot run with --init: berth-init was not found at /nonexistent/berth-init"),
        "{err}"
    );
    d.ok(&["run", "--rm", "busybox", "true"]);
}
