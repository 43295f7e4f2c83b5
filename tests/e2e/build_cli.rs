//! `berth build`, the CLI: the context it sends (`.dockerignore` applied as the docker CLI
//! applies it, a Dockerfile from outside the context or from stdin, a tar on stdin) gives the
//! image the docker CLI's context gives; the flags users type (`-t`, `-f`, `--build-arg`,
//! `--label`, `--target`, `-q`, `--iidfile`, `--output`, `--add-host`, `--network`,
//! `--ulimit`, `--shm-size`) do what they do with docker; a failing step ends it with the
//! step's exit code.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use berth_tests::daemon::Berthd;
use berth_tests::images::context;

/// `berth build ARGS` against `d`, in `cwd`, with `stdin`.
fn berth_build(d: &Berthd, args: &[&str], cwd: &Path, stdin: &[u8]) -> Output {
    let mut c = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["-H", &d.host(), "build"])
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin).unwrap();
    c.wait_with_output().unwrap()
}

#[track_caller]
fn berth_built(d: &Berthd, args: &[&str], cwd: &Path, stdin: &[u8]) -> String {
    let out = berth_build(d, args, cwd, stdin);
    assert!(
        out.status.success(),
        "berth build {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn docker_built(d: &Berthd, args: &[&str], cwd: &Path) -> String {
    let out = d
        .command(["build"])
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "docker build {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files under `/ctx` of `image`, with their sizes.
fn files(d: &Berthd, image: &str) -> String {
    d.ok(&["run", "--rm", "--network", "none", image, "sh", "-c", "cd /ctx && find . | sort"])
}

/// The output without what differs from one build to another (IDs, the context's size).
fn masked(out: &str) -> String {
    out.lines()
        .map(|l| {
            let l = if l.starts_with("Sending build context") { "Sending build context" } else { l };
            l.split(' ')
                .map(|w| if w.len() == 12 && w.chars().all(|c| c.is_ascii_hexdigit()) { "ID" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn berth_build_sends_the_context_the_docker_cli_sends() {
    let d = Berthd::start();
    let ctx = context(&[
        ("Dockerfile", "FROM busybox\nCOPY . /ctx/\nRUN echo built\n"),
        (".dockerignore", "*.log\n!keep.log\nsecret\nDockerfile\n"),
        ("a.txt", "a\n"),
        ("b.log", "b\n"),
        ("keep.log", "k\n"),
        ("secret/key", "s\n"),
        ("sub/c.txt", "c\n"),
    ]);
    std::os::unix::fs::symlink("a.txt", ctx.path().join("link")).unwrap();
    let by_docker = docker_built(&d, &["-t", "ctx:docker", "."], ctx.path());
    let by_berth = berth_built(&d, &["--no-cache", "-t", "ctx:berth", "."], ctx.path(), b"");
    assert_eq!(files(&d, "ctx:berth"), files(&d, "ctx:docker"));
    assert_eq!(
        files(&d, "ctx:berth"),
        ".\n./.dockerignore\n./a.txt\n./keep.log\n./link\n./sub\n./sub/c.txt\n"
    );
    // What the docker CLI shows.
    assert_eq!(masked(&by_berth), masked(&by_docker).replace("ctx:docker", "ctx:berth"));
    assert!(by_berth.ends_with("Successfully tagged ctx:berth\n"), "{by_berth}");

    // A Dockerfile from outside the context, from -f relative to the working directory.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("Other"), "FROM busybox\nCOPY . /ctx/\n").unwrap();
    let ctx_arg = ctx.path().to_str().unwrap();
    docker_built(&d, &["-f", "Other", "-t", "out:docker", ctx_arg], outside.path());
    berth_built(&d, &["-f", "Other", "-t", "out:berth", ctx_arg], outside.path(), b"");
    assert_eq!(files(&d, "out:berth"), files(&d, "out:docker"));
    assert!(!files(&d, "out:berth").contains(".dockerfile."), "{}", files(&d, "out:berth"));
    // A Dockerfile from stdin (-f -), and a Dockerfile alone as the context (-).
    berth_built(
        &d,
        &["-f", "-", "-t", "stdin:1", "."],
        ctx.path(),
        b"FROM busybox\nCOPY a.txt /from-stdin\n",
    );
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "stdin:1", "cat", "/from-stdin"]), "a\n");
    berth_built(&d, &["-t", "alone:1", "-"], ctx.path(), b"FROM busybox\nRUN echo alone > /alone\n");
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "alone:1", "cat", "/alone"]), "alone\n");
    // A tar on stdin is the context.
    let tar = Command::new("tar").args(["-C", ctx_arg, "-czf", "-", "."]).output().unwrap().stdout;
    berth_built(&d, &["-t", "tar:1", "-"], ctx.path(), &tar);
    assert!(files(&d, "tar:1").contains("./secret/key"), "a tar is sent as it is");
    for flag in ["-cJf", "-cjf"] {
        let tar = Command::new("tar").args(["-C", ctx_arg, flag, "-", "."]).output().unwrap().stdout;
        berth_built(&d, &["-t", "tar:2", "-"], ctx.path(), &tar);
        assert_eq!(files(&d, "tar:2"), files(&d, "tar:1"), "xz and bzip2 contexts too ({flag})");
    }
    d.assert_nothing_left();
}

#[test]
fn berth_build_flags_do_what_dockers_do() {
    let d = Berthd::start();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox AS first\nARG FROM_ENV\nARG GIVEN\nRUN echo \"$GIVEN $FROM_ENV\" > /args\n\
             RUN grep -q 'svc.example' /etc/hosts && ulimit -n > /nofile && df -k /dev/shm | tail -1 > /shm\n\
             FROM first AS second\nRUN echo second > /second\n",
        ),
        ("fail/Dockerfile", "FROM busybox\nRUN exit 3\n"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let iid = dir.path().join("iid");
    let out = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args([
            "-H",
            &d.host(),
            "build",
            "-q",
            "--target",
            "first",
            "-t",
            "flags:1",
            "--label",
            "made.by=berth",
        ])
        .args(["--build-arg", "GIVEN=given", "--build-arg", "FROM_ENV", "--iidfile"])
        .arg(&iid)
        .args(["--add-host", "svc.example:10.1.2.3", "--ulimit", "nofile=512:512", "--shm-size", "8m", "."])
        .env("FROM_ENV", "env")
        .current_dir(ctx.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = d.inspect("flags:1", "{{.Id}}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{id}\n"), "-q prints the ID only");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    let run = |cmd: &str| d.ok(&["run", "--rm", "--network", "none", "flags:1", "cat", cmd]);
    assert_eq!(run("/args"), "given env\n");
    assert_eq!(run("/nofile"), "512\n");
    assert!(run("/shm").contains(" 8192 "), "{}", run("/shm"));
    assert_eq!(d.inspect("flags:1", "{{index .Config.Labels \"made.by\"}}"), "berth");
    assert!(
        d.docker(&["run", "--rm", "flags:1", "cat", "/second"]).status.code() != Some(0),
        "--target stops"
    );

    // --output: the final filesystem, as a directory or a tar.
    let same = ["--build-arg", "GIVEN=given", "--add-host", "svc.example=10.1.2.3", "-q", "."];
    let local = dir.path().join("fs");
    let to_local = format!("type=local,dest={}", local.display());
    berth_built(&d, &[&["-o", &to_local][..], &same].concat(), ctx.path(), b"");
    assert_eq!(std::fs::read_to_string(local.join("second")).unwrap(), "second\n");
    let tar = dir.path().join("fs.tar");
    let to_tar = format!("type=tar,dest={}", tar.display());
    berth_built(&d, &[&["--output", &to_tar][..], &same].concat(), ctx.path(), b"");
    let listed = Command::new("tar").arg("-tf").arg(&tar).output().unwrap().stdout;
    assert!(String::from_utf8_lossy(&listed).lines().any(|l| l.trim_start_matches("./") == "second"));

    // A failing step: its message on stderr, its exit code, nothing left.
    let out = berth_build(&d, &["fail"], ctx.path(), b"");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n"
    );
    // Bad input is refused before anything runs.
    let out = berth_build(&d, &["--output", "type=oci,dest=x", "."], ctx.path(), b"");
    assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
    let out = berth_build(&d, &["no-such-dir"], ctx.path(), b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unable to prepare context"));
    d.assert_nothing_left();
}

#[test]
fn run_mounts_bind_cache_tmpfs_secrets_and_ssh_leave_no_trace() {
    let d = Berthd::start();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox AS tools\nRUN mkdir /out && echo from-stage > /out/t\n\
             FROM busybox\nWORKDIR /app\n\
             RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; wc -l < /cache/log > /count'\n\
             RUN --mount=type=bind,source=src,target=/src cat /src/f > /from-bind\n\
             RUN --mount=type=bind,target=ctx,rw sh -c 'echo scribble > /app/ctx/new && cat /app/ctx/src/f > /rw'\n\
             RUN --mount=type=bind,from=tools,source=/out,target=/tools cat /tools/t > /from-stage\n\
             RUN --mount=type=tmpfs,target=/scratch sh -c 'grep -q \" /scratch tmpfs \" /proc/mounts && echo tmpfs > /tmpfs'\n\
             RUN --mount=type=secret,id=token sh -c 'wc -c < /run/secrets/token > /secret-len'\n\
             RUN --mount=type=secret,id=token,env=TOKEN sh -c 'printf %s \"$TOKEN\" | wc -c > /secret-env'\n\
             RUN --mount=type=secret,id=absent true\n\
             RUN --mount=type=ssh sh -c 'test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /ssh'\n",
        ),
        ("src/f", "bound\n"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let agent = dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&agent).unwrap();
    let secret = format!("id=token,src={}", token.display());
    let ssh = format!("default={}", agent.display());
    let args = ["-t", "mounts:1", "--secret", &secret, "--ssh", &ssh, "."];
    berth_built(&d, &args, ctx.path(), b"");
    let run = |script: &str| d.ok(&["run", "--rm", "--network", "none", "mounts:1", "sh", "-c", script]);
    assert_eq!(
        run("cat /count /from-bind /rw /from-stage /tmpfs /secret-len /secret-env /ssh"),
        "1\nbound\nbound\nfrom-stage\ntmpfs\n6\n6\n/run/buildkit/ssh_agent.0\n"
    );
    // No mount point, no secret, no scribble is left in the image, its history or its layers.
    assert_eq!(run("ls -d /cache /src /app/ctx /tools /scratch /run/secrets /run/buildkit 2>&1 | grep -vc 'No such' || true"), "0\n");
    assert!(!d.ok(&["history", "--no-trunc", "mounts:1"]).contains("s3cret"));
    let saved = d.docker(&["save", "mounts:1"]).stdout;
    assert!(!saved.windows(6).any(|w| w == b"s3cret"), "the secret is in a layer");
    assert!(!ctx.path().join("ctx").exists());
    // A required secret that was not given fails the step.
    let failing =
        context(&[("Dockerfile", "FROM busybox\nRUN --mount=type=secret,id=gone,required=true true\n")]);
    let out = berth_build(&d, &["."], failing.path(), b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("secret gone not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The cache mount outlives the build; a bound file's change reruns its step.
    std::fs::write(ctx.path().join("src/f"), "changed\n").unwrap();
    let again = berth_built(&d, &args, ctx.path(), b"");
    assert_eq!(again.matches("Using cache").count(), 3, "{again}");
    assert_eq!(run("cat /from-bind"), "changed\n");
    berth_built(&d, &[&["--no-cache"][..], &args].concat(), ctx.path(), b"");
    assert_eq!(run("cat /count"), "2\n");
    d.assert_nothing_left();
}

#[test]
fn the_build_cache_is_counted_by_system_df_and_emptied_by_builder_prune() {
    let d = Berthd::start();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=cache,target=/cache,id=big dd if=/dev/zero of=/cache/blob bs=1024 count=3000 2>/dev/null\nRUN echo done\n",
    )]);
    berth_built(&d, &["-t", "cached:1", "."], ctx.path(), b"");
    // The cache mount's bytes are the build cache's size; the steps own none (their images do).
    let df = d.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}"]);
    let line = df.lines().find(|l| l.starts_with("Build Cache")).unwrap_or_default().to_string();
    assert!(line.starts_with("Build Cache 3 3.07"), "{df}");
    let verbose = d.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("exec.cachemount"), "{verbose}");
    // The docker CLI's builder prune: the unused cache mount goes, with its bytes.
    let out = d.ok(&["builder", "prune", "-f"]);
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert!(out.trim_end().rsplit('\n').next().unwrap().starts_with("Total reclaimed space: 3.07"), "{out}");
    let df = d.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}"]);
    assert!(df.contains("Build Cache 2 0B"), "{df}");
    // berth's, with -a: every step is forgotten; the next build runs them again.
    let out = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["-H", &d.host(), "builder", "prune", "-af"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let df = d.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.contains("Build Cache 0"), "{df}");
    let again = berth_built(&d, &["-t", "cached:1", "."], ctx.path(), b"");
    assert!(!again.contains("Using cache"), "{again}");
}

