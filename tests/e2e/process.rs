//! The container's process: exit codes, signals to PID 1, `--init` reaping, terminals.

use std::io::Write;
use std::time::Duration;

use berth_tests::*;

#[test]
fn exit_codes_pass_through() {
    for code in [0, 1, 42, 255] {
        let (st, _, _) = TestContainer::run(sh(&format!("exit {code}")), Extra::default());
        assert_eq!(st.exit_code, code);
    }
    // A command that cannot be found: the runtime refuses to create the container.
    let err =
        TestContainer::create(busybox(&["/nonexistent"]), Extra::default()).err().expect("create fails");
    assert!(err.to_string().contains("nonexistent"), "{err}");
}

#[test]
fn sigterm_reaches_pid_1() {
    let c = TestContainer::create(
        sh("trap 'echo got-term; exit 3' TERM; echo ready; while true; do sleep 0.05; done"),
        Extra::default(),
    )
    .unwrap();
    let attach = c.client.attach(false, true, true).unwrap();
    c.client.start().unwrap();
    assert!(eventually(Duration::from_secs(5), || read(&c.log_file()).contains("ready")));
    c.client.signal(15, false).unwrap();
    let (out, _, _) = collect(attach.stream, Duration::from_secs(10));
    assert_eq!(c.client.wait().unwrap().exit_code, 3);
    assert!(out.contains("got-term"), "{out}");
}

/// A checker runs in the background while PID 1 becomes `sleep` (which never waits): the checker
/// orphans a short sleep, which is re-parented to PID 1, then counts zombies.
const ZOMBIES: &str = "(sh -c 'sleep 0.1 &'; sleep 0.6; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
                       grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l) & exec sleep 1.2";

#[test]
fn init_reaps_zombies() {
    // Without an init, the orphan stays a zombie under PID 1.
    let (_, out, _) = TestContainer::run(sh(ZOMBIES), Extra::default());
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["sleep 1.2 ", "1"],
        "control: a zombie stays without --init"
    );
    let mut o = sh(ZOMBIES);
    o.init = true;
    let (st, out, err) = TestContainer::run(o, Extra::default());
    assert_eq!(st.exit_code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("/sbin/docker-init -- sh -c"), "PID 1 is the init: {out}");
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[1], "0", "the init reaped the orphan: {out}");
    // The init passes the exit code and signals through.
    let mut o = sh("exit 7");
    o.init = true;
    assert_eq!(TestContainer::run(o, Extra::default()).0.exit_code, 7);
}

#[test]
fn tty_has_the_right_size_and_resizes() {
    let mut o = busybox(&["sh"]);
    o.tty = true;
    let c = TestContainer::create(o, Extra { stdin: true, ..Default::default() }).unwrap();
    let mut a = c.client.attach(true, true, true).unwrap();
    assert!(a.tty);
    c.client.resize(33, 111, None).unwrap();
    c.client.start().unwrap();
    a.send_stdin(b"stty size; tty; echo $TERM\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.client.resize(40, 120, None).unwrap();
    a.send_stdin(b"stty size; exit 5\n").unwrap();
    let (out, _, _) = collect(a.stream.try_clone().unwrap(), Duration::from_secs(10));
    assert_eq!(c.client.wait().unwrap().exit_code, 5);
    assert!(out.contains("33 111"), "{out:?}");
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("xterm"), "{out:?}");
    assert!(out.contains("40 120"), "{out:?}");
    // The terminal's output is logged as stdout, with its carriage returns.
    assert!(read(&c.log_file()).contains("\"stream\":\"stdout\""));
    let _ = a.stream.flush();
}

#[test]
fn exec_runs_beside_the_container() {
    let c = TestContainer::create(sh("sleep 30"), Extra::default()).unwrap();
    c.client.start().unwrap();
    let (code, out, _) = c.exec(&["sh", "-c", "echo from-exec; echo oops >&2; exit 9"]);
    assert_eq!((code, out.as_str()), (9, "from-exec\n"));
    let (code, out, _) = c.exec(&["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]);
    // busybox's sh execs its last command: PID 1 is the sleep itself.
    assert_eq!((code, out.trim()), (0, "sleep 30"));
    // A missing executable is refused before anything runs, with the runtime's message.
    let proc = serde_json::json!({"args": ["/nonexistent"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}});
    let err = c.client.exec("missing", proc, false, false).err().expect("exec fails");
    assert!(err.to_string().contains("'/nonexistent' not found"), "{err}");
}

#[test]
fn exec_with_a_tty_gets_its_own_terminal() {
    let c = TestContainer::create(sh("sleep 30"), Extra::default()).unwrap();
    c.client.start().unwrap();
    let process = serde_json::json!({
        "args": ["sh"], "cwd": "/", "terminal": true,
        "env": [format!("PATH={}", berth_spec::DEFAULT_PATH), "TERM=xterm"], "user": {"uid": 0, "gid": 0},
    });
    let mut a = c.client.exec("tty1", process, true, false).unwrap();
    assert!(a.tty && a.pid.is_some());
    c.client.resize(21, 77, Some("tty1")).unwrap();
    a.send_stdin(b"tty; stty size; exit 6\n").unwrap();
    let (out, _, st) = collect(a.stream.try_clone().unwrap(), Duration::from_secs(10));
    assert_eq!(st.map(|s| s.exit_code), Some(6), "{out:?}");
    assert!(out.contains("/dev/pts/") && out.contains("21 77"), "{out:?}");
    // Resizing a process that has no terminal is refused with a reason.
    let err = c.client.resize(10, 10, None).unwrap_err();
    assert!(err.to_string().contains("no tty"), "{err}");
}

/// Connections come and go around execs (the daemon's waits, states and attaches do): each
/// exec's output and exit still reach its own client.
#[test]
fn concurrent_execs_keep_their_streams_while_other_clients_leave() {
    let c = TestContainer::create(sh("sleep 60"), Extra::default()).unwrap();
    c.client.start().unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..40 {
                    let _ = c.client.request(&berth_shim::Request::State);
                }
            });
        }
        for t in 0..3 {
            let c = &c;
            s.spawn(move || {
                for k in 0..6 {
                    let (code, out, _) = c.exec(&["sh", "-c", &format!("echo {t}-{k}; exit {k}")]);
                    assert_eq!((code, out), (k, format!("{t}-{k}\n")));
                }
            });
        }
    });
}
