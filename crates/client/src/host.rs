//! Where the daemon listens: Docker's `-H` / `DOCKER_HOST` forms.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::ClientError;

/// berthd's socket when neither `-H` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
    /// `ssh://[user@]host[:port]`: HTTP through `ssh … berth system dial-stdio`, as Docker does
    /// with `docker system dial-stdio`.
    Ssh {
        target: String,
        port: Option<u16>,
    },
}

impl Host {
    /// Parses Docker's host forms: `unix:///path`, `tcp://host[:port]` (port 2375 when left
    /// out), and `host:port` without a scheme, which is TCP.
    pub fn parse(text: &str) -> Result<Host, ClientError> {
        Host::parse_for(text, false)
    }

    /// As [`Host::parse`]; with `tls`, a TCP port left out is 2376, Docker's port for TLS.
    pub fn parse_for(text: &str, tls: bool) -> Result<Host, ClientError> {
        let text = text.trim();
        let invalid = || ClientError::InvalidArgument(format!("Invalid bind address format: {text}"));
        let (scheme, rest) = text.split_once("://").unwrap_or(("tcp", text));
        match scheme.to_ascii_lowercase().as_str() {
            "unix" => {
                if rest.is_empty() {
                    return Err(invalid());
                }
                Ok(Host::Unix(PathBuf::from(rest)))
            }
            "tcp" => {
                let addr = rest.trim_end_matches('/');
                if addr.is_empty() || addr.contains('/') {
                    return Err(invalid());
                }
                let (host, port) = match addr.rsplit_once(':') {
                    Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (h, p),
                    _ => (addr, ""),
                };
                let host = if host.is_empty() { "127.0.0.1" } else { host };
                let port = match port {
                    "" if tls => "2376",
                    "" => "2375",
                    p => p,
                };
                if port.parse::<u16>().is_err() {
                    return Err(ClientError::InvalidArgument(format!(
                        "Invalid bind address format: {text}: invalid port"
                    )));
                }
                Ok(Host::Tcp(format!("{host}:{port}")))
            }
            "ssh" => {
                let rest = rest.trim_end_matches('/');
                if rest.is_empty() || rest.contains('/') || rest.contains('?') {
                    return Err(ClientError::InvalidArgument(format!(
                        "invalid SSH URL {text:?}: use ssh://[user@]host[:port]"
                    )));
                }
                let (target, port) = match rest.rsplit_once(':') {
                    Some((t, p)) => (
                        t,
                        Some(p.parse::<u16>().map_err(|_| {
                            ClientError::InvalidArgument(format!("invalid SSH URL {text:?}: bad port {p:?}"))
                        })?),
                    ),
                    None => (rest, None),
                };
                Ok(Host::Ssh { target: target.to_string(), port })
            }
            "fd" | "npipe" => Err(ClientError::InvalidArgument(format!(
                "{scheme}:// hosts are not supported by berth yet: use unix:// or tcp://"
            ))),
            _ => Err(invalid()),
        }
    }

    /// The host from `-H` if given, else `DOCKER_HOST`, else berthd's socket.
    pub fn from_env(flag: Option<&str>, tls: bool) -> Result<Host, ClientError> {
        match flag {
            Some(h) => Host::parse_for(h, tls),
            None => match std::env::var("DOCKER_HOST") {
                Ok(h) if !h.is_empty() => Host::parse_for(&h, tls),
                _ => Host::parse(DEFAULT_HOST),
            },
        }
    }

    /// The `Host` header: Docker's CLI sends `api.moby.localhost` over a Unix socket.
    pub(crate) fn http_host(&self) -> &str {
        match self {
            Host::Unix(_) | Host::Ssh { .. } => "api.moby.localhost",
            Host::Tcp(a) => a,
        }
    }

