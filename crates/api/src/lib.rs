#![recursion_limit = "256"]
//! The Docker Engine API as berth serves it. This crate is the one place that knows Docker's
//! JSON: the request and response models (bollard's generated types, re-exported as
//! [`models`], pinned to one release), the shapes Docker sends where those types would drop
//! fields ([`shape`]), API version negotiation ([`version`]), error kinds and their HTTP status
//! codes ([`error`]), the `filters` query parameter ([`filters`]), Docker's time arguments
//! ([`time`]), Docker's request types to berth's records and back ([`record`]), the JSON message stream of load and import with its progress bars
//! ([`jsonmessage`]) and Docker's number formatting ([`units`]).
//!
//! Everything here is pure: no I/O.

pub mod auth;
pub mod detachkeys;
pub mod error;
pub mod filters;
pub mod jsonmessage;
pub mod record;
pub mod request;
pub mod shape;
pub mod time;
pub mod units;
pub mod version;

pub use bollard_stubs::models;
pub use error::{ApiError, ErrorKind, Kinded};
pub use filters::Filters;
pub use version::ApiVersion;
