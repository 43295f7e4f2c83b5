use libcontainer::error::LibcontainerError;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    InvalidArgument,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container does not exist")]
    NotFound,
    #[error("container with id exists: {0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    WrongState(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("cgroup: {0}")]
    Cgroup(String),
    #[error(transparent)]
    Container(#[from] LibcontainerError),
}

impl RuntimeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::NotFound => ErrorKind::NotFound,
            RuntimeError::AlreadyExists(_) | RuntimeError::WrongState(_) => ErrorKind::Conflict,
            RuntimeError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            RuntimeError::Container(LibcontainerError::IncorrectStatus(_)) => ErrorKind::Conflict,
            RuntimeError::Container(LibcontainerError::NoDirectory)
            | RuntimeError::Container(LibcontainerError::InvalidID(_)) => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let context = context.into();
        move |source| RuntimeError::Io { context, source }
    }

    pub(crate) fn cgroup(e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Cgroup(e.to_string())
    }
}
