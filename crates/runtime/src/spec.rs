use oci_spec::runtime::Spec;

/// The example spec `spec` writes: a `sh` in `rootfs`, with a terminal, read-only root,
/// the default namespaces, capabilities and masked paths (what `runc spec` gives).
pub fn default_spec() -> Spec {
    Spec::default()
}
