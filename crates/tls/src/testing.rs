//! Certificates for tests, made in memory: a CA, a server certificate (for 127.0.0.1 and
//! localhost) and a client certificate, written as Docker lays them out
//! (`DOCKER_CERT_PATH`): `server/{ca,cert,key}.pem` and `client/{ca,cert,key}.pem`.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::TlsFiles;

pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A new CA named `ca_name` (CAs of different names do not trust each other's
    /// certificates) with its two certificates.
    pub fn new(ca_name: &str) -> Pki {
        Pki::for_server(ca_name, &["127.0.0.1", "localhost"])
    }

    /// Like [`Pki::new`], the server's certificate made for `names` (host names or addresses).
    pub fn for_server(ca_name: &str, names: &[&str]) -> Pki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.distinguished_name.push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().expect("a CA key");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        for (side, sans, usage) in [
            ("server", names.iter().map(|n| n.to_string()).collect(), ExtendedKeyUsagePurpose::ServerAuth),
            ("client", vec![], ExtendedKeyUsagePurpose::ClientAuth),
        ] {
            let mut p = CertificateParams::new(sans).expect("certificate parameters");
            p.distinguished_name.push(DnType::CommonName, side);
            p.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("a key");
            let cert = p.signed_by(&key, &ca, &ca_key).expect("a signed certificate");
            let d = dir.path().join(side);
            std::fs::create_dir_all(&d).expect("a directory for the PEM files");
            for (name, text) in
                [("ca.pem", ca.pem()), ("cert.pem", cert.pem()), ("key.pem", key.serialize_pem())]
            {
                std::fs::write(d.join(name), text).expect("a PEM file");
            }
        }
        Pki { dir }
    }

    /// `server` or `client`: the directory of that side's PEM files.
    pub fn dir(&self, side: &str) -> PathBuf {
        self.dir.path().join(side)
    }

    /// One of a side's files, as a string for command lines.
    pub fn file(&self, side: &str, name: &str) -> String {
        self.dir(side).join(name).display().to_string()
    }

    pub fn files(&self, side: &str) -> TlsFiles {
        TlsFiles::in_dir(&self.dir(side))
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}
