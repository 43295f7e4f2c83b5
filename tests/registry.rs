//! Debian's `docker-registry` (distribution 2.8) on loopback for the tests: its own storage in a
//! temporary directory, deletes enabled, a free port; images pushed into it with skopeo.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running registry, stopped when dropped.
pub struct Registry {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    /// The token server the registry sends its clients to, when it has one.
    token_server: Option<Child>,
}

/// How a test registry authenticates.
enum Auth<'a> {
    None,
    /// Basic auth of this user and password (htpasswd, bcrypt).
    Basic(&'a str, &'a str),
    /// Bearer tokens from a token server of the tests' (tests/py/token_server.py) that knows
    /// this user and password.
    Token(&'a str, &'a str),
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(Auth::None)
    }

    /// A registry that asks for Basic auth (htpasswd, bcrypt) of `user` with `password`.
    pub fn start_with_login(user: &str, password: &str) -> Registry {
        Registry::start_with(Auth::Basic(user, password))
    }

    /// A registry that asks for bearer tokens from a token server (a Python script of the
    /// tests', signing with a key made for it) where `user` logs in with `password`; anonymous
    /// clients get tokens that grant nothing. [`Registry::token_log`] lists its requests.
    pub fn start_with_token_server(user: &str, password: &str) -> Registry {
        Registry::start_with(Auth::Token(user, password))
    }

    fn start_with(auth: Auth<'_>) -> Registry {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = crate::env().run_root.join(format!("registry-{}-{}", std::process::id(), crate::seq()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        let mut token_server = None;
        match auth {
            Auth::None => {}
            Auth::Basic(user, password) => {
                std::fs::write(dir.join("htpasswd"), htpasswd_line(user, password)).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                    dir.join("htpasswd").display()
                ));
            }
            Auth::Token(user, password) => {
                let (child, port) = start_token_server(&dir, user, password);
                token_server = Some(child);
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{port}/token\n    service: berth-test-registry\n    issuer: berth-test-issuer\n    rootcertbundle: {}\n",
                    dir.join("token.crt").display()
                ));
            }
        }
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run docker-registry (install it: apt-get install docker-registry)");
        let r = Registry { child, port, dir, token_server };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start: {}", r.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// The token server's requests, a line each: method, account (`-` for none), scopes.
    pub fn token_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("token.log")).unwrap_or_default()
    }

    /// Where the registry keeps blob `digest` on disk (distribution's filesystem layout).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex");
        self.dir.join(format!("data/docker/registry/v2/blobs/{algorithm}/{}/{hex}/data", &hex[..2]))
    }

    /// Pushes the `docker save` archive at `archive` (one image) as `repo:tag`; returns the
    /// manifest's digest.
    pub fn push_archive(&self, archive: &Path, repo_tag: &str) -> String {
        self.push_archive_as(archive, repo_tag, None)
    }

    /// Like [`Registry::push_archive`], logged in as `user:password` when given.
    pub fn push_archive_as(&self, archive: &Path, repo_tag: &str, creds: Option<&str>) -> String {
        skopeo_push(&self.host(), &self.dir, archive, repo_tag, creds)
    }
}

