//! Dockerfile builds through Docker's classic path, driven by the docker CLI
//! (`DOCKER_BUILDKIT=0 docker build`) and the Python SDK, against berthd and side by side with
//! the reference dockerd: the same Dockerfile gives the same config, history and files; steps
//! come from the cache until their inputs change, and berth says why one was rebuilt; a failing
//! step fails as Docker's does and leaves no container behind.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use berth_tests::daemon::{busybox_tar, Berthd};
use berth_tests::images::context;
use berth_tests::refdocker::RefDockerd;

/// `docker build` through the classic builder against `host`.
fn build(host: &str, args: &[&str], ctx: &Path) -> Output {
    Command::new("docker")
        .env("DOCKER_HOST", host)
        .env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(args)
        .arg(ctx)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn built(host: &str, args: &[&str], ctx: &Path) -> String {
    let out = build(host, args, ctx);
    assert!(
        out.status.success(),
        "docker build {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const EVERY_INSTRUCTION: &str = r#"FROM busybox
MAINTAINER Some One <one@example.com>
ARG VERSION=1.0
ARG NOVAL
ENV A=1 B="two words"
ENV LEGACY value with spaces
LABEL org.label=x "other label"=y
EXPOSE 8080 53/udp
WORKDIR /app
COPY a.txt .
COPY dir /dir/
COPY a.txt dir/y /multi/
COPY --chown=1000:1000 a.txt /owned
ADD a.txt /added
RUN echo "version $VERSION" > /v
RUN ["sh", "-c", "echo exec > /e"]
USER 1000:1000
VOLUME /data /cache
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo onbuild
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo hi
"#;

/// The image's config without what a run adds, as sorted JSON.
fn config(host: &str, image: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .env("DOCKER_HOST", host)
        .args(["inspect", "-f", "{{json .Config}}", image])
        .output()
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "Hostname",
        "Domainname",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Image",
        "ArgsEscaped",
    ] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

/// `docker history` lines, COPY and ADD's content names masked (each engine hashes its own way).
fn history(host: &str, image: &str) -> Vec<String> {
    let out = Command::new("docker")
        .env("DOCKER_HOST", host)
        .args(["history", "--no-trunc", "--format", "{{.CreatedBy}}", image])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut words: Vec<String> = l.split(' ').map(String::from).collect();
            for w in &mut words {
                for kind in ["file:", "dir:", "multi:"] {
                    if let Some(at) = w.find(kind) {
                        *w = format!("{}{kind}…", &w[..at]);
                    }
                }
            }
            words.join(" ")
        })
        .collect()
}

/// The image's files (type, mode, owner, size, name), through `docker save`'s layers applied
/// in order, as `tar -tv` lists them; bin/ (busybox's links) left out.
fn files(host: &str, image: &str) -> Vec<String> {
    let c = Command::new("docker").env("DOCKER_HOST", host).args(["create", image]).output().unwrap();
    let id = String::from_utf8_lossy(&c.stdout).trim().to_string();
    let script = format!("docker export {id} | tar -tv --numeric-owner");
    let out = Command::new("sh").env("DOCKER_HOST", host).args(["-c", &script]).output().unwrap();
    Command::new("docker").env("DOCKER_HOST", host).args(["rm", &id]).output().unwrap();
    // What a container's runtime adds (its init layer) is not the image's.
    let runtime =
        [".dockerenv", "dev/", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab", "proc/", "sys/"];
    let mut out: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = *f.get(5)?;
            (!name.starts_with("bin/") && !runtime.iter().any(|r| name.starts_with(r)))
                .then(|| format!("{} {} {} {name}", f[0], f[1], f[2]))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_instruction_builds_the_image_the_reference_builds() {
    let ctx = context(&[
        ("Dockerfile", EVERY_INSTRUCTION),
        ("a.txt", "hello\n"),
        ("dir/sub/x", "x\n"),
        ("dir/y", "y\n"),
    ]);
    let d = Berthd::start();
    let docker = RefDockerd::start();
    docker.ok(&["load", "-i", busybox_tar().to_str().unwrap()]);
    let ours = built(&d.host(), &["-t", "every:1"], ctx.path());
    built(&docker.host, &["-t", "every:1"], ctx.path());
    assert!(ours.contains("Step 1/24 : FROM busybox"), "{ours}");
    assert!(ours.contains("Step 24/24 : CMD echo hi"), "{ours}");
    assert!(ours.contains("Successfully tagged every:1"), "{ours}");
    assert_eq!(config(&d.host(), "every:1"), config(&docker.host, "every:1"));
    assert_eq!(history(&d.host(), "every:1"), history(&docker.host, "every:1"));
    assert_eq!(files(&d.host(), "every:1"), files(&docker.host, "every:1"));
    let run = |args: &[&str]| {
        d.ok(&[&["run", "--rm", "--network", "none", "--entrypoint", "cat", "every:1"][..], args].concat())
    };
    assert_eq!(run(&["/v", "/e", "/app/a.txt"]), "version 1.0\nexec\nhello\n");
    // A child runs the ONBUILD trigger first, as the reference does, and carries none.
    let child = context(&[("Dockerfile", "FROM every:1\nRUN echo child\n")]);
    let ours = built(&d.host(), &["-t", "child:1"], child.path());
    let theirs = built(&docker.host, &["-t", "child:1"], child.path());
    let ids = |s: &str| -> Vec<String> {
        s.lines()
            .skip(1)
            .map(|l| {
                l.split(' ')
                    .map(|w| if w.len() == 12 && w.chars().all(|c| c.is_ascii_hexdigit()) { "ID" } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert!(ours.contains("# Executing 1 build trigger\n"), "{ours}");
    assert_eq!(ids(&ours), ids(&theirs));
    assert_eq!(config(&d.host(), "child:1"), config(&docker.host, "child:1"));
    assert_eq!(history(&d.host(), "child:1"), history(&docker.host, "child:1"));
    // The intermediate containers are gone.
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn steps_come_from_the_cache_until_their_inputs_change() {
    let ctx = context(&[
        ("Dockerfile", "FROM busybox\nARG GREETING=hi\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy && echo $GREETING >> /copy\nCMD [\"cat\", \"/copy\"]\n"),
        ("app.txt", "one\n"),
    ]);
    let d = Berthd::start();
    built(&d.host(), &["-t", "cached:1"], ctx.path());
    let again = built(&d.host(), &["-t", "cached:1"], ctx.path());
    assert_eq!(again.matches(" ---> Using cache").count(), 4, "{again}");
    assert!(!again.contains("Running in"), "{again}");
    // A changed build arg rebuilds the RUN only.
    let changed = built(&d.host(), &["-t", "cached:2", "--build-arg", "GREETING=hello"], ctx.path());
    assert_eq!(changed.matches(" ---> Using cache").count(), 2, "{changed}");
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "cached:2"]), "one\nhello\n");
    // A changed file rebuilds its COPY and what follows; berth says why (its own `explain`).
    std::fs::write(ctx.path().join("app.txt"), "two\n").unwrap();
    let tar = ctx.path().with_extension("tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(ctx.path())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let out = Command::new("curl")
        .args(["-s", "--unix-socket"])
        .arg(d.host().trim_start_matches("unix://"))
        .args(["-X", "POST", "-H", "Content-Type: application/x-tar", "--data-binary"])
        .arg(format!("@{}", tar.display()))
        .arg("http://x/build?t=cached:3&explain=1")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&tar);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("step 3 rebuilt: file app.txt changed"), "{text}");
    assert!(text.contains("step 4 rebuilt: step 3 changed"), "{text}");
    assert!(text.contains("\"aux\":{\"ID\":\"sha256:"), "{text}");
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "cached:3"]), "two\nhi\n");
    // --no-cache runs everything again.
    let fresh = built(&d.host(), &["--no-cache", "-t", "cached:4"], ctx.path());
    assert!(!fresh.contains("Using cache"), "{fresh}");
    // The steps' images are intermediate: listed with -a only, as Docker lists them.
    let listed = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!listed.contains("<none>"), "{listed}");
    assert!(d.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]).contains("<none>:<none>"));
}

