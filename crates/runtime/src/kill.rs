use crate::{parse_signal, Runtime, RuntimeError};

impl Runtime {
    /// `kill <id> [signal]`; with `all`, every process in the container's cgroup.
    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
        let sig = parse_signal(signal)?;
        let mut c = self.load(id)?;
        if !c.can_kill() {
            return Err(RuntimeError::WrongState("container not running".into()));
        }
        Ok(c.kill(sig, all)?)
    }
}
