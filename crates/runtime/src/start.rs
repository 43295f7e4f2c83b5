use libcontainer::container::ContainerStatus;

use crate::{Runtime, RuntimeError};

impl Runtime {
    /// `start`: lets a created container's init exec the user process.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let mut c = self.load(id)?;
        match c.status() {
            ContainerStatus::Created => Ok(c.start()?),
            ContainerStatus::Stopped => {
                Err(RuntimeError::WrongState("cannot start a container that has stopped".into()))
            }
            ContainerStatus::Running => {
                Err(RuntimeError::WrongState("cannot start an already running container".into()))
            }
            s => Err(RuntimeError::WrongState(format!(
                "cannot start a container in the {} state",
                crate::state::status_name(s)
            ))),
        }
    }
}
