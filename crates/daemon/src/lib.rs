#![recursion_limit = "256"]
//! berthd's library: the engine (containers, execs, images, events, supervision) and the HTTP
//! server that serves it as the Docker Engine API. `bins/berthd` parses flags, reads
//! `daemon.json`, and runs [`run`].

pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod server;

pub use config::{Config, Flags};
pub use engine::Engine;
pub use error::EngineError;
