//! What kind of failure an error is. Every library crate's error enum says its kind with
//! [`Kinded`]; the daemon answers with the kind's HTTP status, the client reads the status back
//! into a kind, and nobody decides anything from an error's words.
//!
//! The table of statuses is Docker's (its `errdefs` classes), written here once.

/// A class of failure, named for what the caller should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The request is wrong: a bad parameter, body, name or file (400).
    InvalidArgument,
    /// What the request names does not exist (404).
    NotFound,
    /// The object's state forbids it: a name in use, a running container (409).
    Conflict,
    /// Nothing to do: the container is already started or stopped (304).
    NotModified,
    /// Credentials are missing or refused: a registry's login or pull access (401).
    Unauthorized,
    /// Never allowed in this state: an overlapping pool, a second `host` network (403).
    Forbidden,
    /// A request body over its limit (413).
    TooLarge,
    /// What this engine, or this configuration of it, does not do (501).
    NotImplemented,
    /// Not now: the daemon (or the peer it needs) cannot serve it at the moment (503).
    Unavailable,
    /// The host or berth failed: disk, kernel, a corrupt store (500).
    Internal,
}

impl Kind {
    /// Docker's HTTP status for this kind.
    pub fn status(self) -> u16 {
        match self {
            Kind::InvalidArgument => 400,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::NotModified => 304,
            Kind::Unauthorized => 401,
            Kind::Forbidden => 403,
            Kind::TooLarge => 413,
            Kind::NotImplemented => 501,
            Kind::Unavailable => 503,
            Kind::Internal => 500,
        }
    }

    /// The kind of an error status an engine answered with (any Docker engine's).
    pub fn from_status(status: u16) -> Kind {
        match status {
            400 => Kind::InvalidArgument,
            404 => Kind::NotFound,
            409 => Kind::Conflict,
            304 => Kind::NotModified,
            401 => Kind::Unauthorized,
            403 => Kind::Forbidden,
            413 => Kind::TooLarge,
            501 => Kind::NotImplemented,
            503 => Kind::Unavailable,
            _ => Kind::Internal,
        }
    }
}

/// An error that knows its kind.
pub trait Kinded {
    fn kind(&self) -> Kind;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_status_and_back() {
        let table = [
            (Kind::InvalidArgument, 400),
            (Kind::NotFound, 404),
            (Kind::Conflict, 409),
            (Kind::NotModified, 304),
            (Kind::Unauthorized, 401),
            (Kind::Forbidden, 403),
            (Kind::TooLarge, 413),
            (Kind::NotImplemented, 501),
            (Kind::Unavailable, 503),
            (Kind::Internal, 500),
        ];
        for (kind, status) in table {
            assert_eq!(kind.status(), status);
            assert_eq!(Kind::from_status(status), kind);
        }
        assert_eq!(Kind::from_status(502), Kind::Internal);
    }
}
