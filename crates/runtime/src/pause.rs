use libcontainer::container::ContainerStatus;

use crate::{Runtime, RuntimeError};

impl Runtime {
    /// `pause`: freezes every process of the container (cgroup freezer).
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        let mut c = self.load(id)?;
        if c.status() != ContainerStatus::Running {
            return Err(RuntimeError::WrongState("container not running".into()));
        }
        Ok(c.pause()?)
    }

    /// `resume`: thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        let mut c = self.load(id)?;
        if c.status() != ContainerStatus::Paused {
            return Err(RuntimeError::WrongState("container not paused".into()));
        }
        Ok(c.resume()?)
    }
}