#[test]
fn a_failing_step_fails_as_docker_fails_and_leaves_nothing() {
    let d = Berthd::start();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo before\nRUN echo to stderr >&2; exit 3\n")]);
    let out = build(&d.host(), &["-t", "fails:1"], ctx.path());
    assert_eq!(out.status.code(), Some(3), "the docker CLI exits with the step's code");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("before\n"), "{stdout}");
    assert!(stdout.contains("\u{1b}[91mto stderr\n\u{1b}[0m"), "{stdout}");
    assert!(
        stderr.contains("The command '/bin/sh -c echo to stderr >&2; exit 3' returned a non-zero code: 3"),
        "{stderr}"
    );
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    d.assert_nothing_left();
    assert!(d.docker(&["image", "inspect", "fails:1"]).status.code() != Some(0));
    // A Dockerfile that cannot be read is the request's failure, in BuildKit's words.
    let bad = context(&[("Dockerfile", "FROM busybox\nECHO hi\n")]);
    let out = build(&d.host(), &[], bad.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("dockerfile parse error on line 2: unknown instruction: ECHO"));
    let out = build(&d.host(), &["-f", "Missing.Dockerfile"], bad.path());
    assert!(!out.status.success());
    // A missing source is named.
    let missing = context(&[("Dockerfile", "FROM busybox\nCOPY nope /x\n")]);
    let out = build(&d.host(), &[], missing.path());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn stages_targets_scratch_and_a_dockerfile_outside_the_context() {
    let d = Berthd::start();
    let ctx = context(&[
        ("Dockerfile", "FROM busybox AS base\nRUN echo base > /b\nFROM base AS next\nRUN cat /b > /c\nFROM scratch AS empty\nCOPY f /f\n"),
        ("f", "data\n"),
    ]);
    let out = built(&d.host(), &["-t", "stages:next", "--target", "next"], ctx.path());
    assert!(out.contains("Step 4/4 : RUN cat /b > /c"), "only the stages the target needs: {out}");
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "stages:next", "cat", "/c"]), "base\n");
    built(&d.host(), &["-t", "stages:empty"], ctx.path());
    assert_eq!(d.inspect("stages:empty", "{{len .RootFS.Layers}}"), "1");
    // The docker CLI adds a Dockerfile from outside the context to the context it sends.
    let outside = tempfile::tempdir().unwrap();
    let df = outside.path().join("Other.Dockerfile");
    std::fs::write(&df, "FROM busybox\nCOPY f /g\n").unwrap();
    built(&d.host(), &["-f", df.to_str().unwrap(), "-t", "outside:1"], ctx.path());
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "outside:1", "cat", "/g"]), "data\n");
}

