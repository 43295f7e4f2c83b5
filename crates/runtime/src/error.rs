use berth_kind::{Kind, Kinded};
use libcontainer::error::LibcontainerError;

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

impl Kinded for RuntimeError {
    fn kind(&self) -> Kind {
        match self {
            RuntimeError::NotFound => Kind::NotFound,
            RuntimeError::AlreadyExists(_) | RuntimeError::WrongState(_) => Kind::Conflict,
            RuntimeError::InvalidArgument(_) => Kind::InvalidArgument,
            RuntimeError::Container(LibcontainerError::IncorrectStatus(_)) => Kind::Conflict,
            RuntimeError::Container(LibcontainerError::NoDirectory)
            | RuntimeError::Container(LibcontainerError::InvalidID(_)) => Kind::InvalidArgument,
            _ => Kind::Internal,
        }
    }
}

impl RuntimeError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let context = context.into();
        move |source| RuntimeError::Io { context, source }
    }

    pub(crate) fn cgroup(e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Cgroup(e.to_string())
    }
}