#[test]
fn source_date_epoch_makes_two_builds_one_image() {
    let d = Berthd::start();
    let ctx = context(&[
        ("Dockerfile", "FROM busybox\nENV A=1\nCOPY f /f\nRUN echo hi > /hi && mkdir -p /d && touch /d/x\n"),
        ("f", "data\n"),
    ]);
    let build = |epoch: Option<&str>| {
        let mut c = Command::new(berth_tests::env().bin_dir.join("berth"));
        c.args(["-H", &d.host(), "build", "--no-cache", "-q", "."]).current_dir(ctx.path());
        match epoch {
            Some(e) => c.env("SOURCE_DATE_EPOCH", e),
            None => c.env_remove("SOURCE_DATE_EPOCH"),
        };
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = build(Some("1700000000"));
    // Another second, the context's file touched: the same image all the same.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let f = std::fs::File::options().append(true).open(ctx.path().join("f")).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    assert_eq!(build(Some("1700000000")), first);
    assert_eq!(d.inspect(&first, "{{.Created}}"), "2023-11-14T22:13:20Z");
    assert_eq!(d.inspect(&first, "{{.Container}}"), "");
    // Without it, every build is an image of its own time.
    let plain = build(None);
    assert_ne!(plain, first);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_ne!(build(None), plain);
}

/// A static HTTP server (Python's) on loopback serving `dir`; killed when dropped.
struct Served(std::process::Child, u16);

impl Served {
    fn start(dir: &Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Served(child, port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn add_downloads_urls_checks_their_digest_and_keeps_their_time() {
    let d = Berthd::start();
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("tool.txt"), "a tool\n").unwrap();
    let f = std::fs::File::options().append(true).open(files.path().join("tool.txt")).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000)).unwrap();
    let served = Served::start(files.path());
    let url = format!("http://127.0.0.1:{}/tool.txt", served.1);
    let sum = "sha256:9d3e5b2dc0b1e5d5ac13b52e1f8a2f7c5e4a3e4b1d10e8b1ec9c7b3e1e8f3a3b";
    let good = {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"a tool\n")))
    };
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM busybox\nADD {url} /opt/\nADD --checksum={good} {url} /checked\nADD --chown=7:7 {url} /owned\n"),
    )]);
    berth_built(&d, &["-t", "urls:1", "."], ctx.path(), b"");
    let run = |script: &str| d.ok(&["run", "--rm", "--network", "none", "urls:1", "sh", "-c", script]);
    assert_eq!(run("cat /opt/tool.txt /checked"), "a tool\na tool\n");
    assert_eq!(run("stat -c '%a %Y' /opt/tool.txt; stat -c '%u:%g' /owned"), "600 1600000000\n7:7\n");
    // A wrong digest fails the step, naming both.
    let wrong = context(&[("Dockerfile", &format!("FROM busybox\nADD --checksum={sum} {url} /x\n"))]);
    let out = berth_build(&d, &["."], wrong.path(), b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("digest mismatch {good}: {sum}")), "{err}");
    // A server that is not there.
    let gone = context(&[("Dockerfile", "FROM busybox\nADD http://127.0.0.1:9/nothing /x\n")]);
    let out = berth_build(&d, &["."], gone.path(), b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ADD http://127.0.0.1:9/nothing: failed to GET"));
    d.assert_nothing_left();
}

