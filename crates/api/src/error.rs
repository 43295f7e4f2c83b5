//! Error kinds and the HTTP status codes Docker gives them; the body is `{"message": …}`.

use std::fmt;

/// What kind of failure, which decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: a bad parameter or body.
    InvalidArgument,
    /// 404: no such container, image, exec …
    NotFound,
    /// 409: a name in use, a running container, …
    Conflict,
    /// 304: the container is already started or stopped.
    NotModified,
    /// 403
    Forbidden,
    /// 413: a request body over its limit.
    TooLarge,
    /// 501
    NotImplemented,
    /// 503
    Unavailable,
    /// 500
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidArgument => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::Forbidden => 403,
            ErrorKind::TooLarge => 413,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// An error as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Conflict, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Internal, message)
    }
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
    /// The response body: `{"message":"…"}`.
    pub fn body(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec(&serde_json::json!({ "message": self.message })).unwrap_or_default();
        b.push(b'\n');
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_dockers_status_codes() {
        let cases = [
            (ErrorKind::InvalidArgument, 400),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::NotModified, 304),
            (ErrorKind::Internal, 500),
            (ErrorKind::NotImplemented, 501),
            (ErrorKind::TooLarge, 413),
        ];
        for (k, s) in cases {
            assert_eq!(k.status(), s);
        }
        assert_eq!(
            ApiError::not_found("No such container: x").body(),
            b"{\"message\":\"No such container: x\"}\n"
        );
    }
}
