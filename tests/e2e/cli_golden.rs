//! The golden comparison: one scenario against one berthd, through the real docker CLI
//! (28.2.2) and through berth's CLI; what each prints (stdout, stderr) and its exit code must be
//! the same once the program's own name is masked.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use berth_tests::daemon::Berthd;

fn berth_cli() -> std::path::PathBuf {
    berth_tests::env().bin_dir.join("berth")
}

/// Runs one CLI (`docker` or berth) against the daemon, with `stdin` as its input.
fn run(d: &Berthd, program: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = Command::new(program)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", berth_tests::env().run_root.join("no-docker-config"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = c.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    c.wait_with_output().unwrap()
}

/// The program's name where a CLI prints it about itself (`docker: …`, `Usage:  docker run`,
/// `'docker run --help'`), as `PROG`.
fn mask(text: &[u8], prog: &str) -> String {
    let t = String::from_utf8_lossy(text);
    let mut out = String::new();
    for line in t.split_inclusive('\n') {
        let mut l = line.to_string();
        if let Some(rest) = l.strip_prefix(&format!("{prog}: ")) {
            l = format!("PROG: {rest}");
        }
        for (from, to) in [
            (format!("Usage:  {prog} "), "Usage:  PROG ".to_string()),
            (format!("'{prog} "), "'PROG ".to_string()),
            (format!("\"{prog} "), "\"PROG ".to_string()),
            (format!("command: {prog} "), "command: PROG ".to_string()),
        ] {
            l = l.replace(&from, &to);
        }
        out.push_str(&l);
    }
    out
}

/// What a user sees: (exit code, stdout, stderr), masked.
fn seen(o: &Output, prog: &str) -> (Option<i32>, String, String) {
    (o.status.code(), mask(&o.stdout, prog), mask(&o.stderr, prog))
}

/// The rows of a listing in a fixed order, its header line first: the docker CLI walks an
/// image's tags through a Go map, so the order of an image's rows changes from run to run.
fn rows_sorted(text: String) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let header =
        if lines.first().is_some_and(|l| l.starts_with("REPOSITORY")) { Some(lines.remove(0)) } else { None };
    lines.sort();
    header.into_iter().chain(lines).map(|l| format!("{l}\n")).collect()
}

