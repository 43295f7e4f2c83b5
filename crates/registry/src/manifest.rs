//! What a pushed manifest says about the registry's graph: the blobs and manifests it needs,
//! its subject (for the referrers API), its artifact type. Pure; read leniently as JSON, so
//! that artifacts and fields this code does not know pass through unchanged.

use berth_content::Digest;
use serde_json::{Map, Value};

use crate::error::{Code, RegistryError, Result};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// The largest manifest accepted (distribution's limit).
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;

/// A manifest's edges and descriptor fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub media_type: String,
    /// Blobs that must be in the repository: the config and distributable layers.
    pub blobs: Vec<Digest>,
    /// Manifests an index lists.
    pub manifests: Vec<Digest>,
    pub subject: Option<Digest>,
    /// `artifactType`, or an image manifest's config media type (the referrers API's rule).
    pub artifact_type: Option<String>,
    pub annotations: Option<Map<String, Value>>,
}

fn invalid(message: impl Into<String>) -> RegistryError {
    RegistryError::spec(Code::ManifestInvalid, message)
}

/// Layers a registry need not hold: non-distributable (foreign) media types, or any descriptor
/// that says where else to find it (`urls`).
fn foreign(d: &Map<String, Value>) -> bool {
    let media = d.get("mediaType").and_then(Value::as_str).unwrap_or("");
    media.contains(".foreign.")
        || media.contains(".nondistributable.")
        || d.get("urls").is_some_and(|u| u.is_array())
}

fn descriptor_digest(d: &Value, what: &str) -> Result<(Digest, Map<String, Value>)> {
    let Some(d) = d.as_object() else { return Err(invalid(format!("{what} is not a descriptor"))) };
    let digest =
        d.get("digest").and_then(Value::as_str).ok_or_else(|| invalid(format!("{what} has no digest")))?;
    let digest = Digest::parse(digest).map_err(|_| {
        RegistryError::spec(Code::DigestInvalid, format!("{what} has an invalid digest {digest:?}"))
    })?;
    if !d.get("size").is_some_and(Value::is_u64) {
        return Err(invalid(format!("{what} {digest} has no size")));
    }
    Ok((digest, d.clone()))
}

/// Reads a manifest pushed with `content_type` (the request's `Content-Type`).
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Parsed> {
    let v: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("manifest is not JSON: {e}")))?;
    let Some(m) = v.as_object() else { return Err(invalid("manifest is not a JSON object")) };
    let declared = m.get("mediaType").and_then(Value::as_str);
    let content_type =
        content_type.map(|c| c.split(';').next().unwrap_or("").trim()).filter(|c| !c.is_empty());
    if let (Some(d), Some(c)) = (declared, content_type) {
        if d != c {
            return Err(invalid(format!("manifest media type {d} does not match the Content-Type {c}")));
        }
    }
    let media_type = match declared.or(content_type) {
        Some(t) => t.to_string(),
        None if m.contains_key("manifests") => OCI_INDEX.to_string(),
        None if m.contains_key("config") => OCI_MANIFEST.to_string(),
        None => return Err(invalid("manifest has no mediaType and no Content-Type")),
    };
    if DOCKER_SCHEMA1.contains(&media_type.as_str())
        || m.get("schemaVersion").and_then(Value::as_u64) == Some(1)
    {
        return Err(invalid("schema 1 manifests are not supported: push a schema 2 or OCI manifest"));
    }
    if m.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(invalid("manifest schemaVersion must be 2"));
    }
    let mut p = Parsed { media_type: media_type.clone(), ..Parsed::default() };
    match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            let config = m.get("config").ok_or_else(|| invalid("image manifest has no config"))?;
            let (digest, config) = descriptor_digest(config, "config")?;
            p.blobs.push(digest);
            p.artifact_type = config.get("mediaType").and_then(Value::as_str).map(str::to_string);
            let layers = m.get("layers").and_then(Value::as_array);
            let Some(layers) = layers.or_else(|| (media_type == OCI_MANIFEST).then_some(&EMPTY)) else {
                return Err(invalid("image manifest has no layers"));
            };
            for (i, l) in layers.iter().enumerate() {
                let (digest, d) = descriptor_digest(l, &format!("layer {i}"))?;
                if !foreign(&d) {
                    p.blobs.push(digest);
                }
            }
        }
        DOCKER_LIST | OCI_INDEX => {
            let list = m
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("index has no manifests"))?;
            for (i, d) in list.iter().enumerate() {
                p.manifests.push(descriptor_digest(d, &format!("manifest {i}"))?.0);
            }
        }
        other => return Err(invalid(format!("unsupported manifest media type {other}"))),
    }
    if let Some(t) = m.get("artifactType").and_then(Value::as_str) {
        p.artifact_type = Some(t.to_string());
    }
    if let Some(s) = m.get("subject") {
        p.subject = Some(descriptor_digest(s, "subject")?.0);
    }
    p.annotations = m.get("annotations").and_then(Value::as_object).cloned();
    Ok(p)
}

