//! Pulls through berthd from Debian's `docker-registry` (distribution 2.8) on loopback, driven
//! by the docker CLI and berth's own: Docker's progress steps, the image identical to what was
//! pushed (ID, layers, `RepoDigests`), `run` pulling a missing image, Docker's errors for an
//! unknown manifest and a registry that is not there, and nothing left behind by a failure.

use std::path::Path;
use std::process::Command;

use berth_tests::daemon::{busybox_tar, Berthd};
use berth_tests::images::{docker_archive, image, layer, Entry};
use berth_tests::registry::{RefusingRegistry, Registry};

fn berth_cli() -> std::path::PathBuf {
    berth_tests::env().bin_dir.join("berth")
}

/// A three-layer image whose files come from each layer (the last one deletes one).
fn three_layers(dir: &Path) -> std::path::PathBuf {
    let l1 = layer(&[Entry::Dir("data", 0o755, 0), Entry::File("data/one", b"1\n", 0o644)]);
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let l2 = layer(&[Entry::File("data/two", b"2\n", 0o644), Entry::File("data/big", &big, 0o644)]);
    let l3 = layer(&[Entry::File("data/three", b"3\n", 0o644), Entry::Whiteout("data/one")]);
    let img = image(vec![l1, l2, l3], &["layers:3"], "2024-01-02T03:04:05Z", serde_json::json!({"k": "v"}));
    let path = dir.join("three.tar");
    std::fs::write(&path, docker_archive(&[&img])).unwrap();
    path
}

