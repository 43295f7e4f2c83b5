//! `berth compose` driving berthd as a user drives a project: `up` makes the network, volumes
//! and containers (labelled as docker compose labels them) in dependency order, waits for a
//! healthy dependency, and a second `up` touches nothing; a change recreates only its service
//! and keeps its named volume's data; orphans are reported and removed on request; `run`,
//! `exec`, `logs`, `ps`, `port` and the lifecycle commands act on the project's containers;
//! `down` leaves nothing behind. Failures are named: an unhealthy dependency, a bad file
//! before anything is made.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_tests::compose::http_get;

use berth_tests::daemon::Berthd;
use berth_tests::images::context;

fn compose(d: &Berthd, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    berth_tests::compose::run(d, dir, args, env)
}

#[track_caller]
fn ok(d: &Berthd, dir: &Path, args: &[&str]) -> (String, String) {
    berth_tests::compose::ok(d, dir, args, &[("PW", "s3cret")])
}

fn ids(d: &Berthd, project: &str) -> Vec<String> {
    let out = d.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Names}}={{.ID}}",
    ]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

const APP: &str = "services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /srv
    init: true
    ports: ['127.0.0.1::80']
    volumes: ['./site:/srv:ro', 'data:/data']
    environment: [GREETING]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    command: sh -c 'sleep 0.3; touch /tmp/ok; exec sleep 1000'
    healthcheck: {test: test -e /tmp/ok, interval: 100ms, retries: 50}
    secrets: [pw, {source: key, target: /etc/key, mode: 0400}]
    configs: [{source: conf, target: /etc/app.conf}]
    stop_grace_period: 1s
  job:
    image: busybox
    command: sh -c 'printf \"GET / HTTP/1.0\\r\\n\\r\\n\" | nc web 80 | tail -1'
    depends_on: [web]
volumes:
  data: {}
secrets:
  pw: {environment: PW}
  key: {file: ./key.txt}
configs:
  conf: {content: 'mode=${MODE:-test}'}
";

