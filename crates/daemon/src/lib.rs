#![recursion_limit = "256"]
//! berthd's HTTP side: the Engine API's routes (one module per resource, each turning a request
//! into an engine call and its result into Docker's JSON) and the listeners they are served on.
//! The engine itself is `berth-engine`; `bins/berthd` parses flags, reads `daemon.json` and
//! wires the two together.

pub mod config;
pub mod server;
