use crate::{Runtime, RuntimeError};

impl Runtime {
    /// `delete`: removes a stopped (or created) container; `force` kills a running one first.
    /// Deleting an unknown container with `force` succeeds, as with runc.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        match self.load(id) {
            Ok(mut c) => {
                if !force
                    && !c.can_delete()
                    && c.status() != libcontainer::container::ContainerStatus::Created
                {
                    return Err(RuntimeError::WrongState(format!(
                        "cannot delete container {id} that is not stopped: {}",
                        crate::state::status_name(c.status())
                    )));
                }
                Ok(c.delete(force)?)
            }
            Err(RuntimeError::NotFound) => {
                // An aborted create can leave a directory without state.json, and the spec
                // handed to libcontainer.
                for dir in [self.container_dir(id), self.handed_bundle_dir(id)] {
                    if dir.exists() {
                        std::fs::remove_dir_all(&dir)
                            .map_err(RuntimeError::io(format!("remove {}", dir.display())))?;
                    }
                }
                if force {
                    Ok(())
                } else {
                    Err(RuntimeError::NotFound)
                }
            }
            Err(e) => Err(e),
        }
    }
}
