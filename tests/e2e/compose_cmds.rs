//! The rest of `berth compose`'s commands on one project with a built, pushed and pulled
//! image and two replicas: `build`, `push`, `pull`, `create`, `start`, `up --wait`, `exec`
//! by index with user, directory and environment, `logs` with timestamps and `--tail`, `cp`
//! both ways, `images`, `events --json`, `run` with `--entrypoint`, `-v`, `--name` and `-d`, a
//! profile's service, `kill` and `wait` with the exit code, `version`, and `down` removing
//! images, volumes and one-off containers.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use berth_tests::daemon::Berthd;
use berth_tests::images::context;
use berth_tests::registry::BerthRegistry;

fn compose(d: &Berthd, dir: &Path, args: &[&str], reg: &str) -> Output {
    berth_tests::compose::run(d, dir, args, &[("REG", reg)])
}

fn berth(d: &Berthd, dir: &Path, reg: &str) -> Command {
    berth_tests::compose::command(d, dir, &[("REG", reg)])
}

#[track_caller]
fn ok(d: &Berthd, dir: &Path, args: &[&str], reg: &str) -> String {
    berth_tests::compose::ok(d, dir, args, &[("REG", reg)]).0
}

const APP: &str = "services:
  app:
    build: ./app
    image: ${REG}/me/app:1
    command: sh -c 'echo started; exec sleep 1000'
    init: true
    deploy: {replicas: 2}
    healthcheck: {test: 'true', interval: 100ms}
  tool:
    image: busybox
    entrypoint: [echo, tool]
    profiles: [tools]
";

#[test]
fn every_command_acts_on_the_project() {
    let d = Berthd::start();
    let reg = BerthRegistry::start(&[]);
    let r = reg.host();
    let project = context(&[
        ("cmds/compose.yaml", APP),
        ("cmds/app/Dockerfile", "FROM busybox\nRUN echo baked > /baked\n"),
        ("cmds/data/x", "from the host\n"),
    ]);
    let dir = project.path().join("cmds");
    let image = format!("{r}/me/app:1");

    // build, push, then pull again into an engine without it.
    ok(&d, &dir, &["build", "-q"], &r);
    ok(&d, &dir, &["push"], &r);
    d.ok(&["rmi", &image]);
    ok(&d, &dir, &["pull"], &r);
    assert_eq!(d.ok(&["run", "--rm", &image, "cat", "/baked"]), "baked\n");

    // create makes, start starts, up --wait returns once healthy.
    ok(&d, &dir, &["create"], &r);
    let states = ok(&d, &dir, &["ps", "-a", "--format", "{{.Name}} {{.State}}"], &r);
    assert_eq!(states, "cmds-app-1 created\ncmds-app-2 created\n");
    ok(&d, &dir, &["start"], &r);
    ok(&d, &dir, &["up", "-d", "--wait", "--wait-timeout", "30"], &r);
    assert_eq!(d.inspect("cmds-app-2", "{{.State.Health.Status}}"), "healthy");

    let out = ok(
        &d,
        &dir,
        &[
            "exec",
            "-T",
            "--index",
            "2",
            "-e",
            "X=1",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "app",
            "sh",
            "-c",
            "echo $X $(id -un) $(pwd) $(hostname)",
        ],
        &r,
    );
    let id2 = d.inspect("cmds-app-2", "{{.Config.Hostname}}");
    assert_eq!(out, format!("1 nobody /tmp {id2}\n"));
    let logs = ok(&d, &dir, &["logs", "--no-color", "-t", "--tail", "1", "app"], &r);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 2, "{logs}");
    for l in &lines {
        let (prefix, rest) = l.split_once(" | ").unwrap();
        assert!(prefix.starts_with("cmds-app-"), "{l}");
        assert!(rest.ends_with(" started") && rest.starts_with("20"), "{l}");
    }

    // cp both ways; images; events.
    ok(&d, &dir, &["cp", "data/x", "app:/tmp/x"], &r);
    ok(&d, &dir, &["cp", "app:/tmp/x", "data/back"], &r);
    assert_eq!(std::fs::read_to_string(dir.join("data/back")).unwrap(), "from the host\n");
    let images = ok(&d, &dir, &["images"], &r);
    assert!(images.starts_with("CONTAINER"), "{images}");
    let row: Vec<&str> = images.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..3], ["cmds-app-1", &format!("{r}/me/app"), "1"], "{images}");
    let mut events = berth(&d, &dir, &r).args(["events", "--json"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    ok(&d, &dir, &["restart", "-t", "1", "app"], &r);
    std::thread::sleep(std::time::Duration::from_millis(300));
    events.kill().unwrap();
    let said = String::from_utf8_lossy(&events.wait_with_output().unwrap().stdout).into_owned();
    let restarts: Vec<serde_json::Value> = said
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "restart")
        .collect();
    assert_eq!(restarts.len(), 2, "{said}");
    assert_eq!(restarts[0]["service"], "app");

    // run: another entrypoint, a bind, a name, detached; a profile's service.
    let vol = format!("{}:/data", dir.join("data").display());
    let out =
        ok(&d, &dir, &["run", "--rm", "--no-deps", "-v", &vol, "--entrypoint", "cat", "app", "/data/x"], &r);
    assert_eq!(out, "from the host\n");
    let out = ok(&d, &dir, &["run", "-d", "--name", "oneoff", "app", "sleep", "100"], &r);
    assert_eq!(out, "oneoff\n");
    assert_eq!(d.inspect("oneoff", "{{index .Config.Labels \"com.docker.compose.oneoff\"}}"), "True");
    assert_eq!(ok(&d, &dir, &["--profile", "tools", "run", "--rm", "tool", "hi"], &r), "tool hi\n");

    // kill, then wait gives the exit code.
    ok(&d, &dir, &["kill", "-s", "SIGKILL", "app"], &r);
    let out = compose(&d, &dir, &["wait", "app"], &r);
    assert_eq!(out.status.code(), Some(137));
    assert_eq!(ok(&d, &dir, &["version", "--short"], &r).trim().split('.').count(), 3);

    ok(&d, &dir, &["down", "-v", "--rmi", "all"], &r);
    assert!(d.ok(&["ps", "-aq"]).is_empty());
    assert!(d.docker(&["image", "inspect", &image]).status.code() != Some(0));
    d.assert_nothing_left();
}