/// `git ARGS` in `dir`, which must succeed.
fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=berth",
            "-c",
            "user.email=berth@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn remote_contexts_a_tar_a_dockerfile_and_a_git_repository_by_url() {
    let d = Berthd::start();
    let root = tempfile::tempdir().unwrap();
    let served = Served::start(root.path());
    let base = format!("http://127.0.0.1:{}", served.1);
    // A tar of a context, and a lone Dockerfile.
    let ctx = context(&[("Dockerfile", "FROM busybox\nCOPY f /f\n"), ("f", "from the tar\n")]);
    let tar = Command::new("tar")
        .args(["-czf"])
        .arg(root.path().join("ctx.tar.gz"))
        .arg("-C")
        .arg(ctx.path())
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    std::fs::write(root.path().join("Dockerfile.remote"), "FROM busybox\nRUN echo lone > /lone\n").unwrap();
    // A git repository, served as git's dumb HTTP protocol serves one.
    let work = root.path().join("work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::write(work.join("sub/Dockerfile"), "FROM busybox\nCOPY g /g\n").unwrap();
    std::fs::write(work.join("sub/g"), "from git\n").unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "first"]);
    git(root.path(), &["clone", "-q", "--bare", "work", "repo.git"]);
    git(&root.path().join("repo.git"), &["update-server-info"]);

    let here = tempfile::tempdir().unwrap();
    berth_built(&d, &["-t", "remote:tar", &format!("{base}/ctx.tar.gz")], here.path(), b"");
    berth_built(&d, &["-t", "remote:file", &format!("{base}/Dockerfile.remote")], here.path(), b"");
    berth_built(&d, &["-t", "remote:git", &format!("{base}/repo.git#main:sub")], here.path(), b"");
    let cat = |image: &str, file: &str| d.ok(&["run", "--rm", "--network", "none", image, "cat", file]);
    assert_eq!(cat("remote:tar", "/f"), "from the tar\n");
    assert_eq!(cat("remote:file", "/lone"), "lone\n");
    assert_eq!(cat("remote:git", "/g"), "from git\n");
    // ADD of a git repository: its files, without .git.
    let add = context(&[("Dockerfile", &format!("FROM busybox\nADD {base}/repo.git#main /repo/\n"))]);
    berth_built(&d, &["-t", "remote:add", "."], add.path(), b"");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "remote:add", "sh", "-c", "cat /repo/sub/g; ls -a /repo"]),
        "from git\n.\n..\nsub\n"
    );
    d.assert_nothing_left();
}