/// The regular files under /data of a container of `image`, with their sizes (the image has
/// no shell: read through `docker cp`).
fn files(d: &Berthd, image: &str) -> Vec<(String, u64)> {
    let id = d.ok(&["create", image, "none"]).trim().to_string();
    let out = d.command(["cp", &format!("{id}:/data"), "-"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    d.ok(&["rm", &id]);
    let mut found: Vec<(String, u64)> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.header().entry_type().is_file())
        .map(|e| (e.path().unwrap().display().to_string(), e.header().size().unwrap()))
        .collect();
    found.sort();
    found
}

#[test]
fn pull_from_a_registry_as_docker_does() {
    let reg = Registry::start();
    let host = reg.host();
    let busybox_digest = reg.push_archive(busybox_tar(), "test/busybox:1");
    let dir = tempfile::tempdir().unwrap();
    let three = three_layers(dir.path());
    let three_digest = reg.push_archive(&three, "test/layers:3");

    let d = Berthd::start();
    let loaded_id = d.inspect("busybox", "{{.Id}}");
    let before = d.ok(&["images", "-q"]);

    // The docker CLI pulls; the steps are Docker's.
    let name = format!("{host}/test/busybox:1");
    let out = d.ok(&["pull", &name]);
    for step in [
        "1: Pulling from test/busybox".to_string(),
        ": Already exists".to_string(),
        format!("Digest: {busybox_digest}"),
        format!("Status: Downloaded newer image for {name}"),
        name.clone(),
    ] {
        assert!(out.contains(&step), "{step:?} in {out}");
    }
    // The same image as the one loaded from the archive, with its repository digest.
    assert_eq!(d.inspect(&name, "{{.Id}}"), loaded_id);
    assert_eq!(
        d.inspect(&name, "{{json .RepoDigests}}"),
        format!("[\"{host}/test/busybox@{busybox_digest}\"]")
    );
    // Again: up to date.
    let again = d.ok(&["pull", &name]);
    assert!(again.contains(&format!("Status: Image is up to date for {name}")), "{again}");

    // Three fresh layers, downloaded in parallel and extracted as they arrive.
    let layers = format!("{host}/test/layers:3");
    let out = d.ok(&["pull", &layers]);
    assert_eq!(out.matches("Pull complete").count(), 3, "{out}");
    assert!(out.contains(&format!("Digest: {three_digest}")), "{out}");
    assert_eq!(
        files(&d, &layers),
        vec![("data/big".to_string(), 3_000_000), ("data/three".into(), 2), ("data/two".into(), 2)]
    );
    assert_eq!(d.inspect(&layers, "{{json .Config.Labels}}"), "{\"k\":\"v\"}");

    // By digest.
    d.ok(&["rmi", &layers]);
    let by_digest = format!("{host}/test/layers@{three_digest}");
    let out = d.ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("Status: Downloaded newer image for {by_digest}")), "{out}");
    assert_eq!(files(&d, &by_digest).len(), 3);
    // Pushed to another repository of the registry, its layers are mounted, not sent again.
    let copy = format!("{host}/test/copy:1");
    d.ok(&["tag", &by_digest, &copy]);
    let out = d.ok(&["push", &copy]);
    assert_eq!(out.matches("Mounted from test/layers").count(), 3, "{out}");
    // `images --digests` shows the repository digest.
    let digests = d.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Digest}}",
        &format!("{host}/test/busybox"),
    ]);
    assert_eq!(digests, format!("{host}/test/busybox {busybox_digest}\n"));

    // `run` of a missing image pulls it, saying so on stderr.
    d.ok(&["rmi", &name]);
    let run = d.command(["run", "--rm", "--network", "none", &name, "echo", "pulled"]).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "pulled\n");
    assert!(String::from_utf8_lossy(&run.stderr).contains(&format!("Unable to find image '{name}' locally")));

    // berth's own CLI: quiet prints the reference alone.
    d.ok(&["rmi", &name]);
    let out = Command::new(berth_cli()).args(["-H", &d.host(), "pull", "-q", &name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{name}\n"));
    assert!(d.ok(&["images", "-q"]).lines().count() >= before.lines().count());

    // `--pull always` fetches a tag that moved at the registry; `missing` keeps what is here;
    // both CLIs.
    let moving = format!("{host}/test/moving:1");
    reg.push_archive(&three, "test/moving:1");
    d.ok(&["pull", &moving]);
    let three_id = d.inspect(&moving, "{{.Id}}");
    reg.push_archive(busybox_tar(), "test/moving:1");
    d.ok(&["create", "--pull", "missing", &moving, "none"]);
    assert_eq!(d.inspect(&moving, "{{.Id}}"), three_id);
    d.ok(&["create", "--pull", "always", &moving, "none"]);
    assert_eq!(d.inspect(&moving, "{{.Id}}"), loaded_id);
    reg.push_archive(&three, "test/moving:1");
    let out = Command::new(berth_cli())
        .args(["-H", &d.host(), "create", "--pull", "always", &moving, "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(d.inspect(&moving, "{{.Id}}"), three_id);
}

/// Where layers cannot be extracted side by side (the native snapshotter copies each layer's
/// parent), a pull extracts each on its parent, in order, and gets the same files.
#[test]
fn a_pull_into_the_native_snapshotter_stacks_the_layers_in_order() {
    let reg = Registry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    reg.push_archive(&three_layers(dir.path()), "test/layers:3");
    let d = Berthd::start_with(serde_json::json!({"storage-driver": "native"}), &[]);
    assert_eq!(d.ok(&["info", "--format", "{{.Driver}}"]).trim(), "native");
    let layers = format!("{host}/test/layers:3");
    let out = d.ok(&["pull", &layers]);
    assert_eq!(out.matches("Pull complete").count(), 3, "{out}");
    assert_eq!(
        files(&d, &layers),
        vec![("data/big".to_string(), 3_000_000), ("data/three".into(), 2), ("data/two".into(), 2)]
    );
}

#[test]
fn pull_failures_say_what_docker_says_and_leave_nothing() {
    let reg = Registry::start();
    let host = reg.host();
    reg.push_archive(busybox_tar(), "test/busybox:1");
    let d = Berthd::start();
    let images = d.ok(&["images", "-aq"]);

    // An unknown tag.
    let missing = format!("{host}/test/busybox:nope");
    let (code, err) = d.fails(&["pull", &missing]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("manifest for {missing} not found: manifest unknown: manifest unknown")),
        "{err}"
    );
    // A registry that is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, err) = d.fails(&["pull", &format!("127.0.0.1:{closed}/x:1")]);
    assert_eq!(code, 1);
    assert!(err.contains("connection refused") || err.contains("Connection refused"), "{err}");
    // A registry's rate limit, in its own words, as Docker shows it.
    let limited = RefusingRegistry::start(
        429,
        r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#,
    );
    let (code, err) = d.fails(&["pull", &format!("{}/x:1", limited.host())]);
    assert_eq!(code, 1);
    assert!(err.contains("toomanyrequests: You have reached your pull rate limit."), "{err}");
    // A bad platform and a bad reference are the client's mistakes.
    let (status, body) =
        d.api("POST", &format!("/images/create?fromImage={host}/test/busybox&tag=1&platform=linux/"), None);
    assert_eq!(status, 400, "{body}");
    let (code, err) = d.fails(&["pull", "UPPER/case"]);
    assert_eq!(code, 1, "{err}");
    // A layer whose bytes are not the ones its digest names (changed on the registry's disk):
    // refused as Docker refuses it, before anything of it is kept.
    let dir = tempfile::tempdir().unwrap();
    reg.push_archive(&berth_tests::images::noise_archive(dir.path(), "noise", 300_000), "test/noise:1");
    let (manifest, status) = curl(&[
        "-H",
        "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        &format!("http://{host}/v2/test/noise/manifests/1"),
    ]);
    assert_eq!(status, 200, "{manifest}");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let file = reg.blob_file(layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let (code, err) = d.fails(&["pull", &format!("{host}/test/noise:1")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("filesystem layer verification failed for digest {layer}")), "{err}");
    // Nothing half-written: the same images, no ingest left.
    assert_eq!(d.ok(&["images", "-aq"]), images);
    d.assert_nothing_left();
    let ingest: Vec<_> = std::fs::read_dir(d.data_root.join("image/content/ingest"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(ingest.is_empty(), "{ingest:?}");
}

/// `curl` against the registry: the body and the HTTP status.
fn curl(args: &[&str]) -> (String, u16) {
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}"]).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_string(), code.trim().parse().unwrap())
}

#[test]
fn a_manifest_list_is_pulled_for_the_platform_asked() {
    let reg = Registry::start();
    let host = reg.host();
    // The list's manifests must be in its repository.
    let digest = reg.push_archive(busybox_tar(), "test/multi:base");
    let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json";
    let (manifest, code) = curl(&["-H", accept, &format!("http://{host}/v2/test/multi/manifests/{digest}")]);
    assert_eq!(code, 200, "{manifest}");
    // A list with the image for the host's platform and, under another name, for s390x.
    let entry = |arch: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": digest, "size": manifest.len(),
            "platform": {"architecture": arch, "os": "linux"}
        })
    };
    let host_arch = if cfg!(target_arch = "x86_64") { "amd64" } else { "arm64" };
    let list = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [entry("s390x"), entry(host_arch)],
    })
    .to_string();
    let (body, code) = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.docker.distribution.manifest.list.v2+json",
        "--data-binary",
        &list,
        &format!("http://{host}/v2/test/multi/manifests/1"),
    ]);
    assert_eq!(code, 201, "{body}");
    let list_digest = format!("sha256:{}", berth_image::Digest::of(list.as_bytes()).hex());

    let d = Berthd::start();
    let name = format!("{host}/test/multi:1");
    let out = d.ok(&["pull", &name]);
    // The list's digest is the repository digest, as on Docker.
    assert!(out.contains(&format!("Digest: {list_digest}")), "{out}");
    assert_eq!(d.inspect(&name, "{{json .RepoDigests}}"), format!("[\"{host}/test/multi@{list_digest}\"]"));
    assert_eq!(d.inspect(&name, "{{.Id}}"), d.inspect("busybox", "{{.Id}}"));
    // A platform the list does not have.
    let (code, err) = d.fails(&["pull", "--platform", "linux/ppc64le", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("no matching manifest for linux/ppc64le in the manifest list entries"), "{err}");
}

