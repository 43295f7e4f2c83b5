//! The engine's errors. Each carries a kind; the server turns the kind into Docker's status code
//! ([`berth_api::ErrorKind`]) and the message into the `{"message": …}` body.

use berth_api::{ApiError, ErrorKind};

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
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::NotModified(_) => ErrorKind::NotModified,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::NotImplemented(_) => ErrorKind::NotImplemented,
            EngineError::Internal(_) => ErrorKind::Internal,
        }
    }

    pub fn no_such_container(name: &str) -> EngineError {
        EngineError::NotFound(format!("No such container: {name}"))
    }

    pub fn internal(what: &str, e: impl std::fmt::Display) -> EngineError {
        EngineError::Internal(format!("{what}: {e}"))
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::new(e.kind(), e.to_string())
    }
}

impl From<ApiError> for EngineError {
    fn from(e: ApiError) -> EngineError {
        match e.kind {
            ErrorKind::NotFound => EngineError::NotFound(e.message),
            ErrorKind::InvalidArgument => EngineError::InvalidArgument(e.message),
            ErrorKind::Conflict => EngineError::Conflict(e.message),
            ErrorKind::NotModified => EngineError::NotModified(e.message),
            ErrorKind::Forbidden => EngineError::Forbidden(e.message),
            ErrorKind::NotImplemented => EngineError::NotImplemented(e.message),
            _ => EngineError::Internal(e.message),
        }
    }
}

impl From<berth_image::ImageError> for EngineError {
    fn from(e: berth_image::ImageError) -> EngineError {
        use berth_image::ErrorKind as K;
        let m = e.to_string();
        match e.kind() {
            K::NotFound => EngineError::NotFound(m),
            K::InvalidArgument => EngineError::InvalidArgument(m),
            K::Conflict => EngineError::Conflict(m),
            _ => EngineError::Internal(m),
        }
    }
}

/// `From` for the library errors whose kinds are not found, invalid argument, conflict or
/// internal (the volume and network crates).
macro_rules! from_kinded {
    ($err:ty, $($kind:ident)::+) => {
        impl From<$err> for EngineError {
            fn from(e: $err) -> EngineError {
                let m = e.to_string();
                match e.kind() {
                    $($kind)::+::NotFound => EngineError::NotFound(m),
                    $($kind)::+::InvalidArgument => EngineError::InvalidArgument(m),
                    $($kind)::+::Conflict => EngineError::Conflict(m),
                    $($kind)::+::Internal => EngineError::Internal(m),
                }
            }
        }
    };
}
from_kinded!(berth_volume::VolumeError, berth_volume::ErrorKind);

impl From<berth_network::NetworkError> for EngineError {
    fn from(e: berth_network::NetworkError) -> EngineError {
        use berth_network::ErrorKind as K;
        let m = e.to_string();
        match e.kind() {
            K::NotFound => EngineError::NotFound(m),
            K::InvalidArgument => EngineError::InvalidArgument(m),
            K::Conflict => EngineError::Conflict(m),
            K::Forbidden => EngineError::Forbidden(m),
            K::Internal => EngineError::Internal(m),
        }
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

impl From<berth_metadata::MetadataError> for EngineError {
    fn from(e: berth_metadata::MetadataError) -> EngineError {
        EngineError::Internal(format!("container metadata: {e}"))
    }
}

impl From<berth_spec::SpecError> for EngineError {
    fn from(e: berth_spec::SpecError) -> EngineError {
        match e {
            berth_spec::SpecError::InvalidArgument(m) => EngineError::InvalidArgument(m),
            other => EngineError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for EngineError {
    fn from(e: std::io::Error) -> EngineError {
        EngineError::Internal(e.to_string())
    }
}
