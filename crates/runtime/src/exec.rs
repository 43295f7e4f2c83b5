use std::collections::HashMap;
use std::path::PathBuf;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::{Runtime, RuntimeError};

/// Options of `exec`.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    /// A `process.json` as runc's `--process`; when set, the fields below except
    /// `console_socket`, `pid_file`, `detach` and `preserve_fds` are ignored.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: HashMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    pub cgroup: Option<String>,
}

impl Runtime {
    /// `exec`: runs another process in a running container. Returns its exit status
    /// when not detached (128 + signal for a killed process, as runc), `None` when detached.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<Option<i32>, RuntimeError> {
        let c = self.load(id)?;
        let paused_ok = opts.ignore_paused && c.status() == libcontainer::container::ContainerStatus::Paused;
        if !c.can_exec() && !paused_ok {
            return Err(RuntimeError::WrongState("cannot exec in a stopped container".into()));
        }
        if opts.process.is_none() && opts.args.is_empty() {
            return Err(RuntimeError::InvalidArgument(
                "exec: no command given; pass args or --process".into(),
            ));
        }
        let env = match &opts.process {
            Some(p) => std::fs::read(p)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .map(|process| crate::executor::env_of(&process))
                .unwrap_or_default(),
            None => vec![],
        };
        let pid = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_executor(crate::executor::SpecOrder::new(&env))
            .with_root_path(self.root.clone())?
            .with_console_socket(opts.console_socket.clone())
            .with_pid_file(opts.pid_file.clone())?
            .with_preserved_fds(opts.preserve_fds)
            .validate_id()?
            .as_tenant()
            .with_detach(opts.detach)
            .with_cwd(opts.cwd.clone())
            .with_env(opts.env.clone())
            .with_process(opts.process.clone())
            .with_no_new_privs(opts.no_new_privs)
            .with_capabilities(opts.caps.clone())
            .with_container_args(opts.args.clone())
            .with_user(opts.user.map(|u| u.0))
            .with_group(opts.user.and_then(|u| u.1))
            .with_additional_gids(opts.additional_gids.clone())
            .with_ignore_paused(opts.ignore_paused)
            .with_sub_cgroup(opts.cgroup.clone())
            .build()?;
        if opts.detach {
            return Ok(None);
        }
        loop {
            match waitpid(pid, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(Some(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(Some(128 + sig as i32)),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(RuntimeError::io("wait for exec process")(e.into())),
            }
        }
    }
}