#[test]
fn push_to_a_registry_and_pull_it_back() {
    let reg = Registry::start();
    let host = reg.host();
    let d = Berthd::start();
    // An image made here (no manifest of its own): busybox with a file committed on top.
    let c =
        d.ok(&["create", "--network", "none", "busybox", "sh", "-c", "echo made > /made"]).trim().to_string();
    d.ok(&["start", "-a", &c]);
    let name = format!("{host}/test/pushed:1");
    let id = d.ok(&["commit", &c, &name]).trim().to_string();
    let out = d.ok(&["push", &name]);
    let digest_line =
        out.lines().find(|l| l.starts_with("1: digest: sha256:")).unwrap_or_else(|| panic!("{out}"));
    let digest = digest_line.split_whitespace().nth(2).unwrap().to_string();
    for step in [format!("The push refers to repository [{host}/test/pushed]"), "Pushed".to_string()] {
        assert!(out.contains(&step), "{step:?} in {out}");
    }
    assert_eq!(d.inspect(&name, "{{json .RepoDigests}}"), format!("[\"{host}/test/pushed@{digest}\"]"));
    // Again: every layer is there.
    let again = d.ok(&["push", &name]);
    assert_eq!(again.matches("Layer already exists").count(), 2, "{again}");
    // skopeo sees the image berth pushed: its config is the image.
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw", &format!("docker://{name}")])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(manifest["config"]["digest"], id.as_str(), "{manifest}");
    assert_eq!(format!("sha256:{}", berth_image::Digest::of(&inspect.stdout).hex()), digest);
    // Its layers (plain tars here: loaded and committed) went gzip-compressed, as Docker
    // pushes them, and are what the registry keeps.
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(layer["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip", "{manifest}");
        let blob = std::fs::read(reg.blob_file(layer["digest"].as_str().unwrap())).unwrap();
        assert_eq!(&blob[..2], &[0x1f, 0x8b], "{layer}");
        assert_eq!(blob.len() as u64, layer["size"].as_u64().unwrap());
    }

    // A second daemon pulls it back: the same image, which runs.
    let other = Berthd::start();
    other.ok(&["pull", &name]);
    assert_eq!(other.inspect(&name, "{{.Id}}"), id);
    assert_eq!(other.ok(&["run", "--rm", "--network", "none", &name, "cat", "/made"]), "made\n");

    // What is not here cannot be pushed.
    let (code, err) = d.fails(&["push", &format!("{host}/test/absent:1")]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("An image does not exist locally with the tag: {host}/test/absent")),
        "{err}"
    );
}

