//! The HTTP plumbing berthd serves the Engine API with, and that a registry server can serve
//! with too: listeners and connections ([`listen`]), the connection cap and accept back-off
//! ([`gate`]), systemd's sockets and readiness ([`systemd`]), and bodies: responses empty,
//! whole or streamed from a channel, requests read as a blocking `Read` ([`body`]).

pub mod body;
pub mod gate;
pub mod listen;
pub mod systemd;

pub use body::{Body, BodyReader};
pub use listen::{serve, serve_tcp, Handler, PeerFd, TlsSettings, HEADER_TIMEOUT};
