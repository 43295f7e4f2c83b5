use crate::reference::ReferenceError;

/// What kind of failure, for callers that map errors to answers (the Engine API's status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    InvalidArgument,
    Conflict,
    Io,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NotFound(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    #[error("{0}")]
    Conflict(String),
    #[error("image store {0} is in use by another process; stop it (or use another data root) first")]
    Locked(String),
    #[error(transparent)]
    Content(#[from] berth_content::ContentError),
    #[error(transparent)]
    Metadata(#[from] berth_metadata::MetadataError),
    #[error(transparent)]
    Snapshot(#[from] berth_snapshot::SnapshotError),
    #[error(transparent)]
    Archive(#[from] berth_archive::ArchiveError),
    #[error("image store {op} {path}: {source}")]
    Io { op: &'static str, path: String, source: std::io::Error },
}

impl ImageError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::Reference(_) | ImageError::InvalidArgument(_) | ImageError::InvalidArchive(_) => {
                ErrorKind::InvalidArgument
            }
            ImageError::Conflict(_) | ImageError::Locked(_) => ErrorKind::Conflict,
            ImageError::Content(e) => match e.kind() {
                berth_content::ErrorKind::NotFound => ErrorKind::NotFound,
                berth_content::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
                berth_content::ErrorKind::Io => ErrorKind::Io,
            },
            ImageError::Archive(e) if e.kind() == berth_archive::ErrorKind::InvalidArchive => {
                ErrorKind::InvalidArgument
            }
            ImageError::Snapshot(e) if e.kind() == berth_snapshot::ErrorKind::InvalidArgument => {
                ErrorKind::InvalidArgument
            }
            _ => ErrorKind::Io,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl std::fmt::Display,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.to_string();
        move |source| ImageError::Io { op, path, source }
    }
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
