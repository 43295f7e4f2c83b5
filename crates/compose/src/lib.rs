//! `berth compose`, the pure part: what a compose project is before anything runs. Loading is
//! a pipeline of small passes over a plain tree, as compose-go's: read the files, interpolate
//! variables ([`interpolate`], with the sources [`dotenv`] reads), merge, normalise, validate,
//! then decode; the project's name ([`project`]). The passes work on [`tree`]'s nodes. No I/O: callers read files and the
//! environment and hand them in.

pub mod dotenv;
pub mod emit;
mod error;
pub mod extends;
pub mod include;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod plan;
pub mod profiles;
pub mod project;
pub mod resources;
pub mod schema;
pub mod short;
pub mod spec;
pub mod tree;
pub mod values;
pub mod watch;

pub use error::ComposeError;