/// Pushes the `docker save` archive at `archive` to `host` as `repo:tag` with skopeo (logged in
/// as `user:password` when given); returns the manifest's digest.
fn skopeo_push(host: &str, dir: &Path, archive: &Path, repo_tag: &str, creds: Option<&str>) -> String {
    let dest = format!("docker://{host}/{repo_tag}");
    let digest_file = dir.join(format!("digest-{}", crate::seq()));
    let mut c = Command::new("skopeo");
    c.arg("copy");
    if let Some(creds) = creds {
        c.arg(format!("--dest-creds={creds}"));
    }
    let out = c
        .args(["--quiet", "--dest-tls-verify=false", "--digestfile"])
        .arg(&digest_file)
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo copy to {dest}: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(digest_file).unwrap().trim().to_string()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = &mut self.token_server {
            let _ = t.kill();
            let _ = t.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts tests/py/token_server.py in `dir` with a key and self-signed certificate made for it
/// (`dir/token.crt` is the registry's root bundle); the child and its port.
fn start_token_server(dir: &Path, user: &str, password: &str) -> (Child, u16) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=berth-test-token",
        ])
        .arg("-keyout")
        .arg(dir.join("token.key"))
        .arg("-out")
        .arg(dir.join("token.crt"))
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/token_server.py");
    let port_file = dir.join("token.port");
    // Handed to the Registry, whose drop waits for it.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new("python3")
        .arg(script)
        .arg(dir.join("token.key"))
        .arg(dir.join("token.crt"))
        .args([user, password, "berth-test-issuer", "berth-test-registry"])
        .arg(&port_file)
        .arg(dir.join("token.log"))
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(dir.join("token.err")).unwrap())
        .spawn()
        .expect("run python3");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()) {
            return (child, port);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the token server did not start: {}",
                std::fs::read_to_string(dir.join("token.err")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// berth's own registry (`berth registry serve`) on loopback, its storage in a temporary
/// directory; stopped and removed when dropped.
pub struct BerthRegistry {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// The network namespace it serves in (`ip netns` name) and its address there; loopback
    /// on the host when `None`.
    netns: Option<(String, String)>,
}

impl BerthRegistry {
    pub fn start(args: &[&str]) -> BerthRegistry {
        BerthRegistry::start_with_config(None, args)
    }

    /// With `config` as its YAML file, and `args` over it.
    pub fn start_with_config(config: Option<&str>, args: &[&str]) -> BerthRegistry {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir =
            crate::env().run_root.join(format!("berth-registry-{}-{}", std::process::id(), crate::seq()));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = config {
            std::fs::write(dir.join("config.yml"), text).unwrap();
        }
        BerthRegistry::launch(dir, port, None, args)
    }

    /// With token auth, `user` with `password` allowed everything (the htpasswd file in its
    /// own directory).
    pub fn start_with_tokens(user: &str, password: &str) -> BerthRegistry {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir =
            crate::env().run_root.join(format!("berth-registry-{}-{}", std::process::id(), crate::seq()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("htpasswd");
        std::fs::write(&pw, htpasswd_line(user, password)).unwrap();
        let config = format!(
            "auth:\n  token:\n    service: berth-test\n    htpasswd: {}\n    access:\n      - {{ account: {user}, name: '*', actions: ['*'] }}\n",
            pw.display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        BerthRegistry::launch(dir, port, None, &[])
    }

    /// In the network namespace `netns` (an `ip netns` name), on `ip:5000` there: for what
    /// loopback cannot show, such as a registry whose certificate is verified (Docker trusts
    /// any loopback registry without verifying it).
    pub fn start_in(netns: &str, ip: &str, args: &[&str]) -> BerthRegistry {
        let dir =
            crate::env().run_root.join(format!("berth-registry-{}-{}", std::process::id(), crate::seq()));
        std::fs::create_dir_all(&dir).unwrap();
        BerthRegistry::launch(dir, 5000, Some((netns.to_string(), ip.to_string())), args)
    }

    fn launch(dir: PathBuf, port: u16, netns: Option<(String, String)>, args: &[&str]) -> BerthRegistry {
        let child = BerthRegistry::spawn(&dir, port, netns.as_ref(), args);
        let mut r = BerthRegistry { child, port, dir, netns };
        r.wait_ready();
        r
    }

    fn spawn(dir: &Path, port: u16, netns: Option<&(String, String)>, args: &[&str]) -> Child {
        let berth = crate::env().bin_dir.join("berth");
        let (mut c, ip) = match netns {
            None => (Command::new(berth), "127.0.0.1"),
            Some((ns, ip)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(berth);
                (c, ip.as_str())
            }
        };
        c.args(["registry", "serve", "--addr", &format!("{ip}:{port}"), "--root"]).arg(dir.join("root"));
        if dir.join("config.yml").exists() {
            c.arg(dir.join("config.yml"));
        }
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(dir.join("registry.log")).unwrap();
        c.args(args).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        // In a namespace of its own it is ready once it says it listens.
        let up = |r: &BerthRegistry| match r.netns {
            None => std::net::TcpStream::connect(("127.0.0.1", r.port)).is_ok(),
            Some(_) => r.log().contains("registry listening"),
        };
        while !up(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("berth registry serve exited ({status}): {}", self.log());
            }
            assert!(Instant::now() < deadline, "berth registry serve did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the server and starts it again on the same storage and port, with `args`.
    pub fn restart(&mut self, args: &[&str]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = BerthRegistry::spawn(&self.dir, self.port, self.netns.as_ref(), args);
        self.wait_ready();
    }

    /// `127.0.0.1:<port>`, or its address in its namespace.
    pub fn host(&self) -> String {
        match &self.netns {
            None => format!("127.0.0.1:{}", self.port),
            Some((_, ip)) => format!("{ip}:{}", self.port),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> crate::http::Reply {
        crate::http::request(&self.host(), method, path, headers, body)
    }

    /// Pushes a `docker save` archive with skopeo, as [`Registry::push_archive`].
    pub fn push_archive(&self, archive: &Path, repo_tag: &str, creds: Option<&str>) -> String {
        skopeo_push(&self.host(), &self.dir, archive, repo_tag, creds)
    }
}

impl Drop for BerthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A bcrypt htpasswd line for `user` (Python's crypt, as Apache's htpasswd -B writes).
pub fn htpasswd_line(user: &str, password: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            password,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "bcrypt: {}", String::from_utf8_lossy(&out.stderr));
    format!("{user}:{}\n", String::from_utf8(out.stdout).unwrap().trim())
}

/// A TCP proxy on loopback in front of a registry that breaks downloads: the first `cuts`
/// connections that carry more than `after` bytes back to the client are cut there. It notes
/// whether a client asked for a range (a resumed download).
pub struct FlakyProxy {
    pub port: u16,
    state: std::sync::Arc<FlakyState>,
}

#[derive(Default)]
struct FlakyState {
    cuts_left: std::sync::atomic::AtomicUsize,
    cut: std::sync::atomic::AtomicUsize,
    ranges: std::sync::atomic::AtomicUsize,
    stop: std::sync::atomic::AtomicBool,
}

impl FlakyProxy {
    pub fn start(upstream: u16, after: usize, cuts: usize) -> FlakyProxy {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(FlakyState::default());
        state.cuts_left.store(cuts, Ordering::SeqCst);
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let st = st.clone();
                std::thread::spawn(move || FlakyProxy::relay(client, server, after, st));
            }
        });
        FlakyProxy { port, state }
    }

    fn relay(
        client: std::net::TcpStream,
        server: std::net::TcpStream,
        after: usize,
        st: std::sync::Arc<FlakyState>,
    ) {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let st_up = st.clone();
        let up = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = c_in.read(&mut buf) {
                if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                    break;
                }
                if String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase().contains("\r\nrange: bytes=") {
                    st_up.ranges.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _ = s_out.shutdown(std::net::Shutdown::Write);
        });
        let (mut s_in, mut c_out) = (server, client);
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        let mut cutting = false;
        while let Ok(n) = s_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !cutting && sent + n > after {
                cutting = st
                    .cuts_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1))
                    .is_ok();
            }
            if cutting {
                let _ = c_out.write_all(&buf[..after.saturating_sub(sent)]);
                st.cut.fetch_add(1, Ordering::SeqCst);
                let _ = c_out.shutdown(std::net::Shutdown::Both);
                let _ = s_in.shutdown(std::net::Shutdown::Both);
                break;
            }
            if c_out.write_all(&buf[..n]).is_err() {
                break;
            }
            sent += n;
        }
        let _ = c_out.shutdown(std::net::Shutdown::Both);
        let _ = up.join();
    }

    /// How many connections were cut, and how many requests asked for a range.
    pub fn counts(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering;
        (self.state.cut.load(Ordering::SeqCst), self.state.ranges.load(Ordering::SeqCst))
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A registry that answers `GET /v2/` and refuses everything else with `status` and `body` (a
/// registry's error envelope): a rate limit, an outage. Stopped when dropped.
pub struct RefusingRegistry {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RefusingRegistry {
    pub fn start(status: u16, body: &'static str) -> RefusingRegistry {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                // A client asking whether it speaks TLS (a ClientHello) is hung up on, as a
                // plain-HTTP registry fails the handshake.
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut first = [0u8; 1];
                if conn.peek(&mut first).map(|n| n == 0 || first[0] == 0x16).unwrap_or(true) {
                    continue;
                }
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                // The rest of the request's head.
                let mut header = String::new();
                while reader.read_line(&mut header).map(|n| n > 2).unwrap_or(false) {
                    header.clear();
                }
                let (code, text) = if line.starts_with("GET /v2/ ") { (200, "{}") } else { (status, body) };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        RefusingRegistry { port, stop }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RefusingRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}
