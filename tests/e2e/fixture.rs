//! The busybox base image fixture: a reproducible `docker save` archive that the reference
//! engine loads unchanged, with the same image ID.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::*;

fn fixture(dir: &Path) -> (std::path::PathBuf, String) {
    let tar = dir.join("busybox.tar");
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/busybox-image"))
        .arg(&tar)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (tar, String::from_utf8(out.stdout).unwrap().trim().to_string())
}

fn tar_file(tar: &Path, name: &str) -> Vec<u8> {
    Command::new("tar").arg("-xOf").arg(tar).arg(name).output().unwrap().stdout
}

#[test]
fn is_a_reproducible_docker_save_archive() {
    let d = tempfile::tempdir().unwrap();
    let (tar, id) = fixture(d.path());
    std::fs::create_dir(d.path().join("again")).unwrap();
    let (_, id2) = fixture(&d.path().join("again"));
    assert_eq!(id, id2, "the same busybox gives the same image ID");
    let manifest: serde_json::Value = serde_json::from_slice(&tar_file(&tar, "manifest.json")).unwrap();
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    let config_name = manifest[0]["Config"].as_str().unwrap();
    assert_eq!(format!("sha256:{}", config_name.trim_end_matches(".json")), id);
    let config: serde_json::Value = serde_json::from_slice(&tar_file(&tar, config_name)).unwrap();
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["sh"]));
    assert!(config["config"]["Env"][0].as_str().unwrap().starts_with("PATH=/usr/local/sbin"));
    let layer = manifest[0]["Layers"][0].as_str().unwrap();
    let listing = Command::new("sh")
        .arg("-c")
        .arg(format!("tar -xOf {} {layer} | tar -tv", tar.display()))
        .output()
        .unwrap()
        .stdout;
    let listing = String::from_utf8(listing).unwrap();
    for want in ["bin/busybox", "bin/sh link to bin/busybox", "etc/passwd", "etc/group", "tmp/"] {
        assert!(listing.contains(want), "layer holds {want}");
    }
}

#[test]
fn the_reference_engine_loads_it_unchanged() {
    let Ok(dockerd) = which("dockerd") else {
        eprintln!("dockerd (Debian's docker.io) is not installed: skipped");
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (tar, id) = fixture(d.path());
    let sock = d.path().join("docker.sock");
    let host = format!("unix://{}", sock.display());
    let exec_root = Path::new("/run").join(format!("berth-test-dockerd-{}", std::process::id()));
    let mut daemon = Command::new(dockerd)
        .arg("--data-root")
        .arg(d.path().join("data"))
        .arg("--exec-root")
        .arg(&exec_root)
        .arg("--pidfile")
        .arg(d.path().join("docker.pid"))
        .arg("--host")
        .arg(&host)
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let docker =
        |args: &[&str]| Command::new("docker").env("DOCKER_HOST", &host).args(args).output().unwrap();
    let up = eventually(Duration::from_secs(30), || docker(&["version"]).status.success());
    let load = up.then(|| docker(&["load", "-i", tar.to_str().unwrap()]));
    let inspect =
        up.then(|| docker(&["image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "busybox:latest"]));
    let history = up.then(|| docker(&["history", "--format", "{{.CreatedBy}}", "busybox"]));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&exec_root);
    assert!(up, "the reference dockerd started");
    let load = load.unwrap();
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    assert_eq!(String::from_utf8_lossy(&load.stdout).trim(), "Loaded image: busybox:latest");
    assert_eq!(String::from_utf8_lossy(&inspect.unwrap().stdout).trim(), format!("{id} [\"sh\"]"));
    assert!(String::from_utf8_lossy(&history.unwrap().stdout).contains("CMD [\"sh\"]"));
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .ok_or(())
}