#[test]
fn the_python_sdk_builds_with_args_and_labels() {
    let d = Berthd::start();
    let ctx = context(&[("Dockerfile", "FROM busybox\nARG WHO\nRUN echo hello $WHO > /greeting\n")]);
    let script = format!(
        r#"
import docker
c = docker.from_env()
img, logs = c.images.build(path="{}", tag="sdk:1", buildargs={{"WHO": "sdk"}}, labels={{"made.by": "sdk"}})
assert "sdk:1" in img.tags, img.tags
assert img.labels == {{"made.by": "sdk"}}, img.labels
steps = [l["stream"] for l in logs if "stream" in l and l["stream"].startswith("Step ")]
assert steps == ["Step 1/4 : FROM busybox", "Step 2/4 : ARG WHO", "Step 3/4 : RUN echo hello $WHO > /greeting", "Step 4/4 : LABEL made.by=sdk"], steps
print(c.containers.run("sdk:1", ["cat", "/greeting"], remove=True, network_mode="none").decode(), end="")
"#,
        ctx.path().display()
    );
    let printed = d.python(&script);
    assert_eq!(printed, "hello sdk\n");

    // The SDK's other parameters: a target, cache sources, the RUN steps' network and hosts.
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox AS base\nRUN ls /sys/class/net > /nets && grep svc.example /etc/hosts > /hosts\nFROM base\nRUN false\n",
    )]);
    let script = format!(
        r#"
import docker
c = docker.from_env()
img, logs = c.images.build(path="{}", tag="sdk:2", target="base", network_mode="none",
    extra_hosts={{"svc.example": "10.9.8.7"}}, cache_from=["sdk:1"], rm=True, forcerm=True, pull=False)
print(c.containers.run("sdk:2", ["cat", "/nets", "/hosts"], remove=True, network_mode="none").decode(), end="")
img, logs = c.images.build(path="{}", tag="sdk:2", target="base", network_mode="none",
    extra_hosts={{"svc.example": "10.9.8.7"}})
assert any("Using cache" in l.get("stream", "") for l in logs)
try:
    c.images.build(path="{}", tag="sdk:3")
    raise SystemExit("a failing step did not fail the build")
except docker.errors.BuildError as e:
    print(e.msg)
"#,
        ctx.path().display(),
        ctx.path().display(),
        ctx.path().display()
    );
    let printed = d.python(&script);
    assert_eq!(
        printed,
        "lo\n10.9.8.7\tsvc.example\nThe command '/bin/sh -c false' returned a non-zero code: 1\n"
    );
    d.assert_nothing_left();
}

