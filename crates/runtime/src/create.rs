use std::path::PathBuf;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;

use crate::{validate_id, Runtime, RuntimeError};

/// Options of `create` (and `run`).
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
}

impl Runtime {
    /// `create`: sets up the container and leaves its init waiting for `start`.
    ///
    /// Must run in a single-threaded process: libcontainer clones from the calling process.
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<(), RuntimeError> {
        validate_id(id)?;
        if self.container_dir(id).exists() {
            return Err(RuntimeError::AlreadyExists(id.to_string()));
        }
        std::fs::create_dir_all(&self.root)
            .map_err(RuntimeError::io(format!("create {}", self.root.display())))?;
        let bundle = std::fs::canonicalize(&opts.bundle)
            .map_err(RuntimeError::io(format!("bundle {}", opts.bundle.display())))?;
        let result = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_root_path(self.root.clone())?
            .with_pid_file(opts.pid_file.clone())?
            .with_console_socket(opts.console_socket.clone())
            .with_preserved_fds(opts.preserve_fds)
            .validate_id()?
            .as_init(bundle)
            .with_systemd(self.systemd_cgroup)
            .with_detach(true)
            .with_no_pivot(opts.no_pivot)
            .build();
        if let Err(e) = result {
            // A failed create leaves nothing behind, like runc.
            if let Ok(mut c) = self.load(id) {
                let _ = c.delete(true);
            }
            let _ = std::fs::remove_dir_all(self.container_dir(id));
            return Err(e.into());
        }
        Ok(())
    }
}
