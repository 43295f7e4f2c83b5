//! The engine's errors. Each carries a kind ([`Kinded`]); the server answers with the kind's
//! status and the message as the `{"message": …}` body. The engine's own failures are in
//! Docker's words under their kind; a library crate's error is kept whole, with its own kind.

use berth_api::{ApiError, ErrorKind, Kinded};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Conflict(String),
    /// Docker's 304: nothing to do (start a started container, stop a stopped one).
    #[error("{0}")]
    NotModified(String),
    /// Docker's 403: an operation on a network that its state forbids.
    #[error("{0}")]
    Forbidden(String),
    /// Docker's 501: what this berth (or this container's configuration) does not do.
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Image(#[from] berth_image::ImageError),
    #[error(transparent)]
    Volume(#[from] berth_volume::VolumeError),
    #[error(transparent)]
    Network(#[from] berth_network::NetworkError),
    #[error(transparent)]
    Spec(#[from] berth_spec::SpecError),
    #[error(transparent)]
    Distribution(#[from] berth_distribution::DistributionError),
    #[error(transparent)]
    Content(#[from] berth_content::ContentError),
    #[error(transparent)]
    Login(#[from] berth_distribution::LoginError),
    #[error(transparent)]
    Search(#[from] berth_distribution::SearchError),
    #[error("container metadata: {0}")]
    Metadata(#[from] berth_metadata::MetadataError),
    /// A request the api crate refused to parse.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A Dockerfile that cannot be read.
    #[error(transparent)]
    Dockerfile(#[from] berth_build::ParseError),
    #[error(transparent)]
    Plan(#[from] berth_build::plan::PlanError),
    /// A build step's command exited non-zero.
    #[error("{message}")]
    CommandFailed { message: String, code: i64 },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl Kinded for EngineError {
    fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::NotModified(_) => ErrorKind::NotModified,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Internal(_) | EngineError::Io(_) => ErrorKind::Internal,
            EngineError::Image(e) => e.kind(),
            EngineError::Volume(e) => e.kind(),
            EngineError::Network(e) => e.kind(),
            EngineError::Spec(e) => e.kind(),
            EngineError::Distribution(e) => e.kind(),
            EngineError::Content(e) => e.kind(),
            EngineError::Login(e) => e.kind(),
            EngineError::Search(e) => e.kind(),
            EngineError::Metadata(e) => e.kind(),
            EngineError::Api(e) => e.kind,
            EngineError::Dockerfile(e) => e.kind(),
            EngineError::Plan(e) => e.kind(),
            EngineError::CommandFailed { .. } => ErrorKind::InvalidArgument,
        }
    }
}

impl EngineError {
    pub fn no_such_container(name: &str) -> EngineError {
        EngineError::NotFound(format!("No such container: {name}"))
    }

    pub fn internal(what: &str, e: impl std::fmt::Display) -> EngineError {
        EngineError::Internal(format!("{what}: {e}"))
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::of(&e)
    }
}

impl From<berth_shim::ShimError> for EngineError {
    fn from(e: berth_shim::ShimError) -> EngineError {
        use berth_shim::ShimError as S;
        match e {
            S::NotFound(m) => EngineError::NotFound(m),
            S::Conflict(m) => EngineError::Conflict(m),
            S::InvalidArgument(m) => EngineError::InvalidArgument(m),
            other => EngineError::Internal(other.to_string()),
        }
    }
}