#[test]
fn up_converges_and_down_leaves_nothing() {
    let d = Berthd::start();
    let project =
        context(&[("shop/compose.yaml", APP), ("shop/site/index.html", "hello\n"), ("shop/key.txt", "k3y")]);
    let dir = project.path().join("shop");
    let (_, err) = ok(&d, &dir, &["up", "-d"]);
    for line in [
        " Network shop_default  Created",
        " Volume \"shop_data\"  Created",
        " Container shop-db-1  Healthy",
        " Container shop-web-1  Started",
    ] {
        assert!(err.contains(line), "{err}");
    }
    // The healthy dependency came before its dependant started.
    assert!(err.find("shop-db-1  Healthy").unwrap() < err.find("shop-web-1  Starting").unwrap(), "{err}");
    d.wait_for(10, "the job", || d.inspect("shop-job-1", "{{.State.Status}}") == "exited");
    let (ps, _) = ok(&d, &dir, &["ps", "--format", "{{.Name}} {{.Service}} {{.State}}"]);
    assert_eq!(ps, "shop-db-1 db running\nshop-web-1 web running\n");
    let (port, _) = ok(&d, &dir, &["port", "web", "80"]);
    assert_eq!(http_get(port.trim(), "/index.html"), "hello\n");
    // Compose's labels, so that Compose's tools see the project.
    let labels = d.inspect("shop-web-1", "{{json .Config.Labels}}");
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["com.docker.compose.project"], "shop");
    assert_eq!(labels["com.docker.compose.service"], "web");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(labels["com.docker.compose.depends_on"], "db:service_healthy:false");
    assert_eq!(
        labels["com.docker.compose.project.working_dir"],
        dir.canonicalize().unwrap().to_str().unwrap()
    );
    assert!(labels["com.docker.compose.image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(d.inspect("shop_default", "{{index .Labels \"com.docker.compose.network\"}}"), "default");
    let (hash, _) = ok(&d, &dir, &["config", "--hash", "web"]);
    assert_eq!(hash, format!("web {}\n", labels["com.docker.compose.config-hash"].as_str().unwrap()));
    // Secrets and configs, from the environment, a file and inline content.
    let (files, _) = ok(
        &d,
        &dir,
        &["exec", "-T", "db", "sh", "-c", "cat /run/secrets/pw /etc/key /etc/app.conf; stat -c %a /etc/key"],
    );
    assert_eq!(files, "s3cretk3ymode=test400\n");
    // A service reaches another by its name; the one-off job's output is in its log.
    let (logs, _) = ok(&d, &dir, &["logs", "--no-color", "job"]);
    assert_eq!(logs, "shop-job-1  | hello\n");

    // Data in the named volume; a second up touches nothing, and fast.
    ok(&d, &dir, &["exec", "-T", "web", "sh", "-c", "echo kept > /data/f"]);
    let before = ids(&d, "shop");
    let t = Instant::now();
    let (_, err) = ok(&d, &dir, &["up", "-d", "web", "db"]);
    assert!(t.elapsed() < Duration::from_millis(1500), "a no-op up took {:?}", t.elapsed());
    assert!(err.contains(" Container shop-web-1  Running"), "{err}");
    assert_eq!(ids(&d, "shop"), before);

    // A change recreates its service only, and its volume's data stays.
    let out = compose(&d, &dir, &["up", "-d"], &[("PW", "s3cret"), ("GREETING", "hi")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = ids(&d, "shop");
    let changed: Vec<&String> = after.iter().filter(|i| !before.contains(i)).collect();
    assert!(changed.len() == 1 && changed[0].starts_with("shop-web-1="), "{before:?} → {after:?}");
    let (data, _) = ok(&d, &dir, &["exec", "-T", "web", "sh", "-c", "cat /data/f; echo $GREETING"]);
    assert_eq!(data, "kept\nhi\n");

    // `run`: a one-off container, removed with --rm; `exec --index`.
    let (out, _) = ok(&d, &dir, &["run", "--rm", "--no-deps", "-e", "X=1", "job", "sh", "-c", "echo run $X"]);
    assert_eq!(out, "run 1\n");
    assert!(!d.ok(&["ps", "-a", "--format", "{{.Names}}"]).contains("run"));

    // An orphan is reported, and removed with --remove-orphans.
    let fewer = APP.split("  job:").next().unwrap().to_string()
        + APP.split_once("    depends_on: [web]\n").unwrap().1;
    std::fs::write(dir.join("compose.yaml"), fewer).unwrap();
    let (_, err) = ok(&d, &dir, &["up", "-d"]);
    assert!(err.contains("Found orphan containers ([shop-job-1])"), "{err}");
    ok(&d, &dir, &["up", "-d", "--remove-orphans"]);
    assert!(!ids(&d, "shop").iter().any(|c| c.starts_with("shop-job-1")));

    ok(&d, &dir, &["down", "-v"]);
    assert!(ids(&d, "shop").is_empty());
    assert!(!d.ok(&["network", "ls"]).contains("shop_default"));
    assert!(!d.ok(&["volume", "ls"]).contains("shop_data"));
    d.assert_nothing_left();
}

#[test]
fn failures_are_named_and_leave_what_was_made_removable() {
    let d = Berthd::start();
    let project = context(&[(
        "sick/compose.yaml",
        "services:\n  app:\n    image: busybox\n    command: sleep 100\n    depends_on: {db: {condition: service_healthy}}\n  db:\n    image: busybox\n    command: sleep 100\n    healthcheck: {test: 'false', interval: 100ms, retries: 2}\n",
    )]);
    let dir = project.path().join("sick");
    let out = compose(&d, &dir, &["up", "-d"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dependency failed to start: container sick-db-1 is unhealthy"), "{err}");
    let (ps, _) = ok(&d, &dir, &["ps", "-a", "--format", "{{.Name}}"]);
    assert_eq!(ps, "sick-app-1\nsick-db-1\n");
    ok(&d, &dir, &["down", "-t", "1"]);
    assert!(ids(&d, "sick").is_empty());

    // A bad file, or one that names what it lacks, fails before anything is made.
    for (yaml, want) in [
        ("services:\n  a:\n    image: busybox\n    volumes: ['nope:/d']\n", "refers to undefined volume nope"),
        ("services:\n  a:\n    image: busybox\n    restart: sometimes\n    port: [80]\n", "additional property \"port\" is not allowed"),
        ("services:\n  a:\n    image: busybox\n    secrets: [s]\nsecrets:\n  s: {environment: UNSET_SECRET}\n", "\"UNSET_SECRET\""),
    ] {
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        let out = compose(&d, &dir, &["up", "-d"], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{yaml}: {err}");
        assert!(ids(&d, "sick").is_empty(), "{yaml}");
        assert!(!d.ok(&["network", "ls"]).contains("sick_default"), "{yaml}");
    }
}

#[test]
fn foreground_up_lifecycle_and_scale() {
    let d = Berthd::start();
    let project = context(&[(
        "fg/compose.yaml",
        "services:\n  a:\n    image: busybox\n    command: sh -c 'echo a-out; sleep 0.3; exit 3'\n  b:\n    image: busybox\n    command: sh -c 'trap \"exit 0\" TERM; echo b-out; sleep 100 & wait'\n",
    )]);
    let dir = project.path().join("fg");
    let out = compose(&d, &dir, &["up", "--abort-on-container-exit", "--exit-code-from", "a"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("fg-a-1  | a-out\n") && stdout.contains("fg-b-1  | b-out\n"), "{stdout}");
    assert!(stdout.contains("fg-a-1 exited with code 3\n"), "{stdout}");
    assert_eq!(d.inspect("fg-b-1", "{{.State.Status}}"), "exited");

    // Lifecycle commands act on the project's containers.
    ok(&d, &dir, &["start", "b"]);
    assert_eq!(d.inspect("fg-b-1", "{{.State.Status}}"), "running");
    ok(&d, &dir, &["pause", "b"]);
    assert_eq!(d.inspect("fg-b-1", "{{.State.Status}}"), "paused");
    ok(&d, &dir, &["unpause", "b"]);
    let (top, _) = ok(&d, &dir, &["top", "b"]);
    assert!(top.starts_with("fg-b-1\n") && top.contains("sleep 100"), "{top}");
    ok(&d, &dir, &["restart", "-t", "1", "b"]);
    ok(&d, &dir, &["kill", "b"]);
    assert_eq!(d.inspect("fg-b-1", "{{.State.ExitCode}}"), "137");
    ok(&d, &dir, &["scale", "b=3"]);
    let (ps, _) = ok(&d, &dir, &["ps", "--services", "--status", "running"]);
    assert_eq!(ps, "b\n");
    let (ps, _) = ok(&d, &dir, &["ps", "-q"]);
    assert_eq!(ps.lines().count(), 3, "{ps}");
    ok(&d, &dir, &["up", "-d", "--scale", "b=1", "b"]);
    let (ps, _) = ok(&d, &dir, &["ps", "--format", "json"]);
    let rows: Vec<serde_json::Value> = ps.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["Name"].as_str(), rows[0]["Service"].as_str()), (Some("fg-b-1"), Some("b")));
    ok(&d, &dir, &["stop", "-t", "1"]);
    let (ls, _) = ok(&d, &dir, &["ls", "-a", "--format", "json"]);
    assert!(ls.contains("\"Name\":\"fg\""), "{ls}");
    ok(&d, &dir, &["rm", "-f"]);
    assert!(ids(&d, "fg").is_empty());
    ok(&d, &dir, &["down"]);
}

#[test]
fn build_sections_build_and_down_rmi_removes_them() {
    let d = Berthd::start();
    let project = context(&[
        ("bld/compose.yaml", "services:\n  app:\n    build:\n      context: ./app\n      args: [WHO=compose]\n    command: cat /greeting\n"),
        ("bld/app/Dockerfile", "FROM busybox\nARG WHO\nRUN echo built by $WHO > /greeting\n"),
    ]);
    let dir = project.path().join("bld");
    ok(&d, &dir, &["up", "-d"]);
    d.wait_for(10, "the app", || d.inspect("bld-app-1", "{{.State.Status}}") == "exited");
    let (logs, _) = ok(&d, &dir, &["logs", "--no-log-prefix"]);
    assert_eq!(logs, "built by compose\n");
    assert_eq!(d.inspect("bld-app-1", "{{.Config.Image}}"), "bld-app");
    let (images, _) = ok(&d, &dir, &["config", "--images"]);
    assert_eq!(images, "bld-app\n");
    // A changed Dockerfile rebuilt with --build makes a new image, which recreates the container.
    let first = d.inspect("bld-app-1", "{{.Id}}");
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM busybox\nARG WHO\nRUN echo rebuilt by $WHO > /greeting\n",
    )
    .unwrap();
    ok(&d, &dir, &["up", "-d", "--build"]);
    assert_ne!(d.inspect("bld-app-1", "{{.Id}}"), first);
    ok(&d, &dir, &["down", "--rmi", "local"]);
    assert!(d.docker(&["image", "inspect", "bld-app"]).status.code() != Some(0));
}

#[test]
fn watch_syncs_restarts_and_rebuilds() {
    let d = Berthd::start();
    let project = context(&[
        (
            "dev/compose.yaml",
            "services:\n  app:\n    build: ./app\n    command: sleep 1000\n    init: true\n    develop:\n      watch:\n        - {path: ./app/src, action: sync, target: /src, initial_sync: true, ignore: ['*.tmp']}\n        - {path: ./app/Dockerfile, action: rebuild}\n",
        ),
        ("dev/app/Dockerfile", "FROM busybox\nRUN echo one > /version\n"),
        ("dev/app/src/a.txt", "first\n"),
    ]);
    let dir = project.path().join("dev");
    let child = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["compose", "watch"])
        .current_dir(&dir)
        .env("DOCKER_HOST", d.host())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cat = |path: &str| {
        let out = compose(&d, &dir, &["exec", "-T", "app", "cat", path], &[]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    d.wait_for(30, "the initial sync", || cat("/src/a.txt") == "first\n");
    std::fs::write(dir.join("app/src/a.txt"), "second\n").unwrap();
    std::fs::create_dir(dir.join("app/src/sub")).unwrap();
    std::fs::write(dir.join("app/src/sub/b.txt"), "new\n").unwrap();
    std::fs::write(dir.join("app/src/skip.tmp"), "no\n").unwrap();
    d.wait_for(10, "the sync", || cat("/src/a.txt") == "second\n" && cat("/src/sub/b.txt") == "new\n");
    assert_eq!(cat("/src/skip.tmp"), "", "an ignored file was synced");
    std::fs::remove_file(dir.join("app/src/a.txt")).unwrap();
    d.wait_for(10, "the deletion", || cat("/src/a.txt").is_empty() && cat("/src/sub/b.txt") == "new\n");
    let first = d.inspect("dev-app-1", "{{.Id}}");
    std::fs::write(dir.join("app/Dockerfile"), "FROM busybox\nRUN echo two > /version\n").unwrap();
    d.wait_for(30, "the rebuild", || cat("/version") == "two\n");
    assert_ne!(d.inspect("dev-app-1", "{{.Id}}"), first);
    // Ctrl-C ends the watch.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Watch enabled") && err.contains("Syncing service \"app\""), "{err}");
    ok(&d, &dir, &["down", "-t", "1", "--rmi", "local"]);
}

#[test]
fn global_flags_and_environment_variables() {
    let d = Berthd::start();
    let project = context(&[("flags/x.yml", "services:\n  a:\n    image: busybox\n    command: sh -c 'echo hi; sleep 0.3'\n    ports: ['127.0.0.1::80']\n")]);
    let dir = project.path().join("flags");
    let yaml = std::fs::read_to_string(dir.join("x.yml")).unwrap();
    // The file from stdin, the name from the environment, `_` names with --compatibility,
    // no progress with --progress quiet.
    let mut c = Command::new(berth_tests::env().bin_dir.join("berth"));
    let mut child = c
        .args(["compose", "--compatibility", "--progress", "quiet", "-f", "-", "up", "-d", "--no-start"])
        .current_dir(&dir)
        .env("DOCKER_HOST", d.host())
        .env("COMPOSE_PROJECT_NAME", "named")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(d.inspect("named_a_1", "{{.State.Status}}"), "created");
    // COMPOSE_FILE names the file; COMPOSE_REMOVE_ORPHANS removes what another project file left.
    let env = [("COMPOSE_FILE", "x.yml"), ("COMPOSE_PROJECT_NAME", "named"), ("COMPOSE_REMOVE_ORPHANS", "1")];
    std::fs::write(
        dir.join("y.yml"),
        "services:\n  b:\n    image: busybox\n    command: sleep 100\n    init: true\n",
    )
    .unwrap();
    let out = compose(&d, &dir, &["-f", "y.yml", "up", "-d"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.docker(&["inspect", "named_a_1"]).status.code() != Some(0), "the orphan stayed");
    let out = compose(&d, &dir, &["-f", "y.yml", "down", "-t", "1"], &env);
    assert!(out.status.success());
    // --ansi always colours the prefixes; logs -f ends with the container.
    let out = compose(&d, &dir, &["--ansi", "always", "up", "-d"], &[("COMPOSE_FILE", "x.yml")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = compose(&d, &dir, &["--ansi", "always", "logs", "-f"], &[("COMPOSE_FILE", "x.yml")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("\u{1b}[36mflags-a-1  | \u{1b}[0mhi"), "{text:?}");
    // run --service-ports publishes the service's ports for a one-off container.
    let out = compose(
        &d,
        &dir,
        &["run", "-d", "--service-ports", "a", "sleep", "100"],
        &[("COMPOSE_FILE", "x.yml")],
    );
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(name.starts_with("flags-a-run-"), "{name}");
    assert!(d.ok(&["port", &name]).starts_with("80/tcp -> 127.0.0.1:"));
    // Without its files, a project is known by its labels: `-p NAME down` from anywhere.
    let out = compose(&d, project.path(), &["-p", "flags", "ps", "-a", "--format", "{{.Service}}"], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\na\n", "{}", String::from_utf8_lossy(&out.stderr));
    let out = compose(&d, project.path(), &["-p", "flags", "down", "-t", "0"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(d.ok(&["ps", "-aq"]).is_empty());
    assert!(!d.ok(&["network", "ls"]).contains("flags_default"));
}

#[test]
fn an_interrupted_foreground_up_stops_the_project() {
    let d = Berthd::start();
    let project = context(&[("intr/compose.yaml", "services:\n  a:\n    image: busybox\n    command: sh -c 'echo ready; exec sleep 1000'\n    init: true\n")]);
    let dir = project.path().join("intr");
    let mut child = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["compose", "up"])
        .current_dir(&dir)
        .env("DOCKER_HOST", d.host())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once it shows the container's output (it follows by then).
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if line == "intr-a-1  | ready" {
                let _ = tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("the foreground up showed the container's output");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let seen = reader.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{seen}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Gracefully stopping..."));
    assert_eq!(d.inspect("intr-a-1", "{{.State.Status}}"), "exited");
    let out = compose(&d, &dir, &["down"], &[]);
    assert!(out.status.success());
}
