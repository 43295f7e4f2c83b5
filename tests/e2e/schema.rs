//! A schema-driven fuzzer (schemathesis, from PyPI) against berthd's Engine API, with the
//! rule that no operation answers 5xx to a client's mistake and the daemon never restarts.
//! It speaks TCP; berthd's API is a root-only Unix socket (TCP needs mutual TLS), so a
//! loopback relay (`tests/schema/relay.py`) stands between them. Bounded: `SCHEMA_FUZZ_SECONDS`
//! (120 by default), a fixed seed.
//!
//! Left out, each for its reason: swarm's endpoints (503 on a node in no swarm is Docker's
//! answer), pull, push, login, search and `/distribution` (they reach registries, Docker Hub
//! by default: tests/e2e/registry*.rs cover them on loopback), streams and hijacked connections
//! (they last as long as a container), and bodies that are tar archives (schemathesis cannot
//! make them).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_tests::daemon::Berthd;

const EXCLUDE: &str = r"^/(swarm|nodes|services|tasks|secrets|configs|plugins|session|grpc|build|events)|/(attach|logs|stats|wait|export|get|push|archive)(/ws)?$|^/exec/\{id\}/start$|^/images/(create|load|search)$|^/auth$|^/distribution/";

struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn no_operation_answers_5xx_for_a_clients_mistake_and_the_daemon_never_restarts() {
    assert!(
        Command::new("schemathesis").arg("--version").output().is_ok_and(|o| o.status.success()),
        "schemathesis is missing: pip install schemathesis (scripts/install-deps does)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let spec = root.join("../shared/reference/engine-api-v1.51.yaml");
    assert!(spec.exists(), "the Engine API spec is missing at {}", spec.display());
    let d = Berthd::start();
    let pid = d.pid();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _relay = Relay(
        Command::new("python3")
            .arg(root.join("tests/schema/relay.py"))
            .arg(&d.sock)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up = berth_tests::eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the relay did not listen");
    let seconds = std::env::var("SCHEMA_FUZZ_SECONDS").unwrap_or_else(|_| "120".into());
    let report = tempfile::tempdir().unwrap();
    let run = || {
        Command::new("schemathesis")
            .arg("run")
            .arg(&spec)
            .args(["-u", &format!("http://127.0.0.1:{port}/v1.51")])
            .args(["-c", "not_a_server_error", "-n", "6", "--seed", "1", "--max-time", &seconds])
            // One retry on a connection error: a keep-alive connection the daemon closes at its
            // idle timeout just as the fuzzer reuses it is a race of any idle timeout, which
            // clients meet with a fresh connection. (What closes a connection wrongly is tested
            // directly: hardening's bad-input test.)
            .args([
                "--request-timeout",
                "10",
                "--request-retries",
                "1",
                "-w",
                "2",
                "--continue-on-failure",
                "--no-color",
            ])
            .args(["--exclude-path-regex", EXCLUDE])
            .args(["--report-dir"])
            .arg(report.path())
            .current_dir(report.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // The fuzzer's own crash (a Python exception in hypothesis while it makes up a request,
    // reported as a "Runtime Error" with no failure of berthd's) is not berthd's: it is run
    // again, and when it crashes so every time, its phases that ran (and found no server
    // error) are what counts. A server error is reported under FAILURES and fails at once.
    let own_crash = |out: &std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout);
        !out.status.success()
            && !text.contains("= FAILURES =")
            && text.contains("Runtime Error")
            && text.contains("site-packages/hypothesis/")
    };
    let mut out = run();
    for _ in 0..2 {
        if !own_crash(&out) {
            break;
        }
        eprintln!(
            "schemathesis crashed by itself; running it again:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        out = run();
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() || own_crash(&out),
        "schemathesis found server errors:\n{text}\n{}",
        d.log_text()
    );
    assert!(berth_tests::process_alive(pid) && d.pid() == pid, "the daemon restarted or died");
    assert_eq!(d.ok(&["version", "--format", "{{.Server.Version}}"]).trim(), env!("CARGO_PKG_VERSION"));
}