/// The docker CLI against `d` with its configuration (logins) in `config` and `stdin` as its
/// input: its exit code and everything it printed.
fn docker_in(d: &Berthd, config: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    use std::io::Write;
    let mut c = d.command(args);
    c.env("DOCKER_CONFIG", config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The docker CLI against a registry where `tester` logs in with `password`, its images pushed
/// by skopeo: a pull without a login is refused, a wrong password too (what the CLI printed is
/// given back); the right one is kept in config.json (in the directory given back), and a pull
/// and a push (`test/again:2`) carry it.
fn log_in_pull_and_push(reg: &Registry, password: &str) -> (Berthd, tempfile::TempDir, String) {
    let host = reg.host();
    reg.push_archive_as(busybox_tar(), "test/busybox:1", Some(&format!("tester:{password}")));
    let d = Berthd::start();
    let config = tempfile::tempdir().unwrap();
    let docker = |args: &[&str], stdin: Option<&str>| docker_in(&d, config.path(), args, stdin);
    let name = format!("{host}/test/busybox:1");
    let (code, out) = docker(&["pull", &name], None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("docker login"), "{out}");
    let (code, refused) = docker(&["login", "-u", "tester", "--password-stdin", &host], Some("wrong\n"));
    assert_eq!(code, 1, "{refused}");
    let (code, out) =
        docker(&["login", "-u", "tester", "--password-stdin", &host], Some(&format!("{password}\n")));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Login Succeeded"), "{out}");
    let saved = std::fs::read_to_string(config.path().join("config.json")).unwrap();
    assert!(saved.contains(&host), "{saved}");
    let (code, out) = docker(&["pull", &name], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Status: Downloaded newer image for {name}")), "{out}");
    let pushed = format!("{host}/test/again:2");
    d.ok(&["tag", &name, &pushed]);
    let (code, out) = docker(&["push", &pushed], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2: digest: sha256:"), "{out}");
    (d, config, refused)
}

/// distribution with token auth, its tokens from a token server of the tests' (RS256 JWTs as
/// Docker's token servers sign them): berthd asks the token server with the login's
/// credentials for the scopes each pull and push needs; without a login, nothing is granted.
#[test]
fn a_registry_behind_a_token_server_after_login() {
    let reg = Registry::start_with_token_server("tester", "t0ken pass");
    let (d, config, _) = log_in_pull_and_push(&reg, "t0ken pass");
    let log = reg.token_log();
    assert!(log.contains("GET - repository:test/busybox:pull"), "{log}");
    assert!(log.contains("tester repository:test/busybox:pull"), "{log}");
    assert!(
        log.lines().any(|l| l.starts_with("GET tester") && l.contains("repository:test/again:pull,push")),
        "{log}"
    );
    // What was pushed comes back whole.
    let (name, pushed) = (format!("{}/test/busybox:1", reg.host()), format!("{}/test/again:2", reg.host()));
    d.ok(&["rmi", &pushed]);
    let (code, out) = docker_in(&d, config.path(), &["pull", &pushed], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(d.inspect(&pushed, "{{.Id}}"), d.inspect(&name, "{{.Id}}"));
}

#[test]
fn login_then_pull_and_push_with_credentials() {
    let reg = Registry::start_with_login("tester", "s3cret pass");
    let host = reg.host();
    let (d, config, refused) = log_in_pull_and_push(&reg, "s3cret pass");
    // The wrong password was refused by the daemon's check, in Docker's words.
    assert!(
        refused.contains(&format!("login attempt to http://{host}/v2/ failed with status: 401 Unauthorized")),
        "{refused}"
    );
    let name = format!("{host}/test/busybox:1");
    // berth's CLI reads the same file, logs out, and is then refused again.
    let berth = |args: &[&str]| {
        Command::new(berth_cli())
            .args(["-H", &d.host()])
            .args(args)
            .env("DOCKER_CONFIG", config.path())
            .output()
            .unwrap()
    };
    d.ok(&["rmi", &name]);
    let out = berth(&["pull", "-q", &name]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = berth(&["logout", &host]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("Removing login credentials for {host}\n"));
    let out = berth(&["logout", &host]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("Not logged in to {host}\n"));
    d.ok(&["rmi", &name]);
    let out = berth(&["pull", &name]);
    assert_eq!(out.status.code(), Some(1));
    // berth login, as the docker CLI's.
    let mut c = Command::new(berth_cli());
    c.args(["-H", &d.host(), "login", "-u", "tester", "--password-stdin", &host])
        .env("DOCKER_CONFIG", config.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"s3cret pass\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARNING! Your credentials are stored unencrypted"));
}

/// The files under a directory, recursively.
fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

#[test]
fn a_daemon_killed_mid_pull_leaves_a_consistent_store() {
    let reg = Registry::start();
    let host = reg.host();
    // 40 MB that do not compress, so that the kill lands while the layer is on its way.
    let dir = tempfile::tempdir().unwrap();
    let archive = berth_tests::images::noise_archive(dir.path(), "big", 40_000_000);
    reg.push_archive(&archive, "test/big:1");

    let mut d = Berthd::start();
    let images = d.ok(&["images", "-aq"]);
    let content = d.data_root.join("image/content");
    let blobs = count_files(&content.join("blobs"));
    let name = format!("{host}/test/big:1");
    let mut pull = d
        .command(["pull", &name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the layer's download has begun (its ingest file is there).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count_files(&content.join("ingest")) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    d.kill9();
    let _ = pull.wait();
    d.launch();
    // Nothing half-written: the same images and blobs, no ingest; then the pull completes.
    assert_eq!(d.ok(&["images", "-aq"]), images);
    assert_eq!(count_files(&content.join("ingest")), 0);
    assert_eq!(count_files(&content.join("blobs")), blobs);
    d.ok(&["pull", &name]);
    let id = d.ok(&["create", &name, "none"]).trim().to_string();
    let out = d.command(["cp", &format!("{id}:/noise"), "-"]).output().unwrap();
    assert!(out.status.success());
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.header().size().unwrap(), 40_000_000);
}
