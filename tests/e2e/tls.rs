//! The Engine API over TCP behind mutual TLS: berthd with `-H tcp://… --tlsverify`, driven by
//! berth's CLI (flags, Docker's environment, a context holding TLS material), the docker CLI
//! and the Python SDK; and everything that must be turned away: no client certificate, one
//! from another CA, a daemon the client cannot trust, plain HTTP, and a TCP listener without
//! client verification.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_tests::daemon::Berthd;
use berth_tls::testing::Pki;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn berth() -> Command {
    Command::new(berth_tests::env().bin_dir.join("berth"))
}

/// berth with the TLS flags: `verify` (`--tlsverify` or `--tlsverify=false`), the CA of
/// `trusts`, and the client certificate and key of `presents`.
fn flagged(tcp: &str, verify: &str, trusts: &Pki, presents: &Pki) -> Command {
    let mut c = berth();
    c.args(["-H", tcp, verify, "--tlscacert", &trusts.file("client", "ca.pem")]);
    c.args([
        "--tlscert",
        &presents.file("client", "cert.pem"),
        "--tlskey",
        &presents.file("client", "key.pem"),
    ]);
    c
}

/// Runs a client with a clean environment for Docker's variables (and its own config dir).
fn run(mut c: Command, config: &Path) -> Output {
    for v in ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS", "DOCKER_CONTEXT"] {
        c.env_remove(v);
    }
    c.env("DOCKER_CONFIG", config).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(out: Output, d: &Berthd) -> String {
    assert!(
        out.status.success(),
        "failed ({}): {}{}\n--- berthd log (tail) ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        d.log_text().lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    String::from_utf8(out.stdout).unwrap()
}

#[track_caller]
fn refused(out: Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_api_over_tcp_needs_a_client_certificate_of_the_daemons_ca() {
    let pki = Pki::new("berth test CA");
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let d = Berthd::start_with(
        serde_json::json!({}),
        &[
            "-H",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &pki.file("server", "ca.pem"),
            "--tlscert",
            &pki.file("server", "cert.pem"),
            "--tlskey",
            &pki.file("server", "key.pem"),
        ],
    );
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();

    // berth with the flags: a container's output comes back through a hijacked TLS connection.
    let mut c = flagged(&tcp, "--tlsverify", &pki, &pki);
    c.args(["run", "--rm", "busybox", "echo", "over tls"]);
    assert_eq!(ok(run(c, cfg), &d), "over tls\n");

    // Docker's environment, for berth and for the docker CLI alike (stdin through the
    // connection and its half-close, too).
    let with_env = |mut c: Command| {
        c.env("DOCKER_HOST", &tcp).env("DOCKER_TLS_VERIFY", "1").env("DOCKER_CERT_PATH", pki.dir("client"));
        c.env("DOCKER_CONFIG", cfg).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let mut b = with_env(berth());
    b.args(["version", "--format", "{{.Server.Version}}"]);
    assert!(!ok(b.output().unwrap(), &d).trim().is_empty());
    for mut client in [with_env(berth()), with_env(Command::new("docker"))] {
        client.args(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"]);
        let mut child = client.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"typed in\n").unwrap();
        }
        assert_eq!(ok(child.wait_with_output().unwrap(), &d), "typed in\ndone\n");
    }
    let mut docker = with_env(Command::new("docker"));
    docker.args(["ps", "-a", "--format", "{{.Image}}"]);
    assert_eq!(ok(docker.output().unwrap(), &d), "", "every container was removed");

    // The Python SDK with its TLSConfig.
    let script = format!(
        r#"
import docker
tls = docker.tls.TLSConfig(client_cert=({cert:?}, {key:?}), ca_cert={ca:?}, verify=True)
c = docker.DockerClient(base_url="https://127.0.0.1:{port}", tls=tls)
assert c.ping()
print(c.containers.run("busybox", ["echo", "from python"], remove=True).decode(), end="")
"#,
        cert = pki.file("client", "cert.pem"),
        key = pki.file("client", "key.pem"),
        ca = pki.file("client", "ca.pem"),
    );
    // requests lets these variables override the CA the SDK sets (on some machines they are
    // set for the system's bundle).
    let mut py = Command::new("python3");
    py.args(["-c", &script]).env_remove("REQUESTS_CA_BUNDLE").env_remove("CURL_CA_BUNDLE");
    assert_eq!(ok(py.output().unwrap(), &d), "from python\n");

    // A context holding the TLS material (copied in): berth and the docker CLI both use it.
    let mut create = berth();
    let spec = format!(
        "host={tcp},ca={},cert={},key={}",
        pki.file("client", "ca.pem"),
        pki.file("client", "cert.pem"),
        pki.file("client", "key.pem")
    );
    create.args(["context", "create", "secured", "--docker", &spec]);
    ok(run(create, cfg), &d);
    for bin in [berth_tests::env().bin_dir.join("berth"), PathBuf::from("docker")] {
        let mut c = Command::new(&bin);
        c.args(["--context", "secured", "info", "--format", "{{.OSType}}"]);
        assert_eq!(ok(run(c, cfg), &d), "linux\n", "{}", bin.display());
    }
    let mut inspect = berth();
    inspect.args(["context", "inspect", "secured", "--format", "{{json .TLSMaterial}}"]);
    let material = ok(run(inspect, cfg), &d);
    assert!(material.contains(r#""docker":["ca.pem","cert.pem","key.pem"]"#), "{material}");
    let mut rm = berth();
    rm.args(["context", "rm", "secured"]);
    ok(run(rm, cfg), &d);
    let tls_dirs = std::fs::read_dir(cfg.join("contexts/tls")).map(|r| r.count()).unwrap_or(0);
    assert_eq!(tls_dirs, 0, "context rm removes its TLS material");

    // Turned away: no client certificate (a CA alone in DOCKER_CERT_PATH).
    let ca_only = tempfile::tempdir().unwrap();
    std::fs::copy(pki.file("client", "ca.pem"), ca_only.path().join("ca.pem")).unwrap();
    let mut c = berth();
    c.env("DOCKER_HOST", &tcp).env("DOCKER_TLS_VERIFY", "1").env("DOCKER_CERT_PATH", ca_only.path());
    c.args(["version", "--format", "{{.Server.Version}}"]).env("DOCKER_CONFIG", cfg);
    let err = refused(c.stdin(Stdio::null()).output().unwrap());
    assert!(err.starts_with("error during connect: "), "{err}");
    // A certificate from another CA.
    let other = Pki::new("another CA");
    let mut c = flagged(&tcp, "--tlsverify", &pki, &other);
    c.arg("ps");
    let err = refused(run(c, cfg));
    assert!(err.starts_with("error during connect: "), "{err}");
    // A daemon whose certificate this client cannot trust.
    let mut c = flagged(&tcp, "--tlsverify", &other, &pki);
    c.arg("ps");
    let err = refused(run(c, cfg));
    assert!(err.contains("tls: invalid peer certificate: UnknownIssuer"), "{err}");
    // `--tlsverify=false` still means TLS, without checking the daemon (so another CA's file
    // does not matter); the client certificate is still presented.
    let mut c = flagged(&tcp, "--tlsverify=false", &other, &pki);
    c.args(["ps", "-q"]);
    assert_eq!(ok(run(c, cfg), &d), "");
    // Plain HTTP: Docker's answer, from both CLIs.
    for bin in [berth_tests::env().bin_dir.join("berth"), PathBuf::from("docker")] {
        let mut c = Command::new(&bin);
        c.args(["-H", &tcp, "version", "--format", "{{.Server.Version}}"]);
        let err = refused(run(c, cfg));
        assert!(err.contains("Client sent an HTTP request to an HTTPS server."), "{}: {err}", bin.display());
    }
    // A file the flags name that is not there.
    let mut c = berth();
    c.args(["-H", &tcp, "--tlsverify", "--tlscacert", "/nonexistent/ca.pem", "ps"]);
    let err = refused(run(c, cfg));
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    // The daemon kept serving through all of it.
    assert!(d.ok(&["ps", "-q"]).is_empty());
}

#[test]
fn berthd_refuses_tcp_without_client_verification() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("daemon.json"), "{}").unwrap();
    let port = free_port();
    for extra in [&[][..], &["--tls"][..]] {
        let out = Command::new(berth_tests::env().bin_dir.join("berthd"))
            .arg("--data-root")
            .arg(root.path().join("data"))
            .arg("--exec-root")
            .arg(root.path().join("exec"))
            .arg("--config-file")
            .arg(root.path().join("daemon.json"))
            .args(["-H", &format!("tcp://127.0.0.1:{port}")])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}: berthd started: {err}");
        assert!(err.contains("a TCP listener requires mutual TLS: start berthd with --tlsverify"), "{err}");
        assert!(!root.path().join("data").exists(), "nothing was made before the refusal");
    }
}
