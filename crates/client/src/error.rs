use berth_kind::{Kind, Kinded};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Connect(String),
    /// The daemon answered with an error status and its message.
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("error during connect: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Kinded for ClientError {
    /// A daemon's error status read back into its kind; a daemon out of reach is unavailable.
    fn kind(&self) -> Kind {
        match self {
            ClientError::Connect(_) => Kind::Unavailable,
            ClientError::Daemon { status, .. } => Kind::from_status(*status),
            ClientError::InvalidArgument(_) => Kind::InvalidArgument,
            ClientError::Protocol(_) | ClientError::Io(_) => Kind::Internal,
        }
    }
}

impl ClientError {
    /// The daemon's own message, without the `Error response from daemon:` prefix.
    pub fn message(&self) -> String {
        match self {
            ClientError::Daemon { message, .. } => message.clone(),
            e => e.to_string(),
        }
    }
}
