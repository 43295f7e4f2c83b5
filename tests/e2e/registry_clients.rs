//! Real clients against `berth registry serve`: berthd (driven by the docker CLI), the
//! reference dockerd and skopeo push to it and pull from it, with byte-identical manifests and
//! the same image IDs both ways; berthd logs in to a registry that issues tokens.

use std::process::{Command, Stdio};

use berth_tests::daemon::{busybox_tar, Berthd};
use berth_tests::refdocker::RefDockerd;
use berth_tests::registry::{htpasswd_line, BerthRegistry};

/// The digest the push output names (`<tag>: digest: sha256:… size: N`).
fn pushed_digest(out: &str, tag: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{tag}: digest: sha256:")))
        .unwrap_or_else(|| panic!("{out}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw", &format!("docker://{reference}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn berthd_dockerd_and_skopeo_share_a_berth_registry() {
    let reg = BerthRegistry::start(&[]);
    let host = reg.host();
    let d = Berthd::start();
    let docker = RefDockerd::start();

    // berthd pushes an image made here; skopeo reads the same manifest; dockerd pulls the same
    // image (its ID is the config's digest) and runs nothing: it has no network, only checks.
    let c =
        d.ok(&["create", "--network", "none", "busybox", "sh", "-c", "echo made > /made"]).trim().to_string();
    d.ok(&["start", "-a", &c]);
    let name = format!("{host}/from/berth:1");
    let id = d.ok(&["commit", &c, &name]).trim().to_string();
    let out = d.ok(&["push", &name]);
    let digest = pushed_digest(&out, "1");
    assert!(out.contains(&format!("The push refers to repository [{host}/from/berth]")), "{out}");
    let raw = skopeo_raw(&name);
    assert_eq!(format!("sha256:{}", berth_image::Digest::of(&raw).hex()), digest);
    let pulled = docker.ok(&["pull", &name]);
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert_eq!(docker.ok(&["inspect", "-f", "{{.Id}}", &name]).trim(), id);
    assert_eq!(
        docker.ok(&["inspect", "-f", "{{index .RepoDigests 0}}", &name]).trim(),
        format!("{host}/from/berth@{digest}")
    );

    // dockerd pushes busybox; berthd pulls it: same ID, same digest, and it runs.
    docker.ok(&["load", "-i", busybox_tar().to_str().unwrap()]);
    let theirs = format!("{host}/from/docker:2");
    docker.ok(&["tag", "busybox:latest", &theirs]);
    let out = docker.ok(&["push", &theirs]);
    let digest = pushed_digest(&out, "2");
    let docker_id = docker.ok(&["inspect", "-f", "{{.Id}}", &theirs]).trim().to_string();
    let pulled = d.ok(&["pull", &theirs]);
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert_eq!(d.inspect(&theirs, "{{.Id}}"), docker_id);
    assert_eq!(d.inspect(&theirs, "{{json .RepoDigests}}"), format!("[\"{host}/from/docker@{digest}\"]"));
    assert_eq!(d.ok(&["run", "--rm", "--network", "none", &theirs, "echo", "ran"]), "ran\n");
    // Pushing the same image again from dockerd: every layer is already there.
    let again = docker.ok(&["push", &theirs]);
    assert!(again.contains("Layer already exists"), "{again}");

    // skopeo copies out what dockerd pushed, byte for byte.
    let raw = skopeo_raw(&theirs);
    assert_eq!(format!("sha256:{}", berth_image::Digest::of(&raw).hex()), digest);
    let oci = tempfile::tempdir().unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--src-tls-verify=false", &format!("docker://{theirs}")])
        .arg(format!("oci:{}:x", oci.path().display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The catalog lists both.
    let cat = reg.request("GET", "/v2/_catalog", &[], b"").json();
    assert_eq!(cat["repositories"], serde_json::json!(["from/berth", "from/docker"]));
}

#[test]
fn berthd_logs_in_to_a_registry_that_issues_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("htpasswd");
    std::fs::write(&pw, htpasswd_line("alice", "pa55 word")).unwrap();
    let config = format!(
        "auth:\n  token:\n    service: berth-test\n    htpasswd: {}\n    access:\n      - {{ account: alice, name: '*', actions: ['*'] }}\n",
        pw.display()
    );
    let reg = BerthRegistry::start_with_config(Some(&config), &[]);
    let host = reg.host();
    let d = Berthd::start();
    let client_config = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut c = d.command(args);
        c.env("DOCKER_CONFIG", client_config.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let name = format!("{host}/alice/busybox:1");
    d.ok(&["tag", "busybox", &name]);
    // Anonymous: no token opens a push.
    let (code, out) = run(&["push", &name], "");
    assert_eq!(code, 1, "{out}");
    let (code, out) = run(&["login", "-u", "alice", "--password-stdin", &host], "wrong\n");
    assert_eq!(code, 1, "{out}");
    let (code, out) = run(&["login", "-u", "alice", "--password-stdin", &host], "pa55 word\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Login Succeeded"), "{out}");
    // With the login, berthd gets tokens scoped to the repository and pushes.
    let (code, out) = run(&["push", &name], "");
    assert_eq!(code, 0, "{out}");
    let digest = pushed_digest(&out, "1");
    d.ok(&["rmi", &name]);
    let (code, out) = run(&["pull", &name], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    // Every request carried a bearer token: the registry logged the token endpoint's use.
    assert!(reg.log().contains("path=/token"), "{}", reg.log());
}
