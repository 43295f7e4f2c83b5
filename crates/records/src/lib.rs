//! What berthd stores about containers and networks, in types of berth's own.
//!
//! These are the values of the daemon's `containers` and `networks` tables. They are
//! independent of the Engine API's generated types: a new release of those changes nothing on
//! disk. The api crate converts between these and Docker's JSON.
//!
//! # Stability
//!
//! A record's JSON keys are its format. Fields may be added (with a default, so older values
//! still read); a key is never renamed or given another meaning without raising the table's
//! format version ([`FORMAT`] for containers, [`NETWORK_FORMAT`] for networks) and adding a
//! step to [`migrate_container`] (or its like for networks): the database runs those steps over
//! every value when it opens a table written in an older format (`berth_metadata::Record`).
//!
//! The container's `Config` and `HostConfig` keep Docker's key names (`Memory`,
//! `RestartPolicy`, …): they are what users gave, shown back by `inspect`, and Docker's names
//! for them have not changed across the API's versions.

mod config;
mod container;
mod network;

pub use config::*;
pub use container::*;
pub use network::*;

/// The format of container records. 1: berth ≤ 0.1 wrote the generated API types (bollard's)
/// under the same keys; 2: berth's own types.
pub const FORMAT: u64 = 2;

/// The format of network records (1, the first; the table has recorded it since container
/// records reached format 2).
pub const NETWORK_FORMAT: u64 = 1;

/// Why a stored value could not be brought to the current format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationError(pub String);

impl std::fmt::Display for MigrationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MigrationError {}

/// Brings a container record written in format `from` to [`FORMAT`], one step at a time.
pub fn migrate_container(
    from: u64,
    mut value: serde_json::Value,
) -> Result<serde_json::Value, MigrationError> {
    let mut v = from;
    while v < FORMAT {
        value = match v {
            1 => container::v1_to_v2(value)?,
            _ => return Err(MigrationError(format!("no migration from container record format {v}"))),
        };
        v += 1;
    }
    Ok(value)
}

impl berth_metadata::Record for ContainerRecord {
    const TABLE: &'static str = "containers";
    const FORMAT: u64 = FORMAT;
    fn migrate(from: u64, value: serde_json::Value) -> Result<serde_json::Value, String> {
        migrate_container(from, value).map_err(|e| e.0)
    }
}

impl berth_metadata::Record for NetworkRecord {
    const TABLE: &'static str = "networks";
    const FORMAT: u64 = NETWORK_FORMAT;
}

#[cfg(test)]
mod tests;
