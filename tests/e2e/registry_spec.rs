//! The OCI Distribution Spec v1.1 against `berth registry serve`, by the spec's four
//! workflows (pull, push, content discovery, content management): each endpoint's success and
//! error answers, as a client sees them on the wire. Then what the server adds: auth (Basic
//! and tokens), read-only mode, online garbage collection, metrics.

use berth_tests::http::Reply;
use berth_tests::registry::{htpasswd_line, BerthRegistry};
use sha2::Digest as _;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn sha512(b: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(b)))
}

/// A monolithic upload (`POST ?digest=`): the blob's digest.
fn push_blob(reg: &BerthRegistry, repo: &str, data: &[u8]) -> String {
    let d = sha256(data);
    let r = reg.request(
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    d
}

/// An image manifest of `config` and `layers` (digest, size), with `extra` fields.
fn image_manifest(media_type: &str, config: (&str, usize), layers: &[(&str, usize)], extra: &str) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, n)| {
            format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{n}}}"#)
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]{extra}}}"#,
        config.0,
        config.1,
        layers.join(",")
    )
    .into_bytes()
}

fn put_manifest(reg: &BerthRegistry, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> Reply {
    reg.request("PUT", &format!("/v2/{repo}/manifests/{reference}"), &[("Content-Type", media_type)], body)
}

/// A pushed image (config and one layer) under `tag`: the manifest and its digest.
fn push_image(reg: &BerthRegistry, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, String) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let c = push_blob(reg, repo, config);
    let l = push_blob(reg, repo, layer);
    let m = image_manifest(OCI_MANIFEST, (&c, config.len()), &[(&l, layer.len())], "");
    let r = put_manifest(reg, repo, tag, OCI_MANIFEST, &m);
    assert_eq!(r.status, 201, "{}", r.text());
    let d = sha256(&m);
    (m, d)
}