#[test]
fn ctrl_c_cancels_the_build_and_leaves_nothing() {
    use std::io::BufRead;
    let d = Berthd::start();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo started && sleep 60\n")]);
    let mut cmd = Command::new(berth_tests::env().bin_dir.join("berth"));
    cmd.args(["-H", &d.host(), "build", "."])
        .current_dir(ctx.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // As on a terminal: a test run in the background inherits SIGINT ignored.
    // SAFETY: only resets a signal's disposition between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let started = std::time::Instant::now();
    loop {
        let line = lines.next().expect("the build's output").unwrap();
        if line == "started" {
            break;
        }
    }
    assert!(!d.ok(&["ps", "-aq"]).is_empty(), "the step's container runs");
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let _ = child.wait();
    d.wait_for(10, "the cancelled build's container to go", || d.ok(&["ps", "-aq"]).is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the step was not waited for");
    d.wait_for(10, "the build's directory to go", || {
        std::fs::read_dir(d.data_root.join("image/tmp")).map(|r| r.count() == 0).unwrap_or(true)
    });
    d.assert_nothing_left();
}

#[test]
fn the_docker_clis_quiet_network_and_build_args_and_the_live_view_of_a_failure() {
    let d = Berthd::start();
    let ctx = context(&[
        ("Dockerfile", "FROM busybox\nRUN ls /sys/class/net > /nets\n"),
        ("fail/Dockerfile", "FROM busybox\nRUN echo before the failure && exit 3\n"),
    ]);
    // `-q` prints the ID alone; `--network none` is the RUN steps' network.
    let out = docker_built(
        &d,
        &["-q", "--network", "none", "--build-arg", "UNUSED=1", "-t", "netnone", "."],
        ctx.path(),
    );
    assert_eq!(out, format!("{}\n", d.inspect("netnone", "{{.Id}}")));
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", "netnone", "cat", "/nets"]), "lo\n");
    // A build arg no step uses is warned of, as Docker warns.
    let out = docker_built(&d, &["--build-arg", "UNUSED=1", "."], ctx.path());
    assert!(out.contains("[Warning] One or more build-args [UNUSED] were not consumed"), "{out}");
    // The live view of a failed step: marked ERROR, its output, then Docker's message and code.
    let out = berth_build(&d, &["--progress", "tty", "fail"], ctx.path(), b"");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" => ERROR [2/2] RUN echo before the failure && exit 3"), "{err}");
    assert!(
        err.contains("------\n > [2/2] RUN echo before the failure && exit 3:\nbefore the failure\n------\n"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "The command '/bin/sh -c echo before the failure && exit 3' returned a non-zero code: 3\n"
        ),
        "{err}"
    );
    d.assert_nothing_left();
}
