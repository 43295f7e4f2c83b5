/// What went wrong, in terms the command line turns into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The daemon could not be reached.
    Unreachable,
    NotFound,
    Conflict,
    InvalidArgument,
    Internal,
}

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

impl ClientError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Connect(_) => ErrorKind::Unreachable,
            ClientError::Daemon { status: 404, .. } => ErrorKind::NotFound,
            ClientError::Daemon { status: 409, .. } => ErrorKind::Conflict,
            ClientError::Daemon { status: 400, .. } | ClientError::InvalidArgument(_) => {
                ErrorKind::InvalidArgument
            }
            _ => ErrorKind::Internal,
        }
    }

    /// The daemon's own message, without the `Error response from daemon:` prefix.
    pub fn message(&self) -> String {
        match self {
            ClientError::Daemon { message, .. } => message.clone(),
            e => e.to_string(),
        }
    }
}
