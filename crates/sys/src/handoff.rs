//! The start hand-off between the shim and berth-runc: a `create` that stays to start the
//! container, so a start costs a message instead of another runtime process.
//!
//! The shim runs `create` with one end of a socket pair inherited and its number in
//! [`START_FD_ENV`]. berth-runc creates the container as usual, then says `created` on the socket
//! and waits: a `start` request makes it start the container and answer `started` or
//! `error <message>`; the socket closing makes it leave the container created. A runtime that
//! does not know the variable (runc, crun) just exits after `create`, and the shim starts the
//! container the usual way (a `start` process).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// The environment variable naming the inherited socket's file descriptor.
pub const START_FD_ENV: &str = "BERTH_RUNC_START_FD";

/// The words of the exchange, one per line.
const CREATED: &str = "created";
const START: &str = "start";
const STARTED: &str = "started";
const ERROR: &str = "error ";

/// The runtime's end: the socket the shim handed over, if it did. The variable is removed, so
/// nothing the runtime starts inherits it.
pub fn runtime_end() -> Option<UnixStream> {
    let fd: RawFd = std::env::var(START_FD_ENV).ok()?.parse().ok()?;
    // SAFETY: single-threaded start of berth-runc; nothing else reads the environment now.
    unsafe { std::env::remove_var(START_FD_ENV) };
    // The descriptor must be an open socket; a stale number is ignored rather than adopted.
    // SAFETY: an all-zero `stat` is a valid value of the plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat only writes into `st`; a closed descriptor makes it fail.
    let found = unsafe { libc::fstat(fd, &mut st) };
    if found != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    // SAFETY: FD_CLOEXEC on an open descriptor keeps it from what the runtime executes.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the descriptor is open, a socket, and ours alone from here on.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Some(UnixStream::from(owned))
}

/// Runtime: says the container is created, then waits for the shim. `Ok(true)` when it asks for
/// the start; `Ok(false)` when it went away without asking, or when `init` (the container's
/// init, which youki makes the runtime's child) exited first: the runtime must leave then, so
/// that the init is handed to the shim, the subreaper, which reaps it and reports the exit.
pub fn created_await_start(sock: &mut UnixStream, init: &impl AsFd) -> io::Result<bool> {
    send(sock, CREATED)?;
    if !readable_first(sock, init)? {
        return Ok(false);
    }
    Ok(read_line(sock)? == START)
}

/// Runtime: the start's outcome.
pub fn reply(sock: &mut UnixStream, result: Result<(), String>) -> io::Result<()> {
    match result {
        Ok(()) => send(sock, STARTED),
        Err(e) => send(sock, &format!("{ERROR}{}", e.replace('\n', " "))),
    }
}

/// Shim: whether the runtime said `created` (it then waits for [`start`]). An error or an end
/// without a word means it does not take part; its exit status tells the rest.
pub fn is_waiting(sock: &mut UnixStream) -> bool {
    read_line(sock).is_ok_and(|l| l == CREATED)
}

/// Shim: asks the waiting runtime to start the container; `Err` carries its message.
pub fn start(sock: &mut UnixStream) -> Result<(), String> {
    send(sock, START).map_err(|e| format!("the runtime's create is gone: {e}"))?;
    match read_line(sock) {
        Ok(l) if l == STARTED => Ok(()),
        Ok(l) => match l.strip_prefix(ERROR) {
            Some(msg) => Err(msg.to_string()),
            None if l.is_empty() => Err("the runtime's create ended before it started the container".into()),
            None => Err(format!("the runtime answered {l:?} to start")),
        },
        Err(e) => Err(format!("the runtime's create did not answer: {e}")),
    }
}

/// Waits until `a` or `b` is readable; `true` when `a` is (whether or not `b` is too).
pub fn readable_first(a: &impl AsFd, b: &impl AsFd) -> io::Result<bool> {
    loop {
        let mut fds = [PollFd::new(a.as_fd(), PollFlags::POLLIN), PollFd::new(b.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => return Ok(fds[0].any().unwrap_or(false)),
        }
    }
}

fn send(sock: &mut UnixStream, word: &str) -> io::Result<()> {
    sock.write_all(format!("{word}\n").as_bytes())
}

/// One line without its newline; what came before an end of stream if none came.
fn read_line(sock: &mut UnixStream) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match sock.read(&mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => out.push(b[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if out.len() > 64 * 1024 {
            return Err(io::Error::other("a line longer than 64 KiB"));
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands in for the init's pidfd: readable (it "exited") once the writer is dropped.
    fn init() -> (std::io::PipeReader, std::io::PipeWriter) {
        std::io::pipe().unwrap()
    }

    #[test]
    fn a_start_is_asked_and_answered() {
        for outcome in [Ok(()), Err("exec failed:\nno such file".to_string())] {
            let (mut shim, mut rt) = UnixStream::pair().unwrap();
            let expected = outcome.clone().map_err(|e| e.replace('\n', " "));
            let t = std::thread::spawn(move || {
                let (running, _alive) = init();
                assert!(created_await_start(&mut rt, &running).unwrap());
                reply(&mut rt, outcome).unwrap();
            });
            assert!(is_waiting(&mut shim));
            assert_eq!(start(&mut shim), expected);
            t.join().unwrap();
        }
    }

    #[test]
    fn a_shim_that_leaves_starts_nothing() {
        let (mut shim, mut rt) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            let (running, _alive) = init();
            created_await_start(&mut rt, &running).unwrap()
        });
        assert!(is_waiting(&mut shim));
        drop(shim);
        assert!(!t.join().unwrap());
    }

    #[test]
    fn an_init_that_exits_first_ends_the_wait() {
        let (mut shim, mut rt) = UnixStream::pair().unwrap();
        let (exited, alive) = init();
        let t = std::thread::spawn(move || created_await_start(&mut rt, &exited).unwrap());
        assert!(is_waiting(&mut shim));
        drop(alive);
        assert!(!t.join().unwrap());
    }

    #[test]
    fn a_runtime_that_does_not_take_part_is_told_apart() {
        let (mut shim, rt) = UnixStream::pair().unwrap();
        drop(rt);
        assert!(!is_waiting(&mut shim));
        // Asked to start, it leaves without an answer.
        let (mut shim, mut rt) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            let (running, _alive) = init();
            assert!(created_await_start(&mut rt, &running).unwrap());
        });
        assert!(is_waiting(&mut shim));
        assert_eq!(
            start(&mut shim),
            Err("the runtime's create ended before it started the container".into())
        );
        t.join().unwrap();
    }
}