const KEYS: &str = "name: keys
services:
  main:
    image: busybox
    command: sh -c 'echo data > /anon/f; exec sleep 1000'
    init: true
    hostname: mainhost
    networks:
      front: {aliases: [primary], ipv4_address: 10.219.7.10}
      outside: {}
      six: {ipv6_address: 'fd00:219::10'}
    volumes: ['/anon', {type: tmpfs, target: /scratch}, {type: volume, source: ro, target: /ro, read_only: true}]
    ulimits: {nofile: {soft: 1000, hard: 2000}}
    sysctls: {net.ipv4.ip_unprivileged_port_start: '80'}
    cap_drop: [CHOWN]
    cap_add: [NET_ADMIN]
    extra_hosts: ['db.local=10.1.2.3']
    labels: {team: core}
    stop_signal: SIGUSR1
    dns_search: [example.org]
    oom_score_adj: 100
    logging: {driver: json-file, options: {max-size: 1m}}
    deploy: {resources: {limits: {memory: 64m, pids: 50}}}
  side:
    image: busybox
    command: sleep 1000
    init: true
    network_mode: service:main
    pid: service:main
    ipc: service:main
    volumes_from: [main:ro]
networks:
  front:
    internal: true
    ipam: {config: [{subnet: 10.219.7.0/24}]}
  outside: {external: true, name: keys-outside}
  six:
    enable_ipv6: true
    driver_opts: {com.docker.network.driver.mtu: 1400}
    ipam: {config: [{subnet: 10.219.8.0/24}, {subnet: 'fd00:219::/64'}]}
volumes:
  ro: {}
";

