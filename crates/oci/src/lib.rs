//! The vocabulary of images, shared by everything that names or moves them (the image store,
//! the daemon, the CLI, and the registry client and server to come): Docker's reference grammar
//! and normalisation ([`reference`]) and the media types of manifests, indexes, configs and
//! layers ([`media`]). Pure: no I/O.

pub mod media;
pub mod reference;

pub use reference::{Reference, ReferenceError};
