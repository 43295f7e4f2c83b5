//! Media types of Docker's (schema 2) and OCI's images, and what each kind is.

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDISTRIBUTABLE_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// What a media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A list of manifests, one per platform (OCI index, Docker manifest list).
    Index,
    /// One image's manifest.
    Manifest,
    /// An image's configuration.
    Config,
    /// A layer anyone may copy.
    Layer,
    /// A layer its publisher keeps to itself (Docker's foreign layers, OCI's non-distributable
    /// ones): fetched from where the manifest says, never pushed.
    ForeignLayer,
    /// Anything else (artifacts, signatures).
    Other,
}

/// The kind of a media type (parameters such as `; charset=…` are ignored).
pub fn kind(media_type: &str) -> Kind {
    let m = media_type.split(';').next().unwrap_or_default().trim();
    match m {
        OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
        OCI_MANIFEST | DOCKER_MANIFEST => Kind::Manifest,
        OCI_CONFIG | DOCKER_CONFIG => Kind::Config,
        DOCKER_LAYER | DOCKER_LAYER_GZIP => Kind::Layer,
        DOCKER_FOREIGN_LAYER_GZIP => Kind::ForeignLayer,
        m if m.starts_with("application/vnd.oci.image.layer.nondistributable.") => Kind::ForeignLayer,
        m if m.starts_with("application/vnd.oci.image.layer.") => Kind::Layer,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_told_apart() {
        let cases = [
            (OCI_INDEX, Kind::Index),
            (DOCKER_MANIFEST_LIST, Kind::Index),
            (OCI_MANIFEST, Kind::Manifest),
            ("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", Kind::Manifest),
            (DOCKER_CONFIG, Kind::Config),
            (OCI_CONFIG, Kind::Config),
            (OCI_LAYER_ZSTD, Kind::Layer),
            (OCI_LAYER, Kind::Layer),
            (DOCKER_LAYER_GZIP, Kind::Layer),
            (DOCKER_FOREIGN_LAYER_GZIP, Kind::ForeignLayer),
            (OCI_LAYER_NONDISTRIBUTABLE_GZIP, Kind::ForeignLayer),
            ("application/vnd.oci.image.layer.nondistributable.v1.tar", Kind::ForeignLayer),
            ("application/vnd.example.sbom+json", Kind::Other),
        ];
        for (m, want) in cases {
            assert_eq!(kind(m), want, "{m}");
        }
    }
}