#[test]
fn service_keys_reach_the_containers() {
    let d = Berthd::start();
    let project = context(&[("k/compose.yaml", KEYS)]);
    let dir = project.path().join("k");
    // An external network must be there.
    let out = compose(&d, &dir, &["up", "-d"], "");
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("network keys-outside declared as external, but could not be found"));
    d.ok(&["network", "create", "keys-outside"]);
    ok(&d, &dir, &["up", "-d"], "");
    let insp = |f: &str| d.inspect("keys-main-1", f);
    assert_eq!(insp("{{.Config.Hostname}}"), "mainhost");
    assert_eq!(insp("{{(index .NetworkSettings.Networks \"keys_front\").IPAddress}}"), "10.219.7.10");
    assert!(insp("{{json (index .NetworkSettings.Networks \"keys_front\").Aliases}}").contains("primary"));
    assert!(insp("{{json .NetworkSettings.Networks}}").contains("keys-outside"));
    assert_eq!(d.inspect("keys_front", "{{.Internal}}"), "true");
    assert_eq!(insp("{{(index .NetworkSettings.Networks \"keys_six\").GlobalIPv6Address}}"), "fd00:219::10");
    assert_eq!(d.inspect("keys_six", "{{index .Options \"com.docker.network.driver.mtu\"}}"), "1400");
    assert_eq!(
        insp("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.Config.StopSignal}}"),
        "67108864 50 SIGUSR1"
    );
    assert_eq!(
        insp("{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}}"),
        "json-file 1m"
    );
    assert_eq!(insp("{{index .Config.Labels \"team\"}}"), "core");
    let exec = |c: &str, cmd: &str| {
        let out = compose(&d, &dir, &["exec", "-T", c, "sh", "-c", cmd], "");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(exec("main", "ulimit -n; cat /proc/sys/net/ipv4/ip_unprivileged_port_start"), "1000\n80");
    assert_eq!(exec("main", "grep db.local /etc/hosts | cut -f1"), "10.1.2.3");
    assert_eq!(
        exec("main", "grep ^search /etc/resolv.conf; cat /proc/1/oom_score_adj"),
        "search example.org\n100"
    );
    // CapEff: CHOWN (bit 0) dropped, NET_ADMIN (bit 12) added.
    let caps = u64::from_str_radix(&exec("main", "grep CapEff /proc/self/status | cut -f2"), 16).unwrap();
    assert_eq!((caps & 1, caps & (1 << 12)), (0, 1 << 12));
    assert_eq!(exec("main", "mount | grep ' /scratch ' | cut -d' ' -f5"), "tmpfs");
    assert!(exec("main", "touch /ro/x 2>&1").contains("Read-only"));
    // The sidecar shares main's network, PID and IPC namespaces and its volumes.
    assert_eq!(exec("side", "hostname"), "mainhost");
    assert!(exec("side", "ps -o comm").contains("sleep"));
    assert_eq!(exec("side", "cat /anon/f"), "data");
    assert!(exec("side", "touch /anon/g 2>&1").contains("Read-only"));
    // A recreated container keeps its anonymous volume; the one sharing its namespaces follows.
    let anon = insp("{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}");
    let side = d.inspect("keys-side-1", "{{.Id}}");
    ok(&d, &dir, &["up", "-d", "--force-recreate", "main"], "");
    assert_eq!(insp("{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}"), anon);
    ok(&d, &dir, &["up", "-d"], "");
    assert_ne!(d.inspect("keys-side-1", "{{.Id}}"), side, "the sidecar was not made again with main");
    assert_eq!(exec("side", "hostname"), "mainhost");
    ok(&d, &dir, &["down", "-v", "-t", "1"], "");
    assert!(d.ok(&["network", "ls"]).contains("keys-outside"), "an external network was removed");
    d.ok(&["network", "rm", "keys-outside"]);
    d.assert_nothing_left();
}

#[test]
fn the_remaining_flags_do_what_they_say() {
    let d = Berthd::start();
    let project = context(&[(
        "fl/compose.yaml",
        "services:\n  a:\n    image: busybox\n    command: sh -c 'echo one; sleep 1.2; echo two; exec sleep 1000'\n    init: true\n  b:\n    image: busybox\n    command: sh -c 'echo from-b; exec sleep 1000'\n    init: true\n",
    )]);
    let dir = project.path().join("fl");
    ok(&d, &dir, &["up", "-d"], "");
    d.wait_for(10, "a's second line", || d.docker(&["logs", "fl-a-1"]).stdout.ends_with(b"two\n"));
    // --until and --since (each line's own time, both inclusive) split a's log.
    let stamped = d.ok(&["logs", "-t", "fl-a-1"]);
    let times: Vec<&str> = stamped.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(ok(&d, &dir, &["logs", "--no-log-prefix", "--until", times[0], "a"], ""), "one\n");
    assert_eq!(ok(&d, &dir, &["logs", "--no-log-prefix", "--since", times[1], "a"], ""), "two\n");
    // exec -d runs in the background.
    ok(&d, &dir, &["exec", "-d", "a", "sh", "-c", "sleep 0.2; touch /tmp/done"], "");
    d.wait_for(5, "the detached exec", || {
        compose(&d, &dir, &["exec", "-T", "a", "test", "-e", "/tmp/done"], "").status.success()
    });
    // --no-recreate keeps a changed service's container; --force-recreate makes it again.
    let id = d.inspect("fl-b-1", "{{.Id}}");
    std::fs::write(
        dir.join("compose.yaml"),
        std::fs::read_to_string(dir.join("compose.yaml")).unwrap().replace("from-b", "from-b2"),
    )
    .unwrap();
    ok(&d, &dir, &["up", "-d", "--no-recreate"], "");
    assert_eq!(d.inspect("fl-b-1", "{{.Id}}"), id);
    ok(&d, &dir, &["up", "-d"], "");
    assert_ne!(d.inspect("fl-b-1", "{{.Id}}"), id);
    // run -p publishes a port of its own.
    let out = ok(&d, &dir, &["run", "-d", "-p", "127.0.0.1::9000", "b", "sleep", "100"], "");
    assert!(d.ok(&["port", out.trim()]).starts_with("9000/tcp -> 127.0.0.1:"));
    // down --remove-orphans takes what the file no longer names.
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  b:\n    image: busybox\n    command: sleep 1000\n    init: true\n",
    )
    .unwrap();
    ok(&d, &dir, &["down", "--remove-orphans", "-t", "1"], "");
    assert!(d.ok(&["ps", "-aq"]).is_empty());
    d.assert_nothing_left();
}