#[test]
fn docker_compose_builds_its_services() {
    let d = Berthd::start();
    let ctx = context(&[
        (
            "docker-compose.yml",
            "version: '3.8'\nservices:\n  app:\n    build:\n      context: ./app\n      dockerfile: Containerfile\n      \
             args:\n        GREETING: composed\n      labels:\n        made.by: compose\n      target: final\n      \
             network: none\n      cache_from: [\"busybox\"]\n    image: composed/app:1\n",
        ),
        ("app/Containerfile", "FROM busybox AS final\nARG GREETING\nRUN echo $GREETING > /greeting\nFROM final\nRUN false\n"),
    ]);
    let compose = |args: &[&str]| {
        Command::new("docker-compose")
            .args(["-p", "berthtest", "-f"])
            .arg(ctx.path().join("docker-compose.yml"))
            .args(args)
            .env("DOCKER_HOST", d.host())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = compose(&["build"]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Successfully tagged composed/app:1"), "{said}");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "composed/app:1", "cat", "/greeting"]),
        "composed\n"
    );
    assert_eq!(d.inspect("composed/app:1", "{{index .Config.Labels \"made.by\"}}"), "compose");
    // Built again: every step from the cache (ARG, RUN and the labels' step).
    let out = compose(&["build"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches("Using cache").count(),
        3,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    d.assert_nothing_left();
}

#[test]
fn a_daemon_killed_mid_build_leaves_nothing_once_it_is_back() {
    let mut d = Berthd::start();
    let ctx = context(&[
        ("Dockerfile", "FROM busybox\nCOPY big /big\nRUN sleep 60\n"),
        ("big", &"x".repeat(1 << 20)),
    ]);
    let mut client = Command::new("docker")
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", "killed:1"])
        .arg(ctx.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    d.wait_for(30, "the RUN step's container", || {
        !d.ok(&["ps", "-q", "--filter", "label=org.berth.build"]).trim().is_empty()
    });
    assert!(d.data_root.join("image/tmp").exists(), "the context is unpacked under the data root");
    d.kill9();
    let _ = client.wait();
    d.launch();
    assert_eq!(d.ok(&["ps", "-aq"]), "", "the intermediate container is gone");
    assert!(!d.data_root.join("image/tmp").exists(), "the context is gone");
    d.assert_nothing_left();
    // And the next build runs.
    let ok = context(&[("Dockerfile", "FROM busybox\nRUN echo again\n")]);
    assert!(built(&d.host(), &[], ok.path()).contains("again"));
}

#[test]
fn copy_from_another_stage_an_index_or_an_image() {
    let d = Berthd::start();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox AS build\nRUN mkdir /out && echo built > /out/file\nFROM busybox\nCOPY --from=build /out/file /file\nCOPY --from=0 /out /dir/\nCOPY --from=busybox /bin/busybox /bb\n",
    )]);
    let out = built(&d.host(), &["-t", "from:1"], ctx.path());
    assert!(out.contains("Successfully tagged from:1"), "{out}");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "from:1", "cat", "/file", "/dir/file"]),
        "built\nbuilt\n"
    );
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "from:1", "ls", "/bb"]), "/bb\n");
    // Cached the second time, and nothing is left of the source containers.
    let again = built(&d.host(), &["-t", "from:1"], ctx.path());
    assert_eq!(again.matches("Using cache").count(), 4, "{again}");
    assert_eq!(d.ok(&["ps", "-aq"]), "");
}

