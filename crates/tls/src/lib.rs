//! TLS for the Engine API over TCP, set up as Docker sets it up: PEM files (`ca.pem`,
//! `cert.pem`, `key.pem`) turned into rustls configurations.
//!
//! The daemon's side ([`server_config`]) presents its certificate and, with `--tlsverify`,
//! demands a client certificate signed by its CA (mutual TLS). The client's side
//! ([`client_config`]) checks the daemon's certificate against a CA (`--tlsverify`), or
//! checks nothing but the handshake's signatures (`--tls` alone), and presents a certificate
//! of its own when it has one. Both use the ring provider, chosen here and nowhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

pub use rustls::{ClientConfig, ServerConfig};
pub use rustls_pki_types::ServerName;
pub use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

/// A TLS set-up that cannot be used. Every one is a configuration problem (an invalid
/// argument): a file missing or unreadable, a PEM without what it should hold, a key that
/// does not fit its certificate.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not load the TLS {what} from {path}: {message}")]
    File { what: &'static str, path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The PEM files of one side, Docker's `--tlscacert`, `--tlscert` and `--tlskey`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir` (Docker's `DOCKER_CERT_PATH` layout).
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: Some(dir.join("ca.pem")),
            cert: Some(dir.join("cert.pem")),
            key: Some(dir.join("key.pem")),
        }
    }
}

/// Where a system's trusted CAs are, for a verifying client given no CA of its own.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Makes ring the process's default provider, for libraries that build their own TLS
/// configurations (the registry client's HTTP stack). Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(what: &'static str, path: &Path, message: impl ToString) -> TlsError {
    TlsError::File { what, path: path.to_path_buf(), message: message.to_string() }
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error("private key", path, e))
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates("CA certificate", path)? {
        store.add(cert).map_err(|e| file_error("CA certificate", path, e))?;
    }
    Ok(store)
}

fn invalid(e: impl ToString) -> TlsError {
    TlsError::Invalid(e.to_string())
}

/// The daemon's configuration: its certificate and key (both required) and, when
/// `verify_clients`, the CA that client certificates must be signed by.
pub fn server_config(files: &TlsFiles, verify_clients: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let (Some(cert), Some(key)) = (&files.cert, &files.key) else {
        return Err(TlsError::Invalid(
            "a TLS listener needs a certificate and its key: give --tlscert and --tlskey".into(),
        ));
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid)?;
    let builder = if verify_clients {
        let Some(ca) = &files.ca else {
            return Err(TlsError::Invalid(
                "--tlsverify needs the CA that signs client certificates: give --tlscacert".into(),
            ));
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
            .build()
            .map_err(|e| file_error("CA certificate", ca, e))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config =
        builder.with_single_cert(certificates("certificate", cert)?, private_key(key)?).map_err(|e| {
            file_error("certificate", cert, format!("{e} (does {} belong to it?)", key.display()))
        })?;
    Ok(Arc::new(config))
}

/// The client's configuration. With `verify`, the daemon's certificate must be signed by
/// `files.ca` (or, without one, by a CA the system trusts); without, any certificate is
/// taken. A client certificate is presented when both `cert` and `key` are given.
pub fn client_config(files: &TlsFiles, verify: bool) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid)?;
    let builder = if verify {
        let ca = files.ca.clone().unwrap_or_else(|| PathBuf::from(SYSTEM_ROOTS));
        builder.with_root_certificates(roots(&ca)?)
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(
            provider().signature_verification_algorithms,
        )))
    };
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            builder.with_client_auth_cert(certificates("certificate", cert)?, private_key(key)?).map_err(
                |e| file_error("certificate", cert, format!("{e} (does {} belong to it?)", key.display())),
            )?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::Invalid(
            "a client certificate needs its key and a key its certificate: give both --tlscert and --tlskey"
                .into(),
        )),
    };
    Ok(Arc::new(config))
}

/// The name to check the daemon's certificate against: the host of `host:port` (an IP
/// address or a DNS name; IPv6 in brackets).
pub fn server_name(address: &str) -> Result<ServerName<'static>, TlsError> {
    let host = match address.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => h,
        _ => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|e| TlsError::Invalid(format!("{host:?} cannot name a TLS server: {e}")))
}

/// `--tls` without `--tlsverify`: the daemon's certificate is not checked (Docker's
/// `InsecureSkipVerify`); the handshake's signatures still are.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
