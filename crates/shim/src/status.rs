//! Records in the shim's state directory: `shim.json` (who runs the container) once it is
//! created, `exit.json` (how it ended) before the shim exits. Each is written to a temporary file
//! and renamed over the old one, so a process killed at any point (the daemon, the shim) leaves
//! the old record or the new one, never a torn file. They are not synced to disk: they describe
//! processes, which a machine's crash ends too (the exec root is a tmpfs on most hosts); after a
//! reboot a record that did not reach the disk reads as missing, which is what it is.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const SHIM_RECORD: &str = "shim.json";
pub const EXIT_RECORD: &str = "exit.json";
pub const SOCKET: &str = "shim.sock";

/// Written once the container is created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShimRecord {
    pub id: String,
    pub shim_pid: i32,
    pub init_pid: i32,
    pub tty: bool,
    pub runtime: String,
    pub runtime_root: String,
    pub bundle: String,
}

pub fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(value).map_err(io::Error::other)?)?;
    std::fs::rename(&tmp, dir.join(name))
}

pub fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> io::Result<Option<T>> {
    match std::fs::read(dir.join(name)) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(io::Error::other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitStatus;

    #[test]
    fn records_round_trip_and_replace() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_json::<ExitStatus>(d.path(), EXIT_RECORD).unwrap(), None);
        let a =
            ExitStatus { exit_code: 3, oom_killed: true, started_at: "s".into(), finished_at: "f".into() };
        write_json(d.path(), EXIT_RECORD, &a).unwrap();
        write_json(d.path(), EXIT_RECORD, &ExitStatus { exit_code: 4, ..a.clone() }).unwrap();
        assert_eq!(read_json::<ExitStatus>(d.path(), EXIT_RECORD).unwrap().unwrap().exit_code, 4);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1, "no temporary file left");
    }
}
