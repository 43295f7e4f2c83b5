//! `run`: create and start; in the foreground, stay as the container's parent (subreaper),
//! forward signals to its init, relay its pty when the spec asks for a terminal, and
//! delete the container when it exits, returning its exit code.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use anyhow::{Context, Result};
use berth_runtime::{CreateOptions, Runtime};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub fn run(rt: &Runtime, a: liboci_cli::Run) -> Result<i32> {
    let spec = oci_spec::runtime::Spec::load(a.bundle.join("config.json"))
        .with_context(|| format!("load {}", a.bundle.join("config.json").display()))?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    if !a.no_subreaper {
        berth_sys::set_child_subreaper()?;
    }
    // A foreground terminal with no console socket: be our own console socket.
    let own_console = terminal && !a.detach && a.console_socket.is_none();
    let console_path: Option<PathBuf> =
        own_console.then(|| std::env::temp_dir().join(format!("berth-runc-{}.sock", std::process::id())));
    let listener = match &console_path {
        Some(p) => Some(UnixListener::bind(p).with_context(|| format!("bind {}", p.display()))?),
        None => None,
    };
    let created = rt.create(
        &a.container_id,
        &CreateOptions {
            bundle: a.bundle.clone(),
            console_socket: console_path.clone().or(a.console_socket.clone()),
            pid_file: a.pid_file.clone(),
            preserve_fds: a.preserve_fds,
            no_pivot: a.no_pivot,
        },
    );
    let master: Option<OwnedFd> = match (&listener, &created) {
        (Some(l), Ok(())) => Some(berth_sys::recv_fd(&l.accept()?.0)?),
        _ => None,
    };
    if let Some(p) = &console_path {
        let _ = std::fs::remove_file(p);
    }
    created?;
    // Block the signals we forward before the user process runs, then start it.
    let mut set = SigSet::all();
    for s in
        [Signal::SIGKILL, Signal::SIGSTOP, Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGILL, Signal::SIGFPE]
    {
        set.remove(s);
    }
    if !a.detach {
        set.thread_block()?;
    }
    if let Err(e) = rt.start(&a.container_id) {
        let _ = rt.delete(&a.container_id, true);
        return Err(e.into());
    }
    if a.detach {
        return Ok(0);
    }
    // Not `state`'s pid: that is 0 once the container stopped, and `true` may be done already.
    let pid = Pid::from_raw(rt.init_pid(&a.container_id)?);
    let stdin = std::io::stdin();
    let _raw = match &master {
        Some(_) if berth_sys::is_tty(stdin.as_fd()) => Some(berth_sys::RawMode::enter(stdin.as_fd())?),
        _ => None,
    };
    let relay = master.as_ref().map(start_relay).transpose()?;
    if let Some(m) = &master {
        resize_from(m);
    }
    let code = supervise(pid, &set, master.as_ref());
    if let Some(out) = relay {
        let _ = out.join();
    }
    if !a.keep {
        rt.delete(&a.container_id, true)?;
    }
    Ok(code)
}

/// Copies our stdin to the pty master and the master to our stdout; returns the output thread.
fn start_relay(master: &OwnedFd) -> Result<std::thread::JoinHandle<()>> {
    let mut to_pty = std::fs::File::from(master.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_pty);
    });
    let mut from_pty = std::fs::File::from(master.try_clone()?);
    Ok(std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut out = std::io::stdout().lock();
        // The read fails with EIO once the last slave fd closes.
        while let Ok(n) = from_pty.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = out.flush();
        }
    }))
}

fn resize_from(master: &OwnedFd) {
    if let Ok((rows, cols)) = berth_sys::get_winsize(std::io::stdin().as_fd()) {
        let _ = berth_sys::set_winsize(master.as_fd(), rows, cols);
    }
}

/// Waits for `pid` to exit, reaping every orphan and forwarding signals; returns the exit code.
fn supervise(pid: Pid, set: &SigSet, master: Option<&OwnedFd>) -> i32 {
    loop {
        let sig = match set.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        match sig {
            Signal::SIGCHLD => loop {
                match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(p, c)) if p == pid => return c,
                    Ok(WaitStatus::Signaled(p, s, _)) if p == pid => return 128 + s as i32,
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => continue,
                }
            },
            Signal::SIGWINCH => {
                if let Some(m) = master {
                    resize_from(m);
                }
            }
            other => {
                let _ = kill(pid, other);
            }
        }
    }
}