static EMPTY: Vec<Value> = Vec::new();

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    fn d(s: &str) -> Digest {
        Digest::parse(s).unwrap()
    }

    #[test]
    fn manifests_give_their_edges() {
        let image = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{A}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{B}","size":3}},
                      {{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"{C}","size":3,"urls":["https://x"]}}],
            "subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{C}","size":9}},"annotations":{{"k":"v"}}}}"#
        );
        let p = parse(Some(OCI_MANIFEST), image.as_bytes()).unwrap();
        assert_eq!(p.blobs, [d(A), d(B)]);
        assert_eq!(p.subject, Some(d(C)));
        assert_eq!(p.artifact_type.as_deref(), Some("application/vnd.oci.image.config.v1+json"));
        assert_eq!(p.annotations.unwrap()["k"], "v");

        let artifact = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/x.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{A}","size":2}},"layers":[]}}"#
        );
        assert_eq!(
            parse(None, artifact.as_bytes()).unwrap().artifact_type.as_deref(),
            Some("application/x.sig")
        );

        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{A}","size":5}},{{"mediaType":"{DOCKER_MANIFEST}","digest":"{B}","size":5}}]}}"#
        );
        let p = parse(Some(DOCKER_LIST), index.as_bytes()).unwrap();
        assert_eq!((p.media_type.as_str(), p.manifests), (DOCKER_LIST, vec![d(A), d(B)]));
        // Without mediaType or Content-Type, an OCI index is known by its manifests.
        let bare = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(parse(None, bare.as_bytes()).unwrap().media_type, OCI_INDEX);
    }

    #[test]
    fn bad_manifests_are_refused_with_the_spec_codes() {
        let code = |ct: Option<&str>, body: &str| parse(ct, body.as_bytes()).unwrap_err().code();
        let cfg = format!(r#""config":{{"mediaType":"x","digest":"{A}","size":1}}"#);
        for (ct, body, want) in [
            (None, "not json".to_string(), Some(Code::ManifestInvalid)),
            (None, "[]".to_string(), Some(Code::ManifestInvalid)),
            (None, r#"{"schemaVersion":1,"fsLayers":[]}"#.to_string(), Some(Code::ManifestInvalid)),
            // An OCI manifest found by its config, with no layers: an artifact, accepted.
            (None, format!(r#"{{"schemaVersion":2,{cfg},"layers":[]}}"#), None),
            (
                Some(DOCKER_MANIFEST),
                format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}",{cfg},"layers":[]}}"#),
                Some(Code::ManifestInvalid),
            ),
            (
                Some(OCI_MANIFEST),
                r#"{"schemaVersion":2,"layers":[]}"#.to_string(),
                Some(Code::ManifestInvalid),
            ),
            (
                Some(OCI_MANIFEST),
                r#"{"schemaVersion":2,"config":{"digest":"sha256:12","size":1},"layers":[]}"#.to_string(),
                Some(Code::DigestInvalid),
            ),
            (
                Some(OCI_MANIFEST),
                format!(r#"{{"schemaVersion":2,"config":{{"digest":"{A}"}},"layers":[]}}"#),
                Some(Code::ManifestInvalid),
            ),
            (
                Some("application/x-unknown"),
                r#"{"schemaVersion":2}"#.to_string(),
                Some(Code::ManifestInvalid),
            ),
            (Some(DOCKER_MANIFEST), format!(r#"{{"schemaVersion":2,{cfg}}}"#), Some(Code::ManifestInvalid)),
            (Some(OCI_INDEX), r#"{"schemaVersion":2}"#.to_string(), Some(Code::ManifestInvalid)),
        ] {
            match want {
                None => assert!(parse(ct, body.as_bytes()).is_ok(), "{body}"),
                Some(want) => assert_eq!(code(ct, &body), want, "{body}"),
            }
        }
    }
}
