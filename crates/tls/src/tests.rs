use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::testing::Pki;
use super::*;

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
    let server = server_config(&pki.files("server"), true).unwrap();
    exchange(server.clone(), client_config(&pki.files("client"), true).unwrap(), "localhost").unwrap();
    exchange(server, client_config(&pki.files("client"), true).unwrap(), "127.0.0.1:2376").unwrap();
}

#[test]
fn a_verifying_server_refuses_clients_without_a_certificate_of_its_ca() {
    let pki = Pki::new("berth CA");
    let other = Pki::new("another CA");
    let server = server_config(&pki.files("server"), true).unwrap();
    let anonymous = TlsFiles { ca: pki.files("client").ca, cert: None, key: None };
    let (err, _) =
        exchange(server.clone(), client_config(&anonymous, true).unwrap(), "localhost").unwrap_err();
    assert!(err.contains("server:") && err.contains("certificate"), "{err}");
    // A certificate from another CA, presented to this daemon.
    let stranger = TlsFiles { ca: pki.files("client").ca, ..other.files("client") };
    let (err, _) = exchange(server, client_config(&stranger, true).unwrap(), "localhost").unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // Without --tlsverify the daemon takes anyone.
    let open = server_config(&pki.files("server"), false).unwrap();
    exchange(open, client_config(&anonymous, true).unwrap(), "localhost").unwrap();
}

#[test]
fn a_verifying_client_refuses_a_daemon_it_cannot_trust() {
    let pki = Pki::new("berth CA");
    let other = Pki::new("another CA");
    let server = server_config(&pki.files("server"), true).unwrap();
    // The daemon's certificate is signed by a CA this client does not know.
    let wrong_ca = TlsFiles { ca: other.files("client").ca, ..pki.files("client") };
    let (_, err) =
        exchange(server.clone(), client_config(&wrong_ca, true).unwrap(), "localhost").unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    // A name the certificate does not carry.
    let (_, err) = exchange(server.clone(), client_config(&pki.files("client"), true).unwrap(), "elsewhere")
        .unwrap_err();
    assert!(err.contains("not valid for name \"elsewhere\""), "{err}");
    // --tls without --tlsverify takes the certificate as it is.
    exchange(server, client_config(&wrong_ca, false).unwrap(), "elsewhere").unwrap();
}

#[test]
fn bad_files_are_named_in_the_error() {
    let pki = Pki::new("berth CA");
    let missing = Path::new("/nonexistent/ca.pem");
    let cases: Vec<(TlsFiles, bool, &str)> = vec![
        (TlsFiles { cert: None, ..pki.files("server") }, true, "give --tlscert and --tlskey"),
        (TlsFiles { ca: None, ..pki.files("server") }, true, "give --tlscacert"),
        (
            TlsFiles { ca: Some(missing.into()), ..pki.files("server") },
            true,
            "CA certificate from /nonexistent/ca.pem",
        ),
        // A key that is not the certificate's.
        (
            TlsFiles { key: Some(pki.dir("client").join("key.pem")), ..pki.files("server") },
            false,
            "belong to it",
        ),
        // A key file given as the certificate.
        (
            TlsFiles { cert: Some(pki.dir("server").join("key.pem")), ..pki.files("server") },
            false,
            "no PEM certificate",
        ),
    ];
    for (files, verify, want) in cases {
        let err = server_config(&files, verify).unwrap_err().to_string();
        assert!(err.contains(want), "{files:?}: {err}");
    }
    let half = TlsFiles { key: None, ..pki.files("client") };
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
