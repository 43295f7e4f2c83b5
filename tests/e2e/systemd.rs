//! berthd (and the registry) under systemd: the shipped units (`contrib/systemd/`) pass
//! `systemd-analyze verify`
//! as `make install` writes them, and a berthd started as `berthd.socket` starts it (by
//! `systemd-socket-activate`, which passes the socket as systemd does) serves the API on the
//! passed socket (`-H fd://`), tells `NOTIFY_SOCKET` it is ready and that it is stopping, and
//! leaves the socket, which is systemd's, in place.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use berth_tests::daemon::Berthd;

#[test]
fn the_units_pass_systemd_analyze_verify_as_installed() {
    let dir = tempfile::tempdir().unwrap();
    let bin = berth_tests::env().bin_dir.display().to_string();
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd");
    let mut paths = Vec::new();
    for name in ["berthd.service", "berthd.socket", "berth-registry.service"] {
        let text = std::fs::read_to_string(units.join(name)).unwrap().replace("@BINDIR@", &bin);
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let out = std::process::Command::new("systemd-analyze").arg("verify").args(&paths).output().unwrap();
    // It warns (a mistyped key, an unknown type) on stderr and still exits 0.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_socket_activated_daemon_serves_the_passed_socket_and_tells_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut d = Berthd::start_socket_activated(Some(&notify_path));
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 from berthd");
    assert_eq!(&buf[..n], b"READY=1");
    assert!(d.log_text().contains("API listening on sockets passed by systemd"), "{}", d.log_text());
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "hello"]), "hello\n");
    d.stop();
    let n = notify.recv(&mut buf).expect("STOPPING=1 from berthd");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(d.sock.exists(), "berthd removed the socket systemd owns");
}

#[test]
fn fd_hosts_without_passed_sockets_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (root, config) = (dir.path().join("root"), dir.path().join("daemon.json"));
    std::fs::write(&config, "{}").unwrap();
    let out = std::process::Command::new(berth_tests::env().bin_dir.join("berthd"))
        .args(["-H", "fd://", "--exec-root"])
        .arg(dir.path().join("exec"))
        .arg("--data-root")
        .arg(&root)
        .arg("--config-file")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no sockets were passed for fd://"), "{err}");
    assert!(!root.exists(), "the data root was made before the hosts were checked");
}

#[test]
fn the_registry_tells_systemd_it_is_ready_and_serves_the_shipped_config() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/registry/config.yml");
    let mut child = std::process::Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["registry", "serve"])
        .arg(&config)
        .args(["--addr", &format!("127.0.0.1:{port}"), "--root"])
        .arg(dir.path().join("root"))
        .env("NOTIFY_SOCKET", &notify_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf);
    let served = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(&buf[..n.expect("READY=1 from the registry")], b"READY=1");
    assert!(served);
    assert!(status.success(), "{status}");
    let n = notify.recv(&mut buf).expect("STOPPING=1 from the registry");
    assert_eq!(&buf[..n], b"STOPPING=1");
}
