//! Where a build's cache and bases come from: an image pushed to a registry and pulled
//! elsewhere serves as `--cache-from` (its steps are taken, the same image results);
//! `--no-cache-filter` rebuilds only the stages it names; `POST /build/cancel` stops a build by
//! the ID its client gave; base images are pulled with the credentials the client sends
//! (`X-Registry-Config`), and again with `--pull`.

use std::process::{Command, Output, Stdio};

use berth_tests::daemon::Berthd;
use berth_tests::images::context;
use berth_tests::registry::BerthRegistry;

/// `docker build` (the classic builder) against `d`, with the docker CLI's config in `config`
/// when given.
fn docker_build(d: &Berthd, args: &[&str], config: Option<&std::path::Path>) -> Output {
    let mut c = d.command(["build"]);
    c.args(args).env("DOCKER_BUILDKIT", "0").stdin(Stdio::null());
    if let Some(dir) = config {
        c.env("DOCKER_CONFIG", dir);
    }
    c.output().unwrap()
}

#[track_caller]
fn docker_built(d: &Berthd, args: &[&str]) -> String {
    let out = docker_build(d, args, None);
    assert!(out.status.success(), "docker build {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn berth_built(d: &Berthd, args: &[&str]) -> String {
    let out = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["-H", &d.host(), "build", "--progress", "plain"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "berth build {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cached_steps(out: &str) -> usize {
    out.matches("Using cache").count()
}

fn cat(d: &Berthd, image: &str, file: &str) -> String {
    d.ok(&["run", "--rm", "--network", "none", image, "cat", file])
}

const LAYERED: &str = "FROM busybox
RUN head -c 8 /dev/urandom | od -An -tx1 > /rand
COPY app.txt /app.txt
ENV GREETING=hi
RUN cat /rand /app.txt > /both
";

#[test]
fn a_pushed_image_serves_as_cache_where_it_is_pulled() {
    let reg = BerthRegistry::start(&[]);
    let d = Berthd::start();
    let ctx = context(&[("Dockerfile", LAYERED), ("app.txt", "version 1\n")]);
    let dir = ctx.path().to_str().unwrap();
    let name = format!("{}/app:cache", reg.host());
    berth_built(&d, &["-t", &name, dir]);
    let built_id = d.inspect(&name, "{{.Id}}");
    let both = cat(&d, &name, "/both");
    d.ok(&["push", &name]);
    // Nothing of it stays here: not the image, not the build cache.
    d.ok(&["rmi", &name]);
    d.ok(&["builder", "prune", "-af"]);
    assert_eq!(d.docker(&["image", "inspect", &name]).status.code(), Some(1));

    // The docker CLI's `--cache-from` names an image that is not here: it is pulled, and every
    // step is taken from it: nothing runs, and the result is the image that was pushed.
    let out = docker_built(&d, &["--cache-from", &name, "-t", "again", dir]);
    assert_eq!(cached_steps(&out), 4, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(d.inspect("again", "{{.Id}}"), built_id, "{out}");
    assert_eq!(cat(&d, "again", "/both"), both);

    // A changed source: the steps before it still come from the pulled image, those from it on
    // run; the file made before it is the pulled one's.
    std::fs::write(ctx.path().join("app.txt"), "version 2\n").unwrap();
    d.ok(&["builder", "prune", "-af"]);
    let out = berth_built(&d, &["--cache-from", &format!("type=registry,ref={name}"), "-t", "changed", dir]);
    assert_eq!(cached_steps(&out), 1, "{out}");
    let rand = both.lines().next().unwrap();
    assert_eq!(cat(&d, "changed", "/both"), format!("{rand}\nversion 2\n"));

    // A cache source that cannot be had is skipped with a warning; the build goes on.
    let out = berth_built(&d, &["--cache-from", &format!("{}/missing:1", reg.host()), dir]);
    assert!(out.contains("[Warning] the cache image"), "{out}");
    let bad = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["-H", &d.host(), "build", "--cache-from", "type=local,src=/tmp", dir])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cache type \"local\" is not supported"));
}

