//! `berth-probe keyctl|unshare-user|mount-tmpfs DIR`: makes one syscall and prints `ok` (exit 0)
//! or `errno N` (exit 1). Linked statically and bind-mounted into test containers to tell what
//! seccomp and capabilities allow. `berth-probe udp-echo PORT` answers each datagram on that
//! UDP port with `echo:` and the datagram (busybox has no UDP server). On the host,
//! `berth-probe seccomp-filter PID` prints the process's (first) seccomp filter in hex, read
//! through ptrace.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("udp-echo") {
        let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(5000);
        let sock = std::net::UdpSocket::bind(("0.0.0.0", port)).expect("bind the UDP port");
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&[&b"echo:"[..], &buf[..n]].concat(), from);
        }
        return;
    }
    if args.first().map(String::as_str) == Some("seccomp-filter") {
        let pid: libc::pid_t = args.get(1).and_then(|p| p.parse().ok()).expect("a pid");
        match seccomp_filter(pid) {
            Ok(prog) => println!("{}", prog.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            Err(e) => {
                println!("errno {}", e.raw_os_error().unwrap_or(0));
                std::process::exit(1);
            }
        }
        return;
    }
    // SAFETY: each arm is one raw syscall with constant arguments or a NUL-terminated CString.
    let rc = unsafe {
        match args.first().map(String::as_str) {
            // KEYCTL_GET_KEYRING_ID of the session keyring, creating it: needs no capability.
            Some("keyctl") => libc::syscall(libc::SYS_keyctl, 0, -3i64, 1) as i64,
            // A user namespace needs no capability either.
            Some("unshare-user") => libc::unshare(libc::CLONE_NEWUSER) as i64,
            Some("mount-tmpfs") => {
                let dir =
                    std::ffi::CString::new(args.get(1).cloned().unwrap_or_else(|| "/tmp".into())).unwrap();
                libc::mount(c"none".as_ptr(), dir.as_ptr(), c"tmpfs".as_ptr(), 0, std::ptr::null()) as i64
            }
            _ => {
                eprintln!("usage: berth-probe keyctl|unshare-user|mount-tmpfs DIR|udp-echo PORT");
                std::process::exit(2)
            }
        }
    };
    if rc < 0 {
        println!("errno {}", std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
        std::process::exit(1);
    }
    println!("ok");
}

/// The newest seccomp filter of `pid`, as the kernel holds it (needs CAP_SYS_ADMIN).
fn seccomp_filter(pid: libc::pid_t) -> std::io::Result<Vec<u8>> {
    const PTRACE_SECCOMP_GET_FILTER: libc::c_uint = 0x420c;
    let err = std::io::Error::last_os_error;
    // SAFETY: ptrace and waitpid on a pid with null or owned buffers; the buffer passed to
    // PTRACE_SECCOMP_GET_FILTER holds the instruction count the kernel reported first.
    unsafe {
        if libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0) < 0 {
            return Err(err());
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, libc::__WALL);
        let n = libc::ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, 0);
        let result = if n < 0 {
            Err(err())
        } else {
            let mut buf = vec![0u8; n as usize * 8];
            if libc::ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, buf.as_mut_ptr()) < 0 {
                Err(err())
            } else {
                Ok(buf)
            }
        };
        libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0);
        result
    }
}
