use berth_kind::{Kind, Kinded};

use crate::reference::ReferenceError;

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

impl Kinded for ImageError {
    fn kind(&self) -> Kind {
        match self {
            ImageError::NotFound(_) => Kind::NotFound,
            ImageError::Reference(_) | ImageError::InvalidArgument(_) | ImageError::InvalidArchive(_) => {
                Kind::InvalidArgument
            }
            ImageError::Conflict(_) | ImageError::Locked(_) => Kind::Conflict,
            ImageError::Content(e) => e.kind(),
            ImageError::Metadata(e) => e.kind(),
            ImageError::Snapshot(e) => e.kind(),
            ImageError::Archive(e) => e.kind(),
            ImageError::Io { .. } => Kind::Internal,
        }
    }
}

impl ImageError {
    pub(crate) fn io(
        op: &'static str,
        path: impl std::fmt::Display,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.to_string();
        move |source| ImageError::Io { op, path, source }
    }
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
