//! The busybox base image fixture: a reproducible `docker save` archive that the reference
//! engine loads unchanged, with the same image ID.

use std::path::Path;
use std::process::Command;

use berth_tests::images::busybox_fixture as fixture;

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
    let d = tempfile::tempdir().unwrap();
    let (tar, id) = fixture(d.path());
    let docker = berth_tests::refdocker::RefDockerd::start();
    let load = docker.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(load.trim(), "Loaded image: busybox:latest");
    let inspect = docker.ok(&["image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "busybox:latest"]);
    assert_eq!(inspect.trim(), format!("{id} [\"sh\"]"));
    assert!(docker.ok(&["history", "--format", "{{.CreatedBy}}", "busybox"]).contains("CMD [\"sh\"]"));
}
