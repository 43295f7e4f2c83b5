//! An error as the API reports it: a kind (whose HTTP status is Docker's, see [`berth_kind`])
//! and the body `{"message": …}`.

use std::fmt;

pub use berth_kind::{Kind as ErrorKind, Kinded};

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

impl Kinded for ApiError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl ApiError {
    /// Any crate's error as the API reports it: its kind and its words.
    pub fn of(e: &(impl Kinded + fmt::Display)) -> ApiError {
        ApiError::new(e.kind(), e.to_string())
    }
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
    fn the_body_is_dockers_message_object() {
        assert_eq!(
            ApiError::not_found("No such container: x").body(),
            b"{\"message\":\"No such container: x\"}\n"
        );
    }
}
