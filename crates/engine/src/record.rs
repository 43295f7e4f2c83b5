//! A container's durable record, kept in the daemon's metadata database (`containers` table).
//! Every change of state is written in one transaction before it is reported, so after a crash
//! the record and the shim's own records (`shim.json`, `exit.json`) tell the truth together.

pub use berth_records::{ContainerRecord, RunState, Status};
