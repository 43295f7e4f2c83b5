//! Manifests and indexes: OCI's, and Docker's schema 2 (a manifest list is an index, a schema 2
//! manifest an OCI manifest, under other media types). The types are oci-spec's; this module
//! reads a blob as one or the other and says the platform an index entry serves.

pub use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};

use crate::media::{self, Kind};
use crate::platform::Platform;

/// A manifest or an index, read.
#[derive(Debug, Clone)]
pub enum Parsed {
    Index(Box<ImageIndex>),
    Manifest(Box<ImageManifest>),
}

/// A blob that is not the manifest or index it should be.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("media type {0:?} is not a manifest or an index")]
    NotAManifest(String),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

/// Reads `bytes` as the manifest or index `media_type` says; a blob without a media type is told
/// by its fields (`manifests` for an index, `layers` for a manifest), as registries allow.
pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Parsed, ManifestError> {
    let kind = match media::kind(media_type) {
        Kind::Index => Kind::Index,
        Kind::Manifest => Kind::Manifest,
        _ if media_type.is_empty() => sniff(bytes),
        _ => return Err(ManifestError::NotAManifest(media_type.to_string())),
    };
    let invalid = |what, e: serde_json::Error| ManifestError::Invalid { what, reason: e.to_string() };
    match kind {
        Kind::Index => {
            serde_json::from_slice(bytes).map(|i| Parsed::Index(Box::new(i))).map_err(|e| invalid("index", e))
        }
        _ => serde_json::from_slice(bytes)
            .map(|m| Parsed::Manifest(Box::new(m)))
            .map_err(|e| invalid("manifest", e)),
    }
}

/// An untyped blob's kind, from its fields.
fn sniff(bytes: &[u8]) -> Kind {
    #[derive(serde::Deserialize)]
    struct Fields {
        #[serde(rename = "mediaType", default)]
        media_type: String,
        manifests: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Fields>(bytes) {
        Ok(f) if !f.media_type.is_empty() => media::kind(&f.media_type),
        Ok(f) if f.manifests.is_some() => Kind::Index,
        _ => Kind::Manifest,
    }
}

/// The platform an index entry serves, when it says.
pub fn platform_of(d: &Descriptor) -> Option<Platform> {
    d.platform().as_ref().map(|p| {
        Platform::new(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref().unwrap_or(""),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn index(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[
                {{"mediaType":"{}","digest":"{DIGEST}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
                {{"mediaType":"{}","digest":"{DIGEST}","size":2,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            media::DOCKER_MANIFEST,
            media::DOCKER_MANIFEST
        )
    }

    fn manifest(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"{}","digest":"{DIGEST}","size":3}},
                "layers":[{{"mediaType":"{}","digest":"{DIGEST}","size":4}}]}}"#,
            media::DOCKER_CONFIG,
            media::DOCKER_LAYER_GZIP
        )
    }

    #[test]
    fn manifests_and_indexes_are_read_by_media_type_or_fields() {
        let cases: Vec<(&str, String, bool)> = vec![
            (media::OCI_INDEX, index(media::OCI_INDEX), true),
            (media::DOCKER_MANIFEST_LIST, index(media::DOCKER_MANIFEST_LIST), true),
            ("", index(media::DOCKER_MANIFEST_LIST), true),
            (media::OCI_MANIFEST, manifest(media::OCI_MANIFEST), false),
            (media::DOCKER_MANIFEST, manifest(media::DOCKER_MANIFEST), false),
            ("", manifest(media::DOCKER_MANIFEST), false),
        ];
        for (media_type, body, is_index) in cases {
            match parse(media_type, body.as_bytes()).unwrap() {
                Parsed::Index(i) => {
                    assert!(is_index, "{media_type}");
                    let host = Platform::parse("linux/amd64").unwrap();
                    let chosen = host.select(i.manifests(), platform_of).unwrap();
                    assert_eq!(chosen.size(), 2);
                }
                Parsed::Manifest(m) => {
                    assert!(!is_index, "{media_type}");
                    assert_eq!(m.layers().len(), 1);
                }
            }
        }
        assert!(matches!(parse(media::DOCKER_CONFIG, b"{}"), Err(ManifestError::NotAManifest(_))));
        assert!(matches!(parse(media::OCI_MANIFEST, b"{"), Err(ManifestError::Invalid { .. })));
    }
}