#[test]
fn no_cache_filter_rebuilds_only_the_stages_it_names() {
    let d = Berthd::start();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox AS deps
RUN head -c 8 /dev/urandom | od -An -tx1 > /deps
FROM busybox AS app
COPY --from=deps /deps /deps
RUN head -c 8 /dev/urandom | od -An -tx1 > /app
",
    )]);
    let dir = ctx.path().to_str().unwrap();
    berth_built(&d, &["-t", "first", dir]);
    let out = berth_built(&d, &["--no-cache-filter", "app", "-t", "second", dir]);
    assert_eq!(cached_steps(&out), 1, "{out}");
    assert_eq!(cat(&d, "first", "/deps"), cat(&d, "second", "/deps"));
    assert_ne!(cat(&d, "first", "/app"), cat(&d, "second", "/app"));
    // By index too.
    let out = berth_built(&d, &["--no-cache-filter", "0", "-t", "third", dir]);
    assert_eq!(cached_steps(&out), 0, "{out}");
    assert_ne!(cat(&d, "first", "/deps"), cat(&d, "third", "/deps"));
}

#[test]
fn a_build_is_cancelled_by_the_id_its_client_gave() {
    let d = Berthd::start();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN sleep 60\n")]);
    let tar = ctx.path().join("context.tar");
    let status =
        Command::new("tar").args(["-C"]).arg(ctx.path()).args(["-cf"]).arg(&tar).arg("Dockerfile").status();
    assert!(status.unwrap().success());
    let sock = d.host().trim_start_matches("unix://").to_string();
    let started = std::time::Instant::now();
    let client = Command::new("curl")
        .args(["-s", "-N", "--unix-socket", &sock, "-X", "POST", "-H", "Content-Type: application/x-tar"])
        .arg("--data-binary")
        .arg(format!("@{}", tar.display()))
        .arg("http://x/build?buildid=my-build&t=never")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    d.wait_for(30, "the build's RUN container", || {
        !d.ok(&["ps", "-q", "--filter", "label=org.berth.build"]).trim().is_empty()
    });
    assert_eq!(d.api("POST", "/build/cancel", None).0, 400);
    // An ID no build has (one that ended, say) is no error, as with Docker.
    assert_eq!(d.api("POST", "/build/cancel?id=nothing", None).0, 200);
    assert_eq!(d.api("POST", "/build/cancel?id=my-build", None).0, 200);
    let out = client.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(started.elapsed() < std::time::Duration::from_secs(40), "{text}");
    assert!(text.contains("the build was cancelled"), "{text}");
    d.wait_for(10, "the build's container to go", || {
        d.ok(&["ps", "-aq", "--filter", "label=org.berth.build"]).trim().is_empty()
    });
    assert_eq!(d.docker(&["image", "inspect", "never"]).status.code(), Some(1));
    d.assert_nothing_left();
}