/// Compares both CLIs on `args`. Output that shows ages ("2 seconds ago") or CPU shares may
/// change between the two runs: those cases get a few attempts. Image listings compare their rows in
/// any order (see `rows_sorted`).
#[track_caller]
fn same(d: &Berthd, args: &[&str], stdin: &[u8], ages: bool) {
    let images = args.first().is_some_and(|a| *a == "images") || args.starts_with(&["image", "ls"]);
    let listing = |(code, out, err): (Option<i32>, String, String)| {
        if images {
            (code, rows_sorted(out), err)
        } else {
            (code, out, err)
        }
    };
    let mut last = None;
    for _ in 0..if ages { 4 } else { 1 } {
        let theirs = listing(seen(&run(d, std::path::Path::new("docker"), args, stdin), "docker"));
        let ours = listing(seen(&run(d, &berth_cli(), args, stdin), "berth"));
        if theirs == ours {
            return;
        }
        last = Some((theirs, ours));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (theirs, ours) = last.unwrap();
    panic!("`{}` differs\n--- docker ---\n{theirs:#?}\n--- berth ---\n{ours:#?}", args.join(" "));
}

#[test]
fn docker_and_berth_print_the_same() {
    let d = Berthd::start();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-l",
        "tier=front",
        "-e",
        "GREETING=hi",
        "busybox",
        "sleep",
        "1000",
    ]);
    let _ = d.docker(&["run", "--name", "done", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    d.ok(&["create", "--name", "fresh", "--memory", "64m", "busybox", "true"]);
    d.ok(&["tag", "busybox", "example.org/team/bb:1"]);
    d.ok(&["exec", "web", "touch", "/tmp/mark"]);
    d.ok(&["volume", "create", "--label", "tier=db", "-o", "type=tmpfs", "-o", "device=tmpfs", "golden-vol"]);
    d.ok(&["volume", "create", "plain-vol"]);
    let k = std::process::id() % 200 + 20;
    d.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.221.{k}.0/24"),
        "--label",
        "tier=net",
        "golden-net",
    ]);
    d.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("10.222.{k}.0/24"),
        "--subnet",
        &format!("fd00:9:{k:x}::/64"),
        "golden-v6",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "six",
        "--network",
        "golden-v6",
        "--ip6",
        &format!("fd00:9:{k:x}::9"),
        "busybox",
        "sleep",
        "1000",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "pubd",
        "--network",
        "golden-net",
        "--network-alias",
        "gold",
        "-p",
        "127.0.0.1::80",
        "--expose",
        "9000",
        "busybox",
        "sleep",
        "1000",
    ]);
    let until = berth_tests::daemon::now_arg();

    // Listings, with and without ages.
    for args in [
        &["ps"][..],
        &["ps", "-a"],
        &["ps", "-a", "--no-trunc"],
        &["ps", "-a", "-s"],
        &["images"],
        &["image", "ls"],
        &["history", "busybox"],
        &["ps", "-a", "--format", "json"],
        &["ps", "-a", "--format", "{{json .}}"],
        &["images", "--format", "{{json .}}"],
        &["ps", "-a", "--filter", "status=exited"],
        // top's C column is a recent CPU share: it moves between the two runs too.
        &["top", "web"],
    ] {
        same(&d, args, b"", true);
    }
    for args in [
        &["ps", "-q"][..],
        &["ps", "-aq", "--no-trunc"],
        &["ps", "-a", "--filter", "label=tier=front", "--format", "{{.Names}}"],
        &["container", "ls", "-a", "--format", "{{.Names}} {{.Label \"tier\"}} {{.Command}} {{.State}}"],
        &["ps", "-a", "--format", "table {{.ID}}\t{{.Names}}\t{{.Image}}"],
        &[
            "ps",
            "-a",
            "-n",
            "1",
            "--format",
            "{{.Names}} {{upper .Names}} {{join (split .Names \"o\") \"+\"}}",
        ],
        &["images", "-q"],
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"],
        &["history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}} {{.Size}}", "busybox"],
        &["history", "-q", "busybox"],
        // inspect: the daemon's JSON as the CLI indents it, and templates over it.
        &["inspect", "web"],
        &["inspect", "busybox"],
        &["container", "inspect", "fresh"],
        &["image", "inspect", "-f", "{{.Id}} {{.Os}}", "busybox"],
        &[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.ExitCode}} {{.Name}} {{json .Config.Labels}} {{.HostConfig.Memory}}",
            "web",
            "done",
            "fresh",
        ],
        &["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", "web"],
        &[
            "info",
            "-f",
            "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.Driver}} {{.OSType}} {{.ServerVersion}}",
        ],
        // Logs, exec, top, port, wait.
        &["logs", "done"],
        &["logs", "--tail", "1", "done"],
        &["exec", "web", "sh", "-c", "echo o; echo e >&2; exit 5"],
        &["exec", "-w", "/tmp", "-u", "1:2", "-e", "X=y", "web", "sh", "-c", "pwd; id; echo $X $GREETING"],
        &["port", "web"],
        &["wait", "done"],
        // Runs and their exit codes: 0, 42, 125, 126, 127.
        &["run", "--rm", "busybox", "echo", "hello", "world"],
        &["run", "--rm", "busybox", "sh", "-c", "exit 42"],
        &["run", "--rm", "busybox", "nosuchcmd"],
        &["run", "--rm", "busybox", "/etc"],
        &[
            "run",
            "--rm",
            "-w",
            "/tmp",
            "-u",
            "1:2",
            "-e",
            "A=1",
            "busybox",
            "sh",
            "-c",
            "pwd; id; printenv A",
        ],
        &["run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint"],
        // Bad input, in Docker's words.
        &["run", "--memory", "12x", "busybox", "true"],
        &["run", "-m", "abc", "busybox", "true"],
        &["run", "--cpus", "x", "busybox", "true"],
        &["run", "--foo", "busybox"],
        &["ps", "--foo"],
        &["run", "--name", "web", "busybox", "true"],
        &["run", "--pull", "never", "nosuch"],
        &["run"],
        &["exec"],
        &["rename", "web"],
        &["nosuchcommand"],
        &["rm", "nosuch"],
        &["stop", "nosuch"],
        &["start", "nosuch"],
        &["rm", "web"],
        &["inspect", "nosuch"],
        &["inspect", "-f", "{{.Name}}", "web", "nosuch"],
        &["rmi", "nosuch"],
        &["tag", "nosuch", "x"],
        &["history", "nosuch"],
        &["logs", "nosuch"],
        // Files, images and live views.
        &["diff", "web"],
        &["container", "diff", "done"],
        &["system", "df"],
        // NET I/O is a live counter now (the bridge carries traffic); tests/e2e/networks.rs checks it.
        &["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.BlockIO}}", "web"],
        &["events", "--since", "0", "--until", &until, "--filter", "type=container"],
        &[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ],
        &["update", "--memory", "12x", "web"],
        &["update", "web"],
        &["export", "nosuch"],
        &["commit", "nosuch"],
        &["cp", "web:/nosuch", "/tmp/berth-cp-nothing"],
        &["attach", "nosuch"],
        &["attach", "done"],
        &["save", "nosuch", "-o", "/tmp/berth-save-nothing.tar"],
        &["save", "busybox", "-o", "/nonexistent-dir/x.tar"],
        &["diff", "nosuch"],
        // Volumes.
        &["volume", "ls"],
        &["volume", "ls", "-q"],
        &["volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Label \"tier\"}} {{.Scope}}"],
        &["volume", "ls", "--format", "{{json .}}"],
        &["volume", "ls", "-f", "label=tier"],
        &["volume", "ls", "-f", "name=plain", "-f", "dangling=true"],
        &["volume", "inspect", "golden-vol", "plain-vol"],
        &["volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Options}}", "golden-vol"],
        &["inspect", "-f", "{{.Name}} {{.Driver}}", "plain-vol"],
        &["volume", "create", "golden-vol"],
        &["volume", "inspect", "nosuch"],
        &["volume", "rm", "nosuch"],
        &["volume", "create", "a/b"],
        &["volume", "create", "-o", "foo=bar", "badopt"],
        &["run", "--rm", "-v", "plain-vol:/etc", "busybox", "ls", "/etc"],
        &["run", "--rm", "-v", "plain-vol:/etc:ro", "busybox", "touch", "/etc/x"],
        // Networks and ports.
        &["network", "ls"],
        &["network", "ls", "-q"],
        &["network", "ls", "--no-trunc"],
        &["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv6}} {{.Labels}}"],
        &["network", "ls", "-f", "driver=bridge", "-f", "name=gold", "--format", "{{.Name}}"],
        &["network", "ls", "--format", "{{json .}}"],
        &["network", "inspect", "golden-net"],
        &["network", "inspect", "-f", "{{.Name}} {{json .IPAM.Config}} {{.Internal}} {{len .Containers}}", "golden-net"],
        &["network", "inspect", "nosuch"],
        &["network", "rm", "nosuch"],
        &["network", "rm", "bridge"],
        &["network", "create", "golden-net"],
        &["network", "create", "--subnet", "fd00:9::/64", "v6"],
        &["network", "inspect", "-f", "{{.EnableIPv6}} {{json .IPAM.Config}} {{range .Containers}}{{.IPv6Address}}{{end}}", "golden-v6"],
        &["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}} {{json .IPAMConfig}}{{end}}", "six"],
        &["run", "--rm", "--ip6", "fd00:9::5", "busybox", "true"],
        &["network", "connect", "golden-net", "pubd"],
        &["network", "disconnect", "bridge", "pubd"],
        &["port", "pubd"],
        &["port", "pubd", "80"],
        &["ps", "--format", "{{.Names}} {{.Ports}} {{.Networks}}"],
        &["inspect", "-f", "{{json .NetworkSettings.Ports}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.Aliases}} {{$v.DNSNames}}{{end}}", "pubd"],
        &["run", "--rm", "--network", "golden-net", "busybox", "sh", "-c", "nslookup gold >/dev/null && echo ok; cat /etc/resolv.conf"],
        &["run", "--rm", "--network", "nosuch", "busybox", "true"],
        &["run", "--rm", "--network-alias", "x", "busybox", "true"],
        &["run", "--rm", "--network", "golden-net", "--ip", "10.0.0.5", "busybox", "true"],
        &["run", "--rm", "--dns", "10.0.0.9", "--dns-search", "example.org", "--dns-option", "ndots:3", "busybox", "cat", "/etc/resolv.conf"],
        &["run", "--rm", "--add-host", "db.local:10.1.2.3", "--hostname", "h1", "busybox", "sh", "-c", "grep -v 172 /etc/hosts | grep -v 10.213"],
    ] {
        same(&d, args, b"", false);
    }
    // Neither CLI leaves a file behind when the daemon refuses the download.
    assert!(
        !std::path::Path::new("/tmp/berth-save-nothing.tar").exists(),
        "a failed save left its output file"
    );
    // stats: the same columns and values that hold still.
    same(&d, &["stats", "--no-stream", "--format", "table {{.ID}}\t{{.Name}}\t{{.PIDs}}", "web"], b"", false);
    // Stdin: -i streams it in, and the container ends when it ends.
    same(&d, &["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo done"], b"hello\n", false);
    same(&d, &["exec", "-i", "web", "cat"], b"through exec\n", false);
    // Contexts: made by berth, read by both (the same store as Docker's).
    let berth_ok = |args: &[&str]| assert!(run(&d, &berth_cli(), args, b"").status.success(), "{args:?}");
    berth_ok(&[
        "context",
        "create",
        "golden",
        "--description",
        "the test daemon",
        "--docker",
        &format!("host={}", d.host()),
    ]);
    for args in [
        &["context", "ls"][..],
        &["context", "ls", "-q"],
        &["context", "inspect", "golden"],
        &["context", "show"],
        &["context", "create", "bad/name"],
        &["context", "create", "golden"],
        &["context", "use", "nosuch"],
        &["--context", "golden", "ps", "-a", "--format", "{{.Names}}"],
    ] {
        same(&d, args, b"", false);
    }
    berth_ok(&["context", "rm", "golden"]);
    // Changes through berth, checked through the daemon.
    let berth = |args: &[&str]| run(&d, &berth_cli(), args, b"");
    assert!(berth(&["rename", "fresh", "renamed"]).status.success());
    assert_eq!(d.inspect("renamed", "{{.Name}}"), "/renamed");
    assert!(berth(&["rename", "renamed", "fresh"]).status.success());
    assert_eq!(String::from_utf8_lossy(&berth(&["stop", "-t", "1", "web"]).stdout), "web\n");
    assert_eq!(String::from_utf8_lossy(&berth(&["start", "web"]).stdout), "web\n");
    let updated = berth(&["update", "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5", "web"]);
    assert_eq!(String::from_utf8_lossy(&updated.stdout), "web\n");
    assert_eq!(d.inspect("web", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}"), "67108864 500000000");
    assert_eq!(String::from_utf8_lossy(&berth(&["pause", "web"]).stdout), "web\n");
    assert_eq!(d.inspect("web", "{{.State.Status}}"), "paused");
    assert_eq!(String::from_utf8_lossy(&berth(&["unpause", "web"]).stdout), "web\n");
    let text = |o: Output| String::from_utf8_lossy(&o.stdout).into_owned();
    // The environment in Docker's order (runc keeps the spec's; libcontainer's HashMap did not).
    let keys =
        |out: String| out.lines().map(|l| l.split('=').next().unwrap_or("").to_string()).collect::<Vec<_>>();
    for _ in 0..3 {
        assert_eq!(
            keys(text(berth(&["run", "--rm", "-e", "A=1", "-e", "B=2", "-e", "C=3", "busybox", "env"]))),
            ["PATH", "HOSTNAME", "A", "B", "C", "HOME"]
        );
        assert_eq!(
            keys(text(berth(&["exec", "-e", "X=1", "-e", "Y=2", "web", "env"]))),
            ["PATH", "HOSTNAME", "GREETING", "X", "Y", "HOME"]
        );
    }
    // export keeps busybox's hard links (a few MB, the same as Docker's), import takes it back.
    let exported = berth(&["export", "web"]).stdout;
    let theirs = d.docker(&["export", "web"]).stdout;
    assert_eq!(exported.len(), theirs.len());
    assert!(exported.len() < 10 << 20, "export is {} bytes", exported.len());
    let imported = run(&d, &berth_cli(), &["import", "-", "imported:1"], &exported);
    assert!(text(imported).starts_with("sha256:"));
    assert_eq!(text(berth(&["run", "--rm", "imported:1", "ls", "/tmp/mark"])), "/tmp/mark\n");
    // save, rmi, load.
    let dir = berth_tests::env().run_root.join(format!("golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("bb.tar");
    assert!(berth(&["save", "example.org/team/bb:1", "-o", saved.to_str().unwrap()]).status.success());
    assert_eq!(text(berth(&["rmi", "example.org/team/bb:1"])), "Untagged: example.org/team/bb:1\n");
    assert_eq!(
        text(berth(&["load", "-i", saved.to_str().unwrap()])),
        "Loaded image: example.org/team/bb:1\n"
    );
    // cp both ways: a file, a directory, contents with `/.`, a new name.
    let local = dir.join("local");
    std::fs::write(&local, "from the host\n").unwrap();
    assert!(berth(&["cp", local.to_str().unwrap(), "web:/root/"]).status.success());
    assert!(berth(&["cp", local.to_str().unwrap(), "web:/root/renamed"]).status.success());
    assert_eq!(
        text(berth(&["exec", "web", "cat", "/root/local", "/root/renamed"])),
        "from the host\nfrom the host\n"
    );
    assert!(berth(&["cp", "web:/etc", dir.join("etc-copy").to_str().unwrap()]).status.success());
    assert!(dir.join("etc-copy/passwd").exists());
    assert!(berth(&["cp", "web:/etc/.", dir.join("etc-contents").to_str().unwrap()]).status.success());
    assert!(dir.join("etc-contents/group").exists());
    assert!(berth(&["cp", "web:/tmp/mark", dir.to_str().unwrap()]).status.success());
    assert!(dir.join("mark").exists());
    // Archives stream both ways: 96 MB there and back with the CLI staying small.
    let big = dir.join("big");
    std::fs::write(&big, vec![7u8; 96 << 20]).unwrap();
    let up = peak_kib(&d, &["cp", big.to_str().unwrap(), "web:/tmp/big"]);
    assert_eq!(text(berth(&["exec", "web", "stat", "-c", "%s", "/tmp/big"])), format!("{}\n", 96 << 20));
    let back = dir.join("back");
    std::fs::create_dir_all(&back).unwrap();
    let down = peak_kib(&d, &["cp", "web:/tmp/big", back.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(back.join("big")).unwrap().len(), 96 << 20);
    assert!(up < 40 << 10 && down < 40 << 10, "the CLI's peak: {up} KiB up, {down} KiB down");
    assert!(berth(&["exec", "web", "rm", "/tmp/big"]).status.success());
    // commit with a change, then run what it made.
    assert!(text(berth(&["commit", "-c", "CMD [\"echo\", \"committed\"]", "web", "committed:1"]))
        .starts_with("sha256:"));
    assert_eq!(text(berth(&["run", "--rm", "committed:1"])), "committed\n");
    // attach to a running container: its output, then its exit code.
    let late = text(berth(&["run", "-d", "busybox", "sh", "-c", "sleep 1; echo attached; exit 7"]));
    let o = berth(&["attach", late.trim()]);
    assert_eq!((text(o.clone()), o.status.code()), ("attached\n".to_string(), Some(7)));
    // prune: every stopped container (done, fresh, late), listed by full ID.
    let stopped: Vec<String> =
        ["done", "fresh", late.trim()].iter().map(|n| d.inspect(n, "{{.Id}}")).collect();
    let pruned = text(berth(&["container", "prune", "-f"]));
    assert!(
        pruned.starts_with("Deleted Containers:\n") && pruned.ends_with("\n\nTotal reclaimed space: 0B\n"),
        "{pruned}"
    );
    let mut listed: Vec<&str> = pruned.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    listed.sort();
    let mut want: Vec<&str> = stopped.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(listed, want);
    let _ = std::fs::remove_dir_all(&dir);
    let id = String::from_utf8(berth(&["run", "-d", "busybox", "sleep", "100"]).stdout).unwrap();
    assert_eq!(id.trim().len(), 64, "run -d prints the full ID");
    assert_eq!(String::from_utf8_lossy(&berth(&["rm", "-f", id.trim()]).stdout).trim(), id.trim());
    assert_eq!(String::from_utf8_lossy(&berth(&["rm", "-f", "web"]).stdout), "web\n");
    same(&d, &["ps", "-a"], b"", true);
    // system prune: a stopped container, an unused network, an anonymous volume (--volumes)
    // and a dangling image go, section by section, as the docker CLI prints them; named
    // volumes and used networks stay.
    assert!(berth(&["rm", "-f", "pubd", "six"]).status.success());
    let gone = text(berth(&["create", "-v", "/scratch", "busybox", "true"]));
    assert!(berth(&["network", "create", "spare"]).status.success());
    let pruned = text(berth(&["system", "prune", "-f", "--volumes"]));
    let sections: Vec<&str> = pruned.split("\n\n").collect();
    assert!(
        sections[0].starts_with("Deleted Containers:\n") && sections[0].contains(gone.trim()),
        "{pruned}"
    );
    assert_eq!(sections[1], "Deleted Networks:\ngolden-net\ngolden-v6\nspare", "{pruned}");
    assert!(sections[2].starts_with("Deleted Volumes:\n") && sections[2].lines().count() == 2, "{pruned}");
    assert!(pruned.ends_with("Total reclaimed space: 0B\n"), "{pruned}");
    assert_eq!(text(berth(&["volume", "ls", "-q"])), "golden-vol\nplain-vol\n");
    assert_eq!(text(berth(&["network", "ls", "--format", "{{.Name}}"])), "bridge\nhost\nnone\n");
}

/// `run -it` and `exec -it` under a real pty (script gives berth one): the shell's prompt and
/// output come back, and ctrl-p ctrl-q detaches, leaving the container running.
#[test]
fn terminals_and_detach_keys() {
    let d = Berthd::start();
    let pty = |command: String, input: &[&[u8]]| -> (Option<i32>, String) {
        let mut c = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut i = c.stdin.take().unwrap();
        for chunk in input {
            std::thread::sleep(Duration::from_millis(700));
            i.write_all(chunk).unwrap();
            i.flush().unwrap();
        }
        let out = c.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let berth = format!("DOCKER_HOST={} {}", d.host(), berth_cli().display());
    let (code, text) =
        pty(format!("{berth} run -it --rm busybox sh"), &[b"echo tty=$(tty) sum=$((40+2)); exit 5\n"]);
    assert!(text.contains("tty=/dev/pts/0 sum=42"), "{text}");
    assert_eq!(code, Some(5), "{text}");
    // Detach with ctrl-p ctrl-q: the CLI returns, the container keeps running.
    let (code, text) =
        pty(format!("{berth} run -it --name keep busybox sh"), &[b"echo before\n", b"\x10\x11"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("before"), "{text}");
    assert_eq!(d.inspect("keep", "{{.State.Running}}"), "true");
    let (code, text) = pty(format!("{berth} exec -it keep sh"), &[b"echo in exec $((6*7)); exit 3\n"]);
    assert!(text.contains("in exec 42"), "{text}");
    assert_eq!(code, Some(3), "{text}");
    d.ok(&["rm", "-f", "keep"]);
}

/// Runs berth and returns its peak resident memory in KiB: `VmHWM`, read while it runs (the
/// rusage of a child also counts the parent's size at the fork).
fn peak_kib(d: &Berthd, args: &[&str]) -> u64 {
    let mut child = Command::new(berth_cli())
        .env("DOCKER_HOST", d.host())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "berth {args:?} failed");
            return peak;
        }
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        if let Some(kib) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            peak = peak.max(kib.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `--help` in the docker CLI's layout: usage, description, the command's other forms, the
/// flags with Docker's types, defaults and wrapping, a group's commands. Compared whole for
/// commands whose flags berth has all of (no daemon needed).
#[test]
fn help_is_laid_out_as_the_docker_clis() {
    let commands: &[&[&str]] = &[
        &["rename"],
        &["container"],
        &["network"],
        &["wait"],
        &["pause"],
        &["unpause"],
        &["port"],
        &["rm"],
        &["container", "rm"],
        &["stop"],
        &["kill"],
        &["restart"],
        &["top"],
        &["diff"],
        &["tag"],
        &["export"],
        &["exec"],
        &["attach"],
        &["ps"],
        &["container", "ls"],
        &["container", "inspect"],
        &["network", "ls"],
        &["volume", "inspect"],
        &["volume", "prune"],
        &["image", "prune"],
        &["system", "prune"],
        &["system", "df"],
        &["context", "ls"],
        &["commit"],
        &["import"],
        &["stats"],
        &["events"],
        &["info"],
        &["network", "prune"],
        &["network", "disconnect"],
        &["system", "info"],
        &["system", "events"],
        &["pull"],
        &["push"],
        &["login"],
        &["logout"],
    ];
    for args in commands {
        let mut with_help = args.to_vec();
        with_help.push("--help");
        let shown = |program: &std::path::Path, name: &str| {
            let out = Command::new(program).args(&with_help).stdin(Stdio::null()).output().unwrap();
            assert!(out.status.success(), "{name} {with_help:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).replace(&format!("{name} "), "PROG ")
        };
        let docker = shown(std::path::Path::new("docker"), "docker");
        assert_eq!(shown(&berth_cli(), "berth"), docker, "{args:?} --help");
    }
    // The top level: Docker's sections, berth's commands.
    let top = Command::new(berth_cli()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    for section in [
        "Usage:  berth [OPTIONS] COMMAND\n",
        "\nCommon Commands:\n  run ",
        "\nManagement Commands:\n",
        "\nGlobal Options:\n",
        "      --tlsverify          Use TLS and verify the remote\n",
    ] {
        assert!(text.contains(section), "{section:?} in {text}");
    }
}

/// `load` on a terminal: a progress bar per layer, redrawn in place, the same bytes from both
/// CLIs (the daemon sends the progress, each CLI draws it); off a terminal, only the result.
#[test]
fn load_shows_per_layer_progress_on_a_terminal() {
    use berth_tests::images::{docker_archive, image, layer, Entry};
    let d = Berthd::start();
    let layers = (0..3u8)
        .map(|i| {
            let data: Vec<u8> = (0..1_500_000u32).map(|j| (j as u8).wrapping_mul(17) ^ i).collect();
            layer(&[Entry::File(&format!("layer{i}"), &data, 0o644)])
        })
        .collect();
    let img = image(layers, &["layered:1"], "2024-05-01T00:00:00Z", serde_json::json!({}));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layered.tar");
    std::fs::write(&archive, docker_archive(&[&img])).unwrap();
    // A terminal of 150 columns: wide enough for bars (Docker draws them past 110).
    let on_tty = |program: &str| {
        d.ok(&["rmi", "-f", "layered:1"]);
        let command = format!(
            "stty cols 150 rows 40; DOCKER_HOST={} {program} load -i {}",
            d.host(),
            archive.display()
        );
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stdout).unwrap()
    };
    d.ok(&["load", "-i", archive.to_str().unwrap()]);
    let docker = on_tty("docker");
    let berth = on_tty(berth_cli().to_str().unwrap());
    assert_eq!(berth, docker, "berth's terminal output is the docker CLI's");
    for diff_id in img.diff_ids() {
        let id = &diff_id.trim_start_matches("sha256:")[..12];
        let bar = format!("{id}: Loading layer [{}>]", "=".repeat(50));
        assert!(berth.contains(&bar), "a full bar for {id}: {berth:?}");
    }
    // Each layer's line is redrawn in place as it goes (every 512 KiB of 1.5 MB, then full).
    assert!(berth.matches("\x1b[1A\x1b[2K\r").count() >= 6, "lines are redrawn in place: {berth:?}");
    assert!(berth.ends_with("Loaded image: layered:1\r\n"), "{berth:?}");
    // Piped: no progress, as with the docker CLI.
    d.ok(&["rmi", "layered:1"]);
    let out = run(&d, &berth_cli(), &["load", "-i", archive.to_str().unwrap()], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Loaded image: layered:1\n");
}

/// `ssh://` hosts: the client runs `ssh … berth system dial-stdio` and speaks HTTP through it.
/// A stand-in `ssh` first on PATH runs the far side's command here.
#[test]
fn ssh_hosts_go_through_dial_stdio() {
    use std::os::unix::fs::PermissionsExt;
    let d = Berthd::start();
    let dir = berth_tests::env().run_root.join(format!("fake-ssh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ssh = dir.join("ssh");
    std::fs::write(
        &ssh,
        "#!/bin/sh\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift 2\nDOCKER_HOST=$FAR_DOCKER_HOST exec \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(berth_cli(), dir.join("berth")).unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let over_ssh = |args: &[&str]| {
        Command::new(berth_cli())
            .env("PATH", &path)
            .env("DOCKER_HOST", "ssh://me@far.example")
            .env("FAR_DOCKER_HOST", d.host())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = over_ssh(&["run", "--rm", "busybox", "echo", "over ssh"]);
    assert_eq!((String::from_utf8_lossy(&o.stdout).as_ref(), o.status.code()), ("over ssh\n", Some(0)));
    d.ok(&["run", "-d", "--name", "far", "busybox", "sleep", "100"]);
    let o = over_ssh(&["ps", "--format", "{{.Names}} {{.Image}}"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "far busybox\n");
    let o = over_ssh(&["exec", "far", "sh", "-c", "echo in far; exit 4"]);
    assert_eq!((String::from_utf8_lossy(&o.stdout).as_ref(), o.status.code()), ("in far\n", Some(4)));
    // The far side never relays into another ssh hop.
    let o = Command::new(berth_cli())
        .env("DOCKER_HOST", "ssh://me@far.example")
        .args(["system", "dial-stdio"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("relays to a local daemon"));
    d.ok(&["rm", "-f", "far"]);
    let _ = std::fs::remove_dir_all(&dir);
}
