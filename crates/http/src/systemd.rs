//! What a server does for systemd, as dockerd does: `-H fd://` serves the sockets systemd passed
//! (socket activation: `LISTEN_PID`, `LISTEN_FDS`, descriptors from 3), and readiness and
//! shutdown are told to `NOTIFY_SOCKET` (`Type=notify`). Both are no-ops outside systemd.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first descriptor systemd passes.
const FIRST: RawFd = 3;

/// Which passed descriptors an `fd://` host names: `fd://` all of them, `fd://N` descriptor N.
/// Pure: `count` is `LISTEN_FDS`.
pub fn select(host: &str, count: usize) -> Result<Vec<RawFd>, String> {
    let rest = host.strip_prefix("fd://").ok_or_else(|| format!("{host:?} is not an fd:// host"))?;
    let all: Vec<RawFd> = (FIRST..FIRST + count as RawFd).collect();
    if all.is_empty() {
        return Err(format!(
            "no sockets were passed for {host}: fd:// is for a server started by a systemd socket unit, as berthd.socket starts berthd (LISTEN_FDS is unset)"
        ));
    }
    if rest.is_empty() {
        return Ok(all);
    }
    let n: RawFd =
        rest.parse().map_err(|_| format!("invalid host {host:?}: use fd:// or fd://<descriptor>"))?;
    if !all.contains(&n) {
        return Err(format!("descriptor {n} of {host} was not passed by systemd (it passed {all:?})"));
    }
    Ok(vec![n])
}

/// How many sockets systemd passed to this process, read once. `LISTEN_PID` must name this
/// process (a variable inherited from a parent is not ours); the variables are removed so that
/// children (shims, runtimes) never take the sockets for theirs.
pub fn passed() -> usize {
    static PASSED: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PASSED.get_or_init(|| {
        let ours =
            std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
        let n = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
        // Called first thing in `main`, while the process has one thread.
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
        if ours {
            n
        } else {
            0
        }
    })
}

/// Takes ownership of a passed descriptor (once: [`select`] hands out each at most once per
/// host, and the configuration's hosts are distinct).
pub fn take(fd: RawFd) -> OwnedFd {
    // Close-on-exec, as every descriptor a server holds: its children (containers) must not
    // inherit the API.
    // SAFETY: fcntl on a descriptor number systemd passed to this process.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: systemd passed this descriptor to this process, and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Tells systemd of a state change (`READY=1`, `STOPPING=1`, `RELOADING=1`) when it asked to be
/// told (`NOTIFY_SOCKET`, a path or an abstract name beginning with `@`).
pub fn notify(state: &str) {
    if let Some(addr) = std::env::var_os("NOTIFY_SOCKET") {
        notify_to(&addr, state);
    }
}

fn notify_to(addr: &std::ffi::OsStr, state: &str) {
    let sent = (|| -> std::io::Result<()> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        let sock = std::os::unix::net::UnixDatagram::unbound()?;
        let bytes = addr.as_bytes();
        let to = match bytes.strip_prefix(b"@") {
            Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name)?,
            None => std::os::unix::net::SocketAddr::from_pathname(std::path::Path::new(addr))?,
        };
        sock.send_to_addr(state.as_bytes(), &to)?;
        Ok(())
    })();
    if let Err(e) = sent {
        tracing::warn!(error = %e, state, "telling systemd failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_hosts_name_the_passed_descriptors() {
        type Case = (&'static str, usize, Result<Vec<RawFd>, &'static str>);
        let cases: Vec<Case> = vec![
            ("fd://", 2, Ok(vec![3, 4])),
            ("fd://4", 2, Ok(vec![4])),
            ("fd://", 0, Err("no sockets were passed")),
            ("fd://5", 2, Err("descriptor 5 of fd://5 was not passed")),
            ("fd://x", 1, Err("use fd:// or fd://<descriptor>")),
        ];
        for (host, count, want) in cases {
            match (select(host, count), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{host}"),
                (Err(e), Err(want)) => assert!(e.contains(want), "{host}: {e}"),
                (got, want) => panic!("{host}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn states_reach_the_notify_socket_by_path_and_by_abstract_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        use std::os::linux::net::SocketAddrExt;
        let name = format!("berth-notify-test-{}", std::process::id());
        let abs = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = std::os::unix::net::UnixDatagram::bind_addr(&abs).unwrap();
        notify_to(std::ffi::OsStr::new(&format!("@{name}")), "STOPPING=1");
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