    /// A connection to the daemon; over TLS when `tls` is given and the host is TCP (TLS is
    /// for TCP only, as with Docker).
    pub(crate) async fn dial(&self, tls: Option<&Arc<berth_tls::ClientConfig>>) -> Result<Conn, ClientError> {
        let (Host::Tcp(addr), Some(config)) = (self, tls) else {
            return self.dial_plain().await.map_err(|e| self.unreachable(e));
        };
        let name = berth_tls::server_name(addr).map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let tcp = TcpStream::connect(addr).await.map_err(|e| self.unreachable(e))?;
        let _ = tcp.set_nodelay(true);
        let tls = berth_tls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::Protocol(format!("tls: {e}")))?;
        Ok(Conn::Tls(Box::new(tls)))
    }

    async fn dial_plain(&self) -> std::io::Result<Conn> {
        Ok(match self {
            Host::Unix(p) => Conn::Unix(UnixStream::connect(p).await?),
            Host::Tcp(a) => {
                let s = TcpStream::connect(a).await?;
                let _ = s.set_nodelay(true);
                Conn::Tcp(s)
            }
            Host::Ssh { target, port } => {
                let mut cmd = tokio::process::Command::new("ssh");
                if let Some(p) = port {
                    cmd.arg("-p").arg(p.to_string());
                }
                cmd.arg("-o").arg("ConnectTimeout=30").arg("-T").arg("--").arg(target);
                cmd.args(["berth", "system", "dial-stdio"]);
                let mut child = cmd
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()?;
                let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                    return Err(std::io::Error::other("ssh gave no pipes"));
                };
                Conn::Ssh(Box::new(SshPipes { stdin, stdout, _child: child }))
            }
        })
    }

    /// Docker's message for a daemon that cannot be reached (scripts match on it).
    pub(crate) fn unreachable(&self, e: std::io::Error) -> ClientError {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            return ClientError::Connect(format!(
                "permission denied while trying to connect to the Docker daemon socket at {self}: {e}"
            ));
        }
        ClientError::Connect(format!(
            "Cannot connect to the Docker daemon at {self}. Is the docker daemon running?"
        ))
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
            Host::Ssh { target, port: Some(p) } => write!(f, "ssh://{target}:{p}"),
            Host::Ssh { target, port: None } => write!(f, "ssh://{target}"),
        }
    }
}

/// One connection to the daemon, whichever way it listens.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<berth_tls::client::TlsStream<TcpStream>>),
    /// The far side's `dial-stdio`, through ssh's stdin and stdout.
    Ssh(Box<SshPipes>),
}

/// The pipes of an ssh child, which lives (and is killed on drop) with the connection.
pub struct SshPipes {
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    _child: tokio::process::Child,
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Ssh(p) => Pin::new(&mut p.stdout).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Ssh(p) => Pin::new(&mut p.stdin).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s).poll_flush(cx),
            Conn::Ssh(p) => Pin::new(&mut p.stdin).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Ssh(p) => Pin::new(&mut p.stdin).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_parse_as_dockers() {
        let ok = [
            ("unix:///run/berth/berth.sock", Host::Unix("/run/berth/berth.sock".into())),
            ("tcp://10.0.0.1:2376", Host::Tcp("10.0.0.1:2376".into())),
            ("tcp://example.org", Host::Tcp("example.org:2375".into())),
            ("tcp://:2375", Host::Tcp("127.0.0.1:2375".into())),
            ("localhost:4243", Host::Tcp("localhost:4243".into())),
            ("tcp://[::1]:2375", Host::Tcp("[::1]:2375".into())),
            ("TCP://h:1/", Host::Tcp("h:1".into())),
        ];
        for (text, want) in ok {
            assert_eq!(Host::parse(text).unwrap(), want, "{text}");
        }
        assert_eq!(Host::parse_for("tcp://example.org", true).unwrap(), Host::Tcp("example.org:2376".into()));
        assert_eq!(Host::parse_for("tcp://h:2375", true).unwrap(), Host::Tcp("h:2375".into()));
        assert_eq!(Host::parse("ssh://me@far").unwrap(), Host::Ssh { target: "me@far".into(), port: None });
        assert_eq!(Host::parse("ssh://far:2222").unwrap().to_string(), "ssh://far:2222");
        for bad in [
            "unix://",
            "udp://x:1",
            "tcp://h:notaport",
            "tcp://h:1/path",
            "ssh://",
            "ssh://h/path",
            "ssh://h:x",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Host::parse("unix:///a b").unwrap().to_string(), "unix:///a b");
    }
}