#[test]
fn copy_parents_exclude_link_and_run_network_as_buildkit_has_them() {
    let d = Berthd::start();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\n\
             COPY --parents src/x/a.txt src/y/b.txt /parents/\n\
             COPY --parents ./src/./x/*.txt /pivot/\n\
             COPY --parents src/**/*.txt /deep/\n\
             COPY --exclude=*.log --exclude=src/y src /excluded/\n\
             COPY --link src/x/a.txt /linked\n\
             RUN --network=none ls /sys/class/net > /none\n\
             RUN ls /sys/class/net > /default\n",
        ),
        ("src/x/a.txt", "a\n"),
        ("src/x/c.txt", "c\n"),
        ("src/y/b.txt", "b\n"),
        ("src/debug.log", "noise\n"),
        ("src/keep.md", "kept\n"),
    ]);
    built(&d.host(), &["-t", "select:1"], ctx.path());
    let run = |script: &str| d.ok(&["run", "--rm", "--network", "none", "select:1", "sh", "-c", script]);
    let find = |dir: &str| run(&format!("cd {dir} && find . -type f | sort"));
    assert_eq!(find("/parents"), "./src/x/a.txt\n./src/y/b.txt\n");
    assert_eq!(find("/pivot"), "./x/a.txt\n./x/c.txt\n");
    assert_eq!(find("/deep"), "./src/x/a.txt\n./src/x/c.txt\n./src/y/b.txt\n");
    assert_eq!(find("/excluded"), "./keep.md\n./x/a.txt\n./x/c.txt\n");
    assert_eq!(run("cat /linked"), "a\n");
    // A RUN with --network=none has loopback only; one without has the build's network.
    assert_eq!(run("cat /none"), "lo\n");
    assert!(run("cat /default").contains("eth0"), "{}", run("cat /default"));
    // An excluded file changed: the steps that left it out are still cached.
    std::fs::write(ctx.path().join("src/debug.log"), "more noise\n").unwrap();
    let again = built(&d.host(), &["-t", "select:1"], ctx.path());
    assert_eq!(again.matches("Using cache").count(), 7, "{again}");
    d.assert_nothing_left();
}

#[test]
fn heredocs_and_added_archives_are_built_as_buildkit_builds_them() {
    let d = Berthd::start();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nARG NAME=world\n\
             RUN <<EOF\necho one > /one\necho two >> /one\nEOF\n\
             RUN <<-EOT sh -c 'cat > /piped'\n\tpiped in\n\tEOT\n\
             RUN <<EOF\n#!/bin/sh\necho \"shebang $0\" > /shebang\nEOF\n\
             COPY <<EOF /etc/greeting\nhello $NAME\nEOF\n\
             COPY <<\"EOF\" <<EOF2 /docs/\nno $EXPANSION\nEOF\nsecond\nEOF2\n\
             ADD pkg.tar.gz /gz/\nADD pkg.tar.xz /xz\nADD pkg.tar.bz2 /bz\nADD plain.txt /plain.txt\n",
        ),
        ("pkg/a", "in the archive\n"),
        ("plain.txt", "not an archive\n"),
    ]);
    for (flag, name) in [("-z", "pkg.tar.gz"), ("-J", "pkg.tar.xz"), ("-j", "pkg.tar.bz2")] {
        let ok = Command::new("tar")
            .args(["--owner=1234", "--group=1234", flag, "-cf", name, "pkg"])
            .current_dir(ctx.path())
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let out = built(&d.host(), &["-t", "heredocs:1"], ctx.path());
    assert!(out.contains("Successfully tagged heredocs:1"), "{out}");
    let run = |script: &str| d.ok(&["run", "--rm", "--network", "none", "heredocs:1", "sh", "-c", script]);
    assert_eq!(run("cat /one /piped /shebang"), "one\ntwo\npiped in\nshebang /dev/pipes/EOF\n");
    assert_eq!(run("cat /etc/greeting /docs/EOF /docs/EOF2"), "hello world\nno $EXPANSION\nsecond\n");
    assert_eq!(run("stat -c '%a %u' /etc/greeting"), "644 0\n");
    // Archives are extracted (whatever their compression), keeping their owners; a plain file is copied.
    assert_eq!(
        run("cat /gz/pkg/a /xz/pkg/a /bz/pkg/a /plain.txt; stat -c '%u:%g' /gz/pkg/a"),
        "in the archive\nin the archive\nin the archive\nnot an archive\n1234:1234\n"
    );
    assert!(
        run("ls /dev/pipes 2>&1 || true").contains("No such file"),
        "the heredoc's file went with its step"
    );
    // All from the cache the second time; a changed archive is added again.
    let again = built(&d.host(), &["-t", "heredocs:1"], ctx.path());
    assert_eq!(again.matches("Using cache").count(), 10, "{again}");
    std::fs::write(ctx.path().join("pkg/a"), "changed\n").unwrap();
    let ok =
        Command::new("tar").args(["-czf", "pkg.tar.gz", "pkg"]).current_dir(ctx.path()).status().unwrap();
    assert!(ok.success());
    built(&d.host(), &["-t", "heredocs:1"], ctx.path());
    assert_eq!(run("cat /gz/pkg/a"), "changed\n");
    d.assert_nothing_left();
}

