//! The vocabulary of images, shared by everything that names or moves them (the image store,
//! the daemon, the CLI, and the registry client and server to come): Docker's reference grammar
//! and normalisation ([`reference`]), the media types of manifests, indexes, configs and layers
//! ([`media`]), manifests and indexes ([`manifest`]) and platforms ([`platform`]). Pure: no I/O.

pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;

pub use platform::Platform;
pub use reference::{Reference, ReferenceError};
