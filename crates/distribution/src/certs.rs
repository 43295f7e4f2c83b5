//! What Docker's `certs.d/<host>/` holds for one registry: CA certificates (`*.crt`) trusted
//! besides the system's, and a client certificate (`*.cert`) with the key of the same name
//! (`*.key`) for registries that demand mutual TLS. A certificate without its key, or a key
//! without its certificate, is an error, as Docker makes it.

use std::path::{Path, PathBuf};

use berth_kind::{Kind, Kinded};

/// The TLS material for one registry host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCerts {
    /// PEM CA certificates, one file each.
    pub roots: Vec<Vec<u8>>,
    /// The client certificate followed by its private key, PEM.
    pub identity: Option<Vec<u8>>,
}

/// Why a host's `certs.d` directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("missing key {key} for client certificate {cert}. CA certificates must use the extension .crt")]
    MissingKey { cert: String, key: String },
    #[error("missing client certificate {cert} for key {key}")]
    MissingCert { cert: String, key: String },
    #[error("{path}: {detail}: make it readable by berthd or remove it")]
    Unreadable { path: String, detail: String },
    #[error("{path}: a second client certificate for this registry: keep one pair of .cert and .key files")]
    SecondIdentity { path: String },
}

impl Kinded for CertsError {
    fn kind(&self) -> Kind {
        Kind::Internal
    }
}

/// Reads `<dir>/<host>/` in each of `dirs` (missing directories are skipped).
pub fn host_certs(dirs: &[PathBuf], host: &str) -> Result<HostCerts, CertsError> {
    let mut out = HostCerts::default();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir.join(host)) else { continue };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in &paths {
            match path.extension().and_then(|x| x.to_str()) {
                Some("crt") => out.roots.push(read(path)?),
                Some("cert") => {
                    let key = path.with_extension("key");
                    if !key.exists() {
                        return Err(CertsError::MissingKey { cert: name(path), key: name(&key) });
                    }
                    if out.identity.is_some() {
                        return Err(CertsError::SecondIdentity { path: path.display().to_string() });
                    }
                    let mut pem = read(path)?;
                    pem.push(b'\n');
                    pem.extend(read(&key)?);
                    out.identity = Some(pem);
                }
                Some("key") => {
                    let cert = path.with_extension("cert");
                    if !cert.exists() {
                        return Err(CertsError::MissingCert { cert: name(&cert), key: name(path) });
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>, CertsError> {
    std::fs::read(path)
        .map_err(|e| CertsError::Unreadable { path: path.display().to_string(), detail: e.to_string() })
}

/// A file's name, as Docker's messages give it.
fn name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("reg.example:5000");
        std::fs::create_dir_all(&host).unwrap();
        for (name, text) in files {
            std::fs::write(host.join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn certs_d_gives_a_registrys_cas_and_client_certificate() {
        let dir =
            dir_with(&[("ca.crt", "CA"), ("client.cert", "CERT"), ("client.key", "KEY"), ("README", "x")]);
        let dirs = vec![dir.path().join("missing"), dir.path().to_path_buf()];
        let certs = host_certs(&dirs, "reg.example:5000").unwrap();
        assert_eq!(certs.roots, vec![b"CA".to_vec()]);
        assert_eq!(certs.identity.as_deref(), Some(&b"CERT\nKEY"[..]));
        assert_eq!(host_certs(&dirs, "other:5000").unwrap(), HostCerts::default());
    }

    #[test]
    fn half_a_client_certificate_is_refused_with_dockers_words() {
        for (files, message) in [
            (
                &[("client.cert", "CERT")][..],
                "missing key client.key for client certificate client.cert. CA certificates must use the extension .crt",
            ),
            (&[("client.key", "KEY")][..], "missing client certificate client.cert for key client.key"),
        ] {
            let dir = dir_with(files);
            let e = host_certs(&[dir.path().to_path_buf()], "reg.example:5000").unwrap_err();
            assert_eq!(e.to_string(), message);
        }
    }
}
