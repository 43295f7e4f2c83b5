//! `berth-shim`: one supervisor process per container.
//!
//! The daemon launches it with [`launch`]; it detaches (setsid, double fork) so that it outlives
//! the daemon, becomes the child subreaper of the container, creates it through an OCI runtime
//! binary ([`runtime`]), holds its stdio (pipes, or a pty received on a console socket), writes
//! its output in Docker's json-file format with rotation ([`logfile`]), reaps it, and records
//! how it ended durably ([`status`]) before it exits. Clients talk to it over a control socket
//! ([`protocol`], [`ShimClient`]); a restarted daemon reconnects through the same socket.
//! The server ([`server`]) is a single-threaded poll loop.

pub mod client;
pub mod launch;
pub mod logfile;
pub mod prime;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod status;
mod stdio;

pub use client::{Attached, ShimClient};
pub use launch::{launch, Launched, ShimOptions};
pub use protocol::{ExitStatus, Request, Response};
pub use status::ShimRecord;

/// What went wrong, with a kind the daemon maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// No shim serves this container and it left no exit record.
    #[error("no shim for this container: {0}")]
    NotFound(String),
    /// The container is not in a state that allows the request (not running, no tty, …).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// The OCI runtime refused; the message is the runtime's.
    #[error("{0}")]
    Runtime(String),
    #[error("shim: {0}")]
    Io(#[from] std::io::Error),
    #[error("shim protocol: {0}")]
    Protocol(String),
}

impl berth_kind::Kinded for ShimError {
    fn kind(&self) -> berth_kind::Kind {
        use berth_kind::Kind;
        match self {
            ShimError::NotFound(_) => Kind::NotFound,
            ShimError::Conflict(_) => Kind::Conflict,
            ShimError::InvalidArgument(_) => Kind::InvalidArgument,
            ShimError::Runtime(_) | ShimError::Io(_) | ShimError::Protocol(_) => Kind::Internal,
        }
    }
}

/// Seconds since the epoch as RFC 3339 with nanoseconds, Docker's time format.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
