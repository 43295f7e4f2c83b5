//! Debian's docker-compose 1.29 (the Python compose, over docker-py) driving berthd unchanged:
//! `up` with a healthchecked dependency, a published port, a named volume and a secret; `ps`,
//! `port`, `logs`, `exec`, `run`, `scale`, `config` and `down`. berth compose then sees the
//! project docker-compose made, by its labels. (`docker-compose build` is in `build.rs`.)

use std::path::Path;
use std::process::{Command, Output, Stdio};

use berth_tests::compose::http_get;
use berth_tests::daemon::Berthd;
use berth_tests::images::context;

fn v1(d: &Berthd, dir: &Path, args: &[&str]) -> Output {
    Command::new("docker-compose")
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn ok(d: &Berthd, dir: &Path, args: &[&str]) -> String {
    let out = v1(d, dir, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?} ({}): {}{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log_text()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const APP: &str = "services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /srv
    init: true
    ports: ['127.0.0.1::80']
    volumes: ['./site:/srv:ro', 'data:/data']
    depends_on:
      db: {condition: service_healthy}
  db:
    image: busybox
    command: sh -c 'sleep 0.3; touch /tmp/ok; exec sleep 1000'
    healthcheck: {test: test -e /tmp/ok, interval: 1s, retries: 30}
    secrets: [pw]
    stop_grace_period: 1s
  job:
    image: busybox
    command: sh -c 'printf \"GET / HTTP/1.0\\r\\n\\r\\n\" | nc web 80 | tail -1'
    depends_on: [web]
volumes:
  data: {}
secrets:
  pw: {file: ./pw.txt}
";

#[test]
fn docker_compose_1_29_runs_a_project_on_berthd() {
    let d = Berthd::start();
    let project = context(&[
        ("legacy/compose.yaml", APP),
        ("legacy/site/index.html", "hello\n"),
        ("legacy/pw.txt", "s3cret"),
    ]);
    let dir = project.path().join("legacy");
    assert_eq!(ok(&d, &dir, &["config", "--services"]), "db\nweb\njob\n");
    ok(&d, &dir, &["up", "-d"]);
    let ps = ok(&d, &dir, &["ps"]);
    for name in ["legacy_db_1", "legacy_web_1", "legacy_job_1"] {
        assert!(ps.contains(name), "{ps}");
    }
    assert!(ps.contains("Up (healthy)"), "{ps}");
    let port = ok(&d, &dir, &["port", "web", "80"]);
    assert_eq!(http_get(port.trim(), "/index.html"), "hello\n");
    assert_eq!(ok(&d, &dir, &["exec", "-T", "db", "cat", "/run/secrets/pw"]), "s3cret");
    d.wait_for(15, "the job", || d.inspect("legacy_job_1", "{{.State.Status}}") == "exited");
    let logs = ok(&d, &dir, &["logs", "--no-color", "job"]);
    assert!(logs.contains("job_1  | hello"), "{logs}");
    assert_eq!(ok(&d, &dir, &["run", "--rm", "--no-deps", "job", "echo", "one-off"]).trim(), "one-off");

    // berth compose sees docker-compose's project by its labels.
    let mut c = Command::new(berth_tests::env().bin_dir.join("berth"));
    let out = c
        .args(["compose", "ps", "--services"])
        .current_dir(&dir)
        .env("DOCKER_HOST", d.host())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "db\nweb\n", "{}", String::from_utf8_lossy(&out.stderr));

    ok(&d, &dir, &["up", "-d", "--scale", "web=2"]);
    let ps = ok(&d, &dir, &["ps", "-q", "web"]);
    assert_eq!(ps.lines().count(), 2, "{ps}");
    ok(&d, &dir, &["down", "-v"]);
    let left = d.ok(&["ps", "-aq"]);
    assert!(left.is_empty(), "{left}");
    assert!(!d.ok(&["network", "ls"]).contains("legacy_default"));
    assert!(!d.ok(&["volume", "ls"]).contains("legacy_data"));
    d.assert_nothing_left();
}
