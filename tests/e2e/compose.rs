//! `berth compose`, run as a user runs it: the project's files found by walking up from the
//! working directory, variables from the environment and the project's `.env`, profiles,
//! overrides with `!reset`, `extends` and `include`, and errors that name the file, line and
//! key. (The commands that drive the engine come with the compose issue's next steps.)

use std::path::Path;
use std::process::{Command, Output};

use berth_tests::images::context;

fn compose(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(berth_tests::env().bin_dir.join("berth"));
    c.arg("compose").args(args).current_dir(dir).env_remove("COMPOSE_PROFILES").env_remove("COMPOSE_FILE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[track_caller]
fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = compose(dir, args, env);
    assert!(out.status.success(), "berth compose {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn config_loads_a_project_as_docker_compose_does() {
    let project = context(&[
        (
            "My App/compose.yaml",
            "include:\n  - ../shared/db.yaml\nx-base: &base\n  restart: always\nservices:\n  web:\n    <<: *base\n    image: web:${TAG:?set TAG}\n    ports: ['8080:80']\n  worker:\n    extends: {file: common.yaml, service: job}\n  debug:\n    image: debug\n    profiles: [debug]\n",
        ),
        ("My App/compose.override.yaml", "services:\n  web:\n    ports: !reset []\n    environment: [MODE=dev]\n"),
        ("My App/common.yaml", "services:\n  job:\n    image: job\n    command: run --all\n"),
        ("My App/.env", "TAG=7\n"),
        ("My App/sub/.keep", ""),
        ("shared/db.yaml", "services:\n  db:\n    image: db:${DB:-15}\n    volumes: ['./data:/data']\n"),
    ]);
    let app = project.path().join("My App");
    let sub = app.join("sub");
    assert_eq!(ok(&sub, &["config", "--services"], &[]), "db\nweb\nworker\n");
    assert_eq!(ok(&sub, &["--profile", "debug", "config", "--services"], &[]), "db\ndebug\nweb\nworker\n");
    assert_eq!(
        ok(&sub, &["config", "--services"], &[("COMPOSE_PROFILES", "debug")]),
        "db\ndebug\nweb\nworker\n"
    );
    assert_eq!(ok(&sub, &["config", "--profiles"], &[]), "debug\n");
    assert_eq!(ok(&sub, &["config", "--images"], &[("TAG", "9")]), "db:15\njob\nweb:9\n");
    let yaml = ok(&sub, &["config"], &[]);
    assert!(yaml.starts_with("name: myapp\n"), "{yaml}");
    assert!(
        yaml.contains("    image: web:7\n    restart: always\n    environment:\n      - MODE=dev\n"),
        "{yaml}"
    );
    assert!(!yaml.contains("8080"), "the override reset the ports: {yaml}");
    // An included project's relative paths are its own directory's.
    let data = format!("      - {}/shared/data:/data\n", project.path().display());
    assert!(yaml.contains(&data), "{yaml}");
    assert!(yaml.contains("    command: run --all\n"), "{yaml}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&sub, &["-p", "other", "config", "--format", "json"], &[])).unwrap();
    assert_eq!(json["name"], "other");
    assert_eq!(json["services"]["web"]["restart"], "always");

    // Errors are clear and early, and name where.
    std::fs::write(app.join("compose.override.yaml"), "services:\n  web:\n    imag: x\n").unwrap();
    let out = compose(&sub, &["config", "-q"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.ends_with("compose.override.yaml: line 3, column 5: services.web: additional property \"imag\" is not allowed\n"), "{err}");
    std::fs::remove_file(app.join("compose.override.yaml")).unwrap();
    std::fs::write(app.join(".env"), "").unwrap();
    let out = compose(&sub, &["config", "-q"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "error while interpolating services.web.image: required variable TAG is missing a value: set TAG"
    ));
    let out = compose(&sub, &["-p", "Bad", "config", "-q"], &[("TAG", "1")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid project name \"Bad\""));
    let out = compose(project.path(), &["config"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no configuration file provided: not found"));
}
