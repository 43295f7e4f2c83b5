//! The registry's errors: the spec's error codes with their HTTP statuses, and the host's
//! failures (answered as `UNKNOWN`, 500).

use berth_kind::{Kind, Kinded};

/// The distribution spec's error codes (and distribution's `UNSUPPORTED`,
/// `TOOMANYREQUESTS` and `UNKNOWN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// A chunk that does not start where the upload stands: 416 with the upload's range.
    RangeInvalid,
    PaginationNumberInvalid,
    Unknown,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid | Code::RangeInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::Unknown => "UNKNOWN",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Code::BlobUnknown | Code::BlobUploadUnknown | Code::ManifestUnknown | Code::NameUnknown => 404,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid
            | Code::PaginationNumberInvalid => 400,
            Code::Unauthorized => 401,
            Code::Denied => 403,
            Code::Unsupported => 405,
            Code::RangeInvalid => 416,
            Code::TooManyRequests => 429,
            Code::Unknown => 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// What the spec names: the client's mistake or a missing thing.
    #[error("{message}")]
    Spec { code: Code, message: String },
    #[error(transparent)]
    Content(#[from] berth_content::ContentError),
    #[error(transparent)]
    Metadata(#[from] berth_metadata::MetadataError),
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: String, source: std::io::Error },
    #[error("registry configuration: {0}")]
    Config(String),
}

impl RegistryError {
    pub fn spec(code: Code, message: impl Into<String>) -> RegistryError {
        RegistryError::Spec { code, message: message.into() }
    }

    pub fn code(&self) -> Code {
        match self {
            RegistryError::Spec { code, .. } => *code,
            RegistryError::Content(berth_content::ContentError::InvalidDigest(_)) => Code::DigestInvalid,
            RegistryError::Content(berth_content::ContentError::NotFound(_)) => Code::BlobUnknown,
            RegistryError::Content(
                berth_content::ContentError::DigestMismatch { .. }
                | berth_content::ContentError::SizeMismatch { .. },
            ) => Code::DigestInvalid,
            _ => Code::Unknown,
        }
    }

    /// The spec's error body: `{"errors":[{"code","message","detail"}]}`.
    pub fn body(&self) -> Vec<u8> {
        errors_body(self.code(), &self.to_string())
    }
}

pub fn errors_body(code: Code, message: &str) -> Vec<u8> {
    let v = serde_json::json!({"errors": [{"code": code.as_str(), "message": message, "detail": null}]});
    let mut b = serde_json::to_vec(&v).expect("json");
    b.push(b'\n');
    b
}

impl Kinded for RegistryError {
    fn kind(&self) -> Kind {
        match self.code() {
            Code::BlobUnknown | Code::BlobUploadUnknown | Code::ManifestUnknown | Code::NameUnknown => {
                Kind::NotFound
            }
            Code::Unauthorized => Kind::Unauthorized,
            Code::Denied => Kind::Forbidden,
            Code::Unsupported => Kind::NotImplemented,
            Code::TooManyRequests => Kind::Unavailable,
            Code::Unknown => Kind::Internal,
            _ => Kind::InvalidArgument,
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> RegistryError + 'a {
    move |source| RegistryError::Io { op, path: path.display().to_string(), source }
}