#[test]
fn independent_stages_run_at_once_and_tell_their_steps_in_order() {
    let d = Berthd::start();
    // Each stage waits for the other's mark in a shared cache mount: run one after the other,
    // the first would give up; at once, both find the other's.
    let id = format!("sync-{}", std::process::id());
    let wait = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,target=/sync,id={id} sh -c 'touch /sync/{me}; for i in $(seq 150); do [ -e /sync/{other} ] && exit 0; sleep 0.1; done; exit 7'"
        )
    };
    let dockerfile = format!(
        "FROM busybox AS a\n{}\nFROM busybox AS b\n{}\nFROM busybox\nCOPY --from=a /etc/hostname /a\nCOPY --from=b /etc/hostname /b\n",
        wait("a", "b"),
        wait("b", "a")
    );
    let ctx = context(&[("Dockerfile", &dockerfile)]);
    let out = built(&d.host(), &["--no-cache", "-t", "waves:1"], ctx.path());
    let steps: Vec<&str> = out.lines().filter(|l| l.starts_with("Step ")).collect();
    let want: Vec<String> = (1..=7).map(|n| format!("Step {n}/7 : ")).collect();
    assert_eq!(steps.len(), 7, "{out}");
    for (s, w) in steps.iter().zip(&want) {
        assert!(s.starts_with(w.as_str()), "steps told in plan order: {out}");
    }
    // Each stage's lines stay together: its RUN's result comes before the next stage's FROM.
    let a_done = out.find(" ---> Running in").unwrap();
    assert!(a_done < out.find("Step 3/7").unwrap(), "{out}");

    // A live client hears the steps as they happen: both stages' RUNs run at once.
    let tar = tempfile::NamedTempFile::new().unwrap();
    let ok = Command::new("tar").arg("-C").arg(ctx.path()).arg("-cf").arg(tar.path()).arg(".").status();
    assert!(ok.unwrap().success());
    let sock = d.host().trim_start_matches("unix://").to_string();
    let events = Command::new("curl")
        .args(["-s", "--unix-socket", &sock, "-X", "POST", "-H", "Content-Type: application/x-tar"])
        .arg("--data-binary")
        .arg(format!("@{}", tar.path().display()))
        .arg("http://x/build?nocache=1&berthprogress=1")
        .output()
        .unwrap();
    let (mut running, mut most) = (std::collections::BTreeSet::new(), 0);
    for line in String::from_utf8_lossy(&events.stdout).lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        if m["id"] == "berth.build.step" {
            let key = (m["aux"]["stage"].as_u64().unwrap(), m["aux"]["step"].as_u64().unwrap());
            match m["aux"]["state"].as_str().unwrap() {
                "running" => running.insert(key),
                _ => running.remove(&key),
            };
            most = most.max(running.len());
        }
    }
    assert_eq!(most, 2, "{}", String::from_utf8_lossy(&events.stdout));

    // `berth build` draws them as BuildKit draws them; a second build's steps are cached.
    let view = |extra: &[&str]| {
        let out = Command::new(berth_tests::env().bin_dir.join("berth"))
            .args(["-H", &d.host(), "build", "--progress", "tty"])
            .args(extra)
            .arg(ctx.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let last = text.rsplit("[+] Building").next().unwrap().replace("\x1b[2K", "").replace("\x1b[J", "");
        format!("[+] Building{last}")
    };
    let screen = view(&["--no-cache"]);
    assert!(screen.lines().next().unwrap().ends_with("(7/7) FINISHED"), "{screen}");
    assert!(screen.contains(" => [a 2/2] RUN --mount=type=cache"), "{screen}");
    assert!(screen.contains(" => [stage-2 3/3] COPY --from=b /etc/hostname /b"), "{screen}");
    let screen = view(&[]);
    assert!(screen.contains(" => CACHED [b 2/2] RUN --mount=type=cache"), "{screen}");
    d.assert_nothing_left();
}