#[test]
fn bases_are_pulled_with_the_clients_credentials_and_again_with_pull() {
    let reg = BerthRegistry::start_with_tokens("alice", "secret");
    let d = Berthd::start();
    let client = tempfile::tempdir().unwrap();
    let login = d
        .command(["login", "-u", "alice", "--password-stdin", &reg.host()])
        .env("DOCKER_CONFIG", client.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut login.stdin.as_ref().unwrap(), b"secret\n").unwrap();
    assert!(login.wait_with_output().unwrap().status.success());
    let base = format!("{}/alice/base:1", reg.host());
    let push = |marker: &str| {
        let ctx = context(&[("Dockerfile", &format!("FROM busybox\nRUN echo {marker} > /marker\n"))]);
        docker_built(&d, &["-t", &base, ctx.path().to_str().unwrap()]);
        let out = d.command(["push", &base]).env("DOCKER_CONFIG", client.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        d.ok(&["rmi", &base]);
    };
    push("one");
    let ctx = context(&[("Dockerfile", &format!("FROM {base}\nRUN cat /marker > /seen\n"))]);
    let dir = ctx.path().to_str().unwrap();
    // Without the client's credentials the base cannot be pulled, and the build says so.
    let anonymous = tempfile::tempdir().unwrap();
    let out = docker_build(&d, &["-t", "app", dir], Some(anonymous.path()));
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("unauthorized") || said.contains("authentication required"), "{said}");
    // The docker CLI sends its logins in X-Registry-Config: the base is pulled with them.
    let out = docker_build(&d, &["-t", "app", dir], Some(client.path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(cat(&d, "app", "/seen"), "one\n");
    // A new base under the same tag in the registry: a build takes the one here, `--pull` the
    // registry's.
    let one = d.inspect(&base, "{{.Id}}");
    push("two");
    d.ok(&["tag", &one, &base]);
    let out = docker_build(&d, &["-t", "app", dir], Some(client.path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(cat(&d, "app", "/seen"), "one\n");
    let out = docker_build(&d, &["--pull", "-t", "app", dir], Some(client.path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(cat(&d, "app", "/seen"), "two\n");
}

#[test]
fn a_build_for_another_platform_pulls_its_bases_for_that_platform() {
    let reg = BerthRegistry::start(&[]);
    let d = Berthd::start();
    let host = reg.host();
    // An index of two images: busybox for this machine, and an image marked linux/arm64.
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs.tar");
    let c = d.ok(&["create", "busybox"]).trim().to_string();
    d.ok(&["export", "-o", rootfs.to_str().unwrap(), &c]);
    d.ok(&["rm", &c]);
    let (amd, arm, multi) =
        (format!("{host}/multi:amd"), format!("{host}/multi:arm"), format!("{host}/multi:1"));
    d.ok(&["import", "--platform", "linux/arm64", "-c", "LABEL arch=arm64", rootfs.to_str().unwrap(), &arm]);
    d.ok(&["tag", "busybox", &amd]);
    d.ok(&["push", "-q", &amd]);
    d.ok(&["push", "-q", &arm]);
    let manifest = |args: &[&str]| {
        let out = d.command(["manifest"]).args(args).env("DOCKER_CONFIG", dir.path()).output().unwrap();
        assert!(out.status.success(), "docker manifest {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    manifest(&["create", "--insecure", &multi, &amd, &arm]);
    manifest(&["push", "--insecure", &multi]);
    d.ok(&["rmi", &amd, &arm]);

    // The tools stage runs here (BUILDPLATFORM) and knows what it builds for; the final stage's
    // base is the index's arm64 image.
    let dockerfile = format!(
        "FROM --platform=$BUILDPLATFORM busybox AS tools\nARG TARGETARCH\nRUN echo $TARGETARCH > /arch\n\
         FROM {multi}\nCOPY --from=tools /arch /arch\n"
    );
    let ctx = context(&[("Dockerfile", &dockerfile)]);
    let dir = ctx.path().to_str().unwrap();
    berth_built(&d, &["--platform", "linux/arm64", "-t", "cross:arm", dir]);
    assert_eq!(d.inspect("cross:arm", "{{.Os}}/{{.Architecture}}"), "linux/arm64");
    assert_eq!(d.inspect("cross:arm", "{{.Config.Labels.arch}}"), "arm64");
    assert_eq!(cat(&d, "cross:arm", "/arch"), "arm64\n");
    // For this machine, the same Dockerfile takes the index's other image, though an arm64 one
    // is here under that name.
    let out = docker_built(&d, &["-t", "cross:here", dir]);
    let arch = d.inspect("busybox", "{{.Architecture}}");
    assert_eq!(d.inspect("cross:here", "{{.Architecture}}"), arch, "{out}");
    assert_eq!(cat(&d, "cross:here", "/arch"), format!("{arch}\n"));
    // A platform that is no platform is refused.
    let out = docker_build(&d, &["--platform", "linux/", dir], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid platform"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