#[test]
fn pull_workflow() {
    let reg = BerthRegistry::start(&[]);
    let v2 = reg.request("GET", "/v2/", &[], b"");
    assert_eq!((v2.status, v2.header("Docker-Distribution-API-Version")), (200, Some("registry/2.0")));

    let (m, digest) = push_image(&reg, "pull/app", "v1", b"layer bytes");
    for reference in ["v1", digest.as_str()] {
        let r = reg.request(
            "GET",
            &format!("/v2/pull/app/manifests/{reference}"),
            &[("Accept", OCI_MANIFEST)],
            b"",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.body, m, "the manifest comes back byte for byte");
        assert_eq!(r.header("Content-Type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));
        let h = reg.request("HEAD", &format!("/v2/pull/app/manifests/{reference}"), &[], b"");
        assert_eq!((h.status, h.header("Content-Length")), (200, Some(m.len().to_string().as_str())));
        assert!(h.body.is_empty());
    }
    // Missing manifests, in a known repository and an unknown one.
    for path in ["/v2/pull/app/manifests/v2", "/v2/nothing/here/manifests/latest"] {
        let r = reg.request("GET", path, &[], b"");
        assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"), "{path}");
        assert_eq!(reg.request("HEAD", path, &[], b"").status, 404);
    }
    let zeros = format!("sha256:{}", "0".repeat(64));
    let r = reg.request("GET", &format!("/v2/pull/app/manifests/{zeros}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));

    // Blobs: whole, by range, missing, invalid digests; and a repository's name.
    let layer = sha256(b"layer bytes");
    let r = reg.request("GET", &format!("/v2/pull/app/blobs/{layer}"), &[], b"");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"layer bytes"[..]));
    assert_eq!(r.header("Docker-Content-Digest"), Some(layer.as_str()));
    let h = reg.request("HEAD", &format!("/v2/pull/app/blobs/{layer}"), &[], b"");
    assert_eq!((h.status, h.header("Content-Length")), (200, Some("11")));
    let r = reg.request("GET", &format!("/v2/pull/app/blobs/{layer}"), &[("Range", "bytes=6-10")], b"");
    assert_eq!(
        (r.status, r.body.as_slice(), r.header("Content-Range")),
        (206, &b"bytes"[..], Some("bytes 6-10/11"))
    );
    let r = reg.request("GET", &format!("/v2/pull/app/blobs/{layer}"), &[("Range", "bytes=20-")], b"");
    assert_eq!((r.status, r.header("Content-Range")), (416, Some("bytes */11")));
    let r = reg.request("GET", &format!("/v2/pull/app/blobs/{zeros}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    // A blob of another repository is not this one's (a mount would make it so).
    let r = reg.request("GET", &format!("/v2/pull/other/blobs/{layer}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    for bad in ["sha256:xyz", "md5:abc", "sha256:ABCDEF"] {
        let r = reg.request("GET", &format!("/v2/pull/app/blobs/{bad}"), &[], b"");
        assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"), "{bad}");
    }
    let r = reg.request("GET", "/v2/Bad_Name/manifests/latest", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (400, "NAME_INVALID"));
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = push_blob(&reg, "pull/app", &big);
    let r = reg.request("GET", &format!("/v2/pull/app/blobs/{d}"), &[], b"");
    assert_eq!((r.status, r.body.len()), (200, big.len()));
    assert!(r.body == big, "a streamed blob arrives whole");
    // A client that goes away mid-download costs the registry that connection, nothing more.
    // The blob outgrows the sockets' buffers, so the server is still writing when the client
    // sends its FIN and then (closing with unread data) a reset: the server's next write fails
    // with EPIPE, a SIGPIPE unless the server ignores it.
    let huge: Vec<u8> = (0..32_000_000u32).map(|i| (i % 253) as u8).collect();
    let d = push_blob(&reg, "pull/app", &huge);
    for i in 0..6 {
        use std::io::{Read, Write};
        let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", reg.port)) else { break };
        let range = format!("Range: bytes={}-\r\n", i * 1000);
        write!(c, "GET /v2/pull/app/blobs/{d} HTTP/1.1\r\nHost: x\r\n{range}\r\n").unwrap();
        let _ = c.read_exact(&mut [0u8; 1024]);
        let _ = c.shutdown(std::net::Shutdown::Write);
        drop(c);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", reg.port)).is_ok(),
        "the registry ended with its client: {}",
        reg.log()
    );
}

#[test]
fn push_workflow() {
    let reg = BerthRegistry::start(&[]);
    // POST then PUT (monolithic in two steps).
    let r = reg.request("POST", "/v2/push/app/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 202);
    let loc = r.header("Location").unwrap().to_string();
    assert!(loc.starts_with("/v2/push/app/blobs/uploads/"), "{loc}");
    assert!(r.header("Docker-Upload-UUID").is_some());
    let d = sha256(b"monolithic");
    let r = reg.request(
        "PUT",
        &format!("{loc}?digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        b"monolithic",
    );
    assert_eq!((r.status, r.header("Location")), (201, Some(format!("/v2/push/app/blobs/{d}").as_str())));
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));

    // Chunks, in order, then out of order (416 with where the upload stands).
    let r = reg.request("POST", "/v2/push/app/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    let r = reg.request(
        "PATCH",
        &loc,
        &[("Content-Range", "0-4"), ("Content-Type", "application/octet-stream")],
        b"hello",
    );
    assert_eq!((r.status, r.header("Range")), (202, Some("0-4")));
    let loc = r.header("Location").unwrap().to_string();
    let r = reg.request("PATCH", &loc, &[("Content-Range", "9-12")], b"nope");
    assert_eq!((r.status, r.header("Range")), (416, Some("0-4")));
    let r = reg.request("GET", &loc, &[], b"");
    assert_eq!((r.status, r.header("Range")), (204, Some("0-4")));
    let r = reg.request("PATCH", &loc, &[("Content-Range", "5-10")], b" world");
    assert_eq!((r.status, r.header("Range")), (202, Some("0-10")));
    // The wrong digest is refused; the right one (with an empty last chunk) taken.
    let r = reg.request("PUT", &format!("{loc}?digest={}", sha256(b"other")), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    let d = sha256(b"hello world");
    let r = reg.request("PUT", &format!("{loc}?digest={d}"), &[], b"");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(reg.request("GET", &format!("/v2/push/app/blobs/{d}"), &[], b"").body, b"hello world");
    // A finished upload is gone; unknown ones are unknown.
    let r = reg.request("GET", &loc, &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
    let r = reg.request("PATCH", "/v2/push/app/blobs/uploads/0123abcd", &[], b"x");
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
    let r = reg.request("PUT", &format!("/v2/push/app/blobs/uploads/0123abcd?digest={d}"), &[], b"");
    assert_eq!(r.status, 404);
    // Cancelled.
    let r = reg.request("POST", "/v2/push/app/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    assert_eq!(reg.request("DELETE", &loc, &[], b"").status, 204);
    assert_eq!(reg.request("GET", &loc, &[], b"").status, 404);
    // A single POST with the digest; a wrong one; sha512.
    let r = reg.request("POST", &format!("/v2/push/app/blobs/uploads/?digest={}", sha256(b"x")), &[], b"y");
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    let d512 = sha512(b"sha512 content");
    let r =
        reg.request("POST", &format!("/v2/push/app/blobs/uploads/?digest={d512}"), &[], b"sha512 content");
    assert_eq!((r.status, r.header("Docker-Content-Digest")), (201, Some(d512.as_str())));
    assert_eq!(reg.request("GET", &format!("/v2/push/app/blobs/{d512}"), &[], b"").body, b"sha512 content");

    // Cross-repository mount: known blob 201, unknown falls back to an upload (202).
    let r = reg.request("POST", &format!("/v2/push/other/blobs/uploads/?mount={d}&from=push/app"), &[], b"");
    assert_eq!((r.status, r.header("Location")), (201, Some(format!("/v2/push/other/blobs/{d}").as_str())));
    assert_eq!(reg.request("HEAD", &format!("/v2/push/other/blobs/{d}"), &[], b"").status, 200);
    let missing = sha256(b"never pushed");
    let r = reg.request(
        "POST",
        &format!("/v2/push/third/blobs/uploads/?mount={missing}&from=push/app"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);

    // Manifests: by tag and by digest; missing blobs, a lying digest, bad JSON.
    let (m, digest) = push_image(&reg, "push/app", "v1", b"a layer");
    let r = put_manifest(&reg, "push/app", &digest, OCI_MANIFEST, &m);
    assert_eq!((r.status, r.header("Docker-Content-Digest")), (201, Some(digest.as_str())));
    assert_eq!(r.header("Location"), Some(format!("/v2/push/app/manifests/{digest}").as_str()));
    let lying = sha256(b"something else");
    let r = put_manifest(&reg, "push/app", &lying, OCI_MANIFEST, &m);
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    let config = push_blob(&reg, "push/app", b"{}");
    let orphan = image_manifest(OCI_MANIFEST, (&config, 2), &[(&missing, 5)], "");
    let r = put_manifest(&reg, "push/app", "orphan", OCI_MANIFEST, &orphan);
    assert_eq!((r.status, r.code().as_str()), (400, "MANIFEST_BLOB_UNKNOWN"));
    let r = put_manifest(&reg, "push/app", "bad", OCI_MANIFEST, b"{not json");
    assert_eq!((r.status, r.code().as_str()), (400, "MANIFEST_INVALID"));
    let r = put_manifest(&reg, "push/app", "mismatch", DOCKER_MANIFEST, &m);
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "MANIFEST_INVALID"),
        "Content-Type must match the mediaType"
    );
    // Non-distributable layers need not be pushed.
    let foreign = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{missing}","size":5,"urls":["https://example.invalid/l"]}}]}}"#
    );
    assert_eq!(put_manifest(&reg, "push/app", "foreign", DOCKER_MANIFEST, foreign.as_bytes()).status, 201);
    // An index of pushed manifests; one listing a missing manifest is refused.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
        m.len()
    );
    assert_eq!(put_manifest(&reg, "push/app", "multi", OCI_INDEX, index.as_bytes()).status, 201);
    let bad_index = index.replace(&digest, &missing);
    let r = put_manifest(&reg, "push/app", "badmulti", OCI_INDEX, bad_index.as_bytes());
    assert_eq!((r.status, r.code().as_str()), (400, "MANIFEST_BLOB_UNKNOWN"));
    // A manifest with a subject says so.
    let sig = image_manifest(
        OCI_MANIFEST,
        (&config, 2),
        &[],
        &format!(
            r#","artifactType":"application/x.sig","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{}}}"#,
            m.len()
        ),
    );
    let r = put_manifest(&reg, "push/app", &sha256(&sig), OCI_MANIFEST, &sig);
    assert_eq!((r.status, r.header("OCI-Subject")), (201, Some(digest.as_str())));
    // Too large.
    let huge = vec![b' '; 4 * 1024 * 1024 + 1];
    assert_eq!(put_manifest(&reg, "push/app", "huge", OCI_MANIFEST, &huge).status, 400);
}

#[test]
fn content_discovery() {
    let reg = BerthRegistry::start(&[]);
    let (m, digest) = push_image(&reg, "disc/app", "v1", b"l1");
    for tag in ["a", "c", "b", "v2"] {
        assert_eq!(put_manifest(&reg, "disc/app", tag, OCI_MANIFEST, &m).status, 201);
    }
    push_image(&reg, "disc/zz", "latest", b"l2");
    push_image(&reg, "aaa", "latest", b"l3");
    // A repository named like another's first component sorts before it.
    push_image(&reg, "disc", "latest", b"l4");

    let r = reg.request("GET", "/v2/disc/app/tags/list", &[], b"");
    assert_eq!(r.json(), serde_json::json!({"name": "disc/app", "tags": ["a", "b", "c", "v1", "v2"]}));
    let r = reg.request("GET", "/v2/disc/app/tags/list?n=2", &[], b"");
    assert_eq!(r.json()["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(r.header("Link"), Some(r#"</v2/disc/app/tags/list?n=2&last=b>; rel="next""#));
    let r = reg.request("GET", "/v2/disc/app/tags/list?n=2&last=b", &[], b"");
    assert_eq!(r.json()["tags"], serde_json::json!(["c", "v1"]));
    let r = reg.request("GET", "/v2/disc/app/tags/list?n=2&last=v1", &[], b"");
    assert_eq!((r.json()["tags"].clone(), r.header("Link")), (serde_json::json!(["v2"]), None));
    let r = reg.request("GET", "/v2/disc/app/tags/list?n=0", &[], b"");
    assert_eq!(r.json()["tags"], serde_json::json!([]));
    let r = reg.request("GET", "/v2/disc/app/tags/list?n=x", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (400, "PAGINATION_NUMBER_INVALID"));
    let r = reg.request("GET", "/v2/no/such/tags/list", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "NAME_UNKNOWN"));

    let r = reg.request("GET", "/v2/_catalog", &[], b"");
    assert_eq!(r.json(), serde_json::json!({"repositories": ["aaa", "disc", "disc/app", "disc/zz"]}));
    let r = reg.request("GET", "/v2/_catalog?n=1&last=disc", &[], b"");
    assert_eq!(r.json(), serde_json::json!({"repositories": ["disc/app"]}));
    assert_eq!(r.header("Link"), Some(r#"</v2/_catalog?n=1&last=disc/app>; rel="next""#));

    // Referrers: every manifest whose subject is the digest, filtered by artifact type.
    let config = push_blob(&reg, "disc/app", b"{}");
    let refer = |t: &str, note: &str| {
        let body = image_manifest(
            OCI_MANIFEST,
            (&config, 2),
            &[],
            &format!(
                r#","artifactType":"{t}","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{}}},"annotations":{{"note":"{note}"}}"#,
                m.len()
            ),
        );
        assert_eq!(put_manifest(&reg, "disc/app", &sha256(&body), OCI_MANIFEST, &body).status, 201);
        sha256(&body)
    };
    let sig = refer("application/x.sig", "signed");
    let sbom = refer("application/x.sbom", "bom");
    let r = reg.request("GET", &format!("/v2/disc/app/referrers/{digest}"), &[], b"");
    assert_eq!((r.status, r.header("Content-Type")), (200, Some(OCI_INDEX)));
    let mut found: Vec<(String, String, String)> = r.json()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["digest"].as_str().unwrap().into(),
                d["artifactType"].as_str().unwrap().into(),
                d["annotations"]["note"].as_str().unwrap().into(),
            )
        })
        .collect();
    found.sort();
    let mut want = vec![
        (sig.clone(), "application/x.sig".to_string(), "signed".to_string()),
        (sbom, "application/x.sbom".into(), "bom".into()),
    ];
    want.sort();
    assert_eq!(found, want);
    let r = reg.request(
        "GET",
        &format!("/v2/disc/app/referrers/{digest}?artifactType=application/x.sig"),
        &[],
        b"",
    );
    assert_eq!(r.header("OCI-Filters-Applied"), Some("artifactType"));
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["manifests"][0]["digest"], sig.as_str());
    // Nothing refers to an unknown digest: an empty index, not an error.
    let r = reg.request("GET", &format!("/v2/disc/app/referrers/{}", sha256(b"unknown")), &[], b"");
    assert_eq!((r.status, r.json()["manifests"].clone()), (200, serde_json::json!([])));
    let r = reg.request("GET", "/v2/disc/app/referrers/sha256:bad", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
}

#[test]
fn content_management() {
    let reg = BerthRegistry::start(&[]);
    let (m, digest) = push_image(&reg, "mgmt/app", "v1", b"layer");
    assert_eq!(put_manifest(&reg, "mgmt/app", "v2", OCI_MANIFEST, &m).status, 201);
    // Deleting a tag leaves the manifest and the other tag.
    assert_eq!(reg.request("DELETE", "/v2/mgmt/app/manifests/v1", &[], b"").status, 202);
    assert_eq!(reg.request("GET", "/v2/mgmt/app/manifests/v1", &[], b"").status, 404);
    assert_eq!(reg.request("GET", &format!("/v2/mgmt/app/manifests/{digest}"), &[], b"").status, 200);
    assert_eq!(
        reg.request("GET", "/v2/mgmt/app/tags/list", &[], b"").json()["tags"],
        serde_json::json!(["v2"])
    );
    // Deleting by digest removes the manifest and its tags.
    assert_eq!(reg.request("DELETE", &format!("/v2/mgmt/app/manifests/{digest}"), &[], b"").status, 202);
    let r = reg.request("GET", &format!("/v2/mgmt/app/manifests/{digest}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));
    assert_eq!(reg.request("GET", "/v2/mgmt/app/manifests/v2", &[], b"").status, 404);
    let r = reg.request("DELETE", &format!("/v2/mgmt/app/manifests/{digest}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));
    let r = reg.request("DELETE", "/v2/mgmt/app/manifests/nosuchtag", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));
    // Blobs.
    let layer = sha256(b"layer");
    assert_eq!(reg.request("DELETE", &format!("/v2/mgmt/app/blobs/{layer}"), &[], b"").status, 202);
    let r = reg.request("GET", &format!("/v2/mgmt/app/blobs/{layer}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    let r = reg.request("DELETE", &format!("/v2/mgmt/app/blobs/{layer}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    // Methods an endpoint does not take.
    let r = reg.request("PATCH", "/v2/mgmt/app/manifests/v1", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (405, "UNSUPPORTED"));
    assert_eq!(reg.request("GET", "/v3/", &[], b"").status, 404);
}

#[test]
fn online_garbage_collection_and_metrics() {
    let reg = BerthRegistry::start(&["--gc-interval", "300ms", "--gc-grace", "0s"]);
    // Pushed and tagged within one request each: the collector never sees the blobs alone
    // for long, but may; a push is retried as a client would.
    let push = |tag: &str, layer: &[u8]| {
        for _ in 0..20 {
            let config = br#"{"os":"linux"}"#;
            let c = push_blob(&reg, "gc/app", config);
            let l = push_blob(&reg, "gc/app", layer);
            let m = image_manifest(OCI_MANIFEST, (&c, config.len()), &[(&l, layer.len())], "");
            if put_manifest(&reg, "gc/app", tag, OCI_MANIFEST, &m).status == 201 {
                return sha256(&m);
            }
        }
        panic!("push of {tag} kept losing to the collector");
    };
    let kept = push("kept", b"kept layer");
    let dropped = push("dropped", b"dropped layer");
    assert_eq!(reg.request("DELETE", "/v2/gc/app/manifests/dropped", &[], b"").status, 202);
    let blob_file =
        |data: &[u8]| reg.root().join("content/blobs/sha256").join(&sha256(data)["sha256:".len()..]);
    assert!(
        berth_tests::eventually(std::time::Duration::from_secs(10), || !blob_file(b"dropped layer").exists())
    );
    assert!(!blob_file(dropped.as_bytes()).exists());
    assert_eq!(reg.request("GET", &format!("/v2/gc/app/manifests/{dropped}"), &[], b"").status, 404);
    // What is tagged stays, through many collections.
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(blob_file(b"kept layer").exists());
    assert_eq!(reg.request("GET", &format!("/v2/gc/app/manifests/{kept}"), &[], b"").status, 200);
    assert_eq!(
        reg.request("GET", &format!("/v2/gc/app/blobs/{}", sha256(b"kept layer")), &[], b"").body,
        b"kept layer"
    );

    let metrics = reg.request("GET", "/metrics", &[], b"").text();
    for want in [
        "berth_registry_http_requests_total{endpoint=\"manifest\",method=\"PUT\",code=\"201\"}",
        "berth_registry_gc_blobs_deleted_total ",
        "berth_registry_http_received_bytes_total ",
    ] {
        assert!(metrics.contains(want), "{want} in\n{metrics}");
    }
    let deleted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("berth_registry_gc_blobs_deleted_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(deleted >= 2, "{metrics}");
    // Each request is logged.
    assert!(reg.log().contains("path=/v2/gc/app/manifests/dropped"), "{}", reg.log());
}

#[test]
fn read_only_mode_serves_and_refuses_writes() {
    let mut reg = BerthRegistry::start(&[]);
    let (_, digest) = push_image(&reg, "ro/app", "v1", b"layer");
    // The same storage served read-only.
    reg.restart(&["--read-only"]);
    let ro = &reg;
    assert_eq!(ro.request("GET", &format!("/v2/ro/app/manifests/{digest}"), &[], b"").status, 200);
    for (method, path) in [
        ("POST", "/v2/ro/app/blobs/uploads/"),
        ("DELETE", "/v2/ro/app/manifests/v1"),
        ("PUT", "/v2/ro/app/manifests/v2"),
    ] {
        let r = ro.request(method, path, &[], b"");
        assert_eq!((r.status, r.code().as_str()), (405, "UNSUPPORTED"), "{method} {path}");
    }
}

#[test]
fn basic_auth_and_tokens_guard_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("htpasswd");
    std::fs::write(&pw, htpasswd_line("alice", "secret") + &htpasswd_line("bob", "hunter2")).unwrap();
    let basic = BerthRegistry::start(&["--htpasswd", pw.to_str().unwrap()]);
    let r = basic.request("GET", "/v2/", &[], b"");
    assert_eq!(
        (r.status, r.header("WWW-Authenticate"), r.code().as_str()),
        (401, Some(r#"Basic realm="berth-registry""#), "UNAUTHORIZED")
    );
    assert_eq!(basic.request("GET", "/v2/", &[("Authorization", "Basic YWxpY2U6d3Jvbmc=")], b"").status, 401);
    assert_eq!(basic.request("GET", "/v2/", &[("Authorization", "Basic YWxpY2U6c2VjcmV0")], b"").status, 200);

    // Tokens: alice may push her repositories, everyone logged in may pull, the anonymous
    // nothing.
    let config = format!(
        "auth:\n  token:\n    service: berth-test\n    htpasswd: {}\n    access:\n      - {{ account: alice, name: 'alice/*', actions: ['*'] }}\n      - {{ account: '*', name: '*', actions: [pull] }}\n",
        pw.display()
    );
    let reg = BerthRegistry::start_with_config(Some(&config), &[]);
    let host = reg.host();
    let r = reg.request("POST", "/v2/alice/app/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate").unwrap(),
        format!(
            r#"Bearer realm="http://{host}/token",service="berth-test",scope="repository:alice/app:pull,push""#
        )
    );
    let token = |auth: &str, scope: &str| -> Reply {
        reg.request(
            "GET",
            &format!("/token?service=berth-test&scope={scope}"),
            &[("Authorization", auth)],
            b"",
        )
    };
    let alice = "Basic YWxpY2U6c2VjcmV0";
    let bob = "Basic Ym9iOmh1bnRlcjI=";
    let t = token(alice, "repository:alice/app:pull,push").json();
    assert_eq!(t["scope"], "repository:alice/app:pull,push");
    assert!(t["expires_in"].as_u64().unwrap() > 0 && t["issued_at"].is_string());
    let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
    let r = reg.request("POST", "/v2/alice/app/blobs/uploads/", &[("Authorization", &bearer)], b"");
    assert_eq!(r.status, 202, "{}", r.text());
    // Bob is granted pull only: his token does not open a push.
    let t = token(bob, "repository:alice/app:pull,push").json();
    assert_eq!(t["scope"], "repository:alice/app:pull");
    let bearer = format!("Bearer {}", t["token"].as_str().unwrap());
    let r = reg.request("POST", "/v2/alice/app/blobs/uploads/", &[("Authorization", &bearer)], b"");
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").unwrap().contains(r#"error="insufficient_scope""#));
    assert_eq!(token("Basic Ym9iOm5v", "repository:alice/app:pull").status, 401);
    // OAuth2 POST with a refresh token.
    let r = reg.request(
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"grant_type=password&username=alice&password=secret&service=berth-test&access_type=offline&client_id=test&scope=repository:alice/app:pull",
    );
    let refresh = r.json()["refresh_token"].as_str().expect("a refresh token").to_string();
    let body = format!(
        "grant_type=refresh_token&refresh_token={refresh}&service=berth-test&scope=repository:alice/x:push"
    );
    let r = reg.request(
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    assert_eq!((r.status, r.json()["scope"].as_str()), (200, Some("repository:alice/x:push")));
}
