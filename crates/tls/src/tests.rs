use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A CA with a server certificate (localhost, 127.0.0.1) and a client certificate, as PEM
/// files in a directory of their own.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        for (who, sans, usage) in [
            (
                "server",
                vec!["localhost".to_string(), "127.0.0.1".to_string()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            ("client", vec![], ExtendedKeyUsagePurpose::ClientAuth),
        ] {
            let mut p = CertificateParams::new(sans).unwrap();
            p.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
            write(&format!("{who}-cert.pem"), cert.pem());
            write(&format!("{who}-key.pem"), key.serialize_pem());
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server(&self) -> TlsFiles {
        TlsFiles {
            ca: Some(self.path("ca.pem")),
            cert: Some(self.path("server-cert.pem")),
            key: Some(self.path("server-key.pem")),
        }
    }

    fn client(&self) -> TlsFiles {
        TlsFiles {
            ca: Some(self.path("ca.pem")),
            cert: Some(self.path("client-cert.pem")),
            key: Some(self.path("client-key.pem")),
        }
    }
}

/// One exchange over an in-memory pipe: the client writes, the server echoes. `Err` holds
/// what each side saw (empty for a side that did not fail), server first.
fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
) -> Result<(), (String, String)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let name = server_name(name).unwrap();
    rt.block_on(async move {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let serve = async move {
            let mut s = TlsAcceptor::from(server).accept(a).await.map_err(|e| format!("server: {e}"))?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.map_err(|e| format!("server: {e}"))?;
            s.write_all(&buf).await.map_err(|e| format!("server: {e}"))?;
            s.flush().await.map_err(|e| format!("server: {e}"))?;
            Ok::<_, String>(())
        };
        let ask = async move {
            let mut c =
                TlsConnector::from(client).connect(name, b).await.map_err(|e| format!("client: {e}"))?;
            c.write_all(b"ping").await.map_err(|e| format!("client: {e}"))?;
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).await.map_err(|e| format!("client: {e}"))?;
            assert_eq!(&buf, b"ping");
            Ok::<_, String>(())
        };
        match tokio::join!(serve, ask) {
            (Ok(()), Ok(())) => Ok(()),
            (s, c) => Err((s.err().unwrap_or_default(), c.err().unwrap_or_default())),
        }
    })
}

#[test]
fn mutual_tls_works_with_certificates_of_one_ca() {
    let pki = Pki::new("berth CA");
    let server = server_config(&pki.server(), true).unwrap();
    exchange(server.clone(), client_config(&pki.client(), true).unwrap(), "localhost").unwrap();
    exchange(server, client_config(&pki.client(), true).unwrap(), "127.0.0.1:2376").unwrap();
}

#[test]
fn a_verifying_server_refuses_clients_without_a_certificate_of_its_ca() {
    let pki = Pki::new("berth CA");
    let other = Pki::new("another CA");
    let server = server_config(&pki.server(), true).unwrap();
    let anonymous = TlsFiles { ca: pki.client().ca, cert: None, key: None };
    let (err, _) =
        exchange(server.clone(), client_config(&anonymous, true).unwrap(), "localhost").unwrap_err();
    assert!(err.contains("server:") && err.contains("certificate"), "{err}");
    // A certificate from another CA, presented to this daemon.
    let stranger = TlsFiles { ca: pki.client().ca, ..other.client() };
    let (err, _) = exchange(server, client_config(&stranger, true).unwrap(), "localhost").unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // Without --tlsverify the daemon takes anyone.
    let open = server_config(&pki.server(), false).unwrap();
    exchange(open, client_config(&anonymous, true).unwrap(), "localhost").unwrap();
}

#[test]
fn a_verifying_client_refuses_a_daemon_it_cannot_trust() {
    let pki = Pki::new("berth CA");
    let other = Pki::new("another CA");
    let server = server_config(&pki.server(), true).unwrap();
    // The daemon's certificate is signed by a CA this client does not know.
    let wrong_ca = TlsFiles { ca: other.client().ca, ..pki.client() };
    let (_, err) =
        exchange(server.clone(), client_config(&wrong_ca, true).unwrap(), "localhost").unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // A name the certificate does not carry.
    let (_, err) =
        exchange(server.clone(), client_config(&pki.client(), true).unwrap(), "elsewhere").unwrap_err();
    assert!(err.contains("not valid for name \"elsewhere\""), "{err}");
    // --tls without --tlsverify takes the certificate as it is.
    exchange(server, client_config(&wrong_ca, false).unwrap(), "elsewhere").unwrap();
}

#[test]
fn bad_files_are_named_in_the_error() {
    let pki = Pki::new("berth CA");
    let missing = Path::new("/nonexistent/ca.pem");
    let cases: Vec<(TlsFiles, bool, &str)> = vec![
        (TlsFiles { cert: None, ..pki.server() }, true, "give --tlscert and --tlskey"),
        (TlsFiles { ca: None, ..pki.server() }, true, "give --tlscacert"),
        (
            TlsFiles { ca: Some(missing.into()), ..pki.server() },
            true,
            "CA certificate from /nonexistent/ca.pem",
        ),
        // A key that is not the certificate's.
        (TlsFiles { key: Some(pki.path("client-key.pem")), ..pki.server() }, false, "belong to it"),
        // A key file given as the certificate.
        (TlsFiles { cert: Some(pki.path("server-key.pem")), ..pki.server() }, false, "no PEM certificate"),
    ];
    for (files, verify, want) in cases {
        let err = server_config(&files, verify).unwrap_err().to_string();
        assert!(err.contains(want), "{files:?}: {err}");
    }
    let half = TlsFiles { key: None, ..pki.client() };
    assert!(client_config(&half, true).unwrap_err().to_string().contains("give both --tlscert and --tlskey"));
    let err = client_config(&TlsFiles { ca: Some(missing.into()), ..Default::default() }, true).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn server_names_come_from_the_address() {
    for (addr, want) in [
        ("127.0.0.1:2376", "127.0.0.1"),
        ("localhost:2376", "localhost"),
        ("[::1]:2376", "::1"),
        ("daemon.example", "daemon.example"),
    ] {
        let name = server_name(addr).unwrap();
        assert_eq!(name.to_str(), want, "{addr}");
    }
    assert!(server_name("bad name:1").is_err());
}
