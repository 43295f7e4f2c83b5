//! Real clients against `berth registry serve`: berthd (driven by the docker CLI), the
//! reference dockerd and skopeo push to it and pull from it, with byte-identical manifests and
//! the same image IDs both ways; berthd logs in to a registry that issues tokens.

use std::process::{Command, Stdio};

use berth_tests::daemon::{busybox_tar, Berthd};
use berth_tests::refdocker::RefDockerd;
use berth_tests::registry::{BerthRegistry, FlakyProxy};

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
    let reg = BerthRegistry::start_with_tokens("alice", "pa55 word");
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
    // The token service gave a refresh token at the login: the docker CLI kept it as the
    // identity token, not the password, and berthd traded it for access tokens.
    let saved = std::fs::read_to_string(client_config.path().join("config.json")).unwrap();
    assert!(saved.contains("identitytoken") && !saved.contains("pa55"), "{saved}");
    // berth's CLI does the same.
    let (code, out) = run(&["logout", &host], "");
    assert_eq!(code, 0, "{out}");
    let mut c = Command::new(berth_tests::env().bin_dir.join("berth"));
    c.args(["-H", &d.host(), "login", "-u", "alice", "--password-stdin", &host])
        .env("DOCKER_CONFIG", client_config.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"pa55 word\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let saved = std::fs::read_to_string(client_config.path().join("config.json")).unwrap();
    assert!(saved.contains("identitytoken") && !saved.contains("pa55"), "{saved}");
    let out = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["-H", &d.host(), "pull", "-q", &name])
        .env("DOCKER_CONFIG", client_config.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_broken_download_is_retried_and_resumed_where_it_stopped() {
    let reg = BerthRegistry::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    reg.push_archive(
        &berth_tests::images::noise_archive(dir.path(), "noise", 6 << 20),
        "flaky/noise:1",
        None,
    );
    // Two connections cut 2 MB into their answers: the layer's download breaks twice.
    let proxy = FlakyProxy::start(reg.port, 2 << 20, 2);
    let d = Berthd::start_with(serde_json::json!({"max-download-attempts": 3}), &[]);
    let name = format!("{}/flaky/noise:1", proxy.host());
    let out = d.ok(&["pull", &name]);
    assert!(out.contains("Retrying in 1 second"), "{out}");
    assert!(out.contains("Pull complete"), "{out}");
    let (cut, ranges) = proxy.counts();
    assert_eq!(cut, 2);
    assert!(ranges >= 1, "the download resumed with a range request");
    assert_eq!(d.inspect(&name, "{{.Size}}").parse::<u64>().unwrap(), 6 << 20);

    // Broken more often than the attempts allow: the pull fails and leaves nothing.
    let proxy = FlakyProxy::start(reg.port, 1 << 20, 100);
    let d = Berthd::start_with(serde_json::json!({"max-download-attempts": 2}), &[]);
    let before = d.ok(&["images", "-qa"]);
    let (code, err) = d.fails(&["pull", &format!("{}/flaky/noise:1", proxy.host())]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(d.ok(&["images", "-qa"]), before);
    d.assert_nothing_left();
}

#[test]
fn docker_hub_pulls_go_through_registry_mirrors() {
    let reg = BerthRegistry::start(&[]);
    reg.push_archive(busybox_tar(), "library/mirrored:1", None);
    // A mirror that is down is skipped; the one that answers serves Docker Hub's name.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mirrors = serde_json::json!([format!("http://127.0.0.1:{dead}/"), format!("http://{}", reg.host())]);
    let d = Berthd::start_with(serde_json::json!({"registry-mirrors": mirrors}), &[]);
    let out = d.ok(&["pull", "mirrored:1"]);
    assert!(out.contains("Status: Downloaded newer image for mirrored:1"), "{out}");
    let digest = d.inspect("mirrored:1", "{{index .RepoDigests 0}}");
    assert!(digest.starts_with("mirrored@sha256:"), "{digest}");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", "mirrored:1", "echo", "via mirror"]),
        "via mirror\n"
    );
    // What the mirror lacks falls back to Docker Hub, out of reach here: Docker's error.
    let (code, err) = d.fails(&["pull", "notmirrored:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("registry-1.docker.io") || err.contains("docker.io"), "{err}");
}

#[test]
fn a_registry_behind_tls_is_pushed_to_and_pulled_from() {
    let pki = berth_tls::testing::Pki::new("registry-ca");
    let reg = BerthRegistry::start(&[
        "--tls-cert",
        &pki.file("server", "cert.pem"),
        "--tls-key",
        &pki.file("server", "key.pem"),
    ]);
    let host = reg.host();
    // Plain HTTP is told what Go's servers tell it.
    let out = Command::new("curl").args(["-s", &format!("http://{host}/v2/")]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Client sent an HTTP request to an HTTPS server"));
    // skopeo verifies the certificate against the CA (certs directory of ca.crt).
    let certs = tempfile::tempdir().unwrap();
    std::fs::copy(pki.file("server", "ca.pem"), certs.path().join("ca.crt")).unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-cert-dir", certs.path().to_str().unwrap()])
        .arg(format!("docker-archive:{}", busybox_tar().display()))
        .arg(format!("docker://{host}/tls/busybox:1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // berthd reaches a loopback registry over TLS as Docker does (without verification).
    let d = Berthd::start();
    let out = d.ok(&["pull", &format!("{host}/tls/busybox:1")]);
    assert!(out.contains("Pull complete") || out.contains("Already exists"), "{out}");
    d.ok(&["tag", &format!("{host}/tls/busybox:1"), &format!("{host}/tls/again:2")]);
    d.ok(&["push", &format!("{host}/tls/again:2")]);
}

/// `certs.d/<host>/` beside berthd's configuration file, removed when dropped.
struct CertsD(std::path::PathBuf);

impl CertsD {
    fn new(d: &Berthd, host: &str) -> CertsD {
        let dir = d.config.parent().unwrap().join("certs.d").join(host);
        std::fs::create_dir_all(&dir).unwrap();
        CertsD(dir)
    }

    fn put(&self, name: &str, from: &str) {
        std::fs::copy(from, self.0.join(name)).unwrap();
    }
}

impl Drop for CertsD {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_registry_demanding_client_certificates_gets_those_of_certs_d() {
    // Docker trusts any loopback registry without verifying it, so the registry and berthd
    // run in a network namespace of the test's, where the registry has an address of its own.
    let k = std::process::id() % 200 + 20;
    let ns = berth_tests::netns::TestNetns::new(format!("btca{k}"));
    let ip = format!("10.252.{k}.1");
    ns.exec(&["ip", "addr", "add", &format!("{ip}/32"), "dev", "lo"]);
    let pki = berth_tls::testing::Pki::for_server("registry-ca", &[ip.as_str()]);
    let reg = BerthRegistry::start_in(
        &ns.name,
        &ip,
        &[
            "--tls-cert",
            &pki.file("server", "cert.pem"),
            "--tls-key",
            &pki.file("server", "key.pem"),
            "--tls-client-ca",
            &pki.file("client", "ca.pem"),
        ],
    );
    let host = reg.host();
    let d = Berthd::start_in(Some(&ns.path()), serde_json::json!({}), &[]);
    let name = format!("{host}/mtls/busybox:1");
    d.ok(&["tag", "busybox", &name]);

    // An unknown CA: refused, as Docker refuses it.
    let (code, err) = d.fails(&["push", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid peer certificate: UnknownIssuer"), "{err}");
    // The CA in certs.d, no client certificate: the registry hangs up.
    let certs = CertsD::new(&d, &host);
    certs.put("ca.crt", &pki.file("server", "ca.pem"));
    let (code, err) = d.fails(&["push", &name]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("CertificateRequired"), "{err}");
    // With the client's certificate and key: pushed, and pulled back.
    certs.put("client.cert", &pki.file("client", "cert.pem"));
    certs.put("client.key", &pki.file("client", "key.pem"));
    let out = d.ok(&["push", &name]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    d.ok(&["rmi", &name]);
    let out = d.ok(&["pull", &name]);
    assert!(out.contains(&format!("Status: Downloaded newer image for {name}")), "{out}");
    assert_eq!(
        d.ok(&["run", "--rm", "--network", "none", &name, "echo", "over mutual TLS"]),
        "over mutual TLS\n"
    );
    // Half a pair is refused with Docker's words.
    std::fs::remove_file(certs.0.join("client.key")).unwrap();
    let (code, err) = d.fails(&["pull", &name]);
    assert_eq!(code, 1);
    assert!(
        err.contains("missing key client.key for client certificate client.cert. CA certificates must use the extension .crt"),
        "{err}"
    );
    drop(reg);
}

#[test]
fn every_tag_the_distribution_endpoint_and_the_python_sdk() {
    let reg = BerthRegistry::start(&[]);
    let host = reg.host();
    let digest1 = reg.push_archive(busybox_tar(), "test/multi:1", None);
    reg.push_archive(busybox_tar(), "test/multi:2", None);
    let d = Berthd::start();

    // `pull -a`: every tag, each with its steps, and the repository's status at the end.
    let out = d.ok(&["pull", "-a", &format!("{host}/test/multi")]);
    for want in [
        "1: Pulling from test/multi".to_string(),
        "2: Pulling from test/multi".to_string(),
        format!("Status: Downloaded newer image for {host}/test/multi"),
    ] {
        assert!(out.contains(&want), "{want:?} in {out}");
    }
    let tags = d.ok(&["images", "--format", "{{.Tag}}", &format!("{host}/test/multi")]);
    assert_eq!(tags.lines().collect::<std::collections::BTreeSet<_>>(), ["1", "2"].into());
    // berth's CLI as docker's.
    let out = Command::new(berth_tests::env().bin_dir.join("berth"))
        .args(["-H", &d.host(), "pull", "-a", &format!("{host}/test/multi")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("Status: Image is up to date for {host}/test/multi")), "{text}");
    assert_eq!(text.lines().last(), Some(format!("{host}/test/multi").as_str()));

    // What a reference names, without pulling it.
    let (status, body) = d.api("GET", &format!("/distribution/{host}/test/multi:1/json"), None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Descriptor"]["digest"], digest1.as_str());
    assert_eq!(v["Platforms"][0]["os"], "linux");
    let (status, body) = d.api("GET", &format!("/distribution/{host}/test/absent:1/json"), None);
    assert_eq!(status, 404, "{body}");

    // The Python SDK pulls, pushes and reads registry data through berthd.
    let script = format!(
        r#"
import docker
c = docker.from_env()
img = c.images.pull("{host}/test/multi", tag="1")
assert "{host}/test/multi:1" in img.tags, img.tags
img.tag("{host}/test/py", "pushed")
for line in c.images.push("{host}/test/py", tag="pushed", stream=True, decode=True):
    assert "error" not in line, line
data = c.images.get_registry_data("{host}/test/py:pushed")
assert data.id == data.attrs["Descriptor"]["digest"], data.attrs
assert data.attrs["Descriptor"]["digest"].startswith("sha256:")
print("ok", data.attrs["Descriptor"]["digest"])
"#
    );
    let pushed = d.python(&script);
    let digest = pushed.trim().strip_prefix("ok ").unwrap();
    let r = reg.request("HEAD", "/v2/test/py/manifests/pushed", &[], b"");
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest));
}

#[test]
fn search_finds_a_registrys_repositories_as_docker_shows_them() {
    let reg = BerthRegistry::start(&[]);
    let host = reg.host();
    for r in ["library/busybox:1", "me/busybox-extra:1", "other/app:1"] {
        reg.push_archive(busybox_tar(), r, None);
    }
    let d = Berthd::start();
    let term = format!("{host}/busy");
    let berth = |args: &[&str]| {
        let out = Command::new(berth_tests::env().bin_dir.join("berth"))
            .args(["-H", &d.host()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The docker CLI and berth's show the same.
    for args in [
        vec!["search", term.as_str()],
        vec!["search", "--format", "{{json .}}", term.as_str()],
        vec!["search", "--limit", "1", term.as_str()],
    ] {
        let theirs = d.ok(&args);
        let (code, ours, err) = berth(&args);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(ours, theirs, "{args:?}");
    }
    let table = d.ok(&["search", &term]);
    assert!(
        table.starts_with("NAME ") && table.contains("library/busybox") && table.contains("me/busybox-extra"),
        "{table}"
    );
    assert!(!table.contains("other/app"), "{table}");
    assert_eq!(d.ok(&["search", "--limit", "1", &term]).lines().count(), 2);
    // Filters are the daemon's; bad input is Docker's 400.
    assert_eq!(d.ok(&["search", "-f", "is-official=true", &term]).lines().count(), 1);
    let (status, body) = d.api("GET", &format!("/images/search?term={term}&limit=101"), None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("limit 101 is outside the range of [1, 100]"), "{body}");
    let (status, body) = d.api(
        "GET",
        &format!("/images/search?term={term}&filters=%7B%22nope%22%3A%7B%22x%22%3Atrue%7D%7D"),
        None,
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn manifest_inspect_prints_what_the_docker_cli_prints() {
    let reg = BerthRegistry::start(&[]);
    let host = reg.host();
    let digest = reg.push_archive(busybox_tar(), "test/bb:1", None);
    let size = reg
        .request("HEAD", &format!("/v2/test/bb/manifests/{digest}"), &[], b"")
        .header("Content-Length")
        .unwrap()
        .to_string();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":{size},"digest":"{digest}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
    );
    let r = reg.request(
        "PUT",
        "/v2/test/bb/manifests/multi",
        &[("Content-Type", "application/vnd.docker.distribution.manifest.list.v2+json")],
        index.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let config = tempfile::tempdir().unwrap();
    let run = |cli: &str, args: &[&str]| {
        let out = Command::new(cli)
            .args(["manifest", "inspect"])
            .args(args)
            .env("DOCKER_CONFIG", config.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let berth = berth_tests::env().bin_dir.join("berth").display().to_string();
    for name in [format!("{host}/test/bb:1"), format!("{host}/test/bb:multi")] {
        for verbose in [false, true] {
            let mut args = vec!["--insecure"];
            if verbose {
                args.push("-v");
            }
            args.push(&name);
            let (code, theirs, err) = run("docker", &args);
            assert_eq!(code, Some(0), "{err}");
            let (code, ours, err) = run(&berth, &args);
            assert_eq!(code, Some(0), "{err}");
            assert_eq!(ours, theirs, "{args:?}");
        }
    }
    let (code, _, err) = run(&berth, &["--insecure", &format!("{host}/test/none:1")]);
    assert_eq!(code, Some(1));
    assert_eq!(err.trim(), format!("no such manifest: {host}/test/none:1"));
}
