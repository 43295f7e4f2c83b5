//! A process's stdio as the shim holds it: pipes, or the pty master a runtime sends on the
//! console socket; reading output without blocking, and writing stdin (an empty frame closes it).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Stdio;

use nix::unistd::pipe;

use crate::ShimError;

/// A process's stdio as the shim holds it.
#[derive(Default)]
pub(crate) struct Stdio3 {
    /// pty master (tty) — output and input both go through it.
    pub(crate) master: Option<File>,
    pub(crate) out: Option<File>,
    pub(crate) err: Option<File>,
    pub(crate) stdin: Option<File>,
}

/// Reads what a process wrote into `buf`; at the end of its output (EOF, or the EIO a pty master
/// gives once the last slave closes) closes the source. `None` when there is nothing to pass on.
pub(crate) fn read_output(slot: &mut Option<File>, buf: &mut [u8]) -> Option<usize> {
    let f = slot.as_mut()?;
    match f.read(buf) {
        Ok(0) => {
            *slot = None;
            None
        }
        Ok(n) => Some(n),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {
            None
        }
        Err(_) => {
            *slot = None;
            None
        }
    }
}

impl Stdio3 {
    /// The output source `which`: 0 the pty master, 1 stdout, 2 stderr.
    pub(crate) fn slot(&mut self, which: u8) -> &mut Option<File> {
        match which {
            0 => &mut self.master,
            1 => &mut self.out,
            _ => &mut self.err,
        }
    }

    pub(crate) fn open_outputs(&self) -> bool {
        self.master.is_some() || self.out.is_some() || self.err.is_some()
    }
}

pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let _ =
            fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK));
    }
}

/// Pipes for a process's stdio: the child's ends (for the runtime) and ours.
pub(crate) fn make_pipes(stdin: bool) -> Result<([Stdio; 3], Stdio3), ShimError> {
    let (out_r, out_w) = pipe().map_err(std::io::Error::from)?;
    let (err_r, err_w) = pipe().map_err(std::io::Error::from)?;
    let (child_in, our_in) = if stdin {
        let (r, w) = pipe().map_err(std::io::Error::from)?;
        (Stdio::from(r), Some(File::from(w)))
    } else {
        (Stdio::null(), None)
    };
    for fd in [out_r.as_fd(), err_r.as_fd()] {
        set_nonblocking(fd);
    }
    Ok((
        [child_in, Stdio::from(out_w), Stdio::from(err_w)],
        Stdio3 { master: None, out: Some(File::from(out_r)), err: Some(File::from(err_r)), stdin: our_in },
    ))
}

/// Gives the process a runtime call creates its stdio: a console socket at `console` when it has
/// a terminal (the runtime sends the pty master there), else pipes. Returns our ends.
pub(crate) fn give_stdio(
    cmd: &mut std::process::Command,
    tty: bool,
    stdin: bool,
    console: PathBuf,
) -> Result<(Stdio3, Option<(UnixListener, PathBuf)>), ShimError> {
    if tty {
        let _ = std::fs::remove_file(&console);
        let l = UnixListener::bind(&console)?;
        cmd.arg("--console-socket")
            .arg(&console)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Ok((Stdio3::default(), Some((l, console))))
    } else {
        let ([i, o, e], ours) = make_pipes(stdin)?;
        cmd.stdin(i).stdout(o).stderr(e);
        Ok((ours, None))
    }
}

/// Once the runtime call returned: takes the pty master it sent, if it had a terminal.
pub(crate) fn take_stdio(io: &mut Stdio3, console: Option<(UnixListener, PathBuf)>) -> Result<(), ShimError> {
    if let Some((l, path)) = console {
        io.master = Some(take_console(&l)?);
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Receives the pty master an OCI runtime sent on our console socket.
pub(crate) fn take_console(listener: &UnixListener) -> Result<File, ShimError> {
    listener.set_nonblocking(true)?;
    let (conn, _) = listener.accept().map_err(|e| {
        ShimError::Runtime(format!("the runtime sent no terminal on the console socket: {e}"))
    })?;
    conn.set_nonblocking(false)?;
    let fd: OwnedFd = berth_sys::recv_fd(&conn)?;
    set_nonblocking(fd.as_fd());
    Ok(File::from(fd))
}

/// Forwards stdin data; an empty frame closes stdin (sends EOF, ^D on a tty).
pub(crate) fn write_stdin(io: &mut Stdio3, data: &[u8]) {
    if let Some(m) = &mut io.master {
        let _ = m.write_all(if data.is_empty() { b"\x04" } else { data });
        return;
    }
    if data.is_empty() {
        io.stdin = None;
    } else if let Some(w) = &mut io.stdin {
        if w.write_all(data).is_err() {
            io.stdin = None;
        }
    }
}
